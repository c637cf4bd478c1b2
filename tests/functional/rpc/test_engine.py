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

"""tachyon-engine as a real process on the real RabbitMQ and Neo4j."""

import os
import subprocess
import sys
import threading
import time

from oslo_utils import uuidutils

from tachyon import exception
from tachyon import rpc
from tachyon.graph import compute
from tachyon.graph import sessions
from tachyon import watcher_xml
from tachyon.rpc import api
from tests.fixtures import services
from tests.functional import base
from tests.functional import engine_process
from tests import watcher_models


class EngineProcess(engine_process.Engine):
    """One ``tachyon-engine`` subprocess on a given topic, once it serves."""

    def __init__(self, neo4j, transport_url, topic, host, workers=1,
                 env=None):
        """``topic`` None: every option but the back ends' at its default."""
        super().__init__(neo4j, transport_url, env=env)
        self.topic = topic
        self.host = host
        self.worker_count = workers

    def environment(self):
        env = super().environment()
        env['OS_DEFAULT__HOST'] = self.host
        if self.topic is None:
            del env['OS_COLLECTORS__ENABLED_COLLECTORS']
        else:
            env.update(OS_ENGINE__TOPIC=self.topic,
                       OS_ENGINE__WORKERS=str(self.worker_count),
                       OS_NOTIFICATIONS__ENABLE_LISTENER='false')
        return env

    def _setUp(self):
        super()._setUp()
        self.wait_output('serving topic')


class EngineTestCase(base.FunctionalTestCase):

    SCENARIO = 'scenario_1.xml'

    def setUp(self):
        super().setUp()
        self.transport = self.useFixture(
            services.RealTransportFixture(self.conf))
        self.topic = 'tachyon-test-' + uuidutils.generate_uuid()[:8]
        self.xml = watcher_models.load_data(self.SCENARIO)
        watcher_xml.import_model(self.graph, self.xml)
        self.model = watcher_models.watcher_model(self.SCENARIO)
        self.engine = self.useFixture(EngineProcess(
            self.neo4j, self.transport.url, self.topic, 'engine-a'))
        self.client = api.EngineAPI(self.conf, topic=self.topic, timeout=30)
        self.addCleanup(self.client.transport.cleanup)


