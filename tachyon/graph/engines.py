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

"""The running engines: each worker's heartbeat, ``(:EngineWorker)``.

Every worker of every tachyon-engine keeps one node::

    (:EngineWorker {id, engine, host, pid, worker_pid, version, workers,
                    started_at, heartbeat_at, interval})

``id`` is the worker's (host:worker pid), ``engine`` the engine's
(host:pid of its parent process), ``workers`` the number of workers it
was started with. Each worker writes only its own node, so workers never
contend; :func:`list_engines` groups them by engine. A worker refreshes
``heartbeat_at`` every ``interval`` seconds (:class:`Heartbeat`) and
deletes its node when it stops cleanly; the node of one that died stays,
shown stale after three intervals, until a heartbeat of any engine deletes
it ``[metrics]/heartbeat_expiry`` seconds after its last beat.

Heartbeats are book-keeping, not part of the cluster model: they do not
move the global generation.
"""

import importlib.metadata
import threading
import time

from oslo_log import log as logging

from tachyon import exception
from tachyon.graph import sessions

LOG = logging.getLogger(__name__)

#: An engine is stale when its newest heartbeat is older than this many
#: of its intervals.
STALE_INTERVALS = 3

BEAT = """
MERGE (w:EngineWorker {id: $id})
SET w += $props
"""

REMOVE_WORKER = """
MATCH (w:EngineWorker {id: $id})
DELETE w
"""

EXPIRE_WORKERS = """
MATCH (w:EngineWorker)
WHERE w.heartbeat_at < $before
DELETE w
RETURN count(*) AS expired
"""

LIST_WORKERS = """
MATCH (w:EngineWorker)
RETURN w {.*} AS worker
ORDER BY worker.host, worker.engine, worker.worker_pid
"""

COUNT_SESSIONS = """
MATCH (s:SimulationSession {status: $status})
RETURN count(s) AS sessions
"""

_FIELDS = ('id', 'engine', 'host', 'pid', 'worker_pid', 'version',
           'workers', 'started_at', 'heartbeat_at', 'interval')


def version():
    """The version of the installed tachyon package."""
    try:
        return importlib.metadata.version('tachyon')
    except importlib.metadata.PackageNotFoundError:
        return 'unknown'


def _beat(tx, worker_id, props):
    tx.run(BEAT, id=worker_id, props=props)


def beat(graph, record, now=None):
    """Write (create or refresh) a worker's heartbeat.

    :param record: the worker's fields (see the module's docstring), but
        ``heartbeat_at``, which is ``now``.
    """
    props = {k: record[k] for k in _FIELDS
             if k not in ('id', 'heartbeat_at')}
    props['heartbeat_at'] = time.time() if now is None else float(now)
    graph.write(_beat, record['id'], props)


def _remove(tx, worker_id):
    tx.run(REMOVE_WORKER, id=worker_id)


def remove(graph, worker_id):
    """Delete a worker's heartbeat (it stops)."""
    graph.write(_remove, worker_id)


def _expire(tx, before):
    return tx.run(EXPIRE_WORKERS, before=before).single()['expired']


def expire(graph, older_than):
    """Delete the heartbeats older than the epoch ``older_than``."""
    return graph.write(_expire, float(older_than))


def _workers(tx):
    workers = []
    for row in tx.run(LIST_WORKERS):
        worker = dict.fromkeys(_FIELDS)
        worker.update(row['worker'])
        workers.append(worker)
    return workers


def list_workers(graph):
    """Every worker heartbeat, as dicts."""
    return graph.read(_workers)


def list_engines(graph, now=None):
    """The engines of the recorded heartbeats, sorted by host and id.

    Each a dict: ``engine``, ``host``, ``pid``, ``version``, ``workers``
    (as started with), ``live_workers`` (those not stale), ``worker_pids``,
    ``started_at``, ``heartbeat_at`` (the newest), ``age`` (seconds since
    it) and ``stale`` (no worker beat within :data:`STALE_INTERVALS`
    intervals).
    """
    now = time.time() if now is None else float(now)
    engines = {}
    for worker in list_workers(graph):
        interval = float(worker['interval'] or 0) or 30.0
        fresh = (now - (worker['heartbeat_at'] or 0.0)
                 <= STALE_INTERVALS * interval)
        engine = engines.setdefault(worker['engine'], {
            'engine': worker['engine'], 'host': worker['host'],
            'pid': worker['pid'], 'version': worker['version'],
            'workers': worker['workers'], 'live_workers': 0,
            'worker_pids': [], 'started_at': worker['started_at'],
            'heartbeat_at': None})
        engine['worker_pids'].append(worker['worker_pid'])
        engine['live_workers'] += 1 if fresh else 0
        if (engine['heartbeat_at'] is None
                or (worker['heartbeat_at'] or 0) > engine['heartbeat_at']):
            engine['heartbeat_at'] = worker['heartbeat_at']
            engine['version'] = worker['version']
    result = sorted(engines.values(),
                    key=lambda e: (e['host'] or '', e['engine'] or ''))
    for engine in result:
        engine['age'] = now - (engine['heartbeat_at'] or 0.0)
        engine['stale'] = engine['live_workers'] == 0
    return result


def _count_sessions(tx, status):
    return tx.run(COUNT_SESSIONS, status=status).single()['sessions']


def count_active_sessions(graph):
    """How many simulation sessions are active."""
    return graph.read_one(_count_sessions, sessions.ACTIVE)


class Heartbeat(object):
    """A worker's heartbeat, refreshed from a thread every ``interval``.

    Each beat also deletes the heartbeats older than ``expiry`` seconds
    (workers that died without removing theirs).
    """

    def __init__(self, graph, record, interval, expiry):
        self.graph = graph
        self.record = dict(record, interval=float(interval))
        self.interval = float(interval)
        self.expiry = float(expiry)
        self._stop = threading.Event()
        self._thread = None

    @classmethod
    def for_worker(cls, conf, graph, engine_pid, started_at, worker_pid):
        host = conf.host
        record = {'id': '%s:%d' % (host, worker_pid),
                  'engine': '%s:%d' % (host, engine_pid), 'host': host,
                  'pid': engine_pid, 'worker_pid': worker_pid,
                  'version': version(), 'workers': conf.engine.workers,
                  'started_at': float(started_at)}
        return cls(graph, record, conf.metrics.heartbeat_interval,
                   conf.metrics.heartbeat_expiry)

    def beat(self, now=None):
        now = time.time() if now is None else now
        beat(self.graph, self.record, now=now)
        expired = expire(self.graph, now - self.expiry)
        if expired:
            LOG.info('Removed %d engine heartbeat(s) older than %d s '
                     '([metrics]/heartbeat_expiry)', expired, self.expiry)

    def _loop(self):
        while True:
            try:
                self.beat()
            except exception.TachyonException as exc:
                LOG.warning('Engine heartbeat not written: %s', exc)
            except Exception:
                LOG.exception('Engine heartbeat failed')
            if self._stop.wait(self.interval):
                return

    def start(self):
        self._thread = threading.Thread(target=self._loop, daemon=True,
                                        name='heartbeat')
        self._thread.start()

    def stop(self):
        """Stop beating and delete this worker's heartbeat."""
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join(timeout=30)
        self._thread = None
        try:
            remove(self.graph, self.record['id'])
        except exception.TachyonException as exc:
            LOG.warning('Engine heartbeat not removed: %s', exc)
