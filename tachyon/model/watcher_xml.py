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

"""Watcher's XML cluster model format: import into and export from Tachyon.

Watcher writes its three models (``ModelRoot.to_xml()``,
``StorageModelRoot.to_xml()``, ``BaremetalModelRoot.to_xml()``) under the
same ``<ModelRoot>`` root; the kind of a document is told by its elements
(``ComputeNode``/``Instance``, ``StorageNode``/``Pool``/``Volume``,
``IronicNode``).

Import is one logical change: the whole document is parsed and validated
into records first (malformed XML, a missing or malformed attribute, an
unexpected element, a duplicate uuid, an instance in a node that is not
defined raise :class:`~tachyon.exception.InvalidModel` naming the
element), and only then written, in bulk, in one transaction. A bad file
writes nothing. Parsing never resolves entities, loads a DTD or touches
the network; documents with a DOCTYPE are refused.

Export writes what Watcher's ``to_xml()`` writes (same elements, attribute
order, sorting by uuid, pretty-printing), with three changes that make
Watcher's own ``from_xml()`` read the document back to an equal model
(``to_xml()`` output does not survive ``from_xml()``):

* JSON fields (``metadata``, ``flavor_extra_specs``) are written as JSON,
  not as Python reprs (``from_xml`` reads them with ``json.loads``);
* ``locked`` is written only when true (``from_xml`` turns any non-empty
  string, "False" included, into True; the field defaults to False);
* fields the model leaves unset are left out (as ``to_xml`` does), and so
  are null values (``to_xml`` would write the string "None").

Import reads both forms (JSON or Python literals, "True"/"False" or
"true"/"false"), so a real Watcher dump imports as Watcher meant it.

The storage and baremetal halves live in :mod:`tachyon.model.xml_storage`
and :mod:`tachyon.model.xml_baremetal`; this module dispatches to them.
Each provides:

* ``parse(xml_root)``: the parsed ``<ModelRoot>`` element -> a parsed model
  (records), validated whole; raises InvalidModel naming the element;
  writes nothing;
* ``write(graph, parsed, replace=False)``: writes what ``parse`` returned
  through the graph layer (one transaction), returns its counts;
* ``export(graph)``: the graph's model as Watcher's XML text.
"""

import ast
import collections
import importlib
import json

from lxml import etree
from oslo_utils import strutils
from oslo_utils import timeutils

from tachyon import exception
from tachyon.graph import compute
from tachyon.model import records

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
#: Modules with parse(xml_root) / export(graph) of the other kinds.
KIND_MODULES = {
    KIND_STORAGE: 'tachyon.model.xml_storage',
    KIND_BAREMETAL: 'tachyon.model.xml_baremetal',
}

#: Watcher's ComputeNode fields, in the order as_xml_element() writes them.
NODE_FIELDS = ('hostname', 'status', 'disabled_reason', 'state', 'memory',
               'memory_mb_reserved', 'disk', 'disk_gb_reserved', 'vcpus',
               'vcpu_reserved', 'memory_ratio', 'vcpu_ratio', 'disk_ratio',
               'uuid')
#: Watcher's Instance fields, in the order as_xml_element() writes them.
INSTANCE_FIELDS = ('watcher_exclude', 'name', 'state', 'memory', 'disk',
                   'vcpus', 'metadata', 'project_id', 'locked', 'host',
                   'hypervisor_hostname', 'created', 'pinned_az',
                   'flavor_extra_specs', 'uuid')

# ComputeNode field -> (resource class, what of the inventory).
_NODE_INVENTORY = {
    'vcpus': (records.VCPU, 'total'),
    'vcpu_reserved': (records.VCPU, 'reserved'),
    'vcpu_ratio': (records.VCPU, 'allocation_ratio'),
    'memory': (records.MEMORY_MB, 'total'),
    'memory_mb_reserved': (records.MEMORY_MB, 'reserved'),
    'memory_ratio': (records.MEMORY_MB, 'allocation_ratio'),
    'disk': (records.DISK_GB, 'total'),
    'disk_gb_reserved': (records.DISK_GB, 'reserved'),
    'disk_ratio': (records.DISK_GB, 'allocation_ratio'),
}


