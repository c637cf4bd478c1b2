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

"""Reservations: the capacity pending Watcher action plans hold.

When Watcher creates an action plan from an audit that ran on a Tachyon
session (the session carries the audit's uuid and is ``closed`` with its
deltas when the strategy returns), the session's moves become holds on
their destinations::

    (:Reservation {action_plan_uuid, audit_uuid, session_id, state,
                   plan_state, created_at, updated_at, expires_at,
                   ended_at, end_reason, moves, conflicts})
      -[:HAS_HOLD]->(:ReservationHold {id, action_plan_uuid, consumer_uuid,
                                       source_uuid, destination_uuid, state,
                                       action_uuid, ended_at, end_reason})
        -[:HOLDS {resource_class, used, consumer_uuid, expires_at}]->
          (:Inventory)

    (:WatcherAction {uuid, action_plan_uuid, resource_id, state,
                     updated_at})

A hold counts in the usage of its destination's inventory (every usage
read of :mod:`tachyon.graph.compute.usage` adds :func:`held_on`) while

* its ``HOLDS`` relationship exists: ending a hold or a reservation
  deletes them, keeping the nodes for inspection;
* it has not expired (``expires_at``, the TTL safety net);
* the instance does not consume the destination yet: a move that really
  happened (a Nova notification or a sync put the instance there) holds
  no more, whatever Watcher says later.

The source is never freed by a reservation: the instance still consumes
it in the global graph until it really moves.

Notifications may come in any order and more than once. Each reservation
and each action keeps the time of the newest notification applied
(``updated_at``); an older or equal one changes nothing. An ended
reservation (its plan succeeded, failed, was cancelled, superseded or
deleted, its TTL passed, or an operator released it) never holds again,
and an action that ended never holds again: the states only go forward.
An action's notification that comes before its plan's is kept
(``WatcherAction``) and applied when the reservation is made.
"""

import math
import time

from oslo_log import log as logging

from tachyon import conf as tachyon_conf
from tachyon import exception
from tachyon.model import plans
from tachyon.model import records

LOG = logging.getLogger(__name__)

ACTIVE = 'active'
ENDED = 'ended'
STATES = (ACTIVE, ENDED)

#: A hold's states.
HELD = 'held'
#: The action ended or the reservation did.
RELEASED = 'released'

CLASSES = list(records.COMPUTE_RESOURCE_CLASSES)


def held_on(inv):
    """Cypher: what the live holds take of the inventory ``inv``.

    A number (0 without holds). The expiry is compared with the server's
    clock (``timestamp()``), so that every usage read counts the same
    holds without an argument of its own.
    """
    return ("reduce(held = 0, x IN [(%(inv)s)<-[x:HOLDS]-"
            "(h:ReservationHold)\n"
            "   WHERE x.expires_at * 1000.0 > timestamp() AND NOT EXISTS {\n"
            "     MATCH (:Consumer {uuid: h.consumer_uuid})-[:CONSUMES]->"
            "(%(inv)s) } | x.used] | held + x)") % {'inv': inv}


# ---------------------------------------------------------------------------
# Cypher
# ---------------------------------------------------------------------------

# Serialises the writers of reservations (the listener's threads and
# engines): each reads the stored state after the one before committed.
LOCK = """
MATCH (g:GlobalState {id: 'global'})
SET g.reservations_written_at = $now
"""

GET_RESERVATION = """
MATCH (r:Reservation {action_plan_uuid: $plan})
RETURN r {.*} AS reservation
"""

# The session of the audit whose moves the plan carries out: the one the
# audit's strategy run closed last.
AUDIT_SESSION = """
MATCH (s:SimulationSession {audit_uuid: $audit})
WHERE s.status = 'closed'
WITH s ORDER BY s.finished_at DESC LIMIT 1
OPTIONAL MATCH (s)-[:HAS_DELTA]->(d:SpeculativeDelta)
WITH s, d ORDER BY d.sequence
RETURN s.id AS id,
       [x IN collect(d) | [x.type, x.consumer_uuid, x.destination_uuid]]
           AS deltas
"""

CREATE_RESERVATION = """
MERGE (r:Reservation {action_plan_uuid: $plan})
SET r += $props
"""

