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

"""Writes of instances: upserts, deletes and pruning.

The staleness, tombstone and touch rules are those of
:mod:`tachyon.graph.upsert`. An instance is mapped to the compute node its
``node_uuid`` names or, failing that, the one named ``node_name``; the
classification resolves that node. New instances take a fast path (edges
created, nothing to detach); one that stays on its node with the same
project, zone and flavor takes a light update (properties and amounts
only); the others a full write. Every write bumps the generation of the
nodes whose usage changed.

``write_*`` and ``remove_*`` run inside the caller's transaction; the
``upsert_*``, ``delete_*`` and ``prune_*`` functions run their own.
"""

from oslo_log import log as logging

from tachyon.graph import common
from tachyon.graph.compute import reads as compute_reads
from tachyon.graph.compute import rows as compute_rows
from tachyon.graph import tombstones
from tachyon.graph import upsert

LOG = logging.getLogger(__name__)

_COL = upsert.column_refs('c', compute_rows.INSTANCE_COLUMNS,
                          compute_rows.INSTANCE_STORED)
# The columns a row of the write statements has after the record's: the
# stamp of a notification (tachyon.graph.events) written with the
# instance, in the same statement: its tie key (null: keep the stored
# one), whether to date its node and that date.
_STAMP_AT = len(compute_rows.INSTANCE_COLUMNS)
_COL['stamp_set'] = (
    ',\n    c.tie_key = coalesce(row[%(k)d], c.tie_key),\n'
    '    c.placed_at = CASE WHEN row[%(p)d] THEN row[%(d)d]'
    ' ELSE c.placed_at END') % {'k': _STAMP_AT, 'p': _STAMP_AT + 1,
                                'd': _STAMP_AT + 2}
#: The stamp of a row no notification stamps: everything kept.
NO_STAMP = (None, False, None)

# What the graph holds of the instances that exist or were deleted; the
# others are new. Rows: [uuid, node_uuid, node_name]. (No lock: the write
# statements repeat the staleness guard.)
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
RETURN row[0] AS uuid, c IS NOT NULL AS exists, c.type AS kind,
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
    c.generation = 1%(stamp_set)s
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
""" % _COL

# Update instances (the node, ``target``, was resolved by the
# classification). The WHERE repeats the staleness guard.
WRITE_INSTANCES = """
UNWIND $rows AS row
MERGE (c:Consumer {uuid: %(uuid)s})
ON CREATE SET c.type = 'instance', c.generation = 0
WITH c, row
WHERE c.type = 'instance'
%(fresh_set)s%(stamp_set)s
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
""" % _COL

# The light update: an instance that stays on its node, with the same
# project, zone and flavor (what most notifications carry: a new state).
# Only its properties and the amounts on its CONSUMES edges change.
UPDATE_INSTANCES = """
UNWIND $rows AS row
MATCH (c:Consumer {uuid: %(uuid)s})
USING INDEX c:Consumer(uuid)
WHERE c.type = 'instance'
%(fresh_set)s%(stamp_set)s
WITH c, row
OPTIONAL MATCH (c)-[r:CONSUMES]->(:Inventory)
SET r.used = CASE r.resource_class
               WHEN 'VCPU' THEN %(vcpus)s
               WHEN 'MEMORY_MB' THEN %(memory)s
               ELSE %(disk)s END
RETURN count(DISTINCT c) AS n
""" % _COL

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

# The tie keys of the stored instances (see tachyon.graph.events), and
# setting them ($rows: {uuid, updated_at, tie_key}).
GET_TIE_KEYS = """
UNWIND $uuids AS uuid
MATCH (c:Consumer {uuid: uuid})
USING INDEX c:Consumer(uuid)
WHERE c.type = 'instance'
RETURN c.uuid AS uuid, c.updated_at AS updated_at, c.tie_key AS tie_key,
       c.placed_at AS placed_at
