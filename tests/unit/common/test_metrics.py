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

"""The metric definitions, their hooks and the multiprocess endpoint."""

import functools
import os
import socket
import time
from unittest import mock
import urllib.request

import fixtures
import oslo_messaging as messaging
import prometheus_client
from prometheus_client import parser
from prometheus_client import values

from tachyon.common import metrics
from tachyon import exception
from tachyon.notifications import listener
from tachyon.rpc import manager
from tests import base
from tests import notification_payloads as p


class MetricsTestCase(base.TestCase):

    def setUp(self):
        super().setUp()
        self.registry = prometheus_client.CollectorRegistry()
        self.metrics = metrics.Metrics(self.registry)
        self.addCleanup(metrics.install, metrics.installed())
        metrics.install(self.metrics)

    def sample(self, name, **labels):
        return self.registry.get_sample_value(name, labels) or 0.0


def _unit_of_work(tx, value):
    return value


class TestDefinitions(MetricsTestCase):

    def test_names_and_labels(self):
        names = {m.name: [s.labels for s in m.samples]
                 for m in self.registry.collect()}
        self.assertEqual(
            {'tachyon_notifications', 'tachyon_notification_lag_seconds',
             'tachyon_rpc_duration_seconds',
             'tachyon_neo4j_duration_seconds'}, set(names))
        self.assertEqual(('handler', 'event_type', 'outcome'),
                         self.metrics.notifications._labelnames)
        self.assertEqual(('method', 'outcome'),
                         self.metrics.rpc._labelnames)
        self.assertEqual(('work', 'access', 'outcome'),
                         self.metrics.graph._labelnames)

    def test_notification_counts(self):
        metrics.count_notifications('applied', [
            ('nova', 'instance.update'), ('nova', 'instance.update'),
            ('cinder', 'volume.create.end')])
        self.assertEqual(2, self.sample(
            'tachyon_notifications_total', handler='nova',
            event_type='instance.update', outcome='applied'))
        self.assertEqual(1, self.sample(
            'tachyon_notifications_total', handler='cinder',
            event_type='volume.create.end', outcome='applied'))

    def test_lag_is_never_negative(self):
        metrics.observe_lag('nova', 2.0)
        metrics.observe_lag('nova', -5.0)   # a clamped future timestamp
        self.assertEqual(2, self.sample(
            'tachyon_notification_lag_seconds_count', handler='nova'))
        self.assertEqual(2.0, self.sample(
            'tachyon_notification_lag_seconds_sum', handler='nova'))
        self.assertEqual(1, self.sample(
            'tachyon_notification_lag_seconds_bucket', handler='nova',
            le='0.05'))

    def test_rpc_latency(self):
        metrics.observe_rpc('ping', 'ok', 0.003)
        metrics.observe_rpc('ping', 'InvalidParameter', 0.2)
        self.assertEqual(1, self.sample('tachyon_rpc_duration_seconds_count',
                                        method='ping', outcome='ok'))
        self.assertEqual(1, self.sample(
            'tachyon_rpc_duration_seconds_bucket', method='ping',
            outcome='ok', le='0.005'))
        self.assertEqual(0, self.sample(
            'tachyon_rpc_duration_seconds_bucket', method='ping',
            outcome='InvalidParameter', le='0.1'))

    def test_nothing_installed_records_nothing(self):
        metrics.install(None)
        metrics.count_notifications('applied', [('nova', 'x')])
        metrics.observe_lag('nova', 1.0)
        metrics.observe_rpc('ping', 'ok', 1.0)
        self.assertEqual(0, self.sample(
            'tachyon_notifications_total', handler='nova', event_type='x',
            outcome='applied'))


class FakeGraph(object):

    @metrics.graph_work('read')
    def read(self, work, *args, **kwargs):
        return work(None, *args, **kwargs)

    @metrics.graph_work('read_one')
    def read_one(self, work, *args, **kwargs):
        try:
            return work(None, *args, **kwargs)
        except KeyError:
            return self.read(work, 'retried')   # a retry, as the driver's


