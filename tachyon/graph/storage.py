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

"""Watcher's storage model (StorageNode, Pool, Volume) in the graph.

Shape::

    (:ResourceProvider {uuid, kind: 'storage', name: 'host@backend', zone,
                        status, state, volume_types, generation,
                        updated_at, fingerprint})
      -[:HAS_TRAIT]->(:Trait {name: 'STORAGE_BACKEND'})
      -[:HAS_TRAIT]->(:Trait {name: 'STORAGE_TYPE_<TYPE>'})  per volume type
      -[:LOCATED_IN]->(:AvailabilityZone {name: zone})
      -[:PARENT_OF]->(:ResourceProvider {kind: 'pool',
                                          name: 'host@backend#pool',
                                          node_host, total_volumes,
                                          total_capacity_gb, ...})
                       -[:HAS_INVENTORY]->(:Inventory {resource_class:
                                                       'DISK_GB', total})
    (:Consumer {uuid, type: 'volume', name, size, status, bootable, ...,
                metadata, attachments (JSON strings), pool_name})
      -[:CONSUMES {used: size, resource_class: 'DISK_GB'}]->(pool's inv)
      -[:OWNED_BY]->(:Project)
      -[:ATTACHED_TO]->(:Consumer {type: 'instance'})  per attached server

Storage nodes and pools get stable uuids derived from their names
(:func:`tachyon.model.records.storage_node_uuid`, ``pool_uuid``): Cinder
gives them none. A pool seen before its storage node, or a volume before
its pool, is linked when the other arrives. The staleness and tombstone
rules are those of :mod:`tachyon.graph.upsert`.
"""

from tachyon import exception
from tachyon.graph import common
from tachyon.graph import tombstones
from tachyon.graph import upsert
from tachyon.model import records

KIND_NODE = records.KIND_STORAGE
KIND_POOL = records.KIND_POOL
TYPE_VOLUME = records.TYPE_VOLUME
TRAIT_BACKEND = 'STORAGE_BACKEND'
TYPE_TRAIT_PREFIX = 'STORAGE_TYPE_'

# ---------------------------------------------------------------------------
# Cypher
# ---------------------------------------------------------------------------

WRITE_STORAGE_NODES = upsert.fresh_merge(
    'rp', upsert.PROVIDER, KIND_NODE) + """\
SET rp.name = row.host, rp.zone = row.zone, rp.status = row.status,
    rp.state = row.state, rp.volume_types = row.volume_types,
""" + upsert.fresh_tail('rp') + """\
WITH rp, row
CALL (rp, row) {
  OPTIONAL MATCH (rp)-[old:HAS_TRAIT]->(t:Trait)
  WHERE NOT t.name IN row.traits
  DELETE old
}
CALL (rp, row) {
  UNWIND row.traits AS trait_name
  MERGE (t:Trait {name: trait_name})
  MERGE (rp)-[:HAS_TRAIT]->(t)
}
CALL (rp, row) {
  OPTIONAL MATCH (rp)-[old:LOCATED_IN]->(az:AvailabilityZone)
  WHERE row.zone = '' OR az.name <> row.zone
  DELETE old
  RETURN collect(az.name) AS old_azs
}
CALL (rp, row) {
  WITH rp, row WHERE row.zone <> ''
  MERGE (az:AvailabilityZone {name: row.zone})
  MERGE (rp)-[:LOCATED_IN]->(az)
}
CALL (rp, row) {
  MATCH (pool:ResourceProvider {kind: 'pool', node_host: row.host})
  WHERE NOT EXISTS { ()-[:PARENT_OF]->(pool) }
  MERGE (rp)-[:PARENT_OF]->(pool)
}
RETURN rp.uuid AS uuid, old_azs
"""