# ---------------------------------------------------------------------------
# Documents
# ---------------------------------------------------------------------------

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


def _kind_module(kind):
    if kind not in KIND_MODULES:
        raise exception.InvalidParameter(
            field='kind', reason='%r is not one of %s' % (kind,
                                                          ', '.join(KINDS)))
    try:
        return importlib.import_module(KIND_MODULES[kind])
    except ImportError as exc:
        raise exception.InvalidParameter(
            field='kind', reason='the %s model is not available: %s' % (
                kind, exc))


# ---------------------------------------------------------------------------
# Attribute readers
# ---------------------------------------------------------------------------

class _Attrs(object):
    """Typed reads of an element's attributes; errors name the element."""

    def __init__(self, el):
        self.el = el

    def fail(self, attr, reason):
        raise exception.InvalidModel(
            element=describe(self.el),
            reason=('attribute %s: %s' % (attr, reason)) if attr else reason)

    def string(self, attr, required=False, default=None):
        value = self.el.get(attr)
        if value is None:
            if required:
                self.fail(attr, 'missing')
            return default
        if required and not value.strip():
            self.fail(attr, 'empty')
        return value

    def integer(self, attr, required=False):
        value = self.string(attr, required)
        if value is None:
            return None
        try:
            number = float(value)
            if not number.is_integer():
                raise ValueError(value)
            number = int(number)
        except (TypeError, ValueError, OverflowError):
            self.fail(attr, '%r is not an integer' % value)
        if number < 0:
            self.fail(attr, '%r is negative' % value)
        return number

    def number(self, attr):
        value = self.string(attr)
        if value is None:
            return None
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(attr, '%r is not a number' % value)
        if number != number or number < 0 or number == float('inf'):
            self.fail(attr, '%r is not a non-negative number' % value)
        return number

    def boolean(self, attr, default):
        value = self.string(attr)
        if value is None:
            return default
        try:
            return strutils.bool_from_string(value, strict=True)
        except ValueError:
            self.fail(attr, '%r is not a boolean' % value)

    def mapping(self, attr, default=None):
        """A JSON object, or the Python literal Watcher's to_xml writes."""
        value = self.string(attr)
        if value is None:
            return default
        try:
            data = json.loads(value)
        except ValueError:
            try:
                data = ast.literal_eval(value)
            except (ValueError, SyntaxError, TypeError, MemoryError,
                    RecursionError):
                self.fail(attr, 'neither JSON nor a Python literal')
        if not isinstance(data, dict):
            self.fail(attr, 'not a mapping')
        try:
            # Stored as JSON: refuse what JSON cannot hold.
            json.dumps(data)
        except (TypeError, ValueError):
            self.fail(attr, 'holds values JSON cannot represent')
        return data

    def timestamp(self, attr):
        value = self.string(attr)
        if value is None:
            return None
        try:
            timeutils.parse_isotime(value)
        except ValueError:
            self.fail(attr, '%r is not an ISO 8601 time' % value)
        return value


# ---------------------------------------------------------------------------
# Compute: XML -> records
# ---------------------------------------------------------------------------

ComputeModel = collections.namedtuple('ComputeModel', ['nodes', 'instances'])


def _parse_node(el):
    a = _Attrs(el)
    invs = {rc: records.Inventory(rc, total=None, reserved=None,
                                  allocation_ratio=None)
            for rc in records.COMPUTE_RESOURCE_CLASSES}
    for field, (rc, what) in _NODE_INVENTORY.items():
        if what == 'allocation_ratio':
            value = a.number(field)
        else:
            value = a.integer(field)
        setattr(invs[rc], what, value)
    for inv in invs.values():
        inv.max_unit = inv.total
    disabled_reason = a.string('disabled_reason')
    if disabled_reason == 'None':
        # What to_xml writes for a null reason (the field is nullable).
        disabled_reason = None
    unset = () if 'disabled_reason' in el.attrib else ('disabled_reason',)
    return records.ComputeNode(
        uuid=a.string('uuid', required=True),
        hostname=a.string('hostname', required=True),
        status=a.string('status', default='enabled'),
        state=a.string('state', default='up'),
        disabled_reason=disabled_reason,
        inventories=invs,
        updated_at=None,
        watcher_unset=unset)


