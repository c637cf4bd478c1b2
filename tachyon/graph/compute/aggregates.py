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

"""Nova host aggregates from notifications: the nodes' aggregates and zone.

An ``aggregate.*.end`` notification carries the whole aggregate after the
change (:class:`tachyon.model.records.Aggregate`). The graph keeps, per
aggregate id, what the newest such notification said::

    (:AggregateState {id, name, hosts, availability_zone, updated_at,
                      tie_key})

and :func:`write_aggregates` applies one to the compute nodes it names and
to those the graph holds in the aggregate (a ``remove_host`` payload lists
the hosts that remain only). Each such node gets:

* its aggregates: those it had, this one taken out, and put back (with
  its new name) when the payload lists the node's host;
* its availability zone as Nova computes it (``nova.availability_zones``):
  the zones of its aggregates that have ``availability_zone`` metadata,
  sorted and joined with ``,``; none: the record's ``default_zone``
  (Nova's ``[DEFAULT]/default_availability_zone``). An aggregate whose
  zone no notification told yet (one a full sync wrote: the sync reads a
  node's zone, not its aggregates') is taken to hold the zones of the
  node's stored zone that no known aggregate explains.

Convergence, as :mod:`tachyon.graph.events` for every kind: per aggregate
the newest notification wins, at the same time the greater tie key; an
older one changes nothing. The node writes keep the node's
``updated_at`` (the register of syncs and ``service.update``) and date the
aggregates ``aggregates_at``, which a full sync older than that keeps
(:func:`tachyon.graph.compute.nodes.upsert_compute_nodes`). Runs inside
the caller's transaction (one per batch of notifications).

``aggregate.delete.end`` (an :class:`AggregateChange` with ``deleted``)
takes the aggregate out of every node the graph holds in it (their zones
recomputed as above), deletes its ``AggregateState`` and its
``Aggregate`` node once no provider is a member, and leaves a tombstone
(kind ``aggregate``, the id as text): a notification of the aggregate
at or before the deletion's time, arriving after it, changes nothing. At
the same time the deletion wins.
"""

import dataclasses

from tachyon.graph import common
from tachyon.graph.compute import nodes as compute_nodes
from tachyon.graph.compute import reads
from tachyon.graph import tombstones
from tachyon.graph import upsert

LABEL = 'AggregateState'
#: The tombstone kind of deleted aggregates (keyed by the id as text).
KIND_AGGREGATE = 'aggregate'

# What the graph holds of each aggregate id ($ids).
AGGREGATE_STATES = """
UNWIND $ids AS id
MATCH (s:AggregateState {id: id})
RETURN s.id AS id, s.updated_at AS updated_at, s.tie_key AS tie_key,
       s.availability_zone AS availability_zone
"""

# The hostnames of the compute nodes in each aggregate id ($ids).
AGGREGATE_MEMBERS = """
UNWIND $ids AS id
MATCH (rp:ResourceProvider)-[:MEMBER_OF]->(a:Aggregate)
WHERE a.id = id AND rp.kind = 'compute'
RETURN DISTINCT a.id AS id, rp.name AS name
"""

# Store what the winning notification of each aggregate said ($rows).
SAVE_AGGREGATE_STATES = """
UNWIND $rows AS row
MERGE (s:AggregateState {id: row.id})
SET s.name = row.name, s.hosts = row.hosts,
    s.availability_zone = row.availability_zone,
    s.updated_at = row.updated_at, s.tie_key = row.tie_key
"""

# Forget the deleted aggregates ($ids): their states, and their nodes
# that no provider is a member of any more.
DELETE_AGGREGATE_STATES = """
UNWIND $ids AS id
MATCH (s:AggregateState {id: id})
DELETE s
"""
DELETE_EMPTY_AGGREGATES = """
UNWIND $ids AS id
MATCH (a:Aggregate)
WHERE a.id = id AND NOT EXISTS { MATCH ()-[:MEMBER_OF]->(a) }
DELETE a
"""

# What the graph knows of aggregates (for inspection).
ALL_AGGREGATE_STATES = """
MATCH (s:AggregateState)
RETURN s.id AS id ORDER BY id
"""
ALL_AGGREGATE_NAMES = """
MATCH (a:Aggregate)
RETURN a.name AS name ORDER BY name
"""

# Date each node's aggregates ($rows: {uuid, at}); never backwards.
DATE_AGGREGATES = """
UNWIND $rows AS row
MATCH (rp:ResourceProvider {uuid: row.uuid})
USING INDEX SEEK rp:ResourceProvider(uuid)
WHERE rp.kind = 'compute'
  AND (rp.aggregates_at IS NULL OR rp.aggregates_at < row.at)
SET rp.aggregates_at = row.at
"""


@dataclasses.dataclass
class AggregateChange:
    """One aggregate notification: the record, its time and tie key."""

    record: object
    timestamp: float = None
    key: str = None
    #: aggregate.delete.end: the aggregate is gone.
    deleted: bool = False


def _wins(change, state, tomb=None):
    if change.timestamp is None:
        return True
    if tombstones.blocks(tomb, change.timestamp):
        # Deleted at or after this notification's time.
        return False
    if state is None:
        return True
    order = upsert.newer(state['updated_at'], change.timestamp)
    if order != 0:
        return order > 0
    if change.deleted:
        # At the same time a deletion wins.
        return True
    return (change.key is not None and state['tie_key'] is not None
            and change.key > state['tie_key'])


def _same_id(left, right):
    return str(left) == str(right)


