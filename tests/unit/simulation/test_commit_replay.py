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

"""A commit sent again under its request id gets the first answer.

The graph is a fake that runs each unit of work on a mock transaction,
and the storage functions of tachyon.graph.sessions are mocked: what is
asserted is which answer a commit gives and what it asks to store.
tests/functional/simulation/test_idempotent_writes.py runs the same on
the real Neo4j, tests/functional/scale/test_retry_writes.py end to end.
"""

import json
import time
from unittest import mock

import fixtures

from tachyon import exception
from tachyon.graph import sessions
from tachyon.simulation import writes
from tests import base

S1 = '6c1b7d2e-0000-4000-8000-000000000001'
RESULT = {'generation': 8, 'applied': 2, 'consumers': 1}


class FakeGraph(object):
    """Runs each unit of work on a mock transaction; counts the writes."""

    def __init__(self):
        self.writes = []
        self.fail_on = None

    def write(self, work, *args):
        self.writes.append(work.__name__)
        if self.fail_on == work.__name__:
            raise exception.GraphUnavailable(uri='bolt://x', reason='down')
        return work(mock.Mock(), *args)


def _session(status='active', ttl=60, request_id=None, outcome=None):
    session = {'id': S1, 'status': status, 'expires_at': time.time() + ttl,
               'base_generation': 7, 'created_at': time.time() - 1}
    if request_id is not None:
        session.update(commit_request_id=request_id, commit_outcome=outcome)
    return session


class CommitTestCase(base.TestCase):

    def setUp(self):
        super().setUp()
        self.graph = FakeGraph()
        self.load = self.patch(sessions, 'load_session')
        self.keep = self.patch(sessions, 'keep_commit_outcome')
        self.store = self.patch(sessions, 'store_commit', return_value=8)
        for name in ('refuse_live_forks', 'lock_entities'):
            self.patch(sessions, name)
        self.patch(sessions, 'session_deltas', return_value=[])
        self.patch(sessions, 'consumer_records', return_value={})
        self.log = self.useFixture(fixtures.FakeLogger(
            name='tachyon.simulation.writes', level='INFO'))

    def patch(self, target, name, **kwargs):
        patcher = mock.patch.object(target, name, **kwargs)
        self.addCleanup(patcher.stop)
        return patcher.start()


class TestTheFirstAnswerIsKept(CommitTestCase):

    def test_a_commit_keeps_its_result_in_its_own_transaction(self):
        self.load.return_value = _session()
        answer = writes.commit_session(self.graph, S1, 'req-1')
        self.assertEqual(8, answer['generation'])
        # One transaction: the result is kept with the commit.
        self.assertEqual(['_commit'], self.graph.writes)
        self.keep.assert_called_once_with(mock.ANY, S1, 'req-1',
                                          {'result': answer})
        self.store.assert_called_once()
        self.assertIn('committed', self.log.output)

    def test_a_commit_without_a_request_id_keeps_nothing(self):
        self.load.return_value = _session()
        writes.commit_session(self.graph, S1)
        self.keep.assert_not_called()

    def test_the_same_commit_again_gets_the_result_and_applies_nothing(self):
        # The first attempt committed: the session is no longer active.
        self.load.return_value = _session('committed', request_id='req-1',
                                          outcome={'result': RESULT})
        self.assertEqual(RESULT,
                         writes.commit_session(self.graph, S1, 'req-1'))
        self.store.assert_not_called()
        self.keep.assert_not_called()
        sessions.session_deltas.assert_not_called()
        self.assertIn('commit request req-1 was sent again',
                      self.log.output)
        self.assertIn('nothing applied', self.log.output)

    def test_the_result_is_answered_past_the_ttl_too(self):
        self.load.return_value = _session('committed', ttl=-10,
                                          request_id='req-1',
                                          outcome={'result': RESULT})
        self.assertEqual(RESULT,
                         writes.commit_session(self.graph, S1, 'req-1'))

    def test_another_request_is_refused_as_before(self):
        self.load.return_value = _session('committed', request_id='req-1',
                                          outcome={'result': RESULT})
        for request_id in ('req-2', None):
            exc = self.assertRaises(exception.InvalidState,
                                    writes.commit_session, self.graph, S1,
                                    request_id)
            self.assertEqual('committed', exc.kwargs['state'])
        self.store.assert_not_called()


