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

"""The declared arguments of every RPC method of tachyon-engine.

:data:`SCHEMAS` maps each public method of
:class:`tachyon.rpc.manager.EngineManager` to its arguments, in the
order of its signature, each an :class:`Arg`: a :class:`Kind` (what
values it takes), whether it must be sent and whether it may be null.
:func:`check_call` applies a method's schema to what a caller sent, once,
where the call enters the engine:

* a keyword the method does not take, or a required one not sent:
  InvalidParameter naming it;
* each value: the kind's check (:mod:`tachyon.simulation.validation`):
  types (a bool is not an integer), ranges (integers within what Neo4j
  stores, ``0`` to ``2**63 - 1``, or tighter), lengths (names and ids at
  most 255 characters, lists bounded), uuids where Tachyon or Watcher
  generated them, mappings and their keys;
* a session id: then :func:`check_sessions` reads the session, which
  must exist and have a status the method takes (most take only an
  active session within its TTL). A commit's session is the exception
  (:data:`SESSION_TO_COMMIT`): the commit checks it itself; so is the
  session a close, rollback, revert, merge or expiry ends
  (:data:`SESSION_TO_END`, checked by the call itself).

Nothing is read or written before every argument passed, and the method
receives the checked (cleaned) values.

Every method also takes ``bookmarks`` (RPC API 1.4), a call option rather
than an argument of the method: :func:`pop_bookmarks` takes it out of the
call. A caller that sends it (a list of strings, empty on its first call)
gets ``{'result': answer, 'bookmarks': [...]}`` back instead of the plain
answer, and sends those bookmarks with its next call: that call's
transactions then see everything the earlier ones wrote, on whichever
engine and whichever Neo4j cluster member they run.
"""

from tachyon import exception
from tachyon.graph import reservations
from tachyon.graph import sessions
from tachyon.simulation import validation


class Kind(object):
    """What one argument takes.

    ``name`` names the kind (the API reference and the tests use it);
    ``check(field, value, conf)`` returns the value to use or raises
    InvalidParameter naming ``field``. ``statuses``: for a session id,
    the session statuses the call takes.
    """

    def __init__(self, name, check, statuses=None):
        self.name = name
        self.check = check
        self.statuses = statuses

    def __repr__(self):
        return 'Kind(%s)' % self.name


def _plain(func):
    return lambda field, value, conf: func(field, value)


IDENT = Kind('ident', _plain(validation.check_ident))
UUID = Kind('uuid', _plain(validation.check_uuid))
AMOUNT = Kind('amount', _plain(validation.check_amount))
FLAG = Kind('flag', _plain(validation.check_flag))
RESOURCE_CLASS = Kind('resource_class',
                      _plain(validation.check_resource_class))
STATUS = Kind('status', _plain(validation.check_status))
PAYLOAD = Kind('payload', _plain(validation.check_payload))
SCOPE = Kind('scope', lambda field, value, conf: validation.check_scope(
    value))
PAGE_SIZE = Kind('page_size', lambda field, value, conf:
                 validation.check_limit(field, value,
                                        conf.engine.max_page_size))
TTL = Kind('ttl', lambda field, value, conf: validation.check_ttl(
    value, conf.simulation.max_ttl))
DELTAS = Kind('deltas', lambda field, value, conf: validation.check_deltas(
    field, value, conf.simulation.max_deltas_per_session))


def _reservation_state(field, value, conf):
    if not isinstance(value, str) or value not in reservations.STATES:
        raise exception.InvalidParameter(
            field=field, reason='%s is not one of %s' % (
                validation.show(value), ', '.join(reservations.STATES)))
    return value


#: A reservation's state (1.6): active or ended.
RESERVATION_STATE = Kind('reservation_state', _reservation_state)
#: A session the call works in: active, within its TTL.
ACTIVE_SESSION = Kind('active_session', _plain(validation.check_uuid),
                      (sessions.ACTIVE,))
#: A session whose view a snapshot shows: active, or closed (an audit's
#: kept deltas).
SESSION_VIEW = Kind('session_view', _plain(validation.check_uuid),
                    (sessions.ACTIVE, sessions.CLOSED))
#: A session looked at whatever its status.
ANY_SESSION = Kind('any_session', _plain(validation.check_uuid),
                   sessions.STATUSES)
