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

"""tachyon/graph/inspect.py on the real Neo4j (the commands:
tests/functional/cmd/test_manage_inspect.py)."""

from tachyon import exception
from tachyon.graph import compute
from tachyon.graph import inspect
from tachyon.graph import storage
from tachyon.model import records
from tests.functional import base


def node(uuid, hostname, **kwargs):
    return records.ComputeNode(uuid=uuid, hostname=hostname, inventories={
        'VCPU': records.Inventory('VCPU', total=8, reserved=2,
                                  allocation_ratio=4.0),
        'MEMORY_MB': records.Inventory('MEMORY_MB', total=1024),
    }, **kwargs)


class TestInspect(base.FunctionalTestCase):

    def test_empty_graph(self):
        stats = inspect.model_stats(self.graph)
        self.assertEqual(0, stats['generation'])
        self.assertEqual(set(), set(stats['counts'].values()) - {0})
        self.assertEqual({'active': 0, 'committed': 0, 'rolled_back': 0,
                          'expired': 0, 'closed': 0, 'merged': 0},
                         stats['sessions'])
        self.assertEqual(set(inspect.TOMBSTONE_KINDS),
                         set(stats['tombstones']))
        self.assertEqual([], stats['syncs'])

    def test_counts_and_a_node_without_disk_space(self):
        compute.upsert_compute_nodes(self.graph, [
            node('n1', 'host-1'), node('n2', 'host-2', placeholder=True)])
        compute.upsert_instances(self.graph, [
            records.Instance(uuid='i1', name='vm', vcpus=3, memory=100,
                             host='host-1', node_uuid='n1'),
            records.Instance(uuid='i2', name='vm', vcpus=1)])
        storage.upsert_volumes(self.graph, [records.Volume(uuid='v1',
                                                           size=3)])
        counts = inspect.model_stats(self.graph)['counts']
        self.assertEqual(
            (2, 1, 2, 1, 1, 1),
            (counts['compute_nodes'], counts['placeholder_compute_nodes'],
             counts['instances'], counts['unplaced_instances'],
             counts['volumes'], counts['unplaced_volumes']))

        shown = inspect.show_node(self.graph, 'host-1')
        self.assertEqual('n1', shown['node'].uuid)
        self.assertEqual(['i1'], [i.uuid for i in shown['instances']])
        self.assertEqual({'total': 8, 'reserved': 2, 'allocation_ratio': 4.0,
                          'capacity': 24.0, 'used': 3, 'free': 21.0},
                         shown['usage']['vcpu'])
        # No disk given: no capacity, nothing used, nothing free.
        self.assertEqual((0.0, 0, 0.0), (
            shown['usage']['disk']['capacity'], shown['usage']['disk']['used'],
            shown['usage']['disk']['free']))

        # Two instances are named "vm": a name is not enough.
        exc = self.assertRaises(exception.InvalidParameter,
                                inspect.show_instance, self.graph, 'vm')
        self.assertIn("2 instances are named 'vm' (i1, i2)", str(exc))
        self.assertEqual('n1', inspect.show_instance(
            self.graph, 'i1')['node'].uuid)
        self.assertIsNone(inspect.show_instance(self.graph, 'i2')['node'])
        self.assertIsNone(inspect.show_volume(self.graph, 'v1')['pool'])
        self.assertRaises(exception.NotFound, inspect.show_volume,
                          self.graph, 'v2')
