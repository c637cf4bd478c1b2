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
"""

import os
import threading
import time

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

LOG = logging.getLogger(__name__)


class PeriodicTask(object):
    """Run ``func`` every ``interval`` seconds while holding a lease.

    The lease is taken for ``lease_ttl`` seconds (at most 0.9 ×
    ``interval``) and renewed every third of that while ``func`` runs, so
    however long a run takes, no other worker starts the task meanwhile;
    a worker that dies stops renewing and the task is free again within
    ``lease_ttl``. When a run ends, the lease is kept until 0.9 ×
    ``interval`` after the run started, so the task runs once per interval
    across every worker.
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

    def __init__(self, conf):
        super().__init__()
        self.conf = conf
        self.graph = None
        self.rpcserver = None
        self.listener = None
        self.tasks = []
        self.holder = '%s:%d' % (conf.host, os.getpid())
        # In the parent, before the workers fork: the engine's identity
        # and the metrics endpoint they all serve.
        self.engine_pid, self.started_at = os.getpid(), time.time()
        self.heartbeat = None
        try:
            self.exporter = metrics.Exporter.prepare(conf)
        except exception.ConfigurationError as exc:
            config.die(backends.message(exc, conf, 'tachyon-engine'), 2)

    def _periodic_tasks(self):
        conf = self.conf
        ttl = conf.engine.periodic_lease_ttl
        tasks = [PeriodicTask(self.graph, 'session-reaper',
                              conf.simulation.reaper_interval,
                              self.manager.sessions.reap, self.holder,
                              lease_ttl=ttl),
                 PeriodicTask(self.graph, 'tombstone-purge',
                              max(60, conf.notifications.tombstone_lifetime
                                  // 10),
                              self._purge_tombstones, self.holder,
                              lease_ttl=ttl)]
        syncs = collectors.CollectorManager(conf, self.graph)
        for name, interval in sorted(syncs.intervals().items()):
            tasks.append(PeriodicTask(
                self.graph, 'sync-%s' % name, interval,
                lambda name=name: syncs.run(name), self.holder,
                first_delay=5, lease_ttl=ttl))
        return tasks

    def _purge_tombstones(self):
        older = time.time() - self.conf.notifications.tombstone_lifetime
        purged = tombstones.purge_tombstones(self.graph, older)
        if purged:
            LOG.info('Purged %d tombstones', purged)

    def _start_listener(self):
        if not self.conf.notifications.enable_listener:
            return
        self.listener = listener.build(self.conf, self.graph)
        self.listener.start()

    def start(self):
        super().start()
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
        self.tasks = self._periodic_tasks()
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

    def stop(self, graceful=True):
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
    # workers gracefully; each comes back with the new values. READY for
    # systemd (Type=notify) is sent by the launcher once the service runs.
