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

"""tachyon-engine's service: RPC server, notification listener, periodic
tasks, on oslo.service's threading backend.

Periodic tasks (each collector's full sync, the session reaper, the
tombstone purge) run in threads of every worker, but a task runs only on
the worker that takes its lease in the graph, so it runs once per interval
across all workers and engines.

Under systemd, each worker reports to the engine's parent process (see
:mod:`tachyon.common.systemd`) from a heartbeat thread of its own:
STARTING while it starts, STARTED once its RPC server and listener are
started, then ALIVE while it is healthy, STOPPING while it stops.
*Healthy* means the worker runs: it started, its periodic tasks' threads
are alive, and it is scheduled (a stopped, frozen or GIL-wedged process
does not run its heartbeat thread). It deliberately does not mean "Neo4j
and RabbitMQ answer": the engine rides their outages out (oslo.messaging
reconnects; a call meanwhile fails as GraphUnavailable) and a restart
would not bring them back, only restart every engine at once.

A configuration error met when a worker starts is reported FATAL: the
parent then stops the engine with status 2 instead of respawning the
worker forever.
"""

import functools
import os
import ssl
import threading
import time

# First: importing tachyon.cmd selects oslo.service's threading backend,
# which must happen before oslo_service.service is imported.
import tachyon.cmd  # noqa: F401,H306

import kombu  # noqa: H306
from oslo_config import cfg
from oslo_log import log as logging
import oslo_messaging as messaging
from oslo_messaging.rpc import dispatcher
from oslo_service import service

from tachyon.cmd import backends
from tachyon.collectors import manager as collectors
from tachyon.common import config
from tachyon.common import context
from tachyon.common import metrics
from tachyon import exception
from tachyon.graph import driver
from tachyon.graph import engines
from tachyon.graph import leases
from tachyon.graph import tombstones
from tachyon.notifications import listener
from tachyon import rpc
from tachyon.rpc import manager as rpc_manager
from tachyon.simulation import manager as sim_manager

LOG = logging.getLogger(__name__)

#: What ends the engine (status 2) when a worker meets it while starting.
FATAL_CONFIG_ERRORS = (exception.ConfigurationError, cfg.Error)

#: How long a worker that reported a fatal error waits for its parent to
#: stop it before it exits by itself.
FATAL_WAIT = 60


class PeriodicTask(object):
    """Run ``func`` every ``interval`` seconds while holding a lease.

    The lease is taken for ``lease_ttl`` seconds (at most 0.9 ×
    ``interval``) and renewed every third of that while ``func`` runs, so
    however long a run takes, no other worker starts the task meanwhile;
    a worker that dies stops renewing and the task is free again within
    ``lease_ttl``. When a run ends, the lease is kept until 0.9 ×
    ``interval`` after the run started, so the task runs once per interval
    across every worker.

    ``func`` writes through :attr:`graph_for_task`, a
    :class:`tachyon.graph.leases.FencedGraph` (see
    :meth:`EngineService.leased`): each of its writes commits
    only while this worker still holds the lease, in one transaction with
    the check, so a worker paused past its lease (SIGSTOP, a frozen VM)
    that wakes up after another took the task over has its writes
    refused (InvalidState, logged) instead of overlapping the new
    holder's run.
    """

    def __init__(self, graph, name, interval, func, holder, first_delay=0,
                 lease_ttl=60):
        self.graph = graph
        self.name = name
        self.lease = 'periodic:' + name
        self.interval = float(interval)
        self.lease_ttl = min(float(lease_ttl), self.interval * 0.9)
        self.func = func
        self.holder = holder
        self.graph_for_task = leases.FencedGraph(graph, self.lease, holder)
        self.first_delay = first_delay
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True,
                                        name='periodic-%s' % name)

    def start(self):
        self._thread.start()

    def stop(self):
        self._stop.set()

    def wait(self, timeout=None):
        self._thread.join(timeout)

    def alive(self):
        """True while the task's thread runs (until it is stopped)."""
        return self._thread.is_alive() or self._stop.is_set()

    def run_once(self):
        """Run the task if this worker takes its lease; True if it ran."""
        started = time.time()
        if not leases.acquire(self.graph, self.lease, self.holder,
                              self.lease_ttl, now=started):
            return False
        done = threading.Event()
        renewer = threading.Thread(target=self._renew, args=(done,),
                                   daemon=True,
                                   name='lease-%s' % self.name)
        renewer.start()
        try:
            self.func()
        except exception.InvalidState as exc:
            if getattr(exc, 'kwargs', {}).get('kind') != 'lease':
                raise
            LOG.warning('Periodic task %s stopped: its lease was lost '
                        'while it ran and its write was refused (%s)',
                        self.name, exc)
        finally:
            done.set()
            renewer.join()
            # Keep it until the interval is nearly over: the next round
            # may land on any worker, but not before.
            leases.release(self.graph, self.lease, self.holder,
                           keep_until=started + self.interval * 0.9)
        return True

    def _renew(self, done):
        while not done.wait(self.lease_ttl / 3.0):
            try:
                held = leases.renew(self.graph, self.lease, self.holder,
                                    self.lease_ttl)
            except exception.GraphUnavailable as exc:
                LOG.warning('Periodic task %s: cannot renew its lease (%s); '
                            'retrying', self.name, exc)
                continue
            if not held:
                LOG.error('Periodic task %s lost its lease (not renewed '
                          'for %.0f s); another worker may start it',
                          self.name, self.lease_ttl)
                return

    def _loop(self):
        delay = self.first_delay
        while not self._stop.wait(delay):
            delay = self.interval
            try:
                self.run_once()
            except exception.GraphUnavailable as exc:
                LOG.warning('Periodic task %s skipped: %s', self.name, exc)
            except Exception:
                LOG.exception('Periodic task %s failed', self.name)


