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

"""API answers -> records, the way Watcher's collectors build its model.

Every function takes the decoded JSON of one entity as the API returns it
and gives back a record of :mod:`tachyon.model.records`, with the same
fields and numbers as Watcher's collectors (``watcher.decision_engine.
model.collector``) produce. An entity that lacks a field the record needs,
or has one of the wrong type, raises
:class:`tachyon.exception.MalformedEntity`; the collectors log it with the
entity's id, skip it and count it.
"""

import math

from tachyon.common import fields
from tachyon import exception
from tachyon.model import records

# Nova microversion from which servers carry pinned_availability_zone.
PINNED_AZ_MICROVERSION = (2, 96)

#: Ironic provision states in which a node's resources can be scheduled
#: (nova's ironic driver: "available", or no state at all).
_IRONIC_GOOD_PROVISION_STATES = ('available', None)
#: Power states that make a node's resources unavailable.
_IRONIC_BAD_POWER_STATES = ('error', None)


def ident(entity, *keys):
    """The entity's id for messages (None when there is none)."""
    if not isinstance(entity, dict):
        return None
    for key in keys or ('id', 'uuid'):
        value = entity.get(key)
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            return str(value)
    return None


class EntityReader(fields.Reader):
    """Typed access to one entity's fields, raising MalformedEntity."""

    def __init__(self, kind, entity, id_keys=('id',)):
        self.kind = kind
        self.ident = ident(entity, *id_keys)
        super().__init__(entity, self._malformed)

    def _malformed(self, reason, field=None):
        return exception.MalformedEntity(self.kind, self.ident, reason,
                                         field)


def parse_microversion(value):
    """'2.56' -> (2, 56)."""
    major, _sep, minor = str(value).partition('.')
    return int(major), int(minor or 0)


# --------------------------------------------------------------------------
# Nova and Placement
# --------------------------------------------------------------------------

def inventories_from_placement(body, provider_uuid):
    """``GET /resource_providers/{uuid}/inventories`` -> {rc: Inventory}."""
    reader = EntityReader('resource provider', {'id': provider_uuid})
    if not isinstance(body, dict):
        reader.fail('inventories answer is not an object')
    invs = reader.mapping('inventories', source=body)
    result = {}
    for rc, inv in invs.items():
        if not isinstance(inv, dict):
            reader.fail('inventory %s is not an object' % rc)
        total = reader.integer('total', source=inv)
        result[rc] = records.Inventory(
            resource_class=rc,
            total=total,
            reserved=reader.integer('reserved', False, 0, inv),
            allocation_ratio=float(
                reader.number('allocation_ratio', False, 1.0, inv)),
            min_unit=reader.integer('min_unit', False, 1, inv),
            max_unit=reader.integer('max_unit', False, total, inv),
            step_size=reader.integer('step_size', False, 1, inv))
    return result


def traits_from_placement(body, provider_uuid):
    """``GET /resource_providers/{uuid}/traits`` -> sorted trait names."""
    reader = EntityReader('resource provider', {'id': provider_uuid})
    if not isinstance(body, dict):
        reader.fail('traits answer is not an object')
    traits = reader.sequence('traits', source=body)
    if not all(isinstance(t, str) for t in traits):
        reader.fail('traits must be strings')
    return sorted(traits)


# Hypervisor fields Watcher falls back on when Placement has no inventory
# of a class (they are gone from the API from microversion 2.88 on).
_HYPERVISOR_FALLBACK = {
    records.VCPU: 'vcpus',
    records.MEMORY_MB: 'memory_mb',
    records.DISK_GB: 'local_gb',
}


def is_baremetal_hypervisor(hypervisor):
    return (isinstance(hypervisor, dict)
            and hypervisor.get('hypervisor_type') == 'ironic')


