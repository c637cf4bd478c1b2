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

Two registers of a node are dated apart from its ``updated_at``:

* its **service** fields (state, status, disabled reason) as
  ``service.update`` sets them: :func:`write_service_updates` orders the
  notifications of one node as every kind does (newest wins; at the same
  time the greater tie key, stored as ``service_key``), so the node ends
  the same whatever order same-time notifications come in;
* its **aggregates and zone** as aggregate notifications set them
  (:mod:`tachyon.graph.compute.aggregates`), dated ``aggregates_at``: a
  full sync that began before (an older record) keeps them.

``write_*`` and ``remove_*`` run inside the caller's transaction; the
``upsert_*``, ``delete_*`` and ``prune_*`` functions run their own.
"""

import dataclasses

from tachyon.graph.compute import reads
from tachyon.graph.compute import rows as compute_rows
from tachyon.graph import common
from tachyon.graph import tombstones
from tachyon.graph import upsert

_COL = upsert.column_refs('rp', compute_rows.NODE_COLUMNS,
                          compute_rows.NODE_STORED)
# A node's traits become the row's: the others let go, the new merged.
_COL['set_traits'] = """CALL (rp, row) {
  OPTIONAL MATCH (rp)-[old:HAS_TRAIT]->(t:Trait)
  WHERE NOT t.name IN %(trait_names)s
  DELETE old
}
CALL (rp, row) {
  UNWIND %(trait_names)s AS trait_name
  MERGE (t:Trait {name: trait_name})
  MERGE (rp)-[:HAS_TRAIT]->(t)
}
""" % _COL

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
%(set_traits)sCALL (rp, row) {
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

# Update compute nodes whose inventories, zone and aggregates are those
# stored (a service.update: the node as read in this transaction, its
# service fields changed): the stored properties and the traits (the
# status trait follows the state), nothing else. The WHERE repeats the
# staleness guard for a concurrent writer.
WRITE_NODE_SERVICES = """
UNWIND $rows AS row
MATCH (rp:ResourceProvider {uuid: %(uuid)s})
USING INDEX SEEK rp:ResourceProvider(uuid)
WHERE rp.kind = 'compute'
%(fresh_set)s
WITH rp, row
%(set_traits)sRETURN rp.uuid AS uuid
""" % _COL

# A placeholder record on a complete node: only the name may change.
RENAME_NODES = """
UNWIND $rows AS row
MATCH (rp:ResourceProvider {uuid: row.uuid})
USING INDEX SEEK rp:ResourceProvider(uuid)
WHERE rp.kind = 'compute' AND rp.name <> row.name
SET rp.name = row.name, rp.generation = rp.generation + 1
RETURN rp.uuid AS uuid
"""

DELETE_NODES = """
UNWIND $uuids AS uuid
MATCH (rp:ResourceProvider {uuid: uuid})
USING INDEX SEEK rp:ResourceProvider(uuid)
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

# The registers of nodes (see the module doc).
NODE_REGISTERS = """
UNWIND $uuids AS uuid
MATCH (rp:ResourceProvider {uuid: uuid})
USING INDEX SEEK rp:ResourceProvider(uuid)
WHERE rp.kind = 'compute'
RETURN rp.uuid AS uuid, rp.service_key AS service_key,
       rp.aggregates_at AS aggregates_at
"""

# The tie key of the service.update that set each node's service fields
# ($rows: {uuid, key}).
SET_SERVICE_KEYS = """
UNWIND $rows AS row
MATCH (rp:ResourceProvider {uuid: row.uuid})
USING INDEX SEEK rp:ResourceProvider(uuid)
WHERE rp.kind = 'compute'
SET rp.service_key = row.key
"""

NODE = upsert.Entity(kind=compute_rows.KIND,
                     tombstone_kind=tombstones.KIND_COMPUTE_NODE,
                     label=upsert.PROVIDER, write=WRITE_NODES,
                     delete=DELETE_NODES)


def write_node_rows(tx, graph, rows, bump=True, service_only=()):
    """Upsert compute node rows (:func:`rows.node_row`) inside ``tx``.

    With ``bump`` the global generation moves when anything changed.
    The existing nodes of the uuids in ``service_only`` are written by
    :data:`WRITE_NODE_SERVICES`: the caller vouches that their rows carry
    the stored inventories, zone and aggregates (it read them in ``tx``).
    :returns: :class:`~tachyon.graph.common.SyncCounts`.
    """
    service_only = frozenset(service_only)
    plan = upsert.Plan(NODE)
    create, write, rename, light = [], [], [], []
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
                (light if row['uuid'] in service_only
                 else write).append(row['columns'])
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
    for batch in upsert.batches(graph, light):
        tx.run(WRITE_NODE_SERVICES, rows=batch).consume()
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


def registers(tx, uuids):
    """{uuid: {'service_key', 'aggregates_at'}} of the compute nodes."""
    uuids = sorted({u for u in uuids if u})
    if not uuids:
        return {}
    return {r['uuid']: {'service_key': r['service_key'],
                        'aggregates_at': r['aggregates_at']}
            for r in tx.run(NODE_REGISTERS, uuids=uuids)}