class TestTheFirstRefusalIsKept(CommitTestCase):

    def conflict(self):
        return exception.Conflict(reason='2 changed',
                                  conflicts=['i1', 'n1'])

    def test_a_refusal_is_kept_then_raised(self):
        self.load.return_value = _session()
        sessions.session_deltas.side_effect = self.conflict()
        exc = self.assertRaises(exception.Conflict, writes.commit_session,
                                self.graph, S1, 'req-1')
        self.assertEqual(['i1', 'n1'], exc.conflicts)
        # The refusal's transaction rolled back; it is kept in its own.
        self.assertEqual(['_commit', '_keep_refusal'], self.graph.writes)
        self.keep.assert_called_once_with(mock.ANY, S1, 'req-1', {
            'error': 'Conflict',
            'kwargs': {'reason': '2 changed', 'conflicts': ['i1', 'n1']}})

    def test_the_same_commit_again_gets_the_same_refusal(self):
        kept = writes.refusal_outcome(self.conflict())
        # Whatever changed since (here: nothing would conflict now).
        self.load.return_value = _session(request_id='req-1', outcome=kept)
        exc = self.assertRaises(exception.Conflict, writes.commit_session,
                                self.graph, S1, 'req-1')
        self.assertIs(type(exc), exception.Conflict)
        self.assertEqual(self.conflict().kwargs, exc.kwargs)
        self.assertEqual(str(self.conflict()), str(exc))
        self.store.assert_not_called()
        # Raised again from what was kept: not kept a second time.
        self.assertEqual(['_commit'], self.graph.writes)
        self.assertIn('answered as the first time (Conflict)',
                      self.log.output)

    def test_an_invalid_state_is_kept_as_itself(self):
        refusal = exception.InvalidState(
            kind='Simulation session', ident=S1, state='forked',
            reason='it has live forks')
        kept = writes.refusal_outcome(refusal)
        self.assertEqual('InvalidState', kept['error'])
        exc = self.assertRaises(exception.InvalidState,
                                writes.outcome_answer,
                                json.loads(json.dumps(kept)))
        self.assertEqual(refusal.kwargs, exc.kwargs)
        self.assertEqual(str(refusal), str(exc))

    def test_only_a_commits_own_refusals_are_kept(self):
        for exc in (exception.SessionExpired(session_id=S1),
                    exception.NotFound(kind='simulation session', ident=S1),
                    exception.GraphUnavailable(uri='bolt://x', reason='x'),
                    exception.MergeConflict(reason='x')):
            self.assertIsNone(writes.refusal_outcome(exc), exc)

    def test_an_expired_session_is_not_kept(self):
        self.load.return_value = _session(ttl=-1)
        self.assertRaises(exception.SessionExpired, writes.commit_session,
                          self.graph, S1, 'req-1')
        self.assertEqual(['_commit'], self.graph.writes)
        self.keep.assert_not_called()

    def test_no_request_id_no_refusal_kept(self):
        self.load.return_value = _session()
        sessions.session_deltas.side_effect = self.conflict()
        self.assertRaises(exception.Conflict, writes.commit_session,
                          self.graph, S1)
        self.assertEqual(['_commit'], self.graph.writes)

    def test_the_refusal_of_a_session_that_ended_is_not_kept(self):
        refusal = writes.refusal_outcome(self.conflict())
        for session in (_session('committed'), _session(ttl=-1),
                        _session('rolled_back')):
            self.load.return_value = session
            writes._keep_refusal(mock.Mock(), S1, 'req-1', refusal,
                                 time.time())
        self.keep.assert_not_called()
        self.load.return_value = _session()
        writes._keep_refusal(mock.Mock(), S1, 'req-1', refusal, time.time())
        self.keep.assert_called_once_with(mock.ANY, S1, 'req-1', refusal)

    def test_a_refusal_that_cannot_be_kept_is_still_the_answer(self):
        self.load.return_value = _session()
        sessions.session_deltas.side_effect = self.conflict()
        self.graph.fail_on = '_keep_refusal'
        exc = self.assertRaises(exception.Conflict, writes.commit_session,
                                self.graph, S1, 'req-1')
        self.assertEqual(['i1', 'n1'], exc.conflicts)
        self.assertIn('could not be kept', self.log.output)


class TestStoredOutcome(base.TestCase):
    """How a session node holds the kept answer."""

    def test_the_outcome_is_read_back_for_its_request_only(self):
        tx = mock.Mock()
        tx.run.return_value.single.return_value = {'session': {
            'id': S1, 'status': 'committed', 'lock__': None,
            'commit_request_id': 'req-1',
            'commit_outcome': json.dumps({'result': RESULT})}}
        session = sessions.load_session(tx, S1, lock=True)
        self.assertNotIn('lock__', session)
        self.assertEqual({'result': RESULT}, session['commit_outcome'])
        self.assertEqual({'result': RESULT},
                         sessions.commit_outcome(session, 'req-1'))
        self.assertIsNone(sessions.commit_outcome(session, 'req-2'))
        self.assertIsNone(sessions.commit_outcome(session, None))
        self.assertIsNone(sessions.commit_outcome({'id': S1}, 'req-1'))

    def test_the_outcome_is_stored_as_json_under_the_request_id(self):
        tx = mock.Mock()
        sessions.keep_commit_outcome(tx, S1, 'req-1', {'result': RESULT})
        query, = tx.run.call_args[0]
        kwargs = tx.run.call_args[1]
        self.assertIn('commit_request_id = $request_id', query)
        self.assertEqual('req-1', kwargs['request_id'])
        self.assertEqual({'result': RESULT}, json.loads(kwargs['outcome']))
