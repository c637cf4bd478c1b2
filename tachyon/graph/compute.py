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

"""Watcher's compute model (ComputeNode, Instance) in the graph.

Shape (see the team contract)::

    (:ResourceProvider {uuid, name: hostname, kind: 'compute', status,
                        state, disabled_reason, availability_zone,
                        service_host, placeholder, traits, generation,
                        updated_at, fingerprint, watcher_unset})
      -[:HAS_TRAIT]->(:Trait {name: 'COMPUTE_HYPERVISOR'})
      -[:HAS_TRAIT]->(:Trait {name: 'COMPUTE_STATUS_<STATE>'})
      -[:HAS_INVENTORY]->(:Inventory {provider_uuid, resource_class, total,
                                      reserved, allocation_ratio, min_unit,
                                      max_unit, step_size})
                           -[:OF_CLASS]->(:ResourceClass {name})
      -[:LOCATED_IN]->(:AvailabilityZone {name})
      -[:MEMBER_OF]->(:Aggregate {name, id})
    (:Consumer {uuid, type: 'instance', name, state, locked, ...,
                vcpus, memory, disk, generation, updated_at,
                fingerprint, watcher_unset, record})
      -[:CONSUMES {used, resource_class}]->(:Inventory)  one per class,
                                          onto the node it runs on
      -[:OWNED_BY]->(:Project {external_id})
      -[:PINNED_TO]->(:AvailabilityZone {name})
      -[:OF_TYPE]->(:Flavor {key, name})-[:HAS_EXTRA_SPEC]->(:ExtraSpec)

Numbers follow Watcher's ``ModelRoot``: used resources are the sums of the
amounts of the instances mapped to a node, keyed ``vcpu``, ``memory``,
``disk``; capacity is ``(total - reserved) * allocation_ratio``; free is
capacity minus used.

Writes (bulk: ``UNWIND`` batches, all batches of one call in one
transaction) follow the staleness rules: a record older than the stored
``updated_at`` is skipped, an equal one is a no-op, ``None`` applies
unconditionally; a tombstone at least as new as the record blocks it. An
upsert first classifies its records, then writes only what changed:
records equal to the stored state (same ``fingerprint``, same node) move
at most ``updated_at`` and bump no generation. New entities take a fast
path (edges created, nothing to detach); the write statements repeat the
staleness guard, so a concurrent writer's newer state is not overwritten.
Deletes always apply (a uuid is never reused: a deletion is final) and
leave a tombstone; they also remove what only the deleted entities used
(inventories, projects, flavors and their extra specs, zones,
aggregates).

An instance's ``record`` property is the JSON of every field reads hand
back, kept beside the individual properties (which queries use): decoding
one string per instance over Bolt is several times cheaper than twenty
values, and single-node reads are dominated by decoding.

``watcher_unset`` lists the Watcher fields a record left unset (``None``
amounts, reserves or ratios, typically from a Watcher XML dump that did not
give them). The records read back carry Watcher's defaults in their place
(0 reserved, ratio 1.0, 0 amounts); :func:`get_compute_model` returns the
lists so that an export can leave those attributes out again.

Lookups inside writes carry index hints (``USING INDEX``): within a big
transaction the planner only sees the committed counts (an empty graph
during a first import) and would otherwise scan labels for the entities
created earlier in the same transaction, which made a 100,000-instance
import quadratic.

Orderings: lists of nodes and instances come sorted by uuid (the order of
Watcher's ``to_xml``); :func:`find_nodes_with_capacity` by decreasing
availability, then uuid.
"""

import hashlib
import json
import time

from oslo_log import log as logging

from tachyon import exception
from tachyon.graph import common
from tachyon.graph import tombstones
from tachyon.model import records

LOG = logging.getLogger(__name__)

KIND = records.KIND_COMPUTE
TYPE = records.TYPE_INSTANCE
TRAIT_HYPERVISOR = 'COMPUTE_HYPERVISOR'
STATUS_TRAIT_PREFIX = 'COMPUTE_STATUS_'
RESOURCE_CLASSES = records.COMPUTE_RESOURCE_CLASSES
# "Updated before the end of time": every entity, for a replacing import.
_FOREVER = 1.0e300

#: Watcher's ComputeNode field names of each inventory's total, reserved
#: and allocation ratio.
NODE_INVENTORY_FIELDS = {
    records.VCPU: ('vcpus', 'vcpu_reserved', 'vcpu_ratio'),
    records.MEMORY_MB: ('memory', 'memory_mb_reserved', 'memory_ratio'),
    records.DISK_GB: ('disk', 'disk_gb_reserved', 'disk_ratio'),
}
#: Watcher's Instance field name of each consumed amount.
INSTANCE_AMOUNT_FIELDS = {
    records.VCPU: 'vcpus',
    records.MEMORY_MB: 'memory',
    records.DISK_GB: 'disk',
}

# ---------------------------------------------------------------------------
# Cypher: compute nodes
# ---------------------------------------------------------------------------

# What the graph holds of each node. (No lock is taken here: locking
# thousands of nodes ahead of the writes makes Neo4j crawl. The write
# statements repeat the staleness guard instead.)
CLASSIFY_NODES = """
UNWIND $uuids AS uuid
OPTIONAL MATCH (rp:ResourceProvider {uuid: uuid})
USING INDEX rp:ResourceProvider(uuid)
OPTIONAL MATCH (t:Tombstone {kind: 'compute_node', uuid: uuid})
USING INDEX t:Tombstone(kind, uuid)
RETURN uuid, rp IS NOT NULL AS exists, rp.kind AS kind,
       rp.updated_at AS updated_at, rp.placeholder AS placeholder,
       rp.fingerprint AS fingerprint, rp.name AS name,
       t.deleted_at AS deleted_at
"""


def _fresh_set(var, columns):
    """Cypher: the staleness guard, then the row's properties on ``var``.

    It follows a ``WHERE`` (as ``AND``): a row older than what is stored
    is not written, which repeats for a concurrent writer what the
    classification decided. The generation goes up by one.
    """
    return ('  AND (%(t)s IS NULL OR %(v)s.updated_at IS NULL\n'
            '       OR %(v)s.updated_at <= %(t)s)\n'
            'SET %(props)s,\n'
            '    %(v)s.generation = %(v)s.generation + 1') % {
                't': columns['updated_at'], 'v': var,
                'props': columns['set_props']}


# Node writes send rows as lists (columns below), as instance writes do.
NODE_STORED = ('name', 'status', 'state', 'disabled_reason',
               'availability_zone', 'service_host', 'placeholder', 'traits',
               'watcher_unset', 'fingerprint')
NODE_COLUMNS = ('uuid', 'updated_at', 'trait_names', 'inventories',
                'inventory_classes', 'aggregates',
                'aggregate_names') + NODE_STORED
# Each inventory: [resource_class, total, reserved, allocation_ratio,
# min_unit, max_unit, step_size]; each aggregate: [name, id].
_NCOL = {name: 'row[%d]' % index for index, name in enumerate(NODE_COLUMNS)}
_NCOL['set_props'] = ',\n    '.join(
    ['rp.%s = %s' % (name, _NCOL[name]) for name in NODE_STORED]
    + ['rp.updated_at = coalesce(%s, rp.updated_at)' % _NCOL['updated_at']])
_NCOL['fresh_set'] = _fresh_set('rp', _NCOL)

# The fast path for new compute nodes. A row whose provider exists after
# all (created concurrently) is not returned: the caller updates it.
CREATE_NODES = """
UNWIND $rows AS row
MERGE (rp:ResourceProvider {uuid: %(uuid)s})
ON CREATE SET rp.kind = 'compute', rp.generation = 0
WITH rp, row
WHERE rp.generation = 0 AND rp.kind = 'compute'
SET %(set_props)s,
    rp.generation = 1
FOREACH (trait_name IN %(trait_names)s |
  MERGE (t:Trait {name: trait_name})
  CREATE (rp)-[:HAS_TRAIT]->(t))
FOREACH (i IN %(inventories)s |
  MERGE (inv:Inventory {provider_uuid: %(uuid)s, resource_class: i[0]})
  SET inv.total = i[1], inv.reserved = i[2], inv.allocation_ratio = i[3],
      inv.min_unit = i[4], inv.max_unit = i[5], inv.step_size = i[6]
  CREATE (rp)-[:HAS_INVENTORY]->(inv)
  MERGE (rc:ResourceClass {name: i[0]})
  MERGE (inv)-[:OF_CLASS]->(rc))
FOREACH (name IN CASE WHEN %(availability_zone)s IS NULL THEN []
                 ELSE [%(availability_zone)s] END |
  MERGE (az:AvailabilityZone {name: name})
  CREATE (rp)-[:LOCATED_IN]->(az))
FOREACH (agg IN %(aggregates)s |
  MERGE (a:Aggregate {name: agg[0]})
  SET a.id = agg[1]
  CREATE (rp)-[:MEMBER_OF]->(a))
RETURN rp.uuid AS uuid
""" % _NCOL

