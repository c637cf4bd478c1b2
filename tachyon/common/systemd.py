# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

"""systemd's readiness and watchdog protocol for a forking service.

Only the process systemd started (the parent of the workers) talks to
systemd, so the unit can say ``NotifyAccess=main``. Each worker reports
to it over a datagram socket pair made before the workers are forked
(:class:`Reporter`), one line a datagram::

    STARTING <pid>          heartbeat while it starts
    STARTED <pid>           its RPC server and listeners are started
    ALIVE <pid>             heartbeat once started, while it is healthy
    STOPPING <pid>          heartbeat while it stops (SIGTERM, SIGHUP)
    FATAL <pid> <message>   a configuration error no respawn can fix

Heartbeats come every :attr:`Supervisor.beat` seconds. The parent
(:class:`Supervisor`) sends ``READY=1`` once every expected worker has
started and ``probe()`` (the broker shows their consumers) says yes;
``WATCHDOG=1`` every half of ``WATCHDOG_USEC`` while at least as many
workers as expected are fresh (their last report younger than half of
``WATCHDOG_USEC``: starting, serving or stopping, so a SIGHUP restart of
the workers is not taken for a hang); ``STATUS=`` lines along the way. A
stopped, frozen or dead worker goes silent, the parent stops the
watchdog's pings, and systemd restarts the service after ``WatchdogSec``.
"""

import os
import socket
import threading
import time

#: Heartbeat period of the workers when systemd asks for no watchdog.
DEFAULT_BEAT = 5.0


def _address(path):
    # A name starting with '@' is in the abstract namespace.
    return '\0' + path[1:] if path.startswith('@') else path


def notify(path, *fields):
    """Send ``fields`` ("KEY=value") to the notification socket ``path``.

    True when sent; an unreachable socket is not an error (the service
    runs on without systemd's supervision).
    """
    if not path:
        return False
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        sock.connect(_address(path))
        sock.sendall('\n'.join(fields).encode('utf-8'))
        return True
    except OSError:
        return False
    finally:
        sock.close()


class Reporter(object):
    """A worker's end: what it tells its parent :class:`Supervisor`."""

    def __init__(self, sock, beat):
        self._sock = sock
        #: Seconds between two heartbeats.
        self.beat = beat

    def _send(self, *words):
        try:
            self._sock.send(' '.join(str(w) for w in words).encode(
                'utf-8', 'replace')[:4000])
        except OSError:
            # The parent is gone: cotyledon ends this worker anyway.
            pass

    def starting(self):
        self._send('STARTING', os.getpid())

    def started(self):
        self._send('STARTED', os.getpid())

    def alive(self):
        self._send('ALIVE', os.getpid())

    def stopping(self):
        self._send('STOPPING', os.getpid())

    def fatal(self, message):
        self._send('FATAL', os.getpid(), ' '.join(str(message).split()))