WRITE_POOLS = upsert.fresh_merge(
    'rp', upsert.PROVIDER, KIND_POOL) + """\
SET rp.name = row.name, rp.node_host = row.node_host,
    rp.total_volumes = row.total_volumes,
    rp.total_capacity_gb = row.total_capacity_gb,
    rp.free_capacity_gb = row.free_capacity_gb,
    rp.provisioned_capacity_gb = row.provisioned_capacity_gb,
    rp.allocated_capacity_gb = row.allocated_capacity_gb,
    rp.virtual_free = row.virtual_free,
""" + upsert.fresh_tail('rp') + """\
MERGE (inv:Inventory {provider_uuid: row.uuid, resource_class: 'DISK_GB'})
SET inv.total = row.total_capacity_gb, inv.reserved = 0,
    inv.allocation_ratio = 1.0, inv.min_unit = 1,
    inv.max_unit = row.total_capacity_gb, inv.step_size = 1
MERGE (rp)-[:HAS_INVENTORY]->(inv)
MERGE (rc:ResourceClass {name: 'DISK_GB'})
MERGE (inv)-[:OF_CLASS]->(rc)
WITH rp, row, inv
CALL (rp, row) {
  OPTIONAL MATCH (other:ResourceProvider)-[old:PARENT_OF]->(rp)
  WHERE other.name <> row.node_host
  DELETE old
}
CALL (rp, row) {
  MATCH (node:ResourceProvider {kind: 'storage', name: row.node_host})
  MERGE (node)-[:PARENT_OF]->(rp)
}
CALL (row, inv) {
  MATCH (v:Consumer {type: 'volume', pool_name: row.name})
  WHERE NOT EXISTS { (v)-[:CONSUMES]->() }
  CREATE (v)-[:CONSUMES {used: v.size, resource_class: 'DISK_GB'}]->(inv)
}
RETURN rp.uuid AS uuid
"""

WRITE_VOLUMES = upsert.fresh_merge(
    'c', upsert.CONSUMER, TYPE_VOLUME) + """\
SET c.name = row.name, c.size = row.size, c.status = row.status,
    c.attachments = row.attachments, c.multiattach = row.multiattach,
    c.snapshot_id = row.snapshot_id, c.project_id = row.project_id,
    c.metadata = row.metadata, c.bootable = row.bootable,
    c.volume_type = row.volume_type, c.created_at = row.created_at,
    c.host = row.host, c.pool_name = row.pool_name,
""" + upsert.fresh_tail('c') + """\
WITH c, row
CALL (c) {
  OPTIONAL MATCH (c)-[old:CONSUMES]->()
  DELETE old
}
CALL (c, row) {
  MATCH (pool:ResourceProvider {name: row.pool_name})
        -[:HAS_INVENTORY]->(inv:Inventory {resource_class: 'DISK_GB'})
  WHERE pool.kind = 'pool'
  CREATE (c)-[:CONSUMES {used: row.size, resource_class: 'DISK_GB'}]->(inv)
}
CALL (c, row) {
  OPTIONAL MATCH (c)-[old:OWNED_BY]->(p:Project)
  WHERE row.project_id IS NULL OR p.external_id <> row.project_id
  DELETE old
  RETURN collect(p.external_id) AS old_projects
}
CALL (c, row) {
  WITH c, row WHERE row.project_id IS NOT NULL
  MERGE (p:Project {external_id: row.project_id})
  MERGE (c)-[:OWNED_BY]->(p)
}
CALL (c) {
  OPTIONAL MATCH (c)-[old:ATTACHED_TO]->()
  DELETE old
}
CALL (c, row) {
  UNWIND row.server_ids AS server_id
  MATCH (server:Consumer {uuid: server_id})
  WHERE server.type = 'instance'
  MERGE (c)-[:ATTACHED_TO]->(server)
}
RETURN c.uuid AS uuid, old_projects
"""

DELETE_VOLUMES = """
UNWIND $uuids AS uuid
MATCH (c:Consumer {uuid: uuid})
WHERE c.type = 'volume'
OPTIONAL MATCH (c)-[:OWNED_BY]->(p:Project)
WITH c, c.uuid AS uuid, collect(p.external_id) AS projects
DETACH DELETE c
RETURN uuid, projects
"""

