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

"""Watcher XML parsing, validation and writing (no graph involved)."""

import collections
import copy
import json
from unittest import mock

import fixtures
from lxml import etree
from watcher.decision_engine.model import element
from watcher.decision_engine.model import model_root

from tachyon import exception
from tachyon.graph.compute import rows as compute_rows
from tachyon.model import records
from tachyon import watcher_xml
from tachyon.watcher_xml import common as xml_common
from tachyon.watcher_xml import compute as xml_compute
from tests import base
from tests import watcher_models


def _as_graph_model(parsed):
    """What the graph would hand back for parsed records (no Neo4j)."""
    nodes = []
    for node in parsed.nodes:
        node = copy.deepcopy(node)
        for inv in node.inventories.values():
            inv.total = inv.total or 0
            inv.reserved = inv.reserved or 0
            if inv.allocation_ratio is None:
                inv.allocation_ratio = 1.0
        nodes.append(node)
    instances = []
    for inst in parsed.instances:
        inst = copy.deepcopy(inst)
        for field in ('vcpus', 'memory', 'disk'):
            setattr(inst, field, getattr(inst, field) or 0)
        inst.name = inst.name or ''
        inst.metadata = inst.metadata or {}
        instances.append(inst)
    return {
        'nodes': nodes, 'instances': instances,
        'mapping': {i.uuid: i.node_uuid for i in parsed.instances
                    if i.node_uuid},
        'watcher_unset_nodes': {
            n.uuid: compute_rows.node_row(n)['props']['watcher_unset']
            for n in parsed.nodes},
        'watcher_unset': {
            i.uuid: compute_rows.instance_row(i)['props']['watcher_unset']
            for i in parsed.instances},
    }


@watcher_models.for_each_scenario(watcher_models.COMPUTE_SCENARIOS)
class TestComputeScenarios(base.TestCase):
    """Every compute scenario Watcher ships parses and writes back."""

    def check_parse_matches_watcher(self, filename):
        data = watcher_models.load_data(filename)
        kind, parsed = watcher_xml.parse_model(data)
        self.assertEqual('compute', kind)
        model = model_root.ModelRoot.from_xml(data)
        self.assertEqual(sorted(model.get_all_compute_nodes()),
                         sorted(n.uuid for n in parsed.nodes))
        self.assertEqual(sorted(model.get_all_instances()),
                         sorted(i.uuid for i in parsed.instances))
        graph_model = _as_graph_model(parsed)
        for node in graph_model['nodes']:
            self.assertEqual({}, watcher_models.mismatches(
                model.get_node_by_uuid(node.uuid),
                watcher_models.node_fields(node)))
        for inst in graph_model['instances']:
            self.assertEqual({}, watcher_models.mismatches(
                model.get_instance_by_uuid(inst.uuid),
                watcher_models.instance_fields(inst)))
            try:
                expected = model.get_node_by_instance_uuid(inst.uuid).uuid
            except Exception:
                expected = None
            self.assertEqual(expected, inst.node_uuid)
            self.assertIsNone(inst.node_name)

    def check_written_back_isomorphic(self, filename):
        data = watcher_models.load_data(filename)
        _kind, parsed = watcher_xml.parse_model(data)
        text = xml_compute.compute_to_xml(_as_graph_model(parsed))
        self.assertTrue(watcher_models.isomorphic(data, text))

    def check_reads_watcher_to_xml(self, filename):
        # What Watcher's to_xml() writes (Python reprs, locked="False")
        # imports as Watcher meant it.
        model = watcher_models.watcher_model(filename)
        dump = model.to_xml()
        _kind, parsed = watcher_xml.parse_model(dump)
        text = xml_compute.compute_to_xml(_as_graph_model(parsed))
        self.assertTrue(model_root.ModelRoot.is_isomorphic(
            model, model_root.ModelRoot.from_xml(text)))

    def check_format_is_watchers(self, filename):
        # Same elements, order, attribute order and values as to_xml(),
        # but for the documented changes.
        model = watcher_models.watcher_model(filename)
        theirs = etree.fromstring(model.to_xml().encode())
        _kind, parsed = watcher_xml.parse_model(
            watcher_models.load_data(filename))
        ours = etree.fromstring(xml_compute.compute_to_xml(
            _as_graph_model(parsed)).encode())
        self.assertEqual([e.tag for e in theirs.iter()],
                         [e.tag for e in ours.iter()])
        for a, b in zip(theirs.iter(), ours.iter()):
            expected = collections.OrderedDict(a.attrib)
            if a.tag == 'Instance':
                if expected.get('locked') == 'False':
                    del expected['locked']
                for field in ('metadata', 'flavor_extra_specs'):
                    self.assertEqual(eval(expected[field]),  # noqa: S307
                                     json.loads(b.get(field)))
                    expected[field] = b.get(field)
            self.assertEqual(list(expected.items()), list(b.attrib.items()))


