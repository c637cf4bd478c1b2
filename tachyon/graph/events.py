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

"""Notification changes (:mod:`tachyon.model.changes`) into the graph.

:func:`apply_changes` applies a list of changes in ONE write transaction:
all of them or none (a transient failure leaves the graph as it was, and
the notifications are requeued). Inside it, changes go in bulk (``UNWIND``
batches of the compute, storage and baremetal modules), in this order:

1. providers named by uuid (nodes the APIs described, placeholders,
   storage nodes, Ironic nodes) are upserted;
2. ``update`` changes of nodes and pools (named by name) read the stored
   entity, set their fields and write it back;
3. instances and volumes are upserted, the fields a payload lacks taken
   from the stored entity; then the state-only changes of instances
   (an instance ``update``: its state, on the stored instance, which
   keeps its node and its other fields; kept pending for an instance
   the graph does not have);
4. deletes.

Convergence: the graph a stream of notifications leaves does not depend
on the order they arrive in, on duplicates, on batches or on how many
listener threads and engines handle them. The rule, applied here once for
every kind:

* Per entity, the **newest** change wins (its ``timestamp``, the
  notification's). Of changes at the same time a **delete** wins; of
  upserts at the same time, the one with the greater **tie key** (a
  digest of the record it carries, :func:`tie_key`): a duplicate has
  the key of its original and is a no-op. The same rule picks the change
  of an entity within a batch (:func:`winners`) and decides against the
  stored state (an instance keeps the key of the change that set it).
* A delete leaves a **tombstone**; an upsert at or before the tombstone's
  time is refused; a newer one (a restore after a soft delete) brings
  the entity back. A delete older than the stored state is skipped.
* The transactions of notification batches are **serialized**: each
  first takes the write lock of the graph's global state node, then
  reads the stored state it decides against. Two batches about one
  entity (listener threads, several engines) cannot both decide on a
  state neither has seen.
* An instance ``update`` (``compute_task.*.error``: a state, no other
  field) is the one **partial** change. An instance's state is a
  register of its own (:mod:`tachyon.graph.compute.instances`): the
  same rule picks the newest of the state-only changes and the whole
  payloads for the state, and the newest whole payload for the rest. In
  a batch each instance's whole change and its state-only change are
  picked apart (:func:`winners` over each). A whole payload older than
  a state-only change still sets the other fields it is the newest for;
  a state-only change of an instance the graph does not have (yet) is
  kept pending for the whole payload that creates it; a delete newer
  than the state drops it, an older one leaves it pending.
* A compute node the enricher adds (looked up in the APIs, or a
  placeholder) is only **created**: once a node of that name exists,
  what notifications set on it (service.update) is never overwritten by
  the enricher's copy.

Every write keeps the staleness rules of the modules it goes through.
"""

import dataclasses
import hashlib
import json
import time

from tachyon import exception
from tachyon.graph import baremetal
from tachyon.graph import common
from tachyon.graph import compute
from tachyon.graph.compute import aggregates
from tachyon.graph.compute import instances
from tachyon.graph.compute import nodes as compute_nodes
from tachyon.graph import reservations
from tachyon.graph import storage
from tachyon.graph import tombstones
from tachyon.graph import upsert
from tachyon.model import changes as ch

# ---------------------------------------------------------------------------
# Cypher: the stored state of the entities a batch of changes names
# ---------------------------------------------------------------------------

# The names no provider of a kind has (one record back, not one per
# name: decoding records costs more than the lookups).
MISSING_PROVIDER_NAMES = """
UNWIND $names AS name
WITH name WHERE NOT EXISTS {
  MATCH (rp:ResourceProvider {name: name})
  USING INDEX SEEK rp:ResourceProvider(name)
  WHERE rp.kind = $kind
}
RETURN collect(name) AS missing
"""

# The names no provider of their kind has, of several kinds at once
# ($rows: [kind, name] pairs; one record back).
MISSING_PROVIDERS_OF_KINDS = """
UNWIND $rows AS row
WITH row WHERE NOT EXISTS {
  MATCH (rp:ResourceProvider {name: row[1]})
  USING INDEX SEEK rp:ResourceProvider(name)
  WHERE rp.kind = row[0]
}
RETURN collect(row) AS missing
"""

