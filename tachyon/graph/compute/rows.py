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

"""Compute records <-> graph rows: Watcher's fields and the stored ones.

Writes send rows as lists (:data:`NODE_COLUMNS`, :data:`INSTANCE_COLUMNS`),
not maps: packing the keys of 100,000 maps costs more than Neo4j takes to
write them. Reads answer lists too (:data:`NODE_PROPS`,
:data:`INSTANCE_PROPS`): single-node reads are dominated by decoding the
answer, and keys are half of it.

``watcher_unset`` lists the Watcher fields a record left unset (``None``
amounts, reserves or ratios, typically from a Watcher XML dump that did not
give them). The records read back carry Watcher's defaults in their place
(0 reserved, ratio 1.0, 0 amounts).

An instance's ``record`` property is the JSON of every field reads hand
back (:data:`INSTANCE_RECORD_FIELDS`), kept beside the individual
properties (which queries use): decoding one string per instance over Bolt
is several times cheaper than twenty values.

Nothing here talks to Neo4j.
"""

import hashlib
import json

from tachyon import exception
from tachyon.graph import common
from tachyon.graph import upsert
from tachyon.model import records

KIND = records.KIND_COMPUTE
TYPE = records.TYPE_INSTANCE
TRAIT_HYPERVISOR = 'COMPUTE_HYPERVISOR'
STATUS_TRAIT_PREFIX = 'COMPUTE_STATUS_'
RESOURCE_CLASSES = records.COMPUTE_RESOURCE_CLASSES

#: Watcher's Instance field name of each consumed amount.
INSTANCE_AMOUNT_FIELDS = {
    records.VCPU: 'vcpus',
    records.MEMORY_MB: 'memory',
    records.DISK_GB: 'disk',
}

#: The node properties a write sets, and the columns of a node row. Each
#: inventory: [resource_class, total, reserved, allocation_ratio,
#: min_unit, max_unit, step_size]; each aggregate: [name, id].
NODE_STORED = ('name', 'status', 'state', 'disabled_reason',
               'availability_zone', 'service_host', 'placeholder', 'traits',
               'watcher_unset', 'fingerprint')
NODE_COLUMNS = ('uuid', 'updated_at', 'trait_names', 'inventories',
                'inventory_classes', 'aggregates',
                'aggregate_names') + NODE_STORED

#: The instance properties a write sets, and the columns of an instance
#: row.
INSTANCE_STORED = ('name', 'state', 'locked', 'watcher_exclude', 'metadata',
                   'host', 'hypervisor_hostname', 'created', 'vcpus',
                   'memory', 'disk', 'project_id', 'pinned_az',
                   'flavor_extra_specs', 'flavor_name', 'fingerprint',
                   'watcher_unset', 'record')
INSTANCE_COLUMNS = ('uuid', 'updated_at', 'node_uuid', 'node_name', 'target',
                    'flavor_key', 'extra_specs') + INSTANCE_STORED

#: What reads return of a node, of an inventory, of an instance. An
#: instance is read from its ``record`` property: the JSON of every field
#: but the uuid, generation, updated_at and node.
NODE_PROPS = ('uuid', 'name', 'status', 'state', 'disabled_reason',
              'availability_zone', 'service_host', 'placeholder', 'traits',
              'generation', 'updated_at', 'watcher_unset')
INVENTORY_PROPS = ('resource_class', 'total', 'reserved',
                   'allocation_ratio', 'min_unit', 'max_unit', 'step_size')
INSTANCE_PROPS = ('uuid', 'record', 'generation', 'updated_at')
#: The fields an instance's ``record`` holds.
INSTANCE_RECORD_FIELDS = ('name', 'state', 'locked', 'watcher_exclude',
                          'metadata', 'host', 'hypervisor_hostname',
                          'created', 'vcpus', 'memory', 'disk',
                          'project_id', 'pinned_az', 'flavor_extra_specs',
                          'flavor_name', 'watcher_unset')