# Fully update compute nodes. The WHERE repeats the staleness guard for a
# concurrent writer.
WRITE_NODES = """
UNWIND $rows AS row
MERGE (rp:ResourceProvider {uuid: %(uuid)s})
ON CREATE SET rp.kind = 'compute', rp.generation = 0
WITH rp, row
WHERE rp.kind = 'compute'
%(fresh_set)s
WITH rp, row
CALL (rp, row) {
  OPTIONAL MATCH (rp)-[old:HAS_TRAIT]->(t:Trait)
  WHERE NOT t.name IN %(trait_names)s
  DELETE old
}
CALL (rp, row) {
  UNWIND %(trait_names)s AS trait_name
  MERGE (t:Trait {name: trait_name})
  MERGE (rp)-[:HAS_TRAIT]->(t)
}
CALL (rp, row) {
  OPTIONAL MATCH (rp)-[:HAS_INVENTORY]->(inv:Inventory)
  WHERE NOT inv.resource_class IN %(inventory_classes)s
  DETACH DELETE inv
}
CALL (rp, row) {
  UNWIND %(inventories)s AS i
  MERGE (inv:Inventory {provider_uuid: %(uuid)s, resource_class: i[0]})
  SET inv.total = i[1], inv.reserved = i[2], inv.allocation_ratio = i[3],
      inv.min_unit = i[4], inv.max_unit = i[5], inv.step_size = i[6]
  MERGE (rp)-[:HAS_INVENTORY]->(inv)
  MERGE (rc:ResourceClass {name: i[0]})
  MERGE (inv)-[:OF_CLASS]->(rc)
}
CALL (rp, row) {
  OPTIONAL MATCH (rp)-[old:LOCATED_IN]->(az:AvailabilityZone)
  WHERE %(availability_zone)s IS NULL OR az.name <> %(availability_zone)s
  DELETE old
  RETURN collect(az.name) AS old_azs
}
CALL (rp, row) {
  WITH rp, row WHERE %(availability_zone)s IS NOT NULL
  MERGE (az:AvailabilityZone {name: %(availability_zone)s})
  MERGE (rp)-[:LOCATED_IN]->(az)
}
CALL (rp, row) {
  OPTIONAL MATCH (rp)-[old:MEMBER_OF]->(a:Aggregate)
  WHERE NOT a.name IN %(aggregate_names)s
  DELETE old
  RETURN collect(a.name) AS old_aggregates
}
CALL (rp, row) {
  UNWIND %(aggregates)s AS agg
  MERGE (a:Aggregate {name: agg[0]})
  SET a.id = agg[1]
  MERGE (rp)-[:MEMBER_OF]->(a)
}
RETURN rp.uuid AS uuid, old_azs, old_aggregates
""" % _NCOL

# A placeholder record on a complete node: only the name may change.
RENAME_NODES = """
UNWIND $rows AS row
MATCH (rp:ResourceProvider {uuid: row.uuid})
USING INDEX rp:ResourceProvider(uuid)
WHERE rp.kind = 'compute' AND rp.name <> row.name
SET rp.name = row.name, rp.generation = rp.generation + 1
RETURN rp.uuid AS uuid
"""

TOUCH_PROVIDERS = """
UNWIND $rows AS row
MATCH (rp:ResourceProvider {uuid: row.uuid})
USING INDEX rp:ResourceProvider(uuid)
WHERE rp.updated_at IS NULL OR rp.updated_at < row.updated_at
SET rp.updated_at = row.updated_at
"""

BUMP_PROVIDERS = """
UNWIND $uuids AS uuid
MATCH (rp:ResourceProvider {uuid: uuid})
USING INDEX rp:ResourceProvider(uuid)
SET rp.generation = coalesce(rp.generation, 0) + 1
"""

# Deleting a node deletes its inventories (and so the CONSUMES edges onto
# them): its instances stay, unmapped.
DELETE_NODES = """
UNWIND $uuids AS uuid
MATCH (rp:ResourceProvider {uuid: uuid})
USING INDEX rp:ResourceProvider(uuid)
WHERE rp.kind = 'compute'
OPTIONAL MATCH (rp)-[:HAS_INVENTORY]->(inv:Inventory)
OPTIONAL MATCH (inv)<-[:CONSUMES]-(c:Consumer)
WITH rp, collect(DISTINCT inv) AS invs, collect(DISTINCT c.uuid) AS consumers
OPTIONAL MATCH (rp)-[:LOCATED_IN]->(az:AvailabilityZone)
OPTIONAL MATCH (rp)-[:MEMBER_OF]->(a:Aggregate)
WITH rp, invs, consumers, collect(DISTINCT az.name) AS azs,
     collect(DISTINCT a.name) AS aggregates
FOREACH (inv IN invs | DETACH DELETE inv)
WITH rp.uuid AS uuid, rp, consumers, azs, aggregates
DETACH DELETE rp
RETURN uuid, consumers, azs, aggregates
"""

PRUNE_NODE_CANDIDATES = """
MATCH (rp:ResourceProvider {kind: 'compute'})
WHERE NOT rp.uuid IN $keep
  AND (rp.updated_at IS NULL OR rp.updated_at < $before
       OR coalesce(rp.placeholder, false))
RETURN rp.uuid AS uuid
"""

# ---------------------------------------------------------------------------
# Cypher: instances
# ---------------------------------------------------------------------------

# Instance writes send rows as lists (columns below), not maps: packing
# the keys of 100,000 maps costs more than Neo4j takes to write them.
INSTANCE_STORED = ('name', 'state', 'locked', 'watcher_exclude', 'metadata',
                   'host', 'hypervisor_hostname', 'created', 'vcpus',
                   'memory', 'disk', 'project_id', 'pinned_az',
                   'flavor_extra_specs', 'flavor_name', 'fingerprint',
                   'watcher_unset', 'record')
INSTANCE_COLUMNS = ('uuid', 'updated_at', 'node_uuid', 'node_name', 'target',
                    'flavor_key', 'extra_specs') + INSTANCE_STORED
_ICOL = {name: 'row[%d]' % index
         for index, name in enumerate(INSTANCE_COLUMNS)}
_ICOL['set_props'] = ',\n    '.join(
    ['c.%s = %s' % (name, _ICOL[name]) for name in INSTANCE_STORED]
    + ['c.updated_at = coalesce(%s, c.updated_at)' % _ICOL['updated_at']])
_ICOL['fresh_set'] = _fresh_set('c', _ICOL)

# What the graph holds of the instances that exist or were deleted; the
# others are new. Rows: [uuid, node_uuid, node_name]. (No lock, as for
# nodes: the write statements repeat the staleness guard.)
CLASSIFY_INSTANCES = """
UNWIND $rows AS row
OPTIONAL MATCH (c:Consumer {uuid: row[0]})
USING INDEX c:Consumer(uuid)
OPTIONAL MATCH (t:Tombstone {kind: 'instance', uuid: row[0]})
USING INDEX t:Tombstone(kind, uuid)
WITH row, c, t
WHERE c IS NOT NULL OR t IS NOT NULL
OPTIONAL MATCH (c)-[:CONSUMES {resource_class: 'VCPU'}]->(cur:Inventory)
OPTIONAL MATCH (by_uuid:ResourceProvider {uuid: row[1]})
USING INDEX by_uuid:ResourceProvider(uuid)
WHERE by_uuid.kind = 'compute'
CALL (row, by_uuid) {
  OPTIONAL MATCH (n:ResourceProvider {name: row[2]})
  USING INDEX n:ResourceProvider(name)
  WHERE by_uuid IS NULL AND n.kind = 'compute'
  RETURN min(n.uuid) AS by_name
}
RETURN row[0] AS uuid, c IS NOT NULL AS exists, c.type AS type,
       c.updated_at AS updated_at, c.fingerprint AS fingerprint,
       t.deleted_at AS deleted_at, cur.provider_uuid AS current_node,
       coalesce(by_uuid.uuid, by_name) AS target,
       [(c)-[:OWNED_BY]->(p:Project) | p.external_id] AS projects,
       [(c)-[:PINNED_TO]->(az:AvailabilityZone) | az.name] AS azs,
       [(c)-[:OF_TYPE]->(f:Flavor) | f.key] AS flavors,
       COUNT { (c)-[:CONSUMES]->(:Inventory) } AS consumes,
       COUNT { MATCH (cur)<-[:HAS_INVENTORY]-(rp:ResourceProvider)
               MATCH (rp)-[:HAS_INVENTORY]->(i:Inventory)
               WHERE i.resource_class IN ['VCPU', 'MEMORY_MB', 'DISK_GB']
               RETURN i } AS inventories
"""

