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

A document is bounded before anything reads it (:class:`Limits`): its
size, the length of every attribute value and element text, and how deep
its elements nest. Numbers are range-checked: integers must fit what
Neo4j stores (0 to 2**63 - 1), other numbers must be finite. Every
refusal is an :class:`~tachyon.exception.InvalidModel` naming the element
and the attribute, with any value it quotes cut short.
"""

import collections

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

#: Neo4j stores integers as signed 64-bit numbers.
MAX_INTEGER = fields.INT64_MAX
#: The deepest a model nests: ModelRoot > StorageNode > Pool > Volume and
#: ModelRoot > IronicNode > extra > key.
MAX_DEPTH = 4
#: How many characters of a value an error message quotes.
QUOTE_LENGTH = 64

#: The bounds of a document. ``max_document_size``: bytes of the whole
#: document; ``max_attribute_length``: bytes (UTF-8) of any one attribute
#: value or element text. The defaults are those of ``[model_import]``.
Limits = collections.namedtuple('Limits', ['max_document_size',
                                           'max_attribute_length'])
DEFAULT_LIMITS = Limits(max_document_size=64 * 1024 * 1024,
                        max_attribute_length=4096)

shorten = fields.shorten
literal_value = fields.literal_value


def _name(text, length=QUOTE_LENGTH):
    """A tag or attribute name as a message gives it, cut short."""
    if len(text) > length:
        return '%s... (%d characters)' % (text[:length], len(text))
    return text


def one_line(text, length=200):
    """``text`` on one line (whitespace runs collapsed), cut short."""
    text = ' '.join(str(text).split())
    if len(text) > length:
        text = text[:length] + '...'
    return text


def describe(el):
    """How an error names an element: tag, identity and line."""
    ident = None
    for attr in ('uuid', 'name', 'host', 'hostname'):
        if el.get(attr):
            ident = '%s=%s' % (attr, shorten(el.get(attr)))
            break
    text = _name(el.tag) if isinstance(el.tag, str) else 'node'
    if ident:
        text = '%s %s' % (text, ident)
    if el.sourceline:
        text = '%s (line %s)' % (text, el.sourceline)
    return text


def parse_document(xml_text, limits=DEFAULT_LIMITS):
    """XML text (str or bytes) -> the root element, parsed safely.

    Never resolves entities, loads DTDs or reaches the network; a
    document with a DOCTYPE is refused, and so is one beyond ``limits``
    (:class:`Limits`) or nested deeper than :data:`MAX_DEPTH`.
    """
    if isinstance(xml_text, str):
        try:
            xml_text = xml_text.encode('utf-8')
        except UnicodeError as exc:
            raise exception.InvalidModel(
                element='document',
                reason='not encodable as UTF-8: %s' % one_line(exc))
    if not isinstance(xml_text, (bytes, bytearray)):
        raise exception.InvalidModel(
            element='document',
            reason='expected XML text, got %s' % type(xml_text).__name__)
    if len(xml_text) > limits.max_document_size:
        raise exception.InvalidModel(
            element='document',
            reason='larger than max_document_size (%d bytes)'
                   % limits.max_document_size)
    if not xml_text or not xml_text.strip():
        raise exception.InvalidModel(element='document',
                                     reason='the document is empty')
    # huge_tree lifts libxml2's 10 MB cap on one value, so that an
    # oversized value is refused below naming its element and attribute;
    # the document itself is already bounded by max_document_size.
    parser = etree.XMLParser(resolve_entities=False, no_network=True,
                             load_dtd=False, dtd_validation=False,
                             remove_comments=True, remove_pis=True,
                             huge_tree=True)
    try:
        root = etree.fromstring(bytes(xml_text), parser=parser)
    except etree.LxmlError as exc:
        raise exception.InvalidModel(
            element='document (line %s)' % (
                getattr(exc, 'lineno', None) or '?'),
            reason='malformed XML: %s' % one_line(
                getattr(exc, 'msg', None) or exc))
    if root.getroottree().docinfo.doctype:
        raise exception.InvalidModel(
            element='DOCTYPE',
            reason='document type declarations are not accepted')
    check_bounds(root, limits)
    return root


def _too_long(text, maximum):
    # Counted in bytes of UTF-8; a character is at most 4 of them.
    return len(text) > maximum or (
        len(text) * 4 > maximum and len(text.encode('utf-8')) > maximum)


def check_bounds(root, limits=DEFAULT_LIMITS):
    """Refuse a parsed document nested too deep or with values too long.

    :raises: InvalidModel naming the element (and the attribute).
    """
    maximum = limits.max_attribute_length
    stack = [(root, 1)]
    while stack:
        el, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise exception.InvalidModel(
                element=describe(el),
                reason='nested %d levels deep; a model nests at most %d'
                       % (depth, MAX_DEPTH))
        for attr, value in el.attrib.items():
            if _too_long(attr, maximum) or _too_long(value, maximum):
                raise exception.InvalidModel(
                    element=describe(el),
                    reason='attribute %s: longer than max_attribute_length '
                           '(%d bytes)' % (_name(attr), maximum))
        text = (el.text or '').strip()
        if _too_long(text, maximum):
            raise exception.InvalidModel(
                element=describe(el),
                reason='text: longer than max_attribute_length (%d bytes)'
                       % maximum)
        stack.extend((child, depth + 1) for child in reversed(el))


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
            reason=('attribute %s: %s' % (_name(field), reason))
            if field else reason)
    return Attributes(el.attrib, error)


class Attributes(fields.TextReader):
    """The attribute reader of the XML import.

    :class:`tachyon.common.fields.TextReader`, the one field reader's text
    flavour: integers are digits (a trailing ".0" allowed) within what
    Neo4j stores, numbers finite and non-negative, values quoted cut short.
    """