class TestOtherKinds(base.TestCase):

    def test_storage_detected(self):
        for name in watcher_models.STORAGE_SCENARIOS:
            root = xml_common.parse_document(watcher_models.load_data(name))
            self.assertEqual('storage', xml_common.detect_kind(root))

    def test_baremetal_detected(self):
        for name in watcher_models.BAREMETAL_SCENARIOS:
            root = xml_common.parse_document(watcher_models.load_data(name))
            self.assertEqual('baremetal', xml_common.detect_kind(root))

    def test_aliases(self):
        root = xml_common.parse_document('<StorageModelRoot/>')
        self.assertEqual('storage', xml_common.detect_kind(root))
        root = xml_common.parse_document('<ModelRoot/>')
        self.assertEqual('compute', xml_common.detect_kind(root))


class TestDispatch(base.TestCase):
    """Storage and baremetal documents go to their own modules."""

    def setUp(self):
        super().setUp()
        self.module = mock.Mock()
        self.module.parse.return_value = 'parsed'
        self.module.write.return_value = 'counts'
        self.module.export.return_value = '<ModelRoot/>'
        self.loaded = []

        def load(kind):
            self.loaded.append(kind)
            return self.module
        self.useFixture(fixtures.MockPatchObject(watcher_xml, '_kind_module',
                                                 side_effect=load))

    def test_import_storage(self):
        data = watcher_models.load_data(watcher_models.STORAGE_SCENARIOS[0])
        graph = mock.sentinel.graph
        self.assertEqual(('storage', 'counts'),
                         watcher_xml.import_model(graph, data))
        root = self.module.parse.call_args[0][0]
        self.assertEqual('ModelRoot', root.tag)
        self.module.write.assert_called_once_with(graph, 'parsed',
                                                  replace=False)
        self.assertEqual(['storage', 'storage'], self.loaded)

    def test_import_baremetal(self):
        data = watcher_models.load_data(
            watcher_models.BAREMETAL_SCENARIOS[0])
        kind, _counts = watcher_xml.import_model(mock.sentinel.graph, data,
                                                 replace=True)
        self.assertEqual('baremetal', kind)
        self.module.write.assert_called_once_with(mock.sentinel.graph,
                                                  'parsed', replace=True)

    def test_bad_storage_document_writes_nothing(self):
        self.module.parse.side_effect = exception.InvalidModel(
            element='Pool', reason='bad')
        self.assertRaises(exception.InvalidModel, watcher_xml.import_model,
                          mock.sentinel.graph, '<ModelRoot><Pool/>'
                                               '</ModelRoot>')
        self.module.write.assert_not_called()

    def test_export(self):
        self.assertEqual('<ModelRoot/>', watcher_xml.export_model(
            mock.sentinel.graph, 'baremetal'))
        self.module.export.assert_called_once_with(mock.sentinel.graph)


NODE = ('<ComputeNode uuid="n1" hostname="h1" vcpus="8" vcpu_reserved="0" '
        'vcpu_ratio="2.0" memory="1024" memory_mb_reserved="0" '
        'memory_ratio="1.0" disk="100" disk_gb_reserved="0" '
        'disk_ratio="1.0" %s>%s</ComputeNode>')
INSTANCE = ('<Instance uuid="%s" name="vm" vcpus="1" memory="64" disk="1" '
            'watcher_exclude="False" %s/>')


def _doc(*elements):
    return '<ModelRoot>%s</ModelRoot>' % ''.join(elements)


