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

"""Forked simulation sessions against the real Neo4j."""

import copy

from hypothesis import given
from hypothesis import HealthCheck
from hypothesis import settings
from hypothesis import strategies as st

from tachyon import exception
from tachyon.graph import compute
from tachyon.graph import sessions
from tachyon import watcher_xml
from tachyon.simulation import manager
from tests.functional import base
from tests.functional.simulation import test_sessions as ts
from tests import watcher_models

N1, N2, N3 = ts.N1, ts.N2, ts.N3
I1, I2 = ts.I1, ts.I2
I3 = 'aaaaaaaa-0000-4000-8000-000000000003'
N4 = '44444444-4444-4444-8444-444444444444'


class ForkTestCase(base.FunctionalTestCase):

    def setUp(self):
        super().setUp()
        self.manager = manager.SessionManager(self.conf, self.graph)
        compute.upsert_compute_nodes(self.graph, [
            ts.node(N1), ts.node(N2), ts.node(N3, vcpus=4), ts.node(N4)])
        compute.upsert_instances(self.graph, [
            ts.instance(I1, N1), ts.instance(I2, N1),
            ts.instance(I3, N2, vcpus=1, memory=512, disk=5)])

    def fork(self, session_id):
        return self.manager.fork_session(session_id, ttl=600)['id']

    def move(self, session_id, inst, source, dest, check=True):
        return self.manager.migrate_instance(session_id, inst, source, dest,
                                             check_capacity=check)

    def count(self, query):
        return self.graph.run_autocommit(query)[0]['n']

    def views(self, sid):
        """Every virtual-state answer of a session."""
        m = self.manager
        nodes = (N1, N2, N3, N4)
        model = m.get_compute_model(sid)
        return {
            'location': {i: m.get_consumer_location(sid, i)
                         for i in (I1, I2, I3)},
            'node_of': {i: m.get_node_by_instance(i, sid)['uuid']
                        for i in (I1, I2, I3)},
            'used': {n: m.get_node_used_resources(n, sid) for n in nodes},
            'free': {n: m.get_node_free_resources(n, sid) for n in nodes},
            'instances': {n: [(i['uuid'], i['vcpus'])
                              for i in m.get_node_instances(n, sid)]
                          for n in nodes},
            'all': m.get_all_nodes_usage(sid),
            'util': m.get_utilization('VCPU', sid),
            'score': m.get_balance_score('MEMORY_MB', sid),
            'dest': m.find_destinations(I1, sid),
            'mapping': model['mapping'],
            'amounts': sorted((i.uuid, i.vcpus, i.memory)
                              for i in model['instances']),
        }


