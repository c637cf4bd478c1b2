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

"""Writes of compute nodes: upserts, deletes and pruning.

The staleness, tombstone and touch rules are those of
:mod:`tachyon.graph.upsert`. New nodes take a fast path (edges created,
nothing to detach); a placeholder record (a node only seen in a
notification so far) never overwrites a complete node's fields but its
name. Deleting a node deletes its inventories (and so the CONSUMES edges
onto them): its instances stay, unmapped, their generations bumped.

``write_*`` and ``remove_*`` run inside the caller's transaction; the
``upsert_*``, ``delete_*`` and ``prune_*`` functions run their own.
"""

from tachyon.graph.compute import rows as compute_rows
from tachyon.graph import tombstones
from tachyon.graph import upsert

_COL = upsert.column_refs('rp', compute_rows.NODE_COLUMNS,
                          compute_rows.NODE_STORED)

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
""" % _COL

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
""" % _COL

# A placeholder record on a complete node: only the name may change.
RENAME_NODES = """
UNWIND $rows AS row
MATCH (rp:ResourceProvider {uuid: row.uuid})
USING INDEX rp:ResourceProvider(uuid)
WHERE rp.kind = 'compute' AND rp.name <> row.name
SET rp.name = row.name, rp.generation = rp.generation + 1
RETURN rp.uuid AS uuid
"""

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

NODE = upsert.Entity(kind=compute_rows.KIND,
                     tombstone_kind=tombstones.KIND_COMPUTE_NODE,
                     label=upsert.PROVIDER, write=WRITE_NODES,
                     delete=DELETE_NODES)


def write_node_rows(tx, graph, rows, bump=True):
    """Upsert compute node rows (:func:`rows.node_row`) inside ``tx``.

    With ``bump`` the global generation moves when anything changed.
    :returns: :class:`~tachyon.graph.common.SyncCounts`.
    """
    plan = upsert.Plan(NODE)
    create, write, rename = [], [], []
    for batch in upsert.batches(graph, rows):
        state = upsert.stored(tx, NODE, [row['uuid'] for row in batch])
        for row in batch:
            seen = state[row['uuid']]
            sort = plan.sort(seen, row['uuid'], row['updated_at'])
            if sort == upsert.NEW:
                create.append(row['columns'])
            elif sort != upsert.NEWER:
                continue
            elif row['placeholder'] and not seen['placeholder']:
                if seen['name'] != row['name']:
                    rename.append(row)
                    plan.changed()
                else:
                    plan.same(row['uuid'], None)
            elif seen['fingerprint'] == row['props']['fingerprint']:
                plan.same(row['uuid'], row['updated_at'])
            else:
                write.append(row['columns'])
                plan.changed()

    uuid_index = compute_rows.NODE_COLUMNS.index('uuid')
    for batch in upsert.batches(graph, create):
        done = {r['uuid'] for r in tx.run(CREATE_NODES, rows=batch)}
        for columns in batch:
            if columns[uuid_index] not in done:
                # Created concurrently since we looked: an update then.
                write.append(columns)
    old_azs, old_aggs = set(), set()
    for batch in upsert.batches(graph, write):
        for result in tx.run(WRITE_NODES, rows=batch):
            old_azs.update(result['old_azs'])
            old_aggs.update(result['old_aggregates'])
    for batch in upsert.batches(graph, rename):
        tx.run(RENAME_NODES, rows=batch).consume()
    return upsert.finish(tx, graph, plan, bump, azs=old_azs,
                         aggregates=old_aggs)


def write_nodes(tx, graph, nodes, bump=True):
    """Upsert ComputeNode records inside ``tx`` (see upsert_compute_nodes).

    :returns: :class:`~tachyon.graph.common.SyncCounts`.
    """
    return write_node_rows(tx, graph,
                           [compute_rows.node_row(n) for n in nodes], bump)


def upsert_compute_nodes(graph, nodes):
    """Create or update compute nodes (records.ComputeNode), in bulk.

    A ``placeholder`` record (a node only seen in a notification so far)
    creates a node with empty (total 0) inventories, but never overwrites
    a complete node's inventories or fields other than its name.

    :returns: :class:`~tachyon.graph.common.SyncCounts`.
    """
    return upsert.upsert_records(graph, compute_rows.node_row, nodes,
                                 write_node_rows)


def remove_nodes(tx, uuids, deleted_at, bump=True):
    """Delete compute nodes inside ``tx``; :returns: how many."""
    return upsert.delete(tx, NODE, uuids, deleted_at, bump)


def delete_compute_nodes(graph, uuids, deleted_at=None):
    """Delete compute nodes, their inventories, orphaned AZs/aggregates.

    The instances that ran on them stay, unmapped. Leaves a tombstone per
    uuid (``deleted_at``, default now) so that a late update cannot bring
    a node back. :returns: how many nodes were deleted.
    """
    return upsert.delete_records(graph, NODE, uuids, deleted_at)


def prune_compute_nodes(graph, keep_uuids, before):
    """Delete compute nodes a full sync no longer lists.

    Those not in ``keep_uuids`` and last updated before ``before`` (the
    start of the sync), and every placeholder it did not list (the APIs
    name the real node with its own uuid). Their tombstones are dated
    ``before``: a notification older than the sync's start must not bring
    them back. :returns: how many were deleted.
    """
    return graph.write(upsert.prune, NODE, keep_uuids, before,
                       float(before))
