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

"""Delta rules, commit rules and the checks before a delta is recorded."""

from tachyon import exception
from tachyon.simulation import commit
from tachyon.simulation import deltas
from tachyon.simulation import recording
from tests import base

VCPU, MEM, DISK = 'VCPU', 'MEMORY_MB', 'DISK_GB'


def delta(kind, consumer='i1', source=None, dest=None, resources=None,
          old=None, **extra):
    d = {'type': kind, 'consumer_uuid': consumer, 'source_uuid': source,
         'destination_uuid': dest, 'resources': resources or {},
         'old_resources': old or {}, 'consumer_generation': None,
         'source_generation': None, 'destination_generation': None}
    d.update(extra)
    return d


def res(vcpu=0, mem=0, disk=0):
    return {VCPU: vcpu, MEM: mem, DISK: disk}


class TestApplyToConsumer(base.TestCase):

    def state(self):
        return {'node_uuid': 'n1', 'resources': res(2, 512, 10),
                'generation': 3}

    def test_each_type(self):
        moved = deltas.apply_to_consumer(
            self.state(), delta(deltas.MOVE, source='n1', dest='n2',
                                resources=res(2, 512, 10)))
        self.assertEqual('n2', moved['node_uuid'])
        self.assertEqual(res(2, 512, 10), moved['resources'])
        gone = deltas.apply_to_consumer(
            self.state(), delta(deltas.DEALLOCATE, source='n1'))
        self.assertIsNone(gone['node_uuid'])
        resized = deltas.apply_to_consumer(
            self.state(), delta(deltas.RESIZE, source='n1',
                                resources=res(4, 1024, 10)))
        self.assertEqual(('n1', res(4, 1024, 10)),
                         (resized['node_uuid'], resized['resources']))
        placed = deltas.apply_to_consumer(
            {'node_uuid': None, 'resources': res(), 'generation': 0},
            delta(deltas.ALLOCATE, dest='n3', resources=res(1, 2, 3)))
        self.assertEqual(('n3', res(1, 2, 3)),
                         (placed['node_uuid'], placed['resources']))

    def test_resources_are_copied(self):
        given = res(1, 1, 1)
        state = deltas.apply_to_consumer(
            self.state(), delta(deltas.RESIZE, source='n1',
                                resources=given))
        given[VCPU] = 99
        self.assertEqual(1, state['resources'][VCPU])


class TestEffect(base.TestCase):

    def test_move_leaves_source_and_reaches_destination(self):
        d = delta(deltas.MOVE, source='n1', dest='n2',
                  resources=res(2, 512, 10))
        self.assertEqual(res(-2, -512, -10), deltas.effect(d, 'n1'))
        self.assertEqual(res(2, 512, 10), deltas.effect(d, 'n2'))
        self.assertEqual(res(), deltas.effect(d, 'n3'))

    def test_move_in_place_changes_nothing(self):
        d = delta(deltas.MOVE, source='n1', dest='n1', resources=res(2))
        self.assertEqual(res(), deltas.effect(d, 'n1'))

    def test_allocate_deallocate_resize(self):
        self.assertEqual(res(1, 2, 3), deltas.effect(
            delta(deltas.ALLOCATE, dest='n1', resources=res(1, 2, 3)), 'n1'))
        self.assertEqual(res(), deltas.effect(
            delta(deltas.ALLOCATE, dest='n1', resources=res(1, 2, 3)), 'n2'))
        self.assertEqual(res(-1, -2, -3), deltas.effect(
            delta(deltas.DEALLOCATE, source='n1', resources=res(1, 2, 3)),
            'n1'))
        self.assertEqual(res(2, -256, 0), deltas.effect(
            delta(deltas.RESIZE, source='n1', resources=res(4, 256, 10),
                  old=res(2, 512, 10)), 'n1'))
        self.assertEqual(res(), deltas.effect(
            delta(deltas.RESIZE, source='n1', resources=res(4),
                  old=res(2)), 'n2'))

    def test_missing_classes_count_as_zero(self):
        self.assertEqual(res(1, 0, 0), deltas.effect(
            delta(deltas.ALLOCATE, dest='n1', resources={VCPU: 1}), 'n1'))


