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

from tachyon.graph import common
from tachyon.graph.compute import instances as compute_instances
from tachyon.graph.compute import nodes as compute_nodes
from tachyon.graph.compute import rows as compute_rows
from tachyon.graph.compute import staging
from tachyon.graph import upsert


def _import(tx, graph, node_rows, instance_rows):
    counts = compute_nodes.write_node_rows(tx, graph, node_rows, bump=False)
    counts.add(compute_instances.write_instance_rows(tx, graph, instance_rows,
                                                     bump=False))
    if counts.changed:
        common.bump_global_generation(tx)
    return counts


def import_compute_model(graph, nodes, instances, replace=False, **staged):
    """Write a whole compute model (nodes, then instances) at once.

    Either all of it is written or none, and a reader sees either the
    model before or the model after. Records are applied as upserts
    (``updated_at`` None: unconditionally).

    With ``replace`` the compute nodes and instances not in the model are
    deleted too, and the import is staged in transactions of bounded size
    and switched to in one transaction
    (:mod:`tachyon.graph.compute.staging`): only that switch, a
    relabelling, grows, with what the import changes. Without it, the
    records are merged into the graph in one transaction, whose memory
    grows with the model.

    ``staged`` (``chunk``, ``lease_ttl``, ``report``) tunes the staged
    import.

    :returns: :class:`~tachyon.graph.common.SyncCounts` of both kinds.
    :raises: InvalidState when another replacing import is running.
    """
    node_rows = [compute_rows.node_row(n) for n in upsert.dedupe(nodes)]
    instance_rows = [compute_rows.instance_row(i)
                     for i in upsert.dedupe(instances)]
    if replace:
        return staging.import_rows(graph, node_rows, instance_rows, **staged)
    return graph.write_whole(_import, graph, node_rows, instance_rows)
