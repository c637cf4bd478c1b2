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

"""Simulation sessions: ordered deltas over the compute graph.

Shape::

    (:SimulationSession {id, status, base_generation, created_at,
                         expires_at, audit_uuid, next_sequence,
                         delta_count, finished_at})
      -[:HAS_DELTA]->(:SpeculativeDelta {session_id, sequence, type,
                                         consumer_uuid, source_uuid,
                                         destination_uuid, resources,
                                         old_resources, consumer_generation,
                                         source_generation,
                                         destination_generation})

``resources`` and ``old_resources`` are JSON maps of resource class to
amount. The effect of a delta on a provider follows from the delta alone
(a MOVE takes ``resources`` off its source and puts them on its
destination; ALLOCATE adds them to the destination; DEALLOCATE takes them
off the source; RESIZE adds ``resources - old_resources`` where the
consumer sits), so the virtual usage of one node is its global usage plus
the deltas touching it: an indexed lookup whose cost grows with those
deltas, not with the graph.

A delta is recorded in a write transaction that first takes the session
node's write lock, so concurrent writers on one session are serialised and
sequence numbers are unique and gapless. The ``*_generation`` properties
keep the generations the touched entities had when the delta was recorded;
a commit compares them (and their ``updated_at`` with the session's
creation time) with the current graph to find conflicts.
"""

import json
import math
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
STATUSES = (ACTIVE, COMMITTED, ROLLED_BACK, EXPIRED, CLOSED)

MOVE = 'MOVE'
ALLOCATE = 'ALLOCATE'
DEALLOCATE = 'DEALLOCATE'
RESIZE = 'RESIZE'
DELTA_TYPES = (MOVE, ALLOCATE, DEALLOCATE, RESIZE)
RESOURCE_CLASSES = records.COMPUTE_RESOURCE_CLASSES
KEYS = records.WATCHER_RESOURCE_KEYS

# ---------------------------------------------------------------------------
# Cypher
# ---------------------------------------------------------------------------

# Count the active sessions and create one, in one round trip: the
# session is created only while fewer than $max_active are active.
CREATE_SESSION = """
OPTIONAL MATCH (g:GlobalState {id: 'global'})
WITH g, COUNT {
  MATCH (a:SimulationSession {status: 'active'})
  WHERE a.expires_at > $now
} AS active
CALL (g, active) {
  WITH g, active WHERE active < $max_active
  CREATE (s:SimulationSession {id: $id, status: 'active',
          base_generation: coalesce(g.generation, 0), created_at: $now,
          expires_at: $expires_at, audit_uuid: $audit_uuid,
          next_sequence: 0, delta_count: 0})
  RETURN s {.*} AS session
}
RETURN session
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
  created_at: $now})
WITH s, count(*) AS added
SET s.next_sequence = s.next_sequence + added,
    s.delta_count = s.delta_count + added
RETURN s.next_sequence AS next_sequence
"""

_DELTA = 'd {.*} AS delta'

DELTAS_OF_CONSUMER = """
MATCH (d:SpeculativeDelta {session_id: $id, consumer_uuid: $uuid})
RETURN %s ORDER BY d.sequence
""" % _DELTA


def _deltas_touching(var, node):
    """Cypher: the session's deltas ($id) from or to the node ``node``."""
    return ("COLLECT {\n"
            "  MATCH (%(v)s:SpeculativeDelta {session_id: $id, "
            "source_uuid: %(n)s})\n"
            "  RETURN %(v)s {.*} AS delta\n"
            "  UNION\n"
            "  MATCH (%(v)s:SpeculativeDelta {session_id: $id, "
            "destination_uuid: %(n)s})\n"
            "  RETURN %(v)s {.*} AS delta\n"
            "}") % {'v': var, 'n': node}


# One row: the deltas (unordered) that move usage on or off a node.
DELTAS_OF_PROVIDER = """
RETURN %s AS deltas
""" % _deltas_touching('d', '$uuid')

