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

"""Graph.read_one (one-statement reads as auto-commit transactions) and
Graph.write_whole (writes whose memory refusal is final)."""

from neo4j import exceptions as neo4j_exc

from tachyon import exception
from tachyon.graph import driver
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


_UNITS = {'B': 1, 'KiB': 1 << 10, 'MiB': 1 << 20, 'GiB': 1 << 30}

# About a KiB a row, collected: what Neo4j counts against its pool of
# transaction memory, so the refusal comes from the server as it would
# for an import too large for the heap.
_HUNGRY = """
WITH reduce(s = '', i IN range(1, 64) | s + '0123456789abcdef') AS pad
UNWIND range(1, $rows) AS x
WITH collect(pad + toString(x)) AS kept
RETURN size(kept) AS n
"""


def pool_limit(graph):
    """Bytes of dbms.memory.transaction.total.max (70 % of the heap)."""
    value = graph.read(lambda tx: tx.run(
        "SHOW SETTINGS YIELD name, value "
        "WHERE name = 'dbms.memory.transaction.total.max' "
        "RETURN value").single()['value'])
    number = value.rstrip('BKMGiTb')
    return int(float(number) * _UNITS[value[len(number):]])


def exhaust_memory(tx, limit):
    """Run a statement the pool of ``limit`` bytes cannot hold."""
    tx.run(_HUNGRY, rows=limit // 1024 * 3 // 2).consume()


class TestWholeWrites(base.FunctionalTestCase):
    """Graph.write_whole: a memory refusal is final, and says so."""

    def setUp(self):
        super().setUp()
        self.limit = pool_limit(self.graph)

    def retrying_graph(self, seconds):
        graph = driver.Graph(self.neo4j.uri, username=self.neo4j.user,
                             password=self.neo4j.password,
                             max_transaction_retry_time=seconds)
        self.addCleanup(graph.close)
        return graph

    def test_a_memory_refusal_is_raised_at_once(self):
        graph = self.retrying_graph(30.0)
        calls = []

        def work(tx):
            calls.append(1)
            tx.run('CREATE (:WholeWriteProbe)').consume()
            exhaust_memory(tx, self.limit)

        exc = self.assertRaises(exception.GraphOutOfMemory,
                                graph.write_whole, work)
        self.assertEqual(1, len(calls))
        self.assertIn('dbms.memory.transaction.total.max', str(exc))
        self.assertEqual('Neo.TransientError.General.'
                         'MemoryPoolOutOfMemoryError',
                         exc.kwargs['neo4j_code'])
        self.assertIsInstance(exc, exception.GraphRefused)
        # Rolled back, and the server serves the next transaction.
        self.assertEqual(0, self.graph.read(lambda tx: tx.run(
            'MATCH (n:WholeWriteProbe) RETURN count(n) AS n'
        ).single()['n']))

    def test_a_plain_write_retries_it(self):
        # What write_whole is for: write() takes the same refusal for
        # transient (another transaction may hold the pool) and runs the
        # work again until its retry time is spent.
        graph = self.retrying_graph(1.0)
        calls = []

        def work(tx):
            calls.append(1)
            exhaust_memory(tx, self.limit)

        self.assertRaises(exception.GraphUnavailable, graph.write, work)
        self.assertGreater(len(calls), 1)

    def test_other_transient_failures_are_still_retried(self):
        calls = []

        def flaky(tx):
            calls.append(1)
            if len(calls) == 1:
                raise neo4j_exc.TransientError._hydrate_neo4j(
                    code='Neo.TransientError.Transaction.DeadlockDetected',
                    message='deadlock')
            tx.run('CREATE (:WholeWriteProbe)').consume()
            return 'done'

        self.assertEqual('done', self.graph.write_whole(flaky))
        self.assertEqual(2, len(calls))
