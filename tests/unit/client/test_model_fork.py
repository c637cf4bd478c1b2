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

"""TachyonClusterModel.fork(): the order of the engine calls.

The engine's side is exercised for real in
tests/functional/rpc/test_forks_rpc.py; here a recording client shows
what the block sends and when.
"""

from tachyon.client import model as client_model
from tachyon import exception
from tests import base

N1 = '11111111-1111-4111-8111-111111111111'
N2 = '22222222-2222-4222-8222-222222222222'
I1 = 'aaaaaaaa-0000-4000-8000-000000000001'


def _snapshot():
    inv = {'total': 8, 'reserved': 0, 'allocation_ratio': 1.0,
           'min_unit': 1, 'max_unit': 8, 'step_size': 1}
    nodes = [{'uuid': u, 'hostname': 'h' + u[:1], 'state': 'up',
              'status': 'enabled', 'inventories': {
                  rc: dict(inv) for rc in ('VCPU', 'MEMORY_MB', 'DISK_GB')}}
             for u in (N1, N2)]
    return {'generation': 1, 'nodes': nodes,
            'instances': [{'uuid': I1, 'vcpus': 1, 'memory': 1, 'disk': 1,
                           'state': 'active'}],
            'mapping': {I1: N1}}


class Recorder(object):

    def __init__(self):
        self.calls = []
        self.forks = 0

    def __getattr__(self, name):
        def call(*args, **kwargs):
            self.calls.append((name, args))
            if name == 'fork_session':
                self.forks += 1
                return {'id': 'fork-%d' % self.forks}
            return {}
        return call


class TestModelFork(base.TestCase):

    def setUp(self):
        super().setUp()
        self.client = Recorder()
        self.model = client_model.TachyonClusterModel.from_snapshot(
            _snapshot(), client=self.client, session_id='root')

    def move(self, model, dest):
        return model.migrate_instance(model.get_instance_by_uuid(I1),
                                      model.get_node_by_instance_uuid(I1),
                                      model.get_node_by_uuid(dest))

    def names(self):
        return [(name, args[0]) for name, args in self.client.calls]

    def test_reverted_unless_merged(self):
        self.move(self.model, N2)
        with self.model.fork() as trial:
            self.assertEqual('fork-1', trial.session_id)
            self.move(trial, N1)
            self.assertEqual(N1, trial.get_node_by_instance_uuid(I1).uuid)
        # The parent's pending move went out before the fork; the
        # trial's never did.
        self.assertEqual([('record_deltas', 'root'),
                          ('fork_session', 'root'),
                          ('revert_session', 'fork-1')], self.names())
        self.assertEqual(N2, self.model.get_node_by_instance_uuid(I1).uuid)

    def test_merge_flushes_and_moves_the_parent(self):
        with self.model.fork() as trial:
            self.move(trial, N2)
            trial.merge()
            self.assertRaises(exception.InvalidState, trial.merge)
        self.assertEqual([('fork_session', 'root'),
                          ('record_deltas', 'fork-1'),
                          ('merge_session', 'fork-1')], self.names())
        self.assertEqual(N2, self.model.get_node_by_instance_uuid(I1).uuid)
        # The merged move is the parent session's already: not resent.
        self.model.flush()
        self.assertEqual(3, len(self.client.calls))

    def test_reverted_when_the_block_raises(self):
        def trial_fails():
            with self.model.fork() as trial:
                self.move(trial, N2)
                raise ValueError('strategy failed')
        self.assertRaises(ValueError, trial_fails)
        self.assertEqual(('revert_session', 'fork-1'), self.names()[-1])

    def test_only_session_models_fork(self):
        detached = client_model.TachyonClusterModel.from_snapshot(
            _snapshot())

        def fork():
            with detached.fork():
                pass
        self.assertRaises(exception.InvalidState, fork)
        self.assertRaises(exception.InvalidState, self.model.merge)