def found(node='n1', amounts=None, **extra):
    """What graph.sessions.delta_context answers for one delta."""
    result = {'exists': True,
              'consumer': {'node_uuid': node,
                           'resources': amounts or res(2, 512, 10),
                           'generation': 7},
              'deltas': [], 'source_found': True, 'source_generation': 1,
              'dest_found': True, 'dest_generation': 2,
              'check_usage': {}, 'check_deltas': []}
    result.update(extra)
    return result


def usage(vcpu_total=8, vcpu_used=0, mem_total=4096, mem_used=0):
    inv = {'total': 0, 'reserved': 0, 'allocation_ratio': 1.0}
    return {VCPU: (dict(inv, total=vcpu_total), vcpu_used),
            MEM: (dict(inv, total=mem_total), mem_used),
            DISK: (dict(inv, total=100), 0)}


def spec(kind, consumer='i1', source=None, dest=None, resources=None,
         check_capacity=True):
    s = {'type': kind, 'consumer_uuid': consumer, 'source_uuid': source,
         'destination_uuid': dest, 'check_capacity': check_capacity}
    if resources is not None:
        s['resources'] = resources
    return s


class TestCheckedNode(base.TestCase):

    def test_which_node_needs_room(self):
        self.assertEqual('n2', recording.checked_node(
            spec(deltas.MOVE, source='n1', dest='n2')))
        self.assertIsNone(recording.checked_node(
            spec(deltas.MOVE, source='n1', dest='n1')))
        self.assertIsNone(recording.checked_node(
            spec(deltas.MOVE, source='n1', dest='n2',
                 check_capacity=False)))
        self.assertEqual('n2', recording.checked_node(
            spec(deltas.ALLOCATE, dest='n2')))
        self.assertEqual('n1', recording.checked_node(
            spec(deltas.RESIZE, source='n1')))
        self.assertIsNone(recording.checked_node(
            spec(deltas.DEALLOCATE, source='n1')))

    def test_context_wanted(self):
        self.assertEqual(
            [{'uuid': 'i1', 'source': 'n1', 'dest': 'n2', 'check': 'n2'},
             {'uuid': 'i2', 'source': 'n1', 'dest': None, 'check': None}],
            recording.context_wanted(
                [spec(deltas.MOVE, source='n1', dest='n2'),
                 spec(deltas.DEALLOCATE, consumer='i2', source='n1')]))


class TestPrepare(base.TestCase):

    def test_move_takes_the_consumer_amounts_and_generations(self):
        row = recording.prepare(
            spec(deltas.MOVE, source='n1', dest='n2'),
            found(check_usage=usage()), 5, [])
        self.assertEqual(
            {'sequence': 5, 'type': deltas.MOVE, 'consumer_uuid': 'i1',
             'source_uuid': 'n1', 'destination_uuid': 'n2',
             'consumer_generation': 7, 'source_generation': 1,
             'destination_generation': 2, 'resources': res(2, 512, 10),
             'old_resources': {}}, row)

    def test_unknown_instance_and_node(self):
        exc = self.assertRaises(
            exception.NotFound, recording.prepare,
            spec(deltas.MOVE, source='n1', dest='n2'),
            found(exists=False), 0, [])
        self.assertEqual('i1', exc.kwargs['ident'])
        exc = self.assertRaises(
            exception.NotFound, recording.prepare,
            spec(deltas.MOVE, source='n1', dest='n9'),
            found(dest_found=False), 0, [])
        self.assertEqual('n9', exc.kwargs['ident'])

    def test_not_on_source_after_the_session_and_the_batch(self):
        moved = found(deltas=[delta(deltas.MOVE, source='n1', dest='n2')])
        exc = self.assertRaises(
            exception.Conflict, recording.prepare,
            spec(deltas.MOVE, source='n1', dest='n3', check_capacity=False),
            moved, 0, [])
        self.assertEqual(['i1'], exc.kwargs['conflicts'])
        self.assertIn('it is on n2', str(exc))
        earlier = delta(deltas.DEALLOCATE, source='n1')
        exc = self.assertRaises(
            exception.Conflict, recording.prepare,
            spec(deltas.MOVE, source='n1', dest='n3', check_capacity=False),
            found(), 1, [earlier])
        self.assertIn('no node', str(exc))

    def test_allocate_needs_no_node(self):
        exc = self.assertRaises(
            exception.Conflict, recording.prepare,
            spec(deltas.ALLOCATE, dest='n2', resources=res(1)),
            found(check_usage=usage()), 0, [])
        self.assertIn('already runs on n1', str(exc))
        row = recording.prepare(
            spec(deltas.ALLOCATE, dest='n2', resources=res(1, 1, 1)),
            found(node=None, check_usage=usage()), 0, [])
        self.assertEqual(res(1, 1, 1), row['resources'])

    def test_resize_keeps_old_amounts_and_checks_the_growth(self):
        row = recording.prepare(
            spec(deltas.RESIZE, source='n1', resources=res(8, 512, 10)),
            found(check_usage=usage(vcpu_total=8, vcpu_used=2)), 0, [])
        self.assertEqual(res(2, 512, 10), row['old_resources'])
        self.assertEqual(res(8, 512, 10), row['resources'])
        exc = self.assertRaises(
            exception.Conflict, recording.prepare,
            spec(deltas.RESIZE, source='n1', resources=res(9, 512, 10)),
            found(check_usage=usage(vcpu_total=8, vcpu_used=2)), 0, [])
        self.assertEqual(['n1'], exc.kwargs['conflicts'])
        self.assertIn('VCPU needs 7, 6.0 free', str(exc))

    def test_room_counts_session_and_batch_deltas(self):
        here = delta(deltas.MOVE, consumer='i9', source='n3', dest='n2',
                     resources=res(4))
        # 8 VCPU, 2 used, 4 more by the session: 2 left, i1 needs 2.
        recording.prepare(
            spec(deltas.MOVE, source='n1', dest='n2'),
            found(check_usage=usage(vcpu_used=2), check_deltas=[here]),
            0, [])
        earlier = delta(deltas.MOVE, consumer='i8', source='n3', dest='n2',
                        resources=res(1))
        exc = self.assertRaises(
            exception.Conflict, recording.prepare,
            spec(deltas.MOVE, source='n1', dest='n2'),
            found(check_usage=usage(vcpu_used=2), check_deltas=[here]),
            1, [earlier])
        self.assertIn('VCPU needs 3, 2.0 free', str(exc))


