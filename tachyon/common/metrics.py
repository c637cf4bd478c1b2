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

"""tachyon-engine's Prometheus metrics.

:class:`Metrics` defines every metric; the hooks below (:func:`count_
notifications`, :func:`observe_lag`, :func:`observe_rpc`, :func:`graph_
work`) record into the metrics :func:`install`-ed in the process and do
nothing when none is (``[metrics]/enabled`` false, tools, the Watcher
plugins).

Several workers, one endpoint: :meth:`Exporter.prepare` runs in the
engine's parent process, before the workers fork. It turns on
prometheus_client's multiprocess mode (every worker writes its figures in
files of its own, in ``[metrics]/multiprocess_dir``) and opens the one
listening socket of ``[metrics]/bind_host``:``[metrics]/port``. Every
worker inherits the socket and serves it (:meth:`Exporter.start`); the
kernel gives each scrape to one of them, which answers with the sums over
the files of every worker, those that exited included, so a counter never
goes back when a worker is restarted.
"""

import atexit
import functools
import glob
import http.server
import os
import shutil
import socket
import tempfile
import threading
import time

from oslo_log import log as logging
import prometheus_client
from prometheus_client import core
from prometheus_client import multiprocess
from prometheus_client import values

from tachyon import exception

LOG = logging.getLogger(__name__)

#: How a notification ended (the ``outcome`` label); see
#: :class:`tachyon.notifications.listener.Processor`.
OUTCOMES = ('applied', 'malformed', 'filtered', 'requeued', 'dropped',
            'dead_lettered', 'clamped')

#: Seconds, from the time a notification was emitted to its commit.
LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
               120.0, 300.0, 600.0, 1800.0, 3600.0)

#: Seconds of an RPC call or a Neo4j unit of work.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                   1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)

#: The label value of a notification no handler took (its event type
#: comes from the wire and is not a label: it would have no bound).
NONE = 'none'


class Metrics(object):
    """Every metric of tachyon-engine, in ``registry``.

    ``registry`` None: registered nowhere, as multiprocess mode wants
    (the endpoint reads the workers' files instead).
    """

    def __init__(self, registry=None):
        self.notifications = prometheus_client.Counter(
            'tachyon_notifications',
            'Notifications handled, by handler plugin, event type and how '
            'each ended (applied, malformed, filtered, requeued, dropped, '
            'dead_lettered; clamped: dated in the future, taken as now).',
            ['handler', 'event_type', 'outcome'], registry=registry)
        self.lag = prometheus_client.Histogram(
            'tachyon_notification_lag_seconds',
            'Seconds from the timestamp of a notification (when the '
            'OpenStack service emitted it) to the commit of its change in '
            'the graph, by handler plugin.',
            ['handler'], buckets=LAG_BUCKETS, registry=registry)
        self.rpc = prometheus_client.Histogram(
            'tachyon_rpc_duration_seconds',
            'Seconds tachyon-engine spent on an RPC call, by method and '
            'outcome (ok, or the class of the error answered).',
            ['method', 'outcome'], buckets=LATENCY_BUCKETS,
            registry=registry)
        self.graph = prometheus_client.Histogram(
            'tachyon_neo4j_duration_seconds',
            'Seconds of a Neo4j unit of work (one transaction, retries '
            'included), by unit of work (module:function), access (read, '
            'read_one, write) and outcome (ok, or the class of the error).',
            ['work', 'access', 'outcome'], buckets=LATENCY_BUCKETS,
            registry=registry)


_metrics = None
_local = threading.local()


def install(metrics):
    """Make ``metrics`` the process's (None: record nothing)."""
    global _metrics
    _metrics = metrics


def installed():
    return _metrics


def count_notifications(outcome, labels):
    """Count notifications that ended as ``outcome``.

    :param labels: one (handler name, event type) per notification.
    """
    metrics = _metrics
    if metrics is None:
        return
    for handler, event_type in labels:
        metrics.notifications.labels(handler, event_type, outcome).inc()


def observe_lag(handler, seconds):
    metrics = _metrics
    if metrics is not None:
        metrics.lag.labels(handler).observe(max(0.0, seconds))


def observe_rpc(method, outcome, seconds):
    metrics = _metrics
    if metrics is not None:
        metrics.rpc.labels(method, outcome).observe(seconds)


def work_name(work):
    """A unit of work's label: module (below tachyon.graph):function."""
    work = getattr(work, 'func', work)   # a functools.partial
    module = getattr(work, '__module__', None) or '?'
    if module.startswith('tachyon.graph.'):
        module = module[len('tachyon.graph.'):]
    return '%s:%s' % (module, getattr(work, '__qualname__', '?'))


