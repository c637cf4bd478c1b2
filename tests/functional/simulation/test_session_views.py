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

"""Calls that name a session answer as it sees the cluster (real Neo4j)."""

from tachyon import exception
from tests.functional.simulation import test_sessions as base

N1, N2, N3, I1, I2 = base.N1, base.N2, base.N3, base.I1, base.I2


class TestSessionViews(base.SessionTestCase):

    def test_list_compute_nodes_honours_the_session(self):
        everyone = self.manager.list_compute_nodes()
        self.assertEqual([N1, N2, N3], [n['uuid'] for n in everyone])
        sid = self.manager.create_session()['id']
        self.manager.migrate_instance(sid, I1, N1, N2)
        # Deltas move instances, never nodes: the same nodes.
        self.assertEqual(everyone, self.manager.list_compute_nodes(sid))
        exc = self.assertRaises(exception.NotFound,
                                self.manager.list_compute_nodes, 'nope')
        self.assertEqual('nope', exc.kwargs['ident'])
        exc = self.assertRaises(exception.InvalidParameter,
                                self.manager.list_compute_nodes, '')
        self.assertEqual('session_id', exc.kwargs['field'])
        self.manager.rollback_session(sid)
        self.assertRaises(exception.InvalidState,
                          self.manager.list_compute_nodes, sid)

    def test_node_by_instance_and_compute_model(self):
        sid = self.manager.create_session()['id']
        self.manager.migrate_instance(sid, I1, N1, N2)
        self.assertEqual(N1, self.manager.get_node_by_instance(I1)['uuid'])
        self.assertEqual(N2,
                         self.manager.get_node_by_instance(I1, sid)['uuid'])
        self.manager.record_deltas(sid, [{
            'type': 'DEALLOCATE', 'consumer_uuid': I2, 'source_uuid': N1}])
        exc = self.assertRaises(exception.NotFound,
                                self.manager.get_node_by_instance, I2, sid)
        self.assertEqual('node of instance', exc.kwargs['kind'])
        self.assertEqual({I1: N1, I2: N1},
                         self.manager.get_compute_model()['mapping'])
        self.assertEqual({I1: N2},
                         self.manager.get_compute_model(sid)['mapping'])
        # A closed session's kept deltas still shape its model.
        self.manager.close_session(sid)
        self.assertEqual({I1: N2},
                         self.manager.get_compute_model(sid)['mapping'])
