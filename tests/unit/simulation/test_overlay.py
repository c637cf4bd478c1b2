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

"""Overlay of deltas on usage and on a compute model; scoring."""

from tachyon import exception
from tachyon.model import records
from tachyon.simulation import deltas
from tachyon.simulation import overlay
from tachyon.simulation import scoring
from tests import base
from tests.unit.simulation import test_deltas as helpers

delta, res = helpers.delta, helpers.res


def inv(total, reserved=0, ratio=1.0):
    return {'total': total, 'reserved': reserved, 'allocation_ratio': ratio}


class TestNodeUsage(base.TestCase):

    def test_overlay_keeps_inventories(self):
        usage = {'VCPU': (inv(8, 0, 2.0), 3), 'MEMORY_MB': (inv(1024), 256)}
        result = overlay.node_usage(usage, [
            delta(deltas.MOVE, source='n1', dest='n2', resources=res(2, 128)),
            delta(deltas.ALLOCATE, dest='n2', resources=res(1, 64, 5))],
            'n2')
        self.assertEqual({'VCPU': (inv(8, 0, 2.0), 6),
                          'MEMORY_MB': (inv(1024), 448)}, result)
        self.assertEqual(3, usage['VCPU'][1])

    def test_used_and_free_keys(self):
        usage = {'VCPU': (inv(8, 2, 2.0), 3), 'MEMORY_MB': (inv(1024), 256)}
        self.assertEqual({'vcpu': 3, 'memory': 256, 'disk': 0},
                         overlay.used_keys(usage))
        self.assertEqual({'vcpu': 9.0, 'memory': 768.0, 'disk': 0.0},
                         overlay.free_keys(usage))

    def test_check_room(self):
        usage = {'VCPU': (inv(4), 3), 'MEMORY_MB': (inv(1024), 0)}
        overlay.check_room(usage, 'n1', {'VCPU': 1, 'MEMORY_MB': 1024}, 'i1')
        overlay.check_room(usage, 'n1', {'VCPU': -5, 'DISK_GB': 0}, 'i1')
        exc = self.assertRaises(exception.Conflict, overlay.check_room,
                                usage, 'n1', {'VCPU': 2, 'DISK_GB': 1}, 'i1')
        self.assertEqual(['n1'], exc.kwargs['conflicts'])
        self.assertIn('VCPU needs 2, 1.0 free; DISK_GB needs 1, 0 free',
                      str(exc))

    def test_all_usage(self):
        used = {'n1': {'vcpu': 4, 'memory': 8, 'disk': 1},
                'n2': {'vcpu': 0, 'memory': 0, 'disk': 0}}
        overlay.all_usage(used, [
            delta(deltas.MOVE, source='n1', dest='n2', resources=res(1, 2)),
            delta(deltas.MOVE, source='n2', dest='gone', resources=res(1)),
            delta(deltas.DEALLOCATE, source='n1', resources=res(3, 6, 1))])
        self.assertEqual({'n1': {'vcpu': 0, 'memory': 0, 'disk': 0},
                          'n2': {'vcpu': 0, 'memory': 2, 'disk': 0}}, used)


class TestModel(base.TestCase):

    def model(self):
        return {'nodes': [], 'mapping': {'i1': 'n1', 'i2': 'n1'},
                'instances': [records.Instance(uuid='i1', vcpus=1, memory=2,
                                               disk=3),
                              records.Instance(uuid='i2', vcpus=1)]}

    def test_apply_to_model(self):
        model = overlay.apply_to_model(self.model(), [
            delta(deltas.MOVE, source='n1', dest='n2', resources=res(1)),
            delta(deltas.RESIZE, source='n2', resources={'VCPU': 4}),
            delta(deltas.DEALLOCATE, consumer='i2', source='n1'),
            delta(deltas.MOVE, consumer='unknown', source='n1', dest='n2')])
        self.assertEqual({'i1': 'n2'}, model['mapping'])
        inst = model['instances'][0]
        self.assertEqual((4, 2, 3), (inst.vcpus, inst.memory, inst.disk))

    def test_place_instance(self):
        inst = overlay.place_instance(
            records.Instance(uuid='i1'),
            {'node_uuid': 'n1', 'resources': res(2, 4, 6)}, 'n2')
        self.assertEqual((2, 4, 6, 'n2'), (inst.vcpus, inst.memory,
                                           inst.disk, inst.node_uuid))


class TestScoring(base.TestCase):

    capacity = {'n1': {'vcpu': 8.0, 'memory': 100.0, 'disk': 10.0},
                'n2': {'vcpu': 4.0, 'memory': 100.0, 'disk': 10.0},
                'n3': {'vcpu': 0.0, 'memory': 100.0, 'disk': 10.0}}

    def used(self):
        return {'n1': {'vcpu': 2, 'memory': 50, 'disk': 1},
                'n2': {'vcpu': 1, 'memory': 10, 'disk': 1},
                'n3': {'vcpu': 0, 'memory': 0, 'disk': 0}}

    def test_utilization_and_balance(self):
        values = scoring.utilization(self.capacity, self.used(), 'VCPU')
        self.assertEqual({'n1': 0.25, 'n2': 0.25, 'n3': 0.0}, values)
        score = scoring.balance_score(
            scoring.utilization(self.capacity, self.used(), 'MEMORY_MB')
            .values())
        self.assertEqual(3, score['nodes'])
        self.assertAlmostEqual(0.2, score['mean'])
        self.assertAlmostEqual(0.2160246899, score['stddev'])
        self.assertEqual({'mean': 0.0, 'stddev': 0.0, 'nodes': 0},
                         scoring.balance_score([]))

    def test_rank_destinations(self):
        state = {'node_uuid': 'n1', 'resources': res(1, 10, 1)}
        ranked = scoring.rank_destinations(self.capacity, self.used(), state,
                                           10)
        self.assertEqual(['n2'], [r['node_uuid'] for r in ranked])
        self.assertEqual({'vcpu': 3.0, 'memory': 90.0, 'disk': 9.0},
                         ranked[0]['free'])
        state = {'node_uuid': None, 'resources': res(1, 10, 1)}
        self.assertEqual(['n1', 'n2'], [r['node_uuid'] for r in
                                        scoring.rank_destinations(
                                            self.capacity, self.used(),
                                            state, 10)])
        self.assertEqual(['n1'], [r['node_uuid'] for r in
                                  scoring.rank_destinations(
                                      self.capacity, self.used(), state, 1)])

    def test_ties_rank_by_memory_then_uuid(self):
        capacity = {u: {'vcpu': 4.0, 'memory': 10.0, 'disk': 1.0}
                    for u in ('b', 'a', 'c')}
        used = {u: {'vcpu': 0, 'memory': 0, 'disk': 0} for u in capacity}
        used['c']['memory'] = 5
        state = {'node_uuid': None, 'resources': res(1, 1, 0)}
        self.assertEqual(['a', 'b', 'c'], [
            r['node_uuid'] for r in scoring.rank_destinations(
                capacity, used, state, 10)])
