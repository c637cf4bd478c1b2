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

"""Reads of compute nodes and instances, and the whole compute model.

Reads return lists of the properties records need, not maps
(:mod:`tachyon.graph.compute.rows` turns them into records). Lists of
nodes and instances come sorted by uuid (the order of Watcher's
``to_xml``). Single-entity reads anchor on an index.

The functions taking ``tx`` are the building blocks other graph modules
compose into their own transactions; the ``get_*`` functions run their
own.
"""

from tachyon import exception
from tachyon.graph import common
from tachyon.graph.compute import rows as compute_rows
from tachyon.graph import reservations


def _projection(var, props):
    return '[%s]' % ', '.join('%s.%s' % (var, p) for p in props)


#: Cypher: the NODE_PROPS / INSTANCE_PROPS list of ``rp`` / ``c``.
NODE_VALUES = _projection('rp', compute_rows.NODE_PROPS)
INSTANCE_VALUES = _projection('c', compute_rows.INSTANCE_PROPS)

#: Cypher: what :func:`nodes_from` reads of each ``rp``.
NODE_PROJECTION = """
RETURN CASE WHEN rp IS NULL THEN NULL ELSE %s END AS rp,
       [(rp)-[:HAS_INVENTORY]->(inv:Inventory) | %s] AS inventories,
       [(rp)-[:MEMBER_OF]->(a:Aggregate) | [a.name, a.id]] AS aggregates
""" % (NODE_VALUES, _projection('inv', compute_rows.INVENTORY_PROPS))

GET_NODE_BY_UUID = """
MATCH (rp:ResourceProvider {uuid: $uuid})
USING INDEX SEEK rp:ResourceProvider(uuid)
WHERE rp.kind = 'compute'
""" + NODE_PROJECTION

GET_NODES_BY_NAME = """
MATCH (rp:ResourceProvider {name: $name})
USING INDEX SEEK rp:ResourceProvider(name)
WHERE rp.kind = 'compute'
WITH rp ORDER BY rp.uuid LIMIT 1
""" + NODE_PROJECTION

# The compute nodes whose indexed property (a name of this module's, never
# input) is one of $keys, by uuid.
_NODES_OF = """
UNWIND $keys AS key
MATCH (rp:ResourceProvider {%(prop)s: key})
USING INDEX SEEK rp:ResourceProvider(%(prop)s)
WHERE rp.kind = 'compute'
WITH rp ORDER BY rp.uuid
""" + NODE_PROJECTION.replace('%', '%%')
# Every node of each of several names.
GET_NODES_OF_NAMES = _NODES_OF % {'prop': 'name'}
GET_NODES_OF_UUIDS = _NODES_OF % {'prop': 'uuid'}

GET_ALL_NODES = """
MATCH (rp:ResourceProvider {kind: 'compute'})
WITH rp ORDER BY rp.uuid
""" + NODE_PROJECTION

GET_NODES = """
UNWIND $uuids AS uuid
MATCH (rp:ResourceProvider {uuid: uuid})
USING INDEX SEEK rp:ResourceProvider(uuid)
WHERE rp.kind = 'compute'
WITH rp ORDER BY rp.uuid
""" + NODE_PROJECTION

GET_NODE_OF_INSTANCE = """
MATCH (c:Consumer {uuid: $uuid})
USING INDEX SEEK c:Consumer(uuid)
WHERE c.type = 'instance'
OPTIONAL MATCH (c)-[:CONSUMES {resource_class: 'VCPU'}]->(:Inventory)
      <-[:HAS_INVENTORY]-(rp:ResourceProvider)
WITH c, rp
""" + NODE_PROJECTION

GET_INSTANCE = """
MATCH (c:Consumer {uuid: $uuid})
USING INDEX SEEK c:Consumer(uuid)
WHERE c.type = 'instance'
OPTIONAL MATCH (c)-[:CONSUMES {resource_class: 'VCPU'}]->(:Inventory)
      <-[:HAS_INVENTORY]-(rp:ResourceProvider)
RETURN %s AS c, rp.uuid AS node_uuid, rp.name AS node_name
""" % INSTANCE_VALUES

GET_INSTANCES = """
UNWIND $uuids AS uuid
MATCH (c:Consumer {uuid: uuid})
USING INDEX SEEK c:Consumer(uuid)
WHERE c.type = 'instance'
OPTIONAL MATCH (c)-[:CONSUMES {resource_class: 'VCPU'}]->(:Inventory)
      <-[:HAS_INVENTORY]-(rp:ResourceProvider)
RETURN %s AS c, rp.uuid AS node_uuid, rp.name AS node_name
""" % INSTANCE_VALUES

