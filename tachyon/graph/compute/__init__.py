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

"""Watcher's compute model (ComputeNode, Instance) in the graph.

Shape::

    (:ResourceProvider {uuid, name: hostname, kind: 'compute', status,
                        state, disabled_reason, availability_zone,
                        service_host, placeholder, traits, generation,
                        updated_at, fingerprint, watcher_unset})
      -[:HAS_TRAIT]->(:Trait {name: 'COMPUTE_HYPERVISOR'})
      -[:HAS_TRAIT]->(:Trait {name: 'COMPUTE_STATUS_<STATE>'})
      -[:HAS_INVENTORY]->(:Inventory {provider_uuid, resource_class, total,
                                      reserved, allocation_ratio, min_unit,
                                      max_unit, step_size})
                           -[:OF_CLASS]->(:ResourceClass {name})
      -[:LOCATED_IN]->(:AvailabilityZone {name})
      -[:MEMBER_OF]->(:Aggregate {name, id})
    (:Consumer {uuid, type: 'instance', name, state, locked, ...,
                vcpus, memory, disk, generation, updated_at,
                fingerprint, watcher_unset, record, move_request_id,
                move_outcome})
      -[:CONSUMES {used, resource_class}]->(:Inventory)  one per class,
                                          onto the node it runs on
      -[:OWNED_BY]->(:Project {external_id})
      -[:PINNED_TO]->(:AvailabilityZone {name})
      -[:OF_TYPE]->(:Flavor {key, name})-[:HAS_EXTRA_SPEC]->(:ExtraSpec)

The package, by role:

* :mod:`~tachyon.graph.compute.rows`: records <-> rows (no Neo4j);
* :mod:`~tachyon.graph.compute.nodes` and
  :mod:`~tachyon.graph.compute.instances`: writes, through the shared
  engine :mod:`tachyon.graph.upsert`;
* :mod:`~tachyon.graph.compute.bulk`: a whole model written at once;
* :mod:`~tachyon.graph.compute.moves`: map, unmap, migrate (a
  migration's request id and answer, RPC API 1.10, are kept on the
  instance as ``move_request_id`` and ``move_outcome``);
* :mod:`~tachyon.graph.compute.reads`: nodes, instances, the whole model;
* :mod:`~tachyon.graph.compute.usage`: capacity and usage.

Writes are bulk (``UNWIND`` batches, all batches of one call in one
transaction). Functions taking ``tx`` run inside the caller's
transaction; the others run their own. This module gathers what the rest
of Tachyon calls.
"""

from tachyon.graph.compute.bulk import import_compute_model
from tachyon.graph.compute.bulk import import_is_staged
from tachyon.graph.compute.instances import delete_instances
from tachyon.graph.compute.instances import prune_instances
from tachyon.graph.compute.instances import remove_instances
from tachyon.graph.compute.instances import upsert_instances
from tachyon.graph.compute.instances import write_instances
from tachyon.graph.compute.moves import map_instance
from tachyon.graph.compute.moves import migrate_instance
from tachyon.graph.compute.moves import unmap_instance
from tachyon.graph.compute.nodes import delete_compute_nodes
from tachyon.graph.compute.nodes import prune_compute_nodes
from tachyon.graph.compute.nodes import remove_nodes
from tachyon.graph.compute.nodes import upsert_compute_nodes
from tachyon.graph.compute.nodes import write_nodes
from tachyon.graph.compute.reads import get_all_compute_nodes
from tachyon.graph.compute.reads import get_all_instances
from tachyon.graph.compute.reads import get_compute_model
from tachyon.graph.compute.reads import get_instance_by_uuid
from tachyon.graph.compute.reads import get_instances_by_node
from tachyon.graph.compute.reads import get_node_by_instance_uuid
from tachyon.graph.compute.reads import get_node_by_name
from tachyon.graph.compute.reads import get_node_by_uuid
from tachyon.graph.compute.reads import get_node_instances
from tachyon.graph.compute.reads import instance
from tachyon.graph.compute.reads import instances_by_uuid
from tachyon.graph.compute.reads import node_instances
from tachyon.graph.compute.reads import nodes_by_name
from tachyon.graph.compute.rows import KIND
from tachyon.graph.compute.rows import TYPE
from tachyon.graph.compute.usage import all_capacity
from tachyon.graph.compute.usage import all_usage
from tachyon.graph.compute.usage import find_nodes_with_capacity
from tachyon.graph.compute.usage import get_all_nodes_usage
from tachyon.graph.compute.usage import get_node_free_resources
from tachyon.graph.compute.usage import get_node_used_resources
from tachyon.graph.compute.usage import node_usage
from tachyon.graph.compute.usage import usage_from_rows
from tachyon.graph.compute.usage import usage_of
from tachyon.graph.upsert import bump_providers

__all__ = [
    'KIND', 'TYPE',
    'all_capacity', 'all_usage', 'bump_providers', 'delete_compute_nodes',
    'delete_instances', 'find_nodes_with_capacity', 'get_all_compute_nodes',
    'get_all_instances', 'get_all_nodes_usage', 'get_compute_model',
    'get_instance_by_uuid', 'get_instances_by_node',
    'get_node_by_instance_uuid', 'get_node_by_name', 'get_node_by_uuid',
    'get_node_free_resources', 'get_node_instances',
    'get_node_used_resources', 'import_compute_model',
    'import_is_staged', 'instance',
    'instances_by_uuid', 'map_instance', 'migrate_instance',
    'node_instances', 'node_usage', 'nodes_by_name', 'prune_compute_nodes',
    'prune_instances', 'remove_instances', 'remove_nodes', 'unmap_instance',
    'upsert_compute_nodes', 'upsert_instances', 'usage_from_rows',
    'usage_of', 'write_instances', 'write_nodes',
]
