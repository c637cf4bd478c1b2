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

"""Simulation sessions in the graph: how sessions and deltas are stored.

Shape::

    (:SimulationSession {id, status, base_generation, created_at,
                         expires_at, audit_uuid, next_sequence,
                         delta_count, finished_at, parent_id, depth,
                         ancestor_ids, ancestor_upto, commit_request_id,
                         commit_outcome, create_request_id, end_request_id,
                         end_descendants, merge_request_id, merge_outcome})
      -[:HAS_DELTA]->(:SpeculativeDelta {session_id, sequence, type,
                                         consumer_uuid, source_uuid,
                                         destination_uuid, resources,
                                         old_resources, consumer_generation,
                                         source_generation,
                                         destination_generation,
                                         check_capacity, request_id})

``resources`` and ``old_resources`` are JSON maps of resource class to
amount; the loaders here hand them back decoded, as ``commit_outcome``
(the answer a commit sent under ``commit_request_id`` got, kept for the
same commit sent again: :func:`keep_commit_outcome`). A delta's
``request_id`` is that of the call that recorded it
(:func:`batch_sequences`).

The other request ids (RPC API 1.9) make a session's life calls safe to
send again: ``create_request_id`` is the id of the call that created the
session or the fork (the same id sent again answers this session and
creates none: :func:`create_session`, :func:`fork_session`);
``end_request_id`` that of the close, rollback or revert that ended it,
or (RPC API 1.10) of the expiry a caller asked (with ``end_descendants``,
the forks a rollback or an expiry ended with it: the same call sent
again answers as the first time, :func:`ended`);
``merge_request_id`` and ``merge_outcome`` the id and the answer (its
result, or the MergeConflict that refused it) of a merge of the fork
into its parent (:func:`merge_outcome`).

Deltas are indexed by consumer, source and destination, so the deltas
touching one node are an indexed lookup whose cost grows with those
deltas, not with the graph.

A fork (:func:`fork_session`) is a session with a ``parent_id``: it
keeps its ancestors' ids, root first, in ``ancestor_ids`` and, in
``ancestor_upto``, the sequence up to which (excluded) it sees each
one's deltas -- the ``next_sequence`` each had when the branch under it
was forked. Forking writes one node whatever the cloud's size or the
parent's deltas. Every delta read below takes the session's *chain*:
each ancestor's deltas below its bound, then the session's own, in that
order (an ancestor's later deltas are not the fork's). The chain is
worked out in the statement that reads the deltas, from the session
node, so a fork's reads are as many round trips as a root's.

This module stores and loads only. What a delta means -- its effect on
usage, the checks before it is recorded, the conflicts of a commit -- is
:mod:`tachyon.simulation`'s, which runs its rules inside the transactions
it opens with the transaction-level functions below (those taking ``tx``).
The functions taking ``graph`` are whole units of work of their own.

A delta is recorded in a write transaction that first takes the session
node's write lock (:func:`load_session` with ``lock``), so concurrent
writers on one session are serialised and sequence numbers are unique and
gapless. The ``*_generation`` properties keep the generations the touched
entities had when the delta was recorded; a commit compares them (and
their ``updated_at`` with the session's creation time) with the current
graph to find conflicts.

Concurrency: a commit takes the write locks of the consumers and
providers it touches (:func:`lock_entities`) before it reads them, so
commits touching a common entity are serialised with each other and
with every other writer of it; a session is created (:func:`create_session`)
under the GlobalState node's write lock, in the transaction that counts
the active sessions, so the limit on them holds under concurrency.
"""

import json
import time

from tachyon import exception
from tachyon.graph import common
from tachyon.graph import compute
from tachyon.model import records

ACTIVE = 'active'
COMMITTED = 'committed'
ROLLED_BACK = 'rolled_back'
EXPIRED = 'expired'
#: Ended without being applied, its deltas kept (an audit's session once
#: its strategy has run).
CLOSED = 'closed'
#: A fork whose deltas were applied to its parent (:func:`end_session`).
MERGED = 'merged'
STATUSES = (ACTIVE, COMMITTED, ROLLED_BACK, EXPIRED, CLOSED, MERGED)

RESOURCE_CLASSES = records.COMPUTE_RESOURCE_CLASSES

#: Placements written per APPLY_PLACEMENTS statement of a commit.
PLACEMENT_BATCH = 1000

# ---------------------------------------------------------------------------
# Cypher
# ---------------------------------------------------------------------------

