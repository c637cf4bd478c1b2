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

"""A corpus of hostile Watcher XML documents, generated.

Each :class:`Case` is a document the import must refuse, with the
fragments its one-line refusal must hold: the element at fault and the
attribute (or what else is wrong). Nothing here is read from disk; the
documents are built from a valid node and instance.
"""

import collections

MAX_INTEGER = 2 ** 63 - 1

#: A valid compute node's attributes (Watcher's scenario form).
NODE = {'uuid': 'n1', 'hostname': 'h1', 'status': 'enabled', 'state': 'up',
        'memory': '1024', 'memory_mb_reserved': '0', 'disk': '100',
        'disk_gb_reserved': '0', 'vcpus': '8', 'vcpu_reserved': '0',
        'memory_ratio': '1.0', 'vcpu_ratio': '2.0', 'disk_ratio': '1.0'}
#: A valid instance's attributes.
INSTANCE = {'uuid': 'i1', 'name': 'vm', 'state': 'active', 'memory': '64',
            'disk': '1', 'vcpus': '1', 'watcher_exclude': 'False',
            'metadata': '{}', 'project_id': 'p1', 'locked': 'False',
            'created': '2024-01-01T00:00:00'}

#: refusal: the document ``data`` (bytes or str), the fragments its
#: message must hold (``expect``), and optionally ``limits`` (a dict of
#: Limits fields) and ``kind`` (the model kind forced).
Case = collections.namedtuple('Case', ['name', 'data', 'expect', 'limits',
                                       'kind'])


def _attrs(attrs):
    return ' '.join('%s="%s"' % item for item in attrs.items())


def node(inner='', **changes):
    attrs = dict(NODE, **changes)
    return '<ComputeNode %s>%s</ComputeNode>' % (_attrs(attrs), inner)


def instance(**changes):
    return '<Instance %s/>' % _attrs(dict(INSTANCE, **changes))


def doc(*elements):
    return '<ModelRoot>%s</ModelRoot>' % ''.join(elements)


def valid_compute():
    """A valid compute document: one node holding one instance."""
    return doc(node(instance()))


def _case(name, data, *expect, limits=None, kind=None):
    return Case(name, data, expect, limits, kind)


def _billion_laughs(where='attribute'):
    lines = ['<?xml version="1.0"?>', '<!DOCTYPE ModelRoot [',
             '<!ENTITY lol0 "lol">']
    for i in range(1, 10):
        lines.append('<!ENTITY lol%d "%s">' % (i, '&lol%d;' % (i - 1) * 10))
    lines.append(']>')
    if where == 'attribute':
        lines.append(doc(node(hostname='&lol9;')))
    else:
        lines.append(doc(node(instance()), '<Instance>&lol9;</Instance>'))
    return '\n'.join(lines)


def _deep(depth, tag='x'):
    return '<%s>' % tag * depth + '</%s>' % tag * depth


