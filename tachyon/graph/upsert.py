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

"""The write engine of the entity modules (compute, storage, baremetal).

Every bulk write of a resource provider or a consumer goes through the
rules written here once:

* **Classification.** An upsert first reads what the graph holds of its
  records (:func:`stored`), and :class:`Plan` sorts each record: a record
  older than the stored ``updated_at`` is skipped, an equal one is a
  no-op, ``None`` applies unconditionally; a tombstone at least as new
  as the record blocks it; an entity of another kind with that uuid is
  left alone. A newer record whose ``fingerprint`` matches the stored one
  only moves ``updated_at`` (a *touch*) and bumps no generation.
* **Deletes** always apply (a uuid is never reused) and leave a
  tombstone; they remove what only the deleted entities used
  (:func:`cleanup_orphans`: projects, zones, flavors, aggregates).
* **Pruning** deletes what a full sync no longer lists.

Lookups carry index hints (``USING INDEX SEEK``): within a big
transaction the planner only sees the committed counts (an empty graph
during a first import) and would otherwise scan labels for the entities
created earlier in the same transaction, which makes a large import
quadratic. The hint is a *seek*: a plain ``USING INDEX`` may be met by an
index scan under each row, which the planner chose on some statistics
(a staged re-import of 20,000 instances took 43 s in one lookup so).

An entity module describes each of its kinds with an :class:`Entity`
(its kind, tombstone kind and write/delete statements) and calls
:func:`upsert`, :func:`delete` and :func:`prune` inside its transaction;
the compute module, whose writes have fast paths of their own, composes
:func:`stored`, :class:`Plan` and :func:`finish` directly.
"""

import dataclasses
import hashlib
import json
import time

from oslo_log import log as logging

from tachyon.graph import common
from tachyon.graph import tombstones

LOG = logging.getLogger(__name__)

PROVIDER = 'ResourceProvider'
CONSUMER = 'Consumer'

#: What :meth:`Plan.sort` answers for a record to create.
NEW = 'new'
#: ... and for one newer than the stored state (the caller compares).
NEWER = 'newer'

# ---------------------------------------------------------------------------
# Cypher
# ---------------------------------------------------------------------------

# What the graph holds of each uuid. (No lock is taken here: locking
# thousands of entities ahead of the writes makes Neo4j crawl. The write
# statements repeat the staleness guard instead.)
CLASSIFY_KEYS = {
    PROVIDER: ('uuid', 'exists', 'kind', 'updated_at', 'placeholder',
               'fingerprint', 'name', 'deleted_at'),
    CONSUMER: ('uuid', 'exists', 'kind', 'updated_at', 'fingerprint',
               'deleted_at'),
}
_CLASSIFY_ROWS = {
    PROVIDER: """
UNWIND $uuids AS uuid
OPTIONAL MATCH (rp:ResourceProvider {uuid: uuid})
USING INDEX SEEK rp:ResourceProvider(uuid)
OPTIONAL MATCH (t:Tombstone {kind: $tombstone_kind, uuid: uuid})
USING INDEX SEEK t:Tombstone(kind, uuid)
RETURN uuid, rp IS NOT NULL AS exists, rp.kind AS kind,
       rp.updated_at AS updated_at, rp.placeholder AS placeholder,
       rp.fingerprint AS fingerprint, rp.name AS name,
       t.deleted_at AS deleted_at
""",
    CONSUMER: """
UNWIND $uuids AS uuid
OPTIONAL MATCH (c:Consumer {uuid: uuid})
USING INDEX SEEK c:Consumer(uuid)
OPTIONAL MATCH (t:Tombstone {kind: $tombstone_kind, uuid: uuid})
USING INDEX SEEK t:Tombstone(kind, uuid)
RETURN uuid, c IS NOT NULL AS exists, c.type AS kind,
       c.updated_at AS updated_at, c.fingerprint AS fingerprint,
       t.deleted_at AS deleted_at
""",
}
CLASSIFY = {label: common.collected(query, CLASSIFY_KEYS[label])
            for label, query in _CLASSIFY_ROWS.items()}

