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

"""The client side of tachyon-engine's RPC API (``rpcapi``).

Versions, as Nova's and Ironic's RPC APIs keep them:

* **1.0** -- model queries (compute, storage, baremetal), the compute
  snapshot, simulation sessions, ``migrate_instance``, ``ping``.
* **1.1** -- ``get_storage_snapshot`` and ``get_baremetal_snapshot``.
* **1.2** -- ``get_compute_snapshot(columns=True)``: nodes and instances
  as ``{'fields': [...], 'rows': [[...]]}``, half the bytes of a list of
  dicts. :meth:`EngineAPI.get_compute_snapshot` asks for it when the cap
  allows and hands back the dicts of 1.0 either way.
* **1.3** -- ``close_session``: an audit's session ends without being
  applied (status ``closed``; its deltas are kept for inspection until
  the reaper purges the session); ``get_session_deltas``: a session's
  deltas, in order.
* **1.4** -- ``bookmarks``, an option of every call: the answer comes as
  ``{'result': answer, 'bookmarks': [...]}`` and the next call sends
  those bookmarks back, so its reads see the earlier calls' writes on
  any engine and any Neo4j cluster member
  (:class:`tachyon.client.causal.CausalEngineAPI` does this). A call
  without it gets the plain answer, as before.
* **1.5** -- forked sessions: ``fork_session`` (a child session that
  sees its parent's deltas so far plus its own), ``merge_session`` (a
  fork's deltas applied to its parent, checked against the parent as it
  is now, all or none; MergeConflict names the delta that does not fit)
  and ``revert_session`` (a fork dropped with its own forks).
  Also ``record_deltas(request_id=...)``: the client's id of a
  delta batch, stored with its deltas; a batch sent again under the same
  id is not recorded twice (its first sequences are the answer).
  :meth:`EngineAPI.record_deltas` sends one when the cap allows, so the
  call is retried like a read.
* **1.6** -- ``list_reservations`` and ``get_reservation``: the capacity
  pending Watcher action plans hold, and the destinations a real change
  filled after the audit planned onto them (the conflict report).
* **1.7** -- ``request_id`` of ``migrate_instance`` (with a
  ``session_id``) and of ``commit_session``: the client's id of the
  call. A session's move sent again under its id records nothing and
  answers the sequence it got the first time (as a 1.5 batch). A
  commit's answer is kept on its session under its id: the same commit
  sent again applies nothing and gets the first answer, the result
  (generation, deltas applied, consumers placed) or the same refusal
  (Conflict, InvalidState). :meth:`EngineAPI.migrate_instance` (in a
  session) and :meth:`EngineAPI.commit_session` send one when the cap
  allows, and are then retried. A move in the global graph takes a
  request id from 1.10 only.

* **1.8** -- ``get_compute_snapshot(packed=True)``: the instances as a
  packed table (:mod:`tachyon.rpc.packing`: one column per field, each
  distinct value of a repeated column sent once) and the mapping as one
  column beside them; a third of the 1.2 bytes.
  :meth:`EngineAPI.get_compute_snapshot` asks for it when the caller
  reads it (``packed``) and the cap allows, else falls back to 1.2.
* **1.9** -- ``request_id`` of ``create_session``, ``fork_session``,
  ``close_session``, ``rollback_session``, ``revert_session`` and
  ``merge_session``: the client's id of the call. A creation or fork
  stores it on the session it makes; sent again under it, the call
  makes nothing (and counts nothing against the limit of active
  sessions) and answers that session. A close, rollback or revert
  keeps it on the session it ends: sent again, it answers as the first
  time (the session; for a rollback or revert, the forks that ended
  with it) instead of InvalidState. A merge keeps its answer on the
  fork, as a commit does: sent again, it applies nothing and gets the
  first result, or the same MergeConflict. Any other refusal keeps
  nothing: the call sent again is checked afresh.
  :class:`EngineAPI` sends one with each of these calls when the cap
  allows, and then retries them; capped below 1.9, it sends them as
  before (no request id, at their own versions) and once.
* **1.10** -- ``request_id`` of ``expire_session`` and of a
  ``migrate_instance`` in the global graph (no ``session_id``): the
  client's id of the call. An expiry keeps it on the session it ends,
  with the forks that ended with it, in the ending transaction, as a
  close or a rollback does (1.9): sent again, it answers as the first
  time instead of InvalidState. A global move keeps it and its answer
  (the instance's generation) on the instance, in the move's
  transaction (``move_request_id``, ``move_outcome``; one kept move per
  instance, the next one replaces it): sent again, it moves nothing,
  gets no Conflict (its instance is no longer on the source) and
  answers that generation. Another request id is checked as before: an
  ended session is InvalidState, a stale move a Conflict. A refused call
  keeps nothing. :class:`EngineAPI` sends one with both calls when the
  cap allows, and then retries them; capped below 1.10, it sends them
  as before (no request id, at 1.0) and once.

Retries: a call that safely runs twice (every read, and, with their
request ids, ``record_deltas``, a session's ``migrate_instance``,
``commit_session``, from 1.9 the session's life calls above, and from
1.10 ``expire_session`` and a move in the global graph) is sent again,
up to ``[engine]/rpc_retries`` times, when no answer comes within its
timeout (the engine serving it died or froze: another engine on the
topic, or the same one restarted, takes the next attempt). Every
attempt carries the same request id. Each retry logs a warning naming
the call. The writes above are sent once to an engine older than the
version that takes their request id (a client capped below it): their
lost answer surfaces as MessagingTimeout.

The target names its exchange (``[engine]/exchange``) on both sides: a
client inside another service (watcher-decision-engine, whose default
exchange is ``watcher``) reaches the engine all the same. Each call
carries the identifiers of the caller's current request context
(:mod:`tachyon.common.context`), so the engine logs under the caller's
request id.

A client capped below the version a call needs (``[engine]/
rpc_version_cap`` during a rolling upgrade) refuses to send it: the call
raises InvalidState naming both versions instead of reaching an engine
that would not understand it.
"""

