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

"""What an operator inspects: model statistics and single entities.

``tachyon-manage model stats`` and ``model show`` read through here. Each
call is one read transaction, so the numbers it answers are of one
snapshot of the graph. Nothing here writes.

* :func:`model_stats`: how many entities of each kind, sessions by
  status, tombstones by kind, the global generation, the last full
  sync of each collector and the reservations of pending action plans;
* :func:`show_node`, :func:`show_instance`, :func:`show_volume`: one
  entity found by uuid, or by name when exactly one entity of that kind
  has it, with what it is linked to.
"""

from tachyon import exception
from tachyon.graph import common
from tachyon.graph.compute import reads as compute_reads
from tachyon.graph.compute import staging
from tachyon.graph.compute import usage as compute_usage
from tachyon.graph import reservations
from tachyon.graph import sessions
from tachyon.graph import storage
from tachyon.graph import tombstones
from tachyon.model import records

# ---------------------------------------------------------------------------
# Cypher
# ---------------------------------------------------------------------------

COUNT_PROVIDERS = """
MATCH (rp:ResourceProvider)
RETURN rp.kind AS kind, count(*) AS total,
       sum(CASE WHEN rp.placeholder THEN 1 ELSE 0 END) AS placeholders
"""

# Consumers by type, and how many consume nothing (an instance on no
# node, a volume in no pool).
COUNT_CONSUMERS = """
MATCH (c:Consumer)
RETURN c.type AS type, count(*) AS total,
       sum(CASE WHEN EXISTS { (c)-[:CONSUMES]->(:Inventory) }
                THEN 0 ELSE 1 END) AS unplaced
"""

COUNT_SESSIONS = """
MATCH (s:SimulationSession)
RETURN s.status AS status, count(*) AS total
"""

COUNT_TOMBSTONES = """
MATCH (t:Tombstone)
RETURN t.kind AS kind, count(*) AS total
"""

# The newest run of each collector and its newest successful one.
LAST_SYNCS = """
MATCH (r:SyncRun)
WITH r ORDER BY r.started_at DESC
WITH r.collector AS collector, collect(r {.*}) AS runs
RETURN collector, runs[0] AS last,
       [x IN runs WHERE x.status = 'success'][0] AS last_success,
       size(runs) AS recorded
ORDER BY collector
"""

# Entities of a kind by name; one more than the caller shows, to tell
# "that many" from "more".
COMPUTE_NODES_NAMED = """
MATCH (rp:ResourceProvider {name: $name})
USING INDEX SEEK rp:ResourceProvider(name)
WHERE rp.kind = 'compute'
RETURN rp.uuid AS uuid
ORDER BY uuid
LIMIT $limit
"""

CONSUMERS_NAMED = """
MATCH (c:Consumer {type: $type})
WHERE c.name = $name
RETURN c.uuid AS uuid
ORDER BY uuid
LIMIT $limit
"""

#: The kinds ``model stats`` counts, in the order it prints them.
PROVIDER_KINDS = (('compute_nodes', records.KIND_COMPUTE),
                  ('storage_nodes', records.KIND_STORAGE),
                  ('pools', records.KIND_POOL),
                  ('ironic_nodes', records.KIND_BAREMETAL))
CONSUMER_TYPES = (('instances', records.TYPE_INSTANCE),
                  ('volumes', records.TYPE_VOLUME))
TOMBSTONE_KINDS = (tombstones.KIND_COMPUTE_NODE, tombstones.KIND_INSTANCE,
                   tombstones.KIND_STORAGE_NODE, tombstones.KIND_POOL,
                   tombstones.KIND_VOLUME, tombstones.KIND_IRONIC_NODE)

#: How many uuids an ambiguous name's error lists.
_SHOWN = 5


# ---------------------------------------------------------------------------
# Statistics
# ---------------------------------------------------------------------------

def _counts(tx):
    counts = {}
    providers = {r['kind']: r for r in tx.run(COUNT_PROVIDERS)}
    for name, kind in PROVIDER_KINDS:
        row = providers.get(kind)
        counts[name] = row['total'] if row else 0
    compute = providers.get(records.KIND_COMPUTE)
    counts['placeholder_compute_nodes'] = (
        compute['placeholders'] if compute else 0)
    consumers = {r['type']: r for r in tx.run(COUNT_CONSUMERS)}
    for name, kind in CONSUMER_TYPES:
        row = consumers.get(kind)
        counts[name] = row['total'] if row else 0
    instances = consumers.get(records.TYPE_INSTANCE)
    counts['unplaced_instances'] = instances['unplaced'] if instances else 0
    volumes = consumers.get(records.TYPE_VOLUME)
    counts['unplaced_volumes'] = volumes['unplaced'] if volumes else 0
    # What an interrupted replacing import staged or retired: invisible
    # to reads, purged by the next one.
    counts['import_leftovers'] = staging.leftovers_in(tx)
    return counts


def _by(tx, query, key, known):
    found = {r[key]: r['total'] for r in tx.run(query)}
    result = {name: found.pop(name, 0) for name in known}
    # A value this code does not know (written by a newer release) is
    # counted too, not hidden.
    result.update(sorted((str(k), v) for k, v in found.items()))
    return result


def _run(run):
    if run is None:
        return None
    run = dict(run)
    run['details'] = common.from_json(run.get('details'))
    return run


def _stats(tx):
    return {
        'generation': common.global_generation(tx),
        'counts': _counts(tx),
        'sessions': _by(tx, COUNT_SESSIONS, 'status', sessions.STATUSES),
        'tombstones': _by(tx, COUNT_TOMBSTONES, 'kind', TOMBSTONE_KINDS),
        'syncs': [{'collector': r['collector'], 'last': _run(r['last']),
                   'last_success': _run(r['last_success']),
                   'recorded': r['recorded']}
                  for r in tx.run(LAST_SYNCS)],
        'reservations': _reservations(tx),
    }


