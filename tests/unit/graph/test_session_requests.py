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

"""A session's creation, fork and end under a request id (RPC 1.9).

The transaction is faked: what is asserted is what the graph layer sends
(every value a parameter) and how it reads the rows back; the Cypher
runs against Neo4j in tests/functional/simulation/
test_idempotent_sessions.py.
"""

import time
from unittest import mock

from tachyon import exception
from tachyon.graph import sessions
from tests import base

NOW = 1000.0


class FakeTx(object):
    """Answers each statement with the next row given."""

    def __init__(self, *rows):
        self.rows = list(rows)
        self.runs = []

    def run(self, query, **params):
        self.runs.append((query, params))
        result = mock.Mock()
        result.single.return_value = self.rows.pop(0) if self.rows else None
        return result


def _session(**changes):
    session = {'id': 's1', 'status': 'active', 'expires_at': NOW + 60,
               'lock__': None}
    session.update(changes)
    return session


class TestCreate(base.TestCase):

    def test_the_request_id_is_a_parameter_of_the_creation(self):
        tx = FakeTx({'made': [_session()], 'sent': []})
        self.assertEqual('s1', sessions._create(
            tx, 's1', 60.0, None, 5, NOW, 'req-1')['id'])
        query, params = tx.runs[0]
        self.assertIn('create_request_id: $request_id', query)
        self.assertEqual('req-1', params['request_id'])

    def test_a_session_made_under_the_id_is_the_answer(self):
        tx = FakeTx({'made': [], 'sent': [_session(id='s0')]})
        answer = sessions._create(tx, 's1', 60.0, None, 5, NOW, 'req-1')
        self.assertEqual(('s0', True), (answer['id'], answer['replayed']))
        self.assertNotIn('lock__', answer)

    def test_none_made_none_sent_is_the_limit(self):
        tx = FakeTx({'made': [], 'sent': []})
        self.assertRaises(exception.LimitExceeded, sessions._create, tx,
                          's1', 60.0, None, 5, NOW, 'req-1')

    def test_the_id_of_a_fork_is_refused(self):
        tx = FakeTx({'made': [], 'sent': [_session(id='f', parent_id='p')]})
        exc = self.assertRaises(exception.InvalidParameter,
                                sessions._create, tx, 's1', 60.0, None, 5,
                                NOW, 'req-1')
        self.assertEqual('request_id', exc.kwargs['field'])


class TestFork(base.TestCase):

    def test_a_fork_made_under_the_id_is_the_answer(self):
        # Whatever the parent and the count are now.
        tx = FakeTx({'parent': _session(id='p', status='closed'),
                     'active': 99, 'made': [],
                     'sent': [_session(id='f', parent_id='p')]})
        answer = sessions._fork(tx, 'p', 'f2', 60.0, 8, 5, NOW, 'req-1')
        self.assertEqual(('f', True), (answer['id'], answer['replayed']))
        self.assertEqual('req-1', tx.runs[0][1]['request_id'])

    def test_the_id_of_another_parents_fork_is_refused(self):
        tx = FakeTx({'parent': _session(id='p'), 'active': 1, 'made': [],
                     'sent': [_session(id='f', parent_id='q')]})
        self.assertRaises(exception.InvalidParameter, sessions._fork, tx,
                          'p', 'f2', 60.0, 8, 5, NOW, 'req-1')


