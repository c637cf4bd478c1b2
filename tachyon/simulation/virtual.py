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

"""The cluster as a session sees it: the global graph plus its deltas.

Each query is one read transaction: it loads the global state and the
session's deltas through :mod:`tachyon.graph.compute` and
:mod:`tachyon.graph.sessions`, and lays the deltas over it with the pure
rules of :mod:`tachyon.simulation.overlay` and
:mod:`tachyon.simulation.scoring`. With ``session_id`` None a query
answers with the global view (and reads of one node are then a single
statement). A query names a session only while it is active.

The arguments are taken as validated
(:mod:`tachyon.simulation.validation`).
"""

import time

from tachyon import exception
from tachyon.graph import compute
from tachyon.graph import reservations
from tachyon.graph import sessions
from tachyon.simulation import deltas
from tachyon.simulation import overlay
from tachyon.simulation import scoring


def require_active(session, now):
    """Refuse a session that cannot take deltas or answer queries.

    :raises: InvalidState once it has ended; SessionExpired past its TTL.
    """
    if session['status'] != sessions.ACTIVE:
        raise exception.InvalidState(
            kind='Simulation session', ident=session['id'],
            state=session['status'], reason='only an active session can '
            'take deltas, answer queries or be committed')
    if session['expires_at'] <= now:
        raise exception.SessionExpired(session_id=session['id'])


def check_session(tx, session_id):
    """Inside ``tx``: the named session exists and is active (None: ok)."""
    if session_id is not None:
        require_active(sessions.load_session(tx, session_id), time.time())


def virtual_consumer(tx, session_id, uuid):
    """Where an instance is and what it uses, with the session applied.

    None when the instance does not exist in the global graph.
    """
    state = sessions.consumer_state(tx, uuid)
    if state is None:
        return None
    for delta in sessions.consumer_deltas(tx, session_id, uuid):
        deltas.apply_to_consumer(state, delta)
    return state


def _reader(graph, session_id):
    # Without a session these reads are one statement.
    return graph.read if session_id is not None else graph.read_one


def _location(tx, session_id, uuid):
    check_session(tx, session_id)
    state = virtual_consumer(tx, session_id, uuid)
    if state is None:
        raise exception.NotFound(kind='instance', ident=uuid)
    return state['node_uuid']


def get_consumer_location(graph, session_id, uuid):
    """The compute node an instance is on in the session (None: none)."""
    return graph.read(_location, session_id, uuid)


def get_node_by_instance(graph, session_id, instance_uuid):
    """The ComputeNode an instance runs on in the session.

    :raises: NotFound when the instance runs on no node there.
    """
    if session_id is None:
        return compute.get_node_by_instance_uuid(graph, instance_uuid)
    node_uuid = get_consumer_location(graph, session_id, instance_uuid)
    if node_uuid is None:
        raise exception.NotFound(kind='node of instance',
                                 ident=instance_uuid)
    return compute.get_node_by_uuid(graph, node_uuid)


def _node_usage(tx, session_id, node_uuid):
    """{rc: (inventory, used)} of a node with the session applied."""
    usage = compute.node_usage(tx, node_uuid)
    if session_id is None:
        return usage
    return overlay.node_usage(
        usage, sessions.provider_deltas(tx, session_id, node_uuid),
        node_uuid)


def _used(tx, session_id, node_uuid, free):
    check_session(tx, session_id)
    usage = _node_usage(tx, session_id, node_uuid)
    return overlay.free_keys(usage) if free else overlay.used_keys(usage)


def get_node_used_resources(graph, session_id, node_uuid):
    """Watcher's used resources of a node: {'vcpu', 'memory', 'disk'}."""
    return _reader(graph, session_id)(_used, session_id, node_uuid, False)


def get_node_free_resources(graph, session_id, node_uuid):
    """Watcher's free resources of a node: capacity minus used."""
    return _reader(graph, session_id)(_used, session_id, node_uuid, True)


def _node_instances(tx, session_id, node_uuid):
    check_session(tx, session_id)
    instances = {i.uuid: i for i in compute.node_instances(tx, node_uuid)}
    if session_id is None:
        return sorted(instances.values(), key=lambda i: i.uuid)
    touched = {delta['consumer_uuid'] for delta in
               sessions.provider_deltas(tx, session_id, node_uuid)}
    for uuid in sorted(touched):
        state = virtual_consumer(tx, session_id, uuid)
        here = state is not None and state['node_uuid'] == node_uuid
        if not here:
            instances.pop(uuid, None)
            continue
        inst = instances.get(uuid) or compute.instance(tx, uuid)
        instances[uuid] = overlay.place_instance(inst, state, node_uuid)
    return sorted(instances.values(), key=lambda i: i.uuid)


def get_node_instances(graph, session_id, node_uuid):
    """The instances on a node in the session, sorted by uuid."""
    return _reader(graph, session_id)(_node_instances, session_id,
                                      node_uuid)


def _all_usage(tx, session_id):
    check_session(tx, session_id)
    capacity = compute.all_capacity(tx)
    used = {uuid: dict(values) for uuid, values in
            compute.all_usage(tx).items()}
    if session_id is not None:
        overlay.all_usage(used, sessions.session_deltas(tx, session_id))
    return capacity, used


def get_all_nodes_usage(graph, session_id):
    """{node_uuid: {'vcpu', 'memory', 'disk'}} used, session applied."""
    return graph.read(_all_usage, session_id)[1]


def get_utilization(graph, session_id, resource_class):
    """{node_uuid: used / capacity} for one resource class."""
    capacity, used = graph.read(_all_usage, session_id)
    return scoring.utilization(capacity, used, resource_class)


def get_balance_score(graph, session_id, resource_class):
    """Mean and standard deviation of the nodes' utilization."""
    return scoring.balance_score(get_utilization(
        graph, session_id, resource_class).values())


def _destinations(tx, session_id, uuid, limit):
    check_session(tx, session_id)
    state = virtual_consumer(tx, session_id, uuid)
    if state is None:
        raise exception.NotFound(kind='instance', ident=uuid)
    capacity, used = _all_usage(tx, session_id)
    return scoring.rank_destinations(capacity, used, state, limit)


def find_destinations(graph, session_id, uuid, limit=10):
    """Nodes with room for the instance, ranked.

    Most free VCPU left after the move first, then most free memory.
    """
    return graph.read(_destinations, session_id, uuid, limit)


def get_compute_model(graph, session_id):
    """The whole compute model, the session's deltas applied.

    The deltas are those :func:`tachyon.graph.sessions.get_deltas` gives,
    whatever the session's status (a snapshot reads an ended session's
    kept deltas too). What pending action plans hold is withheld from
    the nodes' capacity (:func:`tachyon.graph.reservations.withhold`).
    """
    if session_id is None:
        return _withheld(compute.get_compute_model(graph))
    session_deltas = sessions.get_deltas(graph, session_id)
    model = _withheld(compute.get_compute_model(graph))
    if session_deltas:
        overlay.apply_to_model(model, session_deltas)
    return model


def _withheld(model):
    """The capacity pending action plans hold, taken off the nodes'."""
    reservations.withhold(model['nodes'], model.pop('held', None) or {})
    return model


def list_compute_nodes(graph, session_id):
    """Every compute node, sorted by uuid, as the session sees them.

    Deltas move consumers and never add or change nodes, so the nodes are
    the global ones; a named session must exist and be active.
    """
    if session_id is not None:
        graph.read_one(check_session, session_id)
    return sorted(compute.get_all_compute_nodes(graph).values(),
                  key=lambda n: n.uuid)
