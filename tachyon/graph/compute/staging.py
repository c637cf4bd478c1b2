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

"""A compute import staged in bounded transactions.

A replacing import of a whole compute model used to be one transaction,
whose memory grows with the model. Here it runs in three phases, so that
no transaction holds more than a chunk of the model and a reader still
never sees half of it:

1. **Stage.** The model is written in chunks of :data:`CHUNK` records,
   each its own transaction, by the very statements of the live writes
   (:mod:`tachyon.graph.compute.nodes`, :mod:`.instances`) with their
   entity labels swapped for staging ones (:data:`STAGED`). Staged nodes
   carry no label any read of the model matches, so readers do not see
   them; they only share the vocabulary nodes (traits, resource classes,
   zones, aggregates, projects, flavors) with the live model. Every
   compute node is staged; an instance is not when the live one already
   is what the import would write (:data:`KEEPABLE_INSTANCES`: the same
   record on the same node, one of the model's): it stays live.
2. **Switch**, one transaction, whose changes are labels and a few
   properties per entity *the import changes*: a live node whose staged
   copy is the same stays live (its copy is purged); the other live
   compute nodes, their inventories, the live instances that were
   staged and those the model lacks are relabelled *retired*; each
   staged entity takes over what its live namesake had that the import
   does not set (its generation, the dates a notification ordered it
   by); the edges other entities had onto the retired ones (volumes
   ``ATTACHED_TO`` an instance, reservation holds ``HOLDS`` an
   inventory, a kept instance ``CONSUMES`` a replaced node's inventory)
   move onto the staged ones, and the staged instances on a kept node
   use its live inventories; the entities the model lacks are
   tombstoned, those it revives lose their tombstones; the staged
   entities are relabelled live. A kept instance that a writer changed
   or deleted meanwhile (the global generation moved) is written again
   as the import has it, by the live write path: the import wins, as a
   single transaction committed after that writer would. A kept node's
   generation moves when what its instances use of it does.
3. **Purge.** The retired entities are deleted in chunks, and with them
   the projects, zones, flavors and aggregates nothing uses any more.

So the switch grows with what the import changes, not with the model:
a re-import of the same model relabels nothing but the node copies it
drops, and one that changes a tenth of the instances relabels about a
tenth of the model. Replacing a model by an entirely different one
still relabels both.

The end state is the one the single transaction left. A failure (or a
``kill -9``) before the switch commits leaves the live model whole: what
was staged is invisible and purged by the next import; one after it
leaves retired entities that are invisible too, purged likewise.

A *merging* import (``merge``: a compute import without ``--replace``
of more than a chunk) runs the same phases, but deletes nothing the
model lacks: the switch retires only the nodes and instances it
stages, and drops only the pending states of the instances it creates.
The live nodes its instances are on and it does not list are staged
with it, read back as they are, so that its instances find their node
as a one-transaction merge would (:func:`_nodes_under`); their copies
are the same, so they stay live, and they are not counted.

Only one staged import runs at a time: it holds the lease
:data:`LEASE` (:mod:`tachyon.graph.leases`) and every one of its
transactions is fenced by it.
"""

import functools
import re
import time
import uuid as uuidlib

from oslo_log import log as logging

from tachyon import exception
from tachyon.graph import common
from tachyon.graph.compute import instances as compute_instances
from tachyon.graph.compute import nodes as compute_nodes
from tachyon.graph.compute import reads as compute_reads
from tachyon.graph.compute import rows as compute_rows
from tachyon.graph import leases
from tachyon.graph import tombstones
from tachyon.graph import upsert

LOG = logging.getLogger(__name__)

#: The lease a staged import holds from its first staged chunk to the
#: end of its purge.
LEASE = 'compute-model-import'
#: Its lifetime, renewed after every transaction of the import.
LEASE_TTL = 60.0
#: Records staged per transaction, and entities purged per transaction.
CHUNK = 5000
# The CONSUMES edges of an instance (VCPU, MEMORY_MB, DISK_GB), to size
# the chunks of nodes whose staged uses are copied.
_USES_PER_INSTANCE = 3

#: Live label -> the label it is staged under.
STAGED = {
    'ResourceProvider': 'StagedResourceProvider',
    'Consumer': 'StagedConsumer',
    'Inventory': 'StagedInventory',
    'Tombstone': 'StagedTombstone',
    'PendingState': 'StagedPendingState',
}
_LIVE_LABEL = re.compile(r':(%s)\b' % '|'.join(STAGED))