# Take the GlobalState node's write lock (the node is made on a fresh
# graph, as a generation bump would), then count the active sessions and
# create one, in one statement: the session is created only while fewer
# than $max_active are active. Creations (and forks) are serialised on
# the lock, and the count runs once it is held, so it sees every session
# the creations before it made (read committed). So does the look-up of
# the session an earlier attempt of the same call ($request_id, RPC API
# 1.9) created: when there is one (`sent`), nothing is created and it is
# the answer, whatever the count. `made` holds the session created, if
# any; one row comes back either way.
#
# Every match of the active sessions names the status index: left to
# itself the planner seeks on expires_at, which every session finished
# before its TTL (rolled back, committed, merged, reverted) still
# matches until it is purged, a day later by default; each creation and
# fork then read every one of them.
CREATE_SESSION = """
MERGE (g:GlobalState {id: 'global'})
ON CREATE SET g.generation = 0
SET g.lock__ = true REMOVE g.lock__
WITH g, COUNT {
  MATCH (a:SimulationSession {status: 'active'})
  USING INDEX SEEK a:SimulationSession(status)
  WHERE a.expires_at > $now
} AS active, COLLECT {
  MATCH (e:SimulationSession {create_request_id: $request_id})
  RETURN e {.*}
} AS sent
CALL (g, active, sent) {
  WITH g, active, sent WHERE sent = [] AND active < $max_active
  CREATE (s:SimulationSession {id: $id, status: 'active',
          base_generation: coalesce(g.generation, 0), created_at: $now,
          expires_at: $expires_at, audit_uuid: $audit_uuid,
          next_sequence: 0, delta_count: 0,
          create_request_id: $request_id})
  RETURN collect(s {.*}) AS made
}
RETURN made, sent
"""

# Take the write locks of the consumers, then of the providers, a commit
# touches, each list in uuid order: as migrations lock (the instance,
# then its nodes in uuid order), so two commits, or a commit and a
# migration, wait for each other rather than deadlock. Any writer of one
# of them (a notification, a migration, another commit) changes it under
# its lock, so once these are held what is read of them stays true until
# the commit ends.
LOCK_ENTITIES = """
CALL () {
  UNWIND $consumers AS uuid
  MATCH (c:Consumer {uuid: uuid})
  USING INDEX SEEK c:Consumer(uuid)
  SET c.lock__ = true REMOVE c.lock__
  RETURN count(c) AS consumers
}
CALL () {
  UNWIND $providers AS uuid
  MATCH (rp:ResourceProvider {uuid: uuid})
  USING INDEX SEEK rp:ResourceProvider(uuid)
  SET rp.lock__ = true REMOVE rp.lock__
  RETURN count(rp) AS providers
}
RETURN consumers, providers
"""

GET_SESSION = """
MATCH (s:SimulationSession {id: $id})
RETURN s {.*} AS session
"""

LOCK_SESSION = """
MATCH (s:SimulationSession {id: $id})
SET s.lock__ = true REMOVE s.lock__
RETURN s {.*} AS session
"""

LIST_SESSIONS = """
MATCH (s:SimulationSession)
WHERE $status IS NULL OR s.status = $status
RETURN s {.*} AS session
ORDER BY s.created_at, s.id
"""

INSERT_DELTAS = """
MATCH (s:SimulationSession {id: $id})
UNWIND $deltas AS d
CREATE (s)-[:HAS_DELTA]->(:SpeculativeDelta {
  session_id: $id, sequence: d.sequence, type: d.type,
  consumer_uuid: d.consumer_uuid, source_uuid: d.source_uuid,
  destination_uuid: d.destination_uuid, resources: d.resources,
  old_resources: d.old_resources,
  consumer_generation: d.consumer_generation,
  source_generation: d.source_generation,
  destination_generation: d.destination_generation,
  check_capacity: d.check_capacity, request_id: d.request_id,
  created_at: $now})
WITH s, count(*) AS added
SET s.next_sequence = s.next_sequence + added,
    s.delta_count = s.delta_count + added
RETURN s.next_sequence AS next_sequence
"""

_DELTA = 'd {.*} AS delta'

# The answer of a commit kept on its session under the caller's request
# id (RPC API 1.7), for that commit sent again: its result, or the
# refusal of a session that stays active. One per session: the last
# commit request's.
KEEP_COMMIT_OUTCOME = """
MATCH (s:SimulationSession {id: $id})
SET s.commit_request_id = $request_id, s.commit_outcome = $outcome
"""

# The request id of the close, rollback or revert (RPC API 1.9), or of
# the expiry (1.10), that ended a session, with the forks a rollback or
# an expiry ended with it (null: a close), in the ending transaction:
# the same call sent again answers from them (`ended`).
KEEP_END = """
MATCH (s:SimulationSession {id: $id})
SET s.end_request_id = $request_id, s.end_descendants = $descendants
RETURN s {.*} AS session
"""

# The answer of a merge, kept on the fork under the caller's request id
# (RPC API 1.9): its result, in the merge's transaction, or its
# MergeConflict, while the fork stays active.
KEEP_MERGE_OUTCOME = """
MATCH (s:SimulationSession {id: $id})
SET s.merge_request_id = $request_id, s.merge_outcome = $outcome
"""

# The sequence numbers of the batch a caller recorded under a request id.
BATCH_SEQUENCES = """
MATCH (:SimulationSession {id: $id})-[:HAS_DELTA]->(d:SpeculativeDelta)
WHERE d.request_id = $request_id
RETURN d.sequence AS sequence
ORDER BY d.sequence
"""

