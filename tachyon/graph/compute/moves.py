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

"""Placing instances on compute nodes: map, unmap and migrate.

Each runs in one transaction that locks the instance, then the nodes in
uuid order (so two migrations cannot deadlock), checks, and moves the
instance's CONSUMES edges; both nodes' generations and the global one
move.

A migration sent under a caller's request id (RPC API 1.10) keeps the id
and its answer on the instance's Consumer node, as ``move_request_id``
and ``move_outcome`` (the instance's generation it answered), in the
move's transaction. The same migration sent again (its answer was lost)
finds them once it holds the instance's lock, before any check: it
moves nothing and answers the kept generation. One kept move per
instance: the next migration under another id overwrites it. A refused
migration keeps nothing.
"""

from oslo_log import log as logging

from tachyon import exception
from tachyon.graph import common
from tachyon.graph.compute import rows as compute_rows
from tachyon.graph.compute import usage as compute_usage
from tachyon.graph import upsert

LOG = logging.getLogger(__name__)

# Lock the consumer, then the providers in uuid order (no deadlock between
# two migrations), and read everything the checks need.
LOCK_FOR_MOVE = """
MATCH (c:Consumer {uuid: $instance_uuid})
USING INDEX SEEK c:Consumer(uuid)
WHERE c.type = 'instance'
SET c.lock__ = true REMOVE c.lock__
WITH c
OPTIONAL MATCH (rp:ResourceProvider)
USING INDEX SEEK rp:ResourceProvider(uuid)
WHERE rp.uuid IN $node_uuids AND rp.kind = 'compute'
WITH c, rp ORDER BY rp.uuid
FOREACH (_ IN CASE WHEN rp IS NULL THEN [] ELSE [1] END |
    SET rp.lock__ = true REMOVE rp.lock__)
WITH c, collect(rp.uuid) AS found
OPTIONAL MATCH (c)-[:CONSUMES {resource_class: 'VCPU'}]->(cur:Inventory)
RETURN c.generation AS generation, c.vcpus AS vcpus, c.memory AS memory,
       c.disk AS disk, found, cur.provider_uuid AS current_node,
       c.move_request_id AS move_request_id, c.move_outcome AS move_outcome
"""

MOVE_CONSUMER = """
MATCH (c:Consumer {uuid: $instance_uuid})
USING INDEX SEEK c:Consumer(uuid)
OPTIONAL MATCH (c)-[old:CONSUMES]->(:Inventory)
DELETE old
WITH DISTINCT c
CALL (c) {
  WITH c WHERE $dest_uuid IS NOT NULL
  UNWIND $consumes AS u
  MATCH (inv:Inventory {provider_uuid: $dest_uuid,
                        resource_class: u.resource_class})
  USING INDEX SEEK inv:Inventory(provider_uuid, resource_class)
  CREATE (c)-[:CONSUMES {used: u.used, resource_class: u.resource_class}]
         ->(inv)
}
SET c.generation = coalesce(c.generation, 0) + 1
RETURN c.generation AS generation
"""

# The request id of the migration that moved the instance (RPC API 1.10)
# and its answer, the generation, in the move's transaction (the
# instance's lock is held): the same migration sent again answers it.
# One per instance, the last migration's.
KEEP_MOVE = """
MATCH (c:Consumer {uuid: $instance_uuid})
USING INDEX SEEK c:Consumer(uuid)
SET c.move_request_id = $request_id, c.move_outcome = $generation
"""


def _lock_for_move(tx, instance_uuid, node_uuids):
    result = tx.run(LOCK_FOR_MOVE, instance_uuid=instance_uuid,
                    node_uuids=[u for u in node_uuids if u]).single()
    if result is None:
        raise exception.NotFound(kind='instance', ident=instance_uuid)
    for uuid in node_uuids:
        if uuid and uuid not in result['found']:
            raise exception.NotFound(kind='compute node', ident=uuid)
    return result


def _amount(state, rc):
    return int(state[compute_rows.INSTANCE_AMOUNT_FIELDS[rc]] or 0)


def _move(tx, instance_uuid, current, dest_uuid, state):
    consumes = [{'resource_class': rc, 'used': _amount(state, rc)}
                for rc in compute_rows.RESOURCE_CLASSES]
    generation = tx.run(MOVE_CONSUMER, instance_uuid=instance_uuid,
                        dest_uuid=dest_uuid,
                        consumes=consumes).single()['generation']
    upsert.bump_providers(tx, (current, dest_uuid))
    common.bump_global_generation(tx)
    return generation


def _map(tx, instance_uuid, node_uuid):
    state = _lock_for_move(tx, instance_uuid, [node_uuid])
    if state['current_node'] == node_uuid:
        return state['generation']
    if state['current_node'] is not None:
        LOG.debug('Instance %s moves from %s to %s', instance_uuid,
                  state['current_node'], node_uuid)
    return _move(tx, instance_uuid, state['current_node'], node_uuid, state)


