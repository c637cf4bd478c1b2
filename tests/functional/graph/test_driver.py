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

"""Graph.read_one: one-statement reads as auto-commit transactions."""

from neo4j import exceptions as neo4j_exc

from tachyon import exception
from tests.functional import base


def _names(tx, prefix):
    return [r['name'] for r in tx.run(
        'MATCH (n:ReadOneProbe) WHERE n.name STARTS WITH $prefix '
        'RETURN n.name AS name ORDER BY name', prefix=prefix)]


class TestReadOne(base.FunctionalTestCase):

    def setUp(self):
        super().setUp()
        self.graph.write(lambda tx: tx.run(
            'UNWIND $names AS name CREATE (:ReadOneProbe {name: name})',
            names=['a1', 'a2', 'b1']).consume())

    def test_same_answer_as_a_managed_read(self):
        self.assertEqual(['a1', 'a2'], self.graph.read_one(_names, 'a'))
        self.assertEqual(self.graph.read(_names, 'a'),
                         self.graph.read_one(_names, 'a'))

    def test_sees_what_was_committed_before(self):
        self.graph.write(lambda tx: tx.run(
            'CREATE (:ReadOneProbe {name: "a3"})').consume())
        self.assertEqual(['a1', 'a2', 'a3'],
                         self.graph.read_one(_names, 'a'))

    def test_a_second_statement_is_refused(self):
        def two(tx):
            tx.run('RETURN 1').consume()
            tx.run('RETURN 2').consume()
        exc = self.assertRaises(RuntimeError, self.graph.read_one, two)
        self.assertIn('Graph.read', str(exc))

    def test_typed_errors_of_the_work_pass_through(self):
        def missing(tx):
            if not _names(tx, 'zzz'):
                raise exception.NotFound(kind='probe', ident='zzz')
        self.assertRaises(exception.NotFound, self.graph.read_one, missing)

    def test_a_retryable_failure_is_retried_in_a_transaction(self):
        calls = []

        def flaky(tx):
            calls.append(type(tx).__name__)
            if len(calls) == 1:
                raise neo4j_exc.SessionExpired('connection lost')
            return _names(tx, 'b')
        self.assertEqual(['b1'], self.graph.read_one(flaky))
        self.assertEqual(2, len(calls))
        self.assertEqual('_OneStatement', calls[0])
        self.assertNotEqual('_OneStatement', calls[1])

    def test_a_cypher_error_is_not_retried(self):
        calls = []

        def bad(tx):
            calls.append(1)
            tx.run('RETURN $x +', x=1).consume()
        exc = self.assertRaises(exception.GraphRefused, self.graph.read_one,
                                bad)
        self.assertIsInstance(exc.__cause__, neo4j_exc.CypherSyntaxError)
        self.assertEqual(1, len(calls))

    def test_a_write_is_refused(self):
        def write(tx):
            tx.run('CREATE (:ReadOneProbe {name: "a9"})').consume()
        exc = self.assertRaises(exception.GraphRefused, self.graph.read_one,
                                write)
        self.assertIsInstance(exc.__cause__, neo4j_exc.ClientError)
        self.assertEqual(['a1', 'a2'], self.graph.read(_names, 'a'))