class TestGraphWork(MetricsTestCase):

    def test_work_name(self):
        self.assertEqual('tests.unit.common.test_metrics:_unit_of_work',
                         metrics.work_name(_unit_of_work))
        self.assertEqual(
            'tests.unit.common.test_metrics:_unit_of_work',
            metrics.work_name(functools.partial(_unit_of_work, value=1)))
        from tachyon.graph import leases
        self.assertEqual('leases:_acquire',
                         metrics.work_name(leases._acquire))

    def test_each_unit_of_work_is_timed_with_its_outcome(self):
        graph = FakeGraph()
        self.assertEqual(3, graph.read(_unit_of_work, 3))

        def refused(tx):
            raise exception.NotFound(kind='node', ident='x')
        self.assertRaises(exception.NotFound, graph.read, refused)
        name = 'tests.unit.common.test_metrics:'
        self.assertEqual(1, self.sample(
            'tachyon_neo4j_duration_seconds_count',
            work=name + '_unit_of_work', access='read', outcome='ok'))
        self.assertEqual(1, self.sample(
            'tachyon_neo4j_duration_seconds_count',
            work=name + 'TestGraphWork.test_each_unit_of_work_is_timed_with_'
            'its_outcome.<locals>.refused', access='read',
            outcome='NotFound'))

    def test_a_retried_read_is_timed_once(self):
        calls = []

        def flaky(tx, value=None):
            calls.append(value)
            if len(calls) == 1:
                raise KeyError('lost connection')
            return value
        self.assertEqual('retried', FakeGraph().read_one(flaky))
        self.assertEqual(2, len(calls))
        work = ('tests.unit.common.test_metrics:TestGraphWork.'
                'test_a_retried_read_is_timed_once.<locals>.flaky')
        self.assertEqual(1, self.sample(
            'tachyon_neo4j_duration_seconds_count', work=work,
            access='read_one', outcome='ok'))
        self.assertEqual(0, self.sample(
            'tachyon_neo4j_duration_seconds_count', work=work,
            access='read', outcome='ok'))


class TestSessionGauge(base.TestCase):

    def test_counted_at_collection(self):
        counts = iter([2, 0])
        gauge = metrics.SessionGauge(lambda: next(counts))
        registry = prometheus_client.CollectorRegistry()
        registry.register(gauge)
        self.assertEqual(2, registry.get_sample_value(
            'tachyon_sessions_active'))
        self.assertEqual(0, registry.get_sample_value(
            'tachyon_sessions_active'))

    def test_graph_down_leaves_the_sample_out(self):
        def down():
            raise exception.GraphUnavailable(uri='bolt://x', reason='down',
                                             answered=False)
        self.useFixture(fixtures.FakeLogger())
        self.assertEqual([], metrics.SessionGauge(down).collect())


class TestProcessorCounts(MetricsTestCase):

    def setUp(self):
        super().setUp()
        self.flags(group='notifications', requeue_delay=0, max_requeues=0)
        self.useFixture(fixtures.FakeLogger())
        self.processor = listener.Processor(
            self.conf, None, listener.load_handlers(self.conf),
            enricher=self)
        self.failure = None
        self.processor.write = self.write

    def complete(self, change_list):
        return change_list

    def write(self, change_list):
        if self.failure is not None:
            raise self.failure

    def count(self, outcome, handler='nova', event_type='instance.update'):
        return self.sample('tachyon_notifications_total', handler=handler,
                           event_type=event_type, outcome=outcome)

    def test_each_outcome_by_handler_and_event_type(self):
        sent = time.time() - 30
        notes = [p.note('instance.update', p.nova_instance(
            '11111111-1111-4111-8111-11111111111%d' % i), at=sent,
            message_id='m%d' % i) for i in range(3)]
        self.assertEqual(listener.ACK, self.processor.process(notes))
        self.assertEqual(3, self.count('applied'))
        self.assertEqual(3, self.sample(
            'tachyon_notification_lag_seconds_count', handler='nova'))
        self.assertEqual(0, self.sample(
            'tachyon_notification_lag_seconds_bucket', handler='nova',
            le='10.0'))
        self.assertEqual(3, self.sample(
            'tachyon_notification_lag_seconds_bucket', handler='nova',
            le='60.0'))
        self.processor.process([p.note('instance.update',
                                       {'nova_object.version': '1.0'})])
        self.assertEqual(1, self.count('malformed'))
        # Neo4j answered a transient failure: requeued, then (max 0)
        # dead-lettered.
        self.failure = exception.GraphUnavailable(
            uri='bolt://x', reason='deadlock', answered=True)
        note = p.note('instance.update', p.nova_instance(
            '22222222-2222-4222-8222-222222222222'), message_id='m9')
        self.assertEqual(listener.ACK, self.processor.process([note]))
        self.assertEqual(1, self.count('dead_lettered'))
        self.failure = exception.GraphUnavailable(
            uri='bolt://x', reason='down', answered=False)
        self.assertEqual(listener.REQUEUE, self.processor.process(
            [p.note('instance.update', p.nova_instance(
                '33333333-3333-4333-8333-333333333333'))]))
        self.assertEqual(1, self.count('requeued'))
        self.failure = RuntimeError('bug')
        self.processor.process([p.note('instance.update', p.nova_instance(
            '44444444-4444-4444-8444-444444444444'))])
        self.assertEqual(1, self.count('dropped'))
        self.assertEqual(dict(self.processor.counts, filtered=0), {
            'applied': 3, 'malformed': 1, 'filtered': 0, 'requeued': 1,
            'dropped': 1, 'dead_lettered': 1, 'clamped': 0})

    def test_unroutable_and_unreadable_messages_have_no_labels(self):
        self.processor.process([p.note(
            'instance.update', p.nova_instance(
                '11111111-1111-4111-8111-111111111111'),
            publisher_id='someone-else')])
        self.assertEqual(1, self.count('filtered', 'none', 'none'))
        self.processor.malformed_envelope({'message_id': 'x'}, 'bad')
        self.assertEqual(1, self.count('malformed', 'none', 'none'))


