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

An instance's **state** has a date of its own (``state_at`` and
``state_key``, beside the ``updated_at`` and ``tie_key`` of the whole
record): state-only changes (:func:`write_states`, a conductor's
``compute_task.*.error``) move it and nothing else. A whole record sets
its other fields when it is newer than ``updated_at`` and its state only
when it is newer than the state's date too (:func:`state_wins`);
otherwise the stored state stays, with its date. ``state_at`` null: the
state dates from ``updated_at``. A state-only change of an instance the
graph does not have is kept as a *pending state* (``(:PendingState
{kind, uuid, state, state_at, state_key})``, never read as an
instance): the write that creates the instance takes it when it is the
newer, and deletes it. A delete older than an instance's state leaves
that state pending; one at least as new drops it. Full syncs drop the
pending states older than the sync.

``write_*`` and ``remove_*`` run inside the caller's transaction; the
``upsert_*``, ``delete_*`` and ``prune_*`` functions run their own.
"""

import collections
import time

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
# one), whether to date its node and that date; then the date of its
# state (null: its updated_at) and the state's tie key.
_STAMP_AT = len(compute_rows.INSTANCE_COLUMNS)
_COL['stamp_set'] = (
    ',\n    c.tie_key = coalesce(row[%(k)d], c.tie_key),\n'
    '    c.placed_at = CASE WHEN row[%(p)d] THEN row[%(d)d]'
    ' ELSE c.placed_at END,\n'
    '    c.state_at = row[%(sa)d],\n'
    '    c.state_key = row[%(sk)d]') % {
        'k': _STAMP_AT, 'p': _STAMP_AT + 1, 'd': _STAMP_AT + 2,
        'sa': _STAMP_AT + 3, 'sk': _STAMP_AT + 4}
#: The stamp of a row no notification stamps: everything kept.
NO_STAMP = (None, False, None)
#: The state columns of a row whose own state stands, dated by its time.
OWN_STATE = (None, None)

# What the graph holds of the instances that exist, were deleted or
# have a pending state; the others are new. Rows: [uuid, node_uuid,
# node_name]. (No lock: the write statements repeat the staleness
# guard.) A variable bound before a pattern comprehension is bound in
# it too: the comprehensions' variables are named apart from the rest.
CLASSIFY_KEYS = ('uuid', 'exists', 'kind', 'updated_at', 'fingerprint',
                 'deleted_at', 'current_node', 'target', 'projects', 'azs',
                 'flavors', 'consumes', 'inventories', 'tie_key', 'state',
                 'state_at', 'state_key', 'pending', 'pending_state',
                 'pending_at', 'pending_key')
CLASSIFY_INSTANCES = common.collected("""
UNWIND $rows AS row
OPTIONAL MATCH (c:Consumer {uuid: row[0]})
USING INDEX SEEK c:Consumer(uuid)
OPTIONAL MATCH (t:Tombstone {kind: 'instance', uuid: row[0]})
USING INDEX SEEK t:Tombstone(kind, uuid)
OPTIONAL MATCH (ps:PendingState {kind: 'instance', uuid: row[0]})
USING INDEX SEEK ps:PendingState(kind, uuid)
WITH row, c, t, ps
WHERE c IS NOT NULL OR t IS NOT NULL OR ps IS NOT NULL
OPTIONAL MATCH (c)-[:CONSUMES {resource_class: 'VCPU'}]->(cur:Inventory)
OPTIONAL MATCH (by_uuid:ResourceProvider {uuid: row[1]})
USING INDEX SEEK by_uuid:ResourceProvider(uuid)
WHERE by_uuid.kind = 'compute'
CALL (row, by_uuid) {
  OPTIONAL MATCH (n:ResourceProvider {name: row[2]})
  USING INDEX SEEK n:ResourceProvider(name)
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
               RETURN i } AS inventories,
       c.tie_key AS tie_key, c.state AS state, c.state_at AS state_at,
       c.state_key AS state_key, ps IS NOT NULL AS pending,
       ps.state AS pending_state, ps.state_at AS pending_at,
       ps.state_key AS pending_key
