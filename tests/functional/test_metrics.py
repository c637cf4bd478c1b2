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

"""Observing a real tachyon-engine (two workers, real Neo4j and RabbitMQ).

The engine's Prometheus endpoint is scraped over HTTP after real RPC
calls and real Nova notifications; the engines' heartbeats are read with
the real ``tachyon-manage engine list`` and ``engine ping``.
"""

import glob
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
import uuid as uuid_lib

import fixtures
from oslo_config import cfg
import oslo_messaging as messaging
from prometheus_client import parser

from tachyon import exception
from tachyon.graph import compute
from tachyon.graph import engines
from tachyon.model import records
from tachyon.rpc import api
from tests.fixtures import services
from tests.functional import base
from tests.functional.rpc import test_engine
from tests import notification_payloads as p


def _uuid(i):
    return str(uuid_lib.UUID(int=0x3e7 << 96 | i))


def _free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def _script(name):
    path = os.path.join(os.path.dirname(sys.executable), name)
    return [path] if os.path.exists(path) else [
        sys.executable, '-m', 'tachyon.cmd.%s' % name.split('-')[1]]


class ObservedEngineTestCase(base.FunctionalTestCase):

    WORKERS = 2
    #: False: no [metrics]/multiprocess_dir, the engine makes its own in
    #: TMPDIR (self.metrics_dir).
    OWN_DIR = False

    def setUp(self):
        super().setUp()
        self.transport = self.useFixture(
            services.RealTransportFixture(self.conf))
        suffix = uuid_lib.uuid4().hex[:8]
        self.topic = 'tachyon-test-' + suffix
        self.nova_topic = 'versioned_notifications_' + suffix
        self.port = _free_port()
        self.metrics_dir = self.useFixture(fixtures.TempDir()).path
        compute.upsert_compute_nodes(self.graph, [records.ComputeNode(
            uuid=_uuid(0), hostname='compute-1', inventories={
                rc: records.Inventory(rc, total=10 ** 6)
                for rc in records.COMPUTE_RESOURCE_CLASSES})])
        where = ({'TMPDIR': self.metrics_dir} if self.OWN_DIR else
                 {'OS_METRICS__MULTIPROCESS_DIR': self.metrics_dir})
        self.engine = self.useFixture(test_engine.EngineProcess(
            self.neo4j, self.transport.url, self.topic, 'engine-m',
            workers=self.WORKERS, env=dict(where, **{
                'OS_METRICS__ENABLED': 'true',
                'OS_METRICS__BIND_HOST': '127.0.0.1',
                'OS_METRICS__PORT': str(self.port),
                'OS_METRICS__HEARTBEAT_INTERVAL': '1',
                'OS_NOTIFICATIONS__ENABLE_LISTENER': 'true',
                'OS_NOTIFICATIONS__ENABLED_HANDLERS': 'nova',
                'OS_NOTIFICATIONS__NOVA_TOPIC': self.nova_topic,
                'OS_NOTIFICATIONS__POOL': 'tachyon-test-pool-' + suffix,
                'OS_NOTIFICATIONS__ENRICH_FROM_APIS': 'false'})))
        self.client = api.EngineAPI(self.conf, topic=self.topic, timeout=30)
        self.addCleanup(self.client.transport.cleanup)
        self.wait_for(lambda: self.live_workers() == self.WORKERS,
                      'both workers to beat')

    # Helpers ----------------------------------------------------------

    def wait_for(self, predicate, what, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if predicate():
                    return
            except (exception.GraphUnavailable, OSError):
                pass
            time.sleep(0.2)
        self.fail('Timed out waiting for %s; engine log:\n%s'
                  % (what, self.engine.output()[-4000:]))

    def live_workers(self):
        found = [e for e in engines.list_engines(self.graph)
                 if e['host'] == 'engine-m']
        return found[0]['live_workers'] if found else 0

    def scrape(self):
        url = 'http://127.0.0.1:%d/metrics' % self.port
        with urllib.request.urlopen(url, timeout=10) as answer:
            self.assertEqual(200, answer.status)
            text = answer.read().decode()
        samples = {}
        for family in parser.text_string_to_metric_families(text):
            for s in family.samples:
                key = (s.name, tuple(sorted(s.labels.items())))
                samples[key] = s.value
        return samples

    @staticmethod
    def value(samples, name, **labels):
        """The sum of the samples of ``name`` whose labels include these."""
        return sum(v for (n, ls), v in samples.items() if n == name
                   and set(labels.items()) <= set(ls))

    def notifier(self):
        nova_conf = cfg.ConfigOpts()
        nova_conf([], project='nova-test')
        messaging.TransportURL(nova_conf)
        nova_conf.set_override('control_exchange', 'nova')
        transport = messaging.get_notification_transport(
            nova_conf, url=self.transport.url)
        self.addCleanup(transport.cleanup)
        return messaging.Notifier(
            transport, publisher_id='nova-compute:compute-1',
            driver='messagingv2', topics=[self.nova_topic])

    def manage(self, *args, topic=None):
        env = dict(os.environ, OS_NEO4J__URI=self.neo4j.uri,
                   OS_NEO4J__USERNAME=self.neo4j.user,
                   OS_NEO4J__PASSWORD=self.neo4j.password,
                   OS_DEFAULT__TRANSPORT_URL=self.transport.url,
                   OS_ENGINE__TOPIC=topic or self.topic)
        return subprocess.run(
            _script('tachyon-manage') + ['--config-file', os.devnull]
            + list(args), env=env, capture_output=True, text=True,
            timeout=120)


class TestMetricsEndpoint(ObservedEngineTestCase):

    def test_rpc_calls_are_counted_across_workers(self):
        before = self.scrape()
        for i in range(20):
            self.assertEqual('engine-m', self.client.ping(i)['host'])
        for _i in range(3):
            self.assertRaises(exception.NotFound,
                              self.client.get_compute_node, _uuid(99))
        # Whichever worker answers a scrape, it counts every worker's
        # calls: the same figures, scrape after scrape.
        for _scrape in range(8):
            after = self.scrape()
            self.assertEqual(
                20, self.value(after, 'tachyon_rpc_duration_seconds_count',
                               method='ping', outcome='ok')
                - self.value(before, 'tachyon_rpc_duration_seconds_count',
                             method='ping', outcome='ok'))
            self.assertEqual(3, self.value(
                after, 'tachyon_rpc_duration_seconds_count',
                method='get_compute_node', outcome='NotFound'))
            self.assertEqual(3, self.value(
                after, 'tachyon_rpc_duration_seconds_bucket',
                method='get_compute_node', outcome='NotFound', le='+Inf'))
        # The lookups read Neo4j once each, timed by unit of work, with
        # the error that left it.
        self.assertEqual(3, self.value(
            after, 'tachyon_neo4j_duration_seconds_count',
            work='compute.reads:_one_node', access='read_one',
            outcome='NotFound'))
        # Two workers wrote figures of their own (files per pid).
        pids = {re.search(r'_(\d+)\.db$', f).group(1)
                for f in glob.glob(os.path.join(self.metrics_dir, '*.db'))}
        self.assertEqual(self.WORKERS, len(pids), pids)

    def test_notifications_counted_and_their_lag_measured(self):
        notifier = self.notifier()
        sent = time.time()
        for i in range(1, 4):
            notifier.info({}, 'instance.update', p.nova_instance(_uuid(i)))
        notifier.info({}, 'instance.update', {'nova_object.version': '1.0'})

        def counted():
            samples = self.scrape()
            return (self.value(samples, 'tachyon_notifications_total',
                               outcome='applied') == 3
                    and self.value(samples, 'tachyon_notifications_total',
                                   outcome='malformed') == 1)
        self.wait_for(counted, 'the notifications to be counted')
        done = time.time()
        self.assertEqual({_uuid(i) for i in range(1, 4)},
                         set(compute.get_all_instances(self.graph)))
        samples = self.scrape()
        self.assertEqual(3, self.value(
            samples, 'tachyon_notifications_total', handler='nova',
            event_type='instance.update', outcome='applied'))
        self.assertEqual(1, self.value(
            samples, 'tachyon_notifications_total', handler='nova',
            event_type='instance.update', outcome='malformed'))
        self.assertEqual(0, self.value(
            samples, 'tachyon_notifications_total', outcome='requeued'))
        self.assertEqual(3, self.value(
            samples, 'tachyon_notification_lag_seconds_count',
            handler='nova'))
        lag = self.value(samples, 'tachyon_notification_lag_seconds_sum',
                         handler='nova')
        self.assertGreater(lag, 0.0)
        self.assertLess(lag, 3 * (done - sent) + 1.0)
        # Each batch the listener received ([notifications]/batch_size,
        # what came within batch_timeout) is one write transaction: the
        # three applied notifications took one to three of them.
        writes = self.value(
            samples, 'tachyon_neo4j_duration_seconds_count',
            work='events:_apply', access='write', outcome='ok')
        self.assertTrue(1 <= writes <= 3, writes)

    def test_active_sessions_gauge(self):
        self.assertEqual(0, self.value(self.scrape(),
                                       'tachyon_sessions_active'))
        first = self.client.create_session()['id']
        self.client.create_session()
        self.assertEqual(2, self.value(self.scrape(),
                                       'tachyon_sessions_active'))
        self.client.close_session(first)
        self.assertEqual(1, self.value(self.scrape(),
                                       'tachyon_sessions_active'))

    def test_a_second_engine_on_the_port_stops_at_once(self):
        env = dict(os.environ, OS_NEO4J__URI=self.neo4j.uri,
                   OS_NEO4J__USERNAME=self.neo4j.user,
                   OS_NEO4J__PASSWORD=self.neo4j.password,
                   OS_DEFAULT__TRANSPORT_URL=self.transport.url,
                   OS_DEFAULT__HOST='engine-n',
                   OS_ENGINE__TOPIC=self.topic + '-n',
                   OS_NOTIFICATIONS__ENABLE_LISTENER='false',
                   OS_METRICS__ENABLED='true',
                   OS_METRICS__BIND_HOST='127.0.0.1',
                   OS_METRICS__PORT=str(self.port))
        res = subprocess.run(
            _script('tachyon-engine') + ['--config-file', os.devnull],
            env=env, capture_output=True, text=True, timeout=120)
        self.assertEqual(2, res.returncode, res.stdout + res.stderr)
        self.assertEqual(
            ['tachyon-engine: [metrics]/port: cannot listen on 127.0.0.1 '
             'port %d: Address already in use (set [metrics]/port to a '
             'free port, or [metrics]/enabled to false)' % self.port],
            [line for line in res.stderr.splitlines()
             if 'metrics' in line])
        self.assertNotIn('Traceback', res.stderr)
        # The first engine still answers.
        self.assertEqual(0, self.value(self.scrape(),
                                       'tachyon_sessions_active'))


class TestEngineCommands(ObservedEngineTestCase):

    def test_list_shows_the_engine_and_its_workers(self):
        res = self.manage('engine', 'list', '--format', 'json')
        self.assertEqual(0, res.returncode, res.stderr)
        (engine,) = json.loads(res.stdout)
        self.assertEqual('engine-m', engine['host'])
        self.assertEqual(self.engine.proc.pid, engine['pid'])
        self.assertEqual('engine-m:%d' % self.engine.proc.pid,
                         engine['engine'])
        self.assertEqual(engines.version(), engine['version'])
        self.assertEqual(2, engine['workers'])
        self.assertEqual(2, engine['live_workers'])
        self.assertEqual(2, len(set(engine['worker_pids'])))
        self.assertFalse(engine['stale'])
        self.assertLess(engine['age'], 10)
        # The heartbeat moves on.
        first = engine['heartbeat_at']
        self.wait_for(lambda: engines.list_engines(self.graph)[0][
            'heartbeat_at'] > first + 1.0, 'the next heartbeat')

        res = self.manage('engine', 'list')
        self.assertEqual(0, res.returncode, res.stderr)
        _rule, header, _rule, line, _rule = res.stdout.splitlines()
        self.assertIn('HEARTBEAT', header)
        self.assertIn('engine-m:%d' % self.engine.proc.pid, line)
        self.assertIn(' 2/2 ', line)
        self.assertRegex(line, r'\| up +\|$')
        res = self.manage('engine', 'list', '-f', 'value')
        self.assertEqual(0, res.returncode, res.stderr)
        self.assertRegex(res.stdout, r'^engine-m:%d \S+ 2/2 .* up\n$'
                         % self.engine.proc.pid)

    def test_a_stopped_engine_leaves_the_list(self):
        self.assertEqual(0, self.engine.terminate())
        res = self.manage('engine', 'list', '-f', 'json')
        self.assertEqual(0, res.returncode, res.stderr)
        self.assertEqual([], json.loads(res.stdout))
        res = self.manage('engine', 'list')
        self.assertEqual('No engine recorded a heartbeat.\n', res.stdout)

    def test_a_dead_engine_is_stale_then_removed(self):
        dead = {'id': 'gone:11', 'engine': 'gone:10', 'host': 'gone',
                'pid': 10, 'worker_pid': 11, 'version': '0.0.0',
                'workers': 1, 'started_at': time.time() - 900,
                'interval': 30.0}
        engines.beat(self.graph, dead, now=time.time() - 100)
        res = self.manage('engine', 'list')
        self.assertEqual(0, res.returncode, res.stderr)
        (line,) = [ln for ln in res.stdout.splitlines() if 'gone:10' in ln]
        self.assertIn('0/1', line)
        self.assertRegex(line, r' stale \(1\d\d s ago\) +\|$')
        # Another engine's heartbeat removes it after the expiry.
        engines.beat(self.graph, dead, now=time.time() - 86500)
        self.wait_for(lambda: 'gone:10' not in [
            e['engine'] for e in engines.list_engines(self.graph)],
            'the dead engine to be removed')
        self.assertEqual(['engine-m'], [
            e['host'] for e in engines.list_engines(self.graph)])

    def test_ping(self):
        res = self.manage('engine', 'ping')
        self.assertEqual(0, res.returncode, res.stderr)
        self.assertRegex(res.stdout, r'^Engine engine-m answered on topic '
                         r'%s in \d+\.\d ms\.\n$' % re.escape(self.topic))

    def test_ping_without_an_engine_fails_in_one_line(self):
        topic = 'nobody-' + uuid_lib.uuid4().hex[:8]
        started = time.monotonic()
        res = self.manage('engine', 'ping', '--timeout', '2', topic=topic)
        self.assertLess(time.monotonic() - started, 60)
        self.assertEqual(1, res.returncode)
        self.assertEqual('', res.stdout)
        self.assertEqual(
            'tachyon-manage engine ping: no engine answered on topic %s '
            '(exchange tachyon) within 2 s\n' % topic, res.stderr)


class TestOwnDirectory(ObservedEngineTestCase):

    WORKERS = 1
    OWN_DIR = True

    def test_the_engines_directory_is_removed_when_it_stops(self):
        self.client.ping()
        self.assertEqual(1, self.value(
            self.scrape(), 'tachyon_rpc_duration_seconds_count',
            method='ping'))
        (made,) = glob.glob(os.path.join(self.metrics_dir,
                                         'tachyon-metrics-*'))
        self.assertNotEqual([], glob.glob(os.path.join(made, '*.db')))
        self.assertEqual(0, self.engine.terminate())
        self.assertFalse(os.path.exists(made))