def map_instance(graph, instance_uuid, node_uuid):
    """Place an instance on a compute node (its CONSUMES onto the node).

    Idempotent; an instance mapped elsewhere moves (an instance runs on
    one node). :returns: the instance's generation.
    """
    return graph.write(_map, instance_uuid, node_uuid)


def _unmap(tx, instance_uuid, node_uuid):
    state = _lock_for_move(tx, instance_uuid, [node_uuid])
    if state['current_node'] != node_uuid:
        raise exception.NotFound(
            kind='Mapping of instance %s to compute node' % instance_uuid,
            ident=node_uuid)
    return _move(tx, instance_uuid, node_uuid, None, state)


def unmap_instance(graph, instance_uuid, node_uuid):
    """Take an instance off the compute node it runs on.

    NotFound when it does not run there (as Watcher's ``remove_edge``
    fails). :returns: the instance's generation.
    """
    return graph.write(_unmap, instance_uuid, node_uuid)


def _check_room(tx, instance_uuid, dest_uuid, state):
    short = []
    usage = compute_usage.node_usage(tx, dest_uuid)
    for rc in sorted(usage, key=compute_rows.class_order):
        inv, used = usage[rc]
        need = _amount(state, rc)
        room = compute_usage.free(inv, used)
        if need > room:
            short.append('%s needs %s, %s free' % (rc, need, room))
    if short:
        raise exception.Conflict(
            reason='no room for instance %s on compute node %s: %s' % (
                instance_uuid, dest_uuid, '; '.join(short)),
            conflicts=[dest_uuid])


def sent_before(state, request_id):
    """Whether the instance keeps the migration sent as ``request_id``.

    ``state``: the instance's row of :data:`LOCK_FOR_MOVE`. False when
    no request id is given, or the instance keeps another one's (or
    none); when true, ``state['move_outcome']`` is its answer.
    """
    return request_id is not None and state['move_request_id'] == request_id


def _migrate(tx, instance_uuid, source_uuid, dest_uuid, expected_generation,
             check_capacity, request_id=None):
    """The instance's generation, and whether it was a kept answer."""
    state = _lock_for_move(tx, instance_uuid, sorted({source_uuid,
                                                      dest_uuid}))
    if sent_before(state, request_id):
        # The same migration sent again: the lock, taken above, orders
        # it after the first attempt, whose answer it is, whatever the
        # instance's generation and node are now.
        return state['move_outcome'], True
    if (expected_generation is not None
            and state['generation'] != expected_generation):
        raise exception.Conflict(
            reason='instance %s is at generation %s, not %s: it changed '
                   'since it was read' % (instance_uuid, state['generation'],
                                          expected_generation),
            conflicts=[instance_uuid])
    if state['current_node'] != source_uuid:
        raise exception.Conflict(
            reason='instance %s does not run on compute node %s (it is on '
                   '%s)' % (instance_uuid, source_uuid,
                            state['current_node'] or 'no node'),
            conflicts=[instance_uuid])
    if source_uuid == dest_uuid:
        generation = state['generation']
    else:
        if check_capacity:
            _check_room(tx, instance_uuid, dest_uuid, state)
        generation = _move(tx, instance_uuid, source_uuid, dest_uuid, state)
    if request_id is not None:
        tx.run(KEEP_MOVE, instance_uuid=instance_uuid,
               request_id=request_id, generation=generation).consume()
    return generation, False


def migrate_instance(graph, instance_uuid, source_uuid, dest_uuid,
                     expected_generation=None, check_capacity=True,
                     request_id=None):
    """Move an instance between compute nodes, in the global graph.

    One transaction: the instance's generation is checked against
    ``expected_generation`` (when given; optimistic concurrency as
    Placement does for consumers), the instance must run on the source,
    and the destination must have room for it (``check_capacity``).

    ``request_id``: the caller's id of this migration. It is kept on the
    instance with the answer, in the move's transaction: the same
    migration sent again (its answer was lost) moves nothing, is not
    refused as a stale generation or an instance no longer on the source,
    and answers the generation the first attempt did. A refused
    migration keeps nothing: sent again, it is checked afresh.

    :returns: the instance's new generation (unchanged when source and
        destination are the same node: Watcher's no-op).
    :raises: NotFound for an unknown instance or node; Conflict on a
        stale generation, an instance not on the source, or no room.
    """
    generation, replayed = graph.write(
        _migrate, instance_uuid, source_uuid, dest_uuid,
        expected_generation, check_capacity, request_id)
    if replayed:
        LOG.info('Instance %s: migration request %s was sent again; '
                 'answered as the first time (generation %s), nothing '
                 'moved', instance_uuid, request_id, generation)
    return generation
