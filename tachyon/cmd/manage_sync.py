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

"""tachyon-manage sync: full synchronisation from the OpenStack APIs.

    tachyon-manage sync run [--collector nova|cinder|ironic]
    tachyon-manage sync history [--collector NAME] [--limit N]
"""

from tachyon.cmd import manage
from tachyon.collectors import manager as collector_manager
from tachyon.graph import schema
from tachyon.graph import syncs

COLLECTORS = ('nova', 'cinder', 'ironic')


_when = manage.format_time


class SyncCommands(object):
    """Full synchronisation from Nova, Placement, Cinder and Ironic."""

    def run(self, collector=None):
        """Run a full sync now: every enabled collector, or the one named."""
        with manage.open_graph() as graph:
            schema.check(graph)
            mgr = collector_manager.CollectorManager(manage.CONF, graph)
            names = [collector] if collector else mgr.names
            for name in names:
                # A failure raises: tachyon-manage prints it and exits 1.
                report = mgr.run(name)
                print(report.summary())

    def history(self, collector=None, limit=20):
        """Print the last recorded sync runs."""
        with manage.open_graph() as graph:
            runs = syncs.last_sync_runs(graph, collector, limit)
        if not runs:
            print('No sync recorded.')
            return
        print('%-8s %-19s %8s %-7s %8s %8s %8s %8s  %s' % (
            'COLLECTOR', 'STARTED (UTC)', 'SECONDS', 'STATUS', 'CREATED',
            'UPDATED', 'DELETED', 'SKIPPED', 'ERROR'))
        for run in runs:
            print('%-9s %-19s %8.1f %-7s %8d %8d %8d %8d  %s' % (
                run['collector'], _when(run.get('started_at')),
                run.get('seconds') or 0.0, run.get('status'),
                run.get('created') or 0, run.get('updated') or 0,
                run.get('deleted') or 0, run.get('skipped') or 0,
                run.get('error') or ''))


_COLLECTOR_ARG = (('--collector',), dict(
    dest='collector', choices=COLLECTORS, default=None,
    help='Only this collector (default: every enabled one).'))

manage.register('sync', SyncCommands, {
    'run': [_COLLECTOR_ARG],
    'history': [_COLLECTOR_ARG,
                (('--limit',), dict(dest='limit', type=int, default=20,
                                    help='How many runs to show.'))],
})
