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

"""Tachyon's collectors loaded by Watcher's own plugin loader."""

import os
from unittest import mock

from oslo_config import cfg
from watcher.decision_engine.loading import default as loading
from watcher.tests.unit import base as watcher_base

from tachyon.client import audits
from tachyon.client import model as client_model
from tachyon.client import networkx_adapter
from tachyon.client import watcher_hooks
from tachyon.client import watcher_plugins
from tachyon import exception
from tachyon.graph import compute
from tachyon import watcher_xml
from tests.integration import backend
from tests import watcher_models

GROUP = 'watcher_cluster_data_model_collectors.%s'

# Watcher's audits are named by uuids, as tachyon-engine requires.
AUDIT_1 = 'a0d1c3e5-1111-4c1a-9b7e-5f0a2d4c6e81'
AUDIT_2 = 'a0d1c3e5-2222-4c1a-9b7e-5f0a2d4c6e82'


class TestWatcherPlugins(watcher_base.TestCase):

    def setUp(self):
        super().setUp()
        self.tachyon = self.useFixture(backend.TachyonBackend())
        cfg.CONF.set_override('transport_url',
                              os.environ['TACHYON_TRANSPORT_URL'])
        self.graph = self.tachyon.graph
        for name in ('compute', 'storage', 'ironic'):
            xml = watcher_models.load_data(
                {'compute': 'scenario_1.xml',
                 'storage': 'storage_scenario_1.xml',
                 'ironic': 'ironic_scenario_1.xml'}[name])
            watcher_xml.import_model(self.graph, xml)
        self.watcher = watcher_models.watcher_model('scenario_1.xml')

    def load(self, name):
        group = GROUP % name
        opts = watcher_plugins.TachyonComputeCollector.get_config_opts()
        cfg.CONF.register_opts(opts, group=group)
        cfg.CONF.set_override('topic', self.tachyon.client.client.target.topic,
                              group=group)
        self.addCleanup(watcher_hooks.uninstall)
        collector = loading.ClusterDataModelCollectorLoader().load(
            name, osc=mock.Mock())
        # The singleton outlives the test: a client of this test's topic.
        collector._client = None
        return collector

    def test_outside_an_audit_the_model_is_a_read_view(self):
        collector = self.load('tachyon_compute')
        handler = collector.get_audit_scope_handler([])
        model = handler.get_scoped_model(
            collector.get_latest_cluster_data_model())
        self.assertIsNone(model.session_id)
        self.assertIsNone(model.client)
        self.assertEqual([], self.tachyon.client.list_sessions())
        inst = sorted(model.get_all_instances().values(),
                      key=lambda i: i.uuid)[0]
        source = model.get_node_by_instance_uuid(inst.uuid)
        dest = next(n for u, n in sorted(
            model.get_all_compute_nodes().items()) if u != source.uuid)
        self.assertTrue(model.migrate_instance(inst, source, dest))
        # Local only: the global graph did not move.
        self.assertEqual(source.uuid, compute.get_node_by_instance_uuid(
            self.graph, inst.uuid).uuid)

    def test_compute_collector_opens_a_session_with_the_audit_scope(self):
        collector = self.load('tachyon_compute')
        self.assertIsInstance(collector,
                              watcher_plugins.TachyonComputeCollector)
        self.assertEqual([], collector.notification_endpoints)
        excluded = sorted(self.watcher.get_all_instances())[0]
        audit_scope = [{'compute': [{'exclude': [
            {'instances': [{'uuid': excluded}]}]}]}]
        with audits.bound(AUDIT_1) as run:
            handler = collector.get_audit_scope_handler(audit_scope)
            model = handler.get_scoped_model(
                collector.get_latest_cluster_data_model())
            self.assertEqual([model], run.models)
            session = self.tachyon.client.get_session(model.session_id)
            self.assertEqual((AUDIT_1, 'active'),
                             (session['audit_uuid'], session['status']))
            self.check_session(model, excluded)
        # This strategy committed its session itself; the end of the run
        # leaves it so.
        session = self.tachyon.client.get_session(model.session_id)
        self.assertEqual('committed', session['status'])

    def test_the_session_ends_with_the_strategy_run(self):
        collector = self.load('tachyon_compute')
        with audits.bound(AUDIT_2):
            model = collector.get_latest_cluster_data_model()
            inst = sorted(model.get_all_instances().values(),
                          key=lambda i: i.uuid)[0]
            source = model.get_node_by_instance_uuid(inst.uuid)
            dest = next(n for u, n in sorted(
                model.get_all_compute_nodes().items()) if u != source.uuid)
            self.assertTrue(model.migrate_instance(inst, source, dest))
            self.assertEqual(1, len(model.pending_deltas))
        # The move held locally was sent, then the session closed unapplied.
        session = self.tachyon.client.get_session(model.session_id)
        self.assertEqual(('closed', 1), (session['status'],
                                         session['delta_count']))
        self.assertEqual([inst.uuid], [
            d['consumer_uuid'] for d in
            self.tachyon.endpoint.sessions.get_deltas(model.session_id)])
        self.assertEqual(source.uuid, compute.get_node_by_instance_uuid(
            self.graph, inst.uuid).uuid)

    def check_session(self, model, excluded):
        self.assertIsInstance(model, client_model.TachyonClusterModel)
        self.assertIsNotNone(model.session_id)
        self.assertEqual(sorted(self.watcher.get_all_compute_nodes()),
                         sorted(model.get_all_compute_nodes()))
        self.assertTrue(model.get_instance_by_uuid(excluded).watcher_exclude)

        # A strategy's move is a delta in the session, not a global change.
        inst = model.get_instance_by_uuid(excluded)
        source = model.get_node_by_instance_uuid(excluded)
        dest = next(n for u, n in sorted(
            model.get_all_compute_nodes().items()) if u != source.uuid)
        self.assertTrue(model.migrate_instance(inst, source, dest))
        self.assertEqual(1, len(model.pending_deltas))
        score = model.get_balance_score('VCPU')  # flushes first
        self.assertIn('mean', score)
        self.assertEqual([], model.pending_deltas)
        client = self.tachyon.client
        self.assertEqual(dest.uuid, client.get_consumer_location(
            model.session_id, excluded))
        self.assertEqual(source.uuid, compute.get_node_by_instance_uuid(
            self.graph, excluded).uuid)
        model.commit()
        self.assertEqual(dest.uuid, compute.get_node_by_instance_uuid(
            self.graph, excluded).uuid)

    def test_storage_and_baremetal_collectors(self):
        storage = self.load('tachyon_storage').get_latest_cluster_data_model()
        self.assertEqual(2, len(storage.get_all_storage_nodes()))
        self.assertEqual(9, len(storage.get_all_volumes()))
        bm = self.load('tachyon_baremetal').get_latest_cluster_data_model()
        self.assertEqual(2, len(bm.get_all_ironic_nodes()))

    def test_translate_scope(self):
        scope = watcher_plugins.translate_scope([{'compute': [
            {'host_aggregates': [{'id': 1}, {'name': 'agg'}]},
            {'availability_zones': [{'name': 'AZ1'}]},
            {'exclude': [{'instances': [{'uuid': 'i1'}]},
                         {'compute_nodes': [{'name': 'h1'}]},
                         {'projects': [{'uuid': 'p1'}]}]}]}])
        self.assertEqual({'host_aggregates': ['1', 'agg'],
                          'availability_zones': ['AZ1'],
                          'exclude_instances': ['i1'],
                          'exclude_compute_nodes': ['h1'],
                          'exclude_projects': ['p1']}, scope)