# Each of $rows ({uuid, ...} maps) or of $uuids, by its uuid.
_EACH = {
    'rows': 'UNWIND $rows AS row\nMATCH (%(v)s:%(label)s {uuid: row.uuid})\n',
    'uuids': 'UNWIND $uuids AS uuid\nMATCH (%(v)s:%(label)s {uuid: uuid})\n',
}


def _by_uuid(var, label, param):
    return (_EACH[param] + 'USING INDEX SEEK %(v)s:%(label)s(uuid)\n') % {
        'v': var, 'label': label}


def _touch(var, label):
    return _by_uuid(var, label, 'rows') + (
        'WHERE %(v)s.updated_at IS NULL OR %(v)s.updated_at < row.updated_at\n'
        'SET %(v)s.updated_at = row.updated_at\n' % {'v': var})


def _bump_statement(var, label):
    return _by_uuid(var, label, 'uuids') + (
        'SET %(v)s.generation = coalesce(%(v)s.generation, 0) + 1\n'
        % {'v': var})


# Move ``updated_at`` forward ($rows: {uuid, updated_at}).
TOUCH = {PROVIDER: _touch('rp', PROVIDER), CONSUMER: _touch('c', CONSUMER)}
# Bump generations ($uuids).
BUMP = {PROVIDER: _bump_statement('rp', PROVIDER),
        CONSUMER: _bump_statement('c', CONSUMER)}

# What a full sync that began at $before and listed $keep no longer
# finds. A placeholder provider it did not list goes too: the APIs name
# the real provider with its own uuid. An instance whose state a
# notification dated since (tachyon.graph.compute.instances) stays.
PRUNE_CANDIDATES = {
    PROVIDER: """
MATCH (rp:ResourceProvider {kind: $kind})
WHERE NOT rp.uuid IN $keep
  AND (rp.updated_at IS NULL OR rp.updated_at < $before
       OR coalesce(rp.placeholder, false))
RETURN rp.uuid AS uuid
""",
    CONSUMER: """
MATCH (c:Consumer {type: $kind})
WHERE NOT c.uuid IN $keep
  AND (c.updated_at IS NULL OR c.updated_at < $before)
  AND (c.state_at IS NULL OR c.state_at < $before)
RETURN c.uuid AS uuid
""",
}

# A provider with its inventories (the CONSUMES edges onto them go too:
# its consumers stay, unmapped).
DELETE_PROVIDERS = """
UNWIND $uuids AS uuid
MATCH (rp:ResourceProvider {uuid: uuid})
USING INDEX SEEK rp:ResourceProvider(uuid)
WHERE rp.kind = $kind
OPTIONAL MATCH (rp)-[:HAS_INVENTORY]->(inv:Inventory)
OPTIONAL MATCH (rp)-[:LOCATED_IN]->(az:AvailabilityZone)
WITH rp, collect(DISTINCT inv) AS invs, collect(DISTINCT az.name) AS azs
FOREACH (inv IN invs | DETACH DELETE inv)
WITH rp.uuid AS uuid, rp, azs
DETACH DELETE rp
RETURN uuid, azs
"""

_ORPHAN = """
UNWIND $keys AS key
MATCH (%(v)s:%(label)s {%(key)s: key})
USING INDEX SEEK %(v)s:%(label)s(%(key)s)
WHERE NOT EXISTS { (%(v)s)--() }
DELETE %(v)s
"""

# Delete the given ($keys) projects, zones, aggregates nothing uses.
DELETE_ORPHAN_PROJECTS = _ORPHAN % {'v': 'p', 'label': 'Project',
                                    'key': 'external_id'}
DELETE_ORPHAN_AZS = _ORPHAN % {'v': 'az', 'label': 'AvailabilityZone',
                               'key': 'name'}
DELETE_ORPHAN_AGGREGATES = _ORPHAN % {'v': 'a', 'label': 'Aggregate',
                                      'key': 'name'}

DELETE_ORPHAN_FLAVORS = """
UNWIND $keys AS key
MATCH (f:Flavor {key: key})
USING INDEX SEEK f:Flavor(key)
WHERE NOT EXISTS { (f)<-[:OF_TYPE]-() }
OPTIONAL MATCH (f)-[:HAS_EXTRA_SPEC]->(s:ExtraSpec)
WITH f, collect(s) AS specs
FOREACH (s IN specs | DETACH DELETE s)
DETACH DELETE f
"""

