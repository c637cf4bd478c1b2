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
import datetime
import itertools
import re
from unittest import mock
import warnings

import fixtures
import hypothesis
from hypothesis import strategies as st
from oslo_versionedobjects import base as ovo_base
from watcher.decision_engine.model import element
from watcher.decision_engine.model import model_root

from tachyon.client import elements
from tachyon.client import model as client_model
from tests import base
from tests import watcher_models

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
    CLASSES = ((elements.ComputeNode, element.ComputeNode),
               (elements.Instance, element.Instance),
               (elements.StorageNode, element.StorageNode),
               (elements.Pool, element.Pool),
               (elements.Volume, element.Volume),
               (elements.IronicNode, element.IronicNode))

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

    def test_fields_read_set_and_delete_as_watchers(self):
        # Invalid uuids warn (FutureWarning) in both: not what is compared.
        self.useFixture(fixtures.WarningsFilter([
            {'action': 'ignore', 'category': FutureWarning}]))
        for ours, watchers in self.CLASSES:
            for name in watchers.fields:
                mine, theirs = ours(), watchers()
                self.assertEqual(_read(theirs, name), _read(mine, name))
                # Coerced by Watcher's setter, refused as it refuses.
                for value in ('7', 7, None, -1):
                    self.assertEqual(_outcome(setattr, theirs, name, value),
                                     _outcome(setattr, mine, name, value))
                    self.assertEqual(_read(theirs, name),
                                     _read(mine, name))
                    self.assertEqual(_read(theirs, name, item=True),
                                     _read(mine, name, item=True))
                self.assertEqual(_outcome(delattr, theirs, name),
                                 _outcome(delattr, mine, name))
                self.assertEqual(_read(theirs, name), _read(mine, name))
                self.assertEqual(theirs.obj_what_changed(),
                                 mine.obj_what_changed())

    def test_a_missing_field_is_loaded_as_watchers_getter_does(self):
        node = elements.ComputeNode(uuid='n1')

        def load(name):
            node._obj_hostname = 'loaded-%s' % name

        with mock.patch.object(node, 'obj_load_attr',
                               side_effect=load) as loader:
            self.assertEqual('loaded-hostname', node.hostname)
            self.assertEqual('loaded-hostname', node.hostname)
        loader.assert_called_once_with('hostname')

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


def _outcome(func, *args):
    """What a call does: its error, or nothing."""
    try:
        func(*args)
    except Exception as exc:
        return type(exc), str(exc)
    return None


def _read(obj, name, item=False):
    """A field's value (its type too), or the error reading it raises."""
    try:
        value = obj[name] if item else getattr(obj, name)
    except Exception as exc:
        return 'raises', type(exc), str(exc)
    return 'reads', type(value), value