def _parse_instance(el, node_uuid):
    a = _Attrs(el)
    return records.Instance(
        uuid=a.string('uuid', required=True),
        name=a.string('name'),
        state=a.string('state', default='active'),
        vcpus=a.integer('vcpus'),
        memory=a.integer('memory'),
        disk=a.integer('disk'),
        metadata=a.mapping('metadata'),
        project_id=a.string('project_id') or None,
        locked=a.boolean('locked', False),
        watcher_exclude=a.boolean('watcher_exclude', False),
        host=a.string('host'),
        hypervisor_hostname=a.string('hypervisor_hostname'),
        created=a.timestamp('created'),
        pinned_az=a.string('pinned_az', default=''),
        flavor_extra_specs=a.mapping('flavor_extra_specs', default={}),
        # Watcher maps an instance by nesting only: a top-level instance
        # is unmapped whatever its host says.
        node_uuid=node_uuid,
        node_name=None,
        updated_at=None)


def parse_compute(root):
    """A parsed compute document -> ComputeModel(nodes, instances).

    Validates everything; raises InvalidModel naming the first bad element.
    """
    nodes, instances = [], []
    node_uuids, instance_uuids = {}, {}

    def _instance(el, node_uuid):
        if len(el):
            raise exception.InvalidModel(
                element=describe(el[0]),
                reason='unexpected element inside %s' % describe(el))
        inst = _parse_instance(el, node_uuid)
        for seen in (instance_uuids, node_uuids):
            if inst.uuid in seen:
                raise exception.InvalidModel(
                    element=describe(el),
                    reason='uuid %s already used by %s' % (
                        inst.uuid, seen[inst.uuid]))
        instance_uuids[inst.uuid] = describe(el)
        instances.append(inst)

    for el in root:
        if el.tag == 'ComputeNode':
            node = _parse_node(el)
            for seen in (node_uuids, instance_uuids):
                if node.uuid in seen:
                    raise exception.InvalidModel(
                        element=describe(el),
                        reason='uuid %s already used by %s' % (
                            node.uuid, seen[node.uuid]))
            node_uuids[node.uuid] = describe(el)
            nodes.append(node)
            for child in el:
                if child.tag != 'Instance':
                    raise exception.InvalidModel(
                        element=describe(child),
                        reason='unexpected element inside %s' % describe(
                            el))
                _instance(child, node.uuid)
        elif el.tag == 'Instance':
            _instance(el, None)
        else:
            raise exception.InvalidModel(
                element=describe(el),
                reason='unexpected element in a compute model')
    # Every reference must resolve inside the document.
    for inst in instances:
        if inst.node_uuid is not None and inst.node_uuid not in node_uuids:
            raise exception.InvalidModel(
                element='Instance uuid=%r' % inst.uuid,
                reason='refers to compute node %s, not defined in the '
                       'document' % inst.node_uuid)
    return ComputeModel(nodes, instances)


# ---------------------------------------------------------------------------
# Compute: model -> XML
# ---------------------------------------------------------------------------

def _text(value):
    return str(value)


def _created_text(value):
    try:
        return str(timeutils.parse_isotime(value))
    except (ValueError, TypeError):
        return str(value)


def node_attributes(node, unset=()):
    """Watcher's ComputeNode attributes of a record, in Watcher's order."""
    values = {
        'hostname': node.hostname,
        'status': node.status,
        'disabled_reason': node.disabled_reason,
        'state': node.state,
        'uuid': node.uuid,
    }
    for field, (rc, what) in _NODE_INVENTORY.items():
        inv = node.inventory(rc)
        value = getattr(inv, what)
        if what == 'allocation_ratio':
            value = float(value if value is not None else 1.0)
        values[field] = value
    attrib = collections.OrderedDict()
    for field in NODE_FIELDS:
        value = values[field]
        if field in unset:
            continue
        if value is None:
            # Watcher writes a set, null reason as str(None).
            if field == 'disabled_reason':
                attrib[field] = 'None'
            continue
        attrib[field] = _text(value)
    return attrib