_NODE_RETURN = """
RETURN rp.uuid AS uuid, rp.name AS host, rp.zone AS zone,
       rp.status AS status, rp.state AS state,
       rp.volume_types AS volume_types, rp.generation AS generation,
       rp.updated_at AS updated_at
ORDER BY rp.name
"""

_POOL_RETURN = """
RETURN rp.uuid AS uuid, rp.name AS name, rp.node_host AS node_host,
       rp.total_volumes AS total_volumes,
       rp.total_capacity_gb AS total_capacity_gb,
       rp.free_capacity_gb AS free_capacity_gb,
       rp.provisioned_capacity_gb AS provisioned_capacity_gb,
       rp.allocated_capacity_gb AS allocated_capacity_gb,
       rp.virtual_free AS virtual_free, rp.generation AS generation,
       rp.updated_at AS updated_at
ORDER BY rp.name
"""

_VOLUME_RETURN = """
RETURN c.uuid AS uuid, c.name AS name, c.size AS size, c.status AS status,
       c.attachments AS attachments, c.multiattach AS multiattach,
       c.snapshot_id AS snapshot_id, c.project_id AS project_id,
       c.metadata AS metadata, c.bootable AS bootable,
       c.volume_type AS volume_type, c.created_at AS created_at,
       c.host AS host, pool.name AS pool_name, c.generation AS generation,
       c.updated_at AS updated_at
ORDER BY c.uuid
"""

ALL_NODES = "MATCH (rp:ResourceProvider {kind: 'storage'})" + _NODE_RETURN
NODE_BY_NAME = """
MATCH (rp:ResourceProvider {name: $name})
WHERE rp.kind = 'storage'
""" + _NODE_RETURN
NODE_BY_POOL_NAME = """
MATCH (rp:ResourceProvider)-[:PARENT_OF]->(pool:ResourceProvider
                                            {name: $name})
WHERE rp.kind = 'storage' AND pool.kind = 'pool'
""" + _NODE_RETURN

ALL_POOLS = "MATCH (rp:ResourceProvider {kind: 'pool'})" + _POOL_RETURN
POOL_BY_NAME = """
MATCH (rp:ResourceProvider {name: $name})
WHERE rp.kind = 'pool'
""" + _POOL_RETURN
NODE_POOLS = """
MATCH (node:ResourceProvider {name: $name})-[:PARENT_OF]->(rp)
WHERE node.kind = 'storage' AND rp.kind = 'pool'
""" + _POOL_RETURN
POOL_BY_VOLUME = """
MATCH (c:Consumer {uuid: $uuid})-[:CONSUMES]->(:Inventory)
      <-[:HAS_INVENTORY]-(rp:ResourceProvider)
WHERE c.type = 'volume' AND rp.kind = 'pool'
""" + _POOL_RETURN

ALL_VOLUMES = """
MATCH (c:Consumer {type: 'volume'})
OPTIONAL MATCH (c)-[:CONSUMES]->(:Inventory)
               <-[:HAS_INVENTORY]-(pool:ResourceProvider)
""" + _VOLUME_RETURN
VOLUME_BY_UUID = """
MATCH (c:Consumer {uuid: $uuid})
WHERE c.type = 'volume'
OPTIONAL MATCH (c)-[:CONSUMES]->(:Inventory)
               <-[:HAS_INVENTORY]-(pool:ResourceProvider)
""" + _VOLUME_RETURN
POOL_VOLUMES = """
MATCH (pool:ResourceProvider {name: $name})-[:HAS_INVENTORY]->(:Inventory)
      <-[:CONSUMES]-(c:Consumer)
WHERE pool.kind = 'pool' AND c.type = 'volume'
""" + _VOLUME_RETURN

POOLS_BY_NAME = """
UNWIND $names AS name
MATCH (rp:ResourceProvider {name: name})
USING INDEX SEEK rp:ResourceProvider(name)
WHERE rp.kind = 'pool'
""" + _POOL_RETURN