# One hold per moved instance, one HOLDS per resource class it consumes
# on a node other than its destination.
CREATE_HOLDS = """
MATCH (r:Reservation {action_plan_uuid: $plan})
UNWIND $moves AS m
MATCH (c:Consumer {uuid: m.consumer})
USING INDEX SEEK c:Consumer(uuid)
MATCH (c)-[u:CONSUMES]->(src:Inventory)
WHERE src.resource_class IN $classes
  AND src.provider_uuid <> m.destination
MATCH (dst:Inventory {provider_uuid: m.destination,
                      resource_class: src.resource_class})
USING INDEX SEEK dst:Inventory(provider_uuid, resource_class)
MERGE (h:ReservationHold {id: m.id})
ON CREATE SET h.action_plan_uuid = $plan, h.consumer_uuid = m.consumer,
              h.source_uuid = src.provider_uuid,
              h.destination_uuid = m.destination, h.state = 'held',
              h.created_at = $now
MERGE (r)-[:HAS_HOLD]->(h)
CREATE (h)-[:HOLDS {resource_class: src.resource_class, used: u.used,
                    consumer_uuid: m.consumer,
                    expires_at: $expires_at}]->(dst)
"""

UPDATE_RESERVATION = """
MATCH (r:Reservation {action_plan_uuid: $plan})
SET r += $props
"""

# End holds: of a whole reservation (consumers null) or of some moves.
END_HOLDS = """
MATCH (r:Reservation {action_plan_uuid: $plan})-[:HAS_HOLD]->
      (h:ReservationHold)
WHERE h.state = 'held' AND ($consumers IS NULL
                            OR h.consumer_uuid IN $consumers)
OPTIONAL MATCH (h)-[x:HOLDS]->()
DELETE x
WITH DISTINCT h
SET h.state = 'released', h.ended_at = $now, h.end_reason = $reason,
    h.action_uuid = coalesce($action, h.action_uuid)
RETURN count(h) AS ended
"""

GET_ACTION = """
MATCH (a:WatcherAction {uuid: $uuid})
RETURN a {.*} AS action
"""

MERGE_ACTION = """
MERGE (a:WatcherAction {uuid: $uuid})
SET a += $props
"""

# The actions of a plan that ended before the plan's reservation existed.
ENDED_ACTIONS = """
MATCH (a:WatcherAction {action_plan_uuid: $plan})
WHERE a.state IN $ended AND a.resource_id IS NOT NULL
RETURN a.uuid AS uuid, a.resource_id AS resource_id, a.state AS state
"""

# The destinations of a reservation's live holds, with their real use and
# everything held on them.
DESTINATIONS = """
MATCH (r:Reservation {action_plan_uuid: $plan})-[:HAS_HOLD]->
      (:ReservationHold)-[:HOLDS]->(inv:Inventory)
WITH DISTINCT inv
CALL (inv) {
  OPTIONAL MATCH (inv)<-[u:CONSUMES]-(:Consumer)
  RETURN sum(u.used) AS used
}
RETURN inv.provider_uuid AS node_uuid, inv.resource_class AS rc,
       inv.total AS total, inv.reserved AS reserved,
       inv.allocation_ratio AS allocation_ratio, used,
       %s AS held
ORDER BY node_uuid, rc
""" % held_on('inv')

# What the live holds take of each node: the snapshot's withheld capacity.
# The instances already on each held inventory are read once per
# inventory (a hold of one of them counts no more), not once per hold.
# Each live hold whose consumer is not on the inventory yet, looked up by
# the consumer's uuid (not by reading every consumer of the inventory).
ALL_HELD = """
MATCH (:ReservationHold)-[x:HOLDS]->(inv:Inventory)
WHERE x.expires_at * 1000.0 > timestamp() AND NOT EXISTS {
  MATCH (:Consumer {uuid: x.consumer_uuid})-[:CONSUMES]->(inv) }
RETURN inv.provider_uuid AS node_uuid, inv.resource_class AS rc,
       sum(x.used) AS held
"""

LIST_RESERVATIONS = """
MATCH (r:Reservation)
WHERE $state IS NULL OR r.state = $state
RETURN r {.*,
          holding: COUNT { (r)-[:HAS_HOLD]->(h:ReservationHold)
                           WHERE h.state = 'held' }} AS reservation
ORDER BY r.created_at, r.action_plan_uuid
"""

RESERVATION_HOLDS = """
MATCH (:Reservation {action_plan_uuid: $plan})-[:HAS_HOLD]->
      (h:ReservationHold)
RETURN h {.*, resources: [(h)-[x:HOLDS]->() |
                          [x.resource_class, x.used]]} AS hold
ORDER BY h.consumer_uuid
"""

EXPIRED = """
MATCH (r:Reservation {state: 'active'})
WHERE r.expires_at <= $now
RETURN r.action_plan_uuid AS plan
"""

