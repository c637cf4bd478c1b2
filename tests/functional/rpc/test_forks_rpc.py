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

"""Forked sessions through a real tachyon-engine process (RPC 1.5)."""

from tachyon.client import model as client_model
from tachyon import exception
from tachyon.graph import compute
from tachyon.rpc import api
from tests.functional.rpc import test_engine


class TestForksOverRPC(test_engine.EngineTestCase):

    def pick(self, snap):
        inst, src = next(iter(sorted(snap['mapping'].items())))
        others = sorted(n['uuid'] for n in snap['nodes'] if n['uuid'] != src)
        return inst, src, others

    def test_fork_merge_revert(self):
        snap = self.client.get_compute_snapshot()
        inst, src, others = self.pick(snap)
        dest, other = others[:2]
        root = self.client.create_session(ttl=300)['id']
        child = self.client.fork_session(root, ttl=300)
        self.assertEqual(root, child['parent_id'])
        self.client.migrate_instance(inst, src, dest, session_id=child['id'],
                                     check_capacity=False)
        self.assertEqual(dest, self.client.get_consumer_location(
            child['id'], inst))
        self.assertEqual(src, self.client.get_consumer_location(root, inst))
        self.assertEqual(dest, self.client.get_compute_snapshot(
            session_id=child['id'])['mapping'][inst])
        grand = self.client.fork_session(child['id'])
        self.client.migrate_instance(inst, dest, other,
                                     session_id=grand['id'],
                                     check_capacity=False)
        reverted = self.client.revert_session(grand['id'])
        self.assertEqual('rolled_back', reverted['status'])
        merged = self.client.merge_session(child['id'])
        self.assertEqual({'session_id': root, 'merged': child['id'],
                          'sequences': [0]}, merged)
        self.assertEqual(dest, self.client.get_consumer_location(root, inst))
        # A fork whose delta no longer fits its parent: the error comes
        # back typed, naming the delta.
        late = self.client.fork_session(root)
        self.client.migrate_instance(inst, dest, other, session_id=late['id'],
                                     check_capacity=False)
        self.client.migrate_instance(inst, dest, src, session_id=root,
                                     check_capacity=False)
        exc = self.assertRaises(exception.MergeConflict,
                                self.client.merge_session, late['id'])
        self.assertEqual(0, exc.kwargs['sequence'])
        self.assertRaises(exception.InvalidParameter,
                          self.client.fork_session, root, ttl=0)

    def test_capped_client_refuses_fork(self):
        capped = api.EngineAPI(self.conf, topic=self.topic,
                               version_cap='1.4', timeout=30)
        self.addCleanup(capped.transport.cleanup)
        root = self.client.create_session(ttl=300)['id']
        for call in (capped.fork_session, capped.merge_session,
                     capped.revert_session):
            exc = self.assertRaises(exception.InvalidState, call, root)
            self.assertIn('1.5', str(exc))

    def test_cluster_model_fork_block(self):
        root = self.client.create_session(ttl=300)['id']
        model = client_model.TachyonClusterModel.load(self.client,
                                                      session_id=root)
        snap = self.client.get_compute_snapshot()
        inst_uuid, src, others = self.pick(snap)
        dest, other = others[:2]

        def moved(m, to):
            return m.migrate_instance(m.get_instance_by_uuid(inst_uuid),
                                      m.get_node_by_instance_uuid(inst_uuid),
                                      m.get_node_by_uuid(to))

        # Reverted on exit: neither the engine nor the local view keeps it.
        with model.fork() as trial:
            self.assertTrue(moved(trial, dest))
            self.assertEqual(dest, trial.get_node_by_instance_uuid(
                inst_uuid).uuid)
            # Server-side queries flush the trial's pending moves first.
            self.assertIn(dest, trial.get_utilization('VCPU'))
            self.assertEqual(dest, self.client.get_consumer_location(
                trial.session_id, inst_uuid))
            trial_id = trial.session_id
        self.assertEqual('rolled_back',
                         self.client.get_session(trial_id)['status'])
        self.assertEqual(src, model.get_node_by_instance_uuid(
            inst_uuid).uuid)
        self.assertEqual(src, self.client.get_consumer_location(
            root, inst_uuid))
        # Reverted when the block raises too.
        with self.assertRaisesRegex(RuntimeError, 'strategy failed'):
            with model.fork() as trial:
                moved(trial, dest)
                trial_id = trial.session_id
                raise RuntimeError('strategy failed')
        self.assertEqual('rolled_back',
                         self.client.get_session(trial_id)['status'])
        # Merged: nested trials, the inner one merged into the outer.
        with model.fork() as trial:
            moved(trial, dest)
            with trial.fork() as inner:
                moved(inner, other)
                inner.merge()
            self.assertEqual(other, trial.get_node_by_instance_uuid(
                inst_uuid).uuid)
            with trial.fork() as dropped:
                moved(dropped, src)
            trial.merge()
        self.assertEqual(other, model.get_node_by_instance_uuid(
            inst_uuid).uuid)
        self.assertEqual(other, self.client.get_consumer_location(
            root, inst_uuid))
        self.assertEqual(
            model.get_node_used_resources(model.get_node_by_uuid(other)),
            self.client.get_node_used_resources(other, session_id=root))
        model.commit()
        self.assertEqual(other, compute.get_node_by_instance_uuid(
            self.graph, inst_uuid).uuid)
        detached = client_model.TachyonClusterModel.load(self.client,
                                                         detached=True)
        with self.assertRaises(exception.InvalidState):
            with detached.fork():
                pass
