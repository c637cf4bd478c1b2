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

"""Records to graph rows (no Neo4j): what the compute writes send."""

from tachyon import exception
from tachyon.graph import common
from tachyon.graph.compute import rows
from tachyon.graph import upsert
from tachyon.model import records
from tests import base


def _node(**kw):
    kw.setdefault('inventories', {
        records.VCPU: records.Inventory(records.VCPU, total=8,
                                        allocation_ratio=4.0)})
    return records.ComputeNode(uuid='n1', hostname='h1', **kw)


class TestNodeRows(base.TestCase):

    def test_row(self):
        row = rows.node_row(_node(traits=['B', 'A', 'A'],
                                  availability_zone='',
                                  aggregates=[{'id': 2, 'name': 'z'},
                                              {'id': 1, 'name': 'a'}]))
        self.assertEqual(['A', 'B', 'COMPUTE_HYPERVISOR',
                          'COMPUTE_STATUS_UP'], row['trait_names'])
        self.assertEqual(['A', 'B'], row['props']['traits'])
        self.assertIsNone(row['props']['availability_zone'])
        self.assertEqual([['a', 1], ['z', 2]], row['aggregates'])
        # The three Watcher classes always, missing ones with total 0.
        self.assertEqual([['VCPU', 8, 0, 4.0, 1, 8, 1],
                          ['MEMORY_MB', 0, 0, 1.0, 1, 0, 1],
                          ['DISK_GB', 0, 0, 1.0, 1, 0, 1]],
                         row['inventories'])
        self.assertIsNone(row['props']['watcher_unset'])
        self.assertEqual(len(rows.NODE_COLUMNS), len(row['columns']))

    def test_extra_inventories_kept(self):
        node = _node()
        node.inventories['VGPU'] = records.Inventory('VGPU', total=2)
        row = rows.node_row(node)
        self.assertEqual(['VCPU', 'MEMORY_MB', 'DISK_GB', 'VGPU'],
                         row['inventory_classes'])

    def test_placeholder_has_empty_inventories(self):
        row = rows.node_row(_node(placeholder=True))
        self.assertEqual([0, 0, 0], [i[1] for i in row['inventories']])

    def test_fingerprint(self):
        a = rows.node_row(_node(updated_at=1.0))
        b = rows.node_row(_node(updated_at=2.0))
        self.assertEqual(a['props']['fingerprint'],
                         b['props']['fingerprint'])
        c = rows.node_row(_node(state='down'))
        self.assertNotEqual(a['props']['fingerprint'],
                            c['props']['fingerprint'])
        self.assertEqual(['COMPUTE_HYPERVISOR', 'COMPUTE_STATUS_DOWN'],
                         c['trait_names'])

    def test_state_trait(self):
        self.assertEqual('COMPUTE_STATUS_UP', rows.status_trait('up'))
        self.assertEqual('COMPUTE_STATUS_IN_MAINT',
                         rows.status_trait('in-maint'))
        self.assertEqual('COMPUTE_STATUS_UNKNOWN', rows.status_trait(None))

    def test_needs_identity(self):
        self.assertRaises(exception.InvalidParameter, rows.node_row,
                          records.ComputeNode(uuid='', hostname='h'))
        self.assertRaises(exception.InvalidParameter, rows.node_row,
                          records.ComputeNode(uuid='n', hostname=''))


class TestInstanceRows(base.TestCase):

    def test_row(self):
        inst = records.Instance(
            uuid='i1', name='vm', vcpus=2, memory=512, disk=1,
            metadata={'b': 1, 'a': {'x': None}}, project_id='p',
            flavor_name='m1', flavor_extra_specs={'k': 'v', 'n': 3},
            node_uuid='n1', node_name='h1', updated_at=5)
        row = rows.instance_row(inst)
        self.assertEqual('{"a":{"x":null},"b":1}', row['props']['metadata'])
        self.assertEqual([['k', 'v'], ['n', '3']], row['extra_specs'])
        self.assertTrue(row['flavor_key'].startswith('m1|'))
        self.assertEqual(5.0, row['updated_at'])
        self.assertEqual(('n1', 'h1'), (row['node_uuid'], row['node_name']))
        columns = rows.instance_columns(row, 'n9')
        self.assertEqual(len(rows.INSTANCE_COLUMNS), len(columns))
        self.assertEqual('n9', columns[rows.INSTANCE_COLUMNS.index(
            'target')])
        # What reads give back, from the record property.
        back = rows.instance_record(['i1', row['props']['record'], 3,
                                     5.0], 'n1', 'h1')
        expected = records.Instance(**dict(
            records.as_dict(inst), generation=3, updated_at=5.0))
        self.assertEqual(expected, back)

    def test_flavor_key(self):
        self.assertIsNone(rows.flavor_key(None, {}))
        self.assertEqual(rows.flavor_key('f', {'a': '1', 'b': '2'}),
                         rows.flavor_key('f', {'b': '2', 'a': '1'}))
        self.assertNotEqual(rows.flavor_key('f', {'a': '1'}),
                            rows.flavor_key('f', {'a': '2'}))
        self.assertTrue(rows.flavor_key(None, {'a': '1'}).startswith('|'))

    def test_fingerprint_ignores_time_and_node(self):
        a = rows.instance_row(records.Instance(uuid='i', updated_at=1,
                                               node_uuid='x'))
        b = rows.instance_row(records.Instance(uuid='i', updated_at=2,
                                               node_uuid='y'))
        self.assertEqual(a['props']['fingerprint'],
                         b['props']['fingerprint'])
        c = rows.instance_row(records.Instance(uuid='i', vcpus=1))
        self.assertNotEqual(a['props']['fingerprint'],
                            c['props']['fingerprint'])


class TestSyncCounts(base.TestCase):

    def test_add(self):
        total = common.SyncCounts(created=1, skipped=2) + common.SyncCounts(
            updated=3, unchanged=4, deleted=1)
        self.assertEqual(common.SyncCounts(1, 3, 1, 2, 4), total)
        self.assertEqual(5, total.changed)


class TestNewer(base.TestCase):

    def test_rules(self):
        self.assertEqual(1, upsert.newer(None, 5.0))
        self.assertEqual(1, upsert.newer(5.0, None))
        self.assertEqual(-1, upsert.newer(5.0, 4.0))
        self.assertEqual(0, upsert.newer(5.0, 5.0))
        self.assertEqual(1, upsert.newer(5.0, 6.0))


class TestRestated(base.TestCase):
    """An instance's record in another state, as the writes store it."""

    def instance(self, **kw):
        return records.Instance(
            uuid='i1', name='vm', state='active', vcpus=2, memory=512,
            disk=None, metadata={'k': [1, 2]}, flavor_name='m1',
            flavor_extra_specs={'hw:cpu': 'dedicated'}, **kw)

    def test_row_in_another_state_is_that_record_s_row(self):
        row = rows.instance_row(self.instance())
        again = rows.restated_row(row, 'error')
        want = rows.instance_row(self.instance().__class__(
            **dict(self.instance().__dict__, state='error')))
        self.assertEqual(want, again)
        self.assertNotEqual(row['props']['fingerprint'],
                            again['props']['fingerprint'])
        # The row it came from is left as it was.
        self.assertEqual('active', row['props']['state'])

    def test_record_in_its_own_state_is_unchanged(self):
        row = rows.instance_row(self.instance())
        self.assertEqual(
            (row['props']['record'], row['props']['fingerprint']),
            rows.restated_record(row['props']['record'], 'active'))