def _made(make, cls, values):
    """What building ``cls`` of ``values`` gives: the object's state."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        try:
            obj = make(cls, values)
        except Exception as exc:
            # Messages may name objects by address.
            return 'raises', type(exc), re.sub(' at 0x[0-9a-f]+', '',
                                               str(exc))
    return ('builds', {k: (type(v), v) for k, v in vars(obj).items()},
            obj.obj_to_primitive())


def _construct(cls, values):
    return cls(**values)


_UUID = '6f1c0a5e-2b7d-4c8e-9a3f-0d4e5b6c7a81'
# Values of every kind a field meets: kept as they are, coerced
# (numbers as text, ints as floats, booleans as ints, JSON as text, uuids
# in other spellings), or refused.
_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-2, 2 ** 40),
    st.floats(-1.0, 1e9, allow_nan=False), st.text(max_size=6),
    st.sampled_from(['', '12', '-1', '2.5', 'true', '{"a": 1}', '[1]',
                     'not json', _UUID, _UUID.upper(), _UUID.replace('-', ''),
                     '{%s}' % _UUID, 'urn:uuid:' + _UUID, _UUID[:-1]]),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.lists(st.one_of(st.text(max_size=3),
                       st.dictionaries(st.text(max_size=3), st.integers(),
                                       max_size=1)), max_size=2),
    st.datetimes(timezones=st.sampled_from(
        [None, datetime.timezone.utc,
         datetime.timezone(datetime.timedelta(hours=2))])))


@st.composite
def _element_values(draw):
    ours, watchers = draw(st.sampled_from(TestElements.CLASSES))
    names = draw(st.lists(st.sampled_from(sorted(watchers.fields)),
                          unique=True))
    values = {name: draw(_VALUES) for name in names}
    if draw(st.integers(0, 9)) == 0:
        values['not_a_field'] = draw(_VALUES)
    return ours, watchers, values


class TestBuild(base.TestCase):

    @hypothesis.settings(max_examples=600, deadline=None)
    @hypothesis.given(_element_values())
    def test_build_makes_what_the_constructor_makes(self, drawn):
        ours, watchers, values = drawn
        built = _made(elements.build, ours, values)
        self.assertEqual(_made(_construct, ours, values), built)
        # And what Watcher's own class makes, but for the class.
        theirs = _made(_construct, watchers, values)
        self.assertEqual(theirs[0], built[0])
        if built[0] == 'raises':
            self.assertEqual(theirs, built)
        else:
            self.assertEqual(theirs[1], built[1])

    def test_every_field_with_every_kind_of_value(self):
        edges = [None, True, False, 0, 1, -1, 2 ** 40, 0.0, 1.5, -0.5,
                 float('inf'), '', '0', '-1', '2.5', 'x', '{"a": 1}', '[1]',
                 _UUID, _UUID.upper(), _UUID.replace('-', ''),
                 '{%s}' % _UUID, _UUID[:-1], {}, {'a': 1}, [], ['a'],
                 [{'a': 1}], datetime.datetime(2020, 1, 2, 3, 4, 5),
                 datetime.datetime(2020, 1, 2, tzinfo=datetime.timezone.utc),
                 '2020-01-02T03:04:05Z', type('Text', (str,), {})('x'),
                 type('Number', (int,), {})(3)]
        for ours, watchers in TestElements.CLASSES:
            for name in watchers.fields:
                for value in edges:
                    values = {name: value}
                    self.assertEqual(_made(_construct, ours, values),
                                     _made(elements.build, ours, values),
                                     (ours, values))

    def test_values_kept_as_they_are(self):
        values = dict(INSTANCE, uuid=_UUID, project_id=_UUID, locked=True,
                      flavor_extra_specs={'hw:cpu_policy': 'dedicated'})
        with mock.patch.object(element.Instance.fields['vcpus'], 'coerce',
                               side_effect=AssertionError('coerced')):
            inst = elements.build(elements.Instance, values)
        for name, value in values.items():
            self.assertIs(value, getattr(inst, name), name)
        self.assertEqual(element.Instance(**values).obj_what_changed(),
                         inst.obj_what_changed())

    def test_defaults_shared_as_watchers_are(self):
        a, b = element.Instance(), element.Instance()
        c, d = (elements.build(elements.Instance, {}) for _ in range(2))
        self.assertEqual(
            a.flavor_extra_specs is b.flavor_extra_specs,
            c.flavor_extra_specs is d.flavor_extra_specs)
        self.assertEqual(a.obj_what_changed(), c.obj_what_changed())


def _snapshot(model):
    """Watcher's ModelRoot as a 1.2 compute snapshot (columns)."""
    nodes = []
    for node in model.get_all_compute_nodes().values():
        data = node.as_dict()
        inventories = {}
        for rc, (total, reserved, ratio) in (
                ('VCPU', ('vcpus', 'vcpu_reserved', 'vcpu_ratio')),
                ('MEMORY_MB', ('memory', 'memory_mb_reserved',
                               'memory_ratio')),
                ('DISK_GB', ('disk', 'disk_gb_reserved', 'disk_ratio'))):
            inventories[rc] = {'total': data.get(total),
                               'reserved': data.get(reserved),
                               'allocation_ratio': data.get(ratio)}
        nodes.append(dict(data, inventories=inventories, watcher_unset=[
            f for f in ('vcpus', 'memory', 'disk', 'vcpu_reserved',
                        'memory_mb_reserved', 'disk_gb_reserved',
                        'vcpu_ratio', 'memory_ratio', 'disk_ratio',
                        'disabled_reason')
            if f not in data]))
    names = sorted(element.Instance.fields) + ['watcher_unset']
    rows, mapping = [], {}
    for inst in model.get_all_instances().values():
        data = inst.as_dict()
        if 'created' in data:
            data['created'] = data['created'].strftime('%Y-%m-%dT%H:%M:%SZ')
        data['watcher_unset'] = [f for f in element.Instance.fields
                                 if f not in data]
        rows.append([data.get(name) for name in names])
        try:
            mapping[inst.uuid] = model.get_node_by_instance_uuid(
                inst.uuid).uuid
        except Exception:
            pass
    return {'nodes': nodes, 'instances': {'fields': names, 'rows': rows},
            'mapping': mapping}


