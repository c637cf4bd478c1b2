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

"""The server side of the RPC API: tachyon-engine's endpoint.

Every public method is entered through one border (:func:`_border`): the
call's arguments are checked against the method's declared schema
(:data:`tachyon.rpc.schema.SCHEMAS`: unknown or missing keywords, types,
ranges, lengths, and a named session's existence and status), so a
rejected call gets InvalidParameter naming the argument (or NotFound,
InvalidState, SessionExpired for a session) and reads and writes nothing.
(A commit's session is checked by the commit itself, under the session's
lock, so that a commit sent again under its request id gets its first
answer: see :meth:`EngineManager.commit_session`; so is the session
that a close, rollback, revert or merge (1.9) or an expiry (1.10) sent
with a request id ends.) The method then gets the checked values and
dispatches: a graph call, or the session service
(:class:`tachyon.simulation.manager.SessionManager`).
A fault that is not a Tachyon error is logged with its traceback here
and reaches the caller as InternalError, never as a bare Python error.
Answers are JSON-safe data: records as dicts with the field names of
:mod:`tachyon.model.records`. See :mod:`tachyon.rpc.api` for versions.

A call that sends ``bookmarks`` (1.4) runs every transaction of the call
from them (:func:`tachyon.graph.driver.causal`) and gets its answer as
``{'result': answer, 'bookmarks': [...]}``: the bookmarks of the call's
last transaction, for the caller's next call.
"""

import functools
import inspect
import operator
import time

from oslo_log import log as logging
import oslo_messaging as messaging

from tachyon.common import gc_pause
from tachyon.common import metrics
from tachyon import exception
from tachyon import rpc
from tachyon.graph import baremetal
from tachyon.graph import common
from tachyon.graph import compute
from tachyon.graph import driver
from tachyon.graph import reservations
from tachyon.graph import storage
from tachyon.model import records
from tachyon.rpc import api
from tachyon.rpc import packing
from tachyon.rpc import schema
from tachyon.simulation import manager as sim_manager
from tachyon.simulation import audit_scope

LOG = logging.getLogger(__name__)


def _dict(record):
    return records.as_dict(record)


def _table(items, unset, nested=()):
    """Records as {'fields', 'rows'}, each with its ``watcher_unset``.

    The records were read for this answer alone: values go out as they
    are, but for the ``nested`` fields, which hold records.
    """
    if not items:
        return {'fields': [], 'rows': []}
    names = records.field_names(items[0])
    convert = [index for index, name in enumerate(names) if name in nested]
    values = operator.attrgetter(*names)
    rows = []
    for item in items:
        row = list(values(item))
        for index in convert:
            row[index] = records.plain(row[index])
        row.append(sorted(unset.get(item.uuid) or ()))
        rows.append(row)
    return {'fields': list(names) + ['watcher_unset'], 'rows': rows}


def _packed_instances(model):
    """The instances of a compute model and its mapping, packed (1.8).

    The instances' columns are those of :func:`_table` (the fields, then
    ``watcher_unset``); ``mapping`` is a column of node uuids (None:
    unmapped), one per instance row.
    """
    items = model['instances']
    unset = model.get('watcher_unset') or {}
    mapping = model['mapping']
    names = records.field_names(items[0]) if items else ()
    uuids = [item.uuid for item in items]
    table = packing.pack_records(items, names, extra=[
        ('watcher_unset', [sorted(unset[uuid]) if unset.get(uuid) else []
                           for uuid in uuids])] if items else (),
        plain=('uuid', 'name'))
    return {'instances': table,
            'mapping': packing.pack_column(list(map(mapping.get, uuids)))}


def _expected(error):
    """``error`` wrapped as oslo.messaging sends an expected exception.

    It goes back to the caller (rebuilt there as the same class: see
    :data:`tachyon.rpc.ALLOWED_EXMODS`) without a traceback in the log.
    """
    try:
        # Not chained to the fault being handled: oslo.messaging sends
        # the caller this traceback, which must not carry the fault's.
        raise error from None
    except exception.TachyonException:
        return messaging.ExpectedException()