# "Updated before the end of time": every pending state, at the switch.
_FOREVER = 1.0e300

# The properties a staged entity does not take over from its live
# namesake: those the import sets (even to nothing), the state's date
# and the placement date (an import sets both anew) and the generation
# (set apart).
_NODE_OWN = ('uuid', 'kind', 'generation') + compute_rows.NODE_STORED
_INSTANCE_OWN = (('uuid', 'type', 'generation', 'state_at', 'state_key',
                  'placed_at', 'lock__') + compute_rows.INSTANCE_STORED)


@functools.lru_cache(maxsize=None)
def staged_query(query):
    """``query`` (a statement of this package) on the staging labels."""
    return _LIVE_LABEL.sub(lambda m: ':' + STAGED[m.group(1)], query)


class StagedTransaction(object):
    """A transaction whose statements run on the staging labels.

    The live write functions run inside it unchanged: only the labels of
    their statements' text differ, never their parameters.
    """

    def __init__(self, tx):
        self._tx = tx

    def run(self, query, parameters=None, **kwparameters):
        return self._tx.run(staged_query(query), parameters, **kwparameters)


# ---------------------------------------------------------------------------
# Cypher of the switch and the purge
# ---------------------------------------------------------------------------

# Staged entities whose uuid the live graph gives an entity of another
# kind: left alone, as a single-transaction import leaves them.
DROP_NODE_CLASHES = """
MATCH (s:StagedResourceProvider)
MATCH (rp:ResourceProvider {uuid: s.uuid})
USING INDEX SEEK rp:ResourceProvider(uuid)
WHERE rp.kind <> 'compute'
OPTIONAL MATCH (s)-[:HAS_INVENTORY]->(i:StagedInventory)
DETACH DELETE i
WITH DISTINCT s
DETACH DELETE s
RETURN count(s) AS n
"""
DROP_INSTANCE_CLASHES = """
MATCH (s:StagedConsumer)
MATCH (c:Consumer {uuid: s.uuid})
USING INDEX SEEK c:Consumer(uuid)
WHERE c.type <> 'instance'
DETACH DELETE s
RETURN count(s) AS n
"""

# What a staged node takes over from its live namesake. The nodes taken
# over are those the import replaces (:data:`KEPT_NODES` are not): their
# record changed, so their generation moves.
_USED = ('reduce(total = 0.0, x IN [(%s)-[:HAS_INVENTORY]->()'
         '<-[u:CONSUMES]-(:Consumer) | u.used] | total + x)')
# The take-over itself, once ``same`` (counted unchanged) and ``still``
# (the generation stays) are known.
_TAKE_OVER = """
SET new.generation = CASE WHEN still THEN old.generation
                     ELSE coalesce(old.generation, 0) + 1 END
FOREACH (k IN [k IN keys(old) WHERE new[k] IS NULL AND NOT k IN $own] |
  SET new[k] = old[k])
RETURN count(new) AS replaced,
       sum(CASE WHEN same THEN 1 ELSE 0 END) AS unchanged
"""
TAKE_OVER_NODES = """
MATCH (new:StagedResourceProvider)
WHERE NOT new.uuid IN $kept
MATCH (old:ResourceProvider {uuid: new.uuid})
USING INDEX SEEK old:ResourceProvider(uuid)
WITH new, old, false AS same, false AS still
""" + _TAKE_OVER

# ... and a staged instance from its live namesake: unchanged when its
# record and its node are.
TAKE_OVER_INSTANCES = """
MATCH (new:StagedConsumer)
MATCH (old:Consumer {uuid: new.uuid})
USING INDEX SEEK old:Consumer(uuid)
WITH new, old,
     old.fingerprint = new.fingerprint
     AND [(old)-[:CONSUMES {resource_class: 'VCPU'}]->(i:Inventory)
          | i.provider_uuid]
       = [(new)-[:CONSUMES {resource_class: 'VCPU'}]->(i:StagedInventory)
          | i.provider_uuid]
     AS same
WITH new, old, same, same AS still
""" + _TAKE_OVER

STAGED_COUNTS = """
RETURN COUNT { (:StagedResourceProvider) } AS nodes,
       COUNT { (:StagedConsumer) } AS instances
"""

# Live compute nodes whose staged copy is the same (their fingerprint
# covers their record, inventories, traits and aggregates): kept live,
# their staged copies purged with the rest.
KEPT_NODES = """
MATCH (s:StagedResourceProvider)
MATCH (rp:ResourceProvider {uuid: s.uuid})
USING INDEX SEEK rp:ResourceProvider(uuid)
WHERE rp.kind = 'compute' AND rp.fingerprint = s.fingerprint
RETURN collect(rp.uuid) AS uuids
"""

