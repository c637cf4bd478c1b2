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

"""Sessions, commits and RPC over a routing URI (``neo4j://``).

Neo4j 5 Community serves a routing table of one member, itself: the
driver's routed code paths (routing table, read/write routing, bookmarks)
run here as they do against an Enterprise cluster. Every test talks to
the test server through ``neo4j://``; the fixture's own graph
(``bolt://``) only checks what landed.
"""

import threading

from oslo_utils import uuidutils

from tachyon.client import causal
from tachyon import exception
from tachyon.graph import compute
from tachyon.graph import driver
from tachyon.rpc import api
from tachyon.simulation import manager as sim_manager
from tachyon import watcher_xml
from tests.fixtures import services
from tests.functional import base
from tests.functional.rpc import test_engine
from tests import watcher_models

SCENARIO = 'scenario_1.xml'


def _move(inst, src, dest):
    return {'type': 'MOVE', 'consumer_uuid': inst, 'source_uuid': src,
            'destination_uuid': dest, 'check_capacity': False}


class RoutedTestCase(base.FunctionalTestCase):

    def setUp(self):
        super().setUp()
        watcher_xml.import_model(self.graph,
                                 watcher_models.load_data(SCENARIO))
        self.uri = base.routing_uri(self.neo4j.uri)
        self.assertTrue(self.uri.startswith('neo4j'), self.uri)
        self.routed = driver.Graph(self.uri, username=self.neo4j.user,
                                   password=self.neo4j.password)
        self.addCleanup(self.routed.close)

    def placement(self):
        """(instance, its node, another node) of the global graph."""
        mapping = sorted(
            (uuid, inst.node_uuid) for uuid, inst in
            compute.get_all_instances(self.graph).items() if inst.node_uuid)
        inst, src = mapping[0]
        dest = next(u for _i, u in mapping if u != src)
        return inst, src, dest


class TestRoutedGraph(RoutedTestCase):

    def test_routed_session_and_commit_with_bookmarks(self):
        sessions = sim_manager.SessionManager(self.conf, self.routed)
        inst, src, dest = self.placement()
        with driver.causal() as chain:
            self.assertEqual([], chain.raw())
            sid = sessions.create_session(ttl=300)['id']
            after_create = chain.raw()
            self.assertTrue(after_create)
            self.assertEqual([0], sessions.record_deltas(
                sid, [_move(inst, src, dest)]))
            after_delta = chain.raw()
            self.assertTrue(after_delta)
            self.assertNotEqual(after_create, after_delta)
        # A later call, from the bookmarks the first one handed back.
        with driver.causal(after_delta) as chain:
            self.assertEqual(dest, sessions.get_consumer_location(sid, inst))
            self.assertEqual(1, len(sessions.get_deltas(sid)))
            # A read leaves the chain where the writes left it, or later.
            self.assertTrue(chain.raw())
            self.assertEqual(1, sessions.commit_session(sid)['applied'])
        self.assertEqual(dest, compute.get_node_by_instance_uuid(
            self.graph, inst).uuid)

    def test_sessions_outside_a_chain_start_from_no_bookmarks(self):
        # Periodic tasks and the listener run outside any call: as before.
        sessions = sim_manager.SessionManager(self.conf, self.routed)
        sid = sessions.create_session(ttl=300)['id']
        self.assertEqual('active', sessions.get_session(sid)['status'])

    def test_a_bookmark_neo4j_never_gave_is_a_typed_error(self):
        with driver.causal(['not-a-bookmark']):
            exc = self.assertRaises(
                exception.InvalidParameter, self.routed.read,
                lambda tx: tx.run('RETURN 1 AS one').single()['one'])
        self.assertIn('bookmarks', str(exc))

    def test_a_deadlock_is_retried_inside_the_write(self):
        # Two writes lock the same two nodes in opposite orders; Neo4j
        # kills one with DeadlockDetected (a transient error) and the
        # driver's managed transaction runs it again: both succeed, and
        # the caller never sees the deadlock.
        self.graph.write(lambda tx: tx.run(
            'CREATE (:DeadlockProbe {name: "a", n: 0}), '
            '(:DeadlockProbe {name: "b", n: 0})').consume())
        barrier = threading.Barrier(2, timeout=20)
        attempts = {'ab': 0, 'ba': 0}
        errors = []

        def work(tx, order):
            attempts[order] += 1
            first, second = order
            tx.run('MATCH (p:DeadlockProbe {name: $name}) SET p.n = p.n + 1',
                   name=first).consume()
            if attempts[order] == 1:
                barrier.wait()  # both hold their first lock
            tx.run('MATCH (p:DeadlockProbe {name: $name}) SET p.n = p.n + 1',
                   name=second).consume()

        def run(order):
            try:
                self.routed.write(work, order)
            except Exception as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(order,))
                   for order in attempts]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        self.assertEqual([], errors)
        self.assertGreater(sum(attempts.values()), 2, attempts)
        counts = self.graph.read(lambda tx: sorted(
            r['n'] for r in tx.run('MATCH (p:DeadlockProbe) RETURN p.n AS n')))
        self.assertEqual([2, 2], counts)