# ---------------------------------------------------------------------------
# Compute nodes
# ---------------------------------------------------------------------------

def status_trait(state):
    """The COMPUTE_STATUS_* trait of a node's ``state`` ('up', 'down')."""
    norm = ''.join(ch if ch.isalnum() else '_'
                   for ch in str(state or 'unknown').upper())
    return STATUS_TRAIT_PREFIX + norm


def _inventory_row(rc, inv, unset, placeholder):
    names = records.WATCHER_INVENTORY_FIELDS.get(rc)
    if inv is None:
        inv = records.Inventory(rc)
    total, reserved, ratio = inv.total, inv.reserved, inv.allocation_ratio
    if names:
        for name, value in zip(names, (total, reserved, ratio)):
            if value is None:
                unset.append(name)
    total = 0 if (total is None or placeholder) else int(total)
    reserved = 0 if (reserved is None or placeholder) else int(reserved)
    ratio = 1.0 if (ratio is None or placeholder) else float(ratio)
    max_unit = inv.max_unit if inv.max_unit is not None else total
    return {'resource_class': rc,
            'total': total,
            'reserved': reserved,
            'allocation_ratio': ratio,
            'min_unit': int(inv.min_unit if inv.min_unit is not None else 1),
            'max_unit': int(max_unit),
            'step_size': int(inv.step_size
                             if inv.step_size is not None else 1)}


def node_row(node):
    """The row a write sends of a ComputeNode record.

    A dict: ``uuid``, ``updated_at``, ``placeholder``, ``name``, ``props``
    (the stored properties, with their ``fingerprint``), the traits,
    inventories and aggregates, and ``columns``: the list of
    :data:`NODE_COLUMNS` the write statements take.

    :raises: InvalidParameter for a node without uuid or hostname.
    """
    if not node.uuid:
        raise exception.InvalidParameter(field='uuid',
                                         reason='a compute node needs one')
    if not node.hostname:
        raise exception.InvalidParameter(
            field='hostname',
            reason='compute node %s has no hostname' % node.uuid)
    unset = []
    invs = dict(node.inventories or {})
    classes = list(RESOURCE_CLASSES) + sorted(
        rc for rc in invs if rc not in RESOURCE_CLASSES)
    inventories = [_inventory_row(rc, invs.get(rc), unset, node.placeholder)
                   for rc in classes]
    unset.extend(node.watcher_unset or ())
    extra_traits = sorted(set(node.traits or []))
    trait_names = sorted({TRAIT_HYPERVISOR, status_trait(node.state)}
                         | set(extra_traits))
    aggregates = sorted(
        ({'name': str(a['name']), 'id': a.get('id')}
         for a in (node.aggregates or []) if a.get('name') is not None),
        key=lambda a: a['name'])
    props = {
        'name': node.hostname,
        'status': node.status,
        'state': node.state,
        'disabled_reason': node.disabled_reason,
        'availability_zone': node.availability_zone or None,
        'service_host': node.service_host,
        'placeholder': bool(node.placeholder),
        'traits': extra_traits,
        'watcher_unset': sorted(unset) or None,
    }
    props['fingerprint'] = upsert.fingerprint(
        [props, inventories, trait_names, aggregates])
    row = {
        'uuid': node.uuid,
        'updated_at': (float(node.updated_at)
                       if node.updated_at is not None else None),
        'placeholder': bool(node.placeholder),
        'name': node.hostname,
        'props': props,
        'trait_names': trait_names,
        'inventories': [[i[name] for name in INVENTORY_PROPS]
                        for i in inventories],
        'inventory_classes': classes,
        'aggregates': [[a['name'], a['id']] for a in aggregates],
        'aggregate_names': [a['name'] for a in aggregates],
    }
    values = dict(props)
    values.update((k, v) for k, v in row.items() if k != 'props')
    row['columns'] = [values[name] for name in NODE_COLUMNS]
    return row