# What each live compute node's instances use of it, summed: a kept
# node's generation moves when that changes.
NODE_USAGE = """
MATCH (rp:ResourceProvider {kind: 'compute'})
RETURN collect([rp.uuid, %s]) AS usage
""" % (_USED % 'rp')

# Instances left unstaged as they were (:data:`KEEPABLE_INSTANCES`) that
# a writer changed or deleted since ($kept: [uuid, generation] pairs).
STALE_KEPT = """
UNWIND $kept AS k
OPTIONAL MATCH (c:Consumer {uuid: k[0]})
WITH k, c
WHERE c IS NULL OR c.type <> 'instance' OR c.generation <> k[1]
RETURN collect(k[0]) AS uuids
"""

# Of the rows [uuid, node uuid (null: on no node), fingerprint], the
# live instances the import would leave as they are: the same record on
# the same node (or on none), with no date of its own a write of the
# row would clear.
KEEPABLE_INSTANCES = """
UNWIND $rows AS row
MATCH (c:Consumer {uuid: row[0]})
USING INDEX SEEK c:Consumer(uuid)
WITH row, c
WHERE c.type = 'instance' AND c.fingerprint = row[2]
  AND c.state_at IS NULL AND c.state_key IS NULL AND c.placed_at IS NULL
  AND CASE WHEN row[1] IS NULL THEN NOT EXISTS { (c)-[:CONSUMES]->() }
      ELSE [(c)-[:CONSUMES {resource_class: 'VCPU'}]->(i:Inventory)
            | i.provider_uuid] = [row[1]] END
RETURN collect([c.uuid, c.generation]) AS kept
"""

LIVE_INSTANCES = """
MATCH (c:Consumer {type: 'instance'})
RETURN collect(c.uuid) AS uuids
"""

# The live entities the import replaces or deletes, retired: the nodes'
# inventories first (found through their nodes), then the nodes, then
# the instances with a staged namesake, then those the model lacks.
RETIRE = (
    """
MATCH (rp:ResourceProvider {kind: 'compute'})-[:HAS_INVENTORY]->(i:Inventory)
WHERE NOT rp.uuid IN $kept
REMOVE i:Inventory
SET i:RetiredInventory
""",
    """
MATCH (rp:ResourceProvider {kind: 'compute'})
WHERE NOT rp.uuid IN $kept
REMOVE rp:ResourceProvider
SET rp:RetiredResourceProvider
""",
    """
MATCH (s:StagedConsumer)
MATCH (c:Consumer {uuid: s.uuid})
USING INDEX SEEK c:Consumer(uuid)
WHERE c.type = 'instance'
REMOVE c:Consumer
SET c:RetiredConsumer
""",
)
# A merging import retires only the nodes it stages (a live node the
# file does not name stays as it is): the inventories first, then the
# nodes.
RETIRE_STAGED_NODES = (
    """
MATCH (s:StagedResourceProvider)
WHERE NOT s.uuid IN $kept
MATCH (rp:ResourceProvider {uuid: s.uuid})
USING INDEX SEEK rp:ResourceProvider(uuid)
WHERE rp.kind = 'compute'
MATCH (rp)-[:HAS_INVENTORY]->(i:Inventory)
REMOVE i:Inventory
SET i:RetiredInventory
""",
    """
MATCH (s:StagedResourceProvider)
WHERE NOT s.uuid IN $kept
MATCH (rp:ResourceProvider {uuid: s.uuid})
USING INDEX SEEK rp:ResourceProvider(uuid)
WHERE rp.kind = 'compute'
REMOVE rp:ResourceProvider
SET rp:RetiredResourceProvider
""",
)

# The pending states of the instances a merging import creates: taken
# by the write that creates them, which an import's undated state
# always wins (as a one-transaction import deletes them). Those of the
# instances it does not name stay.
CONSUME_PENDING_STATES = """
MATCH (s:StagedConsumer)
MATCH (p:PendingState {kind: $kind, uuid: s.uuid})
USING INDEX SEEK p:PendingState(kind, uuid)
WHERE NOT EXISTS {
  MATCH (c:Consumer {uuid: s.uuid})
  USING INDEX SEEK c:Consumer(uuid)
}
DELETE p
"""

RETIRE_GONE = """
UNWIND $uuids AS u
MATCH (c:Consumer {uuid: u})
USING INDEX SEEK c:Consumer(uuid)
WHERE c.type = 'instance'
REMOVE c:Consumer
SET c:RetiredConsumer
"""