# When each consumer / provider was last changed.
CONSUMER_TIMES = """
UNWIND $uuids AS uuid
MATCH (c:Consumer {uuid: uuid})
USING INDEX SEEK c:Consumer(uuid)
RETURN c.uuid AS uuid, c.updated_at AS updated_at
"""

# Taken first by every notification transaction (see the module doc):
# the write lock of the global state node, held until the commit.
LOCK_NOTIFICATIONS = """
MERGE (g:GlobalState {id: 'global'})
ON CREATE SET g.generation = 0
SET g.notification_lock = true
REMOVE g.notification_lock
"""

# Tombstones moved forward to each entity's own time ($rows: {uuid,
# deleted_at}), after a bulk delete dated them all by the earliest.
MOVE_TOMBSTONES = """
UNWIND $rows AS row
MATCH (t:Tombstone {kind: $kind, uuid: row.uuid})
USING INDEX SEEK t:Tombstone(kind, uuid)
WHERE t.deleted_at IS NULL OR t.deleted_at < row.deleted_at
SET t.deleted_at = row.deleted_at
"""

PROVIDER_TIMES = """
UNWIND $uuids AS uuid
MATCH (rp:ResourceProvider {uuid: uuid})
USING INDEX SEEK rp:ResourceProvider(uuid)
RETURN rp.uuid AS uuid, rp.updated_at AS updated_at
"""


# ---------------------------------------------------------------------------
# Reads the notification layer needs before a transaction
# ---------------------------------------------------------------------------

def _missing(tx, names, kind):
    return tx.run(MISSING_PROVIDER_NAMES, names=names,
                  kind=kind).single()['missing']


def _missing_names(graph, names, kind):
    names = sorted({n for n in names if n})
    if not names:
        return []
    return sorted(graph.read(_missing, names, kind))


def missing_compute_nodes(graph, names):
    """The hostnames among ``names`` no compute node has."""
    return _missing_names(graph, names, compute.KIND)


def missing_storage_nodes(graph, hosts):
    """The hosts ('host@backend') among ``hosts`` no storage node has."""
    return _missing_names(graph, hosts, storage.KIND_NODE)


def missing_pools(graph, names):
    """The pool names among ``names`` no pool has."""
    return _missing_names(graph, names, storage.KIND_POOL)


def _missing_of_kinds(tx, rows):
    return tx.run(MISSING_PROVIDERS_OF_KINDS, rows=rows).single()['missing']


def missing_nodes_and_pools(graph, node_names, pool_names):
    """(:func:`missing_compute_nodes`, :func:`missing_pools`) in one read.

    One statement, one round trip (the listener asks both for every
    batch of notifications).
    """
    kinds = ((compute.KIND, node_names), (storage.KIND_POOL, pool_names))
    rows = [[kind, name] for kind, names in kinds
            for name in sorted({n for n in names if n})]
    missing = {compute.KIND: [], storage.KIND_POOL: []}
    if rows:
        for kind, name in graph.read_one(_missing_of_kinds, rows):
            missing[kind].append(name)
    return (sorted(missing[compute.KIND]),
            sorted(missing[storage.KIND_POOL]))


# ---------------------------------------------------------------------------
# Applying changes
# ---------------------------------------------------------------------------

def _merge(record, stored, keep, timestamp):
    """``record`` at ``timestamp``, its ``keep`` fields from ``stored``."""
    values = {'updated_at': timestamp}
    if stored is not None:
        for name in keep:
            if hasattr(stored, name) and name in record.__dataclass_fields__:
                values[name] = getattr(stored, name)
    return dataclasses.replace(record, **values)


def _with_time(record, change):
    return dataclasses.replace(record, updated_at=change.timestamp)


def _apply_node_updates(tx, graph, updates, counts):
    counts.add(compute_nodes.write_service_updates(tx, graph, [
        compute_nodes.ServiceUpdate(
            hostname=c.key, fields=dict(c.fields), timestamp=c.timestamp,
            key=tie_key(c), record=c.record) for c in updates]))


def _apply_aggregates(tx, graph, changes, counts):
    counts.add(aggregates.write_aggregates(tx, graph, [
        aggregates.AggregateChange(record=c.record, timestamp=c.timestamp,
                                   key=tie_key(c),
                                   deleted=c.action == ch.DELETE)
        for c in changes]))


