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

"""Watcher's baremetal model (IronicNode) in the graph.

Shape::

    (:ResourceProvider {uuid, kind: 'baremetal', name: human_id, human_id,
                        power_state, maintenance, maintenance_reason,
                        extra (JSON string), resource_class,
                        provision_state, generation, updated_at})
      -[:HAS_TRAIT]->(:Trait {name: 'COMPUTE_BAREMETAL'})
      -[:HAS_INVENTORY]->(:Inventory {resource_class: 'CUSTOM_*', total})
                           -[:OF_CLASS]->(:ResourceClass)

Staleness and tombstones follow :mod:`tachyon.graph.upsert`.
"""

from tachyon import exception
from tachyon.graph import common
from tachyon.graph import tombstones
from tachyon.graph import upsert
from tachyon.model import records

KIND = records.KIND_BAREMETAL
TRAIT_BAREMETAL = 'COMPUTE_BAREMETAL'

WRITE_NODES = upsert.fresh_merge(
    'rp', upsert.PROVIDER, KIND) + """\
SET rp.name = row.human_id, rp.human_id = row.human_id,
    rp.power_state = row.power_state, rp.maintenance = row.maintenance,
    rp.maintenance_reason = row.maintenance_reason, rp.extra = row.extra,
    rp.resource_class = row.resource_class,
    rp.provision_state = row.provision_state,
""" + upsert.fresh_tail('rp') + """\
MERGE (t:Trait {name: 'COMPUTE_BAREMETAL'})
MERGE (rp)-[:HAS_TRAIT]->(t)
WITH rp, row
CALL (rp, row) {
  OPTIONAL MATCH (rp)-[:HAS_INVENTORY]->(inv:Inventory)
  WHERE NOT inv.resource_class IN [i IN row.inventories | i[0]]
  DETACH DELETE inv
}
CALL (rp, row) {
  UNWIND row.inventories AS i
  MERGE (inv:Inventory {provider_uuid: row.uuid, resource_class: i[0]})
  SET inv.total = i[1], inv.reserved = i[2], inv.allocation_ratio = i[3],
      inv.min_unit = i[4], inv.max_unit = i[5], inv.step_size = i[6]
  MERGE (rp)-[:HAS_INVENTORY]->(inv)
  MERGE (rc:ResourceClass {name: i[0]})
  MERGE (inv)-[:OF_CLASS]->(rc)
}
RETURN rp.uuid AS uuid
"""

_NODE_RETURN = """
OPTIONAL MATCH (rp)-[:HAS_INVENTORY]->(inv:Inventory)
WITH rp, collect(inv {.*}) AS inventories
RETURN rp.uuid AS uuid, rp.human_id AS human_id,
       rp.power_state AS power_state, rp.maintenance AS maintenance,
       rp.maintenance_reason AS maintenance_reason, rp.extra AS extra,
       rp.resource_class AS resource_class,
       rp.provision_state AS provision_state, rp.generation AS generation,
       rp.updated_at AS updated_at, inventories
ORDER BY rp.uuid
"""

ALL_NODES = "MATCH (rp:ResourceProvider {kind: 'baremetal'})" + _NODE_RETURN
NODE_BY_UUID = """
MATCH (rp:ResourceProvider {uuid: $uuid})
WHERE rp.kind = 'baremetal'
""" + _NODE_RETURN


IRONIC_NODE = upsert.Entity(kind=KIND,
                            tombstone_kind=tombstones.KIND_IRONIC_NODE,
                            write=WRITE_NODES)


def ironic_node_row(node):
    """The row a write sends of an IronicNode record."""
    inventories = []
    for rc, inv in sorted((node.inventories or {}).items()):
        inventories.append([rc, int(inv.total or 0), int(inv.reserved or 0),
                            float(inv.allocation_ratio or 1.0),
                            int(inv.min_unit or 1), inv.max_unit,
                            int(inv.step_size or 1)])
    row = {'uuid': node.uuid, 'human_id': node.human_id or '',
           'power_state': node.power_state,
           'maintenance': bool(node.maintenance),
           'maintenance_reason': node.maintenance_reason,
           'extra': common.to_json(node.extra or {}),
           'resource_class': node.resource_class,
           'provision_state': node.provision_state,
           'inventories': inventories}
    return upsert.stamp(row, node.updated_at)


def write_ironic_nodes(tx, graph, nodes):
    """Upsert IronicNode records inside ``tx``; :returns: SyncCounts."""
    return upsert.upsert(tx, graph, IRONIC_NODE,
                         [ironic_node_row(n) for n in nodes])


def upsert_ironic_nodes(graph, nodes):
    """Create or update Ironic nodes (records.IronicNode) in bulk."""
    return upsert.upsert_records(graph, ironic_node_row, nodes,
                                 upsert.upsert, IRONIC_NODE)


def remove_ironic_nodes(tx, uuids, deleted_at=None):
    """Delete Ironic nodes inside ``tx``; they leave tombstones."""
    return upsert.delete(tx, IRONIC_NODE, uuids, deleted_at)


def delete_ironic_nodes(graph, uuids, deleted_at=None):
    """Delete Ironic nodes and their inventories; they leave tombstones."""
    return upsert.delete_records(graph, IRONIC_NODE, uuids, deleted_at)


def prune_ironic_nodes(graph, keep_uuids, before):
    """Delete the Ironic nodes a full sync no longer finds."""
    return graph.write(upsert.prune, IRONIC_NODE, keep_uuids, before)


def ironic_node_record(row):
    inventories = {}
    for inv in row['inventories']:
        inventories[inv['resource_class']] = records.Inventory(
            resource_class=inv['resource_class'], total=inv['total'],
            reserved=inv['reserved'],
            allocation_ratio=inv['allocation_ratio'],
            min_unit=inv['min_unit'], max_unit=inv.get('max_unit'),
            step_size=inv['step_size'])
    return records.IronicNode(
        uuid=row['uuid'], human_id=row['human_id'] or '',
        power_state=row['power_state'], maintenance=row['maintenance'],
        maintenance_reason=row['maintenance_reason'],
        extra=common.from_json(row['extra']),
        resource_class=row['resource_class'],
        provision_state=row['provision_state'], inventories=inventories,
        generation=row['generation'], updated_at=row['updated_at'])


def get_all_ironic_nodes(graph):
    """{uuid: IronicNode}."""
    return {n.uuid: n for n in graph.read(common.read_all, ALL_NODES,
                                          ironic_node_record)}


def get_node_by_uuid(graph, uuid):
    found = graph.read(common.read_all, NODE_BY_UUID, ironic_node_record,
                       uuid=uuid)
    if not found:
        raise exception.NotFound(kind='ironic node', ident=uuid)
    return found[0]


def _model(tx):
    return {'nodes': common.read_all(tx, ALL_NODES, ironic_node_record),
            'generation': common.global_generation(tx)}


def get_baremetal_model(graph):
    """Every Ironic node and the global generation, in one transaction."""
    return graph.read(_model)