def compute_node(hypervisor, inventories=None, traits=None, service=None,
                 aggregates=None, updated_at=None):
    """A hypervisor (microversion >= 2.53) -> records.ComputeNode.

    :param hypervisor: one element of ``GET /os-hypervisors/detail``.
    :param inventories: {rc: Inventory} from Placement, or None when
        Placement does not know the provider; Watcher then takes the
        hypervisor's own vcpus / memory_mb / local_gb (reserved 0,
        ratio 1.0).
    :param traits: the provider's Placement traits.
    :param service: the node's ``nova-compute`` service from
        ``GET /os-services`` (its availability zone), or None.
    :param aggregates: [{'id': .., 'name': ..}] the host belongs to.
    """
    r = EntityReader('hypervisor', hypervisor)
    node_uuid = r.uuid('id')
    hypervisor_hostname = r.string('hypervisor_hostname')
    svc = r.mapping('service', required=False, default={})
    # Watcher names a compute node after its nova-compute service's host.
    hostname = (r.string('host', False, None, svc) or hypervisor_hostname)
    disabled_reason = r.string('disabled_reason', False, None, svc)
    state = r.string('state')
    status = r.string('status')

    invs = {}
    for rc, inv in (inventories or {}).items():
        invs[rc] = inv
    for rc, field in _HYPERVISOR_FALLBACK.items():
        if rc in invs:
            continue
        total = r.integer(field, required=False, default=0)
        invs[rc] = records.Inventory(resource_class=rc, total=total,
                                     reserved=0, allocation_ratio=1.0,
                                     min_unit=1, max_unit=total,
                                     step_size=1)

    zone = None
    if service is not None:
        zone = r.string('zone', False, None, service)
    return records.ComputeNode(
        uuid=node_uuid,
        hostname=hostname,
        status=status,
        state=state,
        disabled_reason=disabled_reason,
        inventories=invs,
        traits=list(traits or []),
        availability_zone=zone,
        aggregates=[dict(a) for a in (aggregates or [])],
        service_host=hostname,
        placeholder=False,
        updated_at=updated_at)


def aggregate(agg):
    """One element of ``GET /os-aggregates`` -> {'id', 'name', 'hosts'}."""
    r = EntityReader('aggregate', agg)
    hosts = r.sequence('hosts', False, [])
    if not all(isinstance(h, str) for h in hosts):
        r.fail('hosts must be strings')
    return {'id': r.get('id', (int, str), what='an id'),
            'name': r.string('name'),
            'hosts': list(hosts)}


def aggregates_by_host(aggregates):
    """Aggregates (from :func:`aggregate`) -> {host: [{'id', 'name'}]}."""
    result = {}
    for agg in aggregates:
        for host in agg['hosts']:
            result.setdefault(host, []).append(
                {'id': agg['id'], 'name': agg['name']})
    for host in result:
        result[host].sort(key=lambda a: str(a['name']))
    return result


def services_by_host(services):
    """``GET /os-services?binary=nova-compute`` -> {host: service}."""
    result = {}
    for svc in services:
        if isinstance(svc, dict) and isinstance(svc.get('host'), str):
            result[svc['host']] = svc
    return result


def _swap_gb(reader, flavor):
    swap = flavor.get('swap', 0)
    # Older microversions give "" for a flavor without swap.
    if swap in ('', None):
        return 0
    if isinstance(swap, bool) or not isinstance(swap, int):
        reader.fail('flavor swap must be an integer (MB), got %r' % (swap,))
    return int(math.ceil(swap / 1024))


def _boots_from_volume(server):
    """Watcher's rule: a server without an image boots from a volume."""
    image = server.get('image')
    if not image:
        return True
    if isinstance(image, dict):
        return not image.get('id')
    return False