class EngineService(service.Service):
    """One tachyon-engine worker."""

    def __init__(self, conf, reporter=None):
        """One worker; ``reporter`` reports to the parent process.

        ``reporter``: a :class:`tachyon.common.systemd.Reporter`, or None
        when the worker is not supervised.
        """
        super().__init__()
        self.conf = conf
        self.graph = None
        self.rpcserver = None
        self.listener = None
        self.tasks = []
        self._syncs = {}
        self.holder = '%s:%d' % (conf.host, os.getpid())
        # In the parent, before the workers fork: the engine's identity
        # and the metrics endpoint they all serve.
        self.engine_pid, self.started_at = os.getpid(), time.time()
        self.heartbeat = None
        try:
            self.exporter = metrics.Exporter.prepare(conf)
        except exception.ConfigurationError as exc:
            config.die(backends.message(exc, conf, 'tachyon-engine'), 2)
        self.reporter = reporter
        self._started = False
        self._stopping = threading.Event()
        self._fatal_error = False

    def periodic_tasks(self):
        """The worker's periodic tasks, each writing through its lease."""
        conf = self.conf
        ttl = conf.engine.periodic_lease_ttl
        # Each task writes through the FencedGraph it is given, never
        # through self.graph: every write of a run is fenced by its lease.
        tasks = [self.leased('session-reaper',
                             conf.simulation.reaper_interval,
                             self._reap_sessions, lease_ttl=ttl),
                 self.leased('tombstone-purge',
                             max(60, conf.notifications.tombstone_lifetime
                                 // 10),
                             self._purge_tombstones, lease_ttl=ttl)]
        names = collectors.CollectorManager(conf, self.graph).intervals()
        for name, interval in sorted(names.items()):
            tasks.append(self.leased('sync-%s' % name, interval,
                                     functools.partial(self._sync, name),
                                     first_delay=5, lease_ttl=ttl))
        return tasks

    def leased(self, name, interval, work, **kwargs):
        """A PeriodicTask running ``work(graph)`` with its fenced graph."""
        task = PeriodicTask(self.graph, name, interval, None, self.holder,
                            **kwargs)
        task.func = functools.partial(work, task.graph_for_task)
        return task

    def _sync(self, name, graph):
        # One manager (its plugins loaded once) per task, on its graph.
        syncs = self._syncs.get(name)
        if syncs is None:
            syncs = self._syncs[name] = collectors.CollectorManager(
                self.conf, graph)
        return syncs.run(name)

    def _reap_sessions(self, graph):
        return sim_manager.SessionManager(self.conf, graph).reap()

    def _purge_tombstones(self, graph):
        older = time.time() - self.conf.notifications.tombstone_lifetime
        purged = tombstones.purge_tombstones(graph, older)
        if purged:
            LOG.info('Purged %d tombstones', purged)

    def _start_listener(self):
        if not self.conf.notifications.enable_listener:
            return
        self.listener = listener.build(self.conf, self.graph)
        self.listener.start()

    def start(self):
        super().start()
        # Forked from the parent: this worker's pid, not the parent's.
        self.holder = '%s:%d' % (self.conf.host, os.getpid())
        if self.reporter is not None:
            threading.Thread(target=self._heartbeat, daemon=True,
                             name='heartbeat').start()
        try:
            check_options(self.conf)
            self._start_serving()
        except FATAL_CONFIG_ERRORS as exc:
            self._fatal(exc)
            raise
        self._started = True
        if self.reporter is not None:
            self.reporter.started()

    def _start_serving(self):
        self.graph = driver.Graph.from_conf(self.conf)
        self.manager = rpc_manager.EngineManager(self.conf, self.graph)
        transport = rpc.get_transport(self.conf)
        target = messaging.Target(exchange=self.conf.engine.exchange,
                                  topic=self.conf.engine.topic,
                                  server=self.conf.host)
        self.rpcserver = messaging.get_rpc_server(
            transport, target, [self.manager],
            serializer=context.ContextSerializer(),
            access_policy=dispatcher.DefaultRPCAccessPolicy)
        self.rpcserver.start(
            override_pool_size=self.conf.engine.rpc_executor_threads)
        self._start_listener()
        self.tasks = self.periodic_tasks()
        for task in self.tasks:
            task.start()
        self._start_observing()
        LOG.info('tachyon-engine %s serving topic %s on exchange %s (RPC '
                 'API %s)', self.holder, self.conf.engine.topic,
                 self.conf.engine.exchange, rpc_manager.api.RPC_API_VERSION)

    def _start_observing(self):
        self.exporter.start(
            sessions_active=lambda: engines.count_active_sessions(self.graph))
        self.heartbeat = engines.Heartbeat.for_worker(
            self.conf, self.graph, self.engine_pid, self.started_at,
            os.getpid())
        self.heartbeat.start()

    def _fatal(self, exc):
        """Report a configuration error the parent must stop us for."""
        message = str(exc)
        LOG.error('tachyon-engine %s cannot start: %s', self.holder, message)
        self._fatal_error = True
        if self.reporter is None:
            return
        self.reporter.fatal(message)
        # The parent stops every worker and exits with status 2; exiting
        # now would only have this worker respawned meanwhile.
        self._stopping.wait(FATAL_WAIT)

    def healthy(self):
        """True while this worker serves (see the module's docstring)."""
        return (self._started and not self._stopping.is_set()
                and self.rpcserver is not None
                and all(task.alive() for task in self.tasks))

    def _heartbeat(self):
        # Until the process ends: a worker that stops (SIGHUP restarts
        # them all) is not a hung one.
        while not self._fatal_error:
            if self._stopping.is_set():
                self.reporter.stopping()
            elif not self._started:
                self.reporter.starting()
            elif self.healthy():
                self.reporter.alive()
            time.sleep(self.reporter.beat)

    def stop(self, graceful=True):
        self._stopping.set()
        if self.reporter is not None:
            self.reporter.stopping()
        # Stop taking work, finish what is in flight, then close Neo4j.
        for task in self.tasks:
            task.stop()
        if self.rpcserver is not None:
            self.rpcserver.stop()
        if self.listener is not None:
            self.listener.stop()
        if self.rpcserver is not None:
            self.rpcserver.wait()
        if self.listener is not None:
            self.listener.wait()
        for task in self.tasks:
            task.wait(timeout=30)
        if self.heartbeat is not None:
            self.heartbeat.stop()
        self.exporter.stop()
        if self.graph is not None:
            self.graph.close()
        LOG.info('tachyon-engine %s stopped', self.holder)
        super().stop(graceful=graceful)

    # SIGHUP: the launcher rereads the mutable options, then restarts the
    # workers gracefully; each comes back with the new values (a value
    # its type refuses stops the engine: see check_options). READY for
    # systemd (Type=notify) is sent by tachyon.cmd.engine's supervisor
    # once every worker is consuming.


def check_options(conf):
    """Read every registered option's value.

    A value its type refuses (``max_ttl = ten``, met after a SIGHUP that
    reread the file) raises :class:`oslo_config.cfg.Error` here, when the
    worker starts, rather than in the middle of an RPC call.
    """
    for name in list(conf):
        value = getattr(conf, name)
        if isinstance(value, cfg.ConfigOpts.GroupAttr):
            for opt in list(value):
                getattr(value, opt)


def _broker_ssl(conf, url):
    """kombu's ``ssl`` argument, as oslo.messaging's rabbit driver has it."""
    try:
        opts = conf.oslo_messaging_rabbit
        enabled = opts.ssl
    except cfg.NoSuchOptError:
        return False
    query = str(url.query.get('ssl', '')).lower()
    if query in ('1', 'true', 'yes', 'on'):
        enabled = True
    if not enabled:
        return False
    options = {'cert_reqs': ssl.CERT_REQUIRED if opts.ssl_ca_file
               else ssl.CERT_NONE}
    for key, value in (('ca_certs', opts.ssl_ca_file),
                       ('certfile', opts.ssl_cert_file),
                       ('keyfile', opts.ssl_key_file)):
        if value:
            options[key] = value
    return options


def _kombu_connections(conf, url):
    """A kombu connection for each host of an oslo.messaging TransportURL."""
    vhost = url.virtual_host or '/'
    use_ssl = _broker_ssl(conf, url)
    # No host: oslo.messaging's rabbit driver defaults to localhost.
    for host in url.hosts or [messaging.TransportHost(hostname='localhost')]:
        yield kombu.Connection(
            hostname=host.hostname or 'localhost',
            port=host.port or (5671 if use_ssl else 5672),
            userid=host.username or 'guest',
            password=host.password or 'guest', virtual_host=vhost,
            ssl=use_ssl, connect_timeout=5)


def queue_consumers(conf, url, queue):
    """Consumers RabbitMQ counts on ``queue`` (0 when it does not exist).

    None when ``url`` is not RabbitMQ's (``rabbit://``): another driver's
    consumers cannot be counted.
    """
    parsed = messaging.TransportURL.parse(conf, url)
    if (parsed.transport or 'rabbit') != 'rabbit':
        return None
    error = None
    for connection in _kombu_connections(conf, parsed):
        try:
            with connection:
                channel = connection.channel()
                try:
                    return channel.queue_declare(
                        queue=queue, passive=True).consumer_count
                except connection.channel_errors:
                    return 0
        except connection.connection_errors as exc:
            error = exc
    raise exception.MessagingUnavailable(
        group='DEFAULT', option='transport_url',
        url=', '.join('%s:%s' % (h.hostname, h.port) for h in parsed.hosts)
        or 'localhost',
        reason='cannot count the consumers of queue %s: %s' % (queue, error))


def _notification_url(conf):
    """The URL the listener's transport uses (see listener.get_transport)."""
    url = conf.notifications.transport_url
    if not url:
        try:
            url = conf.oslo_messaging_notifications.transport_url
        except cfg.NoSuchOptError:
            url = None
    return url or conf.transport_url


def consumer_queues(conf):
    """(transport URL, queue name) of the queues this engine consumes.

    The RPC server's queue ``TOPIC.HOST`` (this engine's only) and, when
    the listener is enabled, the listener pool's queue, which RabbitMQ
    names after ``[notifications]/pool``.
    """
    queues = [(conf.transport_url,
               '%s.%s' % (conf.engine.topic, conf.host))]
    if conf.notifications.enable_listener:
        queues.append((_notification_url(conf), conf.notifications.pool))
    return queues


def consumer_probe(conf, workers):
    """The supervisor's readiness probe.

    True once the broker shows ``workers`` consumers on each queue of
    :func:`consumer_queues`.
    """
    last_error = []

    def probe():
        try:
            counts = [queue_consumers(conf, url, queue)
                      for url, queue in consumer_queues(conf)]
        except exception.TachyonException as exc:
            text = str(exc)
            if last_error != [text]:
                # Once per new error: the probe is retried twice a second.
                LOG.warning('Not ready yet: %s', text)
                last_error[:] = [text]
            return False
        return all(count is None or count >= workers for count in counts)
    return probe
