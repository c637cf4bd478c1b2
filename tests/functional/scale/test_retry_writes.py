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

"""A session write whose answer is lost is retried, and takes effect once.

A session's move and commit (RPC 1.7), its creation, fork, close,
rollback, revert and merge (1.9), its expiry and a move in the global
graph (1.10).

Real tachyon-engine processes, RabbitMQ and Neo4j; the client is the
causal one Tachyon's Watcher plugins use, with a short timeout.

* Killed after the write, before the answer: the engine's worker runs
  the real write and, once it has committed, kills itself with SIGKILL
  (the first time only: :data:`DIES_ONCE`). Its parent respawns the
  worker, which serves the client's retry: the retry must get the first
  attempt's answer, and the session hold the move once, or the global
  graph change once. Without request ids the retried move is refused
  (its instance is no longer on the source) and the retried commit gets
  InvalidState (the session has ended); the retried creation or fork
  makes a second session, the retried rollback, merge or expiry gets
  InvalidState, and the retried global move a Conflict.
* Frozen, then resumed: of two engines, one is frozen (SIGSTOP) while it
  holds the first attempt; the other serves the retry and commits (or
  creates the session). The frozen one, resumed, serves the attempt it
  held, late: it must answer with the kept result and apply nothing (or
  answer the session the retry created, and create none).
"""

import concurrent.futures
import os
import signal
import time

import fixtures
from oslo_utils import uuidutils

from tachyon.client import causal
from tachyon.graph import common
from tachyon.graph import compute
from tachyon import exception
from tachyon import watcher_xml
from tests.fixtures import services
from tests.functional import base
from tests.functional.rpc import test_engine
from tests import watcher_models

#: The client's timeout: how long before an unanswered call is sent
#: again.
TIMEOUT = 5

#: tachyon-engine whose worker dies (SIGKILL) right after the write
#: ``{module}.{function}`` ends -- committed, or refused -- the first
#: time only (``{mark}`` tells): the answer is never sent.
DIES_ONCE = '''
import importlib
import os
import signal
import sys

writes = importlib.import_module({module!r})
real = writes.{function}


def write_then_die(*args, **kwargs):
    try:
        return real(*args, **kwargs)
    finally:
        if not os.path.exists({mark!r}):
            with open({mark!r}, 'w') as mark:
                mark.write(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)


writes.{function} = write_then_die
# Its package may re-export it (tachyon.graph.compute's migrate_instance,
# which the endpoint calls): rebound there too, or the call would miss it.
package = sys.modules.get({module!r}.rpartition('.')[0])
if getattr(package, {function!r}, None) is real:
    setattr(package, {function!r}, write_then_die)
from tachyon.cmd import engine
sys.exit(engine.main(sys.argv))
'''


class DyingEngine(test_engine.EngineProcess):
    """An engine whose worker dies once after ``function`` ran."""

    def __init__(self, neo4j, transport_url, topic, host, function, mark,
                 module='tachyon.simulation.writes', env=None):
        super().__init__(neo4j, transport_url, topic, host, env=env)
        self.code = DIES_ONCE.format(module=module, function=function,
                                     mark=mark)


class RetryTestCase(base.FunctionalTestCase):

    def setUp(self):
        super().setUp()
        self.transport = self.useFixture(
            services.RealTransportFixture(self.conf))
        watcher_xml.import_model(
            self.graph, watcher_models.load_data('scenario_1.xml'))
        self.topic = 'tachyon-retry-w-' + uuidutils.generate_uuid()[:8]
        self.log = self.useFixture(fixtures.FakeLogger(
            name='tachyon.rpc.api', level='WARNING'))
        self.client = causal.CausalEngineAPI(
            self.conf, topic=self.topic, timeout=TIMEOUT, retries=3)
        self.addCleanup(self.client.transport.cleanup)

    def moves(self, count=1):
        """``count`` (instance, source, destination) of the model."""
        snap = self.client.get_compute_snapshot()
        nodes = sorted(n['uuid'] for n in snap['nodes'])
        found = []
        for inst, src in sorted(snap['mapping'].items())[:count]:
            found.append((inst, src, next(n for n in nodes if n != src)))
        return found

    def generation(self):
        return self.graph.read_one(common.global_generation)

    def placed(self, inst):
        return (compute.get_node_by_instance_uuid(self.graph, inst).uuid,
                compute.get_instance_by_uuid(self.graph, inst).generation)

    def assertRetried(self, method):
        self.assertIn('RPC call %s on topic' % method, self.log.output)
        self.assertIn('sending it again', self.log.output)


