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

"""Argument checks of the engine's API, done once where a call enters.

Every function takes the parameter's name (``field``) and the value a
caller sent, raises InvalidParameter naming the field when the value is
malformed or out of range, and returns the value to use. The RPC endpoint
(:mod:`tachyon.rpc.manager`) checks its own arguments with them, and
:class:`tachyon.simulation.manager.SessionManager` those of the session
calls it serves (to the endpoint and to ``tachyon-manage``), so nothing
past them checks again and a rejected call writes nothing.
"""

from oslo_utils import uuidutils

from tachyon import exception
from tachyon.graph import sessions
from tachyon.simulation import deltas
from tachyon.simulation import audit_scope

MAX_ID_LENGTH = 255
#: The largest integer Neo4j (a signed 64-bit integer) and Watcher's
#: database columns store; a larger one cannot reach the graph.
MAX_INT = 2 ** 63 - 1
#: Most names or ids one list argument (a scope's) may hold.
MAX_LIST_LENGTH = 100000
#: The keys a delta request may have.
DELTA_KEYS = ('type', 'consumer_uuid', 'source_uuid', 'destination_uuid',
              'resources', 'check_capacity')


def show(value, limit=64):
    """``repr(value)`` cut to ``limit`` characters, for error messages."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + '...'


def key_name(key):
    """A mapping's key as part of a field name: itself when short."""
    if isinstance(key, str) and len(key) <= 64 and key.isprintable():
        return key
    return show(key, 40)


def check_ident(field, value):
    """A uuid or name given by a caller: a non-empty short string.

    Not necessarily an RFC 4122 uuid: Watcher's own models name nodes
    ``Node_0``. Control characters are never part of one.
    """
    if not isinstance(value, str) or not value.strip():
        raise exception.InvalidParameter(field=field,
                                         reason='must be a non-empty string')
    if len(value) > MAX_ID_LENGTH:
        raise exception.InvalidParameter(
            field=field, reason='longer than %d characters' % MAX_ID_LENGTH)
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise exception.InvalidParameter(
            field=field, reason='holds control characters')
    return value


def check_uuid(field, value):
    """A uuid Tachyon or Watcher generated (a session's, an audit's)."""
    if (not isinstance(value, str) or len(value) > MAX_ID_LENGTH
            or not uuidutils.is_uuid_like(value)):
        raise exception.InvalidParameter(
            field=field, reason='%s is not a uuid' % show(value))
    return value


def check_optional_uuid(field, value):
    """None, or a uuid as :func:`check_uuid` takes it."""
    return None if value is None else check_uuid(field, value)


def check_int(field, value, minimum=0, maximum=MAX_INT):
    """An integer (not a bool) from ``minimum`` to ``maximum``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise exception.InvalidParameter(
            field=field, reason='%s is not an integer' % show(value))
    if not minimum <= value <= maximum:
        raise exception.InvalidParameter(
            field=field, reason='%s is not between %d and %d' % (
                show(value), minimum, maximum))
    return value


def check_payload(field, value):
    """ping's echo: None, a short string or an integer."""
    if value is None or (isinstance(value, int)
                         and not isinstance(value, bool)):
        return None if value is None else check_int(
            field, value, -MAX_INT - 1)
    if not isinstance(value, str) or len(value) > MAX_ID_LENGTH:
        raise exception.InvalidParameter(
            field=field, reason='must be null, an integer or a string of '
            'at most %d characters' % MAX_ID_LENGTH)
    return value


def check_optional_ident(field, value):
    """None, or a uuid or name as :func:`check_ident` takes it."""
    return None if value is None else check_ident(field, value)