# The fast path for new instances (most of an import or a first sync):
# the node is resolved here (by uuid, else by name), nothing to detach,
# edges created rather than merged. A row whose consumer exists after all
# (a concurrent writer created it since we looked) is not returned; the
# caller sends it through WRITE_INSTANCES.
CREATE_INSTANCES = """
UNWIND $rows AS row
OPTIONAL MATCH (by_uuid:ResourceProvider {uuid: %(node_uuid)s})
USING INDEX by_uuid:ResourceProvider(uuid)
WHERE by_uuid.kind = 'compute'
CALL (row, by_uuid) {
  OPTIONAL MATCH (n:ResourceProvider {name: %(node_name)s})
  USING INDEX n:ResourceProvider(name)
  WHERE by_uuid IS NULL AND n.kind = 'compute'
  RETURN min(n.uuid) AS by_name
}
WITH row, coalesce(by_uuid.uuid, by_name) AS target
MERGE (c:Consumer {uuid: %(uuid)s})
ON CREATE SET c.type = 'instance', c.generation = 0
WITH c, row, target
WHERE c.generation = 0 AND c.type = 'instance'
SET %(set_props)s,
    c.generation = 1
WITH c, row, target
OPTIONAL MATCH (vcpu:Inventory {provider_uuid: target,
                                resource_class: 'VCPU'})
USING INDEX vcpu:Inventory(provider_uuid, resource_class)
OPTIONAL MATCH (ram:Inventory {provider_uuid: target,
                               resource_class: 'MEMORY_MB'})
USING INDEX ram:Inventory(provider_uuid, resource_class)
OPTIONAL MATCH (dsk:Inventory {provider_uuid: target,
                               resource_class: 'DISK_GB'})
USING INDEX dsk:Inventory(provider_uuid, resource_class)
FOREACH (inv IN CASE WHEN vcpu IS NULL THEN [] ELSE [vcpu] END |
  CREATE (c)-[:CONSUMES {used: %(vcpus)s, resource_class: 'VCPU'}]->(inv))
FOREACH (inv IN CASE WHEN ram IS NULL THEN [] ELSE [ram] END |
  CREATE (c)-[:CONSUMES {used: %(memory)s, resource_class: 'MEMORY_MB'}]
         ->(inv))
FOREACH (inv IN CASE WHEN dsk IS NULL THEN [] ELSE [dsk] END |
  CREATE (c)-[:CONSUMES {used: %(disk)s, resource_class: 'DISK_GB'}]
         ->(inv))
FOREACH (pid IN CASE WHEN %(project_id)s IS NULL THEN []
                ELSE [%(project_id)s] END |
  MERGE (p:Project {external_id: pid})
  CREATE (c)-[:OWNED_BY]->(p))
FOREACH (name IN CASE WHEN %(pinned_az)s = '' THEN []
                 ELSE [%(pinned_az)s] END |
  MERGE (az:AvailabilityZone {name: name})
  CREATE (c)-[:PINNED_TO]->(az))
FOREACH (key IN CASE WHEN %(flavor_key)s IS NULL THEN []
                ELSE [%(flavor_key)s] END |
  MERGE (f:Flavor {key: key})
  ON CREATE SET f.name = %(flavor_name)s
  FOREACH (spec IN %(extra_specs)s |
    MERGE (f)-[:HAS_EXTRA_SPEC]->(:ExtraSpec {key: spec[0],
                                               value: spec[1]}))
  CREATE (c)-[:OF_TYPE]->(f))
RETURN c.uuid AS uuid, target
""" % _ICOL

# Update instances (the node, ``target``, was resolved by the
# classification). The WHERE repeats the staleness guard.
WRITE_INSTANCES = """
UNWIND $rows AS row
MERGE (c:Consumer {uuid: %(uuid)s})
ON CREATE SET c.type = 'instance', c.generation = 0
WITH c, row
WHERE c.type = 'instance'
%(fresh_set)s
WITH c, row
CALL (c, row) {
  OPTIONAL MATCH (c)-[old:OWNED_BY]->(p:Project)
  WHERE %(project_id)s IS NULL OR p.external_id <> %(project_id)s
  DELETE old
  RETURN collect(p.external_id) AS old_projects
}
CALL (c, row) {
  WITH c, row WHERE %(project_id)s IS NOT NULL
  MERGE (p:Project {external_id: %(project_id)s})
  MERGE (c)-[:OWNED_BY]->(p)
}
CALL (c, row) {
  OPTIONAL MATCH (c)-[old:PINNED_TO]->(az:AvailabilityZone)
  WHERE az.name <> %(pinned_az)s
  DELETE old
  RETURN collect(az.name) AS old_azs
}
CALL (c, row) {
  WITH c, row WHERE %(pinned_az)s <> ''
  MERGE (az:AvailabilityZone {name: %(pinned_az)s})
  MERGE (c)-[:PINNED_TO]->(az)
}
CALL (c, row) {
  OPTIONAL MATCH (c)-[old:OF_TYPE]->(f:Flavor)
  WHERE %(flavor_key)s IS NULL OR f.key <> %(flavor_key)s
  DELETE old
  RETURN collect(f.key) AS old_flavors
}
CALL (c, row) {
  WITH c, row WHERE %(flavor_key)s IS NOT NULL
  MERGE (f:Flavor {key: %(flavor_key)s})
  ON CREATE SET f.name = %(flavor_name)s
  FOREACH (spec IN %(extra_specs)s |
    MERGE (f)-[:HAS_EXTRA_SPEC]->(:ExtraSpec {key: spec[0],
                                               value: spec[1]}))
  MERGE (c)-[:OF_TYPE]->(f)
}
CALL (c, row) {
  OPTIONAL MATCH (c)-[old:CONSUMES]->(inv:Inventory)
  WHERE %(target)s IS NULL OR inv.provider_uuid <> %(target)s
  DELETE old
}
CALL (c, row) {
  WITH c, row WHERE %(target)s IS NOT NULL
  UNWIND [['VCPU', %(vcpus)s], ['MEMORY_MB', %(memory)s],
          ['DISK_GB', %(disk)s]] AS u
  MATCH (inv:Inventory {provider_uuid: %(target)s,
                        resource_class: u[0]})
  USING INDEX inv:Inventory(provider_uuid, resource_class)
  MERGE (c)-[r:CONSUMES]->(inv)
  SET r.used = u[1], r.resource_class = u[0]
}
RETURN c.uuid AS uuid, old_projects, old_azs, old_flavors
""" % _ICOL

# The light update: an instance that stays on its node, with the same
# project, zone and flavor (what most notifications carry: a new state).
# Only its properties and the amounts on its CONSUMES edges change.
UPDATE_INSTANCES = """
UNWIND $rows AS row
MATCH (c:Consumer {uuid: %(uuid)s})
USING INDEX c:Consumer(uuid)
WHERE c.type = 'instance'
%(fresh_set)s
WITH c, row
OPTIONAL MATCH (c)-[r:CONSUMES]->(:Inventory)
SET r.used = CASE r.resource_class
               WHEN 'VCPU' THEN %(vcpus)s
               WHEN 'MEMORY_MB' THEN %(memory)s
               ELSE %(disk)s END
RETURN count(DISTINCT c) AS n
""" % _ICOL

TOUCH_CONSUMERS = """
UNWIND $rows AS row
MATCH (c:Consumer {uuid: row.uuid})
USING INDEX c:Consumer(uuid)
WHERE c.updated_at IS NULL OR c.updated_at < row.updated_at
SET c.updated_at = row.updated_at
"""

BUMP_CONSUMERS = """
UNWIND $uuids AS uuid
MATCH (c:Consumer {uuid: uuid})
USING INDEX c:Consumer(uuid)
SET c.generation = coalesce(c.generation, 0) + 1
"""

DELETE_INSTANCES = """
UNWIND $uuids AS uuid
MATCH (c:Consumer {uuid: uuid})
USING INDEX c:Consumer(uuid)
WHERE c.type = 'instance'
OPTIONAL MATCH (c)-[:CONSUMES]->(inv:Inventory)
WITH c, collect(DISTINCT inv.provider_uuid) AS providers
OPTIONAL MATCH (c)-[:OWNED_BY]->(p:Project)
OPTIONAL MATCH (c)-[:PINNED_TO]->(az:AvailabilityZone)
OPTIONAL MATCH (c)-[:OF_TYPE]->(f:Flavor)
WITH c, providers, collect(DISTINCT p.external_id) AS projects,
     collect(DISTINCT az.name) AS azs, collect(DISTINCT f.key) AS flavors
WITH c.uuid AS uuid, c, providers, projects, azs, flavors
DETACH DELETE c
RETURN uuid, providers, projects, azs, flavors
"""

