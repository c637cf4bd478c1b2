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

"""Rolling upgrades: engines of older code on a graph synced by newer.

"Older code" is the real engine process with the schema version its code
knows patched down before it starts, as the previous release would be.
"""

import os
import subprocess
import sys

import fixtures
from oslo_utils import uuidutils

from tachyon import exception
from tachyon.graph import schema
from tachyon.rpc import api
from tests.fixtures import services
from tests.functional import base
from tests.functional import engine_process

#: An engine whose code knows schema version {version}.
ENGINE_OF_VERSION = '''
import sys
from tachyon.graph import schema
schema.SCHEMA_VERSION = {version}
from tachyon.cmd import engine
sys.exit(engine.main(sys.argv))
'''

STATUS_OF_VERSION = '''
import sys
from tachyon.graph import schema
schema.SCHEMA_VERSION = {version}
from tachyon.cmd import status
sys.exit(status.main(sys.argv))
'''

DROP_MINIMUM = """
MATCH (m:TachyonSchema {id: 'schema'}) REMOVE m.min_code_version
"""


def flat(table):
    """The text of oslo.upgradecheck's table, on one line."""
    return ' '.join(table.replace('|', ' ').split())


class RollingUpgradeTestCase(base.FunctionalTestCase):

    def setUp(self):
        super().setUp()
        self.transport = self.useFixture(
            services.RealTransportFixture(self.conf))
        self.topic = 'tachyon-ru-' + uuidutils.generate_uuid()[:8]
        self.addCleanup(self.graph.write, schema._set_version,
                        schema.SCHEMA_VERSION)

    def env(self):
        return {'OS_DEFAULT__HOST': 'ru-engine',
                'OS_ENGINE__TOPIC': self.topic, 'OS_ENGINE__WORKERS': '1',
                'OS_NOTIFICATIONS__ENABLE_LISTENER': 'false'}

    def engine(self, version=None):
        code = (None if version is None
                else ENGINE_OF_VERSION.format(version=int(version)))
        return self.useFixture(engine_process.Engine(
            self.neo4j, self.transport.url, env=self.env(), code=code))

    def status(self, version):
        env = dict(os.environ, OS_NEO4J__URI=self.neo4j.uri,
                   OS_NEO4J__USERNAME=self.neo4j.user,
                   OS_NEO4J__PASSWORD=self.neo4j.password,
                   OS_DEFAULT__TRANSPORT_URL=self.transport.url)
        return subprocess.run(
            [sys.executable, '-c', STATUS_OF_VERSION.format(version=version),
             '--config-file', os.devnull, 'upgrade', 'check'],
            env=env, capture_output=True, text=True, timeout=120)

    def assert_serves(self, eng):
        eng.wait_output('serving topic', timeout=90)
        client = api.EngineAPI(self.conf, topic=self.topic, timeout=30)
        self.addCleanup(client.transport.cleanup)
        self.assertEqual('ru-engine', client.ping()['host'])
        self.assertEqual(0, eng.terminate())


class TestRollingUpgrade(RollingUpgradeTestCase):

    def test_sync_records_the_minimum_code_version(self):
        self.assertEqual(
            (schema.SCHEMA_VERSION,
             schema.MIN_CODE_VERSION[schema.SCHEMA_VERSION]),
            schema.versions(self.graph))
        self.assertLess(schema.MIN_CODE_VERSION[schema.SCHEMA_VERSION],
                        schema.SCHEMA_VERSION)

    def test_previous_release_engine_runs_on_the_synced_schema(self):
        # db sync went first (the graph is at SCHEMA_VERSION); an engine of
        # the release before restarts before its host is upgraded.
        self.assert_serves(self.engine(version=schema.SCHEMA_VERSION - 1))
        res = self.status(schema.SCHEMA_VERSION - 1)
        self.assertEqual(1, res.returncode, res.stdout + res.stderr)
        self.assertIn('newer than the %d of this code, which can still run '
                      'on it' % (schema.SCHEMA_VERSION - 1), flat(res.stdout))

    def test_code_below_the_minimum_is_refused_with_status_1(self):
        # A later release contracted the schema: version +1 needs code of
        # version +1.
        newer = schema.SCHEMA_VERSION + 1
        self.graph.write(schema._set_version, newer, newer)
        eng = self.useFixture(engine_process.Engine(
            self.neo4j, self.transport.url, env=self.env()))
        self.assertEqual(1, eng.wait(90))
        last = eng.output().strip().splitlines()[-1]
        self.assertIn('needs Tachyon code of schema version %d or newer'
                      % newer, last)
        self.assertIn('upgrade Tachyon on this host', last)
        self.assertNotIn('Traceback', eng.output())
        res = self.status(schema.SCHEMA_VERSION)
        self.assertEqual(2, res.returncode, res.stdout + res.stderr)
        self.assertIn('needs Tachyon code of schema version %d' % newer,
                      flat(res.stdout))

    def test_this_code_runs_on_a_newer_expand_only_schema(self):
        self.graph.write(schema._set_version, schema.SCHEMA_VERSION + 1,
                         schema.SCHEMA_VERSION)
        self.assert_serves(self.engine())
        # ... and refuses to sync it back.
        self.assertRaises(exception.SchemaMismatch, schema.sync,
                          self.graph)

    def test_a_graph_synced_before_minimums_is_strict_until_resynced(self):
        current = schema.SCHEMA_VERSION
        self.graph.run_autocommit(DROP_MINIMUM)
        self.assertEqual((current, current), schema.versions(self.graph))
        older = fixtures.MonkeyPatch('tachyon.graph.schema.SCHEMA_VERSION',
                                     current - 1)
        with older:
            exc = self.assertRaises(exception.SchemaMismatch, schema.check,
                                    self.graph)
        self.assertIn('needs Tachyon code of schema version %d' % current,
                      str(exc))
        # This code's sync records the minimum; older code then runs.
        self.assertEqual((current, current), schema.sync(self.graph))
        with older:
            self.assertEqual(current, schema.check(self.graph))