def _border(name, func):
    """``func`` behind the schema of RPC method ``name``."""

    @functools.wraps(func)
    def call(self, ctxt, *args, **kwargs):
        started, outcome = time.monotonic(), 'ok'
        try:
            bookmarks = schema.pop_bookmarks(kwargs)
            clean = schema.check_call(name, args, kwargs, self.conf)
            # The session check reads too: it starts from the caller's
            # bookmarks as the method's own transactions do.
            with driver.causal(bookmarks) as chain:
                schema.check_sessions(name, clean,
                                      self.sessions.check_session)
                answer = func(self, ctxt, **clean)
            if bookmarks is None:
                return answer
            return {'result': answer, 'bookmarks': chain.raw()}
        except exception.TachyonException as exc:
            outcome = type(exc).__name__
            raise _expected(exc)
        except Exception as exc:
            outcome = 'InternalError'
            LOG.exception('RPC call %s failed on an unexpected error', name)
            raise _expected(exception.InternalError(
                method=name, error=type(exc).__name__)) from None
        finally:
            metrics.observe_rpc(name, outcome, time.monotonic() - started)
    return call


def _rpc_border(cls):
    """Put every public endpoint method behind :func:`_border`.

    A public method without a schema is a programming error, caught when
    the module is imported.
    """
    for name, func in list(vars(cls).items()):
        if inspect.isfunction(func) and not name.startswith('_'):
            if name not in schema.SCHEMAS:
                raise TypeError('RPC method %s has no schema in '
                                'tachyon.rpc.schema.SCHEMAS' % name)
            setattr(cls, name, _border(name, func))
    return cls


