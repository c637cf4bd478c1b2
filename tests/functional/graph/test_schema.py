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

import os
import subprocess
import sys

from tachyon import exception
from tachyon.graph import driver
from tachyon.graph import schema
from tests.functional import base


class TestSchema(base.FunctionalTestCase):

    def test_sync_creates_every_constraint_and_index(self):
        self.neo4j.wipe_schema()
        self.assertIsNone(schema.current_version(self.graph))
        old, new = schema.sync(self.graph)
        self.assertIsNone(old)
        self.assertEqual(schema.SCHEMA_VERSION, new)
        constraints, indexes = schema.describe(self.graph)
        for name in schema.CONSTRAINT_NAMES:
            self.assertIn(name, constraints)
            # A uniqueness constraint is backed by an index of its name.
            self.assertIn(name, indexes)
        for name in schema.INDEX_NAMES:
            self.assertIn(name, indexes)
        # The seed's "Indexes Required".
        for name in ('rp_uuid', 'rp_name', 'consumer_uuid', 'rc_name',
                     'session_id'):
            self.assertIn(name, indexes)

    def _schema_listing(self):
        return (self.graph.run_autocommit(
            'SHOW CONSTRAINTS YIELD name, type, labelsOrTypes, properties '
            'RETURN name, type, labelsOrTypes, properties ORDER BY name'),
            self.graph.run_autocommit(
                'SHOW INDEXES YIELD name, type, labelsOrTypes, properties '
                'RETURN name, type, labelsOrTypes, properties ORDER BY name'))

    def test_second_sync_changes_nothing(self):
        schema.sync(self.graph)
        before = self._schema_listing()
        old, new = schema.sync(self.graph)
        self.assertEqual(old, new)
        self.assertEqual(before, self._schema_listing())

    def test_sync_recreates_a_dropped_index(self):
        self.graph.run_autocommit('DROP INDEX rp_name')
        schema.sync(self.graph)
        self.assertIn('rp_name', schema.describe(self.graph)[1])

    def test_check_refuses_unsynced_schema(self):
        self.neo4j.wipe_schema()
        exc = self.assertRaises(exception.SchemaMismatch, schema.check,
                                self.graph)
        self.assertIn('tachyon-manage db sync', str(exc))

    def test_check_refuses_newer_schema(self):
        self.graph.write(schema._set_version, schema.SCHEMA_VERSION + 1)
        self.addCleanup(self.graph.write, schema._set_version,
                        schema.SCHEMA_VERSION)
        exc = self.assertRaises(exception.SchemaMismatch, schema.check,
                                self.graph)
        self.assertIn('newer', str(exc))
        self.assertRaises(exception.SchemaMismatch, schema.sync, self.graph)

    def test_check_accepts_current_schema(self):
        self.assertEqual(schema.SCHEMA_VERSION, schema.check(self.graph))

    def test_uniqueness_is_enforced(self):
        def create_twice(tx):
            tx.run("CREATE (:ResourceProvider {uuid: 'x'})")
            tx.run("CREATE (:ResourceProvider {uuid: 'x'})")
        self.assertRaises(exception.Conflict, self.graph.write, create_twice)


class TestConnectionErrors(base.FunctionalTestCase):

    def test_wrong_password_is_one_clear_error(self):
        graph = driver.Graph(self.neo4j.uri, username=self.neo4j.user,
                             password='not-the-password',
                             max_transaction_retry_time=0.0)
        self.addCleanup(graph.close)
        exc = self.assertRaises(exception.GraphAuthFailed, graph.verify)
        self.assertIn('[neo4j]/password', str(exc))
        self.assertIn(self.neo4j.user, str(exc))
        self.assertNotIn('not-the-password', str(exc))

    def test_unknown_database_names_the_option(self):
        graph = driver.Graph(self.neo4j.uri, username=self.neo4j.user,
                             password=self.neo4j.password,
                             database='nosuchdb',
                             max_transaction_retry_time=0.0)
        self.addCleanup(graph.close)
        exc = self.assertRaises(exception.ConfigurationError, graph.verify)
        self.assertIn('[neo4j]/database', str(exc))


class TestManageDb(base.FunctionalTestCase):
    """tachyon-manage db sync / version, run as a real command."""

    def _manage(self, *args, password=None):
        env = dict(os.environ,
                   OS_NEO4J__URI=self.neo4j.uri,
                   OS_NEO4J__USERNAME=self.neo4j.user,
                   OS_NEO4J__PASSWORD=(self.neo4j.password
                                       if password is None else password),
                   OS_NEO4J__MAX_TRANSACTION_RETRY_TIME='0')
        return subprocess.run(
            [sys.executable, '-m', 'tachyon.cmd.manage',
             '--config-file', os.devnull] + list(args),
            env=env, capture_output=True, text=True, timeout=120)

    def test_sync_then_version(self):
        self.neo4j.wipe_schema()
        res = self._manage('db', 'version')
        self.assertEqual(0, res.returncode, res.stderr)
        self.assertEqual('none', res.stdout.strip())
        res = self._manage('db', 'sync')
        self.assertEqual(0, res.returncode, res.stderr)
        self.assertIn('version none -> %d' % schema.SCHEMA_VERSION,
                      res.stdout)
        res = self._manage('db', 'sync')
        self.assertEqual(0, res.returncode, res.stderr)
        self.assertIn('nothing to do', res.stdout)
        res = self._manage('db', 'version')
        self.assertEqual(str(schema.SCHEMA_VERSION), res.stdout.strip())

    def test_wrong_credentials_give_one_line(self):
        res = self._manage('db', 'version', password='wrong')
        self.assertEqual(1, res.returncode)
        lines = res.stderr.strip().splitlines()
        self.assertEqual(1, len(lines), res.stderr)
        self.assertIn('rejected the credentials', lines[0])
        self.assertNotIn('Traceback', res.stderr)


class TestSchemaUpgrade(base.FunctionalTestCase):

    def test_version_1_upgrades_to_current(self):
        # A graph synced by the first release: version 1 and its indexes.
        self.neo4j.wipe_schema()
        for _name, statement in schema.UPGRADES[1]:
            self.graph.run_autocommit(statement)
        self.graph.write(schema._set_version, 1)
        self.assertRaises(exception.SchemaMismatch, schema.check,
                          self.graph)
        old, new = schema.sync(self.graph)
        self.assertEqual((1, schema.SCHEMA_VERSION), (old, new))
        indexes = schema.describe(self.graph)[1]
        for name, _statement in schema.UPGRADES[2]:
            self.assertIn(name, indexes)
        self.assertEqual(schema.SCHEMA_VERSION, schema.check(self.graph))