ALL_DELTAS = """
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
PREPARE_DELTAS = """
UNWIND $specs AS s
CALL (s) {
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
           MATCH (od:SpeculativeDelta {session_id: $id,
                                       consumer_uuid: s.uuid})
           RETURN od {.*} AS delta ORDER BY od.sequence
         } AS deltas,
         CASE WHEN chk IS NULL THEN []
              ELSE %s END AS check_usage,
         %s AS check_deltas
}
RETURN s.index AS index, exists, vcpus, memory, disk, generation,
       node_uuid, source_found, source_generation, dest_found,
       dest_generation, deltas, check_usage, check_deltas
""" % (compute.usage_of('chk', 'ci'), _deltas_touching('cd', 's.check'))

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

EXPIRED_SESSIONS = """
MATCH (s:SimulationSession {status: 'active'})
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
# Helpers
# ---------------------------------------------------------------------------


def _session(row):
    session = dict(row)
    session.pop('lock__', None)
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
    return delta


def _get_session(tx, session_id, lock=False):
    row = tx.run(LOCK_SESSION if lock else GET_SESSION,
                 id=session_id).single()
    if row is None:
        raise exception.NotFound(kind='simulation session', ident=session_id)
    return _session(row['session'])


def _require_active(session, now):
    if session['status'] != ACTIVE:
        raise exception.InvalidState(
            kind='Simulation session', ident=session['id'],
            state=session['status'], reason='only an active session can '
            'take deltas, answer queries or be committed')
    if session['expires_at'] <= now:
        raise exception.SessionExpired(session_id=session['id'])


def _amounts(state):
    return {records.VCPU: int(state['vcpus'] or 0),
            records.MEMORY_MB: int(state['memory'] or 0),
            records.DISK_GB: int(state['disk'] or 0)}


def _global_consumer(tx, uuid):
    row = tx.run(CONSUMER_STATE, uuid=uuid).single()
    if row is None:
        return None
    return {'node_uuid': row['node_uuid'], 'resources': _amounts(row),
            'generation': row['generation']}


def _apply_to_consumer(state, delta):
    kind = delta['type']
    if kind in (MOVE, ALLOCATE):
        state['node_uuid'] = delta['destination_uuid']
    if kind == ALLOCATE or kind == RESIZE:
        state['resources'] = dict(delta['resources'])
    if kind == DEALLOCATE:
        state['node_uuid'] = None
    return state


def virtual_consumer(tx, session_id, uuid):
    """Where an instance is and what it uses, with the session applied.

    None when the instance does not exist in the global graph.
    """
    state = _global_consumer(tx, uuid)
    if state is None:
        return None
    for row in tx.run(DELTAS_OF_CONSUMER, id=session_id, uuid=uuid):
        _apply_to_consumer(state, _delta(row['delta']))
    return state


def _effect(delta, node_uuid):
    """{resource class: change} a delta makes to one node's usage."""
    kind, res = delta['type'], delta['resources']
    change = dict.fromkeys(RESOURCE_CLASSES, 0)
    if kind == MOVE:
        sign = ((delta['destination_uuid'] == node_uuid)
                - (delta['source_uuid'] == node_uuid))
        for rc in RESOURCE_CLASSES:
            change[rc] += sign * res.get(rc, 0)
    elif kind == ALLOCATE and delta['destination_uuid'] == node_uuid:
        for rc in RESOURCE_CLASSES:
            change[rc] += res.get(rc, 0)
    elif kind == DEALLOCATE and delta['source_uuid'] == node_uuid:
        for rc in RESOURCE_CLASSES:
            change[rc] -= res.get(rc, 0)
    elif kind == RESIZE and delta['source_uuid'] == node_uuid:
        for rc in RESOURCE_CLASSES:
            change[rc] += res.get(rc, 0) - delta['old_resources'].get(rc, 0)
    return change


def _overlay(usage, deltas, node_uuid):
    """{rc: (inventory, used)} of a node with ``deltas`` applied."""
    used = {rc: usage[rc][1] if rc in usage else 0
            for rc in RESOURCE_CLASSES}
    for delta in deltas:
        for rc, change in _effect(_delta(delta), node_uuid).items():
            used[rc] += change
    return {rc: (usage[rc][0], used[rc]) for rc in usage}


def _node_usage(tx, session_id, node_uuid):
    """{rc: (inventory, used)} of a node with the session applied."""
    usage = compute.node_usage(tx, node_uuid)
    if session_id is None:
        return usage
    return _overlay(usage, tx.run(DELTAS_OF_PROVIDER, id=session_id,
                                  uuid=node_uuid).single()['deltas'],
                    node_uuid)


