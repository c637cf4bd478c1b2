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

Every method checks its input first (InvalidParameter naming the field)
and then makes one call into :mod:`tachyon.graph.sessions`, so a rejected
call writes nothing. Answers are plain JSON-safe dicts and lists.
"""

from oslo_log import log as logging
from oslo_utils import uuidutils

from tachyon import exception
from tachyon.graph import sessions
from tachyon.model import records

LOG = logging.getLogger(__name__)

MAX_ID_LENGTH = 255


def check_ident(field, value):
    """A uuid or name given by a caller: a non-empty short string."""
    if not isinstance(value, str) or not value.strip():
        raise exception.InvalidParameter(field=field,
                                         reason='must be a non-empty string')
    if len(value) > MAX_ID_LENGTH:
        raise exception.InvalidParameter(
            field=field, reason='longer than %d characters' % MAX_ID_LENGTH)
    return value


def check_amount(field, value):
    if isinstance(value, bool) or not isinstance(value, int):
        raise exception.InvalidParameter(
            field=field, reason='%r is not an integer' % (value,))
    if value < 0:
        raise exception.InvalidParameter(
            field=field, reason='%r is negative' % (value,))
    return value


def check_flag(field, value):
    if not isinstance(value, bool):
        raise exception.InvalidParameter(field=field,
                                         reason='must be true or false')
    return value


def check_resource_class(field, value):
    if value not in sessions.RESOURCE_CLASSES:
        raise exception.InvalidParameter(
            field=field, reason='%r is not one of %s' % (
                value, ', '.join(sessions.RESOURCE_CLASSES)))
    return value


def check_resources(field, value):
    if not isinstance(value, dict) or not value:
        raise exception.InvalidParameter(
            field=field, reason='must map resource classes to amounts')
    result = dict.fromkeys(sessions.RESOURCE_CLASSES, 0)
    for rc, amount in value.items():
        check_resource_class('%s.%s' % (field, rc), rc)
        result[rc] = check_amount('%s.%s' % (field, rc), amount)
    return result


def check_delta(index, spec):
    prefix = 'deltas[%d]' % index
    if not isinstance(spec, dict):
        raise exception.InvalidParameter(field=prefix,
                                         reason='must be a mapping')
    kind = spec.get('type')
    if kind not in sessions.DELTA_TYPES:
        raise exception.InvalidParameter(
            field=prefix + '.type', reason='%r is not one of %s' % (
                kind, ', '.join(sessions.DELTA_TYPES)))
    clean = {'type': kind,
             'consumer_uuid': check_ident(prefix + '.consumer_uuid',
                                          spec.get('consumer_uuid')),
             'source_uuid': None, 'destination_uuid': None,
             'check_capacity': check_flag(prefix + '.check_capacity',
                                          spec.get('check_capacity', True))}
    if kind in (sessions.MOVE, sessions.DEALLOCATE, sessions.RESIZE):
        clean['source_uuid'] = check_ident(prefix + '.source_uuid',
                                           spec.get('source_uuid'))
    if kind in (sessions.MOVE, sessions.ALLOCATE):
        clean['destination_uuid'] = check_ident(
            prefix + '.destination_uuid', spec.get('destination_uuid'))
    if kind in (sessions.ALLOCATE, sessions.RESIZE):
        clean['resources'] = check_resources(prefix + '.resources',
                                             spec.get('resources'))
    elif spec.get('resources') is not None:
        # MOVE and DEALLOCATE take the consumer's own amounts; given ones
        # are still checked so that garbage is not silently ignored.
        check_resources(prefix + '.resources', spec['resources'])
    return clean


def _instance_dict(inst):
    return records.as_dict(inst)


class SessionManager(object):
    """Create, query, commit and end simulation sessions."""

    def __init__(self, conf, graph):
        self.conf = conf
        self.graph = graph

    @property
    def _opts(self):
        return self.conf.simulation

    def _session_id(self, session_id, optional=False):
        if session_id is None and optional:
            return None
        return check_ident('session_id', session_id)

    def create_session(self, ttl=None, audit_uuid=None):
        if ttl is None:
            ttl = self._opts.default_ttl
        check_amount('ttl', ttl)
        if ttl < 1 or ttl > self._opts.max_ttl:
            raise exception.InvalidParameter(
                field='ttl', reason='%s is not between 1 and the maximum %s'
                % (ttl, self._opts.max_ttl))
        if audit_uuid is not None:
            check_ident('audit_uuid', audit_uuid)
        session = sessions.create_session(
            self.graph, uuidutils.generate_uuid(), ttl, audit_uuid,
            max_active=self._opts.max_active_sessions)
        LOG.info('Simulation session %s created (ttl %ss, audit %s)',
                 session['id'], ttl, audit_uuid)
        return session

    def get_session(self, session_id):
        return sessions.get_session(self.graph, self._session_id(session_id))

    def list_sessions(self, status=None):
        if status is not None and status not in sessions.STATUSES:
            raise exception.InvalidParameter(
                field='status', reason='%r is not one of %s' % (
                    status, ', '.join(sessions.STATUSES)))
        return sessions.list_sessions(self.graph, status)

    def record_deltas(self, session_id, deltas):
        session_id = self._session_id(session_id)
        if not isinstance(deltas, (list, tuple)) or not deltas:
            raise exception.InvalidParameter(
                field='deltas', reason='must be a non-empty list')
        specs = [check_delta(i, d) for i, d in enumerate(deltas)]
        return sessions.record_deltas(
            self.graph, session_id, specs,
            max_deltas=self._opts.max_deltas_per_session)

    def migrate_instance(self, session_id, instance_uuid, source_uuid,
                         destination_uuid, check_capacity=True):
        """Watcher's migrate_instance in simulation mode: a MOVE delta."""
        return self.record_deltas(session_id, [{
            'type': sessions.MOVE, 'consumer_uuid': instance_uuid,
            'source_uuid': source_uuid,
            'destination_uuid': destination_uuid,
            'check_capacity': check_capacity}])[0]

    def get_deltas(self, session_id):
        return sessions.get_deltas(self.graph, self._session_id(session_id))

    def get_consumer_location(self, session_id, consumer_uuid):
        return sessions.get_consumer_location(
            self.graph, self._session_id(session_id, True),
            check_ident('consumer_uuid', consumer_uuid))

    def get_node_used_resources(self, node_uuid, session_id=None):
        return sessions.get_node_used_resources(
            self.graph, self._session_id(session_id, True),
            check_ident('node_uuid', node_uuid))

    def get_node_free_resources(self, node_uuid, session_id=None):
        return sessions.get_node_free_resources(
            self.graph, self._session_id(session_id, True),
            check_ident('node_uuid', node_uuid))

    def get_node_instances(self, node_uuid, session_id=None):
        return [_instance_dict(i) for i in sessions.get_node_instances(
            self.graph, self._session_id(session_id, True),
            check_ident('node_uuid', node_uuid))]

    def get_all_nodes_usage(self, session_id=None):
        return sessions.get_all_nodes_usage(
            self.graph, self._session_id(session_id, True))

    def get_utilization(self, resource_class, session_id=None):
        return sessions.get_utilization(
            self.graph, self._session_id(session_id, True),
            check_resource_class('resource_class', resource_class))

    def get_balance_score(self, resource_class, session_id=None):
        return sessions.get_balance_score(
            self.graph, self._session_id(session_id, True),
            check_resource_class('resource_class', resource_class))

    def find_destinations(self, instance_uuid, session_id=None, limit=10):
        check_amount('limit', limit)
        if limit < 1 or limit > self.conf.engine.max_page_size:
            raise exception.InvalidParameter(
                field='limit', reason='must be between 1 and %d'
                % self.conf.engine.max_page_size)
        return sessions.find_destinations(
            self.graph, self._session_id(session_id, True),
            check_ident('instance_uuid', instance_uuid), limit)

    def commit_session(self, session_id):
        result = sessions.commit_session(self.graph,
                                         self._session_id(session_id))
        LOG.info('Simulation session %s committed: %d deltas, global '
                 'generation %d', session_id, result['applied'],
                 result['generation'])
        return result

    def rollback_session(self, session_id):
        return sessions.rollback_session(self.graph,
                                         self._session_id(session_id))

    def close_session(self, session_id):
        result = sessions.close_session(self.graph,
                                        self._session_id(session_id))
        LOG.info('Simulation session %s closed (audit %s, %d deltas)',
                 session_id, result.get('audit_uuid'),
                 result.get('delta_count') or 0)
        return result

    def expire_session(self, session_id):
        return sessions.expire_session(self.graph,
                                       self._session_id(session_id))

    def reap(self):
        """Expire sessions past their TTL; purge long-finished ones."""
        expired, purged = sessions.reap_sessions(
            self.graph, self._opts.finished_session_retention)
        if expired or purged:
            LOG.info('Session reaper: %d expired, %d purged', len(expired),
                     purged)
        return {'expired': expired, 'purged': purged}