def _reservations(tx):
    found = reservations.counts(tx)
    live = found.get(reservations.ACTIVE) or {}
    return {'active': live.get('reservations', 0),
            'ended': (found.get(reservations.ENDED) or {}).get(
                'reservations', 0),
            'holding_moves': live.get('holding', 0),
            'conflicts': live.get('conflicts', 0)}


def model_stats(graph):
    """The model's statistics, read in one transaction.

    :returns: dict(generation=int,
        counts={'compute_nodes', 'placeholder_compute_nodes', 'storage_nodes',
        'pools', 'ironic_nodes', 'instances', 'unplaced_instances',
        'volumes', 'unplaced_volumes', 'import_leftovers': int},
        sessions={status: int}, tombstones={kind: int},
        syncs=[{'collector', 'last', 'last_success': SyncRun dict or None,
        'recorded': runs kept}] by collector, reservations={'active',
        'ended', 'holding_moves', 'conflicts': int}: the reservations of
        pending action plans, :mod:`tachyon.graph.reservations`). A
        SyncRun dict has the properties :mod:`tachyon.graph.syncs`
        records.
    """
    return graph.read(_stats)


# ---------------------------------------------------------------------------
# Single entities
# ---------------------------------------------------------------------------

def _unique(tx, query, kind, name, **params):
    """The uuid of the one entity ``query`` finds; raises otherwise."""
    uuids = [r['uuid'] for r in tx.run(query, name=name,
                                       limit=_SHOWN + 1, **params)]
    if not uuids:
        raise exception.NotFound(kind=kind, ident=name)
    if len(uuids) > 1:
        many = ('%d' % len(uuids) if len(uuids) <= _SHOWN
                else 'more than %d' % _SHOWN)
        raise exception.InvalidParameter(
            field='ID', reason='%s %ss are named %r (%s%s); give a uuid' % (
                many, kind, name, ', '.join(uuids[:_SHOWN]),
                ', ...' if len(uuids) > _SHOWN else ''))
    return uuids[0]


def _node(tx, uuid):
    nodes = compute_reads.nodes_from(
        tx.run(compute_reads.GET_NODE_BY_UUID, uuid=uuid))
    return nodes[0] if nodes else None


def node_usage(usage):
    """{'vcpu', 'memory', 'disk': {...}} of :func:`compute.node_usage`.

    Each: the inventory's ``total``, ``reserved`` and
    ``allocation_ratio``, its ``capacity`` ((total - reserved) * ratio),
    ``used`` (the instances' amounts) and ``free`` (capacity - used), as
    Watcher's ``get_node_used_resources`` and ``get_node_free_resources``
    count them. A class the node has no inventory of has no capacity.
    """
    result = {}
    for rc, key in records.WATCHER_RESOURCE_KEYS.items():
        if rc in usage:
            inv, used = usage[rc]
            capacity = records.capacity(inv['total'], inv['reserved'],
                                        inv['allocation_ratio'])
            result[key] = dict(inv, capacity=capacity, used=used,
                               free=compute_usage.free(inv, used))
        else:
            result[key] = {'total': None, 'reserved': None,
                           'allocation_ratio': None, 'capacity': 0.0,
                           'used': 0, 'free': 0.0}
    return result


def _show_node(tx, ident):
    node = _node(tx, ident)
    if node is None:
        node = _node(tx, _unique(tx, COMPUTE_NODES_NAMED, 'compute node',
                                 ident))
    return {'node': node,
            'usage': node_usage(compute_usage.node_usage(tx, node.uuid)),
            'instances': compute_reads.node_instances(tx, node.uuid)}


def show_node(graph, ident):
    """A compute node (by uuid, or its unique hostname), in one read.

    :returns: dict(node=ComputeNode, usage=:func:`node_usage`,
        instances=[Instance] on it, by uuid).
    :raises: NotFound; InvalidParameter when several nodes have the name.
    """
    return graph.read(_show_node, ident)


def _show_instance(tx, ident):
    try:
        inst = compute_reads.instance(tx, ident)
    except exception.NotFound:
        inst = compute_reads.instance(tx, _unique(
            tx, CONSUMERS_NAMED, 'instance', ident,
            type=records.TYPE_INSTANCE))
    node = _node(tx, inst.node_uuid) if inst.node_uuid else None
    return {'instance': inst, 'node': node}


def show_instance(graph, ident):
    """An instance (by uuid, or its unique name) and its node.

    :returns: dict(instance=Instance, node=ComputeNode or None when the
        instance is on no node).
    :raises: NotFound; InvalidParameter when several instances have the
        name.
    """
    return graph.read(_show_instance, ident)


def _show_volume(tx, ident):
    found = storage.volumes_by_uuid(tx, [ident])
    if not found:
        found = storage.volumes_by_uuid(tx, [_unique(
            tx, CONSUMERS_NAMED, 'volume', ident, type=records.TYPE_VOLUME)])
    volume = found[0]
    pools = (storage.pools_by_name(tx, [volume.pool_name])
             if volume.pool_name else [])
    return {'volume': volume, 'pool': pools[0] if pools else None}


def show_volume(graph, ident):
    """A volume (by uuid, or its unique name) and its pool.

    :returns: dict(volume=Volume, pool=Pool or None when in no pool).
    :raises: NotFound; InvalidParameter when several volumes have the name.
    """
    return graph.read(_show_volume, ident)