def inventory_record(values):
    """An Inventory record of the :data:`INVENTORY_PROPS` list a read gave."""
    data = dict(zip(INVENTORY_PROPS, values))
    return records.Inventory(
        resource_class=data['resource_class'],
        total=data['total'] or 0,
        reserved=data['reserved'] or 0,
        allocation_ratio=(data['allocation_ratio']
                          if data['allocation_ratio'] is not None else 1.0),
        min_unit=data['min_unit'] if data['min_unit'] is not None else 1,
        max_unit=data['max_unit'],
        step_size=data['step_size'] if data['step_size'] is not None else 1)


def class_order(rc):
    """Sort key of resource classes: Watcher's three first, then by name."""
    if rc in RESOURCE_CLASSES:
        return (0, RESOURCE_CLASSES.index(rc), rc)
    return (1, 0, rc)


def node_record(values, inventories, aggregates):
    """A ComputeNode record of what a read gave.

    ``values`` is the :data:`NODE_PROPS` list, ``inventories`` lists of
    :data:`INVENTORY_PROPS`, ``aggregates`` [name, id] pairs.
    """
    rp = dict(zip(NODE_PROPS, values))
    invs = [inventory_record(i) for i in inventories]
    return records.ComputeNode(
        uuid=rp['uuid'],
        hostname=rp['name'],
        status=rp['status'],
        state=rp['state'],
        disabled_reason=rp['disabled_reason'],
        inventories={i.resource_class: i for i in sorted(
            invs, key=lambda i: class_order(i.resource_class))},
        traits=list(rp['traits'] or []),
        availability_zone=rp['availability_zone'],
        aggregates=sorted(({'id': agg_id, 'name': name}
                           for name, agg_id in aggregates),
                          key=lambda a: str(a['name'])),
        service_host=rp['service_host'],
        placeholder=bool(rp['placeholder']),
        generation=rp['generation'],
        updated_at=rp['updated_at'])


# ---------------------------------------------------------------------------
# Instances
# ---------------------------------------------------------------------------

def flavor_key(name, extra_specs):
    """The key of the Flavor node of a flavor name and its extra specs."""
    if not name and not extra_specs:
        return None
    digest = hashlib.sha1(
        (common.to_json(extra_specs or {}) or '{}').encode('utf-8'))
    return '%s|%s' % (name or '', digest.hexdigest())


def _spec_value(value):
    return value if isinstance(value, str) else json.dumps(value,
                                                           sort_keys=True)


def _created(value):
    return None if value is None else str(value)


def instance_row(inst):
    """The row a write sends of an Instance record.

    A dict: ``uuid``, ``updated_at``, ``node_uuid``, ``node_name``,
    ``target`` (None: the write resolves the node), ``flavor_key``,
    ``extra_specs`` and ``props`` (the stored properties, with their
    ``record`` and ``fingerprint``). :func:`instance_columns` turns it
    into the list the write statements take.

    :raises: InvalidParameter for an instance without uuid.
    """
    if not inst.uuid:
        raise exception.InvalidParameter(field='uuid',
                                         reason='an instance needs one')
    unset = []
    amounts = {}
    for rc, field in INSTANCE_AMOUNT_FIELDS.items():
        value = getattr(inst, field)
        if value is None:
            unset.append(field)
            value = 0
        amounts[rc] = int(value)
    if inst.name is None:
        unset.append('name')
    if inst.metadata is None:
        unset.append('metadata')
    specs = dict(inst.flavor_extra_specs or {})
    props = {
        'name': inst.name,
        'state': inst.state,
        'locked': bool(inst.locked),
        'watcher_exclude': bool(inst.watcher_exclude),
        'metadata': common.to_json(inst.metadata or {}),
        'host': inst.host,
        'hypervisor_hostname': inst.hypervisor_hostname,
        'created': _created(inst.created),
        'vcpus': amounts[records.VCPU],
        'memory': amounts[records.MEMORY_MB],
        'disk': amounts[records.DISK_GB],
        'project_id': inst.project_id or None,
        'pinned_az': inst.pinned_az or '',
        'flavor_extra_specs': common.to_json(specs),
        'flavor_name': inst.flavor_name,
        'watcher_unset': sorted(unset) or None,
    }
    record = dict(props, metadata=inst.metadata or {},
                  flavor_extra_specs=specs)
    props['record'] = _record_text(
        {name: record[name] for name in INSTANCE_RECORD_FIELDS})
    props['fingerprint'] = _digest(props['record'])
    return {
        'uuid': inst.uuid,
        'updated_at': (float(inst.updated_at)
                       if inst.updated_at is not None else None),
        'node_uuid': inst.node_uuid or None,
        'node_name': inst.node_name or None,
        'target': None,
        'flavor_key': flavor_key(inst.flavor_name, specs),
        'extra_specs': [[str(k), _spec_value(v)]
                        for k, v in sorted(specs.items())],
        'props': props,
    }