# The edges the rest of the graph had onto a retired entity move onto its
# staged namesake, type and properties kept. (The retired entities' own
# edges between themselves go with them.)
_NOT_RETIRED = ('NOT (x:RetiredResourceProvider OR x:RetiredInventory '
                'OR x:RetiredConsumer)')
REPOINT = (
    """
MATCH (old:RetiredConsumer)<-[r]-(x)
WHERE %(not_retired)s
MATCH (new:StagedConsumer {uuid: old.uuid})
USING INDEX SEEK new:StagedConsumer(uuid)
CREATE (x)-[moved:$(type(r))]->(new)
SET moved = properties(r)
DELETE r
""" % {'not_retired': _NOT_RETIRED},
    """
MATCH (old:RetiredInventory)<-[r]-(x)
WHERE %(not_retired)s
MATCH (new:StagedInventory {provider_uuid: old.provider_uuid,
                            resource_class: old.resource_class})
USING INDEX SEEK new:StagedInventory(provider_uuid, resource_class)
CREATE (x)-[moved:$(type(r))]->(new)
SET moved = properties(r)
DELETE r
""" % {'not_retired': _NOT_RETIRED},
    """
MATCH (old:RetiredResourceProvider)<-[r]-(x)
WHERE %(not_retired)s
MATCH (new:StagedResourceProvider {uuid: old.uuid})
USING INDEX SEEK new:StagedResourceProvider(uuid)
CREATE (x)-[moved:$(type(r))]->(new)
SET moved = properties(r)
DELETE r
""" % {'not_retired': _NOT_RETIRED},
)

# A staged instance on a node that stays live uses the live node's
# inventories, not its copy's: each of its uses of the copy is copied
# onto the live inventory ($uuids: of such nodes). Before the switch
# too, in chunks: no read sees these edges, since every read of the
# instances on an inventory matches them as ``:Consumer``.
COPY_USES_TO_KEPT = """
UNWIND $uuids AS u
MATCH (:StagedResourceProvider {uuid: u})-[:HAS_INVENTORY]->
      (si:StagedInventory)
MATCH (i:Inventory {provider_uuid: u, resource_class: si.resource_class})
USING INDEX SEEK i:Inventory(provider_uuid, resource_class)
MATCH (c:StagedConsumer)-[r:CONSUMES]->(si)
CREATE (c)-[copy:CONSUMES]->(i)
SET copy = properties(r)
RETURN count(copy) AS n
"""
# The copies onto a node that was to stay live and is replaced after
# all (a writer changed it since): the staged uses of its copy stand.
DROP_COPIED_USES = """
MATCH (:StagedConsumer)-[r:CONSUMES]->(:RetiredInventory)
DELETE r
"""

# The uuids of the retired nodes the model lacks: deleted.
GONE_NODES = """
MATCH (old:RetiredResourceProvider)
WHERE NOT EXISTS { MATCH (:StagedResourceProvider {uuid: old.uuid}) }
RETURN collect(old.uuid) AS uuids
"""

# The tombstones of the entities the model brings back.
REVIVE = """
MATCH (new:%(label)s)
MATCH (t:Tombstone {kind: $kind, uuid: new.uuid})
USING INDEX SEEK t:Tombstone(kind, uuid)
DELETE t
"""
REVIVE_NODES = REVIVE % {'label': 'StagedResourceProvider'}
REVIVE_INSTANCES = REVIVE % {'label': 'StagedConsumer'}

# The staged model, live, but for the copies of kept nodes.
UNSTAGE = (
    """
MATCH (n:StagedResourceProvider)-[:HAS_INVENTORY]->(i:StagedInventory)
WHERE NOT n.uuid IN $kept
REMOVE i:StagedInventory
SET i:Inventory
""",
    """
MATCH (n:StagedResourceProvider)
WHERE NOT n.uuid IN $kept
REMOVE n:StagedResourceProvider
SET n:ResourceProvider
""",
    """
MATCH (n:StagedConsumer)
REMOVE n:StagedConsumer
SET n:Consumer
""",
)