PRUNE_INSTANCE_CANDIDATES = """
MATCH (c:Consumer {type: 'instance'})
WHERE NOT c.uuid IN $keep
  AND (c.updated_at IS NULL OR c.updated_at < $before)
RETURN c.uuid AS uuid
"""

# ---------------------------------------------------------------------------
# Cypher: orphans
# ---------------------------------------------------------------------------

DELETE_ORPHAN_PROJECTS = """
UNWIND $keys AS key
MATCH (p:Project {external_id: key})
USING INDEX p:Project(external_id)
WHERE NOT EXISTS { (p)--() }
DELETE p
"""

DELETE_ORPHAN_AZS = """
UNWIND $keys AS key
MATCH (az:AvailabilityZone {name: key})
USING INDEX az:AvailabilityZone(name)
WHERE NOT EXISTS { (az)--() }
DELETE az
"""

DELETE_ORPHAN_AGGREGATES = """
UNWIND $keys AS key
MATCH (a:Aggregate {name: key})
USING INDEX a:Aggregate(name)
WHERE NOT EXISTS { (a)--() }
DELETE a
"""

DELETE_ORPHAN_FLAVORS = """
UNWIND $keys AS key
MATCH (f:Flavor {key: key})
USING INDEX f:Flavor(key)
WHERE NOT EXISTS { (f)<-[:OF_TYPE]-() }
OPTIONAL MATCH (f)-[:HAS_EXTRA_SPEC]->(s:ExtraSpec)
WITH f, collect(s) AS specs
FOREACH (s IN specs | DETACH DELETE s)
DETACH DELETE f
"""

# ---------------------------------------------------------------------------
# Cypher: mapping and migration
# ---------------------------------------------------------------------------

# Lock the consumer, then the providers in uuid order (no deadlock between
# two migrations), and read everything the checks need.
LOCK_FOR_MOVE = """
MATCH (c:Consumer {uuid: $instance_uuid})
USING INDEX c:Consumer(uuid)
WHERE c.type = 'instance'
SET c.lock__ = true REMOVE c.lock__
WITH c
OPTIONAL MATCH (rp:ResourceProvider)
USING INDEX rp:ResourceProvider(uuid)
WHERE rp.uuid IN $node_uuids AND rp.kind = 'compute'
WITH c, rp ORDER BY rp.uuid
FOREACH (_ IN CASE WHEN rp IS NULL THEN [] ELSE [1] END |
    SET rp.lock__ = true REMOVE rp.lock__)
WITH c, collect(rp.uuid) AS found
OPTIONAL MATCH (c)-[:CONSUMES {resource_class: 'VCPU'}]->(cur:Inventory)
RETURN c.generation AS generation, c.vcpus AS vcpus, c.memory AS memory,
       c.disk AS disk, found, cur.provider_uuid AS current_node
"""

MOVE_CONSUMER = """
MATCH (c:Consumer {uuid: $instance_uuid})
USING INDEX c:Consumer(uuid)
OPTIONAL MATCH (c)-[old:CONSUMES]->(:Inventory)
DELETE old
WITH DISTINCT c
CALL (c) {
  WITH c WHERE $dest_uuid IS NOT NULL
  UNWIND $consumes AS u
  MATCH (inv:Inventory {provider_uuid: $dest_uuid,
                        resource_class: u.resource_class})
  USING INDEX inv:Inventory(provider_uuid, resource_class)
  CREATE (c)-[:CONSUMES {used: u.used, resource_class: u.resource_class}]
         ->(inv)
}
SET c.generation = coalesce(c.generation, 0) + 1
RETURN c.generation AS generation
"""

# ---------------------------------------------------------------------------
# Cypher: reads
# ---------------------------------------------------------------------------

# Reads return lists of the properties records need, not maps: single-node
# reads are dominated by decoding the answer, and keys are half of it.
NODE_PROPS = ('uuid', 'name', 'status', 'state', 'disabled_reason',
              'availability_zone', 'service_host', 'placeholder', 'traits',
              'generation', 'updated_at', 'watcher_unset')
INVENTORY_PROPS = ('resource_class', 'total', 'reserved',
                   'allocation_ratio', 'min_unit', 'max_unit', 'step_size')
# An instance is read from its ``record`` property: the JSON of every
# field but the uuid, generation, updated_at and node, written with the
# individual properties. One string decodes far faster than twenty values.
INSTANCE_PROPS = ('uuid', 'record', 'generation', 'updated_at')
#: The fields an instance's ``record`` holds.
INSTANCE_RECORD_FIELDS = ('name', 'state', 'locked', 'watcher_exclude',
                          'metadata', 'host', 'hypervisor_hostname',
                          'created', 'vcpus', 'memory', 'disk',
                          'project_id', 'pinned_az', 'flavor_extra_specs',
                          'flavor_name', 'watcher_unset')


def _projection(var, props):
    return '[%s]' % ', '.join('%s.%s' % (var, p) for p in props)


_RP = _projection('rp', NODE_PROPS)
_INV = _projection('inv', INVENTORY_PROPS)
_C = _projection('c', INSTANCE_PROPS)

_NODE_PROJECTION = """
RETURN CASE WHEN rp IS NULL THEN NULL ELSE %s END AS rp,
       [(rp)-[:HAS_INVENTORY]->(inv:Inventory) | %s] AS inventories,
       [(rp)-[:MEMBER_OF]->(a:Aggregate) | [a.name, a.id]] AS aggregates
""" % (_RP, _INV)

GET_NODE_BY_UUID = """
MATCH (rp:ResourceProvider {uuid: $uuid})
USING INDEX rp:ResourceProvider(uuid)
WHERE rp.kind = 'compute'
""" + _NODE_PROJECTION

GET_NODES_BY_NAME = """
MATCH (rp:ResourceProvider {name: $name})
USING INDEX rp:ResourceProvider(name)
WHERE rp.kind = 'compute'
WITH rp ORDER BY rp.uuid LIMIT 1
""" + _NODE_PROJECTION

GET_ALL_NODES = """
MATCH (rp:ResourceProvider {kind: 'compute'})
WITH rp ORDER BY rp.uuid
""" + _NODE_PROJECTION

GET_NODES = """
UNWIND $uuids AS uuid
MATCH (rp:ResourceProvider {uuid: uuid})
USING INDEX rp:ResourceProvider(uuid)
WHERE rp.kind = 'compute'
WITH rp ORDER BY rp.uuid
""" + _NODE_PROJECTION

GET_NODE_OF_INSTANCE = """
MATCH (c:Consumer {uuid: $uuid})
USING INDEX c:Consumer(uuid)
WHERE c.type = 'instance'
OPTIONAL MATCH (c)-[:CONSUMES {resource_class: 'VCPU'}]->(:Inventory)
      <-[:HAS_INVENTORY]-(rp:ResourceProvider)
WITH c, rp
""" + _NODE_PROJECTION

GET_INSTANCE = """
MATCH (c:Consumer {uuid: $uuid})
USING INDEX c:Consumer(uuid)
WHERE c.type = 'instance'
OPTIONAL MATCH (c)-[:CONSUMES {resource_class: 'VCPU'}]->(:Inventory)
      <-[:HAS_INVENTORY]-(rp:ResourceProvider)
RETURN %s AS c, rp.uuid AS node_uuid, rp.name AS node_name
""" % _C

# Bulk instance reads answer one record per node, its instances
# collected (unmapped instances: one record with a null node): the
# driver's cost is per record, and 20,000 records cost four times what
# 1,000 records of 20 each do. Callers sort by uuid.
GET_ALL_INSTANCES = """
MATCH (c:Consumer {type: 'instance'})
OPTIONAL MATCH (c)-[:CONSUMES {resource_class: 'VCPU'}]->(:Inventory)
      <-[:HAS_INVENTORY]-(rp:ResourceProvider)
RETURN rp.uuid AS node_uuid, rp.name AS node_name, collect(%s) AS cs
""" % _C

GET_INSTANCES_OF_NODES = """
UNWIND $uuids AS uuid
MATCH (inv:Inventory {provider_uuid: uuid, resource_class: 'VCPU'})
      <-[:CONSUMES]-(c:Consumer)
USING INDEX inv:Inventory(provider_uuid, resource_class)
RETURN uuid AS node_uuid, collect(%s) AS cs
""" % _C

