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

"""A migration in the global graph under a request id (RPC 1.10).

The transaction is faked: what is asserted is what the graph layer sends
(every value a parameter) and how it reads the instance's row back; the
Cypher runs against Neo4j in tests/functional/graph/
test_idempotent_moves.py.
"""

from unittest import mock

import fixtures

from tachyon import exception
from tachyon.graph.compute import moves
from tests import base
from tests.unit.graph import test_session_requests as tsr


def _state(**changes):
    """The instance's row of LOCK_FOR_MOVE: on node a, generation 5."""
    state = {'generation': 5, 'vcpus': 2, 'memory': 512, 'disk': 10,
             'found': ['a', 'b'], 'current_node': 'a',
             'move_request_id': None, 'move_outcome': None}
    state.update(changes)
    return state


class TestMigrate(base.TestCase):

    def setUp(self):
        super().setUp()
        # The providers' and the global generations: other statements.
        self.useFixture(fixtures.MockPatchObject(moves.upsert,
                                                 'bump_providers'))
        self.useFixture(fixtures.MockPatchObject(
            moves.common, 'bump_global_generation'))

    def migrate(self, tx, source='a', dest='b', expected=None,
                request_id='req-1'):
        return moves._migrate(tx, 'i', source, dest, expected, False,
                              request_id)

    def test_the_move_keeps_its_id_and_answer(self):
        tx = tsr.FakeTx(_state(), {'generation': 6})
        self.assertEqual((6, False), self.migrate(tx))
        query, params = tx.runs[-1]
        self.assertIs(moves.KEEP_MOVE, query)
        self.assertIn('c.move_request_id = $request_id', query)
        self.assertIn('c.move_outcome = $generation', query)
        self.assertEqual({'instance_uuid': 'i', 'request_id': 'req-1',
                          'generation': 6}, params)

    def test_the_same_id_again_answers_what_was_kept(self):
        # The first attempt moved it: it is on b now, at generation 6.
        tx = tsr.FakeTx(_state(current_node='b', generation=6,
                               move_request_id='req-1', move_outcome=6))
        self.assertEqual((6, True), self.migrate(tx, expected=5))
        # Only the instance's lock was taken: nothing written.
        self.assertEqual(1, len(tx.runs))
        self.assertIs(moves.LOCK_FOR_MOVE, tx.runs[0][0])

    def test_the_kept_answer_stands_whatever_the_instance_is_now(self):
        # Moved on since (another move, a notification): still the answer.
        tx = tsr.FakeTx(_state(current_node='c', generation=9,
                               move_request_id='req-1', move_outcome=6))
        self.assertEqual((6, True), self.migrate(tx))

    def test_another_id_is_checked_as_before(self):
        tx = tsr.FakeTx(_state(current_node='b', generation=6,
                               move_request_id='req-1', move_outcome=6))
        exc = self.assertRaises(exception.Conflict, self.migrate, tx,
                                request_id='req-2')
        self.assertIn('does not run on compute node a', str(exc))
        self.assertEqual(1, len(tx.runs))

    def test_without_an_id_nothing_is_kept_or_looked_up(self):
        tx = tsr.FakeTx(_state(move_request_id=None), {'generation': 6})
        self.assertEqual((6, False), self.migrate(tx, request_id=None))
        self.assertNotIn(moves.KEEP_MOVE, [q for q, _p in tx.runs])
        # An instance keeping no id is not a replay of a call without one.
        tx = tsr.FakeTx(_state(current_node='b'))
        self.assertRaises(exception.Conflict, self.migrate, tx,
                          request_id=None)

    def test_a_refused_move_keeps_nothing(self):
        tx = tsr.FakeTx(_state(generation=7))
        self.assertRaises(exception.Conflict, self.migrate, tx, expected=5)
        self.assertEqual(1, len(tx.runs))

    def test_a_no_op_keeps_its_answer_too(self):
        tx = tsr.FakeTx(_state())
        self.assertEqual((5, False), self.migrate(tx, dest='a'))
        self.assertEqual((moves.KEEP_MOVE, {'instance_uuid': 'i',
                                            'request_id': 'req-1',
                                            'generation': 5}),
                         tx.runs[-1])
        self.assertEqual(2, len(tx.runs))

    def test_the_graph_call_answers_the_generation_and_logs_a_replay(self):
        graph = mock.Mock()
        graph.write.return_value = (6, True)
        with mock.patch.object(moves.LOG, 'info') as info:
            self.assertEqual(6, moves.migrate_instance(
                graph, 'i', 'a', 'b', request_id='req-1'))
        graph.write.assert_called_once_with(moves._migrate, 'i', 'a', 'b',
                                            None, True, 'req-1')
        self.assertIn('was sent again', info.call_args[0][0])
        graph.write.return_value = (7, False)
        with mock.patch.object(moves.LOG, 'info') as info:
            self.assertEqual(7, moves.migrate_instance(graph, 'i', 'a', 'b'))
        info.assert_not_called()
