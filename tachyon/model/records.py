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

"""Plain domain records.

These dataclasses are what crosses the borders inside Tachyon: handlers and
collectors build them from payloads and API answers, the graph layer turns
them into Cypher parameters and back, the RPC layer into JSON-safe dicts. No
record knows about Neo4j, oslo.messaging or Watcher.

Fields follow Watcher's element classes (``watcher.decision_engine.model.
element``) so the client can build Watcher objects without renaming, plus
what the graph needs beyond Watcher (inventory details, timestamps).

``updated_at`` on every entity record is the time (seconds since the epoch,
float) of the observation the record comes from: a notification's timestamp
or the start of a full sync. The graph layer never lets an older observation
overwrite a newer one; ``None`` means "apply unconditionally" (imports,
operator actions).
"""

import dataclasses
import typing
import uuid as uuid_lib

# Resource classes Watcher's compute model speaks of, and the name Watcher
# gives each in get_node_used_resources() / get_node_free_resources().
VCPU = 'VCPU'
MEMORY_MB = 'MEMORY_MB'
DISK_GB = 'DISK_GB'
COMPUTE_RESOURCE_CLASSES = (VCPU, MEMORY_MB, DISK_GB)
WATCHER_RESOURCE_KEYS = {VCPU: 'vcpu', MEMORY_MB: 'memory', DISK_GB: 'disk'}

#: Watcher's ComputeNode field names of each inventory's total, reserved
#: and allocation ratio.
WATCHER_INVENTORY_FIELDS = {
    VCPU: ('vcpus', 'vcpu_reserved', 'vcpu_ratio'),
    MEMORY_MB: ('memory', 'memory_mb_reserved', 'memory_ratio'),
    DISK_GB: ('disk', 'disk_gb_reserved', 'disk_ratio'),
}

# Provider kinds (the ``kind`` property of a ResourceProvider node).
KIND_COMPUTE = 'compute'
KIND_STORAGE = 'storage'
KIND_POOL = 'pool'
KIND_BAREMETAL = 'baremetal'

# Consumer types (the ``type`` property of a Consumer node).
TYPE_INSTANCE = 'instance'
TYPE_VOLUME = 'volume'

# Namespace for the uuids Tachyon derives for entities Cinder names only by
# host (storage nodes) or by "host@backend#pool" (pools).
_TACHYON_NS = uuid_lib.UUID('6f1c5a1e-2b7a-4e0a-9a53-7d1f3f8c2b10')


def storage_node_uuid(host):
    """The stable uuid Tachyon gives the storage node of a Cinder host."""
    return str(uuid_lib.uuid5(_TACHYON_NS, 'storage-node:' + host))


def placeholder_node_uuid(hostname):
    """The uuid of the placeholder of a compute node known only by name.

    A notification can name a compute node the graph does not have yet
    and the APIs cannot describe; a placeholder stands for it (empty
    inventories) until a full sync finds the real node.
    """
    return str(uuid_lib.uuid5(_TACHYON_NS, 'compute-node:' + hostname))


def pool_uuid(name):
    """The stable uuid Tachyon gives a Cinder pool ("host@backend#pool")."""
    return str(uuid_lib.uuid5(_TACHYON_NS, 'pool:' + name))


def capacity(total, reserved, allocation_ratio):
    """Watcher's capacity of an inventory: (total - reserved) * ratio.

    The one place Tachyon computes it; the graph, the simulation and the
    records all call this.
    """
    return (total - reserved) * allocation_ratio


@dataclasses.dataclass
class Inventory:
    """One resource class's inventory on a provider, as Placement has it."""

    resource_class: str
    total: int = 0
    reserved: int = 0
    allocation_ratio: float = 1.0
    min_unit: int = 1
    max_unit: typing.Optional[int] = None
    step_size: int = 1

    @property
    def capacity(self):
        """Watcher's capacity: (total - reserved) * allocation_ratio."""
        return capacity(self.total, self.reserved, self.allocation_ratio)


@dataclasses.dataclass
class ComputeNode:
    """A hypervisor (Watcher's ComputeNode)."""

    uuid: str
    hostname: str
    status: str = 'enabled'
    state: str = 'up'
    disabled_reason: typing.Optional[str] = None
    # Inventories keyed by resource class (VCPU, MEMORY_MB, DISK_GB, ...).
    inventories: typing.Dict[str, Inventory] = dataclasses.field(
        default_factory=dict)
    # Extra Placement traits beyond the ones Tachyon manages itself.
    traits: typing.List[str] = dataclasses.field(default_factory=list)
    availability_zone: typing.Optional[str] = None
    # Host aggregates this node belongs to: [{'id': 1, 'name': 'agg'}].
    aggregates: typing.List[dict] = dataclasses.field(default_factory=list)
    # Nova compute service host name (may differ from the hypervisor name).
    service_host: typing.Optional[str] = None
    # True for a node only seen in a notification so far; the next full
    # sync completes it.
    placeholder: bool = False
    generation: typing.Optional[int] = None
    updated_at: typing.Optional[float] = None
    # Watcher fields a Watcher model (XML) left unset, beyond those an
    # absent inventory leaves: a null ``disabled_reason`` is otherwise
    # set to None, as Watcher's collector sets it from Nova's service.
    watcher_unset: typing.Tuple[str, ...] = ()

    def inventory(self, resource_class):
        return self.inventories.get(resource_class) or Inventory(
            resource_class)