GET_NODE_INSTANCES = """
MATCH (rp:ResourceProvider {uuid: $uuid})
USING INDEX rp:ResourceProvider(uuid)
WHERE rp.kind = 'compute'
OPTIONAL MATCH (rp)-[:HAS_INVENTORY]->(:Inventory {resource_class: 'VCPU'})
      <-[:CONSUMES]-(c:Consumer)
WITH rp, c ORDER BY c.uuid
RETURN rp.name AS node_name,
       collect(CASE WHEN c IS NULL THEN NULL ELSE %s END) AS instances
""" % _C


def usage_of(rp, inv='inv'):
    """Cypher: the usage list of the provider ``rp``.

    [[resource_class, total, reserved, allocation_ratio, used]], ``inv``
    naming its inventories inside; :func:`usage_from_rows` reads it.
    """
    return ("[(%(rp)s)-[:HAS_INVENTORY]->(%(inv)s:Inventory)\n"
            " WHERE %(inv)s.resource_class IN ['VCPU', 'MEMORY_MB', "
            "'DISK_GB'] |\n"
            " [%(inv)s.resource_class, %(inv)s.total, %(inv)s.reserved,\n"
            "  %(inv)s.allocation_ratio,\n"
            "  reduce(used = 0, r IN [(%(inv)s)<-[r:CONSUMES]-(:Consumer) "
            "| r.used] |\n"
            "         used + r)]]") % {'rp': rp, 'inv': inv}


GET_NODE_USAGE = """
MATCH (rp:ResourceProvider {uuid: $uuid})
USING INDEX rp:ResourceProvider(uuid)
WHERE rp.kind = 'compute'
RETURN %s AS usage
""" % usage_of('rp')

GET_ALL_USAGE = """
MATCH (rp:ResourceProvider {kind: 'compute'})
OPTIONAL MATCH (rp)-[:HAS_INVENTORY]->(inv:Inventory)
WHERE inv.resource_class IN ['VCPU', 'MEMORY_MB', 'DISK_GB']
CALL (inv) {
  OPTIONAL MATCH (inv)<-[r:CONSUMES]-(:Consumer)
  RETURN sum(r.used) AS used
}
RETURN rp.uuid AS uuid, collect([inv.resource_class, used]) AS usage
"""

# Capacity of every node: [[resource_class, total, reserved, ratio]].
GET_ALL_CAPACITY = """
MATCH (rp:ResourceProvider {kind: 'compute'})
OPTIONAL MATCH (rp)-[:HAS_INVENTORY]->(inv:Inventory)
WHERE inv.resource_class IN ['VCPU', 'MEMORY_MB', 'DISK_GB']
RETURN rp.uuid AS uuid,
       collect([inv.resource_class, inv.total, inv.reserved,
                inv.allocation_ratio]) AS inventories
"""

GET_INSTANCES_BY_NODE = """
MATCH (rp:ResourceProvider {kind: 'compute'})
OPTIONAL MATCH (rp)-[:HAS_INVENTORY]->(:Inventory {resource_class: 'VCPU'})
      <-[:CONSUMES]-(c:Consumer)
WITH rp, c ORDER BY c.uuid
RETURN rp.uuid AS uuid, collect(c.uuid) AS instances
ORDER BY uuid
"""

FIND_NODES_WITH_CAPACITY = """
MATCH (rp:ResourceProvider {kind: 'compute'})
      -[:HAS_INVENTORY]->(inv:Inventory {resource_class: $resource_class})
CALL (inv) {
  OPTIONAL MATCH (inv)<-[r:CONSUMES]-(:Consumer)
  RETURN sum(r.used) AS used
}
WITH rp.uuid AS uuid,
     (inv.total - inv.reserved) * inv.allocation_ratio - used AS available
WHERE available >= $min_available
RETURN uuid, available
ORDER BY available DESC, uuid
"""


# ---------------------------------------------------------------------------
# Records <-> rows
# ---------------------------------------------------------------------------

def _fingerprint(data):
    text = json.dumps(data, sort_keys=True, separators=(',', ':'),
                      default=str)
    return hashlib.sha1(text.encode('utf-8')).hexdigest()


def status_trait(state):
    """The COMPUTE_STATUS_* trait of a node's ``state`` ('up', 'down')."""
    norm = ''.join(ch if ch.isalnum() else '_'
                   for ch in str(state or 'unknown').upper())
    return STATUS_TRAIT_PREFIX + norm


def _inventory_row(rc, inv, unset, placeholder):
    names = NODE_INVENTORY_FIELDS.get(rc)
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


