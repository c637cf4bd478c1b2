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

"""What the three Watcher XML models share: the document and its elements.

Watcher writes its three models (``ModelRoot.to_xml()``,
``StorageModelRoot.to_xml()``, ``BaremetalModelRoot.to_xml()``) under the
same ``<ModelRoot>`` root; the kind of a document is told by its elements
(``ComputeNode``/``Instance``, ``StorageNode``/``Pool``/``Volume``,
``IronicNode``). This module parses a document safely, tells its kind,
names elements in errors and reads their attributes.
"""

from lxml import etree

from tachyon.common import fields
from tachyon import exception

KIND_COMPUTE = 'compute'
KIND_STORAGE = 'storage'
KIND_BAREMETAL = 'baremetal'
KINDS = (KIND_COMPUTE, KIND_STORAGE, KIND_BAREMETAL)

ROOT_TAG = 'ModelRoot'
#: Root tags accepted besides ModelRoot, and the kind each implies.
ROOT_ALIASES = {
    'ComputeModelRoot': KIND_COMPUTE,
    'StorageModelRoot': KIND_STORAGE,
    'BaremetalModelRoot': KIND_BAREMETAL,
}
#: The top-level elements of each kind.
KIND_OF_TAG = {
    'ComputeNode': KIND_COMPUTE,
    'Instance': KIND_COMPUTE,
    'StorageNode': KIND_STORAGE,
    'Pool': KIND_STORAGE,
    'Volume': KIND_STORAGE,
    'IronicNode': KIND_BAREMETAL,
}


def describe(el):
    """How an error names an element: tag, identity and line."""
    ident = None
    for attr in ('uuid', 'name', 'host', 'hostname'):
        if el.get(attr):
            ident = '%s=%r' % (attr, el.get(attr))
            break
    text = el.tag if isinstance(el.tag, str) else 'node'
    if ident:
        text = '%s %s' % (text, ident)
    if el.sourceline:
        text = '%s (line %s)' % (text, el.sourceline)
    return text


def parse_document(xml_text):
    """XML text (str or bytes) -> the root element, parsed safely.

    Never resolves entities, loads DTDs or reaches the network; a
    document with a DOCTYPE is refused.
    """
    if isinstance(xml_text, str):
        xml_text = xml_text.encode('utf-8')
    if not xml_text or not xml_text.strip():
        raise exception.InvalidModel(element='document',
                                     reason='the document is empty')
    parser = etree.XMLParser(resolve_entities=False, no_network=True,
                             load_dtd=False, dtd_validation=False,
                             remove_comments=True, remove_pis=True,
                             huge_tree=True)
    try:
        root = etree.fromstring(xml_text, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise exception.InvalidModel(
            element='document (line %s)' % (exc.lineno or '?'),
            reason='malformed XML: %s' % exc.msg)
    if root.getroottree().docinfo.doctype:
        raise exception.InvalidModel(
            element='DOCTYPE',
            reason='document type declarations are not accepted')
    return root


def detect_kind(root):
    """The model kind of a parsed document (compute, storage, baremetal)."""
    if root.tag != ROOT_TAG and root.tag not in ROOT_ALIASES:
        raise exception.InvalidModel(
            element=describe(root),
            reason='the root element must be <%s>' % ROOT_TAG)
    kinds = set()
    if root.tag in ROOT_ALIASES:
        kinds.add(ROOT_ALIASES[root.tag])
    for child in root:
        kind = KIND_OF_TAG.get(child.tag)
        if kind is None:
            raise exception.InvalidModel(
                element=describe(child),
                reason='unexpected element; a model holds %s' % ', '.join(
                    sorted(KIND_OF_TAG)))
        kinds.add(kind)
    if len(kinds) > 1:
        raise exception.InvalidModel(
            element=describe(root),
            reason='elements of several models (%s) in one document' % (
                ', '.join(sorted(kinds))))
    return kinds.pop() if kinds else KIND_COMPUTE


def attributes(el):
    """A typed reader of an element's attributes; errors name the element.

    Raises :class:`~tachyon.exception.InvalidModel` for an attribute that
    is missing or cannot be read.
    """
    def error(reason, field=None):
        return exception.InvalidModel(
            element=describe(el),
            reason=('attribute %s: %s' % (field, reason)) if field else reason)
    return fields.TextReader(el.attrib, error)