class Supervisor(object):
    """The parent's end: aggregate the workers, speak to systemd.

    Built before the workers are forked, in the process systemd started:
    it takes ``NOTIFY_SOCKET``, ``WATCHDOG_USEC`` and ``WATCHDOG_PID`` out
    of the environment, so that nothing else (cotyledon would send
    ``READY=1`` before any worker runs) speaks for the service, and no
    worker inherits them.

    :param expected: how many workers must be healthy.
    :param probe: called (in the supervisor's thread) once every worker
        has started; True when they are seen consuming. Asked again, every
        half second, until it says so.
    :param on_fatal: called with the message of a worker's FATAL report.
    :param describe: returns the text of the STATUS line once serving.
    """

    def __init__(self, expected, probe=None, on_fatal=None, describe=None,
                 environ=None):
        env = os.environ if environ is None else environ
        self.expected = expected
        self.probe = probe or (lambda: True)
        self.on_fatal = on_fatal
        self.describe = describe or (lambda: 'serving')
        self.socket_path = env.pop('NOTIFY_SOCKET', None)
        usec = env.pop('WATCHDOG_USEC', None)
        pid = env.pop('WATCHDOG_PID', None)
        self.watchdog = None
        try:
            if usec and (not pid or int(pid) == os.getpid()):
                self.watchdog = int(usec) / 1e6
        except ValueError:
            self.watchdog = None
        if self.watchdog:
            #: Heartbeats of the workers: 4 per half watchdog period.
            self.beat = min(DEFAULT_BEAT, self.watchdog / 8.0)
            #: A worker is fresh while its last report is younger.
            self.stale_after = self.watchdog / 2.0
        else:
            self.beat = DEFAULT_BEAT
            self.stale_after = 3 * DEFAULT_BEAT
        self._recv, self._send = socket.socketpair(socket.AF_UNIX,
                                                   socket.SOCK_DGRAM)
        self._workers = {}  # pid -> {'started': bool, 'seen': monotonic}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None
        self.ready = False  # READY=1 sent, every worker serving since
        self.ever_ready = False
        self.probed = False
        self._status = None
        self._held = None
        self._last_ping = None
        self._fatal = None

    def reporter(self):
        """The object the workers (forked later) report through."""
        return Reporter(self._send, self.beat)

    def notify(self, *fields):
        return notify(self.socket_path, *fields)

    def hold(self, text):
        """Say ``STATUS=text`` until ``hold(None)``, whatever the workers.

        For what the main process does before it forks them (waiting for
        Neo4j and the broker), which the worker count would otherwise
        overwrite with "Starting: 0/N workers started".
        """
        self._held = text
        if text is not None:
            self.status(text)

    def status(self, text):
        """Send ``STATUS=text`` unless it is the one last sent."""
        if text != self._status:
            self._status = text
            self.notify('STATUS=' + text)

    def start(self):
        self._thread = threading.Thread(target=self._loop, daemon=True,
                                        name='systemd-supervisor')
        self._thread.start()

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    # The worker table -------------------------------------------------

    def handle(self, line, now=None):
        """Take one report of a worker into account."""
        now = time.monotonic() if now is None else now
        words = line.split(' ', 2)
        if len(words) < 2 or not words[1].isdigit():
            return
        kind, pid = words[0], int(words[1])
        with self._lock:
            if kind == 'FATAL':
                self._workers.pop(pid, None)
                self._fatal = words[2] if len(words) > 2 else 'fatal error'
                return
            worker = self._workers.setdefault(pid, {'started': False,
                                                    'seen': now})
            worker['seen'] = now
            if kind in ('STARTED', 'ALIVE'):
                worker['started'] = True
            elif kind == 'STOPPING':
                worker['started'] = False

    def counts(self, now=None):
        """(started and fresh workers, fresh workers) at ``now``.

        Fresh: reported within :attr:`stale_after` seconds, whether
        starting, serving or stopping.
        """
        now = time.monotonic() if now is None else now
        with self._lock:
            for pid, worker in list(self._workers.items()):
                # A dead worker never reports again; forget it in time.
                if now - worker['seen'] > 10 * self.stale_after:
                    del self._workers[pid]
            fresh = [w for w in self._workers.values()
                     if now - w['seen'] <= self.stale_after]
            return (sum(1 for w in fresh if w['started']), len(fresh))

    def healthy(self, now=None):
        """True while enough workers report (the watchdog's rule)."""
        return self.counts(now)[1] >= self.expected

    # The loop ---------------------------------------------------------

    def _loop(self):
        tick = min(0.5, self.beat / 2.0)
        self._recv.settimeout(tick)
        while not self._stop.is_set():
            try:
                data = self._recv.recv(4096)
            except socket.timeout:
                data = None
            except OSError:
                return
            if data:
                self.handle(data.decode('utf-8', 'replace'))
            self.tick()

    def tick(self, now=None):
        """Decide READY, STATUS and WATCHDOG from the worker table."""
        now = time.monotonic() if now is None else now
        if self._fatal is not None:
            message, self._fatal = self._fatal, None
            self.status('Stopping: %s' % message)
            if self.on_fatal is not None:
                self.on_fatal(message)
            return
        started, fresh = self.counts(now)
        serving = started >= self.expected
        if serving and not self.probed:
            self.status('%d/%d workers started; waiting for their '
                        'consumers on the message broker'
                        % (started, self.expected))
            self.probed = serving = self._probe()
        if serving and not self.ready:
            self.ready = self.ever_ready = True
            self._status = text = self.describe()
            self.notify('READY=1', 'STATUS=' + text)
        elif serving:
            self.status(self.describe())
        elif self.ever_ready:
            self.ready = False
            self.status('Degraded: %d/%d workers serving, %d starting or '
                        'stopping' % (started, self.expected,
                                      fresh - started))
        elif started < self.expected and self._held is None:
            self.status('Starting: %d/%d workers started'
                        % (started, self.expected))
        # Until the first READY=1, startup is bounded by TimeoutStartSec
        # instead: the watchdog is fed while the parent runs.
        self._watchdog(now, fresh >= self.expected or not self.ever_ready)

    def _probe(self):
        try:
            return bool(self.probe())
        except Exception:  # noqa: B902 - retried on the next tick
            return False

    def _watchdog(self, now, healthy):
        if not self.watchdog or not healthy:
            return
        if (self._last_ping is None
                or now - self._last_ping >= self.watchdog / 2.0):
            self._last_ping = now
            self.notify('WATCHDOG=1')