class TestCommitRules(base.TestCase):

    def test_first_generations(self):
        first = commit.first_generations([
            delta(deltas.MOVE, source='n1', dest='n2', consumer_generation=1,
                  source_generation=10, destination_generation=20),
            delta(deltas.MOVE, source='n2', dest='n3', consumer_generation=2,
                  source_generation=21, destination_generation=30)])
        self.assertEqual({'i1': 1, 'n1': 10, 'n2': 20, 'n3': 30}, first)

    def test_conflicts(self):
        first = {'i1': 1, 'n1': 10, 'n2': 20, 'n3': 30}
        current = [
            {'uuid': 'i1', 'exists': True, 'generation': 1,
             'updated_at': 5.0},
            {'uuid': 'n1', 'exists': True, 'generation': 11,
             'updated_at': None},
            {'uuid': 'n2', 'exists': False, 'generation': None,
             'updated_at': None},
            {'uuid': 'n3', 'exists': True, 'generation': 30,
             'updated_at': 50.0}]
        self.assertEqual(['n1', 'n2', 'n3'],
                         commit.conflicts(first, current, 10.0))

    def test_final_states_and_placements(self):
        session = [
            delta(deltas.MOVE, source='n1', dest='n2'),
            delta(deltas.RESIZE, consumer='i2', source='n3',
                  resources=res(4, 8, 16)),
            delta(deltas.MOVE, source='n2', dest='n4')]
        self.assertEqual(['i1', 'i2'], commit.consumers(session))
        initial = {'i1': {'node_uuid': 'n1', 'resources': res(1, 2, 3)},
                   'i2': {'node_uuid': 'n3', 'resources': res(1, 1, 1)}}
        final, providers = commit.final_states(session, initial)
        self.assertEqual('n4', final['i1']['node_uuid'])
        self.assertEqual(res(4, 8, 16), final['i2']['resources'])
        self.assertEqual({'n1', 'n2', 'n3', 'n4', None}, providers)
        stored = {'i1': {'name': 'vm1', 'vcpus': 1}}
        placed = commit.placements(final, stored)
        self.assertEqual(['i1', 'i2'], [p['uuid'] for p in placed])
        self.assertEqual({'name': 'vm1', 'vcpus': 1, 'memory': 2,
                          'disk': 3}, placed[0]['record'])
        self.assertEqual({'vcpus': 4, 'memory': 8, 'disk': 16},
                         placed[1]['record'])
        self.assertEqual({'name': 'vm1', 'vcpus': 1}, stored['i1'])
