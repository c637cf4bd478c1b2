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

"""``tachyon-status upgrade check``: is this deployment ready to run?

Run it after installing new Tachyon code and before restarting
``tachyon-engine``. Exit codes follow oslo.upgradecheck: 0 all checks
passed, 1 a warning, 2 a failure.
"""

import sys

from oslo_config import cfg
from oslo_upgradecheck import upgradecheck

from tachyon.cmd import backends
from tachyon.common import config
from tachyon import conf as tachyon_conf
from tachyon import exception
from tachyon.graph import driver
from tachyon.graph import schema
from tachyon import rpc

CONF = tachyon_conf.CONF
PROG = 'tachyon-status upgrade check'


class Checks(upgradecheck.UpgradeCommands):
    """The checks ``tachyon-status upgrade check`` runs, in order."""

    def __init__(self, conf=None):
        super().__init__()
        self.conf = conf or CONF
        # [DEFAULT]/transport_url belongs to oslo.messaging, which registers
        # it only when a transport is built; the check reads it before.
        rpc.register_transport_opts(self.conf)
        self._graph = None
        self._graph_error = None
        self._transport = None
        self._failures = []

    def _connect(self):
        if self._graph is None and self._graph_error is None:
            try:
                graph = driver.Graph.from_conf(self.conf)
                graph.verify()
                self._graph = graph
            except exception.TachyonException as exc:
                self._graph_error = backends.message(exc, self.conf)
        return self._graph

    def close(self):
        if self._graph is not None:
            self._graph.close()
            self._graph = None

    def _check_neo4j(self):
        if self._connect() is None:
            return upgradecheck.Result(
                upgradecheck.Code.FAILURE, str(self._graph_error))
        return upgradecheck.Result(
            upgradecheck.Code.SUCCESS,
            'Neo4j at %s answers.' % self._graph.safe_uri)

    def _check_schema(self):
        graph = self._connect()
        if graph is None:
            return upgradecheck.Result(
                upgradecheck.Code.FAILURE,
                'Cannot read the schema version: %s' % self._graph_error)
        try:
            version = schema.check(graph)
            minimum = schema.versions(graph)[1]
        except exception.SchemaMismatch as exc:
            return upgradecheck.Result(upgradecheck.Code.FAILURE, str(exc))
        if version > schema.SCHEMA_VERSION:
            # Mid rolling upgrade: this host's code is the older one.
            return upgradecheck.Result(
                upgradecheck.Code.WARNING,
                'Graph schema is at version %d, newer than the %d of this '
                'code, which can still run on it (code of schema version '
                '%d or newer can); upgrade Tachyon on this host.'
                % (version, schema.SCHEMA_VERSION, minimum))
        return upgradecheck.Result(
            upgradecheck.Code.SUCCESS,
            'Graph schema is at version %d, the one this code needs (code '
            'of schema version %d or newer can run on it).'
            % (version, minimum))

    def _check_transport(self):
        location = self.conf.get_location('transport_url')
        if (not self.conf.transport_url or location is None
                or location.location == cfg.Locations.opt_default):
            return upgradecheck.Result(
                upgradecheck.Code.WARNING,
                '[DEFAULT]/transport_url is not set: tachyon-engine would '
                'look for RabbitMQ on localhost with default credentials.')
        try:
            backends.probe_transport(self.conf, self._transport)
        except exception.TachyonException as exc:
            return upgradecheck.Result(upgradecheck.Code.FAILURE,
                                       backends.message(exc, self.conf))
        return upgradecheck.Result(
            upgradecheck.Code.SUCCESS,
            '[DEFAULT]/transport_url is set (%s) and the broker at %s '
            'takes its login.' % (
                location.location.name,
                backends.redact_transport_url(self.conf.transport_url)))

    def check(self):
        """Refuse bad settings in one line, run the checks, sum them up.

        A setting that can be judged without a server (an option's value,
        the syntax and scheme of ``[neo4j]/uri`` and of
        ``[DEFAULT]/transport_url``) ends the command at once, status 2.
        After the table, the first failure is repeated as one line on
        stderr.
        """
        try:
            self._transport = backends.check_settings(self.conf,
                                                      transport=True)
        except exception.ConfigurationError as exc:
            config.die(backends.message(exc, self.conf, PROG), 2)
        try:
            code = super().check()
        finally:
            self._transport.cleanup()
        if code == upgradecheck.Code.FAILURE and self._failures:
            sys.stderr.write('%s: %s\n' % (PROG, self._failures[0]))
        return code

    def record_failure(self, details):
        self._failures.append(backends.scrub(details, self.conf))

    _upgrade_checks = (
        ('Neo4j reachability', backends.recorded(_check_neo4j)),
        ('Graph schema version', backends.recorded(_check_schema)),
        ('Messaging transport', backends.recorded(_check_transport)),
    )


def main(argv=None):
    argv = sys.argv if argv is None else argv
    checks = Checks()
    try:
        return upgradecheck.main(CONF, project='tachyon',
                                 upgrade_command=checks, argv=argv[1:])
    finally:
        checks.close()


if __name__ == '__main__':
    sys.exit(main())
