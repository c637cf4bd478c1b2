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

"""Simulation sessions against the real Neo4j."""

import copy
import threading
import time

from hypothesis import given
from hypothesis import HealthCheck
from hypothesis import settings
from hypothesis import strategies as st

from tachyon import exception
from tachyon.graph import compute
from tachyon.graph import sessions
from tachyon.model import records
from tachyon import watcher_xml
from tachyon.simulation import manager
from tests.functional import base
from tests import watcher_models

N1 = '11111111-1111-4111-8111-111111111111'
N2 = '22222222-2222-4222-8222-222222222222'
N3 = '33333333-3333-4333-8333-333333333333'
I1 = 'aaaaaaaa-0000-4000-8000-000000000001'
I2 = 'aaaaaaaa-0000-4000-8000-000000000002'


def node(uuid, vcpus=8, memory=8192, disk=100):
    invs = {records.VCPU: records.Inventory(records.VCPU, total=vcpus),
            records.MEMORY_MB: records.Inventory(records.MEMORY_MB,
                                                 total=memory),
            records.DISK_GB: records.Inventory(records.DISK_GB, total=disk)}
    return records.ComputeNode(uuid=uuid, hostname='h-' + uuid[:2],
                               inventories=invs)


def instance(uuid, node_uuid, vcpus=2, memory=1024, disk=10, **kw):
    return records.Instance(uuid=uuid, name='vm', vcpus=vcpus,
                            memory=memory, disk=disk, node_uuid=node_uuid,
                            **kw)


def move(consumer, source, dest, **kw):
    return dict(type='MOVE', consumer_uuid=consumer, source_uuid=source,
                destination_uuid=dest, **kw)


class SessionTestCase(base.FunctionalTestCase):

    def setUp(self):
        super().setUp()
        self.manager = manager.SessionManager(self.conf, self.graph)
        compute.upsert_compute_nodes(self.graph, [
            node(N1), node(N2), node(N3, vcpus=2)])
        compute.upsert_instances(self.graph, [instance(I1, N1),
                                              instance(I2, N1)])

    def delta_nodes(self):
        return self.graph.run_autocommit(
            'MATCH (d:SpeculativeDelta) RETURN count(d) AS n')[0]['n']