class KilledTestCase(RetryTestCase):

    def start(self, function, module='tachyon.simulation.writes', env=None):
        self.mark = os.path.join(self.useFixture(fixtures.TempDir()).path,
                                 'died')
        self.engine = self.useFixture(DyingEngine(
            self.neo4j, self.transport.url, self.topic, 'engine-a',
            function, self.mark, module=module, env=env))
        self.first_worker = self.engine.workers()

    def assertDiedAndCameBack(self):
        self.assertTrue(os.path.exists(self.mark), 'the worker never died')
        with open(self.mark) as mark:
            died = int(mark.read())
        self.assertEqual([died], self.first_worker)
        self.assertTrue(services.wait_until(
            lambda: self.engine.workers()
            and self.engine.workers() != [died], 30))


class TestAnEngineKilledBeforeItAnswers(KilledTestCase):
    def test_a_move_is_recorded_once(self):
        self.start('record_deltas')
        (inst, src, dest), = self.moves()
        sid = self.client.create_session(ttl=600)['id']
        answer = self.client.migrate_instance(inst, src, dest,
                                              session_id=sid,
                                              check_capacity=False)
        self.assertDiedAndCameBack()
        self.assertRetried('migrate_instance')
        self.assertEqual({'sequence': 0}, answer)
        deltas = self.client.get_session_deltas(sid)
        self.assertEqual(1, len(deltas))
        self.assertEqual(('MOVE', inst, src, dest),
                         (deltas[0]['type'], deltas[0]['consumer_uuid'],
                          deltas[0]['source_uuid'],
                          deltas[0]['destination_uuid']))
        self.assertTrue(deltas[0]['request_id'])
        self.assertEqual(1, self.client.get_session(sid)['delta_count'])
        # The session goes on: the next move gets the next sequence.
        self.assertEqual({'sequence': 1}, self.client.migrate_instance(
            inst, dest, src, session_id=sid, check_capacity=False))

    def test_a_commit_is_applied_once_and_answered(self):
        self.start('commit_session')
        (inst, src, dest), = self.moves()
        sid = self.client.create_session(ttl=600)['id']
        self.client.migrate_instance(inst, src, dest, session_id=sid,
                                     check_capacity=False)
        before, inst_gen = self.generation(), self.placed(inst)[1]
        answer = self.client.commit_session(sid)
        self.assertDiedAndCameBack()
        self.assertRetried('commit_session')
        self.assertEqual({'generation': before + 1, 'applied': 1,
                          'consumers': 1}, answer)
        session = self.client.get_session(sid)
        self.assertEqual('committed', session['status'])
        self.assertEqual({'result': answer}, session['commit_outcome'])
        # The global graph changed once: one generation, one move.
        self.assertEqual(before + 1, self.generation())
        self.assertEqual((dest, inst_gen + 1), self.placed(inst))
        self.assertIn('Simulation session %s: commit request' % sid,
                      self.engine.output())
        self.assertIn('answered as the first time (committed), nothing '
                      'applied', self.engine.output())

    def test_a_refused_commit_is_refused_again(self):
        self.start('commit_session')
        (inst, src, dest), = self.moves()
        sid = self.client.create_session(ttl=600)['id']
        self.client.migrate_instance(inst, src, dest, session_id=sid,
                                     check_capacity=False)
        fork = self.client.fork_session(sid)['id']
        before = self.generation()
        pool = concurrent.futures.ThreadPoolExecutor(1)
        self.addCleanup(pool.shutdown)
        call = pool.submit(self.client.commit_session, sid)
        # Refused (live fork), and its answer lost. Before the retry, the
        # fork is reverted: a commit sent now would pass.
        self.assertTrue(services.wait_until(
            lambda: os.path.exists(self.mark), 3 * TIMEOUT))
        other = causal.CausalEngineAPI(self.conf, topic=self.topic,
                                       timeout=4 * TIMEOUT, retries=0)
        self.addCleanup(other.transport.cleanup)
        other.revert_session(fork)
        exc = self.assertRaises(exception.InvalidState, call.result,
                                timeout=6 * TIMEOUT)
        self.assertEqual('forked', exc.kwargs['state'])
        self.assertIn(fork, str(exc))
        self.assertRetried('commit_session')
        self.assertEqual('active', self.client.get_session(sid)['status'])
        self.assertEqual(before, self.generation())
        self.assertEqual(src, self.placed(inst)[0])
        # A commit of its own (a new request) applies the session.
        self.assertEqual(1, self.client.commit_session(sid)['applied'])
        self.assertEqual(dest, self.placed(inst)[0])