def host_zone(zones, default):
    """Nova's availability zone of a host whose aggregates have ``zones``."""
    zones = sorted({z for z in zones if z})
    return ','.join(zones) if zones else default


def _node_after(node, applied, zones, old_zones):
    """``node`` with its aggregates and zone after the ``applied`` ones.

    :param applied: {id: Aggregate record} of the winning notifications.
    :param zones: {id: zone or None} of the aggregates the graph knows
        the metadata of (the applied ones included).
    :param old_zones: {id: zone or None} of the applied aggregates before.
    """
    names = {node.hostname, node.service_host} - {None}
    kept = [a for a in node.aggregates
            if not any(_same_id(a.get('id'), i) for i in applied)]
    joined = [{'id': agg.id, 'name': agg.name}
              for agg in applied.values() if names & set(agg.hosts)]
    aggregates = sorted(kept + joined, key=lambda a: str(a['name']))
    known, unknown = [], False
    for agg in aggregates:
        key = str(agg.get('id'))
        if key in zones:
            known.append(zones[key])
        else:
            unknown = True
    default = next(iter(applied.values())).default_zone
    if unknown:
        # Aggregates only a sync wrote: their zones are those of the
        # node's zone that the known aggregates (and the applied ones, as
        # they were) do not explain.
        explained = set(zones.values()) | set(old_zones.values())
        stored = set((node.availability_zone or '').split(','))
        known.extend(stored - explained - {'', default})
    return dataclasses.replace(node, aggregates=aggregates,
                               availability_zone=host_zone(known, default),
                               updated_at=None)


def write_aggregates(tx, graph, changes):
    """Apply aggregate notifications inside ``tx``.

    :param changes: :class:`AggregateChange` records, at most one per
        aggregate id (the caller picks the winner of a batch).
    :returns: :class:`~tachyon.graph.common.SyncCounts` of the node
        writes (a notification an older one lost to counts skipped).
    """
    counts = common.SyncCounts()
    ids = sorted({c.record.id for c in changes})
    states = {str(r['id']): r for r in tx.run(AGGREGATE_STATES, ids=ids)}
    tombs = tombstones.get_tombstones(tx, KIND_AGGREGATE,
                                      [str(i) for i in ids])
    changes = [dataclasses.replace(c, record=dataclasses.replace(
        c.record, hosts=[], availability_zone=None)) if c.deleted else c
        for c in changes]
    winners = []
    for change in changes:
        key = str(change.record.id)
        if _wins(change, states.get(key), tombs.get(key)):
            winners.append(change)
        else:
            counts.skipped += 1
    if not winners:
        return counts
    applied = {str(c.record.id): c.record for c in winners}
    old_zones = {i: s['availability_zone'] for i, s in states.items()
                 if i in applied}
    win_ids = [c.record.id for c in winners]
    # When each hostname's aggregates changed: the newest notification
    # that lists it, or that the graph holds it in.
    dated = {}

    def date(name, at):
        if at is not None and (dated.get(name) is None
                               or dated[name] < at):
            dated[name] = at
        else:
            dated.setdefault(name, None)

    times = {str(c.record.id): c.timestamp for c in winners}
    for r in tx.run(AGGREGATE_MEMBERS, ids=win_ids):
        date(r['name'], times.get(str(r['id'])))
    for change in winners:
        for host in change.record.hosts:
            date(host, change.timestamp)
    hosts = set(dated)
    nodes = reads.nodes_by_name(tx, sorted(hosts))
    # The zones of every aggregate these nodes are in, where known.
    other_ids = sorted({a.get('id') for n in nodes for a in n.aggregates
                        if a.get('id') is not None
                        and str(a.get('id')) not in applied},
                       key=str)
    zones = {}
    if other_ids:
        zones = {str(r['id']): r['availability_zone']
                 for r in tx.run(AGGREGATE_STATES, ids=other_ids)}
    zones.update({i: agg.availability_zone for i, agg in applied.items()})
    records = [_node_after(node, applied, zones, old_zones)
               for node in nodes]
    if records:
        counts.add(compute_nodes.write_nodes(tx, graph, records))
    rows = [{'uuid': r.uuid, 'at': dated[r.hostname]} for r in records
            if dated.get(r.hostname) is not None]
    for batch in upsert.batches(graph, rows):
        tx.run(DATE_AGGREGATES, rows=batch).consume()
    rows = [{'id': c.record.id, 'name': c.record.name,
             'hosts': list(c.record.hosts),
             'availability_zone': c.record.availability_zone,
             'updated_at': c.timestamp, 'tie_key': c.key} for c in winners
            if not c.deleted]
    if rows:
        tx.run(SAVE_AGGREGATE_STATES, rows=rows).consume()
    deleted = [c for c in winners if c.deleted]
    if deleted:
        gone = [c.record.id for c in deleted]
        tx.run(DELETE_AGGREGATE_STATES, ids=gone).consume()
        tx.run(DELETE_EMPTY_AGGREGATES, ids=gone).consume()
        for change in deleted:
            tombstones.record_tombstones(tx, KIND_AGGREGATE,
                                         [str(change.record.id)],
                                         change.timestamp)
    return counts


def _values(tx, query, key):
    return [r[key] for r in tx.run(query)]


def aggregate_state_ids(graph):
    """The ids of the aggregates notifications told of (sorted)."""
    return graph.read(_values, ALL_AGGREGATE_STATES, 'id')


def aggregate_names(graph):
    """The names of the ``Aggregate`` nodes of the graph (sorted)."""
    return graph.read(_values, ALL_AGGREGATE_NAMES, 'name')