def _capacity(inv):
    return (inv['total'] - inv['reserved']) * inv['allocation_ratio']


def _used_keys(usage):
    return {KEYS[rc]: usage[rc][1] if rc in usage else 0
            for rc in RESOURCE_CLASSES}


def _free_keys(usage):
    return {KEYS[rc]: (_capacity(usage[rc][0]) - usage[rc][1])
            if rc in usage else 0.0 for rc in RESOURCE_CLASSES}


# ---------------------------------------------------------------------------
# Session lifecycle
# ---------------------------------------------------------------------------

def _create(tx, session_id, ttl, audit_uuid, max_active, now):
    row = tx.run(CREATE_SESSION, id=session_id, now=now,
                 expires_at=now + ttl, audit_uuid=audit_uuid,
                 max_active=max_active).single()
    if row is None:
        raise exception.LimitExceeded(
            limit='active simulation sessions', maximum=max_active,
            reason='expire or commit a session first')
    return _session(row['session'])


def create_session(graph, session_id, ttl, audit_uuid=None,
                   max_active=100):
    """Create an active session based on the current global generation."""
    return graph.write(_create, session_id, float(ttl), audit_uuid,
                       max_active, time.time())


def get_session(graph, session_id):
    return graph.read_one(_get_session, session_id)


def _list(tx, status):
    return [_session(r['session']) for r in tx.run(LIST_SESSIONS,
                                                   status=status)]


def list_sessions(graph, status=None):
    return graph.read(_list, status)


def _finish(tx, session_id, status, require_active, now,
            keep_deltas=False):
    session = _get_session(tx, session_id, lock=True)
    if require_active and session['status'] != ACTIVE:
        raise exception.InvalidState(
            kind='Simulation session', ident=session_id,
            state=session['status'], reason='it has already ended')
    return _session(tx.run(CLOSE_SESSION if keep_deltas else FINISH_SESSION,
                           id=session_id, status=status,
                           now=now).single()['session'])


def close_session(graph, session_id):
    """End an active session unapplied, keeping its deltas to be read."""
    return graph.write(_finish, session_id, CLOSED, True, time.time(),
                       True)


def rollback_session(graph, session_id):
    """Drop the session's deltas; the session ends rolled back."""
    return graph.write(_finish, session_id, ROLLED_BACK, True, time.time())


def expire_session(graph, session_id):
    """End an active session now, as its TTL would."""
    return graph.write(_finish, session_id, EXPIRED, True, time.time())


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


# ---------------------------------------------------------------------------
# Deltas
# ---------------------------------------------------------------------------

def _check_room(usage, node_uuid, need, uuid):
    short = []
    for rc in RESOURCE_CLASSES:
        if not need.get(rc):
            continue
        free = _capacity(usage[rc][0]) - usage[rc][1] if rc in usage else 0
        if need[rc] > free:
            short.append('%s needs %s, %s free' % (rc, need[rc], free))
    if short:
        raise exception.Conflict(
            reason='no room for instance %s on compute node %s: %s' % (
                uuid, node_uuid, '; '.join(short)),
            conflicts=[node_uuid])


def _checked_node(spec):
    """The node whose room ``spec`` needs checked, or None."""
    if not spec.get('check_capacity', True):
        return None
    kind = spec['type']
    source, dest = spec.get('source_uuid'), spec.get('destination_uuid')
    if kind in (MOVE, ALLOCATE) and source != dest:
        return dest
    if kind == RESIZE:
        return source
    return None


def _prepare_all(tx, session_id, specs):
    """The PREPARE_DELTAS row of each spec, in order."""
    wanted = [{'index': index, 'uuid': spec['consumer_uuid'],
               'source': spec.get('source_uuid'),
               'dest': spec.get('destination_uuid'),
               'check': _checked_node(spec)}
              for index, spec in enumerate(specs)]
    found = {}
    for row in tx.run(PREPARE_DELTAS, id=session_id, specs=wanted):
        found.setdefault(row['index'], row)
    return [found[index] for index in range(len(specs))]