"""

# The time as of which an instance's node is known ($rows: {uuid,
# updated_at, placed_at}), set by notifications (tachyon.graph.events);
# a write by anything else (a sync) forgets it ($uuids): its updated_at
# then dates the node too.
SET_PLACED_AT = """
UNWIND $rows AS row
MATCH (c:Consumer {uuid: row.uuid})
USING INDEX c:Consumer(uuid)
WHERE c.type = 'instance' AND c.updated_at = row.updated_at
SET c.placed_at = row.placed_at
"""

FORGET_PLACED_AT = """
UNWIND $uuids AS uuid
MATCH (c:Consumer {uuid: uuid})
USING INDEX c:Consumer(uuid)
WHERE c.placed_at IS NOT NULL
REMOVE c.placed_at
"""

SET_TIE_KEYS = """
UNWIND $rows AS row
MATCH (c:Consumer {uuid: row.uuid})
USING INDEX c:Consumer(uuid)
WHERE c.type = 'instance' AND c.updated_at = row.updated_at
SET c.tie_key = row.tie_key
"""

# A stamped row equal to the stored instance: its time moves (as
# upsert.TOUCH) and it takes the stamp. Rows: [uuid, updated_at, tie_key,
# set placed_at, placed_at].
STAMP_TOUCH = """
UNWIND $rows AS row
MATCH (c:Consumer {uuid: row[0]})
USING INDEX c:Consumer(uuid)
WHERE c.type = 'instance'
  AND (c.updated_at IS NULL OR c.updated_at <= row[1])
SET c.updated_at = row[1],
    c.tie_key = coalesce(row[2], c.tie_key),
    c.placed_at = CASE WHEN row[3] THEN row[4] ELSE c.placed_at END
"""

# What a batch of notifications decides against, in one read: per uuid
# with an instance or a tombstone, the instance as GET_INSTANCES reads it
# (null: none), its tie key and node date, and the tombstone's time.
GET_NOTIFICATION_STATE = """
UNWIND $uuids AS uuid
OPTIONAL MATCH (c:Consumer {uuid: uuid})
USING INDEX c:Consumer(uuid)
WHERE c.type = 'instance'
OPTIONAL MATCH (t:Tombstone {kind: $kind, uuid: uuid})
USING INDEX t:Tombstone(kind, uuid)
WITH uuid, c, t
WHERE c IS NOT NULL OR t IS NOT NULL
OPTIONAL MATCH (c)-[:CONSUMES {resource_class: 'VCPU'}]->(:Inventory)
      <-[:HAS_INVENTORY]-(rp:ResourceProvider)
RETURN uuid, CASE WHEN c IS NULL THEN NULL ELSE %s END AS c,
       rp.uuid AS node_uuid, rp.name AS node_name, c.tie_key AS tie_key,
       c.placed_at AS placed_at, t.deleted_at AS deleted_at
