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
    tachyon-manage session show SESSION_ID
    tachyon-manage session expire SESSION_ID
"""

from tachyon.cmd import manage
from tachyon.graph import schema
from tachyon.graph import sessions
from tachyon.simulation import manager as sim_manager


_when = manage.format_time


def _manager(graph):
    schema.check(graph)
    return sim_manager.SessionManager(manage.CONF, graph)


class SessionCommands(object):
    """Simulation sessions."""

    def list(self, status=None):
        """List sessions (all, or those of one status)."""
        with manage.open_graph() as graph:
            found = _manager(graph).list_sessions(status)
        if not found:
            print('No simulation session.')
            return
        print('%-36s %-11s %-19s %-19s %6s  %s' % (
            'ID', 'STATUS', 'CREATED (UTC)', 'EXPIRES (UTC)', 'DELTAS',
            'AUDIT'))
        for s in found:
            print('%-36s %-11s %-19s %-19s %6d  %s' % (
                s['id'], s['status'], _when(s.get('created_at')),
                _when(s.get('expires_at')), s.get('delta_count') or 0,
                s.get('audit_uuid') or '-'))

    def show(self, session_id):
        """Show one session and its deltas in order."""
        with manage.open_graph() as graph:
            mgr = _manager(graph)
            s = mgr.get_session(session_id)
            deltas = mgr.get_deltas(session_id)
        for key in ('id', 'status', 'audit_uuid', 'base_generation',
                    'created_at', 'expires_at', 'finished_at'):
            value = s.get(key)
            if key.endswith('_at'):
                value = _when(value)
            print('%-16s %s' % (key, '-' if value is None else value))
        for d in deltas:
            print('  #%-5d %-10s %s %s -> %s %s' % (
                d['sequence'], d['type'], d['consumer_uuid'],
                d['source_uuid'] or '-', d['destination_uuid'] or '-',
                d['resources']))

    def expire(self, session_id):
        """End an active session now; its deltas are dropped."""
        with manage.open_graph() as graph:
            s = _manager(graph).expire_session(session_id)
        print('Session %s is %s.' % (s['id'], s['status']))


_ID = (('session_id',), dict(metavar='SESSION_ID'))

manage.register('session', SessionCommands, {
    'list': [(('--status',), dict(dest='status',
                                  choices=sessions.STATUSES,
                                  default=None))],
    'show': [_ID],
    'expire': [_ID],
})
