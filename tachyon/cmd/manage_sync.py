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

    tachyon-manage sync run [--collector NAME] [--progress|--quiet]
                            [-f table|json|value]
    tachyon-manage sync history [--collector NAME] [--limit N]
                                [-f table|json|value]

The collector names are those of the installed plugins of the
``tachyon.collectors`` entry-point namespace (``nova``, ``cinder``,
``ironic`` with Tachyon alone).
"""

from tachyon.cmd import formatters
from tachyon.cmd import manage
from tachyon.collectors import manager as collector_manager
from tachyon.graph import schema
from tachyon.graph import syncs

#: The installed collector plugins, what ``--collector`` accepts.
COLLECTORS = tuple(sorted(collector_manager.CollectorManager.available()))

_RUN_COLUMNS = (('collector', 'Collector'), ('status', 'Status'),
                ('started_at', 'Started (UTC)'), ('seconds', 'Seconds'),
                ('fetch_seconds', 'Fetch s'), ('write_seconds', 'Write s'),
                ('created', 'Created'), ('updated', 'Updated'),
                ('deleted', 'Deleted'), ('skipped', 'Skipped'),
                ('stale', 'Stale'), ('error', 'Error'))


def _runs_listing(runs, empty):
    rows = []
    for run in runs:
        run = dict(run, started_at=formatters.when(run.get('started_at')))
        rows.append([run.get(key) for key, _h in _RUN_COLUMNS])
    data = [dict(run, started_at=formatters.when(run.get('started_at')),
                 finished_at=formatters.when(run.get('finished_at')))
            for run in runs]
    return formatters.Listing('runs', [k for k, _h in _RUN_COLUMNS], rows,
                              headers=[h for _k, h in _RUN_COLUMNS],
                              empty=empty, data=data)


def _kind_line(name, kind, counts):
    return '%s: %s: %s' % (name, kind, ', '.join(
        '%s %d' % (field, counts.get(field) or 0)
        for field in ('fetched', 'created', 'updated', 'deleted',
                      'skipped', 'stale')))


def _observer(report, name):
    """A SyncReport observer printing each step with ``report``."""
    def observe(sync, step, kind):
        if step == 'fetched':
            report('%s: fetched %s', name, ', '.join(
                '%s %d' % (k, c['fetched'])
                for k, c in sorted(sync.details.items())) or 'nothing')
            return
        counts = sync.kind(kind)
        if step == 'written':
            report('%s: %s: written %d/%d (created %d, updated %d, '
                   'stale %d)', name, kind, sync.written(kind),
                   counts['fetched'], counts['created'], counts['updated'],
                   counts['stale'])
        else:
            report('%s: %s: pruned (deleted %d)', name, kind,
                   counts['deleted'])
    return observe


class SyncCommands(object):
    """Full synchronisation from Nova, Placement, Cinder and Ironic."""

    def run(self, collector=None, progress=None, format=None):
        """Run a full sync now: every enabled collector, or the one named."""
        report = formatters.Progress('tachyon-manage sync run', progress)
        done = []
        with manage.open_graph() as graph:
            schema.check(graph)
            mgr = collector_manager.CollectorManager(manage.CONF, graph)
            names = [collector] if collector else mgr.names
            report('connected to %s; collectors: %s', graph.safe_uri,
                   ', '.join(names) or 'none')
            for name in names:
                report('%s: full sync started (fetch, then write)', name)
                try:
                    result = mgr.run(name, observer=(
                        _observer(report, name) if report.enabled
                        else None))
                except Exception as exc:
                    report('%s: failed: %s', name, exc)
                    # A failure raises: tachyon-manage prints it, exits 1.
                    raise
                for kind, counts in sorted(result.details.items()):
                    report(_kind_line(name, kind, counts))
                report('%s: %s in %.2f s (fetch %.2f s, write %.2f s)',
                       name, result.status, result.seconds or 0.0,
                       result.fetch_seconds, result.write_seconds)
                if format is None:
                    # The summary as before, printed as each one ends.
                    print(result.summary(), flush=True)
                done.append(result.as_dict())
        if format is not None:
            formatters.emit([_runs_listing(done, 'No collector ran.')],
                            format)

    def history(self, collector=None, limit=20, format=formatters.TABLE):
        """Print the last recorded sync runs."""
        with manage.open_graph() as graph:
            runs = syncs.last_sync_runs(graph, collector, limit)
        formatters.emit([_runs_listing(runs, 'No sync recorded.')], format)


_COLLECTOR_ARG = (('--collector',), dict(
    dest='collector', choices=COLLECTORS, default=None,
    help='Only this collector (default: every enabled one).'))

manage.register('sync', SyncCommands, {
    'run': [_COLLECTOR_ARG] + formatters.PROGRESS_ARGS + [
        (('-f', '--format'), dict(
            dest='format', choices=formatters.FORMATS, default=None,
            help='Print the runs as a table, JSON or values once all '
                 'have ended (default: one summary line as each ends).'))],
    'history': [_COLLECTOR_ARG,
                (('--limit',), dict(dest='limit', type=int, default=20,
                                    help='How many runs to show.')),
                formatters.FORMAT_ARG],
})