#: Where the session's life writes are (1.9).
SESSIONS = 'tachyon.graph.sessions'


class TestSessionCallsOfAKilledEngine(KilledTestCase):
    """1.9: the session's creation, fork, end and merge, killed after."""

    def assertReplayed(self, what, sid):
        self.assertIn('Simulation session %s: %s request' % (sid, what),
                      self.engine.output())
        self.assertIn('answered as the first time, nothing written',
                      self.engine.output())

    def test_a_creation_makes_one_session_and_answers_it(self):
        self.start('create_session', SESSIONS)
        self.assertEqual([], self.client.list_sessions())
        session = self.client.create_session(ttl=600, audit_uuid=None)
        self.assertDiedAndCameBack()
        self.assertRetried('create_session')
        # One session: the one the first attempt created, answered.
        listed = self.client.list_sessions()
        self.assertEqual([session['id']], [s['id'] for s in listed])
        self.assertEqual('active', session['status'])
        self.assertTrue(listed[0]['create_request_id'])
        self.assertEqual(listed[0]['create_request_id'],
                         session['create_request_id'])
        self.assertReplayed('creation', session['id'])
        # It serves: a move is recorded in it.
        (inst, src, dest), = self.moves()
        self.assertEqual({'sequence': 0}, self.client.migrate_instance(
            inst, src, dest, session_id=session['id'],
            check_capacity=False))

    def test_a_creation_retried_is_not_counted_twice(self):
        # One session may be active: a retry counted as a second creation
        # would be refused (LimitExceeded) though the first was made.
        self.start('create_session', SESSIONS,
                   env={'OS_SIMULATION__MAX_ACTIVE_SESSIONS': '1'})
        sid = self.client.create_session(ttl=600)['id']
        self.assertDiedAndCameBack()
        self.assertRetried('create_session')
        self.assertEqual([sid], [s['id'] for s in
                                 self.client.list_sessions('active')])
        self.assertRaises(exception.LimitExceeded,
                          self.client.create_session, ttl=600)

    def test_a_fork_makes_one_fork_and_answers_it(self):
        self.start('fork_session', SESSIONS)
        (inst, src, dest), = self.moves()
        sid = self.client.create_session(ttl=600)['id']
        self.client.migrate_instance(inst, src, dest, session_id=sid,
                                     check_capacity=False)
        fork = self.client.fork_session(sid)
        self.assertDiedAndCameBack()
        self.assertRetried('fork_session')
        forks = [s for s in self.client.list_sessions()
                 if s.get('parent_id') == sid]
        self.assertEqual([fork['id']], [s['id'] for s in forks])
        self.assertEqual(([sid], [1]), (fork['ancestor_ids'],
                                        fork['ancestor_upto']))
        self.assertReplayed('fork', fork['id'])
        # The fork sees its parent's move, and merges into it.
        self.assertEqual(dest, self.client.get_consumer_location(
            fork['id'], inst))
        self.client.migrate_instance(inst, dest, src, session_id=fork['id'],
                                     check_capacity=False)
        self.assertEqual([1], self.client.merge_session(
            fork['id'])['sequences'])

    def test_a_rollback_answers_as_the_first_time(self):
        self.start('rollback_session', SESSIONS)
        sid = self.client.create_session(ttl=600)['id']
        fork = self.client.fork_session(sid)['id']
        answer = self.client.rollback_session(sid)
        self.assertDiedAndCameBack()
        self.assertRetried('rollback_session')
        self.assertEqual(('rolled_back', [fork]),
                         (answer['status'], answer['descendants']))
        self.assertEqual('rolled_back',
                         self.client.get_session(fork)['status'])
        self.assertReplayed('rollback', sid)

    def test_a_close_answers_as_the_first_time(self):
        self.start('close_session', SESSIONS)
        (inst, src, dest), = self.moves()
        sid = self.client.create_session(ttl=600)['id']
        self.client.migrate_instance(inst, src, dest, session_id=sid,
                                     check_capacity=False)
        answer = self.client.close_session(sid)
        self.assertDiedAndCameBack()
        self.assertRetried('close_session')
        self.assertEqual(('closed', 1), (answer['status'],
                                         answer['delta_count']))
        self.assertEqual(1, len(self.client.get_session_deltas(sid)))
        self.assertReplayed('close', sid)

    def test_a_merge_is_applied_once_and_answered(self):
        self.start('merge_session')
        (inst, src, dest), = self.moves()
        sid = self.client.create_session(ttl=600)['id']
        fork = self.client.fork_session(sid)['id']
        self.client.migrate_instance(inst, src, dest, session_id=fork,
                                     check_capacity=False)
        answer = self.client.merge_session(fork)
        self.assertDiedAndCameBack()
        self.assertRetried('merge_session')
        self.assertEqual({'session_id': sid, 'merged': fork,
                          'sequences': [0]}, answer)
        self.assertEqual(1, len(self.client.get_session_deltas(sid)))
        self.assertEqual({'result': answer}, self.client.get_session(
            fork)['merge_outcome'])
        self.assertReplayed('merge', fork)


