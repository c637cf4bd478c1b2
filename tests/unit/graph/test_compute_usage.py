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

"""Capacity arithmetic of the compute reads, on canned query answers."""

from tachyon.graph.compute import usage
from tests import base


class _Tx:
    """Answers every query with the same canned records."""

    def __init__(self, records):
        self.records = records
        self.queries = []

    def run(self, query, **params):
        self.queries.append((query, params))
        return iter(self.records)


class _Graph:

    def __init__(self, tx):
        self.tx = tx

    def read_one(self, work, *args):
        return work(self.tx, *args)


def _inv(uuid, total, reserved, ratio, used):
    return {'uuid': uuid, 'total': total, 'reserved': reserved,
            'allocation_ratio': ratio, 'used': used}


class TestFindNodesWithCapacity(base.TestCase):

    def test_filtered_and_sorted_by_room_then_uuid(self):
        tx = _Tx([_inv('b', 8, 0, 2.0, 4),     # 12
                  _inv('a', 8, 0, 2.0, 4),     # 12
                  _inv('c', 16, 2, 1.0, 0),    # 14
                  _inv('d', 4, 0, 1.0, 3),     # 1: too little
                  _inv('e', None, 0, 1.0, 0)])  # no total: never listed
        found = usage.find_nodes_with_capacity(_Graph(tx), 'VCPU', 2)
        self.assertEqual([('c', 14.0), ('a', 12.0), ('b', 12.0)], found)
        self.assertEqual({'resource_class': 'VCPU'}, tx.queries[0][1])

    def test_the_bound_is_inclusive(self):
        tx = _Tx([_inv('a', 4, 1, 1.0, 1)])
        self.assertEqual([('a', 2.0)], usage.find_nodes_with_capacity(
            _Graph(tx), 'VCPU', 2))


class TestCapacity(base.TestCase):

    def test_free_is_capacity_minus_used(self):
        inv = {'total': 10, 'reserved': 2, 'allocation_ratio': 1.5}
        self.assertEqual(8.0, usage.free(inv, 4))

    def test_all_capacity(self):
        tx = _Tx([{'uuid': 'n1', 'inventories': [
            ['VCPU', 8, 0, 4.0], ['DISK_GB', 100, 10, 1.0],
            ['CUSTOM_X', 1, 0, 1.0]]}])
        self.assertEqual({'n1': {'vcpu': 32.0, 'memory': 0.0,
                                 'disk': 90.0}},
                         usage.all_capacity(tx))

    def test_usage_from_rows(self):
        self.assertEqual(
            {'VCPU': ({'total': 8, 'reserved': 1, 'allocation_ratio': 2.0},
                      0)},
            usage.usage_from_rows([['VCPU', 8, 1, 2.0, None]]))