def _has_node(change):
    return bool(change.record.node_uuid or change.record.node_name)


def _places(change):
    """Whether an instance change says where the instance is.

    It does when its record names a node, and when it names none without
    keeping the stored one (``keep`` without ``'node'``): the instance
    is then on no node (a shelved offloaded server). An ``update`` (the
    state of a known instance) never does.
    """
    return (change.action == ch.UPSERT and change.record is not None
            and (_has_node(change) or ch.KEEP_NODE not in change.keep))


def _decide(change, old, tie, tomb, keys=None):
    """Phase one of an instance change: (applies, retake, placed_at).

    ``placed_at`` is the date of the instance's node after the change
    (None: leave it as stored). ``keys`` (a :class:`TieKeys`) computes
    the change's tie key.
    """
    keys = keys or TieKeys()
    at = change.timestamp
    stored_at, stored_key, stored_placed = tie or (None, None, None)
    if at is None:
        return True, False, None
    retake = False
    if old is None:
        if tombstones.blocks(tomb, at):
            return False, False, None
    elif stored_at is not None:
        order = upsert.newer(stored_at, at)
        if order < 0:
            return False, False, None
        if order == 0:
            if stored_key is not None and keys(change) <= stored_key:
                return False, False, None
            retake = True
    if _places(change):
        return True, retake, at
    if old is None:
        # No node known since the instance's last deletion (if any).
        return True, retake, tomb if tomb is not None else 0.0
    if stored_placed is None:
        # Written by a sync: its node dates from then.
        return True, retake, stored_at
    return True, retake, None


def _apply_states(tx, graph, updates, counts, keys):
    """State-only changes of instances (``update``: only a ``state``).

    :raises: InvalidParameter for an update setting another field.
    """
    states = []
    for change in updates:
        extra = sorted(set(change.fields) - {'state'})
        if extra or 'state' not in change.fields:
            raise exception.InvalidParameter(
                field=extra[0] if extra else 'state',
                reason='an instance update sets its state, and only it')
        states.append(instances.StateChange(
            uuid=change.key, state=change.fields['state'],
            at=change.timestamp,
            key=keys(change) if change.timestamp is not None else None))
    counts.add(instances.write_states(tx, graph, states))


def _apply_instances(tx, graph, upserts, placements, counts, keys):
    """Instances: the winners, then the placements they lack.

    An instance's node is a register of its own: it follows the newest
    change that says where it is (``placements``: every instance upsert
    of the batch naming a node, or naming none without keeping the stored
    one), not the newest change, so a change that keeps the stored node
    (a state update) never loses the placement an older one gave.

    The stored state is read in one statement; each applied change's tie
    key and node date are written with the instance, by the same
    statements.
    """
    stored, ties, tombs = instances.notification_state(
        tx, [c.key for c in upserts])
    records, retake, stamps = [], set(), {}
    # Instances the winning change placed itself: the newest change of
    # the batch naming a node is that one, nothing more to place.
    settled = set()
    for change in upserts:
        old = stored.get(change.key)
        record = _merge(change.record, old, change.keep, change.timestamp)
        if (old is not None and ch.KEEP_NODE in change.keep
                and not record.node_uuid and not record.node_name):
            record = dataclasses.replace(record, node_uuid=old.node_uuid)
        applies, again, placed_at = _decide(change, old, ties.get(
            change.key), tombs.get(change.key), keys)
        records.append(record)
        if not applies or change.timestamp is None:
            continue
        if again:
            retake.add(change.key)
        stamps[change.key] = (keys(change), placed_at)
        if _places(change):
            settled.add(change.key)
    counts.add(compute.write_instances(tx, graph, records, retake=retake,
                                       placed_by_caller=True,
                                       stamps=stamps))
    _apply_placements(tx, graph, [c for c in placements
                                  if c.key not in settled], counts, keys)