# The chain of the session $id as a list `chain` of {id, upto, depth}:
# each ancestor (root first) with the sequence its deltas are seen below,
# then the session itself, unbounded. A root's chain is itself alone.
_CHAIN = """
OPTIONAL MATCH (chain_s:SimulationSession {id: $id})
WITH coalesce(chain_s.ancestor_ids, []) AS chain_ids,
     coalesce(chain_s.ancestor_upto, []) AS chain_upto
WITH [i IN range(0, size(chain_ids) - 1) |
      {id: chain_ids[i], upto: chain_upto[i], depth: i}]
     + [{id: $id, upto: null, depth: size(chain_ids)}] AS chain
"""

_IN_CHAIN = "(link.upto IS NULL OR %s.sequence < link.upto)"

DELTAS_OF_CONSUMER = _CHAIN + """
UNWIND chain AS link
MATCH (d:SpeculativeDelta {session_id: link.id, consumer_uuid: $uuid})
WHERE %s
RETURN %s ORDER BY link.depth, d.sequence
""" % (_IN_CHAIN % 'd', _DELTA)


def _deltas_touching(var, node):
    """Cypher: the chain's deltas (``chain``) from or to the node ``node``."""
    return ("COLLECT {\n"
            "  UNWIND chain AS link\n"
            "  MATCH (%(v)s:SpeculativeDelta {session_id: link.id, "
            "source_uuid: %(n)s})\n"
            "  WHERE %(in)s\n"
            "  RETURN %(v)s {.*} AS delta\n"
            "  UNION\n"
            "  UNWIND chain AS link\n"
            "  MATCH (%(v)s:SpeculativeDelta {session_id: link.id, "
            "destination_uuid: %(n)s})\n"
            "  WHERE %(in)s\n"
            "  RETURN %(v)s {.*} AS delta\n"
            "}") % {'v': var, 'n': node, 'in': _IN_CHAIN % var}


# One row: the deltas (unordered) that move usage on or off a node.
DELTAS_OF_PROVIDER = _CHAIN + """
RETURN %s AS deltas
""" % _deltas_touching('d', '$uuid')

ALL_DELTAS = _CHAIN + """
UNWIND chain AS link
MATCH (:SimulationSession {id: link.id})-[:HAS_DELTA]->(d:SpeculativeDelta)
WHERE %s
RETURN %s ORDER BY link.depth, d.sequence
""" % (_IN_CHAIN % 'd', _DELTA)

# The session's own deltas, without its ancestors'.
OWN_DELTAS = """
MATCH (:SimulationSession {id: $id})-[:HAS_DELTA]->(d:SpeculativeDelta)
RETURN %s ORDER BY d.sequence
""" % _DELTA

# What a delta needs to know of an instance: where it runs and how much it
# asks for.
CONSUMER_STATE = """
MATCH (c:Consumer {uuid: $uuid})
WHERE c.type = 'instance'
OPTIONAL MATCH (c)-[:CONSUMES {resource_class: 'VCPU'}]->(inv:Inventory)
RETURN c.vcpus AS vcpus, c.memory AS memory, c.disk AS disk,
       c.generation AS generation, inv.provider_uuid AS node_uuid
"""

# What validating each delta of a batch needs, one row per spec, in one
# round trip: the consumer (its amounts and node) with the session's
# deltas of it, the source and destination nodes, and the usage and
# touching deltas of the node whose room is checked. Deltas earlier in
# the same batch are not in the graph yet: the caller applies them.
PREPARE_DELTAS = _CHAIN + """
UNWIND $specs AS s
CALL (s, chain) {
  OPTIONAL MATCH (c:Consumer {uuid: s.uuid})
  WHERE c.type = 'instance'
  OPTIONAL MATCH (c)-[:CONSUMES {resource_class: 'VCPU'}]->(inv:Inventory)
  OPTIONAL MATCH (src:ResourceProvider {uuid: s.source})
  WHERE src.kind = 'compute'
  OPTIONAL MATCH (dst:ResourceProvider {uuid: s.dest})
  WHERE dst.kind = 'compute'
  OPTIONAL MATCH (chk:ResourceProvider {uuid: s.check})
  WHERE chk.kind = 'compute'
  RETURN c IS NOT NULL AS exists, c.vcpus AS vcpus, c.memory AS memory,
         c.disk AS disk, c.generation AS generation,
         inv.provider_uuid AS node_uuid,
         src IS NOT NULL AS source_found,
         src.generation AS source_generation,
         dst IS NOT NULL AS dest_found, dst.generation AS dest_generation,
         COLLECT {
           UNWIND chain AS link
           MATCH (od:SpeculativeDelta {session_id: link.id,
                                       consumer_uuid: s.uuid})
           WHERE %s
           RETURN od {.*} AS delta ORDER BY link.depth, od.sequence
         } AS deltas,
         CASE WHEN chk IS NULL THEN []
              ELSE %s END AS check_usage,
         %s AS check_deltas
}
RETURN s.index AS index, exists, vcpus, memory, disk, generation,
       node_uuid, source_found, source_generation, dest_found,
       dest_generation, deltas, check_usage, check_deltas
""" % (_IN_CHAIN % 'od', compute.usage_of('chk', 'ci'),
       _deltas_touching('cd', 's.check'))