import uuid

from oslo_log import log as logging
import oslo_messaging as messaging

from tachyon.common import context
from tachyon import exception
from tachyon import rpc

LOG = logging.getLogger(__name__)

#: The newest version this client knows.
RPC_API_VERSION = '1.10'

#: The version whose session moves and commits take a ``request_id``.
IDEMPOTENT_WRITES_VERSION = '1.7'

#: The version whose compute snapshot can be packed.
PACKED_SNAPSHOT_VERSION = '1.8'

#: The version whose session creations, forks, ends and merges take a
#: ``request_id``.
IDEMPOTENT_SESSIONS_VERSION = '1.9'

#: The version whose ``expire_session`` and global ``migrate_instance``
#: take a ``request_id``.
IDEMPOTENT_EXPIRY_AND_MOVES_VERSION = '1.10'

#: Calls that write nothing: safe to send again when an answer is lost.
READS = frozenset([
    'ping', 'get_generation', 'list_compute_nodes', 'get_compute_node',
    'get_compute_node_by_name', 'get_instance', 'list_instances',
    'get_node_by_instance', 'get_node_instances', 'get_node_used_resources',
    'get_node_free_resources', 'get_all_nodes_usage',
    'find_nodes_with_capacity', 'get_compute_snapshot', 'get_storage_node',
    'get_pool', 'get_volume', 'get_pool_volumes', 'get_ironic_node',
    'get_session', 'list_sessions', 'get_consumer_location',
    'get_utilization', 'get_balance_score', 'find_destinations',
    'get_storage_snapshot', 'get_baremetal_snapshot', 'get_session_deltas',
    'list_reservations', 'get_reservation'])

#: [engine]/rpc_retries' default, for a client built without it.
DEFAULT_RETRIES = 2

#: Defaults of a client built without Tachyon's configuration (inside
#: another service); they are [engine]'s defaults.
DEFAULT_TOPIC = 'tachyon-engine'
DEFAULT_EXCHANGE = 'tachyon'


def _request_id():
    """A fresh id for one write call, the same for all its attempts."""
    return str(uuid.uuid4())