def _shape(model):
    """A model's graph, in order, with each element's state."""
    return ([(uuid, type(data['attr']).__name__,
              data['attr'].obj_to_primitive()['watcher_object.data'],
              sorted(data['attr'].obj_what_changed()))
             for uuid, data in model.nodes(data=True)],
            list(model.edges), dict(model._node_resource_cache))


class TestSnapshotModel(base.TestCase):

    @hypothesis.settings(max_examples=60, deadline=None)
    @hypothesis.given(watcher_models.clusters())
    def test_the_model_watchers_api_builds(self, watchers):
        snapshot = _snapshot(watchers)
        ours = client_model.TachyonClusterModel.from_snapshot(snapshot)
        # Watcher's own calls, in the snapshot's order, on our elements.
        expected = model_root.ModelRoot()
        nodes = {}
        for node in snapshot['nodes']:
            nodes[node['uuid']] = client_model.compute_node_element(node)
            expected.add_node(nodes[node['uuid']])
        for inst in client_model._instances(
                snapshot['instances']['fields'],
                snapshot['instances']['rows']):
            expected.add_instance(inst)
            if snapshot['mapping'].get(inst.uuid) in nodes:
                expected.map_instance(
                    inst, nodes[snapshot['mapping'][inst.uuid]])
        self.assertEqual(_shape(expected), _shape(ours))
        for node in ours.get_all_compute_nodes().values():
            self.assertEqual(
                watchers.get_node_used_resources(
                    watchers.get_node_by_uuid(node.uuid)),
                ours.get_node_used_resources(node))
        # And the same data as Watcher's model the snapshot was made of.
        self.assertEqual(
            sorted((u, d['attr'].obj_to_primitive()['watcher_object.data'])
                   for u, d in watchers.nodes(data=True)),
            sorted((u, d['attr'].obj_to_primitive()['watcher_object.data'])
                   for u, d in ours.nodes(data=True)))
        self.assertEqual(sorted(watchers.edges), sorted(ours.edges))


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


def _columns_of(rows, names, encode):
    """Rows of values as build_columns' columns: lists or pairs."""
    columns = {}
    for name in names:
        column = [row.get(name) for row in rows]
        if name in encode:
            # Distinct by type too: 0 == False, but the packer
            # (tachyon.rpc.packing) never makes them one value.
            keys = [(type(v), v) for v in column]
            distinct = []
            for key in keys:
                if key not in distinct:
                    distinct.append(key)
            column = ([v for _t, v in distinct],
                      [distinct.index(k) for k in keys])
        columns[name] = column
    return columns


@st.composite
def _tables(draw):
    ours, watchers = draw(st.sampled_from(TestElements.CLASSES))
    names = draw(st.lists(st.sampled_from(sorted(watchers.fields)),
                          unique=True))
    # Few distinct values per field, as a snapshot's repeated columns.
    pools = {name: draw(st.lists(_VALUES, min_size=1, max_size=3))
             for name in names}
    count = draw(st.integers(0, 6))
    rows = [{name: draw(st.sampled_from(pools[name])) for name in names}
            for _ in range(count)]
    unset = [draw(st.lists(st.sampled_from(sorted(watchers.fields)),
                           max_size=2)) for _ in range(count)]
    encode = draw(st.sets(st.sampled_from(names))) if names else set()
    return ours, names, rows, unset, encode


def _row_values(row, gone):
    values = {name: value for name, value in row.items()
              if value is not None}
    for name in gone:
        values.pop(name, None)
    return values


def _state(obj):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        return ({k: (type(v), v) for k, v in vars(obj).items()},
                obj.obj_to_primitive())


class TestBuildColumns(base.TestCase):

    @hypothesis.settings(max_examples=400, deadline=None)
    @hypothesis.given(_tables())
    def test_columns_build_what_build_makes_of_each_row(self, drawn):
        ours, names, rows, unset, encode = drawn
        columns = _columns_of(rows, names, encode)
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            try:
                expected = [elements.build(ours, _row_values(row, gone))
                            for row, gone in zip(rows, unset)]
            except Exception as exc:
                self.assertRaises(type(exc), elements.build_columns,
                                  ours, columns, len(rows), unset)
                return
            built = elements.build_columns(ours, columns, len(rows), unset)
        self.assertEqual([_state(obj) for obj in expected],
                         [_state(obj) for obj in built])
        self.assertEqual([type(obj) for obj in expected],
                         [type(obj) for obj in built])

    def test_distinct_values_are_coerced_once(self):
        coerce = element.Instance.fields['vcpus'].coerce
        calls = []

        def counting(obj, attr, value):
            calls.append(value)
            return coerce(obj, attr, value)
        states = (['active', 'stopped'], [0, 1, 0, 0, 1])
        with mock.patch.object(element.Instance.fields['vcpus'], 'coerce',
                               side_effect=counting):
            objs = elements.build_columns(
                elements.Instance,
                {'uuid': ['i%d' % i for i in range(5)],
                 'vcpus': (['2', '4'], [0, 1, 0, 0, 1]),
                 'state': states}, 5)
        self.assertEqual(['2', '4'], calls)
        self.assertEqual([2, 4, 2, 2, 4], [o.vcpus for o in objs])
        self.assertIs(objs[0].state, objs[2].state)

    def test_mutable_values_are_not_shared(self):
        objs = elements.build_columns(
            elements.Instance,
            {'uuid': ['i1', 'i2'],
             'metadata': (['{"a": 1}'], [0, 0])}, 2)
        self.assertEqual({'a': 1}, objs[0].metadata)
        self.assertIsNot(objs[0].metadata, objs[1].metadata)


