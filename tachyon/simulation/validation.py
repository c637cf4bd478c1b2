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

from tachyon import exception
from tachyon.graph import sessions
from tachyon.simulation import deltas
from tachyon.simulation import audit_scope

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


def check_optional_ident(field, value):
    """None, or a uuid or name as :func:`check_ident` takes it."""
    return None if value is None else check_ident(field, value)


def check_amount(field, value):
    """A count or amount: a non-negative integer (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise exception.InvalidParameter(
            field=field, reason='%r is not an integer' % (value,))
    if value < 0:
        raise exception.InvalidParameter(
            field=field, reason='%r is negative' % (value,))
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
            field=field, reason='%r is not one of %s' % (
                value, ', '.join(deltas.RESOURCE_CLASSES)))
    return value


def check_resources(field, value):
    """{resource class: amount}, the classes not given set to 0."""
    if not isinstance(value, dict) or not value:
        raise exception.InvalidParameter(
            field=field, reason='must map resource classes to amounts')
    result = dict.fromkeys(deltas.RESOURCE_CLASSES, 0)
    for rc, amount in value.items():
        check_resource_class('%s.%s' % (field, rc), rc)
        result[rc] = check_amount('%s.%s' % (field, rc), amount)
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
    kind = spec.get('type')
    if kind not in deltas.DELTA_TYPES:
        raise exception.InvalidParameter(
            field=prefix + '.type', reason='%r is not one of %s' % (
                kind, ', '.join(deltas.DELTA_TYPES)))
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
            field=field, reason='%r is not one of %s' % (
                value, ', '.join(sessions.STATUSES)))
    return value


def check_deltas(field, value):
    """A non-empty list of delta requests, each as :func:`check_delta`."""
    if not isinstance(value, (list, tuple)) or not value:
        raise exception.InvalidParameter(
            field=field, reason='must be a non-empty list')
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
                field='scope.%s' % key, reason='not one of %s'
                % ', '.join(audit_scope.SCOPE_KEYS))
        if not isinstance(values, (list, tuple)):
            raise exception.InvalidParameter(field='scope.%s' % key,
                                             reason='must be a list')
        clean[key] = {str(v) for v in values}
    return clean