#: Where a move in the global graph is written (1.10).
MOVES = 'tachyon.graph.compute.moves'


class TestGlobalWritesOfAKilledEngine(KilledTestCase):
    """1.10: an expiry and a move in the global graph, killed after."""

    def test_an_expiry_answers_as_the_first_time(self):
        self.start('expire_session', SESSIONS)
        sid = self.client.create_session(ttl=600)['id']
        fork = self.client.fork_session(sid)['id']
        answer = self.client.expire_session(sid)
        self.assertDiedAndCameBack()
        self.assertRetried('expire_session')
        # The first attempt's answer, not InvalidState (it had expired).
        self.assertEqual(('expired', [fork]),
                         (answer['status'], answer['descendants']))
        session = self.client.get_session(sid)
        self.assertEqual('expired', session['status'])
        self.assertTrue(session['end_request_id'])
        self.assertEqual(session['end_request_id'],
                         answer['end_request_id'])
        self.assertEqual('expired', self.client.get_session(fork)['status'])
        self.assertIn('Simulation session %s: expiry request' % sid,
                      self.engine.output())
        self.assertIn('answered as the first time, nothing written',
                      self.engine.output())
        # Another expiry is another request: refused as before.
        exc = self.assertRaises(exception.InvalidState,
                                self.client.expire_session, sid)
        self.assertEqual('expired', exc.kwargs['state'])

    def test_a_global_move_is_applied_once_and_answered(self):
        self.start('migrate_instance', MOVES)
        (inst, src, dest), = self.moves()
        before, inst_gen = self.generation(), self.placed(inst)[1]
        answer = self.client.migrate_instance(
            inst, src, dest, expected_generation=inst_gen,
            check_capacity=False)
        self.assertDiedAndCameBack()
        self.assertRetried('migrate_instance')
        # The first attempt's generation, not a Conflict (the instance
        # had left the source, its generation had moved).
        self.assertEqual({'generation': inst_gen + 1}, answer)
        # The global graph changed once: one generation, one move.
        self.assertEqual(before + 1, self.generation())
        self.assertEqual((dest, inst_gen + 1), self.placed(inst))
        self.assertIn('Instance %s: migration request' % inst,
                      self.engine.output())
        self.assertIn('nothing moved', self.engine.output())
        # The move back is another request, and moves.
        self.assertEqual({'generation': inst_gen + 2},
                         self.client.migrate_instance(
                             inst, dest, src, check_capacity=False))
        self.assertEqual((src, inst_gen + 2), self.placed(inst))