class TestFillGraph(base.TestCase):

    def _elements(self):
        nodes = [elements.build(elements.ComputeNode, dict(NODE, uuid=u))
                 for u in ('n2', 'n1')]
        insts = [elements.build(elements.Instance, dict(INSTANCE, uuid=u))
                 for u in ('i3', 'i1', 'i2', 'i1')]
        return nodes + insts, [('i3', 'n1'), ('i1', 'n2'), ('i2', 'n1'),
                               ('i1', 'n2')]

    def test_the_graph_add_nodes_from_and_add_edges_from_make(self):
        objs, edges = self._elements()
        expected = client_model.TachyonClusterModel()
        import networkx as nx
        nx.DiGraph.add_nodes_from(
            expected, ((obj.uuid, {'attr': obj}) for obj in objs))
        nx.DiGraph.add_edges_from(expected, edges)
        ours = client_model.TachyonClusterModel()
        client_model.fill_graph(ours, iter(objs), edges)
        for name in ('_node', '_succ', '_pred'):
            mine, theirs = getattr(ours, name), getattr(expected, name)
            self.assertEqual(list(theirs.items()), list(mine.items()), name)
            for key in theirs:
                self.assertEqual(list(theirs[key]), list(mine[key]))
        self.assertIs(ours._node['i1']['attr'], objs[-1])
        for u, v in edges:
            self.assertIs(ours._succ[u][v], ours._pred[v][u])
        self.assertEqual(list(expected.edges), list(ours.edges))
        self.assertEqual(
            ['i3', 'i2'],
            [i.uuid for i in ours.get_node_instances(
                ours.get_node_by_uuid('n1'))])

    def test_a_graph_not_empty_gets_the_networkx_calls(self):
        objs, edges = self._elements()
        ours = client_model.TachyonClusterModel()
        ours.add_node(objs[0])
        with mock.patch('networkx.DiGraph.add_nodes_from') as nodes, \
                mock.patch('networkx.DiGraph.add_edges_from') as added:
            client_model.fill_graph(ours, objs[1:], edges)
        self.assertEqual(1, nodes.call_count)
        added.assert_called_once_with(ours, edges)


def _packed(snapshot):
    """A 1.2 snapshot as the engine packs it at 1.8."""
    from tachyon.rpc import packing
    table = snapshot['instances']
    columns = [list(c) for c in zip(*table['rows'])] or [
        [] for _ in table['fields']]
    packed = packing.pack(table['fields'], columns, plain=('uuid',))
    uuids = packing.column(packed, 'uuid') or []
    return dict(snapshot, instances=packed, mapping=packing.pack_column(
        [snapshot['mapping'].get(u) for u in uuids]))


class TestPackedSnapshot(base.TestCase):

    @hypothesis.settings(max_examples=60, deadline=None)
    @hypothesis.given(watcher_models.clusters())
    def test_packed_and_columns_give_the_same_model(self, watchers):
        import json
        snapshot = _snapshot(watchers)
        by_rows = client_model.TachyonClusterModel.from_snapshot(snapshot)
        packed = json.loads(json.dumps(_packed(snapshot)))
        by_columns = client_model.TachyonClusterModel.from_snapshot(packed)
        self.assertEqual(_shape(by_rows), _shape(by_columns))

    def test_snapshot_forms(self):
        from tachyon.rpc import api
        snapshot = _snapshot(model_root.ModelRoot())
        self.assertEqual('columns', api.snapshot_form(snapshot))
        self.assertEqual('packed', api.snapshot_form(_packed(snapshot)))
        self.assertEqual('dicts', api.snapshot_form(
            dict(snapshot, instances=[])))