def _prepare(spec, found, sequence, pending):
    """Validate one delta against the virtual state; return its row."""
    check = _checked_node(spec)
    uuid = spec['consumer_uuid']
    kind = spec['type']
    source, dest = spec.get('source_uuid'), spec.get('destination_uuid')
    if not found['exists']:
        raise exception.NotFound(kind='instance', ident=uuid)
    for uuid_, present in ((source, found['source_found']),
                           (dest, found['dest_found'])):
        if uuid_ is not None and not present:
            raise exception.NotFound(kind='compute node', ident=uuid_)
    state = {'node_uuid': found['node_uuid'], 'resources': _amounts(found),
             'generation': found['generation']}
    for delta in found['deltas']:
        _apply_to_consumer(state, _delta(delta))
    # Deltas earlier in the same batch are not in the graph yet.
    for earlier in pending:
        if earlier['consumer_uuid'] == uuid:
            _apply_to_consumer(state, earlier)
    source_gen = found['source_generation'] if source else None
    dest_gen = found['dest_generation'] if dest else None
    row = {'sequence': sequence, 'type': kind, 'consumer_uuid': uuid,
           'source_uuid': source, 'destination_uuid': dest,
           'consumer_generation': state['generation'],
           'source_generation': source_gen,
           'destination_generation': dest_gen,
           'resources': dict(state['resources']), 'old_resources': {}}
    if kind in (MOVE, DEALLOCATE, RESIZE):
        if state['node_uuid'] != source:
            raise exception.Conflict(
                reason='instance %s is not on compute node %s in this '
                       'session (it is on %s)' % (
                           uuid, source, state['node_uuid'] or 'no node'),
                conflicts=[uuid])
    if kind == ALLOCATE:
        if state['node_uuid'] is not None:
            raise exception.Conflict(
                reason='instance %s already runs on %s in this session'
                       % (uuid, state['node_uuid']), conflicts=[uuid])
        row['resources'] = dict(spec['resources'])
    if kind == RESIZE:
        row['old_resources'] = dict(state['resources'])
        row['resources'] = dict(spec['resources'])
    if check is not None:
        if kind == RESIZE:
            need = {rc: row['resources'].get(rc, 0)
                    - row['old_resources'].get(rc, 0)
                    for rc in RESOURCE_CLASSES}
        else:
            need = dict(row['resources'])
        # The batch's earlier deltas count against the node too.
        for earlier in pending:
            for rc, change in _effect(earlier, check).items():
                need[rc] = need.get(rc, 0) + change
        usage = compute.usage_from_rows(found['check_usage'])
        _check_room(_overlay(usage, found['check_deltas'], check), check,
                    need, uuid)
    return row


def _record(tx, session_id, specs, max_deltas, now):
    session = _get_session(tx, session_id, lock=True)
    _require_active(session, now)
    if session['delta_count'] + len(specs) > max_deltas:
        raise exception.LimitExceeded(
            limit='deltas per simulation session', maximum=max_deltas,
            reason='session %s holds %d' % (
                session_id, session['delta_count']))
    rows = []
    sequence = session['next_sequence']
    for spec, found in zip(specs, _prepare_all(tx, session_id, specs)):
        rows.append(_prepare(spec, found, sequence, rows))
        sequence += 1
    wire = [dict(row, resources=json.dumps(row['resources'],
                                           sort_keys=True),
                 old_resources=json.dumps(row['old_resources'],
                                          sort_keys=True))
            for row in rows]
    tx.run(INSERT_DELTAS, id=session_id, deltas=wire, now=now).consume()
    return [row['sequence'] for row in rows]


def record_deltas(graph, session_id, specs, max_deltas=10000):
    """Validate and record deltas in order, all or none.

    ``specs``: dicts with ``type``, ``consumer_uuid``, ``source_uuid``,
    ``destination_uuid``, ``resources`` ({resource class: amount}, for
    ALLOCATE and RESIZE) and ``check_capacity`` (default true).

    :returns: the sequence numbers given to the deltas.
    """
    return graph.write(_record, session_id, list(specs), max_deltas,
                       time.time())


def _deltas(tx, session_id):
    _get_session(tx, session_id)
    return [_delta(r['delta']) for r in tx.run(ALL_DELTAS, id=session_id)]


def get_deltas(graph, session_id):
    return graph.read(_deltas, session_id)