def snapshot_form(snapshot):
    """The form of a compute snapshot's instances.

    'dicts' (1.0), 'columns' (1.2) or 'packed' (1.8).
    """
    instances = snapshot['instances']
    if not isinstance(instances, dict):
        return 'dicts'
    return 'packed' if 'columns' in instances else 'columns'


class EngineAPI(object):
    """Calls to tachyon-engine. Every answer is plain JSON data."""

    def __init__(self, conf=None, transport=None, topic=None,
                 version_cap=None, timeout=None, snapshot_timeout=None,
                 exchange=None, retries=None):
        """Either ``conf`` (Tachyon's options) or explicit settings.

        Inside another service (Tachyon's Watcher plugins) there is no
        Tachyon configuration: pass ``transport`` and the settings.
        """
        engine = conf.engine if conf is not None else None
        self.transport = transport or rpc.get_transport(conf)
        self.topic = topic or (engine.topic if engine else DEFAULT_TOPIC)
        self.exchange = exchange or (engine.exchange if engine
                                     else DEFAULT_EXCHANGE)
        target = messaging.Target(exchange=self.exchange, topic=self.topic,
                                  version='1.0')
        self.version_cap = (version_cap
                            or (engine.rpc_version_cap if engine else None)
                            or RPC_API_VERSION)
        self.timeout = timeout or (engine.rpc_timeout if engine else 60)
        self.snapshot_timeout = snapshot_timeout or (
            engine.snapshot_timeout if engine else 300)
        if retries is None:
            retries = getattr(engine, 'rpc_retries', DEFAULT_RETRIES)
        self.retries = max(0, int(retries))
        self.client = messaging.get_rpc_client(
            self.transport, target, version_cap=self.version_cap,
            timeout=self.timeout, serializer=context.ContextSerializer())

    def can_send_version(self, version):
        return self.client.can_send_version(version)

    def _call(self, method, version='1.0', timeout=None, retry=None,
              **kwargs):
        """Call ``method``; ``retry``: may it be sent again (None: a read)."""
        if not self.can_send_version(version):
            raise exception.InvalidState(
                kind='RPC call', ident=method, state='not sendable',
                reason='it needs RPC API %s and this client is capped at '
                '%s ([engine]/rpc_version_cap)' % (version,
                                                   self.version_cap))
        timeout = timeout or self.timeout
        cctxt = self.client.prepare(version=version, timeout=timeout)
        attempts = 1 + (self.retries if (method in READS if retry is None
                                         else retry) else 0)
        for attempt in range(1, attempts + 1):
            try:
                # None: the serializer sends the caller's current context.
                return cctxt.call(None, method, **kwargs)
            except messaging.MessagingTimeout:
                if attempt == attempts:
                    raise
                LOG.warning('RPC call %s on topic %s: no answer within %s s '
                            '(the engine serving it may have died); '
                            'sending it again, attempt %d of %d',
                            method, self.topic, timeout, attempt + 1,
                            attempts)

    # 1.0 ----------------------------------------------------------------

    def ping(self, payload=None):
        return self._call('ping', payload=payload)

    def get_generation(self):
        return self._call('get_generation')

    def list_compute_nodes(self, session_id=None):
        """Every compute node, sorted by uuid.

        A session sees the same nodes (its deltas move instances only);
        naming one that is unknown or no longer active raises NotFound,
        InvalidState or SessionExpired, as the other session calls do.
        """
        return self._call('list_compute_nodes', session_id=session_id)

    def get_compute_node(self, uuid):
        return self._call('get_compute_node', uuid=uuid)

    def get_compute_node_by_name(self, hostname):
        return self._call('get_compute_node_by_name', hostname=hostname)

    def get_instance(self, uuid):
        return self._call('get_instance', uuid=uuid)

    def list_instances(self, marker=None, limit=None):
        return self._call('list_instances', marker=marker, limit=limit)

    def get_node_by_instance(self, instance_uuid, session_id=None):
        return self._call('get_node_by_instance',
                          instance_uuid=instance_uuid, session_id=session_id)

    def get_node_instances(self, node_uuid, session_id=None):
        return self._call('get_node_instances', node_uuid=node_uuid,
                          session_id=session_id)

    def get_node_used_resources(self, node_uuid, session_id=None):
        return self._call('get_node_used_resources', node_uuid=node_uuid,
                          session_id=session_id)

    def get_node_free_resources(self, node_uuid, session_id=None):
        return self._call('get_node_free_resources', node_uuid=node_uuid,
                          session_id=session_id)

    def get_all_nodes_usage(self, session_id=None):
        return self._call('get_all_nodes_usage', session_id=session_id)

    def find_nodes_with_capacity(self, resource_class, amount):
        return self._call('find_nodes_with_capacity',
                          resource_class=resource_class, amount=amount)

    def migrate_instance(self, instance_uuid, source_node_uuid,
                         destination_node_uuid, session_id=None,
                         expected_generation=None, check_capacity=True):
        """A move, retried under one request id when the cap allows.

        In a session from 1.7, in the global graph (no ``session_id``)
        from 1.10: sent again after the first attempt moved the instance,
        it gets that attempt's generation, not a Conflict. To an engine
        older than that (the version cap), the move is sent once.
        """
        kwargs = dict(instance_uuid=instance_uuid,
                      source_node_uuid=source_node_uuid,
                      destination_node_uuid=destination_node_uuid,
                      session_id=session_id,
                      expected_generation=expected_generation,
                      check_capacity=check_capacity)
        idempotent = (IDEMPOTENT_WRITES_VERSION if session_id is not None
                      else IDEMPOTENT_EXPIRY_AND_MOVES_VERSION)
        if not self.can_send_version(idempotent):
            return self._call('migrate_instance', **kwargs)
        return self._call('migrate_instance', version=idempotent,
                          retry=True, request_id=_request_id(), **kwargs)

    def get_compute_snapshot(self, scope=None, session_id=None,
                             columns=False, packed=False):
        """The compute model in one call; see the engine's docstring.

        ``nodes`` always comes as a list of dicts. With ``columns``,
        ``instances`` may come as the 1.2 columns ``{'fields', 'rows'}``
        (when the version cap allows it) instead of a list of dicts; with
        ``packed``, as the 1.8 packed table (with ``mapping`` as a packed
        column, see :mod:`tachyon.rpc.packing`) when the cap allows it,
        else as with ``columns``. The caller must read every form it may
        get: :func:`snapshot_form` names it.
        """
        if packed and self.can_send_version(PACKED_SNAPSHOT_VERSION):
            snapshot = self._call('get_compute_snapshot',
                                  version=PACKED_SNAPSHOT_VERSION,
                                  scope=scope, session_id=session_id,
                                  packed=True, timeout=self.snapshot_timeout)
            snapshot['nodes'] = rpc.table_to_dicts(snapshot['nodes'])
            return snapshot
        if not self.can_send_version('1.2'):
            return self._call('get_compute_snapshot', scope=scope,
                              session_id=session_id,
                              timeout=self.snapshot_timeout)
        snapshot = self._call('get_compute_snapshot', version='1.2',
                              scope=scope, session_id=session_id,
                              columns=True, timeout=self.snapshot_timeout)
        snapshot['nodes'] = rpc.table_to_dicts(snapshot['nodes'])
        if not (columns or packed):
            snapshot['instances'] = rpc.table_to_dicts(
                snapshot['instances'])
        return snapshot

    def get_storage_node(self, host):
        return self._call('get_storage_node', host=host)

    def get_pool(self, name):
        return self._call('get_pool', name=name)

    def get_volume(self, uuid):
        return self._call('get_volume', uuid=uuid)

    def get_pool_volumes(self, pool_name):
        return self._call('get_pool_volumes', pool_name=pool_name)

    def get_ironic_node(self, uuid):
        return self._call('get_ironic_node', uuid=uuid)

    def _session_call(self, method, version='1.0', **kwargs):
        """A session's life call: retried under one request id (1.9).

        Capped below 1.9, it is sent as before, at ``version`` (the one
        that added it), without a request id, and once.
        """
        if not self.can_send_version(IDEMPOTENT_SESSIONS_VERSION):
            return self._call(method, version=version, **kwargs)
        return self._call(method, version=IDEMPOTENT_SESSIONS_VERSION,
                          retry=True, request_id=_request_id(), **kwargs)

    def create_session(self, ttl=None, audit_uuid=None):
        """A new session; sent again, the same one (1.9), not a second."""
        return self._session_call('create_session', ttl=ttl,
                                  audit_uuid=audit_uuid)

    def get_session(self, session_id):
        return self._call('get_session', session_id=session_id)

    def list_sessions(self, status=None):
        return self._call('list_sessions', status=status)

    def record_deltas(self, session_id, deltas):
        """Record a batch; retried under one request id when it can be."""
        if not self.can_send_version('1.5'):
            return self._call('record_deltas', session_id=session_id,
                              deltas=deltas)
        return self._call('record_deltas', version='1.5', retry=True,
                          session_id=session_id, deltas=deltas,
                          request_id=_request_id())

    def get_consumer_location(self, session_id, consumer_uuid):
        return self._call('get_consumer_location', session_id=session_id,
                          consumer_uuid=consumer_uuid)

    def get_utilization(self, resource_class, session_id=None):
        return self._call('get_utilization', resource_class=resource_class,
                          session_id=session_id)

    def get_balance_score(self, resource_class, session_id=None):
        return self._call('get_balance_score',
                          resource_class=resource_class,
                          session_id=session_id)

    def find_destinations(self, instance_uuid, session_id=None, limit=10):
        return self._call('find_destinations', instance_uuid=instance_uuid,
                          session_id=session_id, limit=limit)

    def commit_session(self, session_id):
        """Commit; retried under one request id when the cap allows (1.7).

        A retry after the first attempt committed gets its result, not
        InvalidState; one after it was refused gets the same refusal.
        """
        if not self.can_send_version(IDEMPOTENT_WRITES_VERSION):
            return self._call('commit_session', session_id=session_id)
        return self._call('commit_session',
                          version=IDEMPOTENT_WRITES_VERSION, retry=True,
                          session_id=session_id, request_id=_request_id())

    def rollback_session(self, session_id):
        """Roll back; sent again (1.9), the first answer, not InvalidState."""
        return self._session_call('rollback_session', session_id=session_id)

    def expire_session(self, session_id):
        """Expire; sent again (1.10), the first answer, not InvalidState.

        Capped below 1.10, it is sent as before, without a request id,
        and once.
        """
        if not self.can_send_version(IDEMPOTENT_EXPIRY_AND_MOVES_VERSION):
            return self._call('expire_session', session_id=session_id)
        return self._call('expire_session',
                          version=IDEMPOTENT_EXPIRY_AND_MOVES_VERSION,
                          retry=True, session_id=session_id,
                          request_id=_request_id())

    # 1.1 ----------------------------------------------------------------

    def get_storage_snapshot(self):
        return self._call('get_storage_snapshot', version='1.1',
                          timeout=self.snapshot_timeout)

    def get_baremetal_snapshot(self):
        return self._call('get_baremetal_snapshot', version='1.1',
                          timeout=self.snapshot_timeout)

    # 1.3 ----------------------------------------------------------------

    def close_session(self, session_id):
        """Close; sent again (1.9), the first answer, not InvalidState."""
        return self._session_call('close_session', version='1.3',
                                  session_id=session_id)

    def get_session_deltas(self, session_id):
        return self._call('get_session_deltas', version='1.3',
                          session_id=session_id)

    # 1.5 ----------------------------------------------------------------

    def fork_session(self, session_id, ttl=None):
        """A fork; sent again, the same one (1.9), not a second."""
        return self._session_call('fork_session', version='1.5',
                                  session_id=session_id, ttl=ttl)

    def merge_session(self, session_id):
        """Merge; sent again (1.9), the first result, applied once."""
        return self._session_call('merge_session', version='1.5',
                                  session_id=session_id)

    def revert_session(self, session_id):
        """Revert; sent again (1.9), the first answer, not InvalidState."""
        return self._session_call('revert_session', version='1.5',
                                  session_id=session_id)

    # 1.6 ----------------------------------------------------------------

    def list_reservations(self, state=None):
        return self._call('list_reservations', version='1.6', state=state)

    def get_reservation(self, action_plan_uuid):
        return self._call('get_reservation', version='1.6',
                          action_plan_uuid=action_plan_uuid)
