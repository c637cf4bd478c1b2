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

"""A migration in the global graph sent again under its id (RPC 1.10).

Against the real Neo4j, through the graph layer and the engine's
endpoint: what a retry of a move whose answer was lost does.
tests/functional/scale/test_retry_writes.py sends the retry over RPC, to
a real engine killed after the move.
"""

import oslo_messaging as messaging

from tachyon import exception
from tachyon.graph import compute
from tachyon.rpc import manager
from tests.functional import base
from tests.functional.graph import test_compute as tc

N1, N2, N3 = tc.N1, tc.N2, tc.N3
I1, I2 = tc.I1, tc.I2

KEPT = ('MATCH (c:Consumer {uuid: $uuid}) '
        'RETURN c.move_request_id AS request_id, c.move_outcome AS outcome')


class IdempotentMovesTestCase(tc.ComputeTestCase):

    def setUp(self):
        super().setUp()
        compute.upsert_compute_nodes(self.graph, [
            tc.node(N1, vcpus=16), tc.node(N2, vcpus=4),
            tc.node(N3, vcpus=16)])
        compute.upsert_instances(self.graph, [
            tc.instance(I1, N1, vcpus=6), tc.instance(I2, N1, vcpus=6)])

    def state(self):
        """Everything a move changes: generations, placements, usage."""
        return (self.generation(),
                {u: self.entity_generation(u) for u in (N1, N2, N3, I1, I2)},
                compute.get_compute_model(self.graph)['mapping'],
                compute.get_all_nodes_usage(self.graph))

    def kept(self, uuid=I1):
        row = self.graph.run_autocommit(KEPT, uuid=uuid)[0]
        return row['request_id'], row['outcome']

    def move(self, source=N1, dest=N2, request_id='move-1', **kwargs):
        return compute.migrate_instance(self.graph, I1, source, dest,
                                        request_id=request_id, **kwargs)


class TestMoveSentAgain(IdempotentMovesTestCase):

    def test_the_same_id_twice_moves_once(self):
        gen = self.entity_generation(I1)
        first = self.move(expected_generation=gen)
        self.assertEqual(gen + 1, first)
        after = self.state()
        # Sent again as it was (its answer lost): the same answer, no
        # Conflict though the instance is no longer on N1 nor at gen.
        self.assertEqual(first, self.move(expected_generation=gen))
        self.assertEqual(after, self.state())
        self.assertEqual(N2, compute.get_node_by_instance_uuid(
            self.graph, I1).uuid)
        self.assertEqual(6, compute.get_node_used_resources(
            self.graph, N2)['vcpu'])

    def test_the_id_and_answer_are_kept_on_the_instance(self):
        self.assertEqual((None, None), self.kept())
        generation = self.move()
        self.assertEqual(('move-1', generation), self.kept())
        self.assertEqual((None, None), self.kept(I2))

    def test_another_id_fails_as_before(self):
        gen = self.entity_generation(I1)
        self.move(expected_generation=gen)
        after = self.state()
        for request_id in ('move-2', None):
            exc = self.assertRaises(exception.Conflict, self.move,
                                    expected_generation=gen,
                                    request_id=request_id)
            self.assertEqual([I1], exc.conflicts)
            self.assertIn('generation', str(exc))
            exc = self.assertRaises(exception.Conflict, self.move,
                                    request_id=request_id)
            self.assertIn('does not run on compute node', str(exc))
        self.assertEqual(after, self.state())
        self.assertEqual('move-1', self.kept()[0])

    def test_a_later_move_takes_the_instances_kept_move(self):
        first = self.move()
        second = self.move(N2, N3, request_id='move-2')
        self.assertEqual((first + 1, ('move-2', second)),
                         (second, self.kept()))
        after = self.state()
        self.assertEqual(second, self.move(N2, N3, request_id='move-2'))
        # The first move is no longer kept: sent again, it is checked
        # afresh, and refused (the instance is on N3).
        self.assertRaises(exception.Conflict, self.move)
        self.assertEqual(after, self.state())

    def test_a_refused_move_keeps_nothing(self):
        gen = self.entity_generation(I1)
        before = self.state()
        self.assertRaises(exception.Conflict, self.move,
                          expected_generation=gen + 1)
        # No room: I2 fills N2 first.
        compute.migrate_instance(self.graph, I2, N1, N2)
        refused = self.state()
        exc = self.assertRaises(exception.Conflict, self.move,
                                request_id='move-2')
        self.assertEqual([N2], exc.conflicts)
        self.assertEqual((None, None), self.kept())
        self.assertEqual(refused, self.state())
        self.assertNotEqual(before, refused)
        # Sent again once it fits, it is checked afresh, and moves.
        self.assertEqual(gen + 1, self.move(N1, N3,
                                            expected_generation=gen))

    def test_the_kept_answer_stands_after_a_notification(self):
        first = self.move()
        # Nova's update of the instance (not a move): its generation
        # moves, the kept move stays.
        compute.upsert_instances(self.graph, [
            tc.instance(I1, N2, vcpus=6, state='paused')])
        after = self.state()
        self.assertGreater(after[1][I1], first)
        self.assertEqual(('move-1', first), self.kept())
        self.assertEqual(first, self.move())
        self.assertEqual(after, self.state())

    def test_a_no_op_keeps_its_answer(self):
        gen = self.entity_generation(I1)
        before = self.state()
        self.assertEqual(gen, self.move(N1, N1))
        self.assertEqual(before, self.state())
        self.assertEqual(('move-1', gen), self.kept())

    def test_concurrent_attempts_move_once_and_answer_alike(self):
        gen = self.entity_generation(I1)
        global_gen = self.generation()
        answers, errors = base.concurrently(
            lambda: self.move(expected_generation=gen))
        self.assertEqual([], errors)
        self.assertEqual([gen + 1] * 4, answers)
        self.assertEqual(global_gen + 1, self.generation())
        self.assertEqual(gen + 1, self.entity_generation(I1))


class TestEndpointMoveSentAgain(IdempotentMovesTestCase):
    """The endpoint hands the id on (a 1.9 engine refused it)."""

    def call(self, **kwargs):
        endpoint = manager.EngineManager(self.conf, self.graph, host='h')
        try:
            return endpoint.migrate_instance({}, I1, N1, N2, **kwargs)
        except messaging.ExpectedException as exc:
            raise exc.exc_info[1]

    def test_the_same_id_twice_answers_the_same_generation(self):
        gen = self.entity_generation(I1)
        first = self.call(expected_generation=gen, request_id='move-1')
        self.assertEqual({'generation': gen + 1}, first)
        after = self.state()
        self.assertEqual(first, self.call(expected_generation=gen,
                                          request_id='move-1'))
        self.assertEqual(after, self.state())
        self.assertRaises(exception.Conflict, self.call,
                          expected_generation=gen, request_id='move-2')
        self.assertRaises(exception.Conflict, self.call)
        self.assertEqual(after, self.state())

    def test_a_bad_id_moves_nothing(self):
        before = self.state()
        exc = self.assertRaises(exception.InvalidParameter, self.call,
                                request_id='x' * 256)
        self.assertEqual('request_id', exc.kwargs['field'])
        self.assertEqual(before, self.state())
        self.assertEqual((None, None), self.kept())