def _apply_placements(tx, graph, placements, counts, keys=None):
    """Move instances to the node of a change newer than their node's date.

    The change lost to a newer one that keeps the stored node (in this
    batch or before): only its node (or none: an unmap) is taken; the
    instance's fields stay.
    """
    keys = keys or TieKeys()
    newest = {}
    for change in placements:
        if change.timestamp is None:
            continue
        current = newest.get(change.key)
        if current is None or _beats(change, current, keys):
            newest[change.key] = change
    if not newest:
        return
    uuids = sorted(newest)
    stored, ties, _tombs = instances.notification_state(tx, uuids)
    moves, stamps = [], {}
    for uuid in uuids:
        old = stored.get(uuid)
        if old is None or uuid not in ties:
            continue
        stored_at, _key, stored_placed = ties[uuid]
        known = stored_placed if stored_placed is not None else stored_at
        change = newest[uuid]
        if known is not None and upsert.newer(known, change.timestamp) <= 0:
            continue
        moves.append(dataclasses.replace(
            old, node_uuid=change.record.node_uuid,
            node_name=change.record.node_name))
        # The instance keeps its time and tie key: only its node moves.
        stamps[uuid] = (None, change.timestamp)
    if moves:
        counts.add(compute.write_instances(
            tx, graph, moves, retake={m.uuid for m in moves},
            placed_by_caller=True, stamps=stamps))


def _apply_pool_updates(tx, graph, updates, counts):
    names = sorted({c.key for c in updates})
    stored = {p.name: p for p in storage.pools_by_name(tx, names)}
    records = []
    for change in updates:
        pool = stored.get(change.key) or change.record
        if pool is None:
            counts.skipped += 1
            continue
        records.append(dataclasses.replace(
            pool, updated_at=change.timestamp, **change.fields))
    if records:
        counts.add(storage.write_pools(tx, graph, records))


def _apply_volumes(tx, graph, upserts, counts):
    stored = {v.uuid: v for v in storage.volumes_by_uuid(
        tx, sorted({c.key for c in upserts}))}
    records = []
    for change in upserts:
        old = stored.get(change.key)
        record = _merge(change.record, old, change.keep, change.timestamp)
        if (old is not None and ch.KEEP_POOL in change.keep
                and not record.pool_name):
            record = dataclasses.replace(record, pool_name=old.pool_name)
        records.append(record)
    counts.add(storage.write_volumes(tx, graph, records))


def _deleted_at(change):
    return (float(change.timestamp) if change.timestamp is not None
            else time.time())


def _times(tx, query, uuids):
    if not uuids:
        return {}
    return {r['uuid']: r['updated_at'] for r in tx.run(query, uuids=uuids)}


def _remove_all(tx, entity, times):
    """Delete entities ({uuid: deleted_at}) at once; :returns: how many.

    Each tombstone takes its entity's own time, as a delete of that
    entity alone would leave it: the bulk delete dates them by the
    earliest, then the later ones are moved forward (a tombstone never
    moves back). The global generation is not bumped here.
    """
    if not times:
        return 0
    earliest = min(times.values())
    deleted = upsert.delete(tx, entity, sorted(times), earliest, bump=False)
    later = [{'uuid': uuid, 'deleted_at': at}
             for uuid, at in sorted(times.items()) if at > earliest]
    if later:
        tx.run(MOVE_TOMBSTONES, kind=entity.tombstone_kind,
               rows=later).consume()
    return deleted