class TestBadInput(base.TestCase):

    def assertInvalid(self, text, *fragments):
        exc = self.assertRaises(exception.InvalidModel,
                                watcher_xml.parse_model, text)
        for fragment in fragments:
            self.assertIn(fragment, str(exc))
        return exc

    def test_malformed(self):
        exc = self.assertInvalid('<ModelRoot>\n<ComputeNode uuid="x">\n'
                                 '</ModelRoot>', 'malformed XML', 'line')
        self.assertIn('line', exc.kwargs['element'])

    def test_empty(self):
        self.assertInvalid('', 'empty')
        self.assertInvalid('   \n', 'empty')

    def test_entities_refused(self):
        text = ('<?xml version="1.0"?>\n<!DOCTYPE m [<!ENTITY x SYSTEM '
                '"file:///etc/passwd">]>\n<ModelRoot><ComputeNode uuid="&x;"'
                ' hostname="h"/></ModelRoot>')
        exc = self.assertRaises(exception.InvalidModel,
                                watcher_xml.parse_model, text)
        self.assertNotIn('root:', str(exc))

    def test_wrong_root(self):
        self.assertInvalid('<Model/>', 'Model', 'root element')

    def test_unknown_element(self):
        self.assertInvalid(_doc('<Server uuid="s1"/>'), "Server uuid='s1'")
        self.assertInvalid(_doc(NODE % ('', '<Pool name="p"/>')),
                           "Pool name='p'", 'inside')
        inner = (INSTANCE % ('i1', '')).replace('/>', '><x/></Instance>')
        self.assertInvalid(_doc(NODE % ('', inner)), 'x (line')

    def test_mixed_kinds(self):
        self.assertInvalid(_doc(NODE % ('', ''), '<StorageNode host="h"/>'),
                           'several models')

    def test_missing_attributes(self):
        self.assertInvalid(_doc('<ComputeNode hostname="h"/>'),
                           'ComputeNode', 'uuid: missing')
        self.assertInvalid(_doc('<ComputeNode uuid="n9"/>'),
                           "ComputeNode uuid='n9'", 'hostname: missing')
        self.assertInvalid(_doc('<Instance name="vm"/>'),
                           "Instance name='vm'", 'uuid: missing')
        self.assertInvalid(_doc('<ComputeNode uuid="" hostname="h"/>'),
                           'uuid: empty')

    def test_bad_values(self):
        for attrs, fragment in (('vcpus="x"', 'vcpus'),
                                ('vcpus="-1"', 'negative'),
                                ('vcpus="1.5"', 'not an integer'),
                                ('memory="nan"', 'memory'),
                                ('locked="perhaps"', 'not a boolean'),
                                ('metadata="{oops"', 'metadata'),
                                ('metadata="[1, 2]"', 'not a mapping'),
                                ('flavor_extra_specs="3"', 'not a mapping'),
                                ('created="yesterday"', 'ISO 8601')):
            self.assertInvalid(
                _doc('<Instance uuid="i1" %s/>' % attrs), "uuid='i1'",
                fragment)
        self.assertInvalid(_doc((NODE % ('', '')).replace(
            'vcpu_ratio="2.0"', 'vcpu_ratio="-2"')), 'vcpu_ratio')

    def test_duplicates(self):
        self.assertInvalid(_doc(NODE % ('', ''), NODE % ('', '')),
                           'already used')
        self.assertInvalid(_doc(INSTANCE % ('i1', ''), INSTANCE % ('i1', '')),
                           'already used')
        self.assertInvalid(_doc(NODE % ('', ''), INSTANCE % ('n1', '')),
                           'already used')

    def test_dangling_reference(self):
        # An instance can only refer to a node by nesting: records that
        # name a node the document does not define are refused.
        root = xml_common.parse_document(_doc(NODE % ('', '')))
        parsed = xml_compute.parse_compute(root)
        self.assertEqual(['n1'], [n.uuid for n in parsed.nodes])
        bad = etree.fromstring(_doc(NODE % ('', INSTANCE % ('i1', ''))))
        del bad[0].attrib['uuid']
        self.assertRaises(exception.InvalidModel, xml_compute.parse_compute,
                          bad)

    def test_forced_kind_must_match(self):
        self.assertRaises(exception.InvalidModel, watcher_xml.parse_model,
                          _doc(NODE % ('', '')), 'storage')
        self.assertRaises(exception.InvalidParameter,
                          watcher_xml.parse_model, _doc(), 'network')