def _keep_newer_aggregates(tx, nodes):
    """``nodes``, older ones keeping the aggregates events set.

    A record older than its node's ``aggregates_at`` keeps the stored
    aggregates and zone: an aggregate notification newer than what the
    record saw set them.
    """
    dated = registers(tx, [n.uuid for n in nodes
                           if n.updated_at is not None])
    older = {n.uuid for n in nodes
             if n.uuid in dated
             and dated[n.uuid]['aggregates_at'] is not None
             and n.updated_at < dated[n.uuid]['aggregates_at']}
    if not older:
        return nodes
    stored = {n.uuid: n for n in reads.nodes_by_name(
        tx, sorted({n.hostname for n in nodes if n.uuid in older}))}
    result = []
    for node in nodes:
        old = stored.get(node.uuid) if node.uuid in older else None
        if old is not None:
            node = dataclasses.replace(
                node, aggregates=list(old.aggregates),
                availability_zone=old.availability_zone)
        result.append(node)
    return result


def _upsert_nodes(tx, graph, nodes):
    nodes = _keep_newer_aggregates(tx, nodes)
    return write_node_rows(tx, graph,
                           [compute_rows.node_row(n) for n in nodes])


def upsert_compute_nodes(graph, nodes):
    """Create or update compute nodes (records.ComputeNode), in bulk.

    A ``placeholder`` record (a node only seen in a notification so far)
    creates a node with empty (total 0) inventories, but never overwrites
    a complete node's inventories or fields other than its name. A record
    older than the aggregate notification that last set the node's
    aggregates and zone keeps those.

    :returns: :class:`~tachyon.graph.common.SyncCounts`.
    """
    nodes = upsert.dedupe(nodes)
    if not nodes:
        return common.SyncCounts()
    # Rows first: a record the graph refuses fails before the write.
    for node in nodes:
        compute_rows.node_row(node)
    return graph.write(_upsert_nodes, graph, nodes)


#: The fields of a node a service.update may set without its inventories,
#: zone and aggregates being written again (the status trait follows
#: ``state``).
SERVICE_FIELDS = frozenset(['hostname', 'state', 'status',
                            'disabled_reason', 'service_host'])


@dataclasses.dataclass
class ServiceUpdate:
    """What one service.update sets on the compute node of a hostname.

    ``record`` creates the node when none has that name (None: skipped);
    ``key`` is the notification's tie key.
    """

    hostname: str
    fields: dict
    timestamp: float = None
    key: str = None
    record: object = None


def _service_order(node, stored_key, update):
    """1: apply; 0: apply over a same-time update (greater key); -1: no."""
    order = upsert.newer(node.updated_at, update.timestamp)
    if order < 0:
        return -1
    if order == 0:
        # Same time: the greater tie key wins. A node a sync (or an
        # older Tachyon) wrote at that time has no key: it stays.
        if (stored_key is None or update.key is None
                or update.key <= stored_key):
            return -1
        return 0
    return 1


def write_service_updates(tx, graph, updates):
    """Apply service.update changes to compute nodes inside ``tx``.

    Per node the newest update wins; of updates at the same time the one
    with the greater ``key`` (whatever order they come in, in one batch
    or several); an update older than the node is skipped.

    :param updates: :class:`ServiceUpdate` records, at most one per
        hostname (the caller picks the winner of a batch).
    :returns: :class:`~tachyon.graph.common.SyncCounts`.
    """
    counts = common.SyncCounts()
    stored = {}
    names = sorted({u.hostname for u in updates})
    for node in reads.nodes_by_name(tx, names):
        # Several nodes of one name (a placeholder beside the node a sync
        # found): the lowest uuid, as get_node_by_name answers.
        stored.setdefault(node.hostname, node)
    keys = registers(tx, [n.uuid for n in stored.values()])
    records, set_keys, service_only = [], [], set()
    for update in updates:
        node = stored.get(update.hostname)
        if node is None:
            if update.record is None:
                counts.skipped += 1
                continue
            records.append(dataclasses.replace(
                update.record, updated_at=update.timestamp,
                **update.fields))
        else:
            order = _service_order(
                node, keys.get(node.uuid, {}).get('service_key'), update)
            if order < 0:
                counts.skipped += 1
                continue
            # Over a same-time update the node keeps its time: the write
            # then applies unconditionally.
            records.append(dataclasses.replace(
                node, updated_at=update.timestamp if order > 0 else None,
                **update.fields))
            if not set(update.fields) - SERVICE_FIELDS:
                # The node as read here, its service fields changed:
                # its inventories, zone and aggregates are not rewritten.
                service_only.add(node.uuid)
        if update.key is not None:
            set_keys.append({'uuid': records[-1].uuid, 'key': update.key})
    if records:
        counts.add(write_node_rows(
            tx, graph, [compute_rows.node_row(n) for n in records],
            service_only=service_only))
    for batch in upsert.batches(graph, set_keys):
        tx.run(SET_SERVICE_KEYS, rows=batch).consume()
    return counts


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