class TestForks(ForkTestCase):

    def test_fork_sees_parent_so_far_and_is_isolated(self):
        root = self.manager.create_session(ttl=600)['id']
        self.move(root, I1, N1, N2)
        child = self.fork(root)
        # The parent's later deltas are not the child's.
        self.move(root, I2, N1, N4)
        self.assertEqual(N2, self.manager.get_consumer_location(child, I1))
        self.assertEqual(N1, self.manager.get_consumer_location(child, I2))
        self.move(child, I1, N2, N3)
        self.assertEqual(N3, self.manager.get_consumer_location(child, I1))
        self.assertEqual(N2, self.manager.get_consumer_location(root, I1))
        self.assertEqual(N1, self.manager.get_consumer_location(None, I1))
        session = self.manager.get_session(child)
        self.assertEqual(root, session['parent_id'])
        self.assertEqual(1, session['depth'])
        self.assertEqual([root], session['ancestor_ids'])
        self.assertEqual([1], session['ancestor_upto'])
        # Its deltas: the parent's up to the fork, then its own.
        self.assertEqual([(root, 0), (child, 0)], [
            (d['session_id'], d['sequence'])
            for d in self.manager.get_deltas(child)])

    def test_fork_writes_one_node(self):
        root = self.manager.create_session(ttl=600)['id']
        for _ in range(3):
            self.move(root, I1, N1, N2)
            self.move(root, I1, N2, N1)
        before = self.count('MATCH (x) RETURN count(x) AS n')
        self.fork(root)
        self.assertEqual(before + 1,
                         self.count('MATCH (x) RETURN count(x) AS n'))

    def test_depth_four_chain_answers_as_one_session(self):
        chain = [self.manager.create_session(ttl=600)['id']]
        flat = self.manager.create_session(ttl=600)['id']
        steps = [(I1, N1, N2), (I3, N2, N4), (I2, N1, N3), (I1, N2, N4),
                 (I2, N3, N2), (I3, N4, N1)]
        for index, (inst, src, dst) in enumerate(steps):
            if index in (1, 3, 4, 5):
                chain.append(self.fork(chain[-1]))
            self.move(chain[-1], inst, src, dst)
            self.move(flat, inst, src, dst)
        self.manager.record_deltas(chain[-1], [{
            'type': 'RESIZE', 'consumer_uuid': I3, 'source_uuid': N1,
            'resources': {'VCPU': 3, 'MEMORY_MB': 512, 'DISK_GB': 5}}])
        self.manager.record_deltas(flat, [{
            'type': 'RESIZE', 'consumer_uuid': I3, 'source_uuid': N1,
            'resources': {'VCPU': 3, 'MEMORY_MB': 512, 'DISK_GB': 5}}])
        self.assertEqual(4, self.manager.get_session(chain[-1])['depth'])
        expected = self.views(flat)
        self.assertEqual(expected, self.views(chain[-1]))
        # And it is not the global view nor the parent's.
        self.assertNotEqual(expected, self.views(chain[-2]))
        self.assertEqual({'VCPU': 3}, {
            'VCPU': expected['used'][N1]['vcpu']})

    def test_recording_checks_the_fork_view(self):
        root = self.manager.create_session(ttl=600)['id']
        # N3 has 4 VCPU: the parent fills half of it.
        self.move(root, I1, N1, N3)
        child = self.fork(root)
        self.move(child, I2, N1, N3)
        sibling = self.fork(root)
        self.move(sibling, I3, N2, N3)
        grandchild = self.fork(child)
        exc = self.assertRaises(exception.Conflict, self.move, grandchild,
                                I3, N2, N3)
        self.assertIn(N3, str(exc))
        # The instance is not where the fork's ancestry put it.
        self.assertRaises(exception.Conflict, self.move, grandchild, I1, N1,
                          N2)

    def test_merge_applies_in_order(self):
        root = self.manager.create_session(ttl=600)['id']
        self.move(root, I1, N1, N2)
        child = self.fork(root)
        self.move(child, I1, N2, N4)
        self.move(child, I2, N1, N2)
        self.move(child, I1, N4, N3)
        result = self.manager.merge_session(child)
        self.assertEqual({'session_id': root, 'merged': child,
                          'sequences': [1, 2, 3]}, result)
        self.assertEqual('merged', self.manager.get_session(child)['status'])
        self.assertEqual(N3, self.manager.get_consumer_location(root, I1))
        self.assertEqual(N2, self.manager.get_consumer_location(root, I2))
        self.assertEqual(0, self.count(
            "MATCH (d:SpeculativeDelta {session_id: '%s'}) "
            "RETURN count(d) AS n" % child))
        self.assertRaises(exception.InvalidState, self.manager.merge_session,
                          child)
        self.manager.commit_session(root)
        self.assertEqual(N3, compute.get_node_by_instance_uuid(
            self.graph, I1).uuid)

    def test_merge_after_parent_moved_on(self):
        root = self.manager.create_session(ttl=600)['id']
        child = self.fork(root)
        self.move(child, I3, N2, N1)
        self.move(child, I1, N1, N3)
        # The parent moves on: what the child's second delta assumed no
        # longer holds (I1 left N1 in the parent).
        self.move(root, I1, N1, N4)
        before = self.manager.get_session(root)
        exc = self.assertRaises(exception.MergeConflict,
                                self.manager.merge_session, child)
        self.assertEqual(1, exc.kwargs['sequence'])
        self.assertEqual(child, exc.kwargs['session_id'])
        self.assertIn('delta 1 (MOVE of instance %s' % I1, str(exc))
        self.assertEqual([I1], exc.conflicts)
        # Nothing applied, the fork is still there to revert.
        self.assertEqual(before, self.manager.get_session(root))
        self.assertEqual(N2, self.manager.get_consumer_location(root, I3))
        self.assertEqual('active', self.manager.get_session(child)['status'])
        # A change that still fits merges over the parent's new state.
        self.manager.revert_session(child)
        child = self.fork(root)
        self.move(child, I1, N4, N3)
        # The parent fills N3 (4 VCPU) with 3: the fork's 2 no longer fit.
        self.move(root, I2, N1, N3)
        self.move(root, I3, N2, N3)
        exc = self.assertRaises(exception.MergeConflict,
                                self.manager.merge_session, child)
        self.assertEqual([N3], exc.conflicts)
        self.assertEqual(0, exc.kwargs['sequence'])
        self.manager.revert_session(child)
        self.move(root, I2, N3, N2)
        child = self.fork(root)
        self.move(child, I1, N4, N3, check=True)
        # The parent moves on in a way the fork's delta still fits.
        self.move(root, I3, N3, N1)
        self.manager.merge_session(child)
        self.assertEqual(N3, self.manager.get_consumer_location(root, I1))
        self.assertEqual({'vcpu': 2, 'memory': 1024, 'disk': 10},
                         self.manager.get_node_used_resources(N3, root))

    def test_merge_keeps_the_capacity_flag(self):
        root = self.manager.create_session(ttl=600)['id']
        child = self.fork(root)
        self.move(child, I1, N1, N3, check=False)
        self.move(root, I2, N1, N3)
        self.move(root, I3, N2, N3)
        self.move(child, I3, N2, N1)
        # Unchecked in the fork, unchecked in the merge; a checked
        # delta that no longer fits is refused.
        grand = self.fork(child)
        self.move(grand, I2, N1, N4)
        self.manager.merge_session(grand)
        self.assertRaises(exception.MergeConflict,
                          self.manager.merge_session, child)
        other = self.fork(root)
        self.move(other, I1, N1, N3, check=False)
        self.manager.merge_session(other)
        self.assertEqual({'vcpu': 5, 'memory': 2560, 'disk': 25},
                         self.manager.get_node_used_resources(N3, root))

    def test_revert_drops_descendants(self):
        root = self.manager.create_session(ttl=600)['id']
        self.move(root, I1, N1, N2)
        child = self.fork(root)
        self.move(child, I2, N1, N2)
        grand = self.fork(child)
        self.move(grand, I3, N2, N4)
        sibling = self.fork(root)
        result = self.manager.revert_session(child)
        self.assertEqual('rolled_back', result['status'])
        self.assertEqual([grand], result['descendants'])
        for sid in (child, grand):
            self.assertEqual('rolled_back',
                             self.manager.get_session(sid)['status'])
            self.assertRaises(exception.InvalidState,
                              self.manager.get_all_nodes_usage, sid)
        self.assertEqual('active', self.manager.get_session(sibling)['status'])
        self.assertEqual(N2, self.manager.get_consumer_location(sibling, I1))
        self.assertEqual(1, self.count(
            'MATCH (d:SpeculativeDelta) RETURN count(d) AS n'))
        # Rolling the root back ends every fork under it.
        result = self.manager.rollback_session(root)
        self.assertEqual([sibling], result['descendants'])
        self.assertEqual(0, self.count(
            'MATCH (d:SpeculativeDelta) RETURN count(d) AS n'))

    def test_live_forks_block_commit_merge_close(self):
        root = self.manager.create_session(ttl=600)['id']
        child = self.fork(root)
        grand = self.fork(child)
        for call in (self.manager.commit_session, self.manager.close_session):
            exc = self.assertRaises(exception.InvalidState, call, root)
            self.assertIn(child, str(exc))
        exc = self.assertRaises(exception.InvalidState,
                                self.manager.merge_session, child)
        self.assertIn(grand, str(exc))
        # A fork is merged, never committed; a root is committed.
        self.assertRaises(exception.InvalidState,
                          self.manager.commit_session, grand)
        self.assertRaises(exception.InvalidState,
                          self.manager.merge_session, root)
        self.manager.merge_session(grand)
        self.manager.merge_session(child)
        self.assertEqual(0, self.manager.commit_session(root)['applied'])

    def test_depth_limit_and_ended_parent(self):
        sid = self.manager.create_session(ttl=600)['id']
        for _ in range(manager.MAX_FORK_DEPTH):
            sid = self.fork(sid)
        self.assertEqual(manager.MAX_FORK_DEPTH,
                         self.manager.get_session(sid)['depth'])
        exc = self.assertRaises(exception.LimitExceeded, self.fork, sid)
        self.assertIn('fork depth', str(exc))
        ended = self.manager.create_session(ttl=600)['id']
        self.manager.rollback_session(ended)
        self.assertRaises(exception.InvalidState, self.fork, ended)
        self.assertRaises(exception.NotFound, self.fork,
                          'no-such-session')
        self.assertRaises(exception.InvalidParameter,
                          self.manager.fork_session, sid, ttl=0)

    def test_fork_expires_with_parent(self):
        root = self.manager.create_session(ttl=5)['id']
        child = self.manager.fork_session(root, ttl=600)
        self.assertEqual(self.manager.get_session(root)['expires_at'],
                         child['expires_at'])
        self.manager.expire_session(root)
        self.assertEqual('expired',
                         self.manager.get_session(child['id'])['status'])

    def test_forks_count_as_active_sessions(self):
        self.conf.set_override('max_active_sessions', 2, 'simulation')
        root = self.manager.create_session(ttl=600)['id']
        self.fork(root)
        self.assertRaises(exception.LimitExceeded, self.fork, root)


