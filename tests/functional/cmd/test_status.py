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

"""tachyon-status upgrade check, run as the real command."""

import os
import subprocess
import sys

from tachyon.graph import schema
from tests.fixtures import services
from tests.functional import base


class TestUpgradeCheck(base.FunctionalTestCase):

    def _status(self, uri=None, transport_url=True):
        if transport_url is True:
            # The transport check logs in to the broker: the real one.
            transport_url = self.useFixture(
                services.RealTransportFixture(self.conf)).url
        env = dict(os.environ,
                   OS_NEO4J__URI=uri or self.neo4j.uri,
                   OS_NEO4J__USERNAME=self.neo4j.user,
                   OS_NEO4J__PASSWORD=self.neo4j.password,
                   OS_NEO4J__MAX_TRANSACTION_RETRY_TIME='0')
        if transport_url:
            env['OS_DEFAULT__TRANSPORT_URL'] = transport_url
        return subprocess.run(
            [sys.executable, '-m', 'tachyon.cmd.status',
             '--config-file', os.devnull, 'upgrade', 'check'],
            env=env, capture_output=True, text=True, timeout=120)

    def test_fails_when_schema_behind_then_passes_after_sync(self):
        self.neo4j.wipe_schema()
        res = self._status()
        self.assertEqual(2, res.returncode, res.stdout + res.stderr)
        self.assertIn('tachyon-manage db sync', res.stdout)

        schema.sync(self.graph)
        res = self._status()
        self.assertEqual(0, res.returncode, res.stdout + res.stderr)
        self.assertIn('Graph schema is at version %d'
                      % schema.SCHEMA_VERSION, res.stdout)

    def test_fails_when_schema_is_newer_than_the_code(self):
        self.graph.write(schema._set_version, schema.SCHEMA_VERSION + 1)
        self.addCleanup(self.graph.write, schema._set_version,
                        schema.SCHEMA_VERSION)
        res = self._status()
        self.assertEqual(2, res.returncode, res.stdout)
        self.assertIn('upgrade Tachyon', res.stdout)

    def test_unreachable_neo4j_fails_and_names_the_server(self):
        res = self._status(uri='bolt://127.0.0.1:1')
        self.assertEqual(2, res.returncode, res.stdout)
        self.assertIn('bolt://127.0.0.1:1', res.stdout)
        self.assertNotIn('Traceback', res.stdout + res.stderr)

    def test_unset_transport_is_a_warning(self):
        res = self._status(transport_url=None)
        self.assertEqual(1, res.returncode, res.stdout + res.stderr)
        self.assertIn('transport_url is not set', res.stdout)