# A chunk of retired (or abandoned staged) entities deleted, with the
# keys of the vocabulary they used: the caller removes what nothing
# uses any more.
_PURGE_CONSUMERS = """
MATCH (c:%s)
WITH c LIMIT $limit
WITH c,
     [(c)-[:OWNED_BY]->(p:Project) | p.external_id] AS projects,
     [(c)-[:PINNED_TO]->(az:AvailabilityZone) | az.name] AS azs,
     [(c)-[:OF_TYPE]->(f:Flavor) | f.key] AS flavors
DETACH DELETE c
RETURN count(*) AS n, collect(projects) AS projects, collect(azs) AS azs,
       collect(flavors) AS flavors
"""
_PURGE_PROVIDERS = """
MATCH (rp:%s)
WITH rp LIMIT $limit
WITH rp,
     [(rp)-[:LOCATED_IN]->(az:AvailabilityZone) | az.name] AS azs,
     [(rp)-[:MEMBER_OF]->(a:Aggregate) | a.name] AS aggregates
DETACH DELETE rp
RETURN count(*) AS n, collect(azs) AS azs,
       collect(aggregates) AS aggregates
"""
_PURGE_OTHERS = """
MATCH (n:%s)
WITH n LIMIT $limit
DETACH DELETE n
RETURN count(*) AS n
"""
# The uses an inventory still has, a chunk of edges at a time: a node's
# instances are many (the staged copy of a node kept live keeps every
# staged instance's uses), so deleting inventories with their edges is
# not bounded by the chunk of inventories.
_PURGE_USES = """
MATCH (:%s)<-[u:CONSUMES]-()
WITH u LIMIT $limit
DELETE u
RETURN count(*) AS n
"""
#: What a purge deletes, in order (consumers before the inventories
#: they consume, the uses left of inventories before them, inventories
#: before their nodes).
PURGES = tuple(query % label for query, label in (
    (_PURGE_CONSUMERS, 'RetiredConsumer'),
    (_PURGE_USES, 'RetiredInventory'),
    (_PURGE_OTHERS, 'RetiredInventory'),
    (_PURGE_PROVIDERS, 'RetiredResourceProvider'),
    (_PURGE_CONSUMERS, 'StagedConsumer'),
    (_PURGE_USES, 'StagedInventory'),
    (_PURGE_OTHERS, 'StagedInventory'),
    (_PURGE_PROVIDERS, 'StagedResourceProvider'),
    (_PURGE_OTHERS, 'StagedTombstone'),
    (_PURGE_OTHERS, 'StagedPendingState'),
))

LEFTOVERS = """
RETURN COUNT { (:RetiredConsumer) } + COUNT { (:RetiredInventory) }
       + COUNT { (:RetiredResourceProvider) } + COUNT { (:StagedConsumer) }
       + COUNT { (:StagedInventory) } + COUNT { (:StagedResourceProvider) }
       + COUNT { (:StagedTombstone) } + COUNT { (:StagedPendingState) }
       AS n
"""


# ---------------------------------------------------------------------------
# Transactions
# ---------------------------------------------------------------------------

def _flat(lists):
    return {key for keys in lists for key in keys}


def _purge_chunk(tx, query, limit, holder):
    if holder is not None:
        leases.fence(tx, LEASE, holder)
    row = tx.run(query, limit=limit).single().data()
    upsert.cleanup_orphans(
        tx, **{kind: _flat(row.get(kind, ()))
               for kind in ('projects', 'azs', 'flavors', 'aggregates')})
    return row['n']


def _stage_nodes(tx, graph, rows, holder):
    leases.fence(tx, LEASE, holder)
    compute_nodes.write_node_rows(StagedTransaction(tx), graph, rows,
                                  bump=False)


def _stage_instances(tx, graph, rows, holder):
    leases.fence(tx, LEASE, holder)
    compute_instances.write_instance_rows(StagedTransaction(tx), graph, rows,
                                          bump=False)


def _single(tx, query, **params):
    return tx.run(query, **params).single()


def _keepable(tx, rows):
    return dict(_single(tx, KEEPABLE_INSTANCES, rows=rows)['kept'])


def _usage(tx):
    return dict(_single(tx, NODE_USAGE)['usage'])


class _Plan(object):
    """What the switch needs of the rows staged, and of those not."""

    def __init__(self, instance_rows):
        self.rows = {row['uuid']: row for row in instance_rows}
        #: {uuid: generation} of the live instances left unstaged.
        self.kept = {}
        #: The global generation before they were found.
        self.generation = None
        #: The nodes whose staged uses were copied onto the live node.
        self.copied = ()
        #: A merging import: what the model lacks stays.
        self.merge = False
        #: The uuids of the nodes staged.
        self.staged_nodes = ()
        #: The live nodes a merging import stages only because instances
        #: of the file are on them (not counted).
        self.extra = frozenset()


