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

"""``tachyon-manage reservation``: the capacity pending plans hold.

::

    tachyon-manage reservation list [--state active|ended]
                                    [-f table|json|value]
    tachyon-manage reservation show ACTION_PLAN_UUID [-f table|json|value]
    tachyon-manage reservation release ACTION_PLAN_UUID

A reservation is named by the uuid of its Watcher action plan.
``release`` ends one now (its holds stop counting at once), as if its
plan had ended; a later notification of the plan never makes it hold
again.
"""

from tachyon.cmd import formatters
from tachyon.cmd import manage
from tachyon.graph import reservations
from tachyon.graph import schema

_LIST_COLUMNS = (('action_plan_uuid', 'Action plan'), ('state', 'State'),
                 ('plan_state', 'Plan state'), ('audit_uuid', 'Audit'),
                 ('holding', 'Holding'), ('moves', 'Moves'),
                 ('created_at', 'Created (UTC)'),
                 ('expires_at', 'Expires (UTC)'),
                 ('conflicts', 'Conflicts'))
_FIELDS = ('action_plan_uuid', 'state', 'plan_state', 'audit_uuid',
           'session_id', 'moves', 'created_at', 'expires_at', 'ended_at',
           'end_reason', 'conflicts', 'checked_at')
_HOLD_COLUMNS = (('consumer_uuid', 'Instance'), ('source_uuid', 'Source'),
                 ('destination_uuid', 'Destination'), ('state', 'State'),
                 ('resources', 'Held'), ('end_reason', 'Ended by'))
_OVER_COLUMNS = (('node_uuid', 'Node'), ('resource_class', 'Class'),
                 ('capacity', 'Capacity'), ('taken', 'Used + held'))


def _value(key, value):
    if key.endswith('_at'):
        return formatters.when(value)
    if key == 'conflicts':
        return ', '.join(value or ()) or '-'
    return value


class ReservationCommands(object):
    """Capacity held by pending Watcher action plans."""

    def list(self, state=None, format=formatters.TABLE):
        """List reservations (all, or those of one state)."""
        with manage.open_graph() as graph:
            schema.check(graph)
            # Those past their TTL are shown ended (they already hold
            # nothing: every read checks the TTL).
            reservations.sweep_now(graph)
            found = reservations.list_reservations(graph, state)
        formatters.emit([formatters.Listing(
            'reservations', [k for k, _h in _LIST_COLUMNS],
            [[_value(key, r.get(key)) for key, _h in _LIST_COLUMNS]
             for r in found],
            headers=[h for _k, h in _LIST_COLUMNS],
            empty='No reservation.', data=found)], format)

    def show(self, action_plan_uuid, format=formatters.TABLE):
        """Show one reservation, its holds and what overcommits now."""
        with manage.open_graph() as graph:
            schema.check(graph)
            r = reservations.get_reservation(graph, action_plan_uuid)
        holds = r['holds']
        formatters.emit([
            formatters.Record('reservation', [
                (key, _value(key, r.get(key))) for key in _FIELDS],
                data=r),
            formatters.Listing(
                'holds', [k for k, _h in _HOLD_COLUMNS],
                [[(', '.join('%s=%s' % kv for kv in sorted(
                    h['resources'].items())) or '-')
                  if key == 'resources' else h.get(key)
                  for key, _h in _HOLD_COLUMNS] for h in holds],
                headers=[h for _k, h in _HOLD_COLUMNS],
                title='Holds (%d)' % len(holds), empty='No hold.',
                data=holds),
            formatters.Listing(
                'overcommitted', [k for k, _h in _OVER_COLUMNS],
                [[o[key] for key, _h in _OVER_COLUMNS]
                 for o in r['overcommitted']],
                headers=[h for _k, h in _OVER_COLUMNS],
                title='Destinations overcommitted now',
                empty='None: every held destination has room.',
                data=r['overcommitted']),
        ], format)

    def release(self, action_plan_uuid):
        """End a reservation now: its capacity is free for other audits."""
        with manage.open_graph() as graph:
            schema.check(graph)
            ended = reservations.release(graph, action_plan_uuid)
        print('Reservation of action plan %s released (%d hold%s ended).'
              % (action_plan_uuid, ended, '' if ended == 1 else 's'))


_ID = (('action_plan_uuid',), dict(metavar='ACTION_PLAN_UUID'))

manage.register('reservation', ReservationCommands, {
    'list': [(('--state',), dict(dest='state', choices=reservations.STATES,
                                 default=None)),
             formatters.FORMAT_ARG],
    'show': [_ID, formatters.FORMAT_ARG],
    'release': [_ID],
})