# Bulk instance reads answer one record per node, its instances
# collected (unmapped instances: one record with a null node): the
# driver's cost is per record, and 20,000 records cost four times what
# 1,000 records of 20 each do. Callers sort by uuid.
GET_ALL_INSTANCES = """
MATCH (c:Consumer {type: 'instance'})
OPTIONAL MATCH (c)-[:CONSUMES {resource_class: 'VCPU'}]->(:Inventory)
      <-[:HAS_INVENTORY]-(rp:ResourceProvider)
RETURN rp.uuid AS node_uuid, rp.name AS node_name, collect(%s) AS cs
""" % INSTANCE_VALUES

GET_INSTANCES_OF_NODES = """
UNWIND $uuids AS uuid
MATCH (inv:Inventory {provider_uuid: uuid, resource_class: 'VCPU'})
      <-[:CONSUMES]-(c:Consumer)
USING INDEX SEEK inv:Inventory(provider_uuid, resource_class)
RETURN uuid AS node_uuid, collect(%s) AS cs
""" % INSTANCE_VALUES

GET_NODE_INSTANCES = """
MATCH (rp:ResourceProvider {uuid: $uuid})
USING INDEX SEEK rp:ResourceProvider(uuid)
WHERE rp.kind = 'compute'
OPTIONAL MATCH (rp)-[:HAS_INVENTORY]->(:Inventory {resource_class: 'VCPU'})
      <-[:CONSUMES]-(c:Consumer)
WITH rp, c ORDER BY c.uuid
RETURN rp.name AS node_name,
       collect(CASE WHEN c IS NULL THEN NULL ELSE %s END) AS instances
""" % INSTANCE_VALUES

GET_INSTANCES_BY_NODE = """
MATCH (rp:ResourceProvider {kind: 'compute'})
OPTIONAL MATCH (rp)-[:HAS_INVENTORY]->(:Inventory {resource_class: 'VCPU'})
      <-[:CONSUMES]-(c:Consumer)
WITH rp, c ORDER BY c.uuid
RETURN rp.uuid AS uuid, collect(c.uuid) AS instances
ORDER BY uuid
"""


# ---------------------------------------------------------------------------
# Compute nodes
# ---------------------------------------------------------------------------

def nodes_from(result):
    """The ComputeNode records of a NODE_PROJECTION result."""
    return [compute_rows.node_record(r['rp'], r['inventories'],
                                     r['aggregates'])
            for r in result if r['rp'] is not None]


def nodes_by_name(tx, names):
    """Every compute node named in ``names``, by uuid, inside ``tx``."""
    return nodes_from(tx.run(GET_NODES_OF_NAMES, keys=list(names)))


def nodes_by_uuid(tx, uuids):
    """The compute nodes of these uuids that the graph has, inside ``tx``."""
    return nodes_from(tx.run(GET_NODES_OF_UUIDS, keys=list(uuids)))


def _all_nodes(tx):
    return {n.uuid: n for n in nodes_from(tx.run(GET_ALL_NODES))}


def get_all_compute_nodes(graph):
    """{uuid: ComputeNode}, sorted by uuid."""
    return graph.read_one(_all_nodes)


def _one_node(tx, query, kind, ident, **params):
    nodes = nodes_from(tx.run(query, **params))
    if not nodes:
        raise exception.NotFound(kind=kind, ident=ident)
    return nodes[0]


def get_node_by_uuid(graph, uuid):
    return graph.read_one(_one_node, GET_NODE_BY_UUID, 'compute node',
                          uuid, uuid=uuid)


def get_node_by_name(graph, name):
    """The compute node of that hostname (the lowest uuid if several)."""
    return graph.read_one(_one_node, GET_NODES_BY_NAME, 'compute node',
                          name, name=name)


def _node_of_instance(tx, uuid):
    result = tx.run(GET_NODE_OF_INSTANCE, uuid=uuid).single()
    if result is None:
        raise exception.NotFound(kind='instance', ident=uuid)
    if result['rp'] is None:
        raise exception.NotFound(kind='compute node of instance',
                                 ident=uuid)
    return compute_rows.node_record(result['rp'], result['inventories'],
                                    result['aggregates'])


def get_node_by_instance_uuid(graph, instance_uuid):
    """The node an instance runs on; NotFound if unknown or unmapped."""
    return graph.read_one(_node_of_instance, instance_uuid)


# ---------------------------------------------------------------------------
# Instances
# ---------------------------------------------------------------------------

def instance(tx, uuid):
    """The Instance of that uuid inside ``tx``; NotFound if unknown."""
    result = tx.run(GET_INSTANCE, uuid=uuid).single()
    if result is None:
        raise exception.NotFound(kind='instance', ident=uuid)
    return compute_rows.instance_record(result['c'], result['node_uuid'],
                                        result['node_name'])


