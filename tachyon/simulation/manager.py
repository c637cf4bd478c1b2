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

"""Simulation sessions: the validated API the engine serves over RPC.

Every method checks its input first with
:mod:`tachyon.simulation.validation` (InvalidParameter naming the field)
and then makes one call into the session service --
:mod:`tachyon.simulation.virtual` for queries,
:mod:`tachyon.simulation.writes` for deltas and commits,
:mod:`tachyon.graph.sessions` for the rest of a session's life -- so a
rejected call writes nothing. Answers are plain JSON-safe dicts and
lists (and records for :meth:`SessionManager.get_compute_model`, which
the endpoint shapes). The endpoint (:mod:`tachyon.rpc.manager`) and
``tachyon-manage session`` call it.
"""

import time

from oslo_log import log as logging
from oslo_utils import uuidutils

from tachyon import exception
from tachyon.graph import sessions
from tachyon.model import records
from tachyon.simulation import deltas
from tachyon.simulation import validation
from tachyon.simulation import virtual
from tachyon.simulation import writes

LOG = logging.getLogger(__name__)

#: How deep forks nest: a root's fork is at depth 1.
MAX_FORK_DEPTH = 8


class SessionManager(object):
    """Create, query, commit and end simulation sessions."""

    def __init__(self, conf, graph):
        self.conf = conf
        self.graph = graph

    @property
    def _opts(self):
        return self.conf.simulation

    @staticmethod
    def _session_id(session_id, optional=False):
        if session_id is None and optional:
            return None
        return validation.check_ident('session_id', session_id)

    def check_session(self, session_id, statuses=(sessions.ACTIVE,)):
        """The session exists and has one of ``statuses`` (one read).

        An active session must also be within its TTL. The RPC endpoint
        checks every ``session_id`` it is sent with this before the call
        runs, so that a call naming an ended session never answers with
        the global view nor writes.

        :raises: NotFound, InvalidState (another status) or SessionExpired.
        """
        session = sessions.get_session(self.graph,
                                       self._session_id(session_id))
        if session['status'] not in statuses:
            raise exception.InvalidState(
                kind='Simulation session', ident=session_id,
                state=session['status'], reason='this call takes a session '
                'that is %s' % ' or '.join(statuses))
        if (session['status'] == sessions.ACTIVE
                and session['expires_at'] <= time.time()):
            raise exception.SessionExpired(session_id=session_id)
        return session

    @staticmethod
    def _replayed(answer, what, session_id, request_id):
        """``answer`` without its replay flag; a replay is logged."""
        if answer.pop('replayed', False):
            LOG.info('Simulation session %s: %s request %s was sent again; '
                     'answered as the first time, nothing written',
                     session_id, what, request_id)
            return True
        return False

    def create_session(self, ttl=None, audit_uuid=None, request_id=None):
        """A new active session.

        ``request_id``: the caller's id of this creation. Sent again under
        it (its answer was lost), the call creates nothing and answers
        the session the first attempt created.
        """
        if ttl is None:
            ttl = self._opts.default_ttl
        validation.check_ttl(ttl, self._opts.max_ttl)
        validation.check_optional_ident('audit_uuid', audit_uuid)
        request_id = validation.check_optional_ident('request_id',
                                                     request_id)
        session = sessions.create_session(
            self.graph, uuidutils.generate_uuid(), ttl, audit_uuid,
            max_active=self._opts.max_active_sessions,
            request_id=request_id)
        if not self._replayed(session, 'creation', session['id'],
                              request_id):
            LOG.info('Simulation session %s created (ttl %ss, audit %s)',
                     session['id'], ttl, audit_uuid)
        return session

    def get_session(self, session_id):
        return sessions.get_session(self.graph, self._session_id(session_id))

    def list_sessions(self, status=None):
        return sessions.list_sessions(
            self.graph, validation.check_status('status', status))

    def record_deltas(self, session_id, deltas, request_id=None):
        session_id = self._session_id(session_id)
        specs = validation.check_deltas('deltas', deltas)
        if request_id is not None:
            request_id = validation.check_ident('request_id', request_id)
        return writes.record_deltas(
            self.graph, session_id, specs,
            max_deltas=self._opts.max_deltas_per_session,
            request_id=request_id)

    def migrate_instance(self, session_id, instance_uuid, source_uuid,
                         destination_uuid, check_capacity=True,
                         request_id=None):
        """Watcher's migrate_instance in simulation mode: a MOVE delta.

        ``request_id``: the caller's id of the move, as a batch's in
        :meth:`record_deltas`: sent again, it records nothing and
        answers the sequence the move got the first time.
        """
        validation.check_flag('check_capacity', check_capacity)
        return self.record_deltas(session_id, [{
            'type': deltas.MOVE, 'consumer_uuid': instance_uuid,
            'source_uuid': source_uuid,
            'destination_uuid': destination_uuid,
            'check_capacity': check_capacity}], request_id=request_id)[0]

    def get_deltas(self, session_id):
        return sessions.get_deltas(self.graph, self._session_id(session_id))

    def get_consumer_location(self, session_id, consumer_uuid):
        return virtual.get_consumer_location(
            self.graph, self._session_id(session_id, True),
            validation.check_ident('consumer_uuid', consumer_uuid))

    def list_compute_nodes(self, session_id=None):
        """Every compute node as the session sees it, sorted by uuid."""
        return [records.as_dict(n) for n in virtual.list_compute_nodes(
            self.graph, self._session_id(session_id, True))]

    def get_node_by_instance(self, instance_uuid, session_id=None):
        """The node an instance runs on in the session."""
        instance_uuid = validation.check_ident('instance_uuid',
                                               instance_uuid)
        return records.as_dict(virtual.get_node_by_instance(
            self.graph, self._session_id(session_id, True), instance_uuid))

    def get_node_used_resources(self, node_uuid, session_id=None):
        return virtual.get_node_used_resources(
            self.graph, self._session_id(session_id, True),
            validation.check_ident('node_uuid', node_uuid))

    def get_node_free_resources(self, node_uuid, session_id=None):
        return virtual.get_node_free_resources(
            self.graph, self._session_id(session_id, True),
            validation.check_ident('node_uuid', node_uuid))

    def get_node_instances(self, node_uuid, session_id=None):
        return [records.as_dict(i) for i in virtual.get_node_instances(
            self.graph, self._session_id(session_id, True),
            validation.check_ident('node_uuid', node_uuid))]

    def get_all_nodes_usage(self, session_id=None):
        return virtual.get_all_nodes_usage(
            self.graph, self._session_id(session_id, True))

    def get_utilization(self, resource_class, session_id=None):
        return virtual.get_utilization(
            self.graph, self._session_id(session_id, True),
            validation.check_resource_class('resource_class',
                                            resource_class))

    def get_balance_score(self, resource_class, session_id=None):
        return virtual.get_balance_score(
            self.graph, self._session_id(session_id, True),
            validation.check_resource_class('resource_class',
                                            resource_class))

    def find_destinations(self, instance_uuid, session_id=None, limit=10):
        validation.check_limit('limit', limit,
                               self.conf.engine.max_page_size)
        return virtual.find_destinations(
            self.graph, self._session_id(session_id, True),
            validation.check_ident('instance_uuid', instance_uuid), limit)

    def get_compute_model(self, session_id=None):
        """The compute model (records), the session's deltas applied.

        The session may have ended: its kept deltas are applied.
        """
        return virtual.get_compute_model(
            self.graph, self._session_id(session_id, True))

    def commit_session(self, session_id, request_id=None):
        """Apply the session; ``request_id``: see writes.commit_session."""
        session_id = self._session_id(session_id)
        return writes.commit_session(
            self.graph, session_id,
            validation.check_optional_ident('request_id', request_id))

    def rollback_session(self, session_id, request_id=None):
        """Roll back a session and its forks.

        ``request_id``: the caller's id of the call; the same call sent
        again answers as the first time (see sessions.rollback_session).
        """
        return self._end(sessions.rollback_session, 'rollback',
                         session_id, request_id)

    def close_session(self, session_id, request_id=None):
        """End a session unapplied; ``request_id`` as a rollback's."""
        result, replayed = self._ended(sessions.close_session, 'close',
                                       session_id, request_id)
        if not replayed:
            LOG.info('Simulation session %s closed (audit %s, %d deltas)',
                     result.get('id', session_id), result.get('audit_uuid'),
                     result.get('delta_count') or 0)
        return result

    def expire_session(self, session_id, request_id=None):
        """End a session now, as its TTL would, with its forks.

        ``request_id``: the caller's id of the call; the same expiry sent
        again answers as the first time (see sessions.expire_session).
        """
        return self._end(sessions.expire_session, 'expiry', session_id,
                         request_id)

    def _ended(self, end, what, session_id, request_id):
        """(``end``'s answer, whether it was a kept one) of a session end.

        ``end`` is the sessions function (a rollback, a close, an
        expiry) called with the checked ``session_id`` and
        ``request_id``; ``what`` names it in the log.
        """
        session_id = self._session_id(session_id)
        request_id = validation.check_optional_ident('request_id',
                                                     request_id)
        result = end(self.graph, session_id, request_id=request_id)
        return result, self._replayed(result, what, session_id, request_id)

    def _end(self, end, what, session_id, request_id):
        return self._ended(end, what, session_id, request_id)[0]

    def fork_session(self, session_id, ttl=None, request_id=None):
        """A fork of an active session: it sees the parent's deltas so far.

        ``ttl`` (default [simulation]/default_ttl) is cut to the parent's
        remaining time. ``request_id``: as :meth:`create_session`'s.
        """
        session_id = self._session_id(session_id)
        if ttl is None:
            ttl = self._opts.default_ttl
        validation.check_ttl(ttl, self._opts.max_ttl)
        request_id = validation.check_optional_ident('request_id',
                                                     request_id)
        session = sessions.fork_session(
            self.graph, session_id, uuidutils.generate_uuid(), ttl,
            MAX_FORK_DEPTH, max_active=self._opts.max_active_sessions,
            request_id=request_id)
        if not self._replayed(session, 'fork', session['id'], request_id):
            LOG.info('Simulation session %s forked from %s (depth %d)',
                     session['id'], session_id, session['depth'])
        return session

    def merge_session(self, session_id, request_id=None):
        """Apply a fork's deltas to its parent, all or none.

        ``request_id``: the caller's id of the merge; its answer is kept
        on the fork, and the same merge sent again answers it.
        """
        session_id = self._session_id(session_id)
        request_id = validation.check_optional_ident('request_id',
                                                     request_id)
        result = writes.merge_session(
            self.graph, session_id,
            max_deltas=self._opts.max_deltas_per_session,
            request_id=request_id)
        if not self._replayed(result, 'merge', session_id, request_id):
            LOG.info('Simulation session %s merged into %s: %d deltas',
                     session_id, result['session_id'],
                     len(result['sequences']))
        return result

    def revert_session(self, session_id, request_id=None):
        """Drop a fork and its own forks (a root: roll it back)."""
        session_id = self._session_id(session_id)
        request_id = validation.check_optional_ident('request_id',
                                                     request_id)
        result = sessions.rollback_session(self.graph, session_id,
                                           request_id=request_id)
        if not self._replayed(result, 'revert', session_id, request_id):
            LOG.info('Simulation session %s reverted (with %d forks)',
                     session_id, len(result['descendants']))
        return result

    def reap(self):
        """Expire sessions past their TTL; purge long-finished ones."""
        expired, purged = sessions.reap_sessions(
            self.graph, self._opts.finished_session_retention)
        if expired or purged:
            LOG.info('Session reaper: %d expired, %d purged', len(expired),
                     purged)
        return {'expired': expired, 'purged': purged}