class TestSessions(SessionTestCase):

    def test_create_get_list(self):
        s = self.manager.create_session(ttl=60, audit_uuid='audit-1')
        self.assertEqual('active', s['status'])
        self.assertEqual('audit-1', s['audit_uuid'])
        self.assertAlmostEqual(s['created_at'] + 60, s['expires_at'])
        self.assertEqual(s['id'], self.manager.get_session(s['id'])['id'])
        self.assertEqual([s['id']], [x['id'] for x in
                                     self.manager.list_sessions('active')])

    def test_move_is_virtual_and_isolated(self):
        a = self.manager.create_session()['id']
        b = self.manager.create_session()['id']
        self.assertEqual(0, self.manager.migrate_instance(a, I1, N1, N2))
        self.assertEqual(N2, self.manager.get_consumer_location(a, I1))
        self.assertEqual(N1, self.manager.get_consumer_location(b, I1))
        self.assertEqual(N1, self.manager.get_consumer_location(None, I1))
        self.assertEqual({'vcpu': 2, 'memory': 1024, 'disk': 10},
                         self.manager.get_node_used_resources(N2, a))
        self.assertEqual({'vcpu': 0, 'memory': 0, 'disk': 0},
                         self.manager.get_node_used_resources(N2, b))
        on = self.manager.get_node_instances
        self.assertEqual([I2], [i['uuid'] for i in on(N1, a)])
        self.assertEqual([I1], [i['uuid'] for i in on(N2, a)])
        self.assertEqual({'vcpu': 6, 'memory': 7168, 'disk': 90},
                         self.manager.get_node_free_resources(N2, a))
        usage = self.manager.get_all_nodes_usage(a)
        self.assertEqual(2, usage[N1]['vcpu'])
        self.assertEqual(2, usage[N2]['vcpu'])
        self.assertEqual(4, self.manager.get_all_nodes_usage()[N1]['vcpu'])

    def test_concurrent_sessions_stay_isolated(self):
        ids = [self.manager.create_session()['id'] for _ in range(4)]
        errors = []

        def work(index, session_id):
            try:
                dest = (N2, N3)[index % 2]
                for _ in range(3):
                    self.manager.migrate_instance(session_id, I1, N1, dest)
                    self.manager.migrate_instance(session_id, I1, dest, N1)
                self.manager.migrate_instance(session_id, I1, N1, dest)
            except Exception as exc:  # noqa: B902 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(i, s))
                   for i, s in enumerate(ids)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual([], errors)
        for index, session_id in enumerate(ids):
            self.assertEqual((N2, N3)[index % 2],
                             self.manager.get_consumer_location(session_id,
                                                                I1))
        self.assertEqual(N1, compute.get_node_by_instance_uuid(
            self.graph, I1).uuid)

    def test_concurrent_writers_get_gapless_sequences(self):
        sid = self.manager.create_session()['id']
        got, errors = [], []

        def work():
            try:
                for _ in range(5):
                    got.extend(self.manager.record_deltas(sid, [
                        dict(type='RESIZE', consumer_uuid=I2,
                             source_uuid=N1,
                             resources={'VCPU': 1, 'MEMORY_MB': 512,
                                        'DISK_GB': 5})]))
            except Exception as exc:  # noqa: B902 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual([], errors)
        self.assertEqual(list(range(20)), sorted(got))
        self.assertEqual(list(range(20)), [
            d['sequence'] for d in self.manager.get_deltas(sid)])

    def test_commit_applies_all_and_leaves_no_deltas(self):
        sid = self.manager.create_session()['id']
        self.manager.record_deltas(sid, [
            move(I1, N1, N2),
            dict(type='RESIZE', consumer_uuid=I2, source_uuid=N1,
                 resources={'VCPU': 4, 'MEMORY_MB': 2048, 'DISK_GB': 20})])
        result = self.manager.commit_session(sid)
        self.assertEqual(2, result['applied'])
        self.assertEqual(N2, compute.get_node_by_instance_uuid(
            self.graph, I1).uuid)
        self.assertEqual({'vcpu': 4, 'memory': 2048, 'disk': 20},
                         compute.get_node_used_resources(self.graph, N1))
        self.assertEqual(4, compute.get_instance_by_uuid(self.graph,
                                                         I2).vcpus)
        self.assertEqual('committed', self.manager.get_session(sid)['status'])
        self.assertEqual(0, self.delta_nodes())
        self.assertRaises(exception.InvalidState,
                          self.manager.migrate_instance, sid, I1, N2, N1)

    def test_notification_after_start_is_a_conflict(self):
        sid = self.manager.create_session()['id']
        self.manager.migrate_instance(sid, I1, N1, N2)
        # A notification about I1 arrives after the session began.
        compute.upsert_instances(self.graph, [instance(
            I1, N1, vcpus=3, updated_at=time.time() + 1)])
        exc = self.assertRaises(exception.Conflict,
                                self.manager.commit_session, sid)
        # The instance changed, and so did its node's usage.
        self.assertEqual(sorted([I1, N1]), exc.kwargs['conflicts'])
        self.assertEqual(N1, compute.get_node_by_instance_uuid(
            self.graph, I1).uuid)
        self.assertEqual('active', self.manager.get_session(sid)['status'])

    def test_unrelated_change_does_not_conflict(self):
        sid = self.manager.create_session()['id']
        self.manager.migrate_instance(sid, I1, N1, N2)
        compute.upsert_compute_nodes(self.graph, [
            node('44444444-4444-4444-8444-444444444444')])
        self.manager.commit_session(sid)
        self.assertEqual(N2, compute.get_node_by_instance_uuid(
            self.graph, I1).uuid)

    def test_rollback_and_expiry_leave_nothing(self):
        sid = self.manager.create_session()['id']
        self.manager.migrate_instance(sid, I1, N1, N2)
        self.manager.rollback_session(sid)
        self.assertEqual(0, self.delta_nodes())
        self.assertEqual('rolled_back',
                         self.manager.get_session(sid)['status'])
        sid = self.manager.create_session(ttl=1)['id']
        self.manager.migrate_instance(sid, I1, N1, N2)
        result = sessions.reap_sessions(self.graph, 3600,
                                        now=time.time() + 5)
        self.assertEqual([sid], result[0])
        self.assertEqual(0, self.delta_nodes())
        self.assertEqual('expired', self.manager.get_session(sid)['status'])

    def test_expired_session_refuses_work(self):
        sid = self.manager.create_session(ttl=1)['id']
        time.sleep(1.2)
        self.assertRaises(exception.SessionExpired,
                          self.manager.migrate_instance, sid, I1, N1, N2)
        self.assertRaises(exception.SessionExpired,
                          self.manager.get_node_used_resources, N1, sid)

    def test_metrics(self):
        sid = self.manager.create_session()['id']
        self.manager.migrate_instance(sid, I2, N1, N2)
        util = self.manager.get_utilization('VCPU', sid)
        self.assertEqual({N1: 0.25, N2: 0.25, N3: 0.0}, util)
        score = self.manager.get_balance_score('VCPU', sid)
        self.assertAlmostEqual(1 / 6, score['mean'])
        self.assertAlmostEqual((2 * (1 / 12) ** 2 + (1 / 6) ** 2) ** 0.5
                               / 3 ** 0.5, score['stddev'])
        dests = self.manager.find_destinations(I1, sid)
        # N3 has 2 VCPUs: room, but less left than N2.
        self.assertEqual([N2, N3], [d['node_uuid'] for d in dests])