def instance(server, node_uuid=None, updated_at=None,
             microversion=(2, 56)):
    """One element of ``GET /servers/detail`` (>= 2.47) -> Instance.

    The instance's disk is what it takes on its compute node, as Watcher
    counts it: the flavor's root disk unless it boots from a volume, plus
    ephemeral, plus swap rounded up to whole GB.
    """
    r = EntityReader('server', server)
    server_uuid = r.uuid('id')
    flavor = r.mapping('flavor')
    if 'vcpus' not in flavor:
        r.fail('the flavor is not embedded (compute microversion 2.47 or '
               'later needed)')
    vcpus = r.integer('vcpus', source=flavor)
    ram = r.integer('ram', source=flavor)
    root = 0 if _boots_from_volume(server) else r.integer(
        'disk', source=flavor)
    ephemeral = r.integer('ephemeral', False, 0, flavor)
    disk = root + ephemeral + _swap_gb(r, flavor)
    extra_specs = r.mapping('extra_specs', False, {}, flavor)

    pinned_az = ''
    if microversion >= PINNED_AZ_MICROVERSION:
        pinned_az = r.string('pinned_availability_zone', False, '') or ''
    host = r.string('OS-EXT-SRV-ATTR:host', False)
    return records.Instance(
        uuid=server_uuid,
        name=r.string('name', False, ''),
        state=r.string('OS-EXT-STS:vm_state'),
        vcpus=vcpus,
        memory=ram,
        disk=disk,
        metadata=dict(r.mapping('metadata', False, {})),
        project_id=r.string('tenant_id', False),
        locked=r.boolean('locked', False, False),
        host=host,
        hypervisor_hostname=r.string('OS-EXT-SRV-ATTR:hypervisor_hostname',
                                     False),
        created=r.string('created', False),
        pinned_az=pinned_az,
        flavor_extra_specs=dict(extra_specs),
        flavor_name=r.string('original_name', False, None, flavor),
        node_uuid=node_uuid,
        node_name=host,
        updated_at=updated_at)


def server_is_deleted(server):
    return (isinstance(server, dict)
            and server.get('OS-EXT-STS:vm_state') == 'deleted')


# --------------------------------------------------------------------------
# Cinder
# --------------------------------------------------------------------------

def volume_types_by_backend(volume_types):
    """``GET /types`` -> {volume_backend_name: [type names]}."""
    result = {}
    for vtype in volume_types:
        if not isinstance(vtype, dict):
            continue
        specs = vtype.get('extra_specs') or {}
        name = vtype.get('name')
        if not isinstance(specs, dict) or not isinstance(name, str):
            continue
        backend = specs.get('volume_backend_name')
        if isinstance(backend, str):
            result.setdefault(backend, []).append(name)
    return result


def storage_node(service, types_by_backend=None, updated_at=None):
    """A ``cinder-volume`` service -> records.StorageNode.

    Watcher gives a storage node the volume types whose
    ``volume_backend_name`` extra spec is the backend part of the host
    (``host@backend``).
    """
    r = EntityReader('storage service', service, id_keys=('host', 'id'))
    host = r.string('host')
    backend = host.split('@', 1)[1] if '@' in host else ''
    return records.StorageNode(
        host=host,
        zone=r.string('zone', False, '') or '',
        status=r.string('status'),
        state=r.string('state'),
        volume_type=list((types_by_backend or {}).get(backend, [])),
        updated_at=updated_at)


def _capacity(reader, caps, key, required=True, default=None):
    value = caps.get(key)
    if value is None:
        if required:
            reader.fail('missing capability %r' % key)
        return default
    if isinstance(value, bool):
        reader.fail('capability %r is not a number: %r' % (key, value))
    try:
        # Watcher: int(value); Cinder may report "123.45" strings.
        return int(float(value))
    except (TypeError, ValueError):
        # "unknown" / "infinite" capacities: Watcher refuses the pool.
        reader.fail('capability %r is not a number: %r' % (key, value))