class TestExporter(base.TestCase):
    """Multiprocess mode: a forked worker's figures reach the endpoint."""

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path
        # prepare() switches the process to multiprocess mode: undo it.
        self.useFixture(fixtures.MonkeyPatch(
            'prometheus_client.values.ValueClass', values.ValueClass))
        self.useFixture(fixtures.EnvironmentVariable(
            'PROMETHEUS_MULTIPROC_DIR'))
        self.addCleanup(metrics.install, metrics.installed())
        self.useFixture(fixtures.FakeLogger())

    def test_disabled_by_default(self):
        exporter = metrics.Exporter.prepare(self.conf)
        self.assertFalse(exporter.enabled)
        exporter.start()
        exporter.stop()
        self.assertIsNone(os.environ.get('PROMETHEUS_MULTIPROC_DIR'))

    def prepare(self):
        with open(os.path.join(self.dir, 'counter_1.db'), 'w') as stale:
            stale.write('from a previous run')
        self.flags(group='metrics', enabled=True, bind_host='127.0.0.1',
                   port=0, multiprocess_dir=self.dir)
        exporter = metrics.Exporter.prepare(self.conf)
        self.addCleanup(exporter.socket.close)
        self.assertFalse(os.path.exists(os.path.join(self.dir,
                                                     'counter_1.db')))
        return exporter

    def scrape(self, exporter):
        url = 'http://127.0.0.1:%d/metrics' % exporter.address[1]
        with urllib.request.urlopen(url, timeout=10) as answer:
            text = answer.read().decode()
        return {(s.name, tuple(sorted(s.labels.items()))): s.value
                for f in parser.text_string_to_metric_families(text)
                for s in f.samples}

    def test_forked_workers_figures_are_summed(self):
        exporter = self.prepare()
        children = []
        for _worker in range(2):
            pid = os.fork()
            if pid == 0:   # a worker: one call, then it exits
                try:
                    metrics.observe_rpc('ping', 'ok', 0.01)
                finally:
                    os._exit(0)
            children.append(pid)
        for pid in children:
            self.assertEqual(0, os.waitstatus_to_exitcode(
                os.waitpid(pid, 0)[1]))
        metrics.observe_rpc('ping', 'ok', 0.01)
        exporter.start(sessions_active=lambda: 4)
        self.addCleanup(exporter.stop)
        samples = self.scrape(exporter)
        self.assertEqual(3, samples[(
            'tachyon_rpc_duration_seconds_count',
            (('method', 'ping'), ('outcome', 'ok')))])
        self.assertEqual(4, samples[('tachyon_sessions_active', ())])

    def test_a_port_in_use_is_a_configuration_error(self):
        with socket.socket() as taken:
            taken.bind(('127.0.0.1', 0))
            taken.listen()
            port = taken.getsockname()[1]
            self.flags(group='metrics', enabled=True, bind_host='127.0.0.1',
                       port=port,
                       multiprocess_dir=self.dir)
            exc = self.assertRaises(exception.ConfigurationError,
                                    metrics.Exporter.prepare, self.conf)
        self.assertIn('[metrics]/port', str(exc))
        self.assertIn('cannot listen on 127.0.0.1 port %d: Address already '
                      'in use (set [metrics]/port' % port, str(exc))


class TestRPCBorder(MetricsTestCase):

    def test_each_call_is_timed_with_its_outcome(self):
        graph = mock.Mock()
        endpoint = manager.EngineManager(self.conf, graph, host='h')
        self.assertEqual({'payload': 1, 'host': 'h'}, endpoint.ping({}, 1))
        self.assertRaises(messaging.ExpectedException, endpoint.get_instance,
                          {}, uuid='i1', colour='red')
        graph.read_one.side_effect = RuntimeError('bug')
        self.useFixture(fixtures.FakeLogger())
        self.assertRaises(messaging.ExpectedException,
                          endpoint.get_generation, {})
        self.assertEqual(1, self.sample('tachyon_rpc_duration_seconds_count',
                                        method='ping', outcome='ok'))
        self.assertEqual(1, self.sample(
            'tachyon_rpc_duration_seconds_count', method='get_instance',
            outcome='InvalidParameter'))
        self.assertEqual(1, self.sample(
            'tachyon_rpc_duration_seconds_count', method='get_generation',
            outcome='InternalError'))