def _take_over(tx, counts, query, own, total, kept=()):
    taken = _single(tx, query, own=list(own), kept=list(kept))
    counts.created += total - taken['replaced'] - len(kept)
    counts.updated += taken['replaced'] - taken['unchanged']
    counts.unchanged += taken['unchanged'] + len(kept)


def _switch(tx, graph, holder, now, plan, lease_ttl):
    leases.fence(tx, LEASE, holder)
    counts = common.SyncCounts()
    counts.skipped += _single(tx, DROP_NODE_CLASHES)['n']
    counts.skipped += _single(tx, DROP_INSTANCE_CLASHES)['n']
    kept_nodes = _single(tx, KEPT_NODES)['uuids']
    # A kept instance a writer changed since it was found is written
    # again below, as the import has it: the import wins.
    stale = []
    if common.global_generation(tx) != plan.generation:
        stale = _single(tx, STALE_KEPT,
                        kept=[[u, g] for u, g in plan.kept.items()])['uuids']
    used_before = _usage(tx)
    gone = [] if plan.merge else [
        u for u in _single(tx, LIVE_INSTANCES)['uuids']
        if u not in plan.rows]
    staged = _single(tx, STAGED_COUNTS)
    updated = counts.updated
    _take_over(tx, counts, TAKE_OVER_NODES, _NODE_OWN, staged['nodes'],
               kept_nodes)
    _uncount_extra(counts, counts.updated - updated, plan.extra, kept_nodes)
    _take_over(tx, counts, TAKE_OVER_INSTANCES, _INSTANCE_OWN,
               staged['instances'])
    counts.unchanged += len(plan.kept) - len(stale)
    if plan.merge:
        tx.run(CONSUME_PENDING_STATES,
               kind=tombstones.KIND_INSTANCE).consume()
        for query in RETIRE_STAGED_NODES + RETIRE[2:]:
            tx.run(query, kept=kept_nodes).consume()
    else:
        for query in RETIRE:
            tx.run(query, kept=kept_nodes).consume()
        tx.run(RETIRE_GONE, uuids=gone).consume()
    # The retired instances' uses of kept nodes go with their purge (no
    # read matches them); the staged ones' reach the kept nodes.
    tx.run(DROP_COPIED_USES).consume()
    late = sorted(set(kept_nodes) - set(plan.copied))
    if late:
        tx.run(COPY_USES_TO_KEPT, uuids=late).consume()
    for query in REPOINT:
        tx.run(query).consume()
    gone_nodes = _single(tx, GONE_NODES)['uuids']
    for kind, uuids in ((tombstones.KIND_COMPUTE_NODE, gone_nodes),
                        (tombstones.KIND_INSTANCE, gone)):
        counts.deleted += len(uuids)
        tombstones.record_tombstones(tx, kind, uuids, now)
    tx.run(REVIVE_NODES, kind=tombstones.KIND_COMPUTE_NODE).consume()
    tx.run(REVIVE_INSTANCES, kind=tombstones.KIND_INSTANCE).consume()
    for query in UNSTAGE:
        tx.run(query, kept=kept_nodes).consume()
    if stale:
        tombstones.remove_tombstones(tx, tombstones.KIND_INSTANCE, stale)
        again = compute_instances.write_instance_rows(
            tx, graph, [plan.rows[u] for u in stale], bump=False)
        counts.add(again)
    # A kept node's generation moves when what its instances use of it
    # did (a replaced node's moved at the take-over).
    used_after = _usage(tx)
    kept = set(kept_nodes)
    if plan.merge:
        # So does a node the merge leaves live without staging it (an
        # instance of the file left it).
        kept.update(set(used_before) - set(plan.staged_nodes))
    upsert.bump_providers(tx, [u for u in kept
                               if used_before.get(u) != used_after.get(u)])
    if not plan.merge:
        # The instances a notification's state was kept for are not in
        # the model either.
        compute_instances.drop_pending_states(tx, _FOREVER)
    if counts.changed:
        common.bump_global_generation(tx)
    # The switch may outlast the lease: it keeps it, and commits.
    leases.extend_fenced(tx, LEASE, holder, lease_ttl)
    return counts


def _uncount_extra(counts, replaced, extra, kept_nodes):
    """Leave the extra nodes of a merge (:attr:`_Plan.extra`) uncounted.

    A one-transaction merge never writes them; staged, they are kept
    live (unchanged) or, when their copy differs after all, replaced by
    it (updated).
    """
    if not extra:
        return
    kept = len(extra & set(kept_nodes))
    counts.unchanged -= kept
    counts.updated -= min(len(extra) - kept, replaced)