CURRENT_STATE = """
UNWIND $uuids AS uuid
OPTIONAL MATCH (c:Consumer {uuid: uuid})
OPTIONAL MATCH (rp:ResourceProvider {uuid: uuid})
RETURN uuid, coalesce(c.generation, rp.generation) AS generation,
       coalesce(c.updated_at, rp.updated_at) AS updated_at,
       c IS NOT NULL OR rp IS NOT NULL AS exists
"""

# Place each committed consumer: CONSUMES edges onto its final node's
# inventories (none when deallocated) and its final amounts.
APPLY_PLACEMENTS = """
UNWIND $rows AS row
MATCH (c:Consumer {uuid: row.uuid})
OPTIONAL MATCH (c)-[old:CONSUMES]->(:Inventory)
DELETE old
WITH DISTINCT c, row
SET c.vcpus = row.vcpus, c.memory = row.memory, c.disk = row.disk,
    c.record = row.record, c.generation = coalesce(c.generation, 0) + 1
WITH c, row
CALL (c, row) {
  WITH c, row WHERE row.node_uuid IS NOT NULL
  UNWIND row.consumes AS u
  MATCH (inv:Inventory {provider_uuid: row.node_uuid,
                        resource_class: u[0]})
  CREATE (c)-[:CONSUMES {used: u[1], resource_class: u[0]}]->(inv)
}
RETURN count(*) AS n
"""

GET_RECORDS = """
UNWIND $uuids AS uuid
MATCH (c:Consumer {uuid: uuid})
RETURN c.uuid AS uuid, c.record AS record
"""

FINISH_SESSION = """
MATCH (s:SimulationSession {id: $id})
OPTIONAL MATCH (s)-[:HAS_DELTA]->(d:SpeculativeDelta)
DETACH DELETE d
WITH DISTINCT s
SET s.status = $status, s.finished_at = $now, s.delta_count = 0
RETURN s {.*} AS session
"""

# Ends a session and keeps its deltas (purged with the session).
CLOSE_SESSION = """
MATCH (s:SimulationSession {id: $id})
SET s.status = $status, s.finished_at = $now
RETURN s {.*} AS session
"""

# The forks of $id still active within their TTL (those that would be
# cut off from their parent).
LIVE_FORKS = """
MATCH (c:SimulationSession {status: 'active'})
USING INDEX SEEK c:SimulationSession(status)
WHERE c.parent_id = $id AND c.expires_at > $now
RETURN c.id AS id ORDER BY c.id
"""

# A fork of $parent, in one statement: the parent's write lock first (as
# recording into it takes it), then the GlobalState's (as a commit of it
# does), so its next_sequence cannot move while it is read and the count
# of active sessions holds as in CREATE_SESSION. The fork is made only if
# the parent is active within its TTL, not deeper than $max_depth and
# fewer than $max_active sessions are active; the parent and the count
# are returned either way, to say which refused. The fork sees each
# ancestor's deltas as the parent does and the parent's own below its
# next sequence. As in CREATE_SESSION, a fork an earlier attempt of the
# same call made ($request_id) is found once the locks are held (`sent`)
# and no other is made.
FORK_SESSION = """
MATCH (p:SimulationSession {id: $parent})
SET p.lock__ = true REMOVE p.lock__
WITH p
MERGE (g:GlobalState {id: 'global'})
ON CREATE SET g.generation = 0
SET g.lock__ = true REMOVE g.lock__
WITH g, p, coalesce(p.depth, 0) + 1 AS depth, COUNT {
  MATCH (a:SimulationSession {status: 'active'})
  USING INDEX SEEK a:SimulationSession(status)
  WHERE a.expires_at > $now
} AS active, COLLECT {
  MATCH (e:SimulationSession {create_request_id: $request_id})
  RETURN e {.*}
} AS sent
CALL (g, p, depth, active, sent) {
  WITH g, p, depth, active, sent
  WHERE sent = [] AND p.status = 'active' AND p.expires_at > $now
    AND depth <= $max_depth AND active < $max_active
  CREATE (s:SimulationSession {id: $id, status: 'active',
          base_generation: p.base_generation, created_at: $now,
          expires_at: CASE WHEN p.expires_at < $expires_at
                           THEN p.expires_at ELSE $expires_at END,
          audit_uuid: p.audit_uuid, next_sequence: 0, delta_count: 0,
          parent_id: p.id, depth: depth,
          ancestor_ids: coalesce(p.ancestor_ids, []) + [p.id],
          ancestor_upto: coalesce(p.ancestor_upto, []) + [p.next_sequence],
          create_request_id: $request_id})
  RETURN collect(s {.*}) AS made
}
RETURN p {.*} AS parent, active, made, sent
"""