@dataclasses.dataclass
class Instance:
    """A server (Watcher's Instance)."""

    uuid: str
    name: str = ''
    state: str = 'active'
    vcpus: int = 0
    memory: int = 0
    disk: int = 0
    metadata: dict = dataclasses.field(default_factory=dict)
    project_id: typing.Optional[str] = None
    locked: bool = False
    watcher_exclude: bool = False
    host: typing.Optional[str] = None
    hypervisor_hostname: typing.Optional[str] = None
    created: typing.Optional[str] = None
    pinned_az: str = ''
    flavor_extra_specs: dict = dataclasses.field(default_factory=dict)
    flavor_name: typing.Optional[str] = None
    # Where the instance runs: the compute node's uuid, or, when only the
    # hypervisor's name is known, its name. Both None: unmapped.
    node_uuid: typing.Optional[str] = None
    node_name: typing.Optional[str] = None
    generation: typing.Optional[int] = None
    updated_at: typing.Optional[float] = None

    @property
    def resources(self):
        """Amounts consumed, keyed by resource class."""
        return {VCPU: self.vcpus, MEMORY_MB: self.memory, DISK_GB: self.disk}


@dataclasses.dataclass
class StorageNode:
    """A cinder-volume service host (Watcher's StorageNode)."""

    host: str
    zone: str = ''
    status: str = 'enabled'
    state: str = 'up'
    volume_type: typing.List[str] = dataclasses.field(default_factory=list)
    uuid: typing.Optional[str] = None
    generation: typing.Optional[int] = None
    updated_at: typing.Optional[float] = None

    def __post_init__(self):
        if not self.uuid:
            self.uuid = storage_node_uuid(self.host)


@dataclasses.dataclass
class Pool:
    """A Cinder storage pool (Watcher's Pool), named host@backend#pool."""

    name: str
    total_volumes: int = 0
    total_capacity_gb: int = 0
    free_capacity_gb: int = 0
    provisioned_capacity_gb: int = 0
    allocated_capacity_gb: int = 0
    virtual_free: int = 0
    # The storage node the pool belongs to: Watcher's StorageNode.host,
    # i.e. 'host@backend', the pool name's part before '#' when not given.
    node_host: typing.Optional[str] = None
    uuid: typing.Optional[str] = None
    generation: typing.Optional[int] = None
    updated_at: typing.Optional[float] = None

    def __post_init__(self):
        if not self.uuid:
            self.uuid = pool_uuid(self.name)
        if not self.node_host and '#' in self.name:
            self.node_host = self.name.split('#', 1)[0]


@dataclasses.dataclass
class Volume:
    """A Cinder volume (Watcher's Volume)."""

    uuid: str
    name: str = ''
    size: int = 0
    status: str = 'available'
    attachments: typing.List[dict] = dataclasses.field(default_factory=list)
    multiattach: bool = False
    snapshot_id: typing.Optional[str] = None
    project_id: typing.Optional[str] = None
    metadata: dict = dataclasses.field(default_factory=dict)
    bootable: bool = False
    volume_type: typing.Optional[str] = None
    created_at: typing.Optional[str] = None
    # os-vol-host-attr:host, i.e. the pool name host@backend#pool.
    host: typing.Optional[str] = None
    # The pool the volume lives in; defaults to ``host``. None: unmapped.
    pool_name: typing.Optional[str] = None
    generation: typing.Optional[int] = None
    updated_at: typing.Optional[float] = None

    def __post_init__(self):
        if self.pool_name is None and self.host:
            self.pool_name = self.host


@dataclasses.dataclass
class IronicNode:
    """A baremetal node (Watcher's IronicNode)."""

    uuid: str
    human_id: str = ''
    power_state: typing.Optional[str] = None
    maintenance: bool = False
    maintenance_reason: typing.Optional[str] = None
    extra: dict = dataclasses.field(default_factory=dict)
    resource_class: typing.Optional[str] = None
    provision_state: typing.Optional[str] = None
    # Inventories keyed by resource class; an Ironic node has one of its
    # CUSTOM_* class (total 1) when it is available for scheduling.
    inventories: typing.Dict[str, Inventory] = dataclasses.field(
        default_factory=dict)
    generation: typing.Optional[int] = None
    updated_at: typing.Optional[float] = None


def custom_resource_class(name):
    """Placement's CUSTOM_* name of an Ironic node's resource class."""
    if not name:
        return None
    norm = ''.join(c if c.isalnum() else '_' for c in name.upper())
    return norm if norm.startswith('CUSTOM_') else 'CUSTOM_' + norm


_SCALARS = (str, int, float, bool, type(None))
_FIELD_NAMES = {}


def plain(value):
    """A field's value as plain data.

    Records in it become dicts and containers are copied, as
    ``dataclasses.asdict`` does to each field.
    """
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(plain(item) for item in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return as_dict(value)
    return value


def field_names(record):
    """The names of a record's fields, in order."""
    names = _FIELD_NAMES.get(type(record))
    if names is None:
        names = tuple(f.name for f in dataclasses.fields(record))
        _FIELD_NAMES[type(record)] = names
    return names


def as_dict(record):
    """A record as a plain (JSON-safe) dict.

    What ``dataclasses.asdict`` answers (containers copied, nested records
    turned into dicts), several times faster: a snapshot turns tens of
    thousands of records into dicts.
    """
    return {name: plain(getattr(record, name))
            for name in field_names(record)}


@dataclasses.dataclass
class Aggregate:
    """A Nova host aggregate as an ``aggregate.*.end`` notification has it.

    ``hosts`` are its member hosts after the change (compute service host
    names); ``availability_zone`` its ``availability_zone`` metadata (None:
    none). ``default_zone`` is Nova's ``[DEFAULT]/default_availability_zone``:
    the zone of a host no zoned aggregate holds.
    """

    id: int
    name: str
    hosts: typing.List[str] = dataclasses.field(default_factory=list)
    availability_zone: typing.Optional[str] = None
    default_zone: str = 'nova'
    uuid: typing.Optional[str] = None