def _node_row(node):
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
    props['fingerprint'] = _fingerprint(
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
    if value is None:
        return None
    if hasattr(value, 'isoformat'):
        return str(value)
    return str(value)


def _instance_row(inst):
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
    props['record'] = json.dumps(
        {name: record[name] for name in INSTANCE_RECORD_FIELDS},
        sort_keys=True, separators=(',', ':'), default=str)
    props['fingerprint'] = hashlib.sha1(
        props['record'].encode('utf-8')).hexdigest()
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


def _instance_columns(row, target=None):
    """An instance row as the list the write queries take."""
    values = dict(row['props'])
    values.update((k, v) for k, v in row.items() if k != 'props')
    values['target'] = target
    return [values[name] for name in INSTANCE_COLUMNS]


def _inventory_record(values):
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


def _class_order(rc):
    if rc in RESOURCE_CLASSES:
        return (0, RESOURCE_CLASSES.index(rc), rc)
    return (1, 0, rc)


def _node_record(values, inventories, aggregates):
    rp = dict(zip(NODE_PROPS, values))
    invs = [_inventory_record(i) for i in inventories]
    return records.ComputeNode(
        uuid=rp['uuid'],
        hostname=rp['name'],
        status=rp['status'],
        state=rp['state'],
        disabled_reason=rp['disabled_reason'],
        inventories={i.resource_class: i for i in sorted(
            invs, key=lambda i: _class_order(i.resource_class))},
        traits=list(rp['traits'] or []),
        availability_zone=rp['availability_zone'],
        aggregates=sorted(({'id': agg_id, 'name': name}
                           for name, agg_id in aggregates),
                          key=lambda a: str(a['name'])),
        service_host=rp['service_host'],
        placeholder=bool(rp['placeholder']),
        generation=rp['generation'],
        updated_at=rp['updated_at'])


def _decode_all(rows):
    """The JSON record of each instance row, decoded in one parse.

    One ``json.loads`` per instance is most of the time of a 20,000
    instance read; the records are JSON objects this module wrote, so
    they decode as the items of one array.
    """
    return json.loads('[%s]' % ','.join(row[0][1] or '{}' for row in rows))


def _instance_record(values, node_uuid=None, node_name=None, fields=None,
                     decoded=None):
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


def _dedupe(items, key):
    """The last record of each key, in first-seen order."""
    result = {}
    for item in items:
        result[key(item)] = item
    return list(result.values())


def _newer(stored, incoming):
    """-1: incoming older (skip); 0: same observation; 1: apply."""
    if incoming is None or stored is None:
        return 1
    if incoming < stored:
        return -1
    if incoming == stored:
        return 0
    return 1


def _batched(graph, rows):
    return graph.batches(rows) if rows else []


def _cleanup_orphans(tx, projects=(), azs=(), flavors=(), aggregates=()):
    for query, keys in ((DELETE_ORPHAN_PROJECTS, projects),
                        (DELETE_ORPHAN_AZS, azs),
                        (DELETE_ORPHAN_FLAVORS, flavors),
                        (DELETE_ORPHAN_AGGREGATES, aggregates)):
        keys = sorted({k for k in keys if k is not None})
        if keys:
            tx.run(query, keys=keys).consume()


#: For the other graph modules: remove Projects, zones, flavors and
#: aggregates that nothing uses any more.
cleanup_orphans = _cleanup_orphans


def _bump(tx, query, uuids):
    uuids = sorted({u for u in uuids if u})
    if uuids:
        tx.run(query, uuids=uuids).consume()


# ---------------------------------------------------------------------------
# Writes: compute nodes
# ---------------------------------------------------------------------------

def _upsert_nodes(tx, graph, rows, bump=True):
    counts = common.SyncCounts()
    plan = {'create': [], 'write': [], 'rename': [], 'touch': []}
    revived = []
    for batch in _batched(graph, rows):
        state = {r['uuid']: r for r in tx.run(
            CLASSIFY_NODES, uuids=[row['uuid'] for row in batch])}
        for row in batch:
            seen = state[row['uuid']]
            if not seen['exists']:
                if tombstones.blocks(seen['deleted_at'], row['updated_at']):
                    counts.skipped += 1
                    continue
                plan['create'].append(row['columns'])
                if seen['deleted_at'] is not None:
                    revived.append(row['uuid'])
                counts.created += 1
                continue
            if seen['kind'] != KIND:
                LOG.warning('Compute node %s not written: a %s resource '
                            'provider has that uuid', row['uuid'],
                            seen['kind'])
                counts.skipped += 1
                continue
            order = _newer(seen['updated_at'], row['updated_at'])
            if order < 0:
                counts.skipped += 1
                continue
            if order == 0:
                counts.unchanged += 1
                continue
            if row['placeholder'] and not seen['placeholder']:
                if seen['name'] != row['name']:
                    plan['rename'].append(row)
                    counts.updated += 1
                else:
                    counts.unchanged += 1
                continue
            if seen['fingerprint'] == row['props']['fingerprint']:
                counts.unchanged += 1
                if row['updated_at'] is not None:
                    plan['touch'].append(row)
                continue
            plan['write'].append(row['columns'])
            counts.updated += 1

    uuid_index = NODE_COLUMNS.index('uuid')
    for batch in _batched(graph, plan['create']):
        done = {r['uuid'] for r in tx.run(CREATE_NODES, rows=batch)}
        for columns in batch:
            if columns[uuid_index] not in done:
                # Created concurrently since we looked: an update then.
                plan['write'].append(columns)
    old_azs, old_aggs = set(), set()
    for batch in _batched(graph, plan['write']):
        for result in tx.run(WRITE_NODES, rows=batch):
            old_azs.update(result['old_azs'])
            old_aggs.update(result['old_aggregates'])
    for batch in _batched(graph, plan['rename']):
        tx.run(RENAME_NODES, rows=batch).consume()
    for batch in _batched(graph, plan['touch']):
        tx.run(TOUCH_PROVIDERS, rows=[{'uuid': r['uuid'],
                                       'updated_at': r['updated_at']}
                                      for r in batch]).consume()
    _cleanup_orphans(tx, azs=old_azs, aggregates=old_aggs)
    tombstones.remove_tombstones(tx, tombstones.KIND_COMPUTE_NODE, revived)
    if bump and counts.changed:
        common.bump_global_generation(tx)
    return counts


def upsert_compute_nodes(graph, nodes):
    """Create or update compute nodes (records.ComputeNode), in bulk.

    A ``placeholder`` record (a node only seen in a notification so far)
    creates a node with empty (total 0) inventories, but never overwrites
    a complete node's inventories or fields other than its name.

    :returns: :class:`~tachyon.graph.common.SyncCounts`.
    """
    rows = [_node_row(n) for n in _dedupe(nodes, lambda n: n.uuid)]
    if not rows:
        return common.SyncCounts()
    return graph.write(_upsert_nodes, graph, rows)


def _delete_nodes(tx, uuids, deleted_at, bump=True):
    deleted = 0
    consumers, azs, aggs = set(), set(), set()
    for start in range(0, len(uuids), 1000):
        for result in tx.run(DELETE_NODES, uuids=uuids[start:start + 1000]):
            deleted += 1
            consumers.update(result['consumers'])
            azs.update(result['azs'])
            aggs.update(result['aggregates'])
    # Their instances are unmapped now: a change to each of them.
    _bump(tx, BUMP_CONSUMERS, consumers)
    _cleanup_orphans(tx, azs=azs, aggregates=aggs)
    tombstones.record_tombstones(tx, tombstones.KIND_COMPUTE_NODE, uuids,
                                 deleted_at)
    if bump and deleted:
        common.bump_global_generation(tx)
    return deleted


def delete_compute_nodes(graph, uuids, deleted_at=None):
    """Delete compute nodes, their inventories, orphaned AZs/aggregates.

    The instances that ran on them stay, unmapped. Leaves a tombstone per
    uuid (``deleted_at``, default now) so that a late update cannot bring
    a node back. :returns: how many nodes were deleted.
    """
    uuids = sorted(set(uuids))
    if not uuids:
        return 0
    if deleted_at is None:
        deleted_at = time.time()
    return graph.write(_delete_nodes, uuids, deleted_at)


def _prune(tx, candidates_query, delete, keep, before):
    result = tx.run(candidates_query, keep=keep, before=float(before))
    candidates = [r['uuid'] for r in result]
    if not candidates:
        return 0
    # The API did not list them when the sync began: a notification older
    # than that must not bring them back.
    return delete(tx, sorted(candidates), float(before))


def prune_compute_nodes(graph, keep_uuids, before):
    """Delete compute nodes a full sync no longer lists.

    Those not in ``keep_uuids`` and last updated before ``before`` (the
    start of the sync), and every placeholder it did not list (the APIs
    name the real node with its own uuid). :returns: how many were
    deleted.
    """
    return graph.write(_prune, PRUNE_NODE_CANDIDATES, _delete_nodes,
                       sorted(set(keep_uuids)), before)


# ---------------------------------------------------------------------------
# Writes: instances
# ---------------------------------------------------------------------------

def _listed(value, empty):
    return [] if value == empty else [value]


def _stays(seen, row, target):
    """Whether an update of a stored instance may take UPDATE_INSTANCES.

    It may when the instance keeps its node and its CONSUMES edges reach
    every inventory of it, and keeps its project, zone and flavor: then
    no edge comes or goes.
    """
    props = row['props']
    return (seen['current_node'] == target
            and seen['consumes'] == seen['inventories']
            and seen['projects'] == _listed(props['project_id'], None)
            and seen['azs'] == _listed(props['pinned_az'], '')
            and seen['flavors'] == _listed(row['flavor_key'], None))


def _upsert_instances(tx, graph, rows, bump=True):
    counts = common.SyncCounts()
    write, update, touch, new, revived = [], [], [], [], []
    providers = set()
    for batch in _batched(graph, rows):
        params = [[r['uuid'], r['node_uuid'], r['node_name']] for r in batch]
        state = {r['uuid']: r for r in common.dicts(
            tx.run(CLASSIFY_INSTANCES, rows=params))}
        for row in batch:
            seen = state.get(row['uuid'])
            if seen is None or not seen['exists']:
                if seen is not None:
                    if tombstones.blocks(seen['deleted_at'],
                                         row['updated_at']):
                        counts.skipped += 1
                        continue
                    revived.append(row['uuid'])
                new.append(_instance_columns(row))
                counts.created += 1
                continue
            if seen['type'] != TYPE:
                LOG.warning('Instance %s not written: a %s consumer has '
                            'that uuid', row['uuid'], seen['type'])
                counts.skipped += 1
                continue
            order = _newer(seen['updated_at'], row['updated_at'])
            if order < 0:
                counts.skipped += 1
                continue
            if order == 0:
                counts.unchanged += 1
                continue
            target = seen['target']
            if (seen['current_node'] == target
                    and seen['fingerprint'] == row['props']['fingerprint']):
                counts.unchanged += 1
                if row['updated_at'] is not None:
                    touch.append({'uuid': row['uuid'],
                                  'updated_at': row['updated_at']})
                continue
            columns = _instance_columns(row, target)
            (update if _stays(seen, row, target) else write).append(columns)
            counts.updated += 1
            # The usage of both nodes may have changed.
            providers.update((seen['current_node'], target))

    uuid_index = INSTANCE_COLUMNS.index('uuid')
    for batch in _batched(graph, new):
        done = {}
        for result in tx.run(CREATE_INSTANCES, rows=batch):
            done[result['uuid']] = result['target']
        providers.update(done.values())
        # Created by someone else since we looked: an update then.
        for row in batch:
            if row[uuid_index] not in done:
                LOG.debug('Instance %s appeared meanwhile; updating it',
                          row[uuid_index])
                write.append(row)
    old_projects, old_azs, old_flavors = set(), set(), set()
    for batch in _batched(graph, write):
        for result in tx.run(WRITE_INSTANCES, rows=batch):
            old_projects.update(result['old_projects'])
            old_azs.update(result['old_azs'])
            old_flavors.update(result['old_flavors'])
    for batch in _batched(graph, update):
        tx.run(UPDATE_INSTANCES, rows=batch).consume()
    for batch in _batched(graph, touch):
        tx.run(TOUCH_CONSUMERS, rows=batch).consume()
    _bump(tx, BUMP_PROVIDERS, providers)
    _cleanup_orphans(tx, projects=old_projects, azs=old_azs,
                     flavors=old_flavors)
    tombstones.remove_tombstones(tx, tombstones.KIND_INSTANCE, revived)
    if bump and counts.changed:
        common.bump_global_generation(tx)
    return counts


def upsert_instances(graph, instances):
    """Create or update instances (records.Instance), in bulk.

    An instance is mapped to the compute node ``node_uuid`` names or,
    failing that, the one named ``node_name`` (its hostname); to none when
    neither exists. A changed node moves its CONSUMES edges; changed
    amounts update them.

    :returns: :class:`~tachyon.graph.common.SyncCounts`.
    """
    rows = [_instance_row(i) for i in _dedupe(instances, lambda i: i.uuid)]
    if not rows:
        return common.SyncCounts()
    return graph.write(_upsert_instances, graph, rows)


def _delete_instances(tx, uuids, deleted_at, bump=True):
    deleted = 0
    providers, projects, azs, flavors = set(), set(), set(), set()
    for start in range(0, len(uuids), 1000):
        for result in tx.run(DELETE_INSTANCES,
                             uuids=uuids[start:start + 1000]):
            deleted += 1
            providers.update(result['providers'])
            projects.update(result['projects'])
            azs.update(result['azs'])
            flavors.update(result['flavors'])
    _bump(tx, BUMP_PROVIDERS, providers)
    _cleanup_orphans(tx, projects=projects, azs=azs, flavors=flavors)
    tombstones.record_tombstones(tx, tombstones.KIND_INSTANCE, uuids,
                                 deleted_at)
    if bump and deleted:
        common.bump_global_generation(tx)
    return deleted


def delete_instances(graph, uuids, deleted_at=None):
    """Delete instances and whatever only they used.

    That is their Project, Flavor (and its ExtraSpecs) and pinned
    AvailabilityZone when no one else uses them. The nodes they ran on
    have their generation bumped.

    Leaves a tombstone per uuid (``deleted_at``, default now), even for
    an instance the graph does not know yet, so that an older create
    arriving late cannot bring it back. :returns: how many were deleted.
    """
    uuids = sorted(set(uuids))
    if not uuids:
        return 0
    if deleted_at is None:
        deleted_at = time.time()
    return graph.write(_delete_instances, uuids, float(deleted_at))


def prune_instances(graph, keep_uuids, before):
    """Delete instances a full sync no longer lists.

    Those not in ``keep_uuids`` and last updated before ``before`` (the
    start of the sync). :returns: how many were deleted.
    """
    return graph.write(_prune, PRUNE_INSTANCE_CANDIDATES, _delete_instances,
                       sorted(set(keep_uuids)), before)


def _import(tx, graph, node_rows, instance_rows, replace):
    counts = _upsert_nodes(tx, graph, node_rows, bump=False)
    counts.add(_upsert_instances(tx, graph, instance_rows, bump=False))
    if replace:
        now = time.time()
        stale = [r['uuid'] for r in tx.run(
            PRUNE_INSTANCE_CANDIDATES, before=_FOREVER,
            keep=[r['uuid'] for r in instance_rows])]
        counts.deleted += _delete_instances(tx, stale, now, bump=False)
        stale = [r['uuid'] for r in tx.run(
            PRUNE_NODE_CANDIDATES, before=_FOREVER,
            keep=[r['uuid'] for r in node_rows])]
        counts.deleted += _delete_nodes(tx, stale, now, bump=False)
    if counts.changed:
        common.bump_global_generation(tx)
    return counts


def import_compute_model(graph, nodes, instances, replace=False):
    """Write a whole compute model (nodes, then instances) at once.

    One transaction: either all of it is written or none. Records are
    applied as upserts (``updated_at`` None: unconditionally); with
    ``replace`` the compute nodes and instances not in the model are
    deleted too.

    :returns: :class:`~tachyon.graph.common.SyncCounts` of both kinds.
    """
    node_rows = [_node_row(n) for n in _dedupe(nodes, lambda n: n.uuid)]
    instance_rows = [_instance_row(i)
                     for i in _dedupe(instances, lambda i: i.uuid)]
    return graph.write(_import, graph, node_rows, instance_rows, replace)


# ---------------------------------------------------------------------------
# Mapping and migration
# ---------------------------------------------------------------------------

def _lock_for_move(tx, instance_uuid, node_uuids):
    result = tx.run(LOCK_FOR_MOVE, instance_uuid=instance_uuid,
                    node_uuids=[u for u in node_uuids if u]).single()
    if result is None:
        raise exception.NotFound(kind='instance', ident=instance_uuid)
    for uuid in node_uuids:
        if uuid and uuid not in result['found']:
            raise exception.NotFound(kind='compute node', ident=uuid)
    return result


def _consumes(state):
    return [{'resource_class': rc,
             'used': int(state[INSTANCE_AMOUNT_FIELDS[rc]] or 0)}
            for rc in RESOURCE_CLASSES]


def _move(tx, instance_uuid, current, dest_uuid, state):
    generation = tx.run(MOVE_CONSUMER, instance_uuid=instance_uuid,
                        dest_uuid=dest_uuid,
                        consumes=_consumes(state)).single()['generation']
    _bump(tx, BUMP_PROVIDERS, (current, dest_uuid))
    common.bump_global_generation(tx)
    return generation


def _map(tx, instance_uuid, node_uuid):
    state = _lock_for_move(tx, instance_uuid, [node_uuid])
    if state['current_node'] == node_uuid:
        return state['generation']
    if state['current_node'] is not None:
        LOG.debug('Instance %s moves from %s to %s', instance_uuid,
                  state['current_node'], node_uuid)
    return _move(tx, instance_uuid, state['current_node'], node_uuid, state)


def map_instance(graph, instance_uuid, node_uuid):
    """Place an instance on a compute node (its CONSUMES onto the node).

    Idempotent; an instance mapped elsewhere moves (an instance runs on
    one node). :returns: the instance's generation.
    """
    return graph.write(_map, instance_uuid, node_uuid)


def _unmap(tx, instance_uuid, node_uuid):
    state = _lock_for_move(tx, instance_uuid, [node_uuid])
    if state['current_node'] != node_uuid:
        raise exception.NotFound(
            kind='Mapping of instance %s to compute node' % instance_uuid,
            ident=node_uuid)
    return _move(tx, instance_uuid, node_uuid, None, state)


def unmap_instance(graph, instance_uuid, node_uuid):
    """Take an instance off the compute node it runs on.

    NotFound when it does not run there (as Watcher's ``remove_edge``
    fails). :returns: the instance's generation.
    """
    return graph.write(_unmap, instance_uuid, node_uuid)


def _free(inv, used):
    return ((inv['total'] - inv['reserved']) * inv['allocation_ratio']
            - used)


def _migrate(tx, instance_uuid, source_uuid, dest_uuid, expected_generation,
             check_capacity):
    state = _lock_for_move(tx, instance_uuid, sorted({source_uuid,
                                                      dest_uuid}))
    if (expected_generation is not None
            and state['generation'] != expected_generation):
        raise exception.Conflict(
            reason='instance %s is at generation %s, not %s: it changed '
                   'since it was read' % (instance_uuid, state['generation'],
                                          expected_generation),
            conflicts=[instance_uuid])
    if state['current_node'] != source_uuid:
        raise exception.Conflict(
            reason='instance %s does not run on compute node %s (it is on '
                   '%s)' % (instance_uuid, source_uuid,
                            state['current_node'] or 'no node'),
            conflicts=[instance_uuid])
    if source_uuid == dest_uuid:
        return state['generation']
    if check_capacity:
        short = []
        for rc, (inv, used) in sorted(_usage(tx, dest_uuid).items(),
                                      key=lambda item: _class_order(
                                          item[0])):
            need = int(state[INSTANCE_AMOUNT_FIELDS[rc]] or 0)
            free = _free(inv, used)
            if need > free:
                short.append('%s needs %s, %s free' % (rc, need, free))
        if short:
            raise exception.Conflict(
                reason='no room for instance %s on compute node %s: %s' % (
                    instance_uuid, dest_uuid, '; '.join(short)),
                conflicts=[dest_uuid])
    return _move(tx, instance_uuid, source_uuid, dest_uuid, state)


def migrate_instance(graph, instance_uuid, source_uuid, dest_uuid,
                     expected_generation=None, check_capacity=True):
    """Move an instance between compute nodes, in the global graph.

    One transaction: the instance's generation is checked against
    ``expected_generation`` (when given; optimistic concurrency as
    Placement does for consumers), the instance must run on the source,
    and the destination must have room for it (``check_capacity``).

    :returns: the instance's new generation (unchanged when source and
        destination are the same node: Watcher's no-op).
    :raises: NotFound for an unknown instance or node; Conflict on a
        stale generation, an instance not on the source, or no room.
    """
    return graph.write(_migrate, instance_uuid, source_uuid, dest_uuid,
                       expected_generation, check_capacity)


# ---------------------------------------------------------------------------
# Reads
# ---------------------------------------------------------------------------

def _nodes_from(result):
    return [_node_record(r['rp'], r['inventories'], r['aggregates'])
            for r in result if r['rp'] is not None]


def _all_nodes(tx):
    return {n.uuid: n for n in _nodes_from(tx.run(GET_ALL_NODES))}


def get_all_compute_nodes(graph):
    """{uuid: ComputeNode}, sorted by uuid."""
    return graph.read_one(_all_nodes)


def _one_node(tx, query, kind, ident, **params):
    nodes = _nodes_from(tx.run(query, **params))
    if not nodes:
        raise exception.NotFound(kind=kind, ident=ident)
    return nodes[0]


def get_node_by_uuid(graph, uuid):
    return graph.read_one(_one_node, GET_NODE_BY_UUID, 'compute node',
                          uuid, uuid=uuid)


def get_node_by_name(graph, name):
    """The compute node of that hostname (the lowest uuid if several)."""
    return graph.read_one(_one_node, GET_NODES_BY_NAME, 'compute node',
                          name, name=name)


def _instance(tx, uuid):
    result = tx.run(GET_INSTANCE, uuid=uuid).single()
    if result is None:
        raise exception.NotFound(kind='instance', ident=uuid)
    return _instance_record(result['c'], result['node_uuid'],
                            result['node_name'])


def get_instance_by_uuid(graph, uuid):
    return graph.read_one(_instance, uuid)


def _node_of_instance(tx, uuid):
    result = tx.run(GET_NODE_OF_INSTANCE, uuid=uuid).single()
    if result is None:
        raise exception.NotFound(kind='instance', ident=uuid)
    if result['rp'] is None:
        raise exception.NotFound(kind='compute node of instance',
                                 ident=uuid)
    return _node_record(result['rp'], result['inventories'],
                        result['aggregates'])


def get_node_by_instance_uuid(graph, instance_uuid):
    """The node an instance runs on; NotFound if unknown or unmapped."""
    return graph.read_one(_node_of_instance, instance_uuid)


def _instance_rows(result, names=None):
    """[(values, node uuid, node name)] of GET_*_INSTANCES, by uuid."""
    rows = []
    for record in result:
        node_uuid = record['node_uuid']
        node_name = (names.get(node_uuid) if names is not None
                     else record['node_name'])
        rows.extend((c, node_uuid, node_name) for c in record['cs'])
    rows.sort(key=lambda row: row[0][0])
    return rows


def _all_instances(tx):
    rows = _instance_rows(tx.run(GET_ALL_INSTANCES))
    return {c[0]: _instance_record(c, node_uuid, node_name, None, decoded)
            for (c, node_uuid, node_name), decoded in zip(
                rows, _decode_all(rows))}


def get_all_instances(graph):
    """{uuid: Instance}, sorted by uuid."""
    return graph.read_one(_all_instances)


def _node_instances(tx, node_uuid):
    result = tx.run(GET_NODE_INSTANCES, uuid=node_uuid).single()
    if result is None:
        raise exception.NotFound(kind='compute node', ident=node_uuid)
    return [_instance_record(c, node_uuid, result['node_name'])
            for c in result['instances']]


def get_node_instances(graph, node_uuid):
    """The instances on a node, sorted by uuid."""
    return graph.read_one(_node_instances, node_uuid)


def usage_from_rows(rows):
    """[[rc, total, reserved, ratio, used]] -> {rc: (inventory, used)}."""
    return {rc: ({'total': total, 'reserved': reserved,
                  'allocation_ratio': ratio}, used or 0)
            for rc, total, reserved, ratio, used in rows}


def _usage(tx, node_uuid):
    result = tx.run(GET_NODE_USAGE, uuid=node_uuid).single()
    if result is None:
        raise exception.NotFound(kind='compute node', ident=node_uuid)
    return usage_from_rows(result['usage'])


def _used_dict(usage):
    return {records.WATCHER_RESOURCE_KEYS[rc]:
            usage[rc][1] if rc in usage else 0 for rc in RESOURCE_CLASSES}


def get_node_used_resources(graph, node_uuid):
    """Watcher's used resources: {'vcpu', 'memory', 'disk'}."""
    return _used_dict(graph.read_one(_usage, node_uuid))


def get_node_free_resources(graph, node_uuid):
    """Watcher's free resources: capacity minus used, same keys."""
    usage = graph.read_one(_usage, node_uuid)
    free = {}
    for rc in RESOURCE_CLASSES:
        key = records.WATCHER_RESOURCE_KEYS[rc]
        if rc in usage:
            inv, used = usage[rc]
            free[key] = _free(inv, used)
        else:
            free[key] = 0.0
    return free


def _all_usage(tx):
    result = {}
    for row in tx.run(GET_ALL_USAGE):
        used = dict.fromkeys(records.WATCHER_RESOURCE_KEYS.values(), 0)
        for rc, amount in row['usage']:
            if rc in records.WATCHER_RESOURCE_KEYS:
                used[records.WATCHER_RESOURCE_KEYS[rc]] = amount or 0
        result[row['uuid']] = used
    return result


def all_capacity(tx):
    """{node_uuid: {'vcpu', 'memory', 'disk'}} capacities, inside ``tx``."""
    result = {}
    for row in tx.run(GET_ALL_CAPACITY):
        caps = dict.fromkeys(records.WATCHER_RESOURCE_KEYS.values(), 0.0)
        for rc, total, reserved, ratio in row['inventories']:
            if rc in records.WATCHER_RESOURCE_KEYS:
                caps[records.WATCHER_RESOURCE_KEYS[rc]] = _free(
                    {'total': total, 'reserved': reserved,
                     'allocation_ratio': ratio}, 0)
        result[row['uuid']] = caps
    return result


# Building blocks that other graph modules (simulation sessions) compose
# into their own transactions.
node_usage = _usage
all_usage = _all_usage
node_instances = _node_instances
instance = _instance


def bump_providers(tx, uuids):
    """Advance the generation of the given providers inside ``tx``."""
    _bump(tx, BUMP_PROVIDERS, uuids)


def get_all_nodes_usage(graph):
    """{node_uuid: {'vcpu', 'memory', 'disk'}} of every node, one query."""
    return graph.read_one(_all_usage)


def _instances_by_node(tx):
    return {r['uuid']: list(r['instances'])
            for r in tx.run(GET_INSTANCES_BY_NODE)}


def get_instances_by_node(graph):
    """{node_uuid: [instance uuids, sorted]} of every node, one query."""
    return graph.read_one(_instances_by_node)


def _find(tx, resource_class, min_available):
    return [(r['uuid'], r['available']) for r in tx.run(
        FIND_NODES_WITH_CAPACITY, resource_class=resource_class,
        min_available=min_available)]


def find_nodes_with_capacity(graph, resource_class, min_available):
    """Nodes with room: [(node_uuid, available)], most available first.

    ``available`` is capacity minus used of ``resource_class``; only
    nodes with at least ``min_available`` are listed.
    """
    return graph.read_one(_find, resource_class, min_available)


def _model(tx, node_uuids):
    if node_uuids is None:
        node_rows = list(tx.run(GET_ALL_NODES))
    else:
        node_rows = list(tx.run(GET_NODES, uuids=sorted(set(node_uuids))))
    nodes = _nodes_from(node_rows)
    unset_index = NODE_PROPS.index('watcher_unset')
    unset_nodes = {r['rp'][0]: list(r['rp'][unset_index])
                   for r in node_rows if r['rp'][unset_index]}
    if node_uuids is None:
        rows = _instance_rows(tx.run(GET_ALL_INSTANCES))
    else:
        names = {n.uuid: n.hostname for n in nodes}
        rows = _instance_rows(tx.run(GET_INSTANCES_OF_NODES,
                                     uuids=sorted(names)), names)
    instances, mapping, unset = [], {}, {}
    for (c, node_uuid, node_name), decoded in zip(rows, _decode_all(rows)):
        fields = {}
        instances.append(_instance_record(c, node_uuid, node_name, fields,
                                          decoded))
        if node_uuid is not None:
            mapping[c[0]] = node_uuid
        if fields.get('watcher_unset'):
            unset[c[0]] = list(fields['watcher_unset'])
    return {
        'nodes': nodes,
        'instances': instances,
        'mapping': mapping,
        'generation': common.global_generation(tx),
        'watcher_unset': unset,
        'watcher_unset_nodes': unset_nodes,
    }


def get_compute_model(graph, node_uuids=None):
    """The whole compute model (or that of some nodes), consistently.

    :returns: dict(nodes=[ComputeNode], instances=[Instance],
        mapping={instance_uuid: node_uuid}, generation=global generation,
        watcher_unset={instance_uuid: [Watcher fields left unset]},
        watcher_unset_nodes={node_uuid: [...]}) read in one transaction.
        With ``node_uuids``, only those nodes and the instances on them.
    """
    return graph.read(_model, node_uuids)
