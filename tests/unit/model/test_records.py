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

"""records.as_dict: what dataclasses.asdict answers, without its cost."""

import dataclasses

from tachyon.model import records
from tests import base


def _records():
    node = records.ComputeNode(
        uuid='n1', hostname='h1', traits=['CUSTOM_A'],
        aggregates=[{'id': 1, 'name': 'agg'}],
        inventories={records.VCPU: records.Inventory(
            records.VCPU, total=8, allocation_ratio=4.0, max_unit=8)})
    instance = records.Instance(
        uuid='i1', name='vm', metadata={'a': {'nested': [1, 2]}},
        flavor_extra_specs={'hw:cpu_policy': 'dedicated'}, node_uuid='n1',
        generation=3, updated_at=5.5)
    ironic = records.IronicNode(uuid='b1', extra={'k': ['v', {'x': 1}]})
    return [node, instance, ironic, records.Pool(name='p@b#p'),
            records.Volume(uuid='v1', attachments=[{'server_id': 'i1'}])]


class TestAsDict(base.TestCase):

    def test_same_as_dataclasses_asdict(self):
        for record in _records():
            self.assertEqual(dataclasses.asdict(record),
                             records.as_dict(record), type(record).__name__)

    def test_containers_are_copies(self):
        for record in _records():
            plain = records.as_dict(record)
            for name, value in plain.items():
                original = getattr(record, name)
                if isinstance(value, (dict, list)):
                    self.assertIsNot(original, value, name)

    def test_nested_records_become_dicts(self):
        plain = records.as_dict(_records()[0])
        self.assertEqual({'resource_class': records.VCPU, 'total': 8,
                          'reserved': 0, 'allocation_ratio': 4.0,
                          'min_unit': 1, 'max_unit': 8, 'step_size': 1},
                         plain['inventories'][records.VCPU])
        plain['inventories'][records.VCPU]['total'] = 1
        self.assertEqual(8, _records()[0].inventories[records.VCPU].total)