def _db_hits(plan, label):
    """The database hits of a profiled plan's operators reading ``label``."""
    own = plan.get('dbHits', 0) if label in str(plan.get('args')) else 0
    return own + sum(_db_hits(child, label)
                     for child in plan.get('children', ()))


class TestFinishedSessionsCostNothing(SessionTestCase):
    """Creating or forking reads the active sessions, not every session.

    Sessions rolled back, committed or reverted before their TTL are kept
    a day ([simulation]/finished_session_retention); a creation and a fork
    count only the active ones, so the finished ones must not be read.
    """

    FINISHED = 150

    def profile(self, query, **params):
        def work(tx):
            return tx.run('PROFILE ' + query, **params).consume().profile
        return _db_hits(self.graph.write(work), 'SimulationSession')

    def test_creation_and_fork_do_not_read_finished_sessions(self):
        parent = self.manager.create_session(ttl=600)['id']
        for _ in range(self.FINISHED):
            self.manager.rollback_session(
                self.manager.create_session(ttl=600)['id'])
            self.manager.revert_session(
                self.manager.fork_session(parent, ttl=600)['id'])
        now = time.time()
        common = dict(now=now, expires_at=now + 600, max_active=100,
                      request_id=None)
        create = self.profile(sessions.CREATE_SESSION, id='probe-1',
                              audit_uuid=None, **common)
        fork = self.profile(sessions.FORK_SESSION, id='probe-2',
                            parent=parent, max_depth=4, **common)
        live = self.profile(sessions.LIVE_FORKS, id=parent, now=now)
        descendants = self.profile(sessions.FINISH_DESCENDANTS, id='none',
                                   status=sessions.ROLLED_BACK, now=now)
        expired = self.profile(sessions.EXPIRED_SESSIONS, now=now)
        # A handful of hits per active session (two of them, and the
        # probes), where reading the 300 finished ones costs 300 or more.
        for name, hits in (('create', create), ('fork', fork),
                           ('live forks', live),
                           ('descendants', descendants),
                           ('expired', expired)):
            self.assertLess(hits, self.FINISHED, name)