class TestParsing(base.TestCase):

    def test_values(self):
        text = _doc(NODE % ('status="disabled" disabled_reason="None"',
                            INSTANCE % ('i1', 'locked="True" metadata=\''
                                        '{"a": 1}\' project_id="p1" '
                                        'created="2026-02-09T18:55:13Z" '
                                        'pinned_az="az1" flavor_extra_'
                                        'specs="{\'hw:x\': \'y\'}"')),
                    INSTANCE % ('i2', 'host="elsewhere"'))
        _kind, parsed = watcher_xml.parse_model(text)
        [node] = parsed.nodes
        self.assertEqual('h1', node.hostname)
        self.assertEqual('disabled', node.status)
        self.assertIsNone(node.disabled_reason)
        self.assertEqual(8, node.inventories[records.VCPU].total)
        self.assertEqual(2.0, node.inventories[records.VCPU].allocation_ratio)
        i1, i2 = parsed.instances
        self.assertEqual('n1', i1.node_uuid)
        self.assertTrue(i1.locked)
        self.assertFalse(i1.watcher_exclude)
        self.assertEqual({'a': 1}, i1.metadata)
        self.assertEqual({'hw:x': 'y'}, i1.flavor_extra_specs)
        self.assertEqual('az1', i1.pinned_az)
        self.assertEqual('p1', i1.project_id)
        # A top-level instance is unmapped whatever its host says.
        self.assertIsNone(i2.node_uuid)
        self.assertIsNone(i2.node_name)
        self.assertEqual('elsewhere', i2.host)

    def test_unset_fields_stay_unset(self):
        text = _doc('<ComputeNode uuid="n1" hostname="h" vcpus="4"/>',
                    '<Instance uuid="i1"/>')
        _kind, parsed = watcher_xml.parse_model(text)
        row = compute_rows.node_row(parsed.nodes[0])
        self.assertEqual(sorted(['memory', 'memory_mb_reserved',
                                 'memory_ratio', 'disk', 'disk_gb_reserved',
                                 'disk_ratio', 'vcpu_reserved',
                                 'vcpu_ratio', 'disabled_reason']),
                         row['props']['watcher_unset'])
        # Given, even as Watcher writes a null one, it is set.
        _kind, given = watcher_xml.parse_model(_doc(
            '<ComputeNode uuid="n1" hostname="h" vcpus="4" memory="1" '
            'disk="1" disabled_reason="None"/>'))
        self.assertNotIn('disabled_reason', compute_rows.node_row(
            given.nodes[0])['props']['watcher_unset'])
        row = compute_rows.instance_row(parsed.instances[0])
        self.assertEqual(['disk', 'memory', 'metadata', 'name', 'vcpus'],
                         row['props']['watcher_unset'])
        row = compute_rows.instance_row(records.Instance(uuid='i2'))
        self.assertIsNone(row['props']['watcher_unset'])
        text = xml_compute.compute_to_xml(_as_graph_model(parsed))
        root = etree.fromstring(text.encode())
        self.assertEqual({'hostname', 'status', 'state', 'vcpus', 'uuid'},
                         set(root[0].attrib))
        self.assertEqual({'watcher_exclude', 'state', 'pinned_az',
                          'flavor_extra_specs', 'uuid'},
                         set(root[1].attrib))
        self.assertTrue(watcher_models.isomorphic(
            _doc('<ComputeNode uuid="n1" hostname="h" vcpus="4"/>',
                 '<Instance uuid="i1" watcher_exclude="False"/>'), text))

    def test_export_is_what_watcher_reads(self):
        node = element.ComputeNode(uuid='n1', hostname='h', vcpus=2,
                                   vcpu_reserved=0, vcpu_ratio=1.0,
                                   memory=2, memory_mb_reserved=0,
                                   memory_ratio=1.0, disk=2,
                                   disk_gb_reserved=0, disk_ratio=1.0)
        inst = element.Instance(uuid='i1', name='a"<&>', locked=True,
                                metadata={'k': [1, {'n': None}]},
                                flavor_extra_specs={'hw:a': 'b'})
        model = model_root.ModelRoot()
        model.add_node(node)
        model.add_instance(inst)
        model.map_instance(inst, node)
        _kind, parsed = watcher_xml.parse_model(model.to_xml())
        text = xml_compute.compute_to_xml(_as_graph_model(parsed))
        back = model_root.ModelRoot.from_xml(text)
        self.assertTrue(model_root.ModelRoot.is_isomorphic(model, back))
        self.assertTrue(back.get_instance_by_uuid('i1').locked)

    def test_isomorphism_is_sensitive(self):
        # The round-trip checks above would catch a changed value.
        data = watcher_models.load_data('scenario_3_with_2_nodes.xml')
        _kind, parsed = watcher_xml.parse_model(data)
        parsed.instances[0].vcpus += 1
        text = xml_compute.compute_to_xml(_as_graph_model(parsed))
        self.assertFalse(watcher_models.isomorphic(data, text))