# ---------------------------------------------------------------------------
# Virtual-state queries
# ---------------------------------------------------------------------------

def _check_session(tx, session_id):
    if session_id is not None:
        _require_active(_get_session(tx, session_id), time.time())


def _location(tx, session_id, uuid):
    _check_session(tx, session_id)
    state = virtual_consumer(tx, session_id, uuid)
    if state is None:
        raise exception.NotFound(kind='instance', ident=uuid)
    return state['node_uuid']


def get_consumer_location(graph, session_id, uuid):
    """The compute node an instance is on in the session (None: none)."""
    return graph.read(_location, session_id, uuid)


def _used(tx, session_id, node_uuid, free):
    _check_session(tx, session_id)
    usage = _node_usage(tx, session_id, node_uuid)
    return _free_keys(usage) if free else _used_keys(usage)


def _reader(graph, session_id):
    # Without a session these reads are one statement.
    return graph.read if session_id is not None else graph.read_one


def get_node_used_resources(graph, session_id, node_uuid):
    return _reader(graph, session_id)(_used, session_id, node_uuid, False)


def get_node_free_resources(graph, session_id, node_uuid):
    return _reader(graph, session_id)(_used, session_id, node_uuid, True)


def _node_instances(tx, session_id, node_uuid):
    _check_session(tx, session_id)
    instances = {i.uuid: i for i in compute.node_instances(tx, node_uuid)}
    if session_id is None:
        return sorted(instances.values(), key=lambda i: i.uuid)
    touched = {delta['consumer_uuid'] for delta in tx.run(
        DELTAS_OF_PROVIDER, id=session_id, uuid=node_uuid).single()['deltas']}
    for uuid in sorted(touched):
        state = virtual_consumer(tx, session_id, uuid)
        here = state is not None and state['node_uuid'] == node_uuid
        if not here:
            instances.pop(uuid, None)
            continue
        inst = instances.get(uuid) or compute.instance(tx, uuid)
        inst.vcpus = state['resources'][records.VCPU]
        inst.memory = state['resources'][records.MEMORY_MB]
        inst.disk = state['resources'][records.DISK_GB]
        inst.node_uuid = node_uuid
        instances[uuid] = inst
    return sorted(instances.values(), key=lambda i: i.uuid)


def get_node_instances(graph, session_id, node_uuid):
    """The instances on a node in the session, sorted by uuid."""
    return _reader(graph, session_id)(_node_instances, session_id,
                                      node_uuid)


def _all_usage(tx, session_id):
    _check_session(tx, session_id)
    capacity = compute.all_capacity(tx)
    used = {uuid: dict(values) for uuid, values in
            compute.all_usage(tx).items()}
    if session_id is not None:
        for row in tx.run(ALL_DELTAS, id=session_id):
            delta = _delta(row['delta'])
            for node in {delta['source_uuid'], delta['destination_uuid']}:
                if node is None or node not in used:
                    continue
                for rc, change in _effect(delta, node).items():
                    used[node][KEYS[rc]] += change
    return capacity, used


def get_all_nodes_usage(graph, session_id):
    """{node_uuid: {'vcpu', 'memory', 'disk'}} used, session applied."""
    return graph.read(_all_usage, session_id)[1]


def get_utilization(graph, session_id, resource_class):
    """{node_uuid: used / capacity} for one resource class."""
    capacity, used = graph.read(_all_usage, session_id)
    key = KEYS[resource_class]
    return {uuid: (used[uuid][key] / capacity[uuid][key]
                   if capacity.get(uuid, {}).get(key) else 0.0)
            for uuid in used}


def get_balance_score(graph, session_id, resource_class):
    """Mean and standard deviation of the nodes' utilization."""
    values = list(get_utilization(graph, session_id,
                                  resource_class).values())
    if not values:
        return {'mean': 0.0, 'stddev': 0.0, 'nodes': 0}
    mean = sum(values) / len(values)
    var = sum((v - mean) ** 2 for v in values) / len(values)
    return {'mean': mean, 'stddev': math.sqrt(var), 'nodes': len(values)}