PURGE = """
MATCH (r:Reservation {state: 'ended'})
WHERE r.ended_at < $before
OPTIONAL MATCH (r)-[:HAS_HOLD]->(h:ReservationHold)
OPTIONAL MATCH (a:WatcherAction {action_plan_uuid: r.action_plan_uuid})
WITH r, collect(DISTINCT h) AS holds, collect(DISTINCT a) AS actions
FOREACH (h IN holds | DETACH DELETE h)
FOREACH (a IN actions | DETACH DELETE a)
DETACH DELETE r
RETURN count(*) AS n
"""

# Actions whose plan never became a reservation, past the retention.
PURGE_ACTIONS = """
MATCH (a:WatcherAction)
WHERE a.updated_at < $before
  AND NOT EXISTS { MATCH (:Reservation {action_plan_uuid:
                                          a.action_plan_uuid}) }
DETACH DELETE a
"""

COUNT = """
MATCH (r:Reservation)
RETURN r.state AS state, count(*) AS reservations,
       sum(COUNT { (r)-[:HAS_HOLD]->(h:ReservationHold)
                   WHERE h.state = 'held' }) AS holding,
       sum(size(coalesce(r.conflicts, []))) AS conflicts
"""


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

def _options():
    return tachyon_conf.CONF.reservations


def _newer(stored, timestamp):
    """Whether a notification at ``timestamp`` is newer than ``stored``."""
    if timestamp is None or stored is None:
        return True
    return timestamp > stored


def final_moves(deltas):
    """{consumer: destination} of a session's [[type, consumer, dest]].

    The last placement of each instance the session moved (a MOVE or an
    ALLOCATE sets it, a DEALLOCATE clears it); RESIZEs move nothing.
    """
    where = {}
    for kind, consumer, destination in deltas:
        if kind in ('MOVE', 'ALLOCATE'):
            where[consumer] = destination
        elif kind == 'DEALLOCATE':
            where[consumer] = None
    return {c: d for c, d in where.items() if d is not None}


def _hold_id(plan_uuid, consumer_uuid):
    return '%s:%s' % (plan_uuid, consumer_uuid)


def _end(tx, plan_uuid, reason, now, consumers=None, action=None):
    return tx.run(END_HOLDS, plan=plan_uuid, consumers=consumers,
                  reason=reason, now=now, action=action).single()['ended']


def short_of(rows):
    """The conflicts of DESTINATIONS rows: capacity below use and holds."""
    found = []
    for row in rows:
        if None in (row['total'], row['reserved'], row['allocation_ratio']):
            continue
        cap = records.capacity(row['total'], row['reserved'],
                               row['allocation_ratio'])
        taken = (row['used'] or 0) + (row['held'] or 0)
        if taken > cap:
            found.append({'node_uuid': row['node_uuid'],
                          'resource_class': row['rc'],
                          'capacity': cap, 'taken': taken})
    return found


def _conflict_keys(found):
    return ['%s:%s' % (c['node_uuid'], c['resource_class']) for c in found]


def check_conflicts(tx, plan_uuid, now):
    """Record (and log, when new) where the reservation overcommits.

    A destination is in conflict when its real use and everything held on
    it exceed its capacity: a real change (a boot, a resize, a move no
    audit planned) filled it after the audit planned onto it. Later
    audits never cause one: they see the holds.
    """
    found = short_of(tx.run(DESTINATIONS, plan=plan_uuid))
    keys = _conflict_keys(found)
    stored = tx.run(GET_RESERVATION, plan=plan_uuid).single()
    before = list((stored['reservation'] or {}).get('conflicts') or [])
    tx.run(UPDATE_RESERVATION, plan=plan_uuid,
           props={'conflicts': keys, 'checked_at': now})
    new = sorted(set(keys) - set(before))
    if new:
        LOG.warning('Action plan %(plan)s: its reserved destinations are '
                    'overcommitted by changes made since its audit '
                    'planned: %(where)s', {
                        'plan': plan_uuid, 'where': ', '.join(
                            '%s %s (capacity %s, taken %s)' % (
                                c['node_uuid'], c['resource_class'],
                                c['capacity'], c['taken'])
                            for c in found)})
    return found


# ---------------------------------------------------------------------------
# Watcher's notifications (inside the transaction of graph.events)
# ---------------------------------------------------------------------------

def apply_plans(tx, changes, now=None):
    """Apply ``action_plan`` changes; returns how many changed anything."""
    now = time.time() if now is None else now
    tx.run(LOCK, now=now)
    applied = 0
    for change in changes:
        if _apply_plan(tx, change.record, change.timestamp, now):
            applied += 1
    if changes:
        sweep(tx, now)
    return applied


