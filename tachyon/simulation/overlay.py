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

"""A session's deltas laid over the global state: pure functions.

The global state comes from the graph in two shapes:

* one node's usage, ``{rc: (inventory, used)}`` with ``inventory`` a dict
  of ``total``, ``reserved`` and ``allocation_ratio``;
* every node's use or capacity in Watcher's keys, ``{node_uuid: {'vcpu',
  'memory', 'disk'}}``.

The compute model of a snapshot (``nodes``, ``instances`` and
``mapping`` of instance to node) takes the deltas' placements and
amounts with :func:`apply_to_model`.
"""

from tachyon import exception
from tachyon.model import records
from tachyon.simulation import deltas

RESOURCE_CLASSES = records.COMPUTE_RESOURCE_CLASSES
KEYS = records.WATCHER_RESOURCE_KEYS


def node_usage(usage, node_deltas, node_uuid):
    """{rc: (inventory, used)} of a node with ``node_deltas`` applied."""
    used = {rc: usage[rc][1] if rc in usage else 0
            for rc in RESOURCE_CLASSES}
    for delta in node_deltas:
        for rc, change in deltas.effect(delta, node_uuid).items():
            used[rc] += change
    return {rc: (usage[rc][0], used[rc]) for rc in usage}


def _capacity(inventory):
    return records.capacity(inventory['total'], inventory['reserved'],
                            inventory['allocation_ratio'])


def used_keys(usage):
    """Watcher's used resources of one node's ``usage``."""
    return {KEYS[rc]: usage[rc][1] if rc in usage else 0
            for rc in RESOURCE_CLASSES}


def free_keys(usage):
    """Watcher's free resources (capacity minus used) of ``usage``."""
    return {KEYS[rc]: (_capacity(usage[rc][0]) - usage[rc][1])
            if rc in usage else 0.0 for rc in RESOURCE_CLASSES}


def check_room(usage, node_uuid, need, uuid):
    """Refuse ``need`` ({rc: amount}) beyond the node's free room.

    :raises: Conflict naming the node, with what each resource class
        lacks, when the instance ``uuid`` does not fit.
    """
    short = []
    for rc in RESOURCE_CLASSES:
        if not need.get(rc):
            continue
        free = _capacity(usage[rc][0]) - usage[rc][1] if rc in usage else 0
        if need[rc] > free:
            short.append('%s needs %s, %s free' % (rc, need[rc], free))
    if short:
        raise exception.Conflict(
            reason='no room for instance %s on compute node %s: %s' % (
                uuid, node_uuid, '; '.join(short)),
            conflicts=[node_uuid])


def all_usage(used, session_deltas):
    """Apply the deltas to every node's use ({uuid: {'vcpu', ...}}).

    ``used`` is changed and returned; nodes it does not hold are left
    out.
    """
    for delta in session_deltas:
        for node in {delta['source_uuid'], delta['destination_uuid']}:
            if node is None or node not in used:
                continue
            for rc, change in deltas.effect(delta, node).items():
                used[node][KEYS[rc]] += change
    return used


def place_instance(inst, state, node_uuid):
    """Give an Instance record the amounts and node of its ``state``."""
    inst.vcpus = state['resources'][records.VCPU]
    inst.memory = state['resources'][records.MEMORY_MB]
    inst.disk = state['resources'][records.DISK_GB]
    inst.node_uuid = node_uuid
    return inst


def apply_to_model(model, session_deltas):
    """Apply the deltas to a compute model's placements and amounts.

    ``model``'s ``mapping`` and Instance records are changed (and the
    model returned); deltas of instances the model does not hold are
    skipped.
    """
    by_uuid = {i.uuid: i for i in model['instances']}
    for delta in session_deltas:
        inst = by_uuid.get(delta['consumer_uuid'])
        if inst is None:
            continue
        state = {'node_uuid': model['mapping'].get(inst.uuid),
                 'resources': {}}
        deltas.apply_to_consumer(state, delta)
        if state['node_uuid'] is None:
            model['mapping'].pop(inst.uuid, None)
        else:
            model['mapping'][inst.uuid] = state['node_uuid']
        res = state['resources']
        if res:
            inst.vcpus = res.get(records.VCPU, inst.vcpus)
            inst.memory = res.get(records.MEMORY_MB, inst.memory)
            inst.disk = res.get(records.DISK_GB, inst.disk)
    return model