# Deletes go in chunks of this many uuids.
_DELETE_CHUNK = 1000


# ---------------------------------------------------------------------------
# Entities and rows
# ---------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Entity:
    """How the engine writes one kind of entity.

    ``write`` takes ``$rows`` (rows as the entity module builds them) and
    may return ``old_azs`` and ``old_projects``, the zones and projects
    a row let go of. ``delete`` takes ``$uuids`` and ``$kind`` and
    returns one record per deleted entity with what it freed: any of
    ``projects``, ``azs``, ``flavors``, ``aggregates`` (cleaned up when
    orphaned), ``consumers`` and ``providers`` (their generations
    bumped).
    """

    kind: str
    tombstone_kind: str
    label: str = PROVIDER
    write: str = ''
    delete: str = DELETE_PROVIDERS


def column_refs(var, columns, stored):
    """Cypher fragments of a write whose rows are lists of ``columns``.

    {column: 'row[i]'} for every column, plus ``set_props`` (``stored``
    set on ``var``, ``updated_at`` kept when the row has none) and
    ``fresh_set``: the staleness guard, to follow a ``WHERE`` as ``AND``
    (a row older than what is stored is not written, which repeats for a
    concurrent writer what the classification decided), then
    ``set_props`` and the generation up by one.
    """
    refs = {name: 'row[%d]' % index for index, name in enumerate(columns)}
    refs['set_props'] = ',\n    '.join(
        ['%s.%s = %s' % (var, name, refs[name]) for name in stored]
        + ['%s.updated_at = coalesce(%s, %s.updated_at)'
           % (var, refs['updated_at'], var)])
    refs['fresh_set'] = (
        '  AND (%(t)s IS NULL OR %(v)s.updated_at IS NULL\n'
        '       OR %(v)s.updated_at <= %(t)s)\n'
        'SET %(props)s,\n'
        '    %(v)s.generation = %(v)s.generation + 1') % {
            't': refs['updated_at'], 'v': var, 'props': refs['set_props']}
    return refs


def fresh_merge(var, label, kind):
    """Cypher: each of ``$rows`` (maps) merged by uuid as ``var``.

    A new entity gets ``kind`` (a provider's ``kind``, a consumer's
    ``type``) and generation 0. Only the rows of that kind and at least
    as new as the stored state go on (the staleness guard: it repeats
    for a concurrent writer what the classification decided); a ``SET``
    follows, ended by :func:`fresh_tail`.
    """
    return ('UNWIND $rows AS row\n'
            'MERGE (%(v)s:%(label)s {uuid: row.uuid})\n'
            "ON CREATE SET %(v)s.%(prop)s = '%(kind)s', %(v)s.generation = 0\n"
            'WITH %(v)s, row\n'
            "WHERE %(v)s.%(prop)s = '%(kind)s'\n"
            '  AND (row.updated_at IS NULL OR %(v)s.updated_at IS NULL\n'
            '       OR %(v)s.updated_at <= row.updated_at)\n') % {
                'v': var, 'label': label, 'kind': kind,
                'prop': 'kind' if label == PROVIDER else 'type'}


def fresh_tail(var):
    """Cypher: the end of a :func:`fresh_merge` ``SET``.

    The row's fingerprint and time (kept when the row has none), and the
    generation up by one.
    """
    return ('    %(v)s.fingerprint = row.fingerprint,\n'
            '    %(v)s.updated_at = coalesce(row.updated_at,'
            ' %(v)s.updated_at),\n'
            '    %(v)s.generation = %(v)s.generation + 1\n') % {'v': var}


def fingerprint(data):
    """A stable digest of a row's stored values (JSON, sorted keys)."""
    text = json.dumps(data, sort_keys=True, separators=(',', ':'),
                      default=str)
    return hashlib.sha1(text.encode('utf-8')).hexdigest()


def stamp(row, updated_at):
    """``row`` with its ``fingerprint`` (of its values) and ``updated_at``.

    The fingerprint leaves the time out: a record observed again, later,
    with the same values, only touches the stored one.
    """
    row['fingerprint'] = fingerprint(row)
    row['updated_at'] = updated_at
    return row