def leftovers_in(tx):
    """How many retired or staged entities the graph holds, in ``tx``."""
    return _single(tx, LEFTOVERS)['n']


# ---------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------

class _Import(object):
    """One staged import: its lease, renewed after each transaction."""

    def __init__(self, graph, chunk, lease_ttl):
        self.graph = graph
        self.chunk = int(chunk)
        self.lease_ttl = float(lease_ttl)
        self.holder = 'import-%s' % uuidlib.uuid4()

    def __enter__(self):
        if not leases.acquire(self.graph, LEASE, self.holder,
                              self.lease_ttl):
            raise exception.InvalidState(
                kind='lease', ident=LEASE, state='held',
                reason='another staged import of the compute model is '
                       'running; try again when it has ended')
        return self

    def __exit__(self, exc_type, exc, traceback):
        # A lease not handed back runs out within its lifetime: that is
        # no reason to fail an import that committed, nor to hide why
        # one failed.
        try:
            leases.release(self.graph, LEASE, self.holder)
        except exception.TachyonException as failed:
            LOG.warning('Could not release the lease %(lease)s of %(holder)s '
                        '(the next replacing import can run when it runs '
                        'out, within %(ttl).0f s): %(err)s',
                        {'lease': LEASE, 'holder': self.holder,
                         'ttl': self.lease_ttl, 'err': failed})

    def renew(self):
        if not leases.renew(self.graph, LEASE, self.holder,
                            self.lease_ttl):
            raise exception.InvalidState(
                kind='lease', ident=LEASE, state='lost',
                reason='the import lost its lease (it ran out or was '
                       'taken over); what it staged or retired is left '
                       'for the next import to purge')

    def write(self, work, *args):
        answer = self.graph.write(work, *args)
        self.renew()
        return answer

    def switch(self, *args):
        """The switch: its memory is what the import changes.

        Its memory refusal is final (GraphOutOfMemory): a retry would
        need as much, and would find the lease run out meanwhile.
        """
        try:
            answer = self.graph.write_whole(_switch, *args)
        except exception.GraphOutOfMemory as exc:
            raise exception.GraphOutOfMemory(
                message='%s. The switch to the staged model was refused: '
                        'the live model is as it was, and what this import '
                        'staged is left for the next import to purge' % exc,
                **exc.kwargs) from exc
        self.renew()
        return answer

    def purge(self):
        purged = 0
        for query in PURGES:
            while True:
                n = self.write(_purge_chunk, query, self.chunk, self.holder)
                purged += n
                if n < self.chunk:
                    break
        return purged


def _placed_as_in_model(row, nodes, names):
    """Whether ``row`` names a node of the model, or plainly none.

    A row that names its node only by a name of the model's is resolved
    by that name when it is written: it is staged, never kept.
    """
    if row['node_uuid'] is not None:
        return row['node_uuid'] in nodes
    return row['node_name'] is None or row['node_name'] not in names


def _keep(run, plan, node_rows, instance_rows):
    """The instance rows to stage; ``plan`` learns of the others.

    An instance the import would leave as it is (:data:`KEEPABLE_INSTANCES`,
    on one of the model's nodes or on none) is not staged: it stays live
    through the switch, which then only relabels what the import changes.
    """
    plan.generation = run.graph.read(common.global_generation)
    nodes = {row['uuid'] for row in node_rows}
    names = {row['name'] for row in node_rows}
    staged = []
    for start in range(0, len(instance_rows), run.chunk):
        chunk = instance_rows[start:start + run.chunk]
        kept = run.graph.read(_keepable, [
            [row['uuid'], row['node_uuid'], row['props']['fingerprint']]
            for row in chunk if _placed_as_in_model(row, nodes, names)])
        plan.kept.update(kept)
        staged.extend(row for row in chunk if row['uuid'] not in kept)
        run.renew()
    return staged