def pool(pool_body, updated_at=None):
    """One element of ``GET /scheduler-stats/get_pools?detail=True``."""
    r = EntityReader('pool', pool_body, id_keys=('name',))
    name = r.string('name')
    caps = r.mapping('capabilities')
    total = _capacity(r, caps, 'total_capacity_gb')
    free = _capacity(r, caps, 'free_capacity_gb')
    allocated = _capacity(r, caps, 'allocated_capacity_gb', False, 0)
    provisioned = _capacity(r, caps, 'provisioned_capacity_gb', False,
                            allocated)
    total_volumes = _capacity(r, caps, 'total_volumes', False, 0)
    for key, value in (('total_capacity_gb', total),
                       ('free_capacity_gb', free),
                       ('allocated_capacity_gb', allocated),
                       ('provisioned_capacity_gb', provisioned),
                       ('total_volumes', total_volumes)):
        if value < 0:
            r.fail('capability %r is negative: %r' % (key, value))
    return records.Pool(
        name=name,
        # Watcher maps a pool to the storage node named by the part of its
        # name before '#' ("host@backend").
        node_host=name.split('#', 1)[0],
        total_volumes=total_volumes,
        total_capacity_gb=total,
        free_capacity_gb=free,
        provisioned_capacity_gb=provisioned,
        allocated_capacity_gb=allocated,
        updated_at=updated_at)


def _bootable(reader, volume):
    value = volume.get('bootable', False)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ('true', 'false'):
        return value.lower() == 'true'
    reader.fail('field %r must be "true" or "false", got %r'
                % ('bootable', value))


def volume(volume_body, updated_at=None):
    """One element of ``GET /volumes/detail?all_tenants=1`` -> Volume."""
    r = EntityReader('volume', volume_body)
    vol_uuid = r.uuid('id')
    attachments = []
    for att in r.sequence('attachments', False, []):
        if not isinstance(att, dict):
            r.fail('attachments must be objects')
        attachments.append({k: v for k, v in att.items()
                            if k in ('server_id', 'attachment_id')})
    return records.Volume(
        uuid=vol_uuid,
        name=r.string('name', False, '') or '',
        size=r.integer('size'),
        status=r.string('status'),
        attachments=attachments,
        multiattach=r.boolean('multiattach', False, False),
        snapshot_id=r.string('snapshot_id', False, '') or '',
        project_id=r.string('os-vol-tenant-attr:tenant_id', False),
        metadata=dict(r.mapping('metadata', False, {})),
        bootable=_bootable(r, volume_body),
        volume_type=r.string('volume_type', False),
        created_at=r.string('created_at', False),
        host=r.string('os-vol-host-attr:host', False),
        updated_at=updated_at)


# --------------------------------------------------------------------------
# Ironic
# --------------------------------------------------------------------------

def ironic_inventories(resource_class, power_state, provision_state,
                       maintenance, instance_uuid):
    """The CUSTOM_* inventory Nova's Ironic driver reports for a node.

    Total 1 of the node's class; reserved when the node cannot take a new
    instance and has none (maintenance, bad power or provision state).
    """
    rc = records.custom_resource_class(resource_class)
    if not rc:
        return {}
    used = bool(instance_uuid) or provision_state == 'active'
    unavailable = (maintenance
                   or power_state in _IRONIC_BAD_POWER_STATES
                   or provision_state not in _IRONIC_GOOD_PROVISION_STATES)
    reserved = 1 if (unavailable and not used) else 0
    return {rc: records.Inventory(resource_class=rc, total=1,
                                  reserved=reserved, allocation_ratio=1.0,
                                  min_unit=1, max_unit=1, step_size=1)}


def ironic_node(node, updated_at=None):
    """One element of ``GET /v1/nodes/detail`` -> records.IronicNode."""
    r = EntityReader('ironic node', node, id_keys=('uuid',))
    node_uuid = r.uuid('uuid')
    power_state = r.string('power_state', False)
    provision_state = r.string('provision_state', False)
    maintenance = r.boolean('maintenance', False, False)
    resource_class = r.string('resource_class', False)
    return records.IronicNode(
        uuid=node_uuid,
        human_id=r.string('name', False, '') or '',
        power_state=power_state,
        maintenance=maintenance,
        maintenance_reason=r.string('maintenance_reason', False),
        extra=dict(r.mapping('extra', False, {})),
        resource_class=resource_class,
        provision_state=provision_state,
        inventories=ironic_inventories(
            resource_class, power_state, provision_state, maintenance,
            r.string('instance_uuid', False)),
        updated_at=updated_at)