class TestSessionErrors(SessionTestCase):

    def setUp(self):
        super().setUp()
        self.sid = self.manager.create_session()['id']

    def assertNothingRecorded(self):
        self.assertEqual(0, self.delta_nodes())
        self.assertEqual(0, self.manager.get_session(self.sid)[
            'next_sequence'])

    def test_no_room_rejected(self):
        compute.upsert_instances(self.graph, [instance(
            'aaaaaaaa-0000-4000-8000-000000000009', N1, vcpus=4)])
        exc = self.assertRaises(
            exception.Conflict, self.manager.migrate_instance, self.sid,
            'aaaaaaaa-0000-4000-8000-000000000009', N1, N3)
        self.assertEqual([N3], exc.kwargs['conflicts'])
        self.assertNothingRecorded()
        # Opting out of the capacity check records it.
        self.manager.migrate_instance(
            self.sid, 'aaaaaaaa-0000-4000-8000-000000000009', N1, N3,
            check_capacity=False)

    def test_batch_is_all_or_nothing(self):
        self.assertRaises(exception.Conflict, self.manager.record_deltas,
                          self.sid, [move(I1, N1, N2), move(I1, N1, N3)])
        self.assertNothingRecorded()

    def test_batch_deltas_see_the_earlier_ones(self):
        # One batch, one round trip of reads: each delta is still checked
        # against the state the earlier ones of the batch leave.
        self.assertEqual([0, 1, 2], self.manager.record_deltas(self.sid, [
            move(I1, N1, N2), move(I1, N2, N3), move(I2, N1, N2)]))
        where = self.manager.get_consumer_location
        self.assertEqual(N3, where(self.sid, I1))
        self.assertEqual(N2, where(self.sid, I2))
        # N3 has 2 VCPUs, which I1 now uses: I2 fits only once I1 left,
        # in the same batch.
        exc = self.assertRaises(
            exception.Conflict, self.manager.record_deltas, self.sid,
            [move(I2, N2, N3)])
        self.assertEqual([N3], exc.kwargs['conflicts'])
        self.assertEqual([3, 4], self.manager.record_deltas(self.sid, [
            move(I1, N3, N1), move(I2, N2, N3)]))
        self.assertEqual(5, self.manager.get_session(self.sid)[
            'next_sequence'])

    def test_not_on_source(self):
        self.assertRaises(exception.Conflict, self.manager.migrate_instance,
                          self.sid, I1, N2, N3)
        self.assertNothingRecorded()

    def test_unknown_things_are_not_found(self):
        self.assertRaises(exception.NotFound, self.manager.migrate_instance,
                          self.sid, 'nope', N1, N2)
        self.assertRaises(exception.NotFound, self.manager.migrate_instance,
                          self.sid, I1, N1, 'nope')
        self.assertRaises(exception.NotFound, self.manager.get_session,
                          'nope')
        self.assertNothingRecorded()

    def test_bad_parameters_name_the_field(self):
        cases = [
            (dict(type='RESIZE', consumer_uuid=I1, source_uuid=N1,
                  resources={'VCPU': -1}), 'deltas[0].resources.VCPU'),
            (dict(type='RESIZE', consumer_uuid=I1, source_uuid=N1,
                  resources={'VCPU': 1.5}), 'deltas[0].resources.VCPU'),
            (dict(type='RESIZE', consumer_uuid=I1, source_uuid=N1,
                  resources={'GPU': 1}), 'deltas[0].resources.GPU'),
            (dict(type='TELEPORT', consumer_uuid=I1), 'deltas[0].type'),
            (dict(type='MOVE', consumer_uuid=I1, source_uuid=N1),
             'deltas[0].destination_uuid'),
        ]
        for spec, field in cases:
            exc = self.assertRaises(exception.InvalidParameter,
                                    self.manager.record_deltas, self.sid,
                                    [spec])
            self.assertEqual(field, exc.kwargs['field'])
        exc = self.assertRaises(exception.InvalidParameter,
                                self.manager.create_session, ttl=10 ** 9)
        self.assertEqual('ttl', exc.kwargs['field'])
        self.assertNothingRecorded()

    def test_limits(self):
        self.flags(max_deltas_per_session=2, group='simulation')
        self.manager.migrate_instance(self.sid, I1, N1, N2)
        self.manager.migrate_instance(self.sid, I1, N2, N1)
        self.assertRaises(exception.LimitExceeded,
                          self.manager.migrate_instance, self.sid, I1, N1,
                          N2)
        self.flags(max_active_sessions=1, group='simulation')
        self.assertRaises(exception.LimitExceeded,
                          self.manager.create_session)


class TestAgainstWatcher(base.FunctionalTestCase):
    """Random moves in a session == migrate_instance on Watcher's model."""

    SCENARIO = 'scenario_1.xml'

    def setUp(self):
        super().setUp()
        self.manager = manager.SessionManager(self.conf, self.graph)
        self.xml = watcher_models.load_data(self.SCENARIO)
        self.base = watcher_models.watcher_model(self.SCENARIO)
        self.nodes = sorted(self.base.get_all_compute_nodes())
        self.instances = sorted(self.base.get_all_instances())

    @settings(max_examples=8, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.lists(st.tuples(st.integers(0, 10 ** 6),
                              st.integers(0, 10 ** 6)),
                    min_size=1, max_size=12))
    def test_moves_match_watcher(self, picks):
        self.neo4j.wipe()
        watcher_xml.import_model(self.graph, self.xml, replace=True)
        model = copy.deepcopy(self.base)
        sid = self.manager.create_session(ttl=600)['id']
        for inst_pick, node_pick in picks:
            inst = model.get_instance_by_uuid(
                self.instances[inst_pick % len(self.instances)])
            try:
                source = model.get_node_by_instance_uuid(inst.uuid)
            except Exception:  # noqa: B902 - an unmapped instance
                continue
            dest = model.get_node_by_uuid(
                self.nodes[node_pick % len(self.nodes)])
            model.migrate_instance(inst, source, dest)
            self.manager.migrate_instance(sid, inst.uuid, source.uuid,
                                          dest.uuid, check_capacity=False)
        for uuid in self.nodes:
            w_node = model.get_node_by_uuid(uuid)
            self.assertEqual(model.get_node_used_resources(w_node),
                             self.manager.get_node_used_resources(uuid, sid))
            self.assertEqual(
                sorted(i.uuid for i in model.get_node_instances(w_node)),
                [i['uuid'] for i in self.manager.get_node_instances(uuid,
                                                                    sid)])
        usage = self.manager.get_all_nodes_usage(sid)
        for uuid in self.nodes:
            self.assertEqual(
                model.get_node_used_resources(model.get_node_by_uuid(uuid)),
                usage[uuid])
        self.manager.commit_session(sid)
        watcher_models.compare_with_watcher(
            self, self.graph, model)