VOLUMES_BY_UUID = """
UNWIND $uuids AS uuid
MATCH (c:Consumer {uuid: uuid})
USING INDEX SEEK c:Consumer(uuid)
WHERE c.type = 'volume'
OPTIONAL MATCH (c)-[:CONSUMES]->(:Inventory)
               <-[:HAS_INVENTORY]-(pool:ResourceProvider)
""" + _VOLUME_RETURN

# The uuids among $uuids that are volumes of the graph.
KNOWN_VOLUMES = """
UNWIND $uuids AS uuid
MATCH (c:Consumer {uuid: uuid})
USING INDEX SEEK c:Consumer(uuid)
WHERE c.type = 'volume'
RETURN collect(c.uuid) AS known
"""

STORAGE_NODE = upsert.Entity(kind=KIND_NODE,
                             tombstone_kind=tombstones.KIND_STORAGE_NODE,
                             write=WRITE_STORAGE_NODES)
POOL = upsert.Entity(kind=KIND_POOL, tombstone_kind=tombstones.KIND_POOL,
                     write=WRITE_POOLS)
VOLUME = upsert.Entity(kind=TYPE_VOLUME,
                       tombstone_kind=tombstones.KIND_VOLUME,
                       label=upsert.CONSUMER, write=WRITE_VOLUMES,
                       delete=DELETE_VOLUMES)

# ---------------------------------------------------------------------------
# Rows
# ---------------------------------------------------------------------------


def type_trait(volume_type):
    """The ``STORAGE_TYPE_*`` trait of a volume type name."""
    norm = ''.join(ch if ch.isalnum() else '_' for ch in volume_type.upper())
    return TYPE_TRAIT_PREFIX + norm


def storage_node_row(node):
    types = [t for t in (node.volume_type or []) if t]
    row = {'uuid': node.uuid, 'host': node.host, 'zone': node.zone or '',
           'status': node.status, 'state': node.state,
           'volume_types': types,
           'traits': sorted({TRAIT_BACKEND}
                            | {type_trait(t) for t in types})}
    return upsert.stamp(row, node.updated_at)


def pool_row(pool):
    if not pool.name or '#' not in pool.name:
        raise exception.InvalidParameter(
            field='name', reason='pool name %r is not host@backend#pool'
            % pool.name)
    row = {'uuid': pool.uuid, 'name': pool.name,
           'node_host': pool.node_host or pool.name.split('#', 1)[0]}
    for field in ('total_volumes', 'total_capacity_gb', 'free_capacity_gb',
                  'provisioned_capacity_gb', 'allocated_capacity_gb',
                  'virtual_free'):
        row[field] = int(getattr(pool, field) or 0)
    return upsert.stamp(row, pool.updated_at)


def volume_row(vol):
    if vol.size is None or int(vol.size) < 0:
        raise exception.InvalidParameter(
            field='size', reason='volume %s has size %r' % (vol.uuid,
                                                            vol.size))
    attachments = list(vol.attachments or [])
    row = {'uuid': vol.uuid, 'name': vol.name or '', 'size': int(vol.size),
           'status': vol.status, 'attachments': common.to_json(attachments),
           'multiattach': bool(vol.multiattach),
           'snapshot_id': vol.snapshot_id, 'project_id': vol.project_id,
           'metadata': common.to_json(vol.metadata or {}),
           'bootable': bool(vol.bootable), 'volume_type': vol.volume_type,
           'created_at': vol.created_at, 'host': vol.host,
           'pool_name': vol.pool_name,
           'server_ids': sorted({a['server_id'] for a in attachments
                                 if isinstance(a, dict)
                                 and a.get('server_id')})}
    return upsert.stamp(row, vol.updated_at)


# ---------------------------------------------------------------------------
# Writes
# ---------------------------------------------------------------------------

def write_storage_nodes(tx, graph, nodes):
    """Upsert StorageNode records inside ``tx``; :returns: SyncCounts."""
    return upsert.upsert(tx, graph, STORAGE_NODE,
                         [storage_node_row(n) for n in nodes])


def write_pools(tx, graph, pools):
    """Upsert Pool records inside ``tx``; :returns: SyncCounts."""
    return upsert.upsert(tx, graph, POOL, [pool_row(p) for p in pools])