class TestAFrozenEngineServesTheCreationLate(RetryTestCase):

    def test_the_late_attempt_creates_nothing(self):
        engines = {name: self.useFixture(test_engine.EngineProcess(
            self.neo4j, self.transport.url, self.topic, name))
            for name in ('engine-a', 'engine-b')}
        self.assertEqual(set(engines),
                         {self.client.ping()['host'] for _ in range(10)})
        frozen = engines['engine-a'].proc
        os.killpg(frozen.pid, signal.SIGSTOP)
        self.addCleanup(lambda: frozen.poll() is None and os.killpg(
            frozen.pid, signal.SIGCONT))
        pool = concurrent.futures.ThreadPoolExecutor(1)
        self.addCleanup(pool.shutdown)
        created, held = [], None
        for _ in range(6):
            call = pool.submit(self.client.create_session, ttl=600)
            try:
                created.append(call.result(timeout=1.5)['id'])
                continue
            except concurrent.futures.TimeoutError:
                # In flight on the frozen engine: the retry is served by
                # the live one, which creates the session.
                held = call.result(timeout=6 * TIMEOUT)['id']
                created.append(held)
                break
        self.assertIsNotNone(held, 'no creation reached the frozen engine')
        self.assertRetried('create_session')
        self.assertEqual(sorted(created),
                         sorted(s['id'] for s in self.client.list_sessions()))
        # Resumed, the frozen engine serves the first attempt it held:
        # the session the retry created is its answer, none is made.
        os.killpg(frozen.pid, signal.SIGCONT)
        engines['engine-a'].wait_output(
            'Simulation session %s: creation request' % held, 60)
        self.assertNotIn('Simulation session %s created' % held,
                         engines['engine-a'].output())
        time.sleep(1)
        self.assertEqual(sorted(created),
                         sorted(s['id'] for s in self.client.list_sessions()))


class TestAFrozenEngineServesTheCommitLate(RetryTestCase):

    def sessions(self):
        """Sessions resizing one instance of each node, by session id.

        Their commits touch disjoint instances and nodes: each commits
        whatever the others did before it.
        """
        snap = self.client.get_compute_snapshot()
        first = {}
        for inst, node in sorted(snap['mapping'].items()):
            first.setdefault(node, inst)
        found = {}
        for node, inst in sorted(first.items()):
            sid = self.client.create_session(ttl=600)['id']
            self.client.record_deltas(sid, [{
                'type': 'RESIZE', 'consumer_uuid': inst, 'source_uuid': node,
                'resources': {'VCPU': 1, 'MEMORY_MB': 256, 'DISK_GB': 1},
                'check_capacity': False}])
            found[sid] = inst
        return found

    def test_the_late_attempt_applies_nothing(self):
        engines = {name: self.useFixture(test_engine.EngineProcess(
            self.neo4j, self.transport.url, self.topic, name))
            for name in ('engine-a', 'engine-b')}
        self.assertEqual(set(engines),
                         {self.client.ping()['host'] for _ in range(10)})
        sessions = self.sessions()
        self.assertGreater(len(sessions), 2)
        generations = {inst: self.placed(inst)[1]
                       for inst in sessions.values()}
        before = self.generation()
        frozen = engines['engine-a'].proc
        os.killpg(frozen.pid, signal.SIGSTOP)
        self.addCleanup(lambda: frozen.poll() is None and os.killpg(
            frozen.pid, signal.SIGCONT))
        pool = concurrent.futures.ThreadPoolExecutor(1)
        self.addCleanup(pool.shutdown)
        answers, held = {}, None
        for sid in sessions:
            call = pool.submit(self.client.commit_session, sid)
            try:
                answers[sid] = call.result(timeout=1.5)
                continue
            except concurrent.futures.TimeoutError:
                # In flight on the frozen engine: the retry is served by
                # the live one, which commits.
                held = sid
                answers[sid] = call.result(timeout=6 * TIMEOUT)
                break
        self.assertIsNotNone(held, 'no commit reached the frozen engine')
        self.assertRetried('commit_session')
        self.assertEqual('committed', self.client.get_session(held)['status'])
        generation = self.generation()
        self.assertEqual(before + len(answers), generation)
        # Resumed, the frozen engine serves the first attempt it held.
        os.killpg(frozen.pid, signal.SIGCONT)
        engines['engine-a'].wait_output(
            'Simulation session %s: commit request' % held, 60)
        self.assertIn('answered as the first time (committed)',
                      engines['engine-a'].output())
        self.assertNotIn('Simulation session %s committed' % held,
                         engines['engine-a'].output())
        # Nothing applied twice: one generation per commit, every
        # instance resized once, each session's kept answer the one
        # given.
        time.sleep(1)
        self.assertEqual(generation, self.generation())
        for sid, answer in answers.items():
            inst = sessions[sid]
            self.assertEqual(1, compute.get_instance_by_uuid(
                self.graph, inst).vcpus)
            self.assertEqual(generations[inst] + 1, self.placed(inst)[1])
            self.assertEqual({'result': answer},
                             self.client.get_session(sid)['commit_outcome'])
        self.assertEqual(len(answers), len({a['generation']
                                            for a in answers.values()}))