# End every active descendant of $id (its forks, theirs ...) as $status,
# dropping their deltas.
FINISH_DESCENDANTS = """
MATCH (c:SimulationSession {status: 'active'})
USING INDEX SEEK c:SimulationSession(status)
WHERE $id IN c.ancestor_ids
OPTIONAL MATCH (c)-[:HAS_DELTA]->(d:SpeculativeDelta)
DETACH DELETE d
WITH DISTINCT c
SET c.status = $status, c.finished_at = $now, c.delta_count = 0
RETURN collect(c.id) AS ids
"""

EXPIRED_SESSIONS = """
MATCH (s:SimulationSession {status: 'active'})
USING INDEX SEEK s:SimulationSession(status)
WHERE s.expires_at <= $now
RETURN s.id AS id
"""

PURGE_FINISHED = """
MATCH (s:SimulationSession)
WHERE s.status <> 'active' AND s.finished_at < $before
OPTIONAL MATCH (s)-[:HAS_DELTA]->(d:SpeculativeDelta)
WITH s, collect(d) AS deltas
FOREACH (d IN deltas | DETACH DELETE d)
DETACH DELETE s
RETURN count(*) AS n
"""


# ---------------------------------------------------------------------------
# Row mapping
# ---------------------------------------------------------------------------


def _session(row):
    session = dict(row)
    session.pop('lock__', None)
    for name in ('commit_outcome', 'merge_outcome'):
        if session.get(name) is not None:
            session[name] = json.loads(session[name])
    return session


_DELTA_FIELDS = ('consumer_uuid', 'source_uuid', 'destination_uuid',
                 'consumer_generation', 'source_generation',
                 'destination_generation')


def _delta(row):
    # Neo4j keeps no null properties: put the absent ones back as None.
    delta = dict.fromkeys(_DELTA_FIELDS)
    delta.update(row)
    delta['resources'] = json.loads(delta.get('resources') or '{}')
    delta['old_resources'] = json.loads(delta.get('old_resources') or '{}')
    # Deltas stored before forks kept no flag: they were checked.
    delta.setdefault('check_capacity', True)
    return delta


def _consumer(row):
    """An instance's global state: its node, amounts and generation."""
    return {'node_uuid': row['node_uuid'],
            'resources': {records.VCPU: int(row['vcpus'] or 0),
                          records.MEMORY_MB: int(row['memory'] or 0),
                          records.DISK_GB: int(row['disk'] or 0)},
            'generation': row['generation']}


# ---------------------------------------------------------------------------
# Transaction-level reads
# ---------------------------------------------------------------------------

def load_session(tx, session_id, lock=False):
    """The session's properties; ``lock`` takes its write lock first.

    :raises: NotFound when there is no such session.
    """
    row = tx.run(LOCK_SESSION if lock else GET_SESSION,
                 id=session_id).single()
    if row is None:
        raise exception.NotFound(kind='simulation session', ident=session_id)
    return _session(row['session'])


def lock_entities(tx, consumers, providers):
    """Take the write locks of consumers, then providers, inside ``tx``.

    Each list is locked in uuid order (sorted here); uuids the graph does
    not have are passed over. The locks are held until ``tx`` ends.
    """
    tx.run(LOCK_ENTITIES,
           consumers=sorted({u for u in consumers if u}),
           providers=sorted({u for u in providers if u})).consume()


def consumer_state(tx, uuid):
    """{'node_uuid', 'resources', 'generation'} of an instance, globally.

    ``resources`` maps each compute resource class to the amount the
    instance asks for. None when there is no such instance.
    """
    row = tx.run(CONSUMER_STATE, uuid=uuid).single()
    if row is None:
        return None
    return _consumer(row)


def consumer_deltas(tx, session_id, uuid):
    """The session's deltas of one consumer, in order."""
    return [_delta(row['delta']) for row in tx.run(
        DELTAS_OF_CONSUMER, id=session_id, uuid=uuid)]


def provider_deltas(tx, session_id, node_uuid):
    """The session's deltas from or to one node (in no order)."""
    return [_delta(delta) for delta in tx.run(
        DELTAS_OF_PROVIDER, id=session_id, uuid=node_uuid).single()['deltas']]


def session_deltas(tx, session_id):
    """Every delta of the session, in order (the session is not checked)."""
    return [_delta(row['delta'])
            for row in tx.run(ALL_DELTAS, id=session_id)]


