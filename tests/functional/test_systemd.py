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

"""tachyon-engine under systemd's notification protocol, for real.

The engine runs as a process of its own on the test Neo4j and RabbitMQ,
``NOTIFY_SOCKET`` pointing at a datagram socket the test reads as systemd
would, ``WATCHDOG_USEC`` and ``WATCHDOG_PID`` set as systemd sets them.
"""

import os
import signal
import socket
import threading
import time
import urllib.parse

import fixtures
import kombu
import oslo_messaging as messaging
from oslo_utils import uuidutils

from tachyon import exception
from tachyon.rpc import api
from tests.fixtures import services
from tests.functional import base
from tests.functional import engine_process

WATCHDOG = 4.0  # seconds: WATCHDOG_USEC=4000000


class TCPProxy(fixtures.Fixture):
    """Forward a local port to a bolt:// server, until :meth:`close`."""

    def __init__(self, uri):
        super().__init__()
        parsed = urllib.parse.urlsplit(uri)
        self.upstream = (parsed.hostname, parsed.port)

    def _setUp(self):
        self.port = 0
        self.reopen()
        self.uri = 'bolt://127.0.0.1:%d' % self.port
        self.addCleanup(self.close)

    def reopen(self):
        """The end of the outage: the same port forwards again."""
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(('127.0.0.1', self.port))
        self.port = self.server.getsockname()[1]
        self.server.listen(16)
        self.sockets = [self.server]
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                client, _addr = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.upstream)
            self.sockets += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst),
                                 daemon=True).start()

    def _pump(self, src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for sock in (src, dst):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        """The outage: nothing connects, open connections are cut."""
        self.closed = True
        for sock in self.sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()


def consumers(transport_url, queue):
    """What RabbitMQ counts on ``queue`` (None: no such queue)."""
    url = transport_url.replace('rabbit://', 'amqp://', 1)
    with kombu.Connection(url, connect_timeout=5) as conn:
        channel = conn.channel()
        try:
            return channel.queue_declare(queue=queue,
                                         passive=True).consumer_count
        except conn.channel_errors:
            return None


class SystemdTestCase(base.FunctionalTestCase):

    def setUp(self):
        super().setUp()
        self.transport = self.useFixture(
            services.RealTransportFixture(self.conf))
        suffix = uuidutils.generate_uuid()[:8]
        self.topic = 'tachyon-sd-' + suffix
        self.pool = 'tachyon-sd-pool-' + suffix
        self.host = 'sd-host-' + suffix
        self.notify = self.useFixture(engine_process.NotifySocket())

    def engine(self, workers=2, listener=True, env=None, args=(),
               watchdog=True, code=None):
        environ = {'NOTIFY_SOCKET': self.notify.path,
                   'OS_DEFAULT__HOST': self.host,
                   'OS_ENGINE__TOPIC': self.topic,
                   'OS_ENGINE__WORKERS': str(workers),
                   'OS_NOTIFICATIONS__ENABLE_LISTENER': str(listener),
                   'OS_NOTIFICATIONS__POOL': self.pool}
        if watchdog:
            environ['WATCHDOG_USEC'] = str(int(WATCHDOG * 1e6))
        environ.update(env or {})
        eng = engine_process.Engine(self.neo4j, self.transport.url,
                                    env=environ, args=args, code=code)
        # systemd's WATCHDOG_PID is the main process: the engine's own pid,
        # known only once it runs; without it the engine takes the watchdog
        # as its own as well.
        return self.useFixture(eng)


class TestReadiness(SystemdTestCase):

    def test_ready_only_once_rpc_and_listener_consume(self):
        seen = {}
        client = api.EngineAPI(self.conf, topic=self.topic, timeout=10)
        self.addCleanup(client.transport.cleanup)

        def at_ready(when, fields):
            if 'READY' not in fields or seen:
                return
            # systemd would now start the units ordered after us: the
            # engine must already consume, from both queues.
            seen['rpc_consumers'] = consumers(
                self.transport.url, '%s.%s' % (self.topic, self.host))
            seen['pool_consumers'] = consumers(self.transport.url,
                                               self.pool)
            try:
                seen['ping'] = client.ping('ready?')
            except Exception as exc:  # noqa: B902 - the test reports it
                seen['ping'] = exc

        self.notify.callbacks.append(at_ready)
        eng = self.engine(workers=2)
        ready = self.notify.wait_for('READY', timeout=90)
        self.assertEqual(['1'], self.notify.values('READY'))
        self.assertGreaterEqual(seen['rpc_consumers'] or 0, 2, seen)
        self.assertGreaterEqual(seen['pool_consumers'] or 0, 2, seen)
        self.assertEqual({'payload': 'ready?', 'host': self.host},
                         seen['ping'])
        statuses = self.notify.values('STATUS')
        self.assertIn('Checking Neo4j and the message broker', statuses)
        self.assertTrue(any(s.startswith('Starting: ') for s in statuses))
        self.assertTrue(statuses[-1].startswith('Serving: 2/2 workers'),
                        statuses)
        self.assertIn(self.pool, statuses[-1])
        # Every STATUS but the last came before READY.
        status_times = self.notify.times('STATUS')
        self.assertLessEqual(status_times[-2], ready)
        self.assertEqual(2, len(eng.workers()))
        self.assertEqual(0, eng.terminate())


class TestWatchdog(SystemdTestCase):

    def test_watchdog_follows_watchdog_usec_and_stops_on_a_wedged_worker(
            self):
        eng = self.engine(workers=2, listener=False)
        ready = self.notify.wait_for('READY', timeout=90)
        time.sleep(3 * WATCHDOG)
        pings = [t for t in self.notify.times('WATCHDOG') if t >= ready]
        self.assertGreaterEqual(len(pings), 4, self.notify.messages)
        gaps = [b - a for a, b in zip(pings, pings[1:])]
        # systemd wants one within WATCHDOG_USEC; the engine pings every
        # half of it.
        self.assertLess(max(gaps), WATCHDOG * 0.75, gaps)
        self.assertGreater(min(gaps), WATCHDOG * 0.4, gaps)

        wedged = eng.workers()[0]
        os.kill(wedged, signal.SIGSTOP)
        stopped = time.monotonic()
        try:
            time.sleep(3 * WATCHDOG)
            after = [t for t in self.notify.times('WATCHDOG')
                     if t > stopped]
            # Its last heartbeat goes stale after half the period; the
            # parent pings no more, and systemd would kill the engine
            # WatchdogSec after the last ping.
            self.assertTrue(all(t < stopped + WATCHDOG * 0.75
                                for t in after), (stopped, after))
            self.assertTrue(any(s.startswith('Degraded: 1/2 workers')
                                for s in self.notify.values('STATUS')))
        finally:
            os.kill(wedged, signal.SIGCONT)
        resumed = time.monotonic()
        self.notify.wait_for('WATCHDOG', timeout=2 * WATCHDOG,
                             after=resumed)
        self.assertEqual(0, eng.terminate())

    def test_a_reload_restarts_the_workers_without_a_watchdog_gap(self):
        tmp = self.useFixture(fixtures.TempDir()).path
        conf_file = os.path.join(tmp, 'tachyon.conf')
        with open(conf_file, 'w') as out:
            out.write('[simulation]\nmax_ttl = 600\n')
        eng = self.engine(workers=2, listener=False,
                          args=['--config-file', conf_file])
        ready = self.notify.wait_for('READY', timeout=90)
        before = eng.workers()
        with open(conf_file, 'w') as out:
            out.write('[simulation]\nmax_ttl = 700\n')
        eng.proc.send_signal(signal.SIGHUP)
        # Every worker is replaced; READY=1 again once they all serve.
        self.notify.wait_for('READY', timeout=90, after=ready + 0.01)
        self.assertFalse(set(before) & set(eng.workers()))
        time.sleep(WATCHDOG)
        pings = [t for t in self.notify.times('WATCHDOG') if t >= ready]
        gaps = [b - a for a, b in zip(pings, pings[1:])]
        self.assertLess(max(gaps), WATCHDOG * 0.75, gaps)
        self.assertEqual(0, eng.terminate())

    def test_a_neo4j_outage_is_ridden_out(self):
        # The engine reaches Neo4j through a proxy the test then closes:
        # calls that need the graph fail meanwhile, the heartbeats go on,
        # and systemd is not asked to restart anything.
        proxy = self.useFixture(TCPProxy(self.neo4j.uri))
        eng = self.engine(workers=1, listener=False,
                          env={'OS_NEO4J__URI': proxy.uri})
        ready = self.notify.wait_for('READY', timeout=90)
        client = api.EngineAPI(self.conf, topic=self.topic, timeout=10)
        self.addCleanup(client.transport.cleanup)
        self.assertTrue(client.get_generation() is not None)
        proxy.close()
        down = time.monotonic()
        # The call reaches the engine, which cannot reach Neo4j: it fails
        # (GraphUnavailable, or the driver retries past our timeout).
        self.assertRaises((exception.GraphUnavailable,
                           messaging.MessagingTimeout), client.get_generation)
        self.assertEqual(self.host, client.ping()['host'])
        time.sleep(2 * WATCHDOG)
        pings = [t for t in self.notify.times('WATCHDOG') if t > ready]
        gaps = [b - a for a, b in zip(pings, pings[1:])]
        self.assertTrue(any(t > down + 1.5 * WATCHDOG for t in pings),
                        (down, pings))
        self.assertLess(max(gaps), WATCHDOG * 0.75, gaps)
        # Neo4j is back: the same engine serves again, never restarted.
        pids = eng.workers()
        proxy.reopen()
        deadline = time.monotonic() + 60
        while True:
            try:
                self.assertIsInstance(client.get_generation(), int)
                break
            except (exception.GraphUnavailable,
                    messaging.MessagingTimeout):
                if time.monotonic() > deadline:
                    raise
        self.assertEqual(pids, eng.workers())
        self.assertEqual(0, eng.terminate())


class TestFatalConfiguration(SystemdTestCase):

    def test_a_worker_config_error_stops_the_engine_with_status_2(self):
        eng = self.engine(workers=2, env={
            'OS_COLLECTORS__ENABLED_COLLECTORS': 'no-such-collector'})
        self.assertEqual(2, eng.wait(90))
        out = eng.output()
        self.assertIn('tachyon-engine: Invalid configuration '
                      '[collectors]/enabled_collectors', out.splitlines()[-1])
        self.assertIn('no-such-collector', out.splitlines()[-1])
        self.assertEqual([], self.notify.values('READY'))
        self.assertTrue(any(s.startswith('Stopping: Invalid configuration')
                            for s in self.notify.values('STATUS')))

    def test_a_bad_value_reread_on_sighup_stops_the_engine(self):
        tmp = self.useFixture(fixtures.TempDir()).path
        conf_file = os.path.join(tmp, 'tachyon.conf')
        with open(conf_file, 'w') as out:
            out.write('[simulation]\nmax_ttl = 600\n')
        eng = self.engine(workers=1, listener=False,
                          args=['--config-file', conf_file])
        self.notify.wait_for('READY', timeout=90)
        with open(conf_file, 'w') as out:
            out.write('[simulation]\nmax_ttl = ten minutes\n')
        eng.proc.send_signal(signal.SIGHUP)
        self.assertEqual(2, eng.wait(90))
        last = eng.output().splitlines()[-1]
        self.assertIn('tachyon-engine: ', last)
        self.assertIn('max_ttl', last)
