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

"""Writing a whole compute model (nodes, then instances) at once."""

import time

from tachyon.graph import common
from tachyon.graph.compute import instances as compute_instances
from tachyon.graph.compute import nodes as compute_nodes
from tachyon.graph.compute import rows as compute_rows
from tachyon.graph import upsert

# "Updated before the end of time": every entity, for a replacing import.
_FOREVER = 1.0e300


def _import(tx, graph, node_rows, instance_rows, replace):
    counts = compute_nodes.write_node_rows(tx, graph, node_rows, bump=False)
    counts.add(compute_instances.write_instance_rows(tx, graph, instance_rows,
                                                     bump=False))
    if replace:
        now = time.time()
        for entity, rows in ((compute_instances.INSTANCE, instance_rows),
                             (compute_nodes.NODE, node_rows)):
            stale = upsert.stale(tx, entity, [r['uuid'] for r in rows],
                                 _FOREVER)
            counts.deleted += upsert.delete(tx, entity, stale, now,
                                            bump=False)
        # The instances a notification's state was kept for are not in
        # the model either.
        compute_instances.drop_pending_states(tx, _FOREVER)
    if counts.changed:
        common.bump_global_generation(tx)
    return counts


def import_compute_model(graph, nodes, instances, replace=False):
    """Write a whole compute model (nodes, then instances) at once.

    One transaction: either all of it is written or none. Records are
    applied as upserts (``updated_at`` None: unconditionally); with
    ``replace`` the compute nodes and instances not in the model are
    deleted too.

    :returns: :class:`~tachyon.graph.common.SyncCounts` of both kinds.
    """
    node_rows = [compute_rows.node_row(n) for n in upsert.dedupe(nodes)]
    instance_rows = [compute_rows.instance_row(i)
                     for i in upsert.dedupe(instances)]
    return graph.write(_import, graph, node_rows, instance_rows, replace)