def delta_context(tx, session_id, wanted):
    """What checking each delta of a batch needs, in one round trip.

    ``wanted``: one dict per delta, in order, with ``uuid`` (the consumer),
    ``source``, ``dest`` and ``check`` (the node whose room is checked, or
    None). One dict per delta comes back, in the same order: ``exists``
    and ``consumer`` (as :func:`consumer_state`) of the instance, the
    session's ``deltas`` of it, ``source_found``/``source_generation`` and
    ``dest_found``/``dest_generation`` of the nodes, and the global
    ``check_usage`` ({rc: (inventory, used)}) and touching
    ``check_deltas`` of the checked node. Deltas not recorded yet are not
    in it.
    """
    specs = [dict(spec, index=index) for index, spec in enumerate(wanted)]
    found = {}
    for row in tx.run(PREPARE_DELTAS, id=session_id, specs=specs):
        found.setdefault(row['index'], row)
    result = []
    for index in range(len(specs)):
        row = found[index]
        result.append({
            'exists': row['exists'], 'consumer': _consumer(row),
            'deltas': [_delta(d) for d in row['deltas']],
            'source_found': row['source_found'],
            'source_generation': row['source_generation'],
            'dest_found': row['dest_found'],
            'dest_generation': row['dest_generation'],
            'check_usage': compute.usage_from_rows(row['check_usage']),
            'check_deltas': [_delta(d) for d in row['check_deltas']]})
    return result


def own_deltas(tx, session_id):
    """The session's own deltas in order, without its ancestors'."""
    return [_delta(row['delta'])
            for row in tx.run(OWN_DELTAS, id=session_id)]


def live_forks(tx, session_id, now):
    """Ids of the session's active forks within their TTL, sorted."""
    return [row['id'] for row in tx.run(LIVE_FORKS, id=session_id,
                                        now=now)]


def commit_outcome(session, request_id):
    """What ``session`` (loaded) kept of the commit sent as ``request_id``.

    :returns: the outcome :func:`keep_commit_outcome` stored under that
        request id, or None (no request id, or another one's, or none).
    """
    if request_id is None or session.get('commit_request_id') != request_id:
        return None
    return session.get('commit_outcome')


def merge_outcome(session, request_id):
    """What a fork (loaded) kept of the merge sent as ``request_id``.

    :returns: the answer of the merge sent under that request id
        (:func:`keep_merge_outcome`): its result or its refusal, or None.
    """
    if request_id is None or session.get('merge_request_id') != request_id:
        return None
    return session.get('merge_outcome')


def ended(session):
    """The answer of the call that ended ``session`` (loaded), kept.

    A close's answer is the session; a rollback's, a revert's or an
    expiry's has the forks that ended with it too (``descendants``).
    Built from what :data:`KEEP_END` stored, so the first answer and
    that of the same call sent again are alike.
    """
    answer = dict(session)
    descendants = answer.pop('end_descendants', None)
    if descendants is not None:
        answer['descendants'] = sorted(descendants)
    return answer


def current_state(tx, uuids):
    """Consumers or providers as the graph has them now.

    :returns: [{'uuid', 'generation', 'updated_at', 'exists'}].
    """
    return [{'uuid': row['uuid'], 'generation': row['generation'],
             'updated_at': row['updated_at'], 'exists': row['exists']}
            for row in tx.run(CURRENT_STATE, uuids=list(uuids))]


def consumer_records(tx, uuids):
    """{uuid: the consumer's stored record, a dict} of existing consumers."""
    return {row['uuid']: json.loads(row['record'] or '{}')
            for row in tx.run(GET_RECORDS, uuids=list(uuids))}


# ---------------------------------------------------------------------------
# Transaction-level writes
# ---------------------------------------------------------------------------

def insert_deltas(tx, session_id, deltas, now):
    """Store checked deltas under the session; advance its counters.

    ``deltas``: dicts with every delta field, ``sequence`` included.
    """
    wire = [dict(delta, request_id=delta.get('request_id'),
                 resources=json.dumps(delta['resources'], sort_keys=True),
                 old_resources=json.dumps(delta['old_resources'],
                                          sort_keys=True))
            for delta in deltas]
    tx.run(INSERT_DELTAS, id=session_id, deltas=wire, now=now).consume()


def batch_sequences(tx, session_id, request_id):
    """Sequences of the deltas recorded under ``request_id`` ([]: none)."""
    return [row['sequence'] for row in tx.run(
        BATCH_SEQUENCES, id=session_id, request_id=request_id)]


def keep_commit_outcome(tx, session_id, request_id, outcome):
    """Keep a commit's answer on the session, under the caller's id.

    ``outcome``: a JSON-safe dict (stored as JSON); it replaces the one
    an earlier request kept. :func:`commit_outcome` reads it back.
    """
    tx.run(KEEP_COMMIT_OUTCOME, id=session_id, request_id=request_id,
           outcome=json.dumps(outcome, sort_keys=True)).consume()


def keep_merge_outcome(tx, session_id, request_id, outcome):
    """Keep a merge's answer on its fork, under the caller's id.

    ``outcome``: a JSON-safe dict (stored as JSON); :func:`merge_outcome`
    reads it back.
    """
    tx.run(KEEP_MERGE_OUTCOME, id=session_id, request_id=request_id,
           outcome=json.dumps(outcome, sort_keys=True)).consume()