""" % compute_reads.INSTANCE_VALUES

INSTANCE = upsert.Entity(kind=compute_rows.TYPE,
                         tombstone_kind=tombstones.KIND_INSTANCE,
                         label=upsert.CONSUMER, write=WRITE_INSTANCES,
                         delete=DELETE_INSTANCES)


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


def _stamp(stamps, row):
    """The stamp columns of ``row`` (see :func:`write_instance_rows`)."""
    found = stamps.get(row['uuid']) if row['updated_at'] is not None else (
        None)
    if found is None:
        return NO_STAMP
    key, placed_at = found
    return (key, placed_at is not None, placed_at)


def _resolved(tx, rows, providers, stamps):
    """Write columns of ``rows``, each with the node it names resolved."""
    if not rows:
        return []
    params = [[r['uuid'], r['node_uuid'], r['node_name']] for r in rows]
    state = {r['uuid']: r for r in common.dicts(
        tx.run(CLASSIFY_INSTANCES, rows=params))}
    columns = []
    for row in rows:
        seen = state.get(row['uuid']) or {}
        target = seen.get('target')
        providers.update((seen.get('current_node'), target))
        columns.append(compute_rows.instance_columns(row, target)
                       + list(_stamp(stamps, row)))
    return columns


def _retaken(plan, seen, row, retake):
    """Whether a row at the stored time is to be written all the same.

    The caller (:mod:`tachyon.graph.events`) names in ``retake`` the
    uuids whose change wins a tie against the stored state (see the
    convergence rule there); the plan counted such a row unchanged.
    """
    if (row['uuid'] not in retake or not seen or not seen['exists']
            or seen['kind'] != INSTANCE.kind
            or row['updated_at'] is None
            or seen['updated_at'] != row['updated_at']
            or tombstones.blocks(seen['deleted_at'], row['updated_at'])):
        return False
    plan.counts.unchanged -= 1
    return True


def write_instance_rows(tx, graph, rows, bump=True, retake=(),
                        placed_by_caller=False, stamps=None):
    """Upsert instance rows (:func:`rows.instance_row`) inside ``tx``.

    With ``bump`` the global generation moves when anything changed.
    The rows of the uuids in ``retake`` are written even when the stored
    instance has the same ``updated_at`` (they won a tie). Unless
    ``placed_by_caller`` (the notification path, which dates placements
    itself), the instances written forget their ``placed_at``.

    ``stamps`` ({uuid: (tie_key, placed_at)}, the notification path) are
    written with the rows that apply (a row equal to the stored instance
    included: its time moves), in the same statements: the tie key of
    the change (None: the stored one stays) and the date of the node
    (None: the stored one stays). A row without ``updated_at`` takes no
    stamp.
    :returns: :class:`~tachyon.graph.common.SyncCounts`.
    """
    retake = frozenset(retake)
    stamps = stamps or {}
    plan = upsert.Plan(INSTANCE)
    write, update, new, touched = [], [], [], []
    providers = set()
    applied = []
    for batch in upsert.batches(graph, rows):
        params = [[r['uuid'], r['node_uuid'], r['node_name']] for r in batch]
        state = {r['uuid']: r for r in common.dicts(
            tx.run(CLASSIFY_INSTANCES, rows=params))}
        for row in batch:
            seen = state.get(row['uuid'])
            sort = plan.sort(seen, row['uuid'], row['updated_at'])
            if sort is None and _retaken(plan, seen, row, retake):
                sort = upsert.NEWER
            if sort == upsert.NEW:
                new.append(compute_rows.instance_columns(row)
                           + list(_stamp(stamps, row)))
                continue
            if sort != upsert.NEWER:
                continue
            applied.append(row['uuid'])
            target = seen['target']
            stamp = _stamp(stamps, row)
            if (seen['current_node'] == target
                    and seen['fingerprint'] == row['props']['fingerprint']):
                if stamp == NO_STAMP:
                    plan.same(row['uuid'], row['updated_at'])
                else:
                    # Counted unchanged; the touch carries the stamp.
                    plan.same(row['uuid'], None)
                    touched.append([row['uuid'], row['updated_at']]
                                   + list(stamp))
                continue
            columns = compute_rows.instance_columns(row, target) + list(stamp)
            (update if _stays(seen, row, target) else write).append(columns)
            plan.changed()
            # The usage of both nodes may have changed.
            providers.update((seen['current_node'], target))

    uuid_index = compute_rows.INSTANCE_COLUMNS.index('uuid')
    by_uuid = {row['uuid']: row for row in rows}
    for batch in upsert.batches(graph, new):
        done = {}
        for result in tx.run(CREATE_INSTANCES, rows=batch):
            done[result['uuid']] = result['target']
        providers.update(done.values())
        # Created by someone else since we looked: an update then, onto
        # the node the row names (resolved again: a row of the fast path
        # carries no target, and a write without one would drop the
        # instance's CONSUMES edges).
        late = [by_uuid[row[uuid_index]] for row in batch
                if row[uuid_index] not in done]
        for row in late:
            LOG.debug('Instance %s appeared meanwhile; updating it',
                      row['uuid'])
        write.extend(_resolved(tx, late, providers, stamps))
    old_projects, old_azs, old_flavors = set(), set(), set()
    for batch in upsert.batches(graph, write):
        for result in tx.run(WRITE_INSTANCES, rows=batch):
            old_projects.update(result['old_projects'])
            old_azs.update(result['old_azs'])
            old_flavors.update(result['old_flavors'])
    for batch in upsert.batches(graph, update):
        tx.run(UPDATE_INSTANCES, rows=batch).consume()
    for batch in upsert.batches(graph, touched):
        tx.run(STAMP_TOUCH, rows=batch).consume()
    upsert.bump_providers(tx, providers)
    if applied and not placed_by_caller:
        for batch in upsert.batches(graph, applied):
            tx.run(FORGET_PLACED_AT, uuids=batch).consume()
    return upsert.finish(tx, graph, plan, bump, projects=old_projects,
                         azs=old_azs, flavors=old_flavors)


def write_instances(tx, graph, instances, bump=True, retake=(),
                    placed_by_caller=False, stamps=None):
    """Upsert Instance records inside ``tx`` (see upsert_instances).

    ``retake``, ``placed_by_caller``, ``stamps``: see
    :func:`write_instance_rows`.
    :returns: :class:`~tachyon.graph.common.SyncCounts`.
    """
    return write_instance_rows(
        tx, graph, [compute_rows.instance_row(i) for i in instances], bump,
        retake, placed_by_caller, stamps)


def notification_state(tx, uuids):
    """What notifications about ``uuids`` decide against, in one read.

    :returns: ({uuid: Instance}, {uuid: (updated_at, tie_key,
        placed_at)}, {uuid: deleted_at}): the stored instances (as
        :func:`~tachyon.graph.compute.reads.instances_by_uuid`), their
        ties (as :func:`instance_ties`) and the tombstones (as
        :func:`~tachyon.graph.tombstones.get_tombstones`).
    """
    stored, ties, tombs = {}, {}, {}
    uuids = sorted(set(uuids))
    if not uuids:
        return stored, ties, tombs
    at = compute_rows.INSTANCE_PROPS.index('updated_at')
    for r in tx.run(GET_NOTIFICATION_STATE, uuids=uuids,
                    kind=tombstones.KIND_INSTANCE):
        uuid = r['uuid']
        if r['deleted_at'] is not None:
            tombs[uuid] = r['deleted_at']
        values = r['c']
        if values is None:
            continue
        stored[uuid] = compute_rows.instance_record(
            values, r['node_uuid'], r['node_name'])
        ties[uuid] = (values[at], r['tie_key'], r['placed_at'])
    return stored, ties, tombs


def instance_ties(tx, uuids):
    """{uuid: (updated_at, tie_key, placed_at)} of stored instances."""
    uuids = sorted(set(uuids))
    if not uuids:
        return {}
    return {r['uuid']: (r['updated_at'], r['tie_key'], r['placed_at'])
            for r in tx.run(GET_TIE_KEYS, uuids=uuids)}


def set_placed_at(tx, rows):
    """Date the node of instances ({uuid, updated_at, placed_at} maps).

    An instance whose ``updated_at`` is not the row's keeps its date.
    """
    if rows:
        tx.run(SET_PLACED_AT, rows=list(rows)).consume()


def set_tie_keys(tx, keys):
    """Stamp instances with the tie key of the change that set them.

    ``keys`` are {uuid, updated_at, tie_key} maps; an instance whose
    ``updated_at`` is not the change's (the change did not apply) keeps
    its key.
    """
    if keys:
        tx.run(SET_TIE_KEYS, rows=list(keys)).consume()


def upsert_instances(graph, instances):
    """Create or update instances (records.Instance), in bulk.

    An instance is mapped to the compute node ``node_uuid`` names or,
    failing that, the one named ``node_name`` (its hostname); to none when
    neither exists. A changed node moves its CONSUMES edges; changed
    amounts update them.

    :returns: :class:`~tachyon.graph.common.SyncCounts`.
    """
    return upsert.upsert_records(graph, compute_rows.instance_row,
                                 instances, write_instance_rows)


def remove_instances(tx, uuids, deleted_at, bump=True):
    """Delete instances inside ``tx``; :returns: how many."""
    return upsert.delete(tx, INSTANCE, uuids, deleted_at, bump)


def delete_instances(graph, uuids, deleted_at=None):
    """Delete instances and whatever only they used.

    That is their Project, Flavor (and its ExtraSpecs) and pinned
    AvailabilityZone when no one else uses them. The nodes they ran on
    have their generation bumped.

    Leaves a tombstone per uuid (``deleted_at``, default now), even for
    an instance the graph does not know yet, so that an older create
    arriving late cannot bring it back. :returns: how many were deleted.
    """
    return upsert.delete_records(graph, INSTANCE, uuids, deleted_at)


def prune_instances(graph, keep_uuids, before):
    """Delete instances a full sync no longer lists.

    Those not in ``keep_uuids`` and last updated before ``before`` (the
    start of the sync); their tombstones are dated ``before``.
    :returns: how many were deleted.
    """
    return graph.write(upsert.prune, INSTANCE, keep_uuids, before,
                       float(before))