def check_amount(field, value):
    """A count or amount: an integer (not a bool), 0 to :data:`MAX_INT`."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise exception.InvalidParameter(
            field=field, reason='%s is not an integer' % show(value))
    if value < 0:
        raise exception.InvalidParameter(
            field=field, reason='%s is negative' % show(value))
    if value > MAX_INT:
        raise exception.InvalidParameter(
            field=field, reason='%s is larger than %d' % (show(value),
                                                          MAX_INT))
    return value


def check_flag(field, value):
    """True or false, nothing else."""
    if not isinstance(value, bool):
        raise exception.InvalidParameter(field=field,
                                         reason='must be true or false')
    return value


def check_resource_class(field, value):
    """One of the compute resource classes (VCPU, MEMORY_MB, DISK_GB)."""
    if value not in deltas.RESOURCE_CLASSES:
        raise exception.InvalidParameter(
            field=field, reason='%s is not one of %s' % (
                show(value), ', '.join(deltas.RESOURCE_CLASSES)))
    return value


def check_resources(field, value):
    """{resource class: amount}, the classes not given set to 0."""
    if not isinstance(value, dict) or not value:
        raise exception.InvalidParameter(
            field=field, reason='must map resource classes to amounts')
    result = dict.fromkeys(deltas.RESOURCE_CLASSES, 0)
    for rc, amount in value.items():
        name = '%s.%s' % (field, key_name(rc))
        check_resource_class(name, rc)
        result[rc] = check_amount(name, amount)
    return result


def check_delta(index, spec):
    """The delta request at ``deltas[index]``, cleaned.

    Each type takes the uuids it needs (a MOVE its source and
    destination, an ALLOCATE its destination, a DEALLOCATE or RESIZE its
    source) and, for ALLOCATE and RESIZE, ``resources``.
    """
    prefix = 'deltas[%d]' % index
    if not isinstance(spec, dict):
        raise exception.InvalidParameter(field=prefix,
                                         reason='must be a mapping')
    for key in spec:
        if key not in DELTA_KEYS:
            raise exception.InvalidParameter(
                field='%s.%s' % (prefix, key_name(key)),
                reason='not one of %s' % ', '.join(DELTA_KEYS))
    kind = spec.get('type')
    if kind not in deltas.DELTA_TYPES:
        raise exception.InvalidParameter(
            field=prefix + '.type', reason='%s is not one of %s' % (
                show(kind), ', '.join(deltas.DELTA_TYPES)))
    clean = {'type': kind,
             'consumer_uuid': check_ident(prefix + '.consumer_uuid',
                                          spec.get('consumer_uuid')),
             'source_uuid': None, 'destination_uuid': None,
             'check_capacity': check_flag(prefix + '.check_capacity',
                                          spec.get('check_capacity', True))}
    if kind in (deltas.MOVE, deltas.DEALLOCATE, deltas.RESIZE):
        clean['source_uuid'] = check_ident(prefix + '.source_uuid',
                                           spec.get('source_uuid'))
    if kind in (deltas.MOVE, deltas.ALLOCATE):
        clean['destination_uuid'] = check_ident(
            prefix + '.destination_uuid', spec.get('destination_uuid'))
    if kind in (deltas.ALLOCATE, deltas.RESIZE):
        clean['resources'] = check_resources(prefix + '.resources',
                                             spec.get('resources'))
    elif spec.get('resources') is not None:
        # MOVE and DEALLOCATE take the consumer's own amounts; given ones
        # are still checked so that garbage is not silently ignored.
        check_resources(prefix + '.resources', spec['resources'])
    return clean


def check_limit(field, value, maximum):
    """A page size or count: an integer from 1 to ``maximum``."""
    check_amount(field, value)
    if not 1 <= value <= maximum:
        raise exception.InvalidParameter(
            field=field, reason='must be between 1 and %d' % maximum)
    return value


def check_ttl(value, maximum):
    """A session's time to live in seconds, from 1 to ``maximum``."""
    check_amount('ttl', value)
    if value < 1 or value > maximum:
        raise exception.InvalidParameter(
            field='ttl', reason='%s is not between 1 and the maximum %s'
            % (value, maximum))
    return value


def check_status(field, value):
    """None, or one of the session statuses."""
    if value is not None and value not in sessions.STATUSES:
        raise exception.InvalidParameter(
            field=field, reason='%s is not one of %s' % (
                show(value), ', '.join(sessions.STATUSES)))
    return value


def check_deltas(field, value, maximum=None):
    """A non-empty list of delta requests, each as :func:`check_delta`.

    ``maximum``: the most a list may hold (a session's most deltas).
    """
    if not isinstance(value, (list, tuple)) or not value:
        raise exception.InvalidParameter(
            field=field, reason='must be a non-empty list')
    if maximum is not None and len(value) > maximum:
        raise exception.InvalidParameter(
            field=field, reason='%d deltas: more than a session may hold '
            '(%d)' % (len(value), maximum))
    return [check_delta(index, spec) for index, spec in enumerate(value)]


def check_scope(scope):
    """Watcher's audit scope, flattened: {key: [names or ids]}."""
    if scope is None:
        return {}
    if not isinstance(scope, dict):
        raise exception.InvalidParameter(field='scope',
                                         reason='must be a mapping')
    clean = {}
    for key, values in scope.items():
        if key not in audit_scope.SCOPE_KEYS:
            raise exception.InvalidParameter(
                field='scope.%s' % key_name(key),
                reason='not one of %s' % ', '.join(audit_scope.SCOPE_KEYS))
        field = 'scope.%s' % key
        if not isinstance(values, (list, tuple)):
            raise exception.InvalidParameter(field=field,
                                             reason='must be a list')
        if len(values) > MAX_LIST_LENGTH:
            raise exception.InvalidParameter(
                field=field, reason='more than %d entries' % MAX_LIST_LENGTH)
        for index, value in enumerate(values):
            # Names, or ids (an aggregate's may be an integer).
            item = '%s[%d]' % (field, index)
            if isinstance(value, int) and not isinstance(value, bool):
                check_amount(item, value)
            else:
                check_ident(item, value)
        clean[key] = {str(v) for v in values}
    return clean