def _apply_deletes(tx, deletes, counts):
    """Delete what the changes name, unless it changed since.

    A delete older than the entity's last change (a soft delete followed
    by a restore, arriving after it) is skipped, as the restore would
    have undone it. Instances and volumes go in bulk, each tombstone at
    its own change's time.
    """
    node_names = sorted({c.key for c in deletes
                         if c.kind == ch.COMPUTE_NODE})
    nodes = {}
    if node_names:
        for node in compute.nodes_by_name(tx, node_names):
            nodes.setdefault(node.hostname, []).append(node)
    consumers = _times(tx, CONSUMER_TIMES, sorted(
        {c.key for c in deletes if c.kind in (ch.INSTANCE, ch.VOLUME)}))
    providers = _times(tx, PROVIDER_TIMES, sorted(
        {c.key for c in deletes if c.kind == ch.IRONIC_NODE}))
    bulk = {ch.INSTANCE: {}, ch.VOLUME: {}}
    for change in deletes:
        at = _deleted_at(change)
        if change.kind == ch.COMPUTE_NODE:
            uuids = [n.uuid for n in nodes.get(change.key, [])
                     if upsert.newer(n.updated_at, at) >= 0]
            if uuids:
                counts.deleted += compute.remove_nodes(tx, uuids, at)
            else:
                counts.skipped += 1
            continue
        stored = (providers if change.kind == ch.IRONIC_NODE
                  else consumers).get(change.key)
        if stored is not None and upsert.newer(stored, at) < 0:
            counts.skipped += 1
        elif change.kind in bulk:
            # One change per entity (winners): a later one of the same
            # entity keeps the newer time all the same.
            times = bulk[change.kind]
            times[change.key] = max(at, times.get(change.key, at))
        elif change.kind == ch.IRONIC_NODE:
            counts.deleted += baremetal.remove_ironic_nodes(
                tx, [change.key], at)
        else:
            raise ValueError('cannot delete a %s by notification'
                             % change.kind)
    # A state newer than its instance's delete stays pending.
    instances.keep_newer_states(tx, bulk[ch.INSTANCE])
    deleted = (_remove_all(tx, instances.INSTANCE, bulk[ch.INSTANCE])
               + _remove_all(tx, storage.VOLUME, bulk[ch.VOLUME]))
    if deleted:
        common.bump_global_generation(tx)
    counts.deleted += deleted


def _new_compute_nodes(tx, upserts):
    """The enricher's node upserts whose name no node has yet.

    A node the graph has (it came meanwhile from another batch, a sync)
    keeps what it holds: the enricher's copy (a placeholder, or what the
    APIs said before the notifications of this batch) would undo the
    service.update changes applied to it since.
    """
    names = sorted({c.record.hostname for c in upserts})
    missing = set(_missing(tx, names, compute.KIND)) if names else set()
    result, seen = [], set()
    for change in upserts:
        name = change.record.hostname
        if name in missing and name not in seen:
            seen.add(name)
            result.append(change)
    return result


def _apply(tx, graph, changes, placements=(), keys=None):
    keys = keys or TieKeys()
    tx.run(LOCK_NOTIFICATIONS).consume()
    counts = common.SyncCounts()
    by = {}
    for change in changes:
        by.setdefault((change.kind, change.action), []).append(change)

    def take(kind, action):
        return by.pop((kind, action), [])

    nodes = _new_compute_nodes(tx, take(ch.COMPUTE_NODE, ch.UPSERT))
    if nodes:
        counts.add(compute.write_nodes(
            tx, graph, [_with_time(c.record, c) for c in nodes]))
    storage_nodes = take(ch.STORAGE_NODE, ch.UPSERT)
    if storage_nodes:
        counts.add(storage.write_storage_nodes(
            tx, graph, [_with_time(c.record, c) for c in storage_nodes]))
    ironic = take(ch.IRONIC_NODE, ch.UPSERT)
    if ironic:
        counts.add(baremetal.write_ironic_nodes(
            tx, graph, [_with_time(c.record, c) for c in ironic]))

    node_updates = take(ch.COMPUTE_NODE, ch.UPDATE)
    if node_updates:
        _apply_node_updates(tx, graph, node_updates, counts)
    aggregate_changes = (take(ch.AGGREGATE, ch.UPSERT)
                         + take(ch.AGGREGATE, ch.DELETE))
    if aggregate_changes:
        _apply_aggregates(tx, graph, aggregate_changes, counts)
    pool_updates = take(ch.POOL, ch.UPDATE)
    if pool_updates:
        _apply_pool_updates(tx, graph, pool_updates, counts)

    upserts = take(ch.INSTANCE, ch.UPSERT)
    if upserts:
        _apply_instances(tx, graph, upserts, placements, counts, keys)
    states = take(ch.INSTANCE, ch.UPDATE)
    if states:
        _apply_states(tx, graph, states, counts, keys)
    volumes = take(ch.VOLUME, ch.UPSERT)
    if volumes:
        _apply_volumes(tx, graph, volumes, counts)

    action_plans = take(ch.ACTION_PLAN, ch.UPSERT)
    if action_plans:
        counts.updated += reservations.apply_plans(tx, action_plans)
    actions = take(ch.WATCHER_ACTION, ch.UPSERT)
    if actions:
        counts.updated += reservations.apply_actions(tx, actions)

    deletes = [c for (kind, action), group in sorted(by.items())
               if action == ch.DELETE for c in group]
    for key in [k for k in by if k[1] == ch.DELETE]:
        del by[key]
    if deletes:
        _apply_deletes(tx, deletes, counts)
    if by:
        raise ValueError('unsupported changes: %s' % ', '.join(
            '%s %s' % key for key in sorted(by)))
    return counts


