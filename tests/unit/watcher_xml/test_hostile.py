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

"""Hostile Watcher XML: every case refused, in one line naming the fault.

The corpus (tests/hostile_xml.py) is generated; each case must make
``parse_model`` raise InvalidModel whose message is a single, short line
holding the element at fault and the attribute. Nothing is written here
(parse_model never touches a graph); the functional tests run the real
command on some of these against Neo4j.
"""

from tachyon import conf as tachyon_conf
from tachyon import exception
from tachyon.conf import model_import as model_import_conf
from tachyon import watcher_xml
from tachyon.watcher_xml import common as xml_common
from tests import base
from tests import hostile_xml

#: The longest refusal: element and reason, values cut short.
MAX_MESSAGE = 400


def _for_each_case(cls):
    for case in hostile_xml.corpus():
        def test(self, _case=case):
            self.check_refused(_case)
        test.__name__ = 'test_refused__%s' % case.name
        setattr(cls, test.__name__, test)
    return cls


@_for_each_case
class TestHostileCorpus(base.TestCase):

    def check_refused(self, case):
        limits = xml_common.DEFAULT_LIMITS._replace(**(case.limits or {}))
        exc = self.assertRaises(exception.InvalidModel,
                                watcher_xml.parse_model, case.data,
                                case.kind, limits)
        message = str(exc)
        self.assertEqual([message], message.splitlines(), message[:500])
        self.assertLessEqual(len(message), MAX_MESSAGE, message[:500])
        for fragment in case.expect:
            self.assertIn(fragment, message)
        # The typed error names the element at fault.
        self.assertTrue(exc.kwargs.get('element'))

    def test_corpus_names_are_unique(self):
        names = [case.name for case in hostile_xml.corpus()]
        self.assertEqual(len(names), len(set(names)))


class TestBounds(base.TestCase):
    """The edges of what is accepted."""

    def parse(self, text, **limits):
        return watcher_xml.parse_model(
            text, None, xml_common.DEFAULT_LIMITS._replace(**limits))

    def test_valid_document_parses(self):
        kind, parsed = self.parse(hostile_xml.valid_compute())
        self.assertEqual('compute', kind)
        self.assertEqual(['n1'], [n.uuid for n in parsed.nodes])
        self.assertEqual(['i1'], [i.uuid for i in parsed.instances])

    def test_largest_integer_accepted(self):
        _kind, parsed = self.parse(hostile_xml.doc(hostile_xml.node(
            hostile_xml.instance(vcpus=str(hostile_xml.MAX_INTEGER),
                                 memory='0', disk='000'))))
        inst = parsed.instances[0]
        self.assertEqual(2 ** 63 - 1, inst.vcpus)
        self.assertEqual(0, inst.memory)
        self.assertEqual(0, inst.disk)

    def test_integer_with_trailing_zero_fraction(self):
        # What a dump that typed integers as floats writes.
        _kind, parsed = self.parse(hostile_xml.doc(hostile_xml.node(
            hostile_xml.instance(vcpus='4.0', memory='64.'), vcpus='8.00')))
        self.assertEqual(4, parsed.instances[0].vcpus)
        self.assertEqual(64, parsed.instances[0].memory)
        self.assertEqual(8, parsed.nodes[0].inventory('VCPU').total)

    def test_ratios(self):
        _kind, parsed = self.parse(hostile_xml.doc(hostile_xml.node(
            vcpu_ratio='16', memory_ratio='1.5', disk_ratio='1e-1')))
        node = parsed.nodes[0]
        self.assertEqual(16.0, node.inventory('VCPU').allocation_ratio)
        self.assertEqual(1.5, node.inventory('MEMORY_MB').allocation_ratio)
        self.assertEqual(0.1, node.inventory('DISK_GB').allocation_ratio)

    def test_attribute_at_the_limit(self):
        host = 'h' * 100
        _kind, parsed = self.parse(hostile_xml.doc(hostile_xml.node(
            hostname=host)), max_attribute_length=100)
        self.assertEqual(host, parsed.nodes[0].hostname)
        self.assertRaises(exception.InvalidModel, self.parse,
                          hostile_xml.doc(hostile_xml.node(
                              hostname=host + 'h')),
                          max_attribute_length=100)

    def test_limit_counts_utf8_bytes(self):
        # 50 characters, 100 bytes.
        text = hostile_xml.doc(hostile_xml.node(hostname='\u00e9' * 50))
        self.parse(text, max_attribute_length=100)
        exc = self.assertRaises(exception.InvalidModel, self.parse, text,
                                max_attribute_length=99)
        self.assertIn('attribute hostname', str(exc))

    def test_document_at_the_limit(self):
        data = hostile_xml.valid_compute().encode()
        self.parse(data, max_document_size=len(data))
        exc = self.assertRaises(exception.InvalidModel, self.parse, data,
                                max_document_size=len(data) - 1)
        self.assertIn('max_document_size (%d bytes)' % (len(data) - 1),
                      str(exc))

    def test_deepest_models_accepted(self):
        storage = hostile_xml.doc(
            '<StorageNode host="s1"><Pool name="s1@b#p" total_volumes="1">'
            '<Volume uuid="v1" size="1"/></Pool></StorageNode>')
        self.assertEqual('storage', self.parse(storage)[0])
        baremetal = hostile_xml.doc(
            '<IronicNode uuid="b1"><extra><k>v</k></extra></IronicNode>')
        kind, parsed = self.parse(baremetal)
        self.assertEqual({'k': 'v'}, parsed.nodes[0].extra)
        exc = self.assertRaises(exception.InvalidModel, self.parse,
                                baremetal.replace('<k>v</k>', '<k><j/></k>'))
        self.assertIn('j (line 1)', str(exc))

    def test_default_limits_are_the_options_defaults(self):
        defaults = {opt.name: opt.default
                    for opt in model_import_conf.opts
                    if opt.name in xml_common.Limits._fields}
        self.assertEqual(defaults, xml_common.DEFAULT_LIMITS._asdict())
        self.assertEqual(64 * 1024 * 1024,
                         tachyon_conf.CONF.model_import.max_document_size)
        self.assertEqual(4096,
                         tachyon_conf.CONF.model_import.max_attribute_length)

    def test_every_watcher_scenario_within_the_default_limits(self):
        from tests import watcher_models
        for name in (watcher_models.COMPUTE_SCENARIOS
                     + watcher_models.STORAGE_SCENARIOS
                     + watcher_models.BAREMETAL_SCENARIOS):
            watcher_xml.parse_model(watcher_models.load_data(name))


class TestShorten(base.TestCase):

    def test_short_values_are_their_repr(self):
        self.assertEqual("'abc'", xml_common.shorten('abc'))

    def test_long_values_are_cut(self):
        text = xml_common.shorten('x' * 1000)
        self.assertEqual("'%s'... (1000 characters)" % ('x' * 64), text)

    def test_one_line(self):
        self.assertEqual('a b c', xml_common.one_line('a\n b\r\n\tc\n'))
        self.assertEqual('x' * 200 + '...', xml_common.one_line('x' * 300))