class TestForkTreesMatchWatcher(base.FunctionalTestCase):
    """Random trees of forks == Watcher's ModelRoot with the same moves."""

    SCENARIO = 'scenario_1.xml'

    def setUp(self):
        super().setUp()
        self.manager = manager.SessionManager(self.conf, self.graph)
        self.xml = watcher_models.load_data(self.SCENARIO)
        self.base = watcher_models.watcher_model(self.SCENARIO)
        self.nodes = sorted(self.base.get_all_compute_nodes())
        self.instances = sorted(self.base.get_all_instances())

    def expected(self, moves):
        model = copy.deepcopy(self.base)
        for inst, src, dst in moves:
            model.migrate_instance(model.get_instance_by_uuid(inst),
                                   model.get_node_by_uuid(src),
                                   model.get_node_by_uuid(dst))
        return model

    def location(self, moves, inst):
        where = None
        for uuid, _, dst in moves:
            if uuid == inst:
                where = dst
        if where is None:
            try:
                where = self.base.get_node_by_instance_uuid(inst).uuid
            except Exception:  # noqa: B902 - an unmapped instance
                return None
        return where

    def fits(self, parent_moves, own):
        """Whether each move starts where the parent has the instance."""
        moves = list(parent_moves)
        for move in own:
            if self.location(moves, move[0]) != move[1]:
                return False
            moves.append(move)
        return True

    @settings(max_examples=12, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.lists(st.tuples(st.sampled_from(['move', 'move', 'fork',
                                               'merge', 'revert']),
                              st.integers(0, 10 ** 6),
                              st.integers(0, 10 ** 6),
                              st.integers(0, 10 ** 6)),
                    min_size=3, max_size=14))
    def test_fork_trees_match_watcher(self, ops):
        self.neo4j.wipe()
        watcher_xml.import_model(self.graph, self.xml, replace=True)
        root = self.manager.create_session(ttl=600)['id']
        # id -> {'parent', 'moves' (what it sees, in order), 'own'}
        tree = {root: {'parent': None, 'moves': [], 'own': []}}
        order = [root]
        for op, pick, inst_pick, node_pick in ops:
            live = [s for s in order if s in tree]
            sid = live[pick % len(live)]
            entry = tree[sid]
            kids = [s for s in live if tree[s]['parent'] == sid]
            if op == 'fork':
                child = self.manager.fork_session(sid, ttl=600)['id']
                tree[child] = {'parent': sid, 'moves': list(entry['moves']),
                               'own': []}
                order.append(child)
            elif op == 'move':
                inst = self.instances[inst_pick % len(self.instances)]
                src = self.location(entry['moves'], inst)
                dst = self.nodes[node_pick % len(self.nodes)]
                if src is None or src == dst:
                    continue
                self.manager.migrate_instance(sid, inst, src, dst,
                                              check_capacity=False)
                entry['moves'].append((inst, src, dst))
                entry['own'].append((inst, src, dst))
            elif op == 'merge' and entry['parent'] is not None:
                parent = tree[entry['parent']]
                if kids:
                    self.assertRaises(exception.InvalidState,
                                      self.manager.merge_session, sid)
                elif not self.fits(parent['moves'], entry['own']):
                    self.assertRaises(exception.MergeConflict,
                                      self.manager.merge_session, sid)
                else:
                    self.manager.merge_session(sid)
                    parent['moves'].extend(entry['own'])
                    parent['own'].extend(entry['own'])
                    del tree[sid]
            elif op == 'revert' and entry['parent'] is not None:
                self.manager.revert_session(sid)
                gone = {sid}
                for other in order:
                    if tree.get(other, {}).get('parent') in gone:
                        gone.add(other)
                for other in gone:
                    tree.pop(other, None)
            # Every surviving session, after every step.
            for live_id, live_entry in tree.items():
                model = self.expected(live_entry['moves'])
                self.assertEqual(
                    {uuid: model.get_node_used_resources(
                        model.get_node_by_uuid(uuid))
                     for uuid in self.nodes},
                    self.manager.get_all_nodes_usage(live_id))
        for sid, entry in tree.items():
            model = self.expected(entry['moves'])
            usage = self.manager.get_all_nodes_usage(sid)
            for uuid in self.nodes:
                w_node = model.get_node_by_uuid(uuid)
                used = model.get_node_used_resources(w_node)
                self.assertEqual(used, usage[uuid])
                self.assertEqual(used, self.manager.get_node_used_resources(
                    uuid, sid))
                try:
                    w_free = model.get_node_free_resources(w_node)
                except NotImplementedError:
                    continue
                self.assertEqual(w_free, self.manager.get_node_free_resources(
                    uuid, sid))
        for sid in order:
            status = self.manager.get_session(sid)['status']
            self.assertEqual(sid in tree, status == sessions.ACTIVE)