def store_commit(tx, session_id, placements, providers, now):
    """Write a commit's outcome and end the session committed.

    ``placements``: one dict per consumer, with ``uuid``, ``node_uuid``
    (None: on no node), ``resources`` ({rc: amount}) and ``record`` (the
    consumer's record dict, its amounts already updated). ``providers``:
    the nodes whose generation moves.

    :returns: the global generation after the commit (moved only when a
        consumer was placed).
    """
    rows = []
    for placement in placements:
        res = placement['resources']
        rows.append({'uuid': placement['uuid'],
                     'node_uuid': placement['node_uuid'],
                     'vcpus': res[records.VCPU],
                     'memory': res[records.MEMORY_MB],
                     'disk': res[records.DISK_GB],
                     'record': json.dumps(placement['record'],
                                          sort_keys=True),
                     'consumes': [[rc, res[rc]] for rc in RESOURCE_CLASSES]})
    for start in range(0, len(rows), PLACEMENT_BATCH):
        tx.run(APPLY_PLACEMENTS,
               rows=rows[start:start + PLACEMENT_BATCH]).consume()
    compute.bump_providers(tx, providers)
    generation = (common.bump_global_generation(tx) if rows
                  else common.global_generation(tx))
    tx.run(FINISH_SESSION, id=session_id, status=COMMITTED,
           now=now).consume()
    return generation


# ---------------------------------------------------------------------------
# Session lifecycle (units of work)
# ---------------------------------------------------------------------------

def _replayed(sent, parent_id, request_id):
    """The session an earlier attempt of the same call created, if any.

    :raises: InvalidParameter when ``request_id`` created something else
        (a fork of another parent, or a root where a fork is asked).
    """
    if not sent:
        return None
    session = _session(sent[0])
    if session.get('parent_id') != parent_id:
        raise exception.InvalidParameter(
            field='request_id', reason='%s already created session %s, '
            'which is not %s' % (request_id, session['id'],
                                 'a fork of %s' % parent_id if parent_id
                                 else 'a root session'))
    return dict(session, replayed=True)


def _create(tx, session_id, ttl, audit_uuid, max_active, now,
            request_id=None):
    row = tx.run(CREATE_SESSION, id=session_id, now=now,
                 expires_at=now + ttl, audit_uuid=audit_uuid,
                 max_active=max_active, request_id=request_id).single()
    replayed = _replayed(row['sent'], None, request_id)
    if replayed is not None:
        return replayed
    if not row['made']:
        raise exception.LimitExceeded(
            limit='active simulation sessions', maximum=max_active,
            reason='expire or commit a session first')
    return _session(row['made'][0])


def create_session(graph, session_id, ttl, audit_uuid=None,
                   max_active=100, request_id=None):
    """Create an active session based on the current global generation.

    The active sessions are counted and the session created in one
    transaction holding the GlobalState node's write lock, so concurrent
    creations are serialised and ``max_active`` holds whatever their
    number.

    ``request_id``: the caller's id of this creation, stored on the
    session. When a session already holds it (the same call sent again,
    its answer lost), none is created: the answer is that session, as it
    is now, with ``replayed`` true; it is not counted again.

    :raises: LimitExceeded when ``max_active`` sessions are active;
        InvalidParameter when ``request_id`` created a fork.
    """
    return graph.write(_create, session_id, float(ttl), audit_uuid,
                       max_active, time.time(), request_id)


def get_session(graph, session_id):
    return graph.read_one(load_session, session_id)


def _list(tx, status):
    return [_session(r['session']) for r in tx.run(LIST_SESSIONS,
                                                   status=status)]


def list_sessions(graph, status=None):
    return graph.read(_list, status)


def refuse_live_forks(tx, session, what, now):
    """Refuse ``what`` of a session that has active forks.

    :raises: InvalidState naming the forks.
    """
    forks = live_forks(tx, session['id'], now)
    if forks:
        raise exception.InvalidState(
            kind='Simulation session', ident=session['id'],
            state='forked', reason='it cannot be %s while it has live '
            'forks (%s): merge or revert them first' % (
                what, ', '.join(forks)))


def end_session(tx, session_id, status, now):
    """Inside ``tx``: end the session as ``status``, dropping its deltas."""
    return _session(tx.run(FINISH_SESSION, id=session_id, status=status,
                           now=now).single()['session'])


def _finish(tx, session_id, status, require_active, now,
            keep_deltas=False, request_id=None):
    session = load_session(tx, session_id, lock=True)
    if request_id is not None:
        if session.get('end_request_id') == request_id:
            # The same call sent again: the first attempt ended it.
            return dict(ended(session), replayed=True)
        # Checked here, under the lock, not where the RPC call enters.
        if session['status'] == ACTIVE and session['expires_at'] <= now:
            raise exception.SessionExpired(session_id=session_id)
    if require_active and session['status'] != ACTIVE:
        raise exception.InvalidState(
            kind='Simulation session', ident=session_id,
            state=session['status'], reason='it has already ended')
    if keep_deltas:
        # A closed fork's reads need its ancestors' deltas: they must
        # not go first.
        refuse_live_forks(tx, session, 'closed', now)
        result = _session(tx.run(CLOSE_SESSION, id=session_id,
                                 status=status, now=now).single()['session'])
        ended_ids = None
    else:
        # Its forks cannot outlive it: they end with it, in this
        # transaction.
        ended_ids = sorted(tx.run(FINISH_DESCENDANTS, id=session_id,
                                  status=status, now=now).single()['ids'])
        result = end_session(tx, session_id, status, now)
        result['descendants'] = ended_ids
    if request_id is None:
        return result
    return ended(_session(tx.run(
        KEEP_END, id=session_id, request_id=request_id,
        descendants=ended_ids).single()['session']))


