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

"""Capacity and usage of compute nodes, as Watcher's ``ModelRoot`` has them.

Used resources are the sums of the amounts of the instances mapped to a
node, keyed ``vcpu``, ``memory``, ``disk``; capacity is
:func:`tachyon.model.records.capacity` of each inventory; free is capacity
minus used. What pending action plans hold on a node
(:mod:`tachyon.graph.reservations`) counts as used too. The queries
return the inventories' numbers and the used amounts; the arithmetic is
done here, in Python.
"""

from tachyon import exception
from tachyon.graph.compute import rows as compute_rows
from tachyon.graph import reservations
from tachyon.model import records


def usage_of(rp, inv='inv'):
    """Cypher: the usage list of the provider ``rp``.

    [[resource_class, total, reserved, allocation_ratio, used]], ``inv``
    naming its inventories inside; :func:`usage_from_rows` reads it.
    """
    return ("[(%(rp)s)-[:HAS_INVENTORY]->(%(inv)s:Inventory)\n"
            " WHERE %(inv)s.resource_class IN ['VCPU', 'MEMORY_MB', "
            "'DISK_GB'] |\n"
            " [%(inv)s.resource_class, %(inv)s.total, %(inv)s.reserved,\n"
            "  %(inv)s.allocation_ratio,\n"
            "  reduce(used = 0, r IN [(%(inv)s)<-[r:CONSUMES]-(:Consumer) "
            "| r.used] |\n"
            "         used + r) + %(held)s]]") % {
                'rp': rp, 'inv': inv, 'held': reservations.held_on(inv)}


GET_NODE_USAGE = """
MATCH (rp:ResourceProvider {uuid: $uuid})
USING INDEX SEEK rp:ResourceProvider(uuid)
WHERE rp.kind = 'compute'
RETURN %s AS usage
""" % usage_of('rp')

GET_ALL_USAGE = """
MATCH (rp:ResourceProvider {kind: 'compute'})
OPTIONAL MATCH (rp)-[:HAS_INVENTORY]->(inv:Inventory)
WHERE inv.resource_class IN ['VCPU', 'MEMORY_MB', 'DISK_GB']
CALL (inv) {
  OPTIONAL MATCH (inv)<-[r:CONSUMES]-(:Consumer)
  RETURN sum(r.used) AS used
}
RETURN rp.uuid AS uuid,
       collect([inv.resource_class, used + %s]) AS usage
""" % reservations.held_on('inv')

# Capacity of every node: [[resource_class, total, reserved, ratio]].
GET_ALL_CAPACITY = """
MATCH (rp:ResourceProvider {kind: 'compute'})
OPTIONAL MATCH (rp)-[:HAS_INVENTORY]->(inv:Inventory)
WHERE inv.resource_class IN ['VCPU', 'MEMORY_MB', 'DISK_GB']
RETURN rp.uuid AS uuid,
       collect([inv.resource_class, inv.total, inv.reserved,
                inv.allocation_ratio]) AS inventories
"""

# The inventory of one resource class of every node, and its use.
GET_CLASS_USAGE = """
MATCH (rp:ResourceProvider {kind: 'compute'})
      -[:HAS_INVENTORY]->(inv:Inventory {resource_class: $resource_class})
CALL (inv) {
  OPTIONAL MATCH (inv)<-[r:CONSUMES]-(:Consumer)
  RETURN sum(r.used) AS used
}
RETURN rp.uuid AS uuid, inv.total AS total, inv.reserved AS reserved,
       inv.allocation_ratio AS allocation_ratio, used + %s AS used
""" % reservations.held_on('inv')


def free(inv, used):
    """Capacity minus ``used`` of an inventory dict (see usage_from_rows)."""
    return records.capacity(inv['total'], inv['reserved'],
                            inv['allocation_ratio']) - used


def usage_from_rows(rows):
    """[[rc, total, reserved, ratio, used]] -> {rc: (inventory, used)}."""
    return {rc: ({'total': total, 'reserved': reserved,
                  'allocation_ratio': ratio}, used or 0)
            for rc, total, reserved, ratio, used in rows}


def node_usage(tx, node_uuid):
    """{rc: (inventory dict, used)} of a node inside ``tx``."""
    result = tx.run(GET_NODE_USAGE, uuid=node_uuid).single()
    if result is None:
        raise exception.NotFound(kind='compute node', ident=node_uuid)
    return usage_from_rows(result['usage'])


def get_node_used_resources(graph, node_uuid):
    """Watcher's used resources: {'vcpu', 'memory', 'disk'}."""
    usage = graph.read_one(node_usage, node_uuid)
    return {records.WATCHER_RESOURCE_KEYS[rc]:
            usage[rc][1] if rc in usage else 0
            for rc in compute_rows.RESOURCE_CLASSES}


def get_node_free_resources(graph, node_uuid):
    """Watcher's free resources: capacity minus used, same keys."""
    usage = graph.read_one(node_usage, node_uuid)
    result = {}
    for rc in compute_rows.RESOURCE_CLASSES:
        key = records.WATCHER_RESOURCE_KEYS[rc]
        if rc in usage:
            inv, used = usage[rc]
            result[key] = free(inv, used)
        else:
            result[key] = 0.0
    return result


def all_usage(tx):
    """{node_uuid: {'vcpu', 'memory', 'disk'}} used, inside ``tx``."""
    result = {}
    for row in tx.run(GET_ALL_USAGE):
        used = dict.fromkeys(records.WATCHER_RESOURCE_KEYS.values(), 0)
        for rc, amount in row['usage']:
            if rc in records.WATCHER_RESOURCE_KEYS:
                used[records.WATCHER_RESOURCE_KEYS[rc]] = amount or 0
        result[row['uuid']] = used
    return result


def all_capacity(tx):
    """{node_uuid: {'vcpu', 'memory', 'disk'}} capacities, inside ``tx``."""
    result = {}
    for row in tx.run(GET_ALL_CAPACITY):
        caps = dict.fromkeys(records.WATCHER_RESOURCE_KEYS.values(), 0.0)
        for rc, total, reserved, ratio in row['inventories']:
            if rc in records.WATCHER_RESOURCE_KEYS:
                caps[records.WATCHER_RESOURCE_KEYS[rc]] = records.capacity(
                    total, reserved, ratio)
        result[row['uuid']] = caps
    return result


def get_all_nodes_usage(graph):
    """{node_uuid: {'vcpu', 'memory', 'disk'}} of every node, one query."""
    return graph.read_one(all_usage)


def _find(tx, resource_class, min_available):
    found = []
    for row in tx.run(GET_CLASS_USAGE, resource_class=resource_class):
        if None in (row['total'], row['reserved'], row['allocation_ratio']):
            continue
        available = free(row, row['used'])
        if available >= min_available:
            found.append((row['uuid'], available))
    found.sort(key=lambda item: (-item[1], item[0]))
    return found


def find_nodes_with_capacity(graph, resource_class, min_available):
    """Nodes with room: [(node_uuid, available)], most available first.

    ``available`` is capacity minus used of ``resource_class``; only
    nodes with at least ``min_available`` are listed; equal ones by uuid.
    """
    return graph.read_one(_find, resource_class, min_available)
