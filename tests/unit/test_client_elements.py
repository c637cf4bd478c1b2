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

"""Tachyon's elements are Watcher's, with the same equality, only faster."""

import copy
import itertools
from unittest import mock

from watcher.decision_engine.model import element

from tachyon.client import elements
from tests import base

NODE = dict(uuid='n1', hostname='host-1', status='enabled', state='up',
            vcpus=32, memory=65536, disk=1000, vcpu_ratio=4.0)
INSTANCE = dict(uuid='i1', name='vm-1', state='active', vcpus=2,
                memory=4096, disk=40, metadata={'optimize': True},
                project_id='6f1c0a5e-2b7d-4c8e-9a3f-0d4e5b6c7a81')


def _variants(cls, fields):
    """Elements of ``cls`` that differ (or not) in every way that counts."""
    other_uuid = dict(fields, uuid=fields['uuid'] + '-x')
    no_uuid = {k: v for k, v in fields.items() if k != 'uuid'}
    other_value = dict(fields, vcpus=fields['vcpus'] + 1)
    same = [cls(**fields), cls(**fields)]
    changed = cls(**fields)
    changed.obj_reset_changes()  # same data, another change set
    return same + [changed, cls(**other_uuid), cls(**no_uuid),
                   cls(**other_value)]


class TestElements(base.TestCase):

    PAIRS = ((elements.ComputeNode, element.ComputeNode, NODE),
             (elements.Instance, element.Instance, INSTANCE))

    def test_they_are_watchers_classes(self):
        for ours, watchers, fields in self.PAIRS:
            obj = ours(**fields)
            self.assertIsInstance(obj, watchers)
            self.assertEqual(watchers.obj_name(), ours.obj_name())
            self.assertEqual(watchers(**fields).obj_to_primitive(),
                             obj.obj_to_primitive())

    def test_equality_is_watchers(self):
        for ours, watchers, fields in self.PAIRS:
            mine = _variants(ours, fields)
            theirs = _variants(watchers, fields)
            for (a, b), (c, d) in zip(
                    itertools.product(mine, repeat=2),
                    itertools.product(theirs, repeat=2)):
                self.assertEqual(c == d, a == b, (a, b))
                self.assertEqual(c != d, a != b, (a, b))
            # Mixed: ours against Watcher's own, both ways.
            for a, c in itertools.product(mine, theirs):
                self.assertEqual(
                    c.obj_to_primitive() == a.obj_to_primitive(), a == c)
                self.assertEqual(a == c, c == a)

    def test_identity_and_distinct_uuids_build_no_primitive(self):
        a = elements.ComputeNode(**NODE)
        b = elements.ComputeNode(**dict(NODE, uuid='n2'))
        with mock.patch.object(element.ComputeNode, 'obj_to_primitive',
                               side_effect=AssertionError('slow path')):
            self.assertIs(True, a.__eq__(a))
            self.assertIs(False, a.__ne__(a))
            self.assertIs(False, a.__eq__(b))
            self.assertIs(True, a.__ne__(b))
            self.assertRaises(AssertionError, a.__eq__,
                              elements.ComputeNode(**NODE))

    def test_equal_only_to_elements(self):
        node = elements.ComputeNode(**NODE)
        self.assertNotEqual(node, 'n1')
        self.assertNotEqual(node, {'uuid': 'n1'})
        self.assertNotEqual(node, elements.Instance(**dict(INSTANCE,
                                                           uuid='n1')))

    def test_hash_is_identity_as_in_watcher(self):
        a = elements.ComputeNode(**NODE)
        b = elements.ComputeNode(**NODE)
        self.assertEqual(a, b)
        self.assertEqual(object.__hash__(a), hash(a))
        self.assertEqual(2, len({a, b}))

    def test_copies_keep_the_class(self):
        node = elements.ComputeNode(**NODE)
        clone = copy.deepcopy(node)
        self.assertIs(elements.ComputeNode, type(clone))
        self.assertEqual(node, clone)
        self.assertIsNot(node, clone)

    def test_storage_and_baremetal_elements(self):
        volume = elements.Volume(uuid='v1', size=1, status='available',
                                 name='v', multiattach=False,
                                 snapshot_id=None,
                                 metadata={}, bootable=False, attachments=[],
                                 project_id=INSTANCE['project_id'])
        pool = elements.Pool(name='host@b#pool', total_volumes=1,
                             total_capacity_gb=10, free_capacity_gb=5,
                             provisioned_capacity_gb=5,
                             allocated_capacity_gb=5)
        ironic = elements.IronicNode(uuid='b1', power_state='power on',
                                     maintenance=False,
                                     maintenance_reason='', extra={})
        for obj, cls in ((volume, element.Volume), (pool, element.Pool),
                         (ironic, element.IronicNode)):
            self.assertIsInstance(obj, cls)
            self.assertEqual(obj, copy.deepcopy(obj))
        # Pools carry no uuid of their own: Watcher's comparison decides.
        other = copy.deepcopy(pool)
        other.free_capacity_gb = 4
        self.assertNotEqual(pool, other)