def close_session(graph, session_id, request_id=None):
    """End an active session unapplied, keeping its deltas to be read.

    ``request_id``: the caller's id of the close, kept on the session:
    the same close sent again (its answer lost) answers as the first
    time, with ``replayed`` true, instead of InvalidState.

    :raises: InvalidState while it has live forks, or once it has ended
        (under another request); with a ``request_id``, SessionExpired
        past its TTL and NotFound.
    """
    return graph.write(_finish, session_id, CLOSED, True, time.time(),
                       True, request_id)


def rollback_session(graph, session_id, request_id=None):
    """Drop the session's deltas; the session ends rolled back.

    Its forks and theirs end rolled back with it (their ids are the
    answer's ``descendants``): reverting a fork is rolling it back.
    ``request_id``: as :func:`close_session`'s.
    """
    return graph.write(_finish, session_id, ROLLED_BACK, True, time.time(),
                       False, request_id)


def expire_session(graph, session_id, request_id=None):
    """End an active session now, as its TTL would (its forks too).

    The forks that ended with it are the answer's ``descendants``.
    ``request_id`` (RPC API 1.10): as :func:`close_session`'s: kept on
    the session with those forks in the ending transaction, the same
    expiry sent again answers as the first time, with ``replayed`` true,
    instead of InvalidState; another request on the ended session is
    refused as before.
    """
    return graph.write(_finish, session_id, EXPIRED, True, time.time(),
                       False, request_id)


def _fork(tx, parent_id, session_id, ttl, max_depth, max_active, now,
          request_id=None):
    row = tx.run(FORK_SESSION, parent=parent_id, id=session_id, now=now,
                 expires_at=now + ttl, max_depth=max_depth,
                 max_active=max_active, request_id=request_id).single()
    if row is None:
        raise exception.NotFound(kind='simulation session', ident=parent_id)
    replayed = _replayed(row['sent'], parent_id, request_id)
    if replayed is not None:
        return replayed
    if row['made']:
        return _session(row['made'][0])
    parent = _session(row['parent'])
    if parent['status'] != ACTIVE or parent['expires_at'] <= now:
        raise exception.InvalidState(
            kind='Simulation session', ident=parent_id,
            state=parent['status'] if parent['status'] != ACTIVE
            else EXPIRED, reason='only an active session can be forked')
    depth = (parent.get('depth') or 0) + 1
    if depth > max_depth:
        raise exception.LimitExceeded(
            limit='simulation fork depth', maximum=max_depth,
            reason='session %s is already %d forks deep' % (
                parent_id, depth - 1))
    raise exception.LimitExceeded(
        limit='active simulation sessions', maximum=max_active,
        reason='expire, revert or commit a session first')


def fork_session(graph, parent_id, session_id, ttl, max_depth,
                 max_active=100, request_id=None):
    """A fork of an active session, in one transaction of O(1) writes.

    The fork sees the parent's deltas recorded so far (and what the
    parent sees of its own ancestors), never the parent's later ones. It
    expires no later than its parent. It counts as an active session.

    ``request_id``: as :func:`create_session`'s: the fork an earlier
    attempt of the same call made is the answer (``replayed`` true), and
    no other is made.

    :raises: InvalidState (the parent has ended), LimitExceeded (deeper
        than ``max_depth``, or ``max_active`` sessions active),
        InvalidParameter (``request_id`` created another session).
    """
    return graph.write(_fork, parent_id, session_id, float(ttl),
                       max_depth, max_active, time.time(), request_id)


def _reap(tx, now, retention):
    ids = [r['id'] for r in tx.run(EXPIRED_SESSIONS, now=now)]
    for session_id in ids:
        tx.run(FINISH_SESSION, id=session_id, status=EXPIRED,
               now=now).consume()
    purged = tx.run(PURGE_FINISHED, before=now - retention).single()['n']
    return ids, purged


def reap_sessions(graph, retention, now=None):
    """Expire sessions past their TTL and purge long-finished ones.

    :returns: (ids of the sessions expired now, how many were purged).
    """
    return graph.write(_reap, time.time() if now is None else now,
                       float(retention))


def _deltas(tx, session_id):
    load_session(tx, session_id)
    return session_deltas(tx, session_id)


def get_deltas(graph, session_id):
    """The session's deltas in order, whatever its status.

    :raises: NotFound when there is no such session.
    """
    return graph.read(_deltas, session_id)
