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

"""A real ``tachyon-engine`` process and a socket that plays systemd.

:class:`NotifySocket` binds the unix datagram socket a test hands the
engine as ``NOTIFY_SOCKET`` and records every datagram with the time it
came, as systemd would read them. :class:`Engine` runs the engine (or any
Python code that ends in its ``main``) as a subprocess of its own session.
"""

import glob
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import fixtures


class NotifySocket(fixtures.Fixture):
    """systemd's end of the notification protocol, in a thread."""

    def _setUp(self):
        tmp = self.useFixture(fixtures.TempDir()).path
        self.path = os.path.join(tmp, 'notify')
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.messages = []  # (monotonic time, {KEY: value})
        self.callbacks = []  # called in the thread with each message
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        self.addCleanup(self._close)

    def _close(self):
        self._stop.set()
        self._thread.join(5)
        self.sock.close()

    def _read(self):
        while not self._stop.is_set():
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            now = time.monotonic()
            fields = dict(line.split('=', 1) for line in
                          data.decode().split('\n') if '=' in line)
            for callback in self.callbacks:
                callback(now, fields)
            self.messages.append((now, fields))

    def times(self, key):
        """When each message that has ``key`` came."""
        return [when for when, fields in list(self.messages)
                if key in fields]

    def values(self, key):
        return [fields[key] for when, fields in list(self.messages)
                if key in fields]

    def wait_for(self, key, timeout=60, after=0.0):
        """The time of the first ``key`` message after ``after``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for when in self.times(key):
                if when > after:
                    return when
            time.sleep(0.05)
        raise AssertionError('no %s from the engine in %s s; got %s'
                             % (key, timeout, self.messages))


class Engine(fixtures.Fixture):
    """``tachyon-engine`` as a subprocess, its output in a file.

    ``code``: Python source run instead of ``python -m tachyon.cmd.engine``
    (it must end the process itself, e.g. ``sys.exit(engine.main())``).
    """

    def __init__(self, neo4j, transport_url, env=None, args=(), code=None):
        super().__init__()
        self.neo4j = neo4j
        self.transport_url = transport_url
        self.extra_env = dict(env or {})
        self.args = list(args)
        self.code = code

    def _setUp(self):
        tmp = self.useFixture(fixtures.TempDir()).path
        self.log = os.path.join(tmp, 'engine.log')
        env = self.environment()
        env.update(self.extra_env)
        if self.code is None:
            cmd = [sys.executable, '-m', 'tachyon.cmd.engine']
        else:
            cmd = [sys.executable, '-c', self.code]
        with open(self.log, 'wb') as out:
            self.proc = subprocess.Popen(
                cmd + (self.args or ['--config-file', os.devnull]),
                env=env, stdout=out, stderr=subprocess.STDOUT,
                # Its own session: the engine's parent signals its
                # process group on SIGHUP.
                start_new_session=True)
        self.addCleanup(self.terminate)

    def environment(self):
        """The engine's environment: the back ends, no collector."""
        return dict(os.environ,
                    OS_NEO4J__URI=self.neo4j.uri,
                    OS_NEO4J__USERNAME=self.neo4j.user,
                    OS_NEO4J__PASSWORD=self.neo4j.password,
                    OS_DEFAULT__TRANSPORT_URL=self.transport_url,
                    OS_COLLECTORS__ENABLED_COLLECTORS='')

    def output(self):
        with open(self.log, errors='replace') as log:
            return log.read()

    def wait_output(self, text, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output():
                return
            if self.proc.poll() is not None:
                raise AssertionError('tachyon-engine exited (%s): %s'
                                     % (self.proc.returncode,
                                        self.output()))
            time.sleep(0.1)
        raise AssertionError('no %r from tachyon-engine: %s'
                             % (text, self.output()))

    def workers(self):
        """The pids of the engine's worker processes."""
        pids = []
        # A child belongs to the thread that forked it (cotyledon forks
        # from a thread of its own).
        for task in glob.glob('/proc/%d/task/*/children' % self.proc.pid):
            try:
                with open(task) as children:
                    pids += [int(pid) for pid in children.read().split()]
            except OSError:
                pass
        return sorted(pids)

    def wait(self, timeout):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError('tachyon-engine still runs after %s s: %s'
                                 % (timeout, self.output()))

    def terminate(self, timeout=60):
        if self.proc.poll() is None:
            for pid in self.workers():
                # A worker a test stopped must be able to stop.
                try:
                    os.kill(pid, signal.SIGCONT)
                except OSError:
                    pass
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        return self.proc.returncode