def instances_by_uuid(tx, uuids):
    """{uuid: Instance} of the known instances among ``uuids``."""
    return {r['c'][0]: compute_rows.instance_record(r['c'], r['node_uuid'],
                                                    r['node_name'])
            for r in tx.run(GET_INSTANCES, uuids=list(uuids))}


def get_instance_by_uuid(graph, uuid):
    return graph.read_one(instance, uuid)


def instance_rows(result, names=None):
    """[(values, node uuid, node name)] of GET_*_INSTANCES, by uuid.

    ``names`` ({node uuid: name}) names the nodes when the result does
    not.
    """
    rows = []
    for record in result:
        node_uuid = record['node_uuid']
        node_name = (names.get(node_uuid) if names is not None
                     else record['node_name'])
        rows.extend((c, node_uuid, node_name) for c in record['cs'])
    rows.sort(key=lambda row: row[0][0])
    return rows


def _all_instances(tx):
    rows = instance_rows(tx.run(GET_ALL_INSTANCES))
    return {c[0]: compute_rows.instance_record(c, node_uuid, node_name,
                                               None, decoded)
            for (c, node_uuid, node_name), decoded in zip(
                rows, compute_rows.decode_all(rows))}


def get_all_instances(graph):
    """{uuid: Instance}, sorted by uuid."""
    return graph.read_one(_all_instances)


def node_instances(tx, node_uuid):
    """The instances on a node, by uuid, inside ``tx``; NotFound if none."""
    result = tx.run(GET_NODE_INSTANCES, uuid=node_uuid).single()
    if result is None:
        raise exception.NotFound(kind='compute node', ident=node_uuid)
    return [compute_rows.instance_record(c, node_uuid, result['node_name'])
            for c in result['instances']]


def get_node_instances(graph, node_uuid):
    """The instances on a node, sorted by uuid."""
    return graph.read_one(node_instances, node_uuid)


def _instances_by_node(tx):
    return {r['uuid']: list(r['instances'])
            for r in tx.run(GET_INSTANCES_BY_NODE)}


def get_instances_by_node(graph):
    """{node_uuid: [instance uuids, sorted]} of every node, one query."""
    return graph.read_one(_instances_by_node)


# ---------------------------------------------------------------------------
# The whole model
# ---------------------------------------------------------------------------

def _model(tx, node_uuids):
    if node_uuids is None:
        node_rows = list(tx.run(GET_ALL_NODES))
    else:
        node_rows = list(tx.run(GET_NODES, uuids=sorted(set(node_uuids))))
    nodes = nodes_from(node_rows)
    unset_index = compute_rows.NODE_PROPS.index('watcher_unset')
    unset_nodes = {r['rp'][0]: list(r['rp'][unset_index])
                   for r in node_rows if r['rp'][unset_index]}
    if node_uuids is None:
        rows = instance_rows(tx.run(GET_ALL_INSTANCES))
    else:
        names = {n.uuid: n.hostname for n in nodes}
        rows = instance_rows(tx.run(GET_INSTANCES_OF_NODES,
                                    uuids=sorted(names)), names)
    instances, mapping, unset = [], {}, {}
    for (c, node_uuid, node_name), decoded in zip(
            rows, compute_rows.decode_all(rows)):
        fields = {}
        instances.append(compute_rows.instance_record(
            c, node_uuid, node_name, fields, decoded))
        if node_uuid is not None:
            mapping[c[0]] = node_uuid
        if fields.get('watcher_unset'):
            unset[c[0]] = list(fields['watcher_unset'])
    return {
        'nodes': nodes,
        'instances': instances,
        'mapping': mapping,
        'generation': common.global_generation(tx),
        'watcher_unset': unset,
        'watcher_unset_nodes': unset_nodes,
        # What pending action plans hold, in the same snapshot.
        'held': reservations.all_held(tx),
    }


def get_compute_model(graph, node_uuids=None):
    """The whole compute model (or that of some nodes), consistently.

    :returns: dict(nodes=[ComputeNode], instances=[Instance],
        mapping={instance_uuid: node_uuid}, generation=global generation,
        watcher_unset={instance_uuid: [Watcher fields left unset]},
        watcher_unset_nodes={node_uuid: [...]}, held={node_uuid: {rc:
        amount}} of the pending action plans' reservations) read in one
        transaction.
        With ``node_uuids``, only those nodes and the instances on them.
        The ``watcher_unset`` lists let an export leave out again the
        attributes a record did not give.
    """
    return graph.read(_model, node_uuids)