def _apply_plan(tx, plan, timestamp, now):
    found = tx.run(GET_RESERVATION, plan=plan.uuid).single()
    stored = found['reservation'] if found else None
    ended = plan.deleted or plan.state in plans.PLAN_ENDED
    if stored is not None:
        if not _newer(stored.get('updated_at'), timestamp):
            return False
        props = {'updated_at': timestamp, 'plan_state':
                 plans.DELETED if plan.deleted else plan.state}
        if stored['state'] == ENDED:
            # Ended for good: only the plan's newest state is kept.
            tx.run(UPDATE_RESERVATION, plan=plan.uuid, props=props)
            return True
        if ended:
            props.update(state=ENDED, ended_at=now,
                         end_reason='action plan %s' % props['plan_state'])
            tx.run(UPDATE_RESERVATION, plan=plan.uuid, props=props)
            _end(tx, plan.uuid, props['end_reason'], now)
            return True
        tx.run(UPDATE_RESERVATION, plan=plan.uuid, props=props)
        check_conflicts(tx, plan.uuid, now)
        return True
    if ended:
        # Its end came first (or no create was heard): remember it, so
        # that a late create holds nothing.
        tx.run(CREATE_RESERVATION, plan=plan.uuid, props={
            'audit_uuid': plan.audit_uuid, 'session_id': None,
            'state': ENDED, 'created_at': now, 'updated_at': timestamp,
            'plan_state': plans.DELETED if plan.deleted else plan.state,
            'expires_at': now, 'ended_at': now, 'moves': 0,
            'end_reason': 'action plan ended before it was reserved',
            'conflicts': []})
        return True
    if not _options().enabled:
        return False
    session = tx.run(AUDIT_SESSION, audit=plan.audit_uuid).single()
    if session is None:
        LOG.debug('Action plan %(plan)s: audit %(audit)s ran on no Tachyon '
                  'session; nothing to reserve', {
                      'plan': plan.uuid, 'audit': plan.audit_uuid})
        return False
    moves = final_moves(session['deltas'])
    created = plan.created_at if plan.created_at is not None else now
    expires_at = created + _options().ttl
    tx.run(CREATE_RESERVATION, plan=plan.uuid, props={
        'audit_uuid': plan.audit_uuid, 'session_id': session['id'],
        'state': ACTIVE, 'plan_state': plan.state, 'created_at': now,
        'updated_at': timestamp, 'expires_at': expires_at,
        'moves': len(moves), 'conflicts': []})
    tx.run(CREATE_HOLDS, plan=plan.uuid, classes=CLASSES, now=now,
           expires_at=expires_at, moves=[
               {'id': _hold_id(plan.uuid, consumer), 'consumer': consumer,
                'destination': destination}
               for consumer, destination in sorted(moves.items())])
    for action in tx.run(ENDED_ACTIONS, plan=plan.uuid,
                         ended=list(plans.ACTION_ENDED)):
        _end(tx, plan.uuid, 'action %s' % action['state'], now,
             [action['resource_id']], action['uuid'])
    if expires_at <= now:
        tx.run(UPDATE_RESERVATION, plan=plan.uuid, props={
            'state': ENDED, 'ended_at': now, 'end_reason': 'expired'})
        _end(tx, plan.uuid, 'expired', now)
        return True
    LOG.info('Action plan %(plan)s of audit %(audit)s holds the capacity '
             'of %(n)d moves of session %(session)s', {
                 'plan': plan.uuid, 'audit': plan.audit_uuid,
                 'n': len(moves), 'session': session['id']})
    check_conflicts(tx, plan.uuid, now)
    return True


def apply_actions(tx, changes, now=None):
    """Apply ``watcher_action`` changes; returns how many changed anything."""
    now = time.time() if now is None else now
    tx.run(LOCK, now=now)
    applied = 0
    for change in changes:
        if _apply_action(tx, change.record, change.timestamp, now):
            applied += 1
    return applied