def graph_work(access):
    """Decorate a Graph method ``(self, work, ...)``: time each call.

    A unit of work run from within another (a one-statement read retried
    as a managed read) is timed once, as the outer one.
    """
    def decorate(method):
        @functools.wraps(method)
        def run(self, work, *args, **kwargs):
            metrics = _metrics
            if metrics is None or getattr(_local, 'timing', False):
                return method(self, work, *args, **kwargs)
            _local.timing = True
            outcome = 'ok'
            started = time.monotonic()
            try:
                return method(self, work, *args, **kwargs)
            except BaseException as exc:
                outcome = type(exc).__name__
                raise
            finally:
                _local.timing = False
                metrics.graph.labels(work_name(work), access, outcome).observe(
                    time.monotonic() - started)
        return run
    return decorate


class SessionGauge(object):
    """``tachyon_sessions_active``, counted when Prometheus scrapes.

    Sessions live in the graph, shared by every engine: each engine
    answers the same count (aggregate with ``max``, not ``sum``). A scrape
    while Neo4j is unusable leaves the sample out.
    """

    def __init__(self, count):
        self.count = count

    def collect(self):
        try:
            value = self.count()
        except Exception as exc:
            LOG.warning('Metrics: cannot count the active sessions: %s', exc)
            return []
        gauge = core.GaugeMetricFamily(
            'tachyon_sessions_active',
            'Simulation sessions active now (read from the graph: the same '
            'figure on every engine).')
        gauge.add_metric([], value)
        return [gauge]


class _Server(http.server.ThreadingHTTPServer):
    """An HTTP server on a listening socket it shares with other workers."""

    daemon_threads = True

    def __init__(self, sock, handler):
        super().__init__(sock.getsockname()[:2], handler,
                         bind_and_activate=False)
        self.socket.close()
        self.socket = sock
        self.server_name = socket.getfqdn()
        self.server_port = sock.getsockname()[1]

    def get_request(self):
        # The socket is non-blocking (another worker may take the
        # connection first); a connection is served blocking.
        conn, address = self.socket.accept()
        conn.setblocking(True)
        return conn, address


def _listen(host, port):
    family = socket.AF_INET6 if ':' in host else socket.AF_INET
    try:
        sock = socket.create_server((host, port), family=family,
                                    backlog=64)
    except OSError as exc:
        raise exception.ConfigurationError(
            group='metrics', option='port',
            reason='cannot listen on %s port %d: %s (set [metrics]/port to '
                   'a free port, or [metrics]/enabled to false)'
                   % (host, port, os.strerror(exc.errno) if exc.errno
                      else exc)) from None
    sock.setblocking(False)
    return sock


def _prepare_dir(path):
    try:
        os.makedirs(path, exist_ok=True)
        for stale in glob.glob(os.path.join(path, '*.db')):
            os.remove(stale)
    except OSError as exc:
        raise exception.ConfigurationError(
            group='metrics', option='multiprocess_dir',
            reason='%s: %s' % (path, exc.strerror or exc)) from None


class Exporter(object):
    """The engine's metrics endpoint (``[metrics]``)."""

    def __init__(self, sock=None, directory=None):
        self.socket = sock
        self.directory = directory
        self._server = None
        self._thread = None

    @property
    def enabled(self):
        return self.socket is not None

    @property
    def address(self):
        return self.socket.getsockname()[:2] if self.socket else None

    @classmethod
    def prepare(cls, conf):
        """In the engine's parent process, before the workers fork.

        :raises: ConfigurationError when the port cannot be listened on
            or the directory cannot be used.
        """
        opts = conf.metrics
        if not opts.enabled:
            return cls()
        directory = opts.multiprocess_dir
        if directory:
            _prepare_dir(directory)
        else:
            directory = tempfile.mkdtemp(prefix='tachyon-metrics-')
            owner = os.getpid()
            atexit.register(_remove_dir, directory, owner)
        sock = _listen(opts.bind_host, opts.port)
        # Multiprocess mode: the workers inherit both (and the metrics).
        os.environ['PROMETHEUS_MULTIPROC_DIR'] = directory
        values.ValueClass = values.MultiProcessValue()
        install(Metrics())
        LOG.info('Prometheus metrics on http://%s:%d/metrics (figures of '
                 'the workers in %s)', opts.bind_host,
                 sock.getsockname()[1], directory)
        return cls(sock, directory)

    def start(self, sessions_active=None):
        """In a worker: serve the endpoint from a thread of this process.

        :param sessions_active: callable counting the active sessions.
        """
        if not self.enabled or self._thread is not None:
            return
        registry = prometheus_client.CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=self.directory)
        if sessions_active is not None:
            registry.register(SessionGauge(sessions_active))
        self._server = _Server(
            self.socket, prometheus_client.MetricsHandler.factory(registry))
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={'poll_interval': 0.5},
                                        daemon=True, name='metrics')
        self._thread.start()

    def stop(self):
        """Stop serving; the socket stays open for the other workers."""
        if self._thread is None:
            return
        self._server.shutdown()
        self._thread.join()
        self._server = self._thread = None


def _remove_dir(path, owner):
    if os.getpid() == owner:   # never from a forked worker
        shutil.rmtree(path, ignore_errors=True)
