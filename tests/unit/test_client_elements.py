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

from oslo_versionedobjects import base as ovo_base
from watcher.decision_engine.model import element

from tachyon.client import elements
from tachyon.client import model as client_model
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
            # The slow answers are delegated to the comparison Watcher's
            # classes inherit: should Watcher define its own, follow it.
            self.assertIs(ovo_base.ComparableVersionedObject.__eq__,
                          watchers.__eq__)
            self.assertIs(ovo_base.ComparableVersionedObject.__ne__,
                          watchers.__ne__)
            self.assertIs(watchers, ours.__bases__[0])
            obj = ours(**fields)
            self.assertIsInstance(obj, watchers)
            self.assertEqual(watchers.obj_name(), ours.obj_name())
            self.assertEqual(watchers(**fields).obj_to_primitive(),
                             obj.obj_to_primitive())

    def assertSameAnswer(self, a, b):
        # Watcher's definition: equal when the primitives are equal.
        same = a.obj_to_primitive() == b.obj_to_primitive()
        self.assertIs(same, a == b, (a, b))
        self.assertIs(not same, a != b, (a, b))

    def test_equality_is_watchers(self):
        for ours, watchers, fields in self.PAIRS:
            mine = _variants(ours, fields)
            theirs = _variants(watchers, fields)
            for a, b in itertools.product(mine, repeat=2):
                self.assertSameAnswer(a, b)
            # Mixed: ours against Watcher's own, both ways.
            for a, c in itertools.product(mine, theirs):
                self.assertSameAnswer(a, c)
                self.assertSameAnswer(c, a)
            self.assertEqual(mine[0], mine[1])
            self.assertNotEqual(mine[0], mine[3])

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
        self.assertEqual(node.obj_to_primitive()['watcher_object.data'],
                         clone.obj_to_primitive()['watcher_object.data'])
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
            self.assertSameAnswer(obj, copy.deepcopy(obj))
        # Pools carry no uuid of their own: Watcher's comparison decides.
        other = copy.deepcopy(pool)
        other.free_capacity_gb = 4
        self.assertNotEqual(pool, other)


class TestSnapshotElements(base.TestCase):

    def test_created_parses_as_watchers_field(self):
        for text in ('2017-09-21T08:31:46Z', '2017-09-21T08:31:46',
                     '2017-09-21T08:31:46.123456Z',
                     '2017-09-21T08:31:46+00:00', '2017-09-21 08:31:46',
                     '2017-09-21T10:31:46+02:00', '2017-09-21',
                     'not a date'):
            theirs = element.Instance(uuid='i', created=text) \
                if text != 'not a date' else None
            try:
                ours = elements.Instance(
                    uuid='i', created=client_model.parse_created(text))
            except ValueError:
                self.assertIsNone(theirs, text)
                continue
            self.assertEqual(theirs.created, ours.created, text)
            self.assertEqual(theirs.created.tzinfo, ours.created.tzinfo)
            self.assertEqual(
                theirs.obj_to_primitive()['watcher_object.data'],
                ours.obj_to_primitive()['watcher_object.data'], text)

    def test_rows_and_dicts_give_the_same_elements(self):
        inst = dict(INSTANCE, created='2017-09-21T08:31:46Z',
                    host='host-1', locked=False, pinned_az='',
                    watcher_unset=['host'], flavor_extra_specs=None)
        names = sorted(inst)
        table = {'fields': names, 'rows': [[inst[n] for n in names]]}
        node = dict(NODE, inventories={})
        by_dicts = client_model.TachyonClusterModel.from_snapshot(
            {'nodes': [node], 'instances': [inst],
             'mapping': {'i1': 'n1'}})
        by_rows = client_model.TachyonClusterModel.from_snapshot(
            {'nodes': [node], 'instances': table,
             'mapping': {'i1': 'n1'}})
        a = by_dicts.get_instance_by_uuid('i1')
        b = by_rows.get_instance_by_uuid('i1')
        self.assertEqual(a.obj_to_primitive()['watcher_object.data'],
                         b.obj_to_primitive()['watcher_object.data'])
        self.assertEqual(set(a.obj_what_changed()),
                         set(b.obj_what_changed()))
        self.assertFalse(b.obj_attr_is_set('host'))
        self.assertEqual(['i1'], [i.uuid for i in by_rows.get_node_instances(
            by_rows.get_node_by_uuid('n1'))])