class TestEngineRPC(EngineTestCase):

    def test_queries_match_the_graph_and_watcher(self):
        self.assertEqual({'payload': 'x', 'host': 'engine-a'},
                         self.client.ping('x'))
        nodes = self.client.list_compute_nodes()
        self.assertEqual(sorted(self.model.get_all_compute_nodes()),
                         [n['uuid'] for n in nodes])
        node = nodes[0]
        self.assertEqual(node, self.client.get_compute_node(node['uuid']))
        self.assertEqual(node, self.client.get_compute_node_by_name(
            node['hostname']))
        w_node = self.model.get_node_by_uuid(node['uuid'])
        self.assertEqual(self.model.get_node_used_resources(w_node),
                         self.client.get_node_used_resources(node['uuid']))
        self.assertEqual(self.model.get_node_free_resources(w_node),
                         self.client.get_node_free_resources(node['uuid']))
        self.assertEqual(
            sorted(i.uuid for i in self.model.get_node_instances(w_node)),
            [i['uuid'] for i in self.client.get_node_instances(
                node['uuid'])])
        inst = self.model.get_node_instances(w_node)[0]
        self.assertEqual(inst.uuid,
                         self.client.get_instance(inst.uuid)['uuid'])
        self.assertEqual(node['uuid'], self.client.get_node_by_instance(
            inst.uuid)['uuid'])
        usage = self.client.get_all_nodes_usage()
        self.assertEqual(compute.get_all_nodes_usage(self.graph), usage)
        page = self.client.list_instances(limit=3)
        self.assertEqual(3, len(page['instances']))
        rest = self.client.list_instances(marker=page['next_marker'])
        self.assertEqual(len(self.model.get_all_instances()),
                         3 + len(rest['instances']))
        self.assertIsNone(rest['next_marker'])
        found = self.client.find_nodes_with_capacity('VCPU', 1)
        self.assertEqual(
            compute.find_nodes_with_capacity(self.graph, 'VCPU', 1),
            [tuple(x) for x in found])
        self.assertEqual(self.client.get_generation(),
                         self.client.get_compute_snapshot()['generation'])

    def test_snapshot_and_scope(self):
        snap = self.client.get_compute_snapshot()
        self.assertEqual(len(self.model.get_all_compute_nodes()),
                         len(snap['nodes']))
        self.assertEqual(len(self.model.get_all_instances()),
                         len(snap['instances']))
        host = snap['nodes'][0]['hostname']
        scoped = self.client.get_compute_snapshot(
            scope={'compute_nodes': [host]})
        self.assertEqual([host], [n['hostname'] for n in scoped['nodes']])
        self.assertEqual({snap['nodes'][0]['uuid']},
                         set(scoped['mapping'].values()))
        one = scoped['instances'][0]['uuid']
        marked = self.client.get_compute_snapshot(
            scope={'compute_nodes': [host], 'exclude_instances': [one]})
        self.assertEqual([one], [i['uuid'] for i in marked['instances']
                                 if i['watcher_exclude']])
        exc = self.assertRaises(exception.InvalidParameter,
                                self.client.get_compute_snapshot,
                                scope={'regions': ['x']})
        self.assertEqual('scope.regions', exc.kwargs['field'])

    def test_sessions_over_rpc(self):
        snap = self.client.get_compute_snapshot()
        inst, src = next(iter(sorted(snap['mapping'].items())))
        dest = next(n['uuid'] for n in snap['nodes'] if n['uuid'] != src)
        session = self.client.create_session(
            ttl=300, audit_uuid=uuidutils.generate_uuid())
        sid = session['id']
        self.assertEqual(sid, self.client.get_session(sid)['id'])
        self.assertIn(sid, [s['id'] for s in self.client.list_sessions()])
        self.assertEqual({'sequence': 0}, self.client.migrate_instance(
            inst, src, dest, session_id=sid, check_capacity=False))
        self.assertEqual(dest, self.client.get_consumer_location(sid, inst))
        self.assertEqual(dest, self.client.get_node_by_instance(
            inst, session_id=sid)['uuid'])
        virtual = self.client.get_compute_snapshot(session_id=sid)
        self.assertEqual(dest, virtual['mapping'][inst])
        self.assertIn(dest, self.client.get_utilization('VCPU', sid))
        self.assertIn('stddev', self.client.get_balance_score('VCPU', sid))
        self.assertIsInstance(self.client.find_destinations(inst, sid), list)
        self.assertEqual([1], self.client.record_deltas(sid, [{
            'type': 'MOVE', 'consumer_uuid': inst, 'source_uuid': dest,
            'destination_uuid': src, 'check_capacity': False}]))
        result = self.client.commit_session(sid)
        self.assertEqual(2, result['applied'])
        self.assertEqual(src, compute.get_node_by_instance_uuid(
            self.graph, inst).uuid)
        other = self.client.create_session()['id']
        self.assertEqual('rolled_back',
                         self.client.rollback_session(other)['status'])
        third = self.client.create_session()['id']
        self.assertEqual('expired',
                         self.client.expire_session(third)['status'])
        # Without a session, migrate_instance changes the global graph.
        gen = self.client.migrate_instance(inst, src, dest,
                                           check_capacity=False)
        self.assertIn('generation', gen)
        self.assertEqual(dest, compute.get_node_by_instance_uuid(
            self.graph, inst).uuid)

    def test_storage_and_baremetal_calls(self):
        watcher_xml.import_model(
            self.graph, watcher_models.load_data('storage_scenario_1.xml'))
        watcher_xml.import_model(
            self.graph, watcher_models.load_data('ironic_scenario_1.xml'))
        snap = self.client.get_storage_snapshot()
        self.assertEqual(2, len(snap['nodes']))
        pool = snap['pools'][0]['name']
        self.assertEqual(pool, self.client.get_pool(pool)['name'])
        host = snap['nodes'][0]['host']
        self.assertEqual(host, self.client.get_storage_node(host)['host'])
        vols = self.client.get_pool_volumes(pool)
        self.assertEqual(vols[0], self.client.get_volume(vols[0]['uuid']))
        bm = self.client.get_baremetal_snapshot()
        self.assertEqual(bm['nodes'][0]['uuid'], self.client.get_ironic_node(
            bm['nodes'][0]['uuid'])['uuid'])

    def test_typed_errors_cross_the_wire(self):
        exc = self.assertRaises(exception.NotFound,
                                self.client.get_instance, 'no-such')
        self.assertEqual('no-such', exc.kwargs['ident'])
        exc = self.assertRaises(exception.InvalidParameter,
                                self.client.get_node_free_resources, '')
        self.assertEqual('node_uuid', exc.kwargs['field'])
        self.assertRaises(exception.InvalidParameter,
                          self.client.list_instances, limit=0)
        self.assertRaises(exception.InvalidParameter,
                          self.client.create_session, ttl=10 ** 9)
        exc = self.assertRaises(exception.InvalidParameter,
                                self.client.get_session, 'no-such-session')
        self.assertEqual('session_id', exc.kwargs['field'])
        unknown = uuidutils.generate_uuid()
        exc = self.assertRaises(exception.NotFound, self.client.get_session,
                                unknown)
        self.assertEqual(unknown, exc.kwargs['ident'])
        sid = self.client.create_session(ttl=1)['id']
        time.sleep(1.2)
        self.assertRaises(exception.SessionExpired,
                          self.client.get_node_used_resources,
                          self.client.list_compute_nodes()[0]['uuid'],
                          sid)
        self.flags(max_active_sessions=1, group='simulation')

    def test_client_capped_at_1_0_never_sends_1_1(self):
        capped = api.EngineAPI(self.conf, topic=self.topic,
                               version_cap='1.0', timeout=10)
        self.addCleanup(capped.transport.cleanup)
        self.assertTrue(capped.can_send_version('1.0'))
        self.assertFalse(capped.can_send_version('1.1'))
        self.assertRaises(exception.InvalidState,
                          capped.get_storage_snapshot)
        self.assertEqual('engine-a', capped.ping()['host'])

    def test_snapshot_columns_match_the_dicts_of_1_0(self):
        # The default client asks for 1.2's columns and rebuilds dicts; a
        # client capped at 1.1 gets the dicts themselves: the same.
        capped = api.EngineAPI(self.conf, topic=self.topic,
                               version_cap='1.1', timeout=30)
        self.addCleanup(capped.transport.cleanup)
        sent = []
        real_call = capped._call
        capped._call = lambda method, **kw: (sent.append(kw)
                                             or real_call(method, **kw))
        host = self.client.list_compute_nodes()[0]['hostname']
        for scope in (None, {'compute_nodes': [host]}):
            old = capped.get_compute_snapshot(scope=scope)
            new = self.client.get_compute_snapshot(scope=scope)
            self.assertEqual(old, new)
            self.assertTrue(new['instances'])
        self.assertEqual(['1.0'], sorted({kw.get('version', '1.0')
                                          for kw in sent}))
        cctxt = self.client.client.prepare(version='1.2')
        table = cctxt.call({}, 'get_compute_snapshot', columns=True)
        self.assertIn('watcher_unset', table['instances']['fields'])
        whole = capped.get_compute_snapshot()
        self.assertEqual(whole['instances'],
                         rpc.table_to_dicts(table['instances']))
        exc = self.assertRaises(exception.InvalidParameter, cctxt.call, {},
                                'get_compute_snapshot', columns='yes')
        self.assertEqual('columns', exc.kwargs['field'])

    def test_packed_snapshot_holds_the_data_of_1_2(self):
        # 1.8's packed table unpacks to 1.2's rows, its mapping column to
        # 1.2's mapping: scoped, excluded, and as a session sees it.
        from tachyon.client import model as client_model
        from tachyon.rpc import packing
        capped = api.EngineAPI(self.conf, topic=self.topic,
                               version_cap='1.6', timeout=30)
        self.addCleanup(capped.transport.cleanup)
        snap = capped.get_compute_snapshot(columns=True)
        inst, src = next(iter(sorted(snap['mapping'].items())))
        dest = next(n['uuid'] for n in snap['nodes'] if n['uuid'] != src)
        sid = self.client.create_session()['id']
        self.client.migrate_instance(inst, src, dest, session_id=sid,
                                     check_capacity=False)
        host = snap['nodes'][0]['hostname']
        for scope, session_id in ((None, None),
                                  ({'compute_nodes': [host],
                                    'exclude_instances': [inst]}, None),
                                  (None, sid)):
            old = capped.get_compute_snapshot(scope=scope,
                                              session_id=session_id,
                                              columns=True, packed=True)
            new = self.client.get_compute_snapshot(scope=scope,
                                                   session_id=session_id,
                                                   columns=True, packed=True)
            self.assertEqual('columns', api.snapshot_form(old))
            self.assertEqual('packed', api.snapshot_form(new))
            self.assertEqual(old['nodes'], new['nodes'])
            self.assertEqual(old['generation'], new['generation'])
            self.assertEqual(old['instances'],
                             packing.to_table(new['instances']))
            uuids = packing.column(new['instances'], 'uuid') or []
            self.assertEqual(old['mapping'], {
                uuid: node for uuid, node in zip(
                    uuids, packing.unpack_column(new['mapping']))
                if node is not None})
            self.assertTrue(uuids)
            # And the same Watcher model of either.
            by_rows = client_model.TachyonClusterModel.from_snapshot(old)
            by_columns = client_model.TachyonClusterModel.from_snapshot(new)
            self.assertEqual(
                [(u, d['attr'].obj_to_primitive()) for u, d in
                 by_rows.nodes(data=True)],
                [(u, d['attr'].obj_to_primitive()) for u, d in
                 by_columns.nodes(data=True)])
            self.assertEqual(list(by_rows.edges), list(by_columns.edges))
        self.assertEqual(dest, dict(zip(
            packing.column(new['instances'], 'uuid'),
            packing.unpack_column(new['mapping'])))[inst])
        cctxt = self.client.client.prepare(version='1.8')
        exc = self.assertRaises(exception.InvalidParameter, cctxt.call, {},
                                'get_compute_snapshot', packed='yes')
        self.assertEqual('packed', exc.kwargs['field'])

    def test_sigterm_finishes_in_flight_work(self):
        snap = self.client.get_compute_snapshot()
        inst, src = next(iter(sorted(snap['mapping'].items())))
        dest = next(n['uuid'] for n in snap['nodes'] if n['uuid'] != src)
        sid = self.client.create_session()['id']
        results = []

        def flood():
            for i in range(40):
                try:
                    a, b = (src, dest) if i % 2 == 0 else (dest, src)
                    results.append(self.client.migrate_instance(
                        inst, a, b, session_id=sid, check_capacity=False))
                except Exception as exc:  # noqa: B902 - engine stopping
                    results.append(exc)
                    return

        worker = threading.Thread(target=flood)
        worker.start()
        time.sleep(0.3)
        self.assertEqual(0, self.engine.terminate())
        worker.join(60)
        self.assertIn('stopped', self.engine.output())
        # Whatever was answered is in the graph, and nothing else.
        done = [r for r in results if isinstance(r, dict)]
        deltas = sessions.get_deltas(self.graph, sid)
        self.assertEqual([d['sequence'] for d in deltas],
                         list(range(len(deltas))))
        self.assertLessEqual(len(done), len(deltas))
        self.assertLessEqual(len(deltas), len(done) + 1)


class TestTwoEngines(EngineTestCase):

    def test_two_engines_share_the_calls(self):
        self.useFixture(EngineProcess(self.neo4j, self.transport.url,
                                      self.topic, 'engine-b'))
        hosts = {self.client.ping()['host'] for _ in range(30)}
        self.assertEqual({'engine-a', 'engine-b'}, hosts)


class TestEngineStart(base.FunctionalTestCase):

    def test_unsynced_schema_stops_at_once(self):
        self.neo4j.wipe_schema()
        env = dict(os.environ, OS_NEO4J__URI=self.neo4j.uri,
                   OS_NEO4J__USERNAME=self.neo4j.user,
                   OS_NEO4J__PASSWORD=self.neo4j.password)
        res = subprocess.run(
            [sys.executable, '-m', 'tachyon.cmd.engine', '--config-file',
             os.devnull], env=env, capture_output=True, text=True,
            timeout=60)
        self.assertEqual(1, res.returncode)
        self.assertIn('tachyon-manage db sync', res.stderr)
        self.assertNotIn('Traceback', res.stderr)