def _apply_action(tx, action, timestamp, now):
    if action.action_type != plans.MIGRATE or not action.resource_id:
        return False
    found = tx.run(GET_ACTION, uuid=action.uuid).single()
    stored = found['action'] if found else None
    state = plans.DELETED if action.deleted else action.state
    if stored is not None:
        if not _newer(stored.get('updated_at'), timestamp):
            return False
        if stored['state'] in plans.ACTION_ENDED:
            # Ended for good.
            state = stored['state']
    tx.run(MERGE_ACTION, uuid=action.uuid, props={
        'action_plan_uuid': action.action_plan_uuid,
        'resource_id': action.resource_id, 'state': state,
        'updated_at': timestamp if timestamp is not None else now})
    if state in plans.ACTION_ENDED:
        _end(tx, action.action_plan_uuid, 'action %s' % state, now,
             [action.resource_id], action.uuid)
    return True


def _sweep(tx, now):
    for row in list(tx.run(EXPIRED, now=now)):
        tx.run(UPDATE_RESERVATION, plan=row['plan'], props={
            'state': ENDED, 'ended_at': now, 'end_reason': 'expired'})
        _end(tx, row['plan'], 'expired', now)
    before = now - _options().retention
    purged = tx.run(PURGE, before=before).single()['n']
    tx.run(PURGE_ACTIONS, before=before)
    return purged


def sweep(tx, now=None):
    """End the reservations past their TTL; purge long-ended ones."""
    now = time.time() if now is None else now
    tx.run(LOCK, now=now)
    return _sweep(tx, now)


# ---------------------------------------------------------------------------
# Reads and the operator's commands
# ---------------------------------------------------------------------------

def all_held(tx):
    """{node_uuid: {rc: held}} of the live holds, inside ``tx``."""
    held = {}
    for row in tx.run(ALL_HELD):
        held.setdefault(row['node_uuid'], {})[row['rc']] = row['held']
    return held


def withhold(nodes, held):
    """Take what is held off the capacity of ComputeNode records.

    Watcher's model derives a node's use from the instances on it, so a
    snapshot shows a hold as capacity withheld: the inventory's reserved
    grows by the held amount over its allocation ratio (rounded up, never
    less than what is held). ``nodes`` are changed and returned.
    """
    for node in nodes:
        for rc, amount in (held.get(node.uuid) or {}).items():
            inv = node.inventories.get(rc)
            if inv is None or not amount or not inv.allocation_ratio:
                continue
            inv.reserved = (inv.reserved or 0) + int(
                math.ceil(amount / inv.allocation_ratio - 1e-9))
    return nodes


def _list(tx, state):
    return [dict(r['reservation']) for r in tx.run(LIST_RESERVATIONS,
                                                   state=state)]


def list_reservations(graph, state=None):
    """Every reservation (or those in ``state``), oldest first."""
    if state is not None and state not in STATES:
        raise exception.InvalidParameter(
            field='state', reason='must be one of %s, got %r'
            % (', '.join(STATES), state))
    return graph.read(_list, state)


def _show(tx, plan_uuid):
    found = tx.run(GET_RESERVATION, plan=plan_uuid).single()
    if found is None:
        raise exception.NotFound(kind='reservation of action plan',
                                 ident=plan_uuid)
    reservation = dict(found['reservation'])
    reservation['holds'] = [
        dict(r['hold'], resources=dict(r['hold']['resources']))
        for r in tx.run(RESERVATION_HOLDS, plan=plan_uuid)]
    # Live: what the destinations lack now.
    reservation['overcommitted'] = short_of(tx.run(DESTINATIONS,
                                                   plan=plan_uuid))
    return reservation


def get_reservation(graph, plan_uuid):
    """One reservation, its holds and its destinations' conflicts now."""
    return graph.read(_show, plan_uuid)


def _release(tx, plan_uuid, reason, now):
    tx.run(LOCK, now=now)
    found = tx.run(GET_RESERVATION, plan=plan_uuid).single()
    if found is None:
        raise exception.NotFound(kind='reservation of action plan',
                                 ident=plan_uuid)
    if found['reservation']['state'] == ENDED:
        return 0
    tx.run(UPDATE_RESERVATION, plan=plan_uuid, props={
        'state': ENDED, 'ended_at': now, 'end_reason': reason})
    return _end(tx, plan_uuid, reason, now)


def release(graph, plan_uuid, reason='released by an operator', now=None):
    """End a reservation now; returns how many holds it ended."""
    return graph.write(_release, plan_uuid, reason,
                       time.time() if now is None else now)


def sweep_now(graph, now=None):
    """:func:`sweep` in a transaction of its own; purged count."""
    return graph.write(sweep, now)


def counts(tx):
    """{state: {'reservations', 'holding', 'conflicts'}}, inside ``tx``."""
    return {r['state']: {'reservations': r['reservations'],
                         'holding': r['holding'],
                         'conflicts': r['conflicts']}
            for r in tx.run(COUNT)}