class TestRoutedEngine(RoutedTestCase):
    """tachyon-engine on ``neo4j://``, called through the causal client."""

    def setUp(self):
        super().setUp()
        self.transport = self.useFixture(
            services.RealTransportFixture(self.conf))
        self.topic = 'tachyon-route-' + uuidutils.generate_uuid()[:8]
        self.engine = self.useFixture(test_engine.EngineProcess(
            self.neo4j, self.transport.url, self.topic, 'engine-routed',
            env={'OS_NEO4J__URI': self.uri}))
        self.client = causal.CausalEngineAPI(self.conf, topic=self.topic,
                                             timeout=30)
        self.addCleanup(self.client.transport.cleanup)

    def test_session_calls_carry_bookmarks(self):
        self.assertTrue(self.client.causal)
        self.assertEqual([], self.client.bookmarks)
        self.assertEqual('engine-routed', self.client.ping()['host'])
        inst, src, dest = self.placement()
        sid = self.client.create_session(ttl=300)['id']
        created = self.client.bookmarks
        self.assertTrue(created)
        self.assertEqual([0], self.client.record_deltas(
            sid, [_move(inst, src, dest)]))
        recorded = self.client.bookmarks
        self.assertTrue(recorded)
        self.assertNotEqual(created, recorded)
        snap = self.client.get_compute_snapshot(session_id=sid)
        self.assertEqual(dest, snap['mapping'][inst])
        self.assertEqual(1, len(self.client.get_session_deltas(sid)))
        self.assertEqual(1, self.client.commit_session(sid)['applied'])
        self.assertNotEqual(recorded, self.client.bookmarks)
        self.assertEqual(dest, compute.get_node_by_instance_uuid(
            self.graph, inst).uuid)

    def test_a_bookmark_the_graph_never_gave_is_refused(self):
        cctxt = self.client.client.prepare(version='1.4')
        exc = self.assertRaises(exception.InvalidParameter, cctxt.call,
                                None, 'get_generation',
                                bookmarks=['not-a-bookmark'])
        self.assertIn('bookmarks', str(exc))
        exc = self.assertRaises(exception.InvalidParameter, cctxt.call,
                                None, 'get_generation', bookmarks='FB:x')
        self.assertIn('bookmarks', str(exc))

    def test_callers_without_bookmarks_get_plain_answers(self):
        plain = api.EngineAPI(self.conf, topic=self.topic, timeout=30)
        generation = plain.get_generation()
        self.assertIsInstance(generation, int)
        capped = causal.CausalEngineAPI(self.conf, topic=self.topic,
                                        timeout=30, version_cap='1.3')
        self.assertFalse(capped.causal)
        self.assertEqual(generation, capped.get_generation())
        self.assertEqual([], capped.bookmarks)