def _copy_uses(run, staged, nodes):
    """Copy the staged uses of the nodes that stay live onto them.

    In transactions of about :attr:`_Import.chunk` edges, guessed from
    the ``staged`` instances spread over the ``nodes``; the switch
    copies those of any node found to stay only then.
    :returns: the uuids of the nodes done.
    """
    kept = run.graph.read(_single, KEPT_NODES)['uuids']
    per_node = _USES_PER_INSTANCE * staged // max(1, nodes) + 1
    per = max(1, run.chunk // per_node)
    for start in range(0, len(kept), per):
        run.write(_copy_chunk, kept[start:start + per], run.holder)
    return kept


def _copy_chunk(tx, uuids, holder):
    leases.fence(tx, LEASE, holder)
    return _single(tx, COPY_USES_TO_KEPT, uuids=uuids)['n']


def _quiet(message, *args):
    LOG.debug(message, *args)


def _nodes_under(tx, instance_rows, node_rows):
    """Rows of the live nodes ``instance_rows`` name and ``node_rows`` not.

    What a merging import stages besides the file's nodes, so that the
    staged instances find the node a one-transaction write would find
    them (by uuid, else by name: every live node of that name).
    """
    uuids = {row['uuid'] for row in node_rows}
    names = {row['name'] for row in node_rows}
    wanted = sorted({row['node_uuid'] for row in instance_rows
                     if row['node_uuid'] is not None
                     and row['node_uuid'] not in uuids})
    found = {n.uuid: n for n in compute_reads.nodes_by_uuid(tx, wanted)}
    by_name = sorted({
        row['node_name'] for row in instance_rows
        if row['node_name'] is not None and row['node_name'] not in names
        and row['node_uuid'] not in uuids and row['node_uuid'] not in found})
    for node in compute_reads.nodes_by_name(tx, by_name):
        found.setdefault(node.uuid, node)
    return [compute_rows.node_row(found[u]) for u in sorted(found)]


def import_rows(graph, node_rows, instance_rows, chunk=None,
                lease_ttl=None, report=None, merge=False):
    """Replace the compute model by these rows (:mod:`.rows`).

    Staged in transactions of ``chunk`` records, switched to in one
    short transaction, the old model purged in chunks (see the module's
    docstring). ``lease_ttl``: the seconds the import's lease lasts
    unrenewed (default :data:`LEASE_TTL`). Records apply
    unconditionally, as a single-transaction import's do; the compute
    nodes and instances not in the model are deleted. ``report``
    (``report(message, *args)``) is told of each phase as it ends.

    With ``merge`` the rows are merged into the model instead, as a
    one-transaction import (:func:`tachyon.graph.compute.bulk.
    import_in_one_transaction`) merges them: what the model lacks stays,
    and the pending states of the instances it does not create too. The
    live nodes the rows' instances are on and the rows do not name are
    staged with them (read back as they are: kept live, uncounted).

    :returns: :class:`~tachyon.graph.common.SyncCounts` of both kinds.
    :raises: InvalidState when another staged import is running.
    """
    report = report or _quiet
    with _Import(graph, chunk or CHUNK, lease_ttl or LEASE_TTL) as run:
        started = time.monotonic()
        leftover = run.purge()
        if leftover:
            LOG.info('Purged %d entities an interrupted import left',
                     leftover)
        plan = _Plan(instance_rows)
        if merge:
            plan.merge = True
            extra = graph.read(_nodes_under, instance_rows, node_rows)
            plan.extra = frozenset(row['uuid'] for row in extra)
            node_rows = list(node_rows) + extra
        plan.staged_nodes = frozenset(row['uuid'] for row in node_rows)
        staged = _keep(run, plan, node_rows, instance_rows)
        # Every node first: the instances' statements find their node
        # among the staged ones.
        for work, rows in ((_stage_nodes, node_rows),
                           (_stage_instances, staged)):
            for start in range(0, len(rows), run.chunk):
                run.write(work, graph, rows[start:start + run.chunk],
                          run.holder)
        plan.copied = _copy_uses(run, len(staged), len(node_rows))
        report('staged %d nodes and %d instances (%d left as they are) '
               'in %.2f s', len(node_rows), len(staged), len(plan.kept),
               time.monotonic() - started)
        started = time.monotonic()
        counts = run.switch(graph, run.holder, time.time(), plan,
                            run.lease_ttl)
        report('switched to the staged model in %.2f s',
               time.monotonic() - started)
        started = time.monotonic()
        try:
            purged = run.purge()
        except exception.TachyonException as exc:
            # The switch committed: the import is done, and what is left
            # of the old model is invisible until the next import purges
            # it (tachyon-manage model stats counts it).
            LOG.warning('Switched to the imported model; purging the old '
                        'one failed, the next replacing import purges what '
                        'is left: %s', exc)
            report('switched; the purge of the old model failed (left for '
                   'the next import): %s', exc)
        else:
            report('purged %d entities of the old model in %.2f s', purged,
                   time.monotonic() - started)
    return counts


def leftovers(graph):
    """How many retired or staged entities the graph holds (none: 0)."""
    return graph.read(leftovers_in)
