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

"""Watcher's compute model XML (ModelRoot) <-> records.

``<Instance>`` elements nest in ``<ComputeNode>``; a top-level
``<Instance>`` is unmapped, as in Watcher.

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
"""

import collections
import json

from lxml import etree
from oslo_utils import timeutils

from tachyon import exception
from tachyon.graph import compute as compute_graph
from tachyon.model import records
from tachyon.watcher_xml import common

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
    field: (rc, what)
    for rc, names in records.WATCHER_INVENTORY_FIELDS.items()
    for field, what in zip(names, ('total', 'reserved', 'allocation_ratio'))
}


# ---------------------------------------------------------------------------
# XML -> records
# ---------------------------------------------------------------------------

ComputeModel = collections.namedtuple('ComputeModel', ['nodes', 'instances'])


def _parse_node(el):
    a = common.attributes(el)
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
    a = common.attributes(el)
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


def _claim(uuid, el, mine, others):
    """Record ``el`` as the holder of ``uuid`` in ``mine``.

    :raises: InvalidModel when a node or an instance already holds it.
    """
    for seen in (mine, others):
        if uuid in seen:
            raise exception.InvalidModel(
                element=common.describe(el),
                reason='uuid %s already used by %s' % (
                    common.shorten(uuid), seen[uuid]))
    mine[uuid] = common.describe(el)


def parse_compute(root):
    """A parsed compute document -> ComputeModel(nodes, instances).

    Validates everything; raises InvalidModel naming the first bad element.
    """
    nodes, instances = [], []
    node_uuids, instance_uuids = {}, {}

    def _instance(el, node_uuid):
        if len(el):
            raise exception.InvalidModel(
                element=common.describe(el[0]),
                reason='unexpected element inside %s' % common.describe(el))
        inst = _parse_instance(el, node_uuid)
        _claim(inst.uuid, el, instance_uuids, node_uuids)
        instances.append(inst)

    for el in root:
        if el.tag == 'ComputeNode':
            node = _parse_node(el)
            _claim(node.uuid, el, node_uuids, instance_uuids)
            nodes.append(node)
            for child in el:
                if child.tag != 'Instance':
                    raise exception.InvalidModel(
                        element=common.describe(child),
                        reason='unexpected element inside %s'
                               % common.describe(el))
                _instance(child, node.uuid)
        elif el.tag == 'Instance':
            _instance(el, None)
        else:
            raise exception.InvalidModel(
                element=common.describe(el),
                reason='unexpected element in a compute model')
    # Every reference must resolve inside the document.
    for inst in instances:
        if inst.node_uuid is not None and inst.node_uuid not in node_uuids:
            raise exception.InvalidModel(
                element='Instance uuid=%s' % common.shorten(inst.uuid),
                reason='refers to compute node %s, not defined in the '
                       'document' % common.shorten(inst.node_uuid))
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
    root = etree.Element(common.ROOT_TAG)
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
# Graph
# ---------------------------------------------------------------------------

def parse(root):
    """A parsed compute document -> ComputeModel(nodes, instances)."""
    return parse_compute(root)


def write(graph, parsed, replace=False, **staging):
    """Write a parsed compute model whole; returns its counts.

    With ``replace``, compute entities absent from the document are
    deleted, and the import is staged (``staging``: see
    :func:`tachyon.graph.compute.staging.import_rows`).
    """
    return compute_graph.import_compute_model(
        graph, parsed.nodes, parsed.instances, replace=replace, **staging)


def export(graph):
    """The graph's compute model as Watcher's XML text."""
    return compute_to_xml(compute_graph.get_compute_model(graph))
