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

"""Whether a delta may be recorded: pure checks against the session's view.

The graph loads what the checks need for a whole batch in one round trip
(:func:`tachyon.graph.sessions.delta_context`, asked with
:func:`context_wanted`); :func:`prepare` then checks each delta in order,
counting the batch's earlier deltas, and returns it ready to be stored.
"""

from tachyon import exception
from tachyon.simulation import deltas
from tachyon.simulation import overlay


def checked_node(spec):
    """The node whose room the delta ``spec`` needs checked, or None.

    A MOVE or ALLOCATE needs room on its destination (not when it stays
    where it is), a RESIZE on its source; nothing is checked when the
    spec's ``check_capacity`` is false.
    """
    if not spec.get('check_capacity', True):
        return None
    kind = spec['type']
    source, dest = spec.get('source_uuid'), spec.get('destination_uuid')
    if kind in (deltas.MOVE, deltas.ALLOCATE) and source != dest:
        return dest
    if kind == deltas.RESIZE:
        return source
    return None


def context_wanted(specs):
    """What the graph must load to check each of ``specs``, in order."""
    return [{'uuid': spec['consumer_uuid'],
             'source': spec.get('source_uuid'),
             'dest': spec.get('destination_uuid'),
             'check': checked_node(spec)}
            for spec in specs]


def prepare(spec, found, sequence, pending):
    """Check one delta against the session's view; return the delta.

    ``spec``: a validated delta request (``type``, ``consumer_uuid``,
    ``source_uuid``, ``destination_uuid``, ``resources`` for ALLOCATE and
    RESIZE, ``check_capacity``). ``found``: what the graph holds for it
    (see :func:`tachyon.graph.sessions.delta_context`). ``pending``: the
    deltas of the same batch prepared before it, not stored yet.

    :raises: NotFound (an unknown instance or node) or Conflict (the
        instance is not where the delta says, or the node has no room).
    """
    check = checked_node(spec)
    uuid = spec['consumer_uuid']
    kind = spec['type']
    source, dest = spec.get('source_uuid'), spec.get('destination_uuid')
    if not found['exists']:
        raise exception.NotFound(kind='instance', ident=uuid)
    for uuid_, present in ((source, found['source_found']),
                           (dest, found['dest_found'])):
        if uuid_ is not None and not present:
            raise exception.NotFound(kind='compute node', ident=uuid_)
    state = dict(found['consumer'])
    for delta in found['deltas']:
        deltas.apply_to_consumer(state, delta)
    # Deltas earlier in the same batch are not in the graph yet.
    for earlier in pending:
        if earlier['consumer_uuid'] == uuid:
            deltas.apply_to_consumer(state, earlier)
    source_gen = found['source_generation'] if source else None
    dest_gen = found['dest_generation'] if dest else None
    row = {'sequence': sequence, 'type': kind, 'consumer_uuid': uuid,
           'source_uuid': source, 'destination_uuid': dest,
           'consumer_generation': state['generation'],
           'source_generation': source_gen,
           'destination_generation': dest_gen,
           'resources': dict(state['resources']), 'old_resources': {}}
    if kind in (deltas.MOVE, deltas.DEALLOCATE, deltas.RESIZE):
        if state['node_uuid'] != source:
            raise exception.Conflict(
                reason='instance %s is not on compute node %s in this '
                       'session (it is on %s)' % (
                           uuid, source, state['node_uuid'] or 'no node'),
                conflicts=[uuid])
    if kind == deltas.ALLOCATE:
        if state['node_uuid'] is not None:
            raise exception.Conflict(
                reason='instance %s already runs on %s in this session'
                       % (uuid, state['node_uuid']), conflicts=[uuid])
        row['resources'] = dict(spec['resources'])
    if kind == deltas.RESIZE:
        row['old_resources'] = dict(state['resources'])
        row['resources'] = dict(spec['resources'])
    if check is not None:
        if kind == deltas.RESIZE:
            need = {rc: row['resources'].get(rc, 0)
                    - row['old_resources'].get(rc, 0)
                    for rc in deltas.RESOURCE_CLASSES}
        else:
            need = dict(row['resources'])
        # The batch's earlier deltas count against the node too.
        for earlier in pending:
            for rc, change in deltas.effect(earlier, check).items():
                need[rc] = need.get(rc, 0) + change
        usage = overlay.node_usage(found['check_usage'],
                                   found['check_deltas'], check)
        overlay.check_room(usage, check, need, uuid)
    return row