def instance_attributes(inst, unset=()):
    """Watcher's Instance attributes of a record, in Watcher's order."""
    values = {
        'watcher_exclude': bool(inst.watcher_exclude),
        'name': inst.name,
        'state': inst.state,
        'memory': inst.memory,
        'disk': inst.disk,
        'vcpus': inst.vcpus,
        'metadata': json.dumps(inst.metadata or {}),
        'project_id': inst.project_id,
        # from_xml reads any non-empty string as True: False is written
        # by leaving the attribute to its default.
        'locked': True if inst.locked else None,
        'host': inst.host,
        'hypervisor_hostname': inst.hypervisor_hostname,
        'created': (_created_text(inst.created)
                    if inst.created is not None else None),
        'pinned_az': inst.pinned_az or '',
        'flavor_extra_specs': json.dumps(inst.flavor_extra_specs or {}),
        'uuid': inst.uuid,
    }
    attrib = collections.OrderedDict()
    for field in INSTANCE_FIELDS:
        value = values[field]
        if field in unset or value is None:
            continue
        attrib[field] = _text(value)
    return attrib


def compute_to_xml(model):
    """Watcher's XML text of a compute model.

    ``model`` is what :func:`tachyon.graph.compute.get_compute_model`
    returns.
    """
    unset_nodes = model.get('watcher_unset_nodes') or {}
    unset_instances = model.get('watcher_unset') or {}
    mapping = model.get('mapping') or {}
    by_node = collections.defaultdict(list)
    unmapped = []
    for inst in model['instances']:
        node_uuid = mapping.get(inst.uuid)
        if node_uuid is None:
            unmapped.append(inst)
        else:
            by_node[node_uuid].append(inst)
    root = etree.Element(ROOT_TAG)
    for node in sorted(model['nodes'], key=lambda n: n.uuid):
        node_el = etree.SubElement(root, 'ComputeNode', attrib=(
            node_attributes(node, unset_nodes.get(node.uuid) or ())))
        for inst in sorted(by_node.get(node.uuid, ()),
                           key=lambda i: i.uuid):
            etree.SubElement(node_el, 'Instance', attrib=(
                instance_attributes(inst,
                                    unset_instances.get(inst.uuid) or ())))
    for inst in sorted(unmapped, key=lambda i: i.uuid):
        etree.SubElement(root, 'Instance', attrib=instance_attributes(
            inst, unset_instances.get(inst.uuid) or ()))
    return etree.tostring(root, pretty_print=True).decode('utf-8')


# ---------------------------------------------------------------------------
# Dispatch
# ---------------------------------------------------------------------------

def parse_model(xml_text, kind=None):
    """Parse and validate a document; returns (kind, parsed model).

    Nothing is written. ``kind`` forces the model kind instead of
    detecting it.
    """
    root = parse_document(xml_text)
    detected = detect_kind(root)
    if kind is None:
        kind = detected
    elif kind not in KINDS:
        raise exception.InvalidParameter(
            field='kind', reason='%r is not one of %s' % (kind,
                                                          ', '.join(KINDS)))
    elif len(root) and kind != detected:
        raise exception.InvalidModel(
            element=describe(root),
            reason='a %s model was expected, the document holds a %s '
                   'model' % (kind, detected))
    if kind == KIND_COMPUTE:
        return kind, parse_compute(root)
    return kind, _kind_module(kind).parse(root)


def import_model(graph, xml_text, kind=None, replace=False):
    """Import a Watcher XML model into the graph; returns (kind, counts).

    The document is parsed and validated whole before anything is
    written; the compute model is then written in one transaction.
    """
    kind, parsed = parse_model(xml_text, kind)
    if kind == KIND_COMPUTE:
        counts = compute.import_compute_model(
            graph, parsed.nodes, parsed.instances, replace=replace)
        return kind, counts
    module = _kind_module(kind)
    return kind, module.write(graph, parsed, replace=replace)


def export_model(graph, kind=KIND_COMPUTE):
    """The graph's model of ``kind`` as Watcher's XML text."""
    if kind == KIND_COMPUTE:
        return compute_to_xml(compute.get_compute_model(graph))
    return _kind_module(kind).export(graph)