def corpus():
    """Every hostile case; each must be refused."""
    huge = 50 * 1024 * 1024
    half = valid_compute()
    return [
        # Sizes.
        _case('huge_attribute', doc(node(status='s' * huge)),
              "ComputeNode uuid='n1'", 'attribute status',
              'max_attribute_length'),
        _case('huge_hostname', doc(node(hostname='h' * 40000)),
              "ComputeNode uuid='n1'", 'attribute hostname',
              'max_attribute_length'),
        _case('huge_uuid', doc(node(uuid='u' * 40000)),
              "ComputeNode uuid='uuuu", '(40000 characters)',
              'attribute uuid'),
        _case('multibyte_hostname', doc(node(hostname='\u00e9' * 2100)),
              "ComputeNode uuid='n1'", 'attribute hostname',
              'max_attribute_length'),
        _case('huge_attribute_name', doc(node(**{'a' * 40000: '1'})),
              "ComputeNode uuid='n1'", 'attribute aaaa',
              '(40000 characters)'),
        _case('huge_tag', doc('<%s uuid="t1"/>' % ('T' * 40000)),
              'TTTT', '(40000 characters)', "uuid='t1'"),
        _case('huge_text', '<ModelRoot><IronicNode uuid="b1" '
              'power_state="on"><extra><k>%s</k></extra></IronicNode>'
              '</ModelRoot>' % ('x' * 5000),
              'k (line 1)', 'text', 'max_attribute_length'),
        _case('oversize_document', half.encode() + b' ' * 2048,
              'document', 'max_document_size',
              limits={'max_document_size': 1024}),
        # Numbers.
        _case('vcpus_1e30', doc(node(instance(vcpus='1e30'))),
              "Instance uuid='i1'", 'attribute vcpus', "'1e30'"),
        _case('vcpus_2_63', doc(node(vcpus=str(MAX_INTEGER + 1))),
              "ComputeNode uuid='n1'", 'attribute vcpus', 'out of range'),
        _case('memory_5000_digits', doc(node(memory='9' * 5000)),
              "ComputeNode uuid='n1'", 'attribute memory', 'out of range',
              '(5000 characters)',
              limits={'max_attribute_length': 10000}),
        _case('vcpus_negative', doc(node(instance(vcpus='-1'))),
              "Instance uuid='i1'", 'attribute vcpus', 'negative'),
        _case('vcpus_nan', doc(node(vcpus='NaN')),
              "ComputeNode uuid='n1'", 'attribute vcpus'),
        _case('vcpus_inf', doc(node(instance(vcpus='inf'))),
              "Instance uuid='i1'", 'attribute vcpus'),
        _case('vcpus_fraction', doc(node(vcpus='4.5')),
              "ComputeNode uuid='n1'", 'attribute vcpus', 'not an integer'),
        _case('vcpus_underscores', doc(node(vcpus='1_000')),
              "ComputeNode uuid='n1'", 'attribute vcpus', 'not an integer'),
        _case('vcpus_hex', doc(node(vcpus='0x10')),
              "ComputeNode uuid='n1'", 'attribute vcpus', 'not an integer'),
        _case('ratio_nan', doc(node(vcpu_ratio='nan')),
              "ComputeNode uuid='n1'", 'attribute vcpu_ratio'),
        _case('ratio_inf', doc(node(memory_ratio='Infinity')),
              "ComputeNode uuid='n1'", 'attribute memory_ratio'),
        _case('ratio_overflow', doc(node(disk_ratio='1e400')),
              "ComputeNode uuid='n1'", 'attribute disk_ratio',
              'out of range'),
        _case('ratio_negative', doc(node(disk_ratio='-2')),
              "ComputeNode uuid='n1'", 'attribute disk_ratio'),
        _case('volume_size_2_64', doc(
            '<Volume uuid="v1" size="%d"/>' % 2 ** 64),
            "Volume uuid='v1'", 'attribute size', 'out of range'),
        _case('pool_capacity_1e30', doc(
            '<StorageNode host="s1"><Pool name="s1@b#p" '
            'total_capacity_gb="1e30"/></StorageNode>'),
            "Pool name='s1@b#p'", 'attribute total_capacity_gb'),
        _case('pool_name_malformed', doc(
            '<StorageNode host="s1"><Pool name="%s"/></StorageNode>'
            % ('p' * 1000)), "Pool name='pppp", 'attribute name',
            'host@backend#pool'),
        # Nesting.
        _case('deep_nesting', doc(node(instance().replace(
            '/>', '>%s</Instance>' % _deep(2000)))),
            'x (line 1)', 'nested 5 levels deep'),
        _case('deeper_than_the_parser', _deep(100000, 'ModelRoot'),
              'document (line 1)', 'malformed XML'),
        _case('deep_json_list', doc(node(instance(metadata='[' * 3000))),
              "Instance uuid='i1'", 'attribute metadata'),
        _case('deep_json_object', doc(node(instance(
            metadata='{&quot;a&quot;:' * 1000))),
            "Instance uuid='i1'", 'attribute metadata'),
        _case('deep_attachments', doc(
            '<Volume uuid="v1" size="1" attachments="%s"/>' % ('[' * 3000)),
            "Volume uuid='v1'", 'attribute attachments'),
        # Structure.
        _case('unknown_element', doc('<Server uuid="s1"/>'),
              "Server uuid='s1'", 'unexpected element'),
        _case('unknown_element_in_node', doc(node('<Pool name="p"/>')),
              "Pool name='p'", "inside ComputeNode uuid='n1'"),
        _case('unknown_element_in_instance', doc(node(instance().replace(
            '/>', '><x/></Instance>'))), 'x (line 1)', "Instance uuid='i1'"),
        _case('wrong_root', '<Model/>', 'Model (line 1)', 'root element'),
        _case('mixed_kinds', doc(node(), '<StorageNode host="s1"/>'),
              'ModelRoot', 'several models'),
        _case('wrong_kind', valid_compute(), 'ModelRoot',
              'a storage model was expected', kind='storage'),
        _case('duplicate_node', doc(node(), node()),
              "ComputeNode uuid='n1'", 'already used'),
        _case('duplicate_node_and_instance', doc(node(), instance(
            uuid='n1')), "Instance uuid='n1'", 'already used'),
        _case('duplicate_instance', doc(node(instance() + instance())),
              "Instance uuid='i1'", 'already used'),
        _case('duplicate_volume', doc('<Volume uuid="v1" size="1"/>',
                                      '<Volume uuid="v1" size="1"/>'),
              "Volume uuid='v1'", 'duplicate volume'),
        _case('duplicate_ironic_node', doc(
            '<IronicNode uuid="b1"/>', '<IronicNode uuid="b1"/>'),
            "IronicNode uuid='b1'", 'duplicate ironic node'),
        _case('missing_uuid', doc('<ComputeNode hostname="h"/>'),
              "ComputeNode hostname='h'", 'attribute uuid', 'missing'),
        _case('empty_uuid', doc(node(uuid='')),
              'ComputeNode', 'attribute uuid', 'empty'),
        # Types.
        _case('locked_not_boolean', doc(node(instance(locked='perhaps'))),
              "Instance uuid='i1'", 'attribute locked', 'not a boolean'),
        _case('metadata_not_mapping', doc(node(instance(metadata='[1]'))),
              "Instance uuid='i1'", 'attribute metadata', 'not a mapping'),
        _case('created_not_time', doc(node(instance(created='yesterday'))),
              "Instance uuid='i1'", 'attribute created', 'ISO 8601'),
        _case('size_not_integer', doc('<Volume uuid="v1" size="big"/>'),
              "Volume uuid='v1'", 'attribute size', 'not an integer'),
        _case('maintenance_not_boolean', doc(
            '<IronicNode uuid="b1" maintenance="maybe"/>'),
            "IronicNode uuid='b1'", 'attribute maintenance'),
        _case('long_bad_value', doc(node(vcpus='9' * 100 + 'x')),
              "ComputeNode uuid='n1'", 'attribute vcpus',
              '(101 characters)'),
        _case('newlines_in_value', doc(node(vcpus='1&#10;2&#13;3')),
              "ComputeNode uuid='n1'", 'attribute vcpus'),
        _case('line_separator_in_identity', doc(node(
            uuid='a&#x2028;b&#x85;c', vcpus='x')),
            r"ComputeNode uuid='a\u2028b\x85c'", 'attribute vcpus'),
        # Encoding and syntax.
        _case('truncated', half[:len(half) // 2],
              'document (line 1)', 'malformed XML'),
        _case('non_utf8_bytes', doc(node(hostname='h\udcff')).encode(
            'utf-8', 'surrogateescape'), 'document (line 1)',
            'malformed XML'),
        _case('nul_byte', doc(node(hostname='h\x00')).encode(),
              'document (line 1)', 'malformed XML'),
        _case('binary_garbage', bytes(range(256)) * 16,
              'document', 'malformed XML'),
        _case('unencodable_text', doc(node(hostname='h\ud800')),
              'document', 'UTF-8'),
        _case('empty', b'', 'document', 'empty'),
        _case('blank', b' \n\t ', 'document', 'empty'),
        _case('redefined_attribute', '<ModelRoot><ComputeNode uuid="a" '
              'uuid="b"/></ModelRoot>', 'document (line 1)',
              'malformed XML', 'uuid'),
        # Entities, DTDs, XInclude.
        # libxml2 refuses the amplification and the external entities in
        # attributes it would have to expand; any other DOCTYPE is refused
        # after the parse.
        _case('billion_laughs', _billion_laughs(),
              'document (line 14)', 'malformed XML', 'entity'),
        _case('billion_laughs_in_text', _billion_laughs('text'),
              'document (line', 'malformed XML', 'entity'),
        _case('external_entity', '<?xml version="1.0"?>\n'
              '<!DOCTYPE ModelRoot [<!ENTITY x SYSTEM '
              '"file:///etc/passwd">]>\n' + doc(node(hostname='&x;')),
              'document (line 3)', "external entity 'x'"),
        _case('external_entity_in_text', '<?xml version="1.0"?>\n'
              '<!DOCTYPE ModelRoot [<!ENTITY x SYSTEM '
              '"file:///etc/passwd">]>\n' + doc(node(), '<Instance>&x;'
                                                '</Instance>'),
              'DOCTYPE', 'not accepted'),
        _case('external_dtd', '<?xml version="1.0"?>\n<!DOCTYPE ModelRoot '
              'SYSTEM "http://127.0.0.1:9/model.dtd">\n' + valid_compute(),
              'DOCTYPE'),
        _case('parameter_entity', '<?xml version="1.0"?>\n'
              '<!DOCTYPE ModelRoot [<!ENTITY % p SYSTEM '
              '"http://127.0.0.1:9/p.dtd"> %p;]>\n' + valid_compute(),
              'DOCTYPE'),
        _case('undeclared_entity', doc(node(hostname='&x;')),
              'document (line 1)', 'malformed XML'),
        _case('xinclude', '<ModelRoot xmlns:xi="http://www.w3.org/2001/'
              'XInclude"><xi:include href="file:///etc/passwd" '
              'parse="text"/></ModelRoot>',
              '{http://www.w3.org/2001/XInclude}include',
              'unexpected element'),
    ]