_SCALARS = frozenset((str, int, float, bool, type(None)))


def _plain(value):
    """``value`` as :func:`dataclasses.asdict` gives it, without copies.

    The JSON of the result is the same as of ``asdict``'s (nested
    dataclasses become dicts; lists, tuples and dicts are walked; other
    values are kept as they are, where ``asdict`` deep-copies them).
    """
    kind = type(value)
    if kind in _SCALARS:
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name))
                for f in dataclasses.fields(value)}
    if kind is list or kind is tuple:
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def tie_key(change):
    """The key that orders two changes of one entity at the same time.

    A digest of what the change says (its record, its fields): the same
    notification twice has the same key, two different ones at the same
    time are ordered the same way whatever order they come in.
    """
    what = {'action': change.action, 'fields': change.fields,
            'keep': sorted(change.keep),
            'record': (_plain(change.record)
                       if dataclasses.is_dataclass(change.record)
                       else change.record)}
    text = json.dumps(what, sort_keys=True, separators=(',', ':'),
                      default=str)
    return hashlib.sha1(text.encode('utf-8')).hexdigest()


class TieKeys(object):
    """:func:`tie_key` of changes, each computed once.

    Calling it with a change answers its key. It holds the changes it
    was asked about (a key is remembered by the change's identity, which
    stays unique while the change is held).
    """

    def __init__(self):
        self._keys = {}

    def __call__(self, change):
        found = self._keys.get(id(change))
        if found is None:
            found = (change, tie_key(change))
            self._keys[id(change)] = found
        return found[1]


def _order(change):
    """The rank of a change before its tie key: the greater wins."""
    return (change.timestamp is None,
            change.timestamp if change.timestamp is not None else 0.0,
            change.action == ch.DELETE)


def _beats(change, other, keys):
    """Whether ``change`` wins over ``other`` (one entity; see winners)."""
    mine, theirs = _order(change), _order(other)
    if mine != theirs:
        return mine > theirs
    return keys(change) > keys(other)


def winners(changes, keys=None):
    """The change of each entity that the convergence rule picks.

    The newest; at the same time a delete, then the greater
    :func:`tie_key` (computed only for such ties, once per change, by
    ``keys``, a :class:`TieKeys`). (A change without a timestamp applies
    unconditionally: it beats the others.) Order of first appearance is
    kept.
    """
    keys = keys or TieKeys()
    chosen = {}
    for index, change in enumerate(changes):
        current = chosen.get(change.entity)
        if current is None:
            chosen[change.entity] = [index, change]
        elif _beats(change, current[1], keys):
            current[1] = change
    return [change for _, change in sorted(chosen.values(),
                                           key=lambda item: item[0])]


def _state_only(change):
    """Whether ``change`` is a state-only change of an instance."""
    return change.kind == ch.INSTANCE and change.action == ch.UPDATE


def apply_changes(graph, changes):
    """Apply notification changes in one transaction.

    Only the change of each entity the convergence rule picks is applied
    (:func:`winners`; an instance's state-only changes are picked apart
    from its whole ones, the state being a register of its own: see the
    module doc).

    :returns: :class:`~tachyon.graph.common.SyncCounts` of the writes.
    :raises: :class:`~tachyon.exception.GraphUnavailable` when Neo4j
        fails transiently (nothing was applied);
        :class:`~tachyon.exception.InvalidParameter` for a record the
        graph refuses (nothing was applied).
    """
    changes = list(changes)
    placements = [c for c in changes
                  if c.kind == ch.INSTANCE and _places(c)]
    keys = TieKeys()
    changes = (winners([c for c in changes if not _state_only(c)], keys)
               + winners([c for c in changes if _state_only(c)], keys))
    if not changes:
        return common.SyncCounts()
    return graph.write(_apply, graph, changes, placements, keys)
