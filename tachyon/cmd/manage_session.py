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

"""tachyon-manage session: look at and end simulation sessions.

    tachyon-manage session list [--status active|closed|committed|...]
                                [-f table|json|value]
    tachyon-manage session show SESSION_ID [-f table|json|value]
    tachyon-manage session expire SESSION_ID
"""

from tachyon.cmd import formatters
from tachyon.cmd import manage
from tachyon.graph import schema
from tachyon.graph import sessions
from tachyon.simulation import manager as sim_manager


def _manager(graph):
    schema.check(graph)
    return sim_manager.SessionManager(manage.CONF, graph)


_LIST_COLUMNS = (('id', 'ID'), ('status', 'Status'),
                 ('created_at', 'Created (UTC)'),
                 ('expires_at', 'Expires (UTC)'), ('delta_count', 'Deltas'),
                 ('audit_uuid', 'Audit'))
_SESSION_FIELDS = ('id', 'status', 'audit_uuid', 'base_generation',
                   'created_at', 'expires_at', 'finished_at')
_DELTA_COLUMNS = (('sequence', 'Sequence'), ('type', 'Type'),
                  ('consumer_uuid', 'Consumer'), ('source_uuid', 'Source'),
                  ('destination_uuid', 'Destination'),
                  ('resources', 'Resources'))


def _value(key, value):
    return formatters.when(value) if key.endswith('_at') else value


class SessionCommands(object):
    """Simulation sessions."""

    def list(self, status=None, format=formatters.TABLE):
        """List sessions (all, or those of one status)."""
        with manage.open_graph() as graph:
            found = _manager(graph).list_sessions(status)
        rows = [[_value(key, s.get(key)) for key, _h in _LIST_COLUMNS]
                for s in found]
        for row in rows:
            row[4] = row[4] or 0
        formatters.emit([formatters.Listing(
            'sessions', [k for k, _h in _LIST_COLUMNS], rows,
            headers=[h for _k, h in _LIST_COLUMNS],
            empty='No simulation session.')], format)

    def show(self, session_id, format=formatters.TABLE):
        """Show one session and its deltas in order."""
        with manage.open_graph() as graph:
            mgr = _manager(graph)
            s = mgr.get_session(session_id)
            deltas = mgr.get_deltas(session_id)
        formatters.emit([
            formatters.Record('session', [(key, _value(key, s.get(key)))
                                          for key in _SESSION_FIELDS],
                              data=s),
            formatters.Listing(
                'deltas', [k for k, _h in _DELTA_COLUMNS],
                [[d.get(key) for key, _h in _DELTA_COLUMNS]
                 for d in deltas],
                headers=[h for _k, h in _DELTA_COLUMNS],
                title='Deltas (%d)' % len(deltas), empty='No delta.',
                data=deltas),
        ], format)

    def expire(self, session_id):
        """End an active session now; its deltas are dropped."""
        with manage.open_graph() as graph:
            s = _manager(graph).expire_session(session_id)
        print('Session %s is %s.' % (s['id'], s['status']))


_ID = (('session_id',), dict(metavar='SESSION_ID'))

manage.register('session', SessionCommands, {
    'list': [(('--status',), dict(dest='status',
                                  choices=sessions.STATUSES,
                                  default=None)),
             formatters.FORMAT_ARG],
    'show': [_ID, formatters.FORMAT_ARG],
    'expire': [_ID],
})