def write_volumes(tx, graph, volumes):
    """Upsert Volume records inside ``tx``; :returns: SyncCounts."""
    return upsert.upsert(tx, graph, VOLUME, [volume_row(v) for v in volumes])


def upsert_storage_nodes(graph, nodes):
    """Create or update storage nodes (records.StorageNode) in bulk."""
    return upsert.upsert_records(graph, storage_node_row, nodes, upsert.upsert,
                                 STORAGE_NODE)


def upsert_pools(graph, pools):
    """Create or update pools (records.Pool) in bulk.

    Each pool gets its DISK_GB inventory; volumes already known to live in
    a pool are mapped to it.
    """
    return upsert.upsert_records(graph, pool_row, pools, upsert.upsert,
                                 POOL)


def upsert_volumes(graph, volumes):
    """Create or update volumes (records.Volume) in bulk.

    A volume consumes its size of DISK_GB on the pool named by
    ``pool_name``; a changed size or pool moves the consumption (and bumps
    both pools' generations through the volume's own).
    """
    return upsert.upsert_records(graph, volume_row, volumes, upsert.upsert,
                                 VOLUME)


def remove_volumes(tx, uuids, deleted_at=None):
    """Delete volumes inside ``tx``; they leave tombstones."""
    return upsert.delete(tx, VOLUME, uuids, deleted_at)


def delete_storage_nodes(graph, uuids, deleted_at=None):
    """Delete storage nodes by uuid (their pools stay until deleted)."""
    return upsert.delete_records(graph, STORAGE_NODE, uuids, deleted_at)


def delete_pools(graph, uuids, deleted_at=None):
    """Delete pools and their inventory; their volumes stay, unmapped."""
    return upsert.delete_records(graph, POOL, uuids, deleted_at)


def delete_volumes(graph, uuids, deleted_at=None):
    """Delete volumes; they leave tombstones."""
    return upsert.delete_records(graph, VOLUME, uuids, deleted_at)


def prune_storage_nodes(graph, keep_uuids, before):
    """Delete the storage nodes a full sync no longer finds.

    Those not in ``keep_uuids`` and last seen before ``before``.
    """
    return graph.write(upsert.prune, STORAGE_NODE, keep_uuids, before)


def prune_pools(graph, keep_uuids, before):
    """Delete the pools a full sync no longer finds."""
    return graph.write(upsert.prune, POOL, keep_uuids, before)


def prune_volumes(graph, keep_uuids, before):
    """Delete the volumes a full sync no longer finds."""
    return graph.write(upsert.prune, VOLUME, keep_uuids, before)


# ---------------------------------------------------------------------------
# Reads
# ---------------------------------------------------------------------------

def storage_node_record(row):
    return records.StorageNode(
        uuid=row['uuid'], host=row['host'], zone=row['zone'] or '',
        status=row['status'], state=row['state'],
        volume_type=list(row['volume_types'] or []),
        generation=row['generation'], updated_at=row['updated_at'])


def pool_record(row):
    return records.Pool(
        uuid=row['uuid'], name=row['name'], node_host=row['node_host'],
        total_volumes=row['total_volumes'],
        total_capacity_gb=row['total_capacity_gb'],
        free_capacity_gb=row['free_capacity_gb'],
        provisioned_capacity_gb=row['provisioned_capacity_gb'],
        allocated_capacity_gb=row['allocated_capacity_gb'],
        virtual_free=row['virtual_free'], generation=row['generation'],
        updated_at=row['updated_at'])


def volume_record(row):
    return records.Volume(
        uuid=row['uuid'], name=row['name'], size=row['size'],
        status=row['status'],
        attachments=common.from_json(row['attachments'], []),
        multiattach=row['multiattach'], snapshot_id=row['snapshot_id'],
        project_id=row['project_id'],
        metadata=common.from_json(row['metadata']),
        bootable=row['bootable'], volume_type=row['volume_type'],
        created_at=row['created_at'], host=row['host'],
        pool_name=row['pool_name'] or '', generation=row['generation'],
        updated_at=row['updated_at'])