def _record_text(record):
    return json.dumps(record, sort_keys=True, separators=(',', ':'),
                      default=str)


def _digest(text):
    return hashlib.sha1(text.encode('utf-8')).hexdigest()


def restated_record(record, state):
    """An instance's stored ``record`` (JSON) with ``state`` in it.

    :returns: (the record's JSON, its fingerprint), as
        :func:`instance_row` writes them.
    """
    values = json.loads(record) if record else {}
    values['state'] = state
    text = _record_text(values)
    return text, _digest(text)


def restated_row(row, state):
    """A copy of an instance row (:func:`instance_row`) in ``state``."""
    props = dict(row['props'])
    props['state'] = state
    props['record'], props['fingerprint'] = restated_record(
        props['record'], state)
    return dict(row, props=props)


def instance_columns(row, target=None):
    """An instance row as the list the write queries take."""
    values = dict(row['props'])
    values.update((k, v) for k, v in row.items() if k != 'props')
    values['target'] = target
    return [values[name] for name in INSTANCE_COLUMNS]


def decode_all(rows):
    """The JSON record of each instance row, decoded in one parse.

    ``rows`` are (values, node uuid, node name) of :data:`INSTANCE_PROPS`
    lists. One ``json.loads`` per instance is most of the time of a
    20,000 instance read; the records are JSON objects this module wrote,
    so they decode as the items of one array.
    """
    return json.loads('[%s]' % ','.join(row[0][1] or '{}' for row in rows))


def instance_record(values, node_uuid=None, node_name=None, fields=None,
                    decoded=None):
    """An Instance record of the :data:`INSTANCE_PROPS` list a read gave.

    ``decoded`` is its ``record`` already decoded (:func:`decode_all`);
    ``fields``, a dict, receives the decoded fields.
    """
    uuid, record, generation, updated_at = values
    if decoded is not None:
        c = decoded
    else:
        c = json.loads(record) if record else {}
    if fields is not None:
        fields.update(c)
    return records.Instance(
        uuid=uuid,
        name=c.get('name') or '',
        state=c.get('state'),
        vcpus=c.get('vcpus') or 0,
        memory=c.get('memory') or 0,
        disk=c.get('disk') or 0,
        metadata=c.get('metadata') or {},
        project_id=c.get('project_id'),
        locked=bool(c.get('locked')),
        watcher_exclude=bool(c.get('watcher_exclude')),
        host=c.get('host'),
        hypervisor_hostname=c.get('hypervisor_hostname'),
        created=c.get('created'),
        pinned_az=c.get('pinned_az') or '',
        flavor_extra_specs=c.get('flavor_extra_specs') or {},
        flavor_name=c.get('flavor_name'),
        node_uuid=node_uuid,
        node_name=node_name,
        generation=generation,
        updated_at=updated_at)