#: The session a commit names (1.7): a uuid, not read here. The commit
#: reads it in its own transaction, under the session's lock: a commit
#: sent again under its request id gets the first answer there, even
#: once the session is no longer active (the first attempt committed
#: it) or past its TTL; any other refusal is the one an active_session
#: gets (NotFound, InvalidState, SessionExpired).
SESSION_TO_COMMIT = Kind('session_to_commit', _plain(validation.check_uuid))
#: The session a close, rollback, revert or merge (1.9), or an expiry
#: (1.10), names: a uuid, not read here. Sent with a ``request_id``, the
#: call reads it in its own transaction, under the session's lock, so
#: that the same call sent again answers as the first did though that
#: ended the session; sent without, the endpoint checks it as an
#: active_session first.
SESSION_TO_END = Kind('session_to_end', _plain(validation.check_uuid))


class Arg(object):
    """One argument: its kind, whether it must be sent, whether null."""

    def __init__(self, kind, required=True, nullable=False):
        self.kind = kind
        self.required = required
        self.nullable = nullable

    def __repr__(self):
        return 'Arg(%s%s%s)' % (self.kind.name,
                                '' if self.required else ', optional',
                                ', nullable' if self.nullable else '')


def required(kind, nullable=False):
    return Arg(kind, True, nullable)


def optional(kind, nullable=True):
    """An argument with a default; ``nullable``: None may be sent too."""
    return Arg(kind, False, nullable)


_NODE = {'node_uuid': required(IDENT),
         'session_id': optional(ACTIVE_SESSION)}

#: method -> {argument: Arg}, in the order of the method's signature.
SCHEMAS = {
    'ping': {'payload': optional(PAYLOAD)},
    'get_generation': {},
    'list_compute_nodes': {'session_id': optional(ACTIVE_SESSION)},
    'get_compute_node': {'uuid': required(IDENT)},
    'get_compute_node_by_name': {'hostname': required(IDENT)},
    'get_instance': {'uuid': required(IDENT)},
    'list_instances': {'marker': optional(IDENT),
                       'limit': optional(PAGE_SIZE)},
    'get_node_by_instance': {'instance_uuid': required(IDENT),
                             'session_id': optional(ACTIVE_SESSION)},
    'get_node_instances': dict(_NODE),
    'get_node_used_resources': dict(_NODE),
    'get_node_free_resources': dict(_NODE),
    'get_all_nodes_usage': {'session_id': optional(ACTIVE_SESSION)},
    'find_nodes_with_capacity': {'resource_class': required(RESOURCE_CLASS),
                                 'amount': required(AMOUNT)},
    'migrate_instance': {
        'instance_uuid': required(IDENT),
        'source_node_uuid': required(IDENT),
        'destination_node_uuid': required(IDENT),
        'session_id': optional(ACTIVE_SESSION),
        'expected_generation': optional(AMOUNT),
        'check_capacity': optional(FLAG, nullable=False),
        # The client's id of the move (idempotent): 1.7 for a session's
        # move, 1.10 for a move in the global graph.
        'request_id': optional(IDENT)},
    'get_compute_snapshot': {'scope': optional(SCOPE),
                             'session_id': optional(SESSION_VIEW),
                             'columns': optional(FLAG, nullable=False),
                             'packed': optional(FLAG, nullable=False)},
    'get_storage_node': {'host': required(IDENT)},
    'get_pool': {'name': required(IDENT)},
    'get_volume': {'uuid': required(IDENT)},
    'get_pool_volumes': {'pool_name': required(IDENT)},
    'get_ironic_node': {'uuid': required(IDENT)},
    'get_storage_snapshot': {},
    'get_baremetal_snapshot': {},
    'create_session': {'ttl': optional(TTL), 'audit_uuid': optional(UUID),
                       # 1.9: the client's id of the creation (idempotent).
                       'request_id': optional(IDENT)},
    'get_session': {'session_id': required(ANY_SESSION)},
    'list_sessions': {'status': optional(STATUS)},
    'record_deltas': {'session_id': required(ACTIVE_SESSION),
                      'deltas': required(DELTAS),
                      # 1.5: the client's id of the batch (idempotent).
                      'request_id': optional(IDENT)},
    # Null: where the instance is in the global graph.
    'get_consumer_location': {
        'session_id': required(ACTIVE_SESSION, nullable=True),
        'consumer_uuid': required(IDENT)},
    'get_utilization': {'resource_class': required(RESOURCE_CLASS),
                        'session_id': optional(ACTIVE_SESSION)},
    'get_balance_score': {'resource_class': required(RESOURCE_CLASS),
                          'session_id': optional(ACTIVE_SESSION)},
    'find_destinations': {'instance_uuid': required(IDENT),
                          'session_id': optional(ACTIVE_SESSION),
                          'limit': optional(PAGE_SIZE, nullable=False)},
    'commit_session': {'session_id': required(SESSION_TO_COMMIT),
                       # 1.7: the client's id of the commit (idempotent).
                       'request_id': optional(IDENT)},
    # request_id, the client's id of the call (idempotent), for each of
    # the session's life calls below: 1.9, and 1.10 for expire_session.
    'rollback_session': {'session_id': required(SESSION_TO_END),
                         'request_id': optional(IDENT)},
    'expire_session': {'session_id': required(SESSION_TO_END),
                       'request_id': optional(IDENT)},
    'close_session': {'session_id': required(SESSION_TO_END),
                      'request_id': optional(IDENT)},
    'get_session_deltas': {'session_id': required(ANY_SESSION)},
    'fork_session': {'session_id': required(ACTIVE_SESSION),
                     'ttl': optional(TTL),
                     'request_id': optional(IDENT)},
    'merge_session': {'session_id': required(SESSION_TO_END),
                      'request_id': optional(IDENT)},
    'revert_session': {'session_id': required(SESSION_TO_END),
                       'request_id': optional(IDENT)},
    # 1.6
    'list_reservations': {'state': optional(RESERVATION_STATE)},
    'get_reservation': {'action_plan_uuid': required(UUID)},
}


