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

"""tachyon-engine: serve the model and simulation sessions to Watcher."""

import gc
import os
import signal
import sys
import time

from oslo_config import cfg
from oslo_log import log as logging
from oslo_service import service

from tachyon.cmd import backends
from tachyon.common import config
from tachyon.common import systemd
from tachyon import exception
from tachyon.graph import driver
from tachyon.graph import schema
from tachyon.notifications import listener
from tachyon import service as engine_service

CONF = config.CONF
LOG = logging.getLogger(__name__)
PROG = 'tachyon-engine'

#: Exit status when Neo4j or the broker stayed unreachable at start
#: (sysexits' "temporary failure; try again later"). 2 is a configuration
#: error, 1 a graph schema that is not ours: restarting fixes neither.
EX_TEMPFAIL = 75


def _check_graph(conf):
    """Stop at once when Neo4j is unusable or the schema is not ours."""
    graph = driver.Graph.from_conf(conf)
    try:
        graph.verify()
        schema.check(graph)
    finally:
        graph.close()


def check_backends(conf):
    """Check Neo4j and the broker in this (the parent) process.

    Before any worker starts, so that a setting no retry can fix ends the
    engine (status 2) instead of workers dying and being restarted
    forever. A server that is down is waited for, up to
    ``[engine]/backend_wait_timeout`` seconds (then status
    :data:`EX_TEMPFAIL`, which systemd's Restart=on-failure retries).
    Returns nothing; exits on failure.
    """
    try:
        transport = backends.check_settings(conf, transport=True)
    except exception.ConfigurationError as exc:
        config.die(backends.message(exc, conf, PROG), 2)
    deadline = time.monotonic() + conf.engine.backend_wait_timeout
    try:
        backends.wait_for(lambda: _check_graph(conf), deadline, conf)
        backends.wait_for(
            lambda: backends.probe_transport(conf, transport), deadline,
            conf)
    except backends.FATAL as exc:
        config.die(backends.message(exc, conf, PROG), 2)
    except backends.UNAVAILABLE as exc:
        config.die(backends.message(exc, conf, PROG), EX_TEMPFAIL)
    except exception.TachyonException as exc:
        # The schema is not ours: 'tachyon-manage db sync' (or newer code)
        # fixes it, not a restart.
        config.die(backends.message(exc, conf, PROG), 1)
    finally:
        # No connection of the parent's may outlive the fork.
        transport.cleanup()


class Supervision(object):
    """What the parent does with its workers' reports to systemd."""

    def __init__(self, conf):
        self.conf = conf
        self.exit_code = None
        self.message = None
        self.supervisor = systemd.Supervisor(
            conf.engine.workers, on_fatal=self.fatal,
            describe=self.describe)

    def describe(self):
        conf = self.conf
        return ('Serving: %d/%d workers consuming topic %s on exchange %s%s'
                % (conf.engine.workers, conf.engine.workers,
                   conf.engine.topic, conf.engine.exchange,
                   ', notifications in pool %s' % conf.notifications.pool
                   if conf.notifications.enable_listener else ''))

    def fatal(self, message):
        """A worker met a configuration error: stop the engine, status 2.

        Called in the supervisor's thread; SIGTERM makes the launcher stop
        every worker and return.
        """
        if self.exit_code is None:
            self.exit_code = 2
            self.message = message
            LOG.error('Stopping: a worker met a configuration error '
                      'restarting cannot fix: %s', message)
            os.kill(os.getpid(), signal.SIGTERM)


def main(argv=None):
    argv = sys.argv if argv is None else argv
    try:
        config.parse_args(argv)
    except cfg.Error as exc:
        config.die(backends.scrub(exc), 2)
    # Before anything else: systemd's variables leave the environment, so
    # only the supervisor speaks to systemd, once the workers consume.
    supervision = Supervision(CONF)
    supervisor = supervision.supervisor
    supervisor.start()
    supervisor.hold('Checking Neo4j and the message broker')
    try:
        listener.check_queue_names(CONF)
    except exception.ConfigurationError as exc:
        config.die(backends.message(exc, CONF, PROG), 2)
    check_backends(CONF)
    supervisor.probe = engine_service.consumer_probe(CONF,
                                                     CONF.engine.workers)
    supervisor.hold(None)
    supervisor.status('Starting: 0/%d workers started' % CONF.engine.workers)
    # Everything loaded so far (modules, options) lives as long as the
    # process: keep it out of the garbage collector's full passes, which
    # a compute snapshot (hundreds of thousands of new objects) triggers,
    # and out of copy-on-write in the forked workers.
    gc.freeze()
    launcher = service.launch(
        CONF, engine_service.EngineService(CONF, supervisor.reporter()),
        workers=CONF.engine.workers, restart_method='mutate')
    try:
        code = launcher.wait() or 0
    except SystemExit as exc:
        code = exc.code or 0
    supervisor.stop()
    if supervision.exit_code is not None:
        message = backends.scrub(supervision.message, CONF)
        config.die('%s: %s' % (PROG, message), supervision.exit_code)
    return code


if __name__ == '__main__':
    sys.exit(main())