def _destinations(tx, session_id, uuid, limit):
    _check_session(tx, session_id)
    state = virtual_consumer(tx, session_id, uuid)
    if state is None:
        raise exception.NotFound(kind='instance', ident=uuid)
    capacity, used = _all_usage(tx, session_id)
    need = {KEYS[rc]: state['resources'][rc] for rc in RESOURCE_CLASSES}
    ranked = []
    for node, caps in capacity.items():
        if node == state['node_uuid']:
            continue
        free = {key: caps[key] - used[node][key] for key in caps}
        if all(free[key] >= need[key] for key in need):
            ranked.append((-(free['vcpu'] - need['vcpu']),
                           -(free['memory'] - need['memory']), node, free))
    ranked.sort()
    return [{'node_uuid': node, 'free': free}
            for _v, _m, node, free in ranked[:limit]]


def find_destinations(graph, session_id, uuid, limit=10):
    """Nodes with room for the instance, ranked.

    Most free VCPU left after the move first, then most free memory.
    """
    return graph.read(_destinations, session_id, uuid, limit)


# ---------------------------------------------------------------------------
# Commit
# ---------------------------------------------------------------------------

def _conflicts(tx, session, deltas):
    """Touched uuids changed since the session saw them (sorted)."""
    first = {}
    for delta in deltas:
        for field, gen_field in (('consumer_uuid', 'consumer_generation'),
                                 ('source_uuid', 'source_generation'),
                                 ('destination_uuid',
                                  'destination_generation')):
            uuid = delta[field]
            if uuid is not None and uuid not in first:
                first[uuid] = delta[gen_field]
    conflicts = []
    for row in tx.run(CURRENT_STATE, uuids=sorted(first)):
        changed_after = (row['updated_at'] is not None
                         and row['updated_at'] > session['created_at'])
        if (not row['exists'] or row['generation'] != first[row['uuid']]
                or changed_after):
            conflicts.append(row['uuid'])
    return sorted(conflicts)


def _commit(tx, session_id, now):
    session = _get_session(tx, session_id, lock=True)
    _require_active(session, now)
    deltas = [_delta(r['delta']) for r in tx.run(ALL_DELTAS, id=session_id)]
    if (deltas and common.global_generation(tx)
            != session['base_generation']):
        conflicts = _conflicts(tx, session, deltas)
        if conflicts:
            raise exception.Conflict(
                reason='simulation session %s: %d consumers or providers '
                       'changed since it began' % (session_id,
                                                   len(conflicts)),
                conflicts=conflicts)
    final, providers = {}, set()
    for delta in deltas:
        uuid = delta['consumer_uuid']
        if uuid not in final:
            final[uuid] = _global_consumer(tx, uuid)
            providers.add(final[uuid]['node_uuid'])
        _apply_to_consumer(final[uuid], delta)
        providers.update((delta['source_uuid'], delta['destination_uuid']))
    records_json = {r['uuid']: r['record'] for r in tx.run(
        GET_RECORDS, uuids=sorted(final))}
    rows = []
    for uuid, state in sorted(final.items()):
        res = state['resources']
        record = json.loads(records_json.get(uuid) or '{}')
        record.update({'vcpus': res[records.VCPU],
                       'memory': res[records.MEMORY_MB],
                       'disk': res[records.DISK_GB]})
        rows.append({'uuid': uuid, 'node_uuid': state['node_uuid'],
                     'vcpus': res[records.VCPU],
                     'memory': res[records.MEMORY_MB],
                     'disk': res[records.DISK_GB],
                     'record': json.dumps(record, sort_keys=True),
                     'consumes': [[rc, res[rc]] for rc in RESOURCE_CLASSES]})
    for batch in [rows[i:i + 1000] for i in range(0, len(rows), 1000)]:
        tx.run(APPLY_PLACEMENTS, rows=batch).consume()
    compute.bump_providers(tx, providers)
    generation = (common.bump_global_generation(tx) if rows
                  else common.global_generation(tx))
    tx.run(FINISH_SESSION, id=session_id, status=COMMITTED,
           now=now).consume()
    return {'generation': generation, 'applied': len(deltas),
            'consumers': len(rows)}


def commit_session(graph, session_id):
    """Apply every delta to the global graph in one transaction.

    :raises: Conflict (with the uuids) when something the session touches
        changed since it began; nothing is applied then.
    """
    return graph.write(_commit, session_id, time.time())
