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

"""The record of collector runs: ``(:SyncRun)`` nodes.

Each full sync leaves one node::

    (:SyncRun {collector, started_at, finished_at, seconds, created,
               updated, deleted, skipped, stale, status, error,
               fetch_seconds, write_seconds, details, generation})

``details`` is a JSON string (per kind counts: fetched, created, updated,
deleted, skipped, stale); ``generation`` is the global generation when
the run was recorded (older releases did not record it). Only the newest
:data:`KEEP_RUNS` runs of each collector are kept. A SyncRun is
book-keeping, not part of the cluster model: recording one does not move
the global generation (it would needlessly mark every simulation session
stale).
"""

import dataclasses

from tachyon.graph import common

#: Runs kept per collector; older ones are deleted as new ones come.
KEEP_RUNS = 100

# The global generation is read in the same transaction: the generation
# the model had when the run ended (what ``model stats`` compares).
RECORD_SYNC_RUN = """
OPTIONAL MATCH (g:GlobalState {id: 'global'})
CREATE (r:SyncRun {collector: $collector, started_at: $started_at,
                   finished_at: $finished_at, seconds: $seconds,
                   created: $created, updated: $updated, deleted: $deleted,
                   skipped: $skipped, stale: $stale, status: $status,
                   error: $error, fetch_seconds: $fetch_seconds,
                   write_seconds: $write_seconds, details: $details,
                   generation: coalesce(g.generation, 0)})
"""

TRIM_SYNC_RUNS = """
MATCH (r:SyncRun {collector: $collector})
WITH r ORDER BY r.started_at DESC
SKIP $keep
DELETE r
"""

LAST_SYNC_RUNS = """
MATCH (r:SyncRun)
WHERE $collector IS NULL OR r.collector = $collector
RETURN r {.*} AS run
ORDER BY run.started_at DESC
LIMIT $limit
"""

_INT_FIELDS = ('created', 'updated', 'deleted', 'skipped', 'stale')
_FLOAT_FIELDS = ('started_at', 'finished_at', 'seconds', 'fetch_seconds',
                 'write_seconds')


def _params(report):
    if dataclasses.is_dataclass(report):
        data = dataclasses.asdict(report)
        if 'seconds' not in data:
            data['seconds'] = getattr(report, 'seconds', None)
    else:
        data = dict(report)
    params = {'collector': data['collector'],
              'status': data.get('status'),
              'error': data.get('error'),
              'details': common.to_json(data.get('details') or {})}
    for field in _INT_FIELDS:
        params[field] = int(data.get(field) or 0)
    for field in _FLOAT_FIELDS:
        value = data.get(field)
        params[field] = float(value) if value is not None else None
    if params['seconds'] is None and params['finished_at'] is not None:
        params['seconds'] = params['finished_at'] - params['started_at']
    return params


def _record(tx, params, keep):
    tx.run(RECORD_SYNC_RUN, **params)
    tx.run(TRIM_SYNC_RUNS, collector=params['collector'], keep=keep)


def record_sync_run(graph, report, keep=KEEP_RUNS):
    """Record one run (a collectors SyncReport, or a dict of its fields)."""
    graph.write(_record, _params(report), keep)


def _last(tx, collector, limit):
    runs = []
    for row in tx.run(LAST_SYNC_RUNS, collector=collector, limit=limit):
        run = dict(row['run'])
        run['details'] = common.from_json(run.get('details'))
        runs.append(run)
    return runs


def last_sync_runs(graph, collector=None, limit=20):
    """The newest runs (dicts), newest first; of one collector if given."""
    return graph.read(_last, collector, int(limit))