#: The call option every method takes (1.4): see :func:`pop_bookmarks`.
BOOKMARKS = 'bookmarks'

#: At most this many bookmarks, each at most MAX_BOOKMARK_LENGTH
#: characters: a Neo4j bookmark is some 50 to 100 characters and a
#: caller's chain holds one per call it has in flight.
MAX_BOOKMARKS = 64
MAX_BOOKMARK_LENGTH = 1024


def pop_bookmarks(kwargs):
    """Take the ``bookmarks`` option out of a call's ``kwargs``.

    :returns: None when the caller sent none (it gets the plain answer),
        else the checked list of bookmark strings.
    :raises: InvalidParameter naming ``bookmarks``.
    """
    if BOOKMARKS not in kwargs:
        return None
    value = kwargs.pop(BOOKMARKS)
    if not isinstance(value, (list, tuple)):
        raise exception.InvalidParameter(
            field=BOOKMARKS, reason='must be a list of strings, not %s'
            % type(value).__name__)
    if len(value) > MAX_BOOKMARKS:
        raise exception.InvalidParameter(
            field=BOOKMARKS, reason='%d bookmarks, at most %d are taken'
            % (len(value), MAX_BOOKMARKS))
    for index, item in enumerate(value):
        if not isinstance(item, str) or not item:
            raise exception.InvalidParameter(
                field='%s[%d]' % (BOOKMARKS, index),
                reason='must be a non-empty string')
        if len(item) > MAX_BOOKMARK_LENGTH:
            raise exception.InvalidParameter(
                field='%s[%d]' % (BOOKMARKS, index),
                reason='longer than %d characters' % MAX_BOOKMARK_LENGTH)
    return list(value)


def check_call(method, args, kwargs, conf):
    """The checked arguments of a call of ``method``, by name.

    ``args`` (positional, in the schema's order; in-process callers) and
    ``kwargs`` (what an RPC caller sent) are those of the call. Arguments
    not sent are not in the answer: the method's defaults apply.

    :raises: InvalidParameter naming the first argument at fault.
    """
    schema = SCHEMAS.get(method)
    if schema is None:
        raise exception.InvalidParameter(
            field=method, reason='no such RPC method is declared')
    names = list(schema)
    if len(args) > len(names):
        raise exception.InvalidParameter(
            field=method, reason='takes at most %d arguments, %d given'
            % (len(names), len(args)))
    sent = dict(zip(names, args))
    for name, value in kwargs.items():
        if name not in schema:
            raise exception.InvalidParameter(
                field=validation.key_name(name),
                reason='%s takes no such argument (it takes %s)' % (
                    method, ', '.join(names) or 'none'))
        if name in sent:
            raise exception.InvalidParameter(
                field=name, reason='given twice')
        sent[name] = value
    clean = {}
    for name, arg in schema.items():
        if name not in sent:
            if arg.required:
                raise exception.InvalidParameter(
                    field=name, reason='%s needs it' % method)
            continue
        value = sent[name]
        if value is None:
            if not arg.nullable:
                raise exception.InvalidParameter(field=name,
                                                 reason='must not be null')
            clean[name] = None
        else:
            clean[name] = arg.kind.check(name, value, conf)
    return clean


def check_sessions(method, clean, check_session):
    """Check each session id of a checked call with ``check_session``.

    ``check_session(session_id, statuses)`` raises when the session does
    not exist or has none of ``statuses``
    (:meth:`tachyon.simulation.manager.SessionManager.check_session`).
    """
    for name, arg in SCHEMAS[method].items():
        if arg.kind.statuses is not None and clean.get(name) is not None:
            check_session(clean[name], arg.kind.statuses)