def newer(stored, incoming):
    """-1: incoming older (skip); 0: same observation; 1: apply."""
    if incoming is None or stored is None:
        return 1
    if incoming < stored:
        return -1
    if incoming == stored:
        return 0
    return 1


def dedupe(items, key=lambda item: item.uuid):
    """The last record of each key, in first-seen order."""
    result = {}
    for item in items:
        result[key(item)] = item
    return list(result.values())


def batches(graph, rows):
    """``rows`` in the graph's batch size (none for no rows)."""
    return graph.batches(rows) if rows else []


# ---------------------------------------------------------------------------
# Classification
# ---------------------------------------------------------------------------

def stored(tx, entity, uuids):
    """{uuid: what the graph holds of it} for every uuid, inside ``tx``.

    Each value has ``exists``, ``kind``, ``updated_at``, ``fingerprint``
    and ``deleted_at`` (of a tombstone); a provider's also ``name`` and
    ``placeholder``.
    """
    return {r['uuid']: r for r in common.collected_dicts(
        tx, CLASSIFY[entity.label], CLASSIFY_KEYS[entity.label],
        uuids=list(uuids), tombstone_kind=entity.tombstone_kind)}


class Plan:
    """The records of one upsert, sorted by what to do with them.

    It counts each record (:class:`~tachyon.graph.common.SyncCounts`) and
    keeps the tombstones to lift (``revived``) and the rows whose time
    alone moves (``touch``).
    """

    def __init__(self, entity):
        self.entity = entity
        self.counts = common.SyncCounts()
        self.revived = []
        self.touch = []

    def sort(self, seen, uuid, updated_at):
        """Sort one record against ``seen``, what the graph holds of it.

        :returns: :data:`NEW` for a record to create, :data:`NEWER` for
            one newer than the stored state (the caller compares it and
            calls :meth:`same` or :meth:`changed`), None for a record
            already counted as skipped or unchanged.
        """
        deleted_at = None if seen is None else seen['deleted_at']
        if seen is None or not seen['exists']:
            if tombstones.blocks(deleted_at, updated_at):
                self.counts.skipped += 1
                return None
            if deleted_at is not None:
                self.revived.append(uuid)
            self.counts.created += 1
            return NEW
        if seen['kind'] != self.entity.kind:
            LOG.warning('%s %s not written: a %s %s has that uuid',
                        self.entity.kind, uuid, seen['kind'],
                        self.entity.label)
            self.counts.skipped += 1
            return None
        order = newer(seen['updated_at'], updated_at)
        if order < 0:
            self.counts.skipped += 1
            return None
        if order == 0:
            self.counts.unchanged += 1
            return None
        return NEWER

    def same(self, uuid, updated_at):
        """A newer record equal to the stored state: its time moves."""
        self.counts.unchanged += 1
        if updated_at is not None:
            self.touch.append({'uuid': uuid, 'updated_at': updated_at})

    def changed(self):
        """A newer record that differs from the stored state."""
        self.counts.updated += 1


def finish(tx, graph, plan, bump=True, **orphans):
    """Close an upsert: touches, orphans, tombstones, global generation.

    ``orphans`` are :func:`cleanup_orphans`' keywords. With ``bump`` the
    global generation moves when the plan changed anything.
    """
    for batch in batches(graph, plan.touch):
        tx.run(TOUCH[plan.entity.label], rows=batch).consume()
    cleanup_orphans(tx, **orphans)
    tombstones.remove_tombstones(tx, plan.entity.tombstone_kind,
                                 plan.revived)
    if bump and plan.counts.changed:
        common.bump_global_generation(tx)
    return plan.counts


# ---------------------------------------------------------------------------
# Writes
# ---------------------------------------------------------------------------