class TestNetworkXAdapter(watcher_base.TestCase):

    def test_edge_changes_become_session_deltas(self):
        tachyon = self.useFixture(backend.TachyonBackend())
        watcher = watcher_models.watcher_model('scenario_1.xml')
        model = tachyon.tachyon_model(watcher)
        view = networkx_adapter.TachyonNetworkXAdapter.from_model(model)
        self.assertEqual(len(model.nodes()), len(view.nodes()))
        self.assertEqual(len(model.edges()), len(view.edges()))
        inst_uuid, node_uuid = sorted(view.edges())[0]
        dest = next(u for u in sorted(model.get_all_compute_nodes())
                    if u != node_uuid)
        view.remove_edge(inst_uuid, node_uuid)
        view.add_edge(inst_uuid, dest)
        view.flush()
        client = tachyon.client
        self.assertEqual(dest, client.get_consumer_location(
            model.session_id, inst_uuid))
        deltas = [d['type'] for d in tachyon.endpoint.sessions.get_deltas(
            model.session_id)]
        self.assertEqual(['DEALLOCATE', 'ALLOCATE'], deltas)
        # The global graph did not move.
        self.assertEqual(node_uuid, compute.get_node_by_instance_uuid(
            tachyon.graph, inst_uuid).uuid)


class TestDeltaSending(watcher_base.TestCase):
    """Moves reach the session in order, sent while the strategy runs."""

    def setUp(self):
        super().setUp()
        self.tachyon = self.useFixture(backend.TachyonBackend())
        self.model = self.tachyon.tachyon_model(
            watcher_models.watcher_model('scenario_1.xml'))
        self.model.batch_size = 2
        # The busiest node, and another.
        nodes = sorted(self.model.get_all_compute_nodes().values(),
                       key=lambda n: (-len(self.model.get_node_instances(n)),
                                      n.uuid))
        self.nodes = nodes[0], nodes[1]

    def _moves(self):
        """Every instance of the first node to the second, one by one."""
        source, dest = self.nodes
        moved = []
        for inst in sorted(self.model.get_node_instances(source),
                           key=lambda i: i.uuid):
            self.assertTrue(self.model.migrate_instance(inst, source, dest))
            moved.append(inst.uuid)
        return moved

    def test_batches_arrive_in_order(self):
        moved = self._moves()
        self.assertGreater(len(moved), 2)  # more than one batch
        self.model.flush()
        self.assertEqual([], self.model.pending_deltas)
        deltas = self.tachyon.endpoint.sessions.get_deltas(
            self.model.session_id)
        self.assertEqual(moved, [d['consumer_uuid'] for d in deltas])
        self.assertEqual(list(range(len(moved))),
                         [d['sequence'] for d in deltas])

    def test_a_refused_batch_stops_the_later_ones(self):
        source, dest = self.nodes
        first = sorted(self.model.get_node_instances(source),
                       key=lambda i: i.uuid)[0]
        # Behind the local view's back: the session moves the first
        # instance already, so the engine refuses the view's own move.
        self.tachyon.client.migrate_instance(
            first.uuid, source.uuid, dest.uuid,
            session_id=self.model.session_id, check_capacity=False)
        exc = self.assertRaises(exception.Conflict, self._moves_and_flush)
        self.assertIn(first.uuid, exc.kwargs['conflicts'])
        deltas = self.tachyon.endpoint.sessions.get_deltas(
            self.model.session_id)
        self.assertEqual([first.uuid], [d['consumer_uuid'] for d in deltas])
        self.model.flush()  # the error was raised once, nothing pending

    def _moves_and_flush(self):
        self._moves()
        self.model.flush()