""", CLASSIFY_KEYS)

# The fast path for new instances (most of an import or a first sync):
# the node is resolved here (by uuid, else by name), nothing to detach,
# edges created rather than merged. A row whose consumer exists after all
# (a concurrent writer created it since we looked) is not returned; the
# caller sends it through WRITE_INSTANCES.
CREATE_INSTANCES = """
UNWIND $rows AS row
OPTIONAL MATCH (by_uuid:ResourceProvider {uuid: %(node_uuid)s})
USING INDEX SEEK by_uuid:ResourceProvider(uuid)
WHERE by_uuid.kind = 'compute'
CALL (row, by_uuid) {
  OPTIONAL MATCH (n:ResourceProvider {name: %(node_name)s})
  USING INDEX SEEK n:ResourceProvider(name)
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
USING INDEX SEEK vcpu:Inventory(provider_uuid, resource_class)
OPTIONAL MATCH (ram:Inventory {provider_uuid: target,
                               resource_class: 'MEMORY_MB'})
USING INDEX SEEK ram:Inventory(provider_uuid, resource_class)
OPTIONAL MATCH (dsk:Inventory {provider_uuid: target,
                               resource_class: 'DISK_GB'})
USING INDEX SEEK dsk:Inventory(provider_uuid, resource_class)
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
  USING INDEX SEEK inv:Inventory(provider_uuid, resource_class)
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
USING INDEX SEEK c:Consumer(uuid)
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
USING INDEX SEEK c:Consumer(uuid)
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
USING INDEX SEEK c:Consumer(uuid)
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
USING INDEX SEEK c:Consumer(uuid)
WHERE c.type = 'instance' AND c.updated_at = row.updated_at
SET c.placed_at = row.placed_at
"""

FORGET_PLACED_AT = """
UNWIND $uuids AS uuid
MATCH (c:Consumer {uuid: uuid})
USING INDEX SEEK c:Consumer(uuid)
WHERE c.placed_at IS NOT NULL
REMOVE c.placed_at
"""

SET_TIE_KEYS = """
UNWIND $rows AS row
MATCH (c:Consumer {uuid: row.uuid})
USING INDEX SEEK c:Consumer(uuid)
WHERE c.type = 'instance' AND c.updated_at = row.updated_at
SET c.tie_key = row.tie_key
"""

# A row equal to the stored instance whose stamp or state date is to be
# written: its time moves (as upsert.TOUCH; a row without one keeps it)
# and it takes the stamp and the state date. Rows: [uuid, updated_at,
# tie_key, set placed_at, placed_at, state_at, state_key].
STAMP_TOUCH = """
UNWIND $rows AS row
MATCH (c:Consumer {uuid: row[0]})
USING INDEX SEEK c:Consumer(uuid)
WHERE c.type = 'instance'
  AND (row[1] IS NULL OR c.updated_at IS NULL OR c.updated_at <= row[1])
SET c.updated_at = coalesce(row[1], c.updated_at),
    c.tie_key = coalesce(row[2], c.tie_key),
    c.placed_at = CASE WHEN row[3] THEN row[4] ELSE c.placed_at END,
    c.state_at = row[5],
    c.state_key = row[6]
"""

# The state registers of instances, their pending states and tombstones,
# for state-only changes ($uuids).
GET_STATES = """
UNWIND $uuids AS uuid
OPTIONAL MATCH (c:Consumer {uuid: uuid})
USING INDEX SEEK c:Consumer(uuid)
WHERE c.type = 'instance'
OPTIONAL MATCH (p:PendingState {kind: $kind, uuid: uuid})
USING INDEX SEEK p:PendingState(kind, uuid)
OPTIONAL MATCH (t:Tombstone {kind: $kind, uuid: uuid})
USING INDEX SEEK t:Tombstone(kind, uuid)
OPTIONAL MATCH (c)-[:CONSUMES {resource_class: 'VCPU'}]->(cur:Inventory)
RETURN uuid, c IS NOT NULL AS exists, c.record AS record,
       c.state AS state, c.fingerprint AS fingerprint,
       c.updated_at AS updated_at, c.tie_key AS tie_key,
       c.state_at AS state_at, c.state_key AS state_key,
       cur.provider_uuid AS current_node, p IS NOT NULL AS pending,
       p.state AS pending_state, p.state_at AS pending_at,
       p.state_key AS pending_key, t.deleted_at AS deleted_at
"""

# A state-only change of stored instances ($rows: {uuid, state, record,
# fingerprint, was, state_at, state_key, changed}): the state, in its
# property and its record, and its date; nothing else. ``was`` is the
# fingerprint the change was decided against.
SET_STATES = """
UNWIND $rows AS row
MATCH (c:Consumer {uuid: row.uuid})
USING INDEX SEEK c:Consumer(uuid)
WHERE c.type = 'instance' AND c.fingerprint = row.was
SET c.state = row.state,
    c.record = row.record,
    c.fingerprint = row.fingerprint,
    c.state_at = row.state_at,
    c.state_key = row.state_key,
    c.generation = c.generation + CASE WHEN row.changed THEN 1 ELSE 0 END
"""

# Keep (or replace) the pending states of instances the graph does not
# have ($rows: {uuid, state, state_at, state_key}).
SET_PENDING_STATES = """
UNWIND $rows AS row
MERGE (p:PendingState {kind: $kind, uuid: row.uuid})
SET p.state = row.state,
    p.state_at = row.state_at,
    p.state_key = row.state_key
"""

DELETE_PENDING_STATES = """
UNWIND $uuids AS uuid
MATCH (p:PendingState {kind: $kind, uuid: uuid})
USING INDEX SEEK p:PendingState(kind, uuid)
DELETE p
"""

# The pending states dated before a full sync ($before).
DROP_PENDING_STATES = """
MATCH (p:PendingState {kind: $kind})
WHERE p.state_at < $before
DELETE p
"""

# What the deletes of instances decide against ($rows: [uuid,
# deleted_at]): their state registers and pending states.
STATES_AT_DELETE = """
UNWIND $rows AS row
OPTIONAL MATCH (c:Consumer {uuid: row[0]})
USING INDEX SEEK c:Consumer(uuid)
WHERE c.type = 'instance'
OPTIONAL MATCH (p:PendingState {kind: $kind, uuid: row[0]})
USING INDEX SEEK p:PendingState(kind, uuid)
WITH row, c, p
WHERE c IS NOT NULL OR p IS NOT NULL
RETURN row[0] AS uuid, row[1] AS deleted_at, c IS NOT NULL AS exists,
       c.state AS state, c.updated_at AS updated_at, c.tie_key AS tie_key,
       c.state_at AS state_at, c.state_key AS state_key,
       p IS NOT NULL AS pending, p.state AS pending_state,
       p.state_at AS pending_at, p.state_key AS pending_key
"""

# What a batch of notifications decides against, in one read: per uuid
# with an instance or a tombstone, the instance as GET_INSTANCES reads it
# (null: none), its tie key and node date, and the tombstone's time.
NOTIFICATION_STATE_KEYS = ('uuid', 'c', 'node_uuid', 'node_name',
                           'tie_key', 'placed_at', 'deleted_at')
GET_NOTIFICATION_STATE = common.collected("""
UNWIND $uuids AS uuid
OPTIONAL MATCH (c:Consumer {uuid: uuid})
USING INDEX SEEK c:Consumer(uuid)
WHERE c.type = 'instance'
OPTIONAL MATCH (t:Tombstone {kind: $kind, uuid: uuid})
USING INDEX SEEK t:Tombstone(kind, uuid)
WITH uuid, c, t
WHERE c IS NOT NULL OR t IS NOT NULL
OPTIONAL MATCH (c)-[:CONSUMES {resource_class: 'VCPU'}]->(:Inventory)
      <-[:HAS_INVENTORY]-(rp:ResourceProvider)
RETURN uuid, CASE WHEN c IS NULL THEN NULL ELSE %s END AS c,
       rp.uuid AS node_uuid, rp.name AS node_name, c.tie_key AS tie_key,
       c.placed_at AS placed_at, t.deleted_at AS deleted_at
""" % compute_reads.INSTANCE_VALUES, NOTIFICATION_STATE_KEYS)

INSTANCE = upsert.Entity(kind=compute_rows.TYPE,
                         tombstone_kind=tombstones.KIND_INSTANCE,
                         label=upsert.CONSUMER, write=WRITE_INSTANCES,
                         delete=DELETE_INSTANCES)


# The uuids a delete decides against per statement.
_CHUNK = 1000

#: A state-only change of an instance (:func:`write_states`): its uuid,
#: the state, the change's time and tie key.
StateChange = collections.namedtuple('StateChange', 'uuid state at key')


def state_wins(at, key, stored_at, stored_key):
    """Whether a state at ``at`` (tie key ``key``) beats a stored one.

    The newer wins; at the same time the greater tie key (a key beats
    none; without keys the stored state stays). A change without a
    time, or a stored state without one, applies unconditionally.
    """
    if at is None or stored_at is None:
        return True
    if at != stored_at:
        return at > stored_at
    return key is not None and (stored_key is None or key > stored_key)


def _dated_apart(seen):
    """Whether a stored instance's state has a date of its own.

    It has when ``state_at`` is set and not older than ``updated_at``: a
    whole write newer than the state sets both (an older ``state_at``
    was left by a writer that does not know it, an engine of the
    previous release during an upgrade: ``updated_at`` dates the state).
    """
    return seen['state_at'] is not None and (
        seen['updated_at'] is None or seen['state_at'] >= seen['updated_at'])


def _stored_state(seen):
    """(state, at, key) of the state ``seen`` holds, or None.

    The instance's (``state_at`` and ``state_key``, or its
    ``updated_at`` and tie key when they date it), else the pending
    state of an instance the graph lacks.
    """
    if not seen:
        return None
    if seen['exists']:
        if _dated_apart(seen):
            return seen['state'], seen['state_at'], seen['state_key']
        return seen['state'], seen['updated_at'], seen['tie_key']
    if seen['pending']:
        return (seen['pending_state'], seen['pending_at'],
                seen['pending_key'])
    return None


def _with_state(seen, row, key):
    """``row`` in the state it leaves, and that state's date columns.

    The row's own state when it beats the stored (or pending) one
    (:data:`OWN_STATE`: dated by the row's time); the stored one, with
    its date, otherwise. ``key`` is the tie key of the row's change.
    """
    stored = _stored_state(seen)
    if stored is None or state_wins(row['updated_at'], key, stored[1],
                                    stored[2]):
        return row, OWN_STATE
    state, at, state_key = stored
    if (seen['exists'] and not _dated_apart(seen)
            and row['updated_at'] == seen['updated_at']):
        # The row keeps the instance's time (a move): so does its state.
        columns = OWN_STATE
    else:
        columns = (at, state_key)
    if state != row['props']['state']:
        row = compute_rows.restated_row(row, state)
    return row, columns


def _key(stamps, row):
    """The tie key of the change ``row`` comes from (None: none)."""
    if row['updated_at'] is None:
        return None
    return (stamps.get(row['uuid']) or (None,))[0]


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
    """Write columns of ``rows``, each with the node it names resolved.

    ``rows`` are (row, its state columns) pairs.
    """
    if not rows:
        return []
    params = [[r['uuid'], r['node_uuid'], r['node_name']] for r, _s in rows]
    state = {r['uuid']: r for r in common.collected_dicts(
        tx, CLASSIFY_INSTANCES, CLASSIFY_KEYS, rows=params)}
    columns = []
    for row, state_columns in rows:
        seen = state.get(row['uuid']) or {}
        target = seen.get('target')
        providers.update((seen.get('current_node'), target))
        columns.append(compute_rows.instance_columns(row, target)
                       + list(_stamp(stamps, row)) + list(state_columns))
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

    A row's state applies only when it beats the stored state
    (:func:`state_wins`, with the stamp's tie key), or the pending state
    of the instance it creates; otherwise that state stays, with its
    date. The pending states of the instances created are deleted.
    :returns: :class:`~tachyon.graph.common.SyncCounts`.
    """
    retake = frozenset(retake)
    stamps = stamps or {}
    plan = upsert.Plan(INSTANCE)
    write, update, new, touched = [], [], [], []
    providers = set()
    applied, consumed = [], []
    prepared = {}
    for batch in upsert.batches(graph, rows):
        params = [[r['uuid'], r['node_uuid'], r['node_name']] for r in batch]
        state = {r['uuid']: r for r in common.collected_dicts(
            tx, CLASSIFY_INSTANCES, CLASSIFY_KEYS, rows=params)}
        for row in batch:
            seen = state.get(row['uuid'])
            sort = plan.sort(seen, row['uuid'], row['updated_at'])
            if sort is None and _retaken(plan, seen, row, retake):
                sort = upsert.NEWER
            if sort not in (upsert.NEW, upsert.NEWER):
                continue
            row, state_columns = _with_state(seen, row, _key(stamps, row))
            if sort == upsert.NEW:
                prepared[row['uuid']] = (row, state_columns)
                if seen is not None and seen['pending']:
                    consumed.append(row['uuid'])
                new.append(compute_rows.instance_columns(row)
                           + list(_stamp(stamps, row))
                           + list(state_columns))
                continue
            applied.append(row['uuid'])
            target = seen['target']
            stamp = _stamp(stamps, row)
            if (seen['current_node'] == target
                    and seen['fingerprint'] == row['props']['fingerprint']):
                if stamp == NO_STAMP and state_columns == (
                        seen['state_at'], seen['state_key']):
                    plan.same(row['uuid'], row['updated_at'])
                else:
                    # Counted unchanged; the touch carries the stamp and
                    # the state's date.
                    plan.same(row['uuid'], None)
                    touched.append([row['uuid'], row['updated_at']]
                                   + list(stamp) + list(state_columns))
                continue
            columns = (compute_rows.instance_columns(row, target)
                       + list(stamp) + list(state_columns))
            (update if _stays(seen, row, target) else write).append(columns)
            plan.changed()
            # The usage of both nodes may have changed.
            providers.update((seen['current_node'], target))

    uuid_index = compute_rows.INSTANCE_COLUMNS.index('uuid')
    for batch in upsert.batches(graph, new):
        done = {}
        for result in tx.run(CREATE_INSTANCES, rows=batch):
            done[result['uuid']] = result['target']
        providers.update(done.values())
        # Created by someone else since we looked: an update then, onto
        # the node the row names (resolved again: a row of the fast path
        # carries no target, and a write without one would drop the
        # instance's CONSUMES edges).
        late = [prepared[row[uuid_index]] for row in batch
                if row[uuid_index] not in done]
        for row, _state in late:
            LOG.debug('Instance %s appeared meanwhile; updating it',
                      row['uuid'])
        write.extend(_resolved(tx, late, providers, stamps))
    for batch in upsert.batches(graph, consumed):
        tx.run(DELETE_PENDING_STATES, uuids=batch,
               kind=tombstones.KIND_INSTANCE).consume()
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


def write_states(tx, graph, changes, bump=True):
    """Set the state of instances, and nothing else, inside ``tx``.

    ``changes`` are :class:`StateChange` (one per uuid: the caller picks
    each instance's own). One that beats the instance's state
    (:func:`state_wins`) sets it and dates it; the instance keeps its
    other fields, its node, its ``updated_at`` and tie key. One about an
    instance the graph does not have is kept as its pending state when
    it is newer than the instance's tombstone (a delete at the same time
    wins) and beats the pending state already kept; without a time, it
    is skipped. With ``bump`` the global generation moves when a state
    changed.

    :returns: :class:`~tachyon.graph.common.SyncCounts`: ``updated``
        (a new state), ``unchanged`` (the same state, its date moved),
        ``skipped`` (older, or kept pending: the model does not change).
    """
    counts = common.SyncCounts()
    by_uuid = {change.uuid: change for change in changes}
    rows, pending, providers = [], [], set()
    for batch in upsert.batches(graph, sorted(by_uuid)):
        for seen in common.dicts(tx.run(GET_STATES, uuids=batch,
                                        kind=tombstones.KIND_INSTANCE)):
            change = by_uuid[seen['uuid']]
            stored = _stored_state(seen)
            if not seen['exists']:
                if (change.at is None
                        or tombstones.blocks(seen['deleted_at'], change.at)
                        or (stored is not None and not state_wins(
                            change.at, change.key, stored[1], stored[2]))):
                    counts.skipped += 1
                    continue
                pending.append({'uuid': change.uuid, 'state': change.state,
                                'state_at': change.at,
                                'state_key': change.key})
                counts.skipped += 1
                continue
            if not state_wins(change.at, change.key, stored[1], stored[2]):
                counts.skipped += 1
                continue
            record, fingerprint = compute_rows.restated_record(
                seen['record'], change.state)
            changed = change.state != seen['state']
            if change.at is None:
                if not changed:
                    counts.unchanged += 1
                    continue
                # Undated: the state's date stays.
                at, key = seen['state_at'], seen['state_key']
            else:
                at, key = change.at, change.key
            rows.append({'uuid': change.uuid, 'state': change.state,
                         'record': record, 'fingerprint': fingerprint,
                         'was': seen['fingerprint'], 'state_at': at,
                         'state_key': key, 'changed': changed})
            if changed:
                counts.updated += 1
                providers.add(seen['current_node'])
            else:
                counts.unchanged += 1
    for batch in upsert.batches(graph, rows):
        tx.run(SET_STATES, rows=batch).consume()
    for batch in upsert.batches(graph, pending):
        tx.run(SET_PENDING_STATES, rows=batch,
               kind=tombstones.KIND_INSTANCE).consume()
    upsert.bump_providers(tx, providers)
    if bump and counts.updated:
        common.bump_global_generation(tx)
    return counts


def keep_newer_states(tx, times):
    """Before instances are deleted: what of their states outlives it.

    ``times`` is {uuid: deleted_at}. An instance whose state is newer
    than its delete (a state-only change after the delete, handled
    before it) leaves that state pending, for the instance that may come
    back; a pending state not newer than the delete (at the same time
    the delete wins) is dropped. Call it inside the transaction of the
    deletes, before them.
    """
    if not times:
        return
    params = [[uuid, float(at)] for uuid, at in sorted(times.items())]
    keep, drop = [], []
    for start in range(0, len(params), _CHUNK):
        for seen in common.dicts(tx.run(
                STATES_AT_DELETE, rows=params[start:start
                                              + _CHUNK],
                kind=tombstones.KIND_INSTANCE)):
            state, at, key = _stored_state(seen)
            if at is not None and at > seen['deleted_at']:
                if seen['exists']:
                    keep.append({'uuid': seen['uuid'], 'state': state,
                                 'state_at': at, 'state_key': key})
            elif seen['pending']:
                drop.append(seen['uuid'])
    if keep:
        tx.run(SET_PENDING_STATES, rows=keep,
               kind=tombstones.KIND_INSTANCE).consume()
    if drop:
        tx.run(DELETE_PENDING_STATES, uuids=drop,
               kind=tombstones.KIND_INSTANCE).consume()


def drop_pending_states(tx, before):
    """Delete the pending states dated before ``before`` (a full sync)."""
    tx.run(DROP_PENDING_STATES, kind=tombstones.KIND_INSTANCE,
           before=float(before)).consume()


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
    for r in common.collected_dicts(tx, GET_NOTIFICATION_STATE,
                                    NOTIFICATION_STATE_KEYS, uuids=uuids,
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
    """Delete instances inside ``tx``; :returns: how many.

    A state newer than ``deleted_at`` (default now) stays pending
    (:func:`keep_newer_states`).
    """
    uuids = sorted(set(uuids))
    if not uuids:
        return 0
    deleted_at = float(deleted_at if deleted_at is not None
                       else time.time())
    keep_newer_states(tx, dict.fromkeys(uuids, deleted_at))
    return upsert.delete(tx, INSTANCE, uuids, deleted_at, bump)


def delete_instances(graph, uuids, deleted_at=None):
    """Delete instances and whatever only they used.

    That is their Project, Flavor (and its ExtraSpecs) and pinned
    AvailabilityZone when no one else uses them. The nodes they ran on
    have their generation bumped.

    Leaves a tombstone per uuid (``deleted_at``, default now), even for
    an instance the graph does not know yet, so that an older create
    arriving late cannot bring it back; a state newer than the delete
    stays pending (:func:`keep_newer_states`). :returns: how many were
    deleted.
    """
    uuids = sorted(set(uuids))
    if not uuids:
        return 0
    if deleted_at is None:
        deleted_at = time.time()
    return graph.write(remove_instances, uuids, float(deleted_at))


def _prune(tx, keep_uuids, before):
    deleted = upsert.prune(tx, INSTANCE, keep_uuids, before, before)
    drop_pending_states(tx, before)
    return deleted


def prune_instances(graph, keep_uuids, before):
    """Delete instances a full sync no longer lists.

    Those not in ``keep_uuids`` and last updated before ``before`` (the
    start of the sync), their state too; their tombstones are dated
    ``before``. The pending states dated before ``before`` go too (the
    sync wrote the instances it lists). :returns: how many were deleted.
    """
    return graph.write(_prune, keep_uuids, float(before))