def upsert(tx, graph, entity, rows, bump=True):
    """Create or update rows of ``entity`` in bulk, inside ``tx``.

    Each row is a dict with at least ``uuid``, ``updated_at`` and
    ``fingerprint``; those to write go to ``entity.write``.

    :returns: :class:`~tachyon.graph.common.SyncCounts`.
    """
    plan = Plan(entity)
    old_azs, old_projects = set(), set()
    for batch in batches(graph, rows):
        state = stored(tx, entity, [row['uuid'] for row in batch])
        write = []
        for row in batch:
            sort = plan.sort(state[row['uuid']], row['uuid'],
                             row['updated_at'])
            if sort == NEWER:
                if state[row['uuid']]['fingerprint'] == row['fingerprint']:
                    plan.same(row['uuid'], row['updated_at'])
                    continue
                plan.changed()
            if sort is not None:
                write.append(row)
        if write:
            for result in tx.run(entity.write, rows=write):
                old_azs.update(result.get('old_azs') or ())
                old_projects.update(result.get('old_projects') or ())
    return finish(tx, graph, plan, bump, projects=old_projects,
                  azs=old_azs)


def upsert_records(graph, to_row, records, write_rows, *args):
    """Upsert records in one transaction of their own.

    The last record of each uuid becomes a row (``to_row``) before the
    transaction; ``write_rows(tx, graph, *args, rows)`` writes them.
    :returns: :class:`~tachyon.graph.common.SyncCounts`.
    """
    rows = [to_row(record) for record in dedupe(records)]
    if not rows:
        return common.SyncCounts()
    return graph.write(write_rows, graph, *args, rows)


def delete_records(graph, entity, uuids, deleted_at=None):
    """:func:`delete` in one transaction of its own; :returns: how many.

    ``deleted_at`` defaults to the time of the call.
    """
    uuids = sorted(set(uuids))
    if not uuids:
        return 0
    if deleted_at is None:
        deleted_at = time.time()
    return graph.write(delete, entity, uuids, float(deleted_at))


def delete(tx, entity, uuids, deleted_at=None, bump=True):
    """Delete entities by uuid and leave their tombstones, inside ``tx``.

    ``deleted_at`` (default now) dates the tombstones. :returns: how many
    were deleted.
    """
    uuids = sorted(set(uuids))
    if deleted_at is None:
        deleted_at = time.time()
    deleted = 0
    freed = {key: set() for key in ('projects', 'azs', 'flavors',
                                    'aggregates', 'consumers', 'providers')}
    for start in range(0, len(uuids), _DELETE_CHUNK):
        for result in tx.run(entity.delete, kind=entity.kind,
                             uuids=uuids[start:start + _DELETE_CHUNK]):
            deleted += 1
            for key, values in freed.items():
                values.update(result.get(key) or ())
    bump_providers(tx, freed.pop('providers'))
    bump_consumers(tx, freed.pop('consumers'))
    cleanup_orphans(tx, **freed)
    tombstones.record_tombstones(tx, entity.tombstone_kind, uuids,
                                 deleted_at)
    if bump and deleted:
        common.bump_global_generation(tx)
    return deleted


def stale(tx, entity, keep, before):
    """The uuids a full sync listing ``keep`` from ``before`` would drop."""
    return [r['uuid'] for r in tx.run(
        PRUNE_CANDIDATES[entity.label], kind=entity.kind,
        keep=sorted(set(keep)), before=float(before))]


def prune(tx, entity, keep, before, deleted_at=None):
    """Delete what a full sync no longer lists (see :func:`stale`).

    ``deleted_at`` dates the tombstones (default now). :returns: how many
    were deleted.
    """
    uuids = stale(tx, entity, keep, before)
    return delete(tx, entity, uuids, deleted_at) if uuids else 0


def bump_providers(tx, uuids):
    """Advance the generation of the given providers inside ``tx``."""
    _bump(tx, PROVIDER, uuids)


def bump_consumers(tx, uuids):
    """Advance the generation of the given consumers inside ``tx``."""
    _bump(tx, CONSUMER, uuids)


def _bump(tx, label, uuids):
    uuids = sorted({u for u in uuids if u})
    if uuids:
        tx.run(BUMP[label], uuids=uuids).consume()


def cleanup_orphans(tx, projects=(), azs=(), flavors=(), aggregates=()):
    """Remove the given projects, zones, flavors, aggregates if unused."""
    for query, keys in ((DELETE_ORPHAN_PROJECTS, projects),
                        (DELETE_ORPHAN_AZS, azs),
                        (DELETE_ORPHAN_FLAVORS, flavors),
                        (DELETE_ORPHAN_AGGREGATES, aggregates)):
        keys = sorted({k for k in keys if k is not None})
        if keys:
            tx.run(query, keys=keys).consume()