class TestEnd(base.TestCase):

    def test_the_same_call_again_answers_from_what_was_kept(self):
        kept = _session(status='rolled_back', end_request_id='req-1',
                        end_descendants=['f2', 'f1'])
        tx = FakeTx({'session': kept})
        answer = sessions._finish(tx, 's1', sessions.ROLLED_BACK, True,
                                  time.time(), False, 'req-1')
        self.assertEqual(['f1', 'f2'], answer['descendants'])
        self.assertTrue(answer['replayed'])
        self.assertNotIn('end_descendants', answer)
        # Only the session's lock was taken: nothing written.
        self.assertEqual(1, len(tx.runs))

    def test_another_request_on_an_ended_session_is_refused(self):
        for request_id in ('req-2', None):
            tx = FakeTx({'session': _session(status='closed',
                                             end_request_id='req-1')})
            exc = self.assertRaises(exception.InvalidState,
                                    sessions._finish, tx, 's1',
                                    sessions.CLOSED, True, NOW, True,
                                    request_id)
            self.assertEqual('closed', exc.kwargs['state'])

    def test_a_lapsed_session_with_an_id_is_expired(self):
        tx = FakeTx({'session': _session(expires_at=NOW - 1)})
        self.assertRaises(exception.SessionExpired, sessions._finish, tx,
                          's1', sessions.CLOSED, True, NOW, True, 'req-1')

    def test_the_first_answer_is_built_from_what_is_kept(self):
        ended = _session(status='rolled_back')
        kept = dict(ended, end_request_id='req-1', end_descendants=['f1'])
        tx = FakeTx({'session': _session()}, {'ids': ['f1']},
                    {'session': ended}, {'session': kept})
        answer = sessions._finish(tx, 's1', sessions.ROLLED_BACK, True,
                                  NOW, False, 'req-1')
        self.assertEqual(['f1'], answer['descendants'])
        self.assertNotIn('replayed', answer)
        query, params = tx.runs[-1]
        self.assertIn('s.end_request_id = $request_id', query)
        self.assertEqual({'id': 's1', 'request_id': 'req-1',
                          'descendants': ['f1']}, params)

    def test_a_close_keeps_no_descendants(self):
        closed = _session(status='closed')
        tx = FakeTx({'session': _session()}, {'session': closed},
                    {'session': dict(closed, end_request_id='req-1')})
        with mock.patch.object(sessions, 'live_forks', return_value=[]):
            answer = sessions._finish(tx, 's1', sessions.CLOSED, True, NOW,
                                      True, 'req-1')
        self.assertNotIn('descendants', answer)
        self.assertIsNone(tx.runs[-1][1]['descendants'])

    def test_without_an_id_nothing_is_kept(self):
        tx = FakeTx({'session': _session()}, {'ids': []},
                    {'session': _session(status='rolled_back')})
        answer = sessions._finish(tx, 's1', sessions.ROLLED_BACK, True, NOW)
        self.assertEqual([], answer['descendants'])
        self.assertEqual(3, len(tx.runs))


class TestMergeOutcome(base.TestCase):

    def test_the_outcome_is_read_back_for_its_request_only(self):
        fork = sessions._session({
            'id': 'f', 'merge_request_id': 'req-1',
            'merge_outcome': '{"result": {"sequences": [3]}}'})
        self.assertEqual({'result': {'sequences': [3]}},
                         sessions.merge_outcome(fork, 'req-1'))
        self.assertIsNone(sessions.merge_outcome(fork, 'req-2'))
        self.assertIsNone(sessions.merge_outcome(fork, None))


class TestExpiry(base.TestCase):
    """1.10: an expiry keeps its request id as a rollback does."""

    def test_the_first_expiry_keeps_its_id_and_forks(self):
        expired = _session(status='expired')
        kept = dict(expired, end_request_id='x-1', end_descendants=['f1'])
        # The call runs now: the session is within its TTL now.
        active = _session(expires_at=time.time() + 60)
        tx = FakeTx({'session': active}, {'ids': ['f1']},
                    {'session': expired}, {'session': kept})
        graph = mock.Mock()
        graph.write.side_effect = lambda func, *args: func(tx, *args)
        answer = sessions.expire_session(graph, 's1', request_id='x-1')
        self.assertEqual(('expired', ['f1']), (answer['status'],
                                               answer['descendants']))
        self.assertNotIn('replayed', answer)
        self.assertEqual('expired', tx.runs[1][1]['status'])
        query, params = tx.runs[-1]
        self.assertIs(sessions.KEEP_END, query)
        self.assertEqual({'id': 's1', 'request_id': 'x-1',
                          'descendants': ['f1']}, params)

    def test_the_same_expiry_again_answers_from_what_was_kept(self):
        kept = _session(status='expired', end_request_id='x-1',
                        end_descendants=[])
        tx = FakeTx({'session': kept})
        graph = mock.Mock()
        graph.write.side_effect = lambda func, *args: func(tx, *args)
        answer = sessions.expire_session(graph, 's1', request_id='x-1')
        self.assertEqual(([], True), (answer['descendants'],
                                      answer['replayed']))
        self.assertEqual(1, len(tx.runs))

    def test_another_expiry_of_an_expired_session_is_refused(self):
        for request_id in ('x-2', None):
            tx = FakeTx({'session': _session(status='expired',
                                             end_request_id='x-1')})
            graph = mock.Mock()
            graph.write.side_effect = lambda func, *args: func(tx, *args)
            exc = self.assertRaises(exception.InvalidState,
                                    sessions.expire_session, graph, 's1',
                                    request_id=request_id)
            self.assertEqual('expired', exc.kwargs['state'])
            self.assertEqual(1, len(tx.runs))