def _read(graph, query, convert, **params):
    return graph.read(common.read_all, query, convert, **params)


def _read_one(graph, query, convert, kind, ident, **params):
    found = _read(graph, query, convert, **params)
    if not found:
        raise exception.NotFound(kind=kind, ident=ident)
    return found[0]


def get_all_storage_nodes(graph):
    """{host: StorageNode}."""
    return {n.host: n
            for n in _read(graph, ALL_NODES, storage_node_record)}


def get_node_by_name(graph, host):
    return _read_one(graph, NODE_BY_NAME, storage_node_record,
                     'storage node', host, name=host)


def get_node_by_pool_name(graph, pool_name):
    return _read_one(graph, NODE_BY_POOL_NAME, storage_node_record,
                     'storage node', pool_name, name=pool_name)


def get_all_pools(graph):
    """{pool name: Pool}."""
    return {p.name: p for p in _read(graph, ALL_POOLS, pool_record)}


def get_pool_by_pool_name(graph, name):
    return _read_one(graph, POOL_BY_NAME, pool_record, 'pool', name,
                     name=name)


def get_node_pools(graph, host):
    """The pools of a storage node; NotFound for an unknown node."""
    get_node_by_name(graph, host)
    return _read(graph, NODE_POOLS, pool_record, name=host)


def get_pool_by_volume(graph, volume_uuid):
    return _read_one(graph, POOL_BY_VOLUME, pool_record, 'pool of volume',
                     volume_uuid, uuid=volume_uuid)


def get_all_volumes(graph):
    """{uuid: Volume}."""
    return {v.uuid: v for v in _read(graph, ALL_VOLUMES, volume_record)}


def get_volume_by_uuid(graph, uuid):
    return _read_one(graph, VOLUME_BY_UUID, volume_record, 'volume', uuid,
                     uuid=uuid)


def get_pool_volumes(graph, pool_name):
    """The volumes of a pool; NotFound for an unknown pool."""
    get_pool_by_pool_name(graph, pool_name)
    return _read(graph, POOL_VOLUMES, volume_record, name=pool_name)


def pools_by_name(tx, names):
    """The pools of those names, inside ``tx``."""
    return common.read_all(tx, POOLS_BY_NAME, pool_record, names=list(names))


def volumes_by_uuid(tx, uuids):
    """The known volumes among ``uuids``, inside ``tx``."""
    return common.read_all(tx, VOLUMES_BY_UUID, volume_record,
                           uuids=list(uuids))


def _known_volumes(tx, uuids):
    return tx.run(KNOWN_VOLUMES, uuids=uuids).single()['known']


def known_volumes(graph, uuids):
    """The uuids among ``uuids`` of volumes the graph has (a set)."""
    uuids = sorted({u for u in uuids if u})
    if not uuids:
        return set()
    return set(graph.read(_known_volumes, uuids))


def _model(tx):
    nodes = common.read_all(tx, ALL_NODES, storage_node_record)
    pools = common.read_all(tx, ALL_POOLS, pool_record)
    volumes = common.read_all(tx, ALL_VOLUMES, volume_record)
    node_pools = {n.host: [] for n in nodes}
    for pool in pools:
        if pool.node_host in node_pools:
            node_pools[pool.node_host].append(pool.name)
    pool_volumes = {p.name: [] for p in pools}
    for vol in volumes:
        if vol.pool_name in pool_volumes:
            pool_volumes[vol.pool_name].append(vol.uuid)
    return {'nodes': nodes, 'pools': pools, 'volumes': volumes,
            'node_pools': node_pools, 'pool_volumes': pool_volumes,
            'generation': common.global_generation(tx)}


def get_storage_model(graph):
    """The whole storage model, read in one transaction.

    ``node_pools`` maps each storage node's host to its pool names and
    ``pool_volumes`` each pool name to the uuids of its volumes (mapped
    volumes only; an unmapped volume is in ``volumes`` alone).
    """
    return graph.read(_model)
