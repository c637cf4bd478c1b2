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


def import_in_one_transaction(graph, node_rows, instance_rows):
    """Merge these rows (:mod:`.rows`) into the model in one transaction.

    Its memory grows with the rows: what :func:`import_compute_model`
    does for a model of at most a chunk of records. A memory refusal is
    final (GraphOutOfMemory).
    """
    return graph.write_whole(_import, graph, node_rows, instance_rows)


def import_is_staged(records, replace, chunk=None):
    """Whether an import of ``records`` (nodes and instances) is staged.

    Every replacing import is, and a merge of more than a ``chunk``
    (default :data:`~tachyon.graph.compute.staging.CHUNK`).
    """
    return replace or records > (chunk or staging.CHUNK)


def import_compute_model(graph, nodes, instances, replace=False, **staged):
    """Write a whole compute model (nodes, then instances) at once.

    Either all of it is written or none, and a reader sees either the
    model before or the model after. Records are applied as upserts
    (``updated_at`` None: unconditionally).

    With ``replace`` the compute nodes and instances not in the model are
    deleted too. Without it the records are merged into the graph: what
    the model lacks stays. A model of more records (nodes and instances)
    than a staging chunk, and every replacing import, is staged in
    transactions of bounded size and switched to in one transaction
    (:mod:`tachyon.graph.compute.staging`): only that switch, a
    relabelling, grows, with what the import changes. A smaller merge is
    one transaction, of at most a chunk's size.

    ``staged`` (``chunk``, ``lease_ttl``, ``report``) tunes the staged
    import.

    :returns: :class:`~tachyon.graph.common.SyncCounts` of both kinds.
    :raises: InvalidState when another staged import is running.
    """
    node_rows = [compute_rows.node_row(n) for n in upsert.dedupe(nodes)]
    instance_rows = [compute_rows.instance_row(i)
                     for i in upsert.dedupe(instances)]
    if import_is_staged(len(node_rows) + len(instance_rows), replace,
                        staged.get('chunk')):
        return staging.import_rows(graph, node_rows, instance_rows,
                                   merge=not replace, **staged)
    return import_in_one_transaction(graph, node_rows, instance_rows)