@_rpc_border
class EngineManager(object):
    """Endpoint of topic ``[engine]/topic``."""

    target = messaging.Target(version=api.RPC_API_VERSION)

    def __init__(self, conf, graph, host=None):
        self.conf = conf
        self.graph = graph
        self.host = host or conf.host
        self.sessions = sim_manager.SessionManager(conf, graph)

    # Basics -------------------------------------------------------------

    def ping(self, ctxt, payload=None):
        """Echo ``payload`` with the answering engine's host name."""
        return {'payload': payload, 'host': self.host}

    def get_generation(self, ctxt):
        return self.graph.read_one(common.global_generation)

    # Compute ------------------------------------------------------------

    def list_compute_nodes(self, ctxt, session_id=None):
        """Every compute node; a ``session_id`` must name an active one."""
        return self.sessions.list_compute_nodes(session_id)

    def get_compute_node(self, ctxt, uuid):
        return _dict(compute.get_node_by_uuid(self.graph, uuid))

    def get_compute_node_by_name(self, ctxt, hostname):
        return _dict(compute.get_node_by_name(self.graph, hostname))

    def get_instance(self, ctxt, uuid):
        return _dict(compute.get_instance_by_uuid(self.graph, uuid))

    def list_instances(self, ctxt, marker=None, limit=None):
        if limit is None:
            limit = self.conf.engine.max_page_size
        uuids = sorted(compute.get_all_instances(self.graph).items())
        start = 0
        if marker is not None:
            keys = [u for u, _i in uuids]
            if marker not in keys:
                raise exception.NotFound(kind='instance (marker)',
                                         ident=marker)
            start = keys.index(marker) + 1
        page = [_dict(i) for _u, i in uuids[start:start + limit]]
        more = start + limit < len(uuids)
        return {'instances': page,
                'next_marker': page[-1]['uuid'] if more and page else None}

    def get_node_by_instance(self, ctxt, instance_uuid, session_id=None):
        return self.sessions.get_node_by_instance(instance_uuid, session_id)

    def get_node_instances(self, ctxt, node_uuid, session_id=None):
        return self.sessions.get_node_instances(node_uuid, session_id)

    def get_node_used_resources(self, ctxt, node_uuid, session_id=None):
        return self.sessions.get_node_used_resources(node_uuid, session_id)

    def get_node_free_resources(self, ctxt, node_uuid, session_id=None):
        return self.sessions.get_node_free_resources(node_uuid, session_id)

    def get_all_nodes_usage(self, ctxt, session_id=None):
        return self.sessions.get_all_nodes_usage(session_id)

    def find_nodes_with_capacity(self, ctxt, resource_class, amount):
        return [[uuid, available] for uuid, available in
                compute.find_nodes_with_capacity(self.graph, resource_class,
                                                 amount)]

    def migrate_instance(self, ctxt, instance_uuid, source_node_uuid,
                         destination_node_uuid, session_id=None,
                         expected_generation=None, check_capacity=True,
                         request_id=None):
        """Move an instance: a MOVE delta of a session, or in the graph.

        With ``session_id``, the move is recorded in the session and the
        answer is ``{'sequence': n}``; without, the instance moves in the
        global graph (its generation checked against
        ``expected_generation``) and the answer is ``{'generation': n}``.

        ``request_id``: the caller's id of the move. In a session (1.7),
        a move sent again under it records nothing and answers the
        sequence it got the first time. In the global graph (1.10), it
        is kept on the instance with the generation answered, in the
        move's transaction: the same move sent again moves nothing, is
        not refused as a Conflict (the instance is no longer on the
        source, its generation has moved) and answers that generation.
        Either way a caller may send it again when the answer is lost.
        """
        if session_id is not None:
            sequence = self.sessions.migrate_instance(
                session_id, instance_uuid, source_node_uuid,
                destination_node_uuid, check_capacity=check_capacity,
                request_id=request_id)
            return {'sequence': sequence}
        return {'generation': compute.migrate_instance(
            self.graph, instance_uuid, source_node_uuid,
            destination_node_uuid, expected_generation=expected_generation,
            check_capacity=check_capacity, request_id=request_id)}

    def get_compute_snapshot(self, ctxt, scope=None, session_id=None,
                             columns=False, packed=False):
        """The whole (scoped) compute model in one answer.

        ``nodes`` and ``instances`` are lists of dicts, ``mapping`` maps
        instance uuid to node uuid; with a session, its deltas are
        applied (placements and amounts). With ``columns`` (1.2), each of
        ``nodes`` and ``instances`` is ``{'fields': [names], 'rows':
        [[values]]}`` instead: the same data at half the size, the keys
        not repeated for every record. With ``packed`` (1.8), ``nodes``
        is that table, ``instances`` a packed table
        (:mod:`tachyon.rpc.packing`: columns, each distinct value sent
        once) and ``mapping`` one packed column aligned with the
        instances' rows: each one's node uuid, or None when unmapped.
        """
        # Some 400,000 acyclic containers for 20,000 instances.
        with gc_pause.paused():
            return self._compute_snapshot(scope, session_id, columns, packed)

    def _compute_snapshot(self, scope, session_id, columns, packed=False):
        model = self.sessions.get_compute_model(session_id)
        model = audit_scope.apply_scope(model, scope or {})
        nodes = _table(model['nodes'],
                       model.get('watcher_unset_nodes') or {},
                       nested=('inventories',))
        if packed:
            return dict(_packed_instances(model), nodes=nodes,
                        generation=model['generation'])
        instances = _table(model['instances'],
                           model.get('watcher_unset') or {})
        if not columns:
            nodes = rpc.table_to_dicts(nodes)
            instances = rpc.table_to_dicts(instances)
        return {'generation': model['generation'], 'nodes': nodes,
                'instances': instances, 'mapping': model['mapping']}

    # Storage and baremetal -----------------------------------------------

    def get_storage_node(self, ctxt, host):
        return _dict(storage.get_node_by_name(self.graph, host))

    def get_pool(self, ctxt, name):
        return _dict(storage.get_pool_by_pool_name(self.graph, name))

    def get_volume(self, ctxt, uuid):
        return _dict(storage.get_volume_by_uuid(self.graph, uuid))

    def get_pool_volumes(self, ctxt, pool_name):
        return [_dict(v) for v in storage.get_pool_volumes(self.graph,
                                                           pool_name)]

    def get_ironic_node(self, ctxt, uuid):
        return _dict(baremetal.get_node_by_uuid(self.graph, uuid))

    def get_storage_snapshot(self, ctxt):
        """(1.1) The storage model: nodes, pools, volumes and links."""
        with gc_pause.paused():  # as the compute snapshot
            model = storage.get_storage_model(self.graph)
            return dict(model, nodes=[_dict(n) for n in model['nodes']],
                        pools=[_dict(p) for p in model['pools']],
                        volumes=[_dict(v) for v in model['volumes']])

    def get_baremetal_snapshot(self, ctxt):
        """(1.1) Every Ironic node."""
        model = baremetal.get_baremetal_model(self.graph)
        return dict(model, nodes=[_dict(n) for n in model['nodes']])

    # Sessions -----------------------------------------------------------

    def create_session(self, ctxt, ttl=None, audit_uuid=None,
                       request_id=None):
        """A new active session.

        ``request_id`` (1.9): the caller's id of the creation, stored on
        the session. Sent again under it, the call creates nothing (and
        counts nothing against [simulation]/max_active_sessions) and
        answers the session the first attempt created.
        """
        return self.sessions.create_session(ttl=ttl, audit_uuid=audit_uuid,
                                            request_id=request_id)

    def get_session(self, ctxt, session_id):
        return self.sessions.get_session(session_id)

    def list_sessions(self, ctxt, status=None):
        return self.sessions.list_sessions(status)

    def record_deltas(self, ctxt, session_id, deltas, request_id=None):
        return self.sessions.record_deltas(session_id, deltas,
                                           request_id=request_id)

    def get_consumer_location(self, ctxt, session_id, consumer_uuid):
        return self.sessions.get_consumer_location(session_id,
                                                   consumer_uuid)

    def get_utilization(self, ctxt, resource_class, session_id=None):
        return self.sessions.get_utilization(resource_class, session_id)

    def get_balance_score(self, ctxt, resource_class, session_id=None):
        return self.sessions.get_balance_score(resource_class, session_id)

    def find_destinations(self, ctxt, instance_uuid, session_id=None,
                          limit=10):
        return self.sessions.find_destinations(instance_uuid, session_id,
                                               limit)

    def commit_session(self, ctxt, session_id, request_id=None):
        """Apply an active root session's deltas to the global graph.

        The answer is ``{'generation', 'applied', 'consumers'}``: the
        global generation after the commit, the deltas applied, the
        instances placed. Conflict (naming the uuids) when something the
        session touches changed since it began; nothing is applied then.

        ``request_id`` (1.7): the caller's id of the commit; its answer
        is kept on the session. The same commit sent again under that id
        applies nothing and gets the first answer: the same result (the
        session stays committed), or the same Conflict or InvalidState.
        The session's status is checked in the commit's transaction,
        under the session's lock, not where the call enters.
        """
        return self.sessions.commit_session(session_id,
                                            request_id=request_id)

    def _ending(self, session_id, request_id):
        """Check the session an end call names, as the border would.

        Sent without a request id, the session must be active within its
        TTL (the refusals of an active_session argument); with one, the
        call checks it itself, under the session's lock (1.9; an expiry,
        1.10).
        """
        if request_id is None:
            self.sessions.check_session(session_id)

    def rollback_session(self, ctxt, session_id, request_id=None):
        """End a session rolled back, its deltas and forks dropped.

        ``request_id`` (1.9): the caller's id of the call, kept on the
        session; the same call sent again answers as the first time
        (the session and the forks that ended with it), not InvalidState.
        """
        self._ending(session_id, request_id)
        return self.sessions.rollback_session(session_id,
                                              request_id=request_id)

    def expire_session(self, ctxt, session_id, request_id=None):
        """End an active session now, as its TTL would, with its forks.

        ``request_id`` (1.10): as rollback_session's: kept on the session
        with the forks that ended with it; the same expiry sent again
        answers as the first time, not InvalidState.
        """
        self._ending(session_id, request_id)
        return self.sessions.expire_session(session_id,
                                            request_id=request_id)

    def close_session(self, ctxt, session_id, request_id=None):
        """(1.3) End an active session unapplied; its deltas are kept.

        ``request_id`` (1.9): as rollback_session's.
        """
        self._ending(session_id, request_id)
        return self.sessions.close_session(session_id,
                                           request_id=request_id)

    def get_session_deltas(self, ctxt, session_id):
        """(1.3) The session's deltas, in order (any status)."""
        return self.sessions.get_deltas(session_id)

    def fork_session(self, ctxt, session_id, ttl=None, request_id=None):
        """(1.5) A fork of an active session.

        ``request_id`` (1.9): as create_session's: sent again under it,
        the call answers the fork the first attempt made.
        """
        return self.sessions.fork_session(session_id, ttl=ttl,
                                          request_id=request_id)

    def merge_session(self, ctxt, session_id, request_id=None):
        """(1.5) A fork's deltas applied to its parent, all or none.

        ``request_id`` (1.9): the caller's id of the merge; its answer
        (the result, or MergeConflict) is kept on the fork, and the same
        merge sent again applies nothing and gets it.
        """
        self._ending(session_id, request_id)
        return self.sessions.merge_session(session_id,
                                           request_id=request_id)

    def revert_session(self, ctxt, session_id, request_id=None):
        """(1.5) Drop a fork and its own forks; ``request_id``: 1.9."""
        self._ending(session_id, request_id)
        return self.sessions.revert_session(session_id,
                                            request_id=request_id)

    # Reservations (1.6) -------------------------------------------------

    def list_reservations(self, ctxt, state=None):
        """(1.6) The reservations of pending action plans, oldest first.

        Each with its plan's state, the moves it holds (``holding``) and
        the conflicts recorded when its plan's notifications were applied
        (``conflicts``: ``node_uuid:RESOURCE_CLASS``).
        """
        return reservations.list_reservations(self.graph, state)

    def get_reservation(self, ctxt, action_plan_uuid):
        """(1.6) One reservation, its holds, what it overcommits now.

        ``overcommitted`` lists the destinations whose real use and
        everything held on them exceed their capacity at the time of the
        call: a real change filled them after the audit planned.
        """
        return reservations.get_reservation(self.graph, action_plan_uuid)
