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

"""A session's creation, fork, end or merge sent again under its id.

RPC 1.9; an expiry, 1.10.

Against the real Neo4j, through the session service: what a retry of a
call whose answer was lost does. tests/functional/scale/
test_retry_writes.py sends the retries over RPC, to real engines.
"""

import time

from tachyon import exception
from tachyon.graph import sessions
from tests.functional import base
from tests.functional.simulation import test_sessions as ts

N1, N2, N3 = ts.N1, ts.N2, ts.N3
I1, I2 = ts.I1, ts.I2
UNKNOWN = '0badc0de-0000-4000-8000-00000000f00d'


class IdempotentSessionsTestCase(ts.SessionTestCase):

    def sessions(self, status=None):
        return self.manager.list_sessions(status)

    def concurrently(self, call, count=4):
        return base.concurrently(call, count)


class TestCreationSentAgain(IdempotentSessionsTestCase):

    def test_the_same_id_twice_creates_one_session(self):
        first = self.manager.create_session(ttl=60, audit_uuid='audit-1',
                                            request_id='create-1')
        again = self.manager.create_session(ttl=60, audit_uuid='audit-1',
                                            request_id='create-1')
        self.assertEqual(first, again)
        self.assertEqual([first['id']], [s['id'] for s in self.sessions()])
        self.assertEqual('create-1', self.manager.get_session(
            first['id'])['create_request_id'])

    def test_the_same_id_is_not_counted_again_against_the_limit(self):
        self.flags(max_active_sessions=1, group='simulation')
        first = self.manager.create_session(request_id='create-1')
        # At the limit: the same call sent again still gets its session.
        self.assertEqual(first['id'], self.manager.create_session(
            request_id='create-1')['id'])
        self.assertRaises(exception.LimitExceeded,
                          self.manager.create_session,
                          request_id='create-2')
        self.assertEqual(1, len(self.sessions()))

    def test_sent_again_later_it_is_the_session_as_it_is_now(self):
        first = self.manager.create_session(request_id='create-1')
        self.manager.migrate_instance(first['id'], I1, N1, N2)
        again = self.manager.create_session(request_id='create-1')
        self.assertEqual(first['id'], again['id'])
        self.assertEqual(1, again['delta_count'])
        # Ended, it is still the session that call created.
        self.manager.rollback_session(first['id'])
        again = self.manager.create_session(request_id='create-1')
        self.assertEqual((first['id'], 'rolled_back'),
                         (again['id'], again['status']))
        self.assertEqual(1, len(self.sessions()))

    def test_without_an_id_each_call_creates_one(self):
        self.manager.create_session()
        self.manager.create_session()
        self.assertEqual(2, len(self.sessions('active')))

    def test_other_ids_create_other_sessions(self):
        a = self.manager.create_session(request_id='create-1')
        b = self.manager.create_session(request_id='create-2')
        self.assertNotEqual(a['id'], b['id'])
        self.assertEqual(2, len(self.sessions('active')))

    def test_concurrent_attempts_create_one_session(self):
        # A retry that reaches another engine while the first attempt is
        # still running: the GlobalState lock orders them.
        answers, errors = self.concurrently(
            lambda: self.manager.create_session(request_id='create-1'))
        self.assertEqual([], errors)
        self.assertEqual(1, len({a['id'] for a in answers}))
        self.assertEqual(1, len(self.sessions()))

    def test_the_id_of_a_fork_creates_no_root(self):
        root = self.manager.create_session()['id']
        fork = self.manager.fork_session(root, request_id='fork-1')['id']
        exc = self.assertRaises(exception.InvalidParameter,
                                self.manager.create_session,
                                request_id='fork-1')
        self.assertEqual('request_id', exc.kwargs['field'])
        self.assertIn(fork, str(exc))
        self.assertEqual(2, len(self.sessions()))

    def test_the_id_is_checked(self):
        exc = self.assertRaises(exception.InvalidParameter,
                                self.manager.create_session, request_id='')
        self.assertEqual('request_id', exc.kwargs['field'])
        self.assertEqual([], self.sessions())

    def test_the_session_goes_with_its_id_when_purged(self):
        sid = self.manager.create_session(request_id='create-1')['id']
        self.manager.rollback_session(sid)
        sessions.reap_sessions(self.graph, retention=0,
                               now=time.time() + 1)
        # Long after (past the retention), the id creates afresh.
        self.assertNotEqual(sid, self.manager.create_session(
            request_id='create-1')['id'])


class TestForkSentAgain(IdempotentSessionsTestCase):

    def setUp(self):
        super().setUp()
        self.root = self.manager.create_session(ttl=600)['id']
        self.manager.migrate_instance(self.root, I1, N1, N2)

    def forks(self):
        return [s for s in self.sessions() if s.get('parent_id')]

    def test_the_same_id_twice_makes_one_fork(self):
        first = self.manager.fork_session(self.root, request_id='fork-1')
        again = self.manager.fork_session(self.root, request_id='fork-1')
        self.assertEqual(first, again)
        self.assertEqual([first['id']], [s['id'] for s in self.forks()])
        self.assertEqual('fork-1', first['create_request_id'])
        self.assertEqual([self.root], first['ancestor_ids'])

    def test_the_fork_sees_what_it_saw_the_first_time(self):
        first = self.manager.fork_session(self.root, request_id='fork-1')
        # The parent moves on before the retry: the retried fork is the
        # first one, which does not see the parent's later delta.
        self.manager.migrate_instance(self.root, I2, N1, N3)
        again = self.manager.fork_session(self.root, request_id='fork-1')
        self.assertEqual(first['id'], again['id'])
        self.assertEqual([1], again['ancestor_upto'])
        self.assertEqual(N1, self.manager.get_consumer_location(
            again['id'], I2))
        self.assertEqual(1, len(self.forks()))

    def test_the_same_id_is_not_counted_again_against_the_limit(self):
        self.flags(max_active_sessions=2, group='simulation')
        fork = self.manager.fork_session(self.root, request_id='fork-1')
        self.assertEqual(fork['id'], self.manager.fork_session(
            self.root, request_id='fork-1')['id'])
        self.assertRaises(exception.LimitExceeded,
                          self.manager.fork_session, self.root,
                          request_id='fork-2')

    def test_without_an_id_each_call_forks(self):
        self.manager.fork_session(self.root)
        self.manager.fork_session(self.root)
        self.assertEqual(2, len(self.forks()))

    def test_concurrent_attempts_make_one_fork(self):
        answers, errors = self.concurrently(
            lambda: self.manager.fork_session(self.root,
                                              request_id='fork-1'))
        self.assertEqual([], errors)
        self.assertEqual(1, len({a['id'] for a in answers}))
        self.assertEqual(1, len(self.forks()))

    def test_the_id_of_another_call_is_refused(self):
        other = self.manager.create_session(request_id='create-1')['id']
        self.manager.fork_session(other, request_id='fork-1')
        for request_id in ('create-1', 'fork-1'):
            exc = self.assertRaises(exception.InvalidParameter,
                                    self.manager.fork_session, self.root,
                                    request_id=request_id)
            self.assertEqual('request_id', exc.kwargs['field'])
        self.assertEqual([], [s for s in self.forks()
                              if s['parent_id'] == self.root])


class TestEndSentAgain(IdempotentSessionsTestCase):

    def test_a_close_sent_again_answers_as_the_first_time(self):
        sid = self.manager.create_session()['id']
        self.manager.migrate_instance(sid, I1, N1, N2)
        first = self.manager.close_session(sid, request_id='close-1')
        self.assertEqual(('closed', 1), (first['status'],
                                         first['delta_count']))
        self.assertNotIn('descendants', first)
        self.assertEqual(first, self.manager.close_session(
            sid, request_id='close-1'))
        # Its deltas are kept, once.
        self.assertEqual(1, len(self.manager.get_deltas(sid)))

    def test_another_end_of_an_ended_session_is_refused(self):
        sid = self.manager.create_session()['id']
        self.manager.close_session(sid, request_id='close-1')
        for call, request_id in ((self.manager.close_session, 'close-2'),
                                 (self.manager.close_session, None),
                                 (self.manager.rollback_session, 'rb-1')):
            exc = self.assertRaises(exception.InvalidState, call, sid,
                                    request_id=request_id)
            self.assertEqual('closed', exc.kwargs['state'])

    def test_a_rollback_sent_again_names_the_same_forks(self):
        sid = self.manager.create_session()['id']
        fork = self.manager.fork_session(sid)['id']
        grandchild = self.manager.fork_session(fork)['id']
        first = self.manager.rollback_session(sid, request_id='rb-1')
        self.assertEqual('rolled_back', first['status'])
        self.assertEqual(sorted([fork, grandchild]), first['descendants'])
        self.assertEqual(first, self.manager.rollback_session(
            sid, request_id='rb-1'))
        self.assertEqual('rb-1', self.manager.get_session(
            sid)['end_request_id'])

    def test_a_rollback_without_forks_answers_none_again(self):
        sid = self.manager.create_session()['id']
        first = self.manager.rollback_session(sid, request_id='rb-1')
        self.assertEqual([], first['descendants'])
        self.assertEqual(first, self.manager.rollback_session(
            sid, request_id='rb-1'))

    def test_a_revert_sent_again_answers_as_the_first_time(self):
        root = self.manager.create_session()['id']
        fork = self.manager.fork_session(root)['id']
        first = self.manager.revert_session(fork, request_id='revert-1')
        self.assertEqual(('rolled_back', []), (first['status'],
                                               first['descendants']))
        self.assertEqual(first, self.manager.revert_session(
            fork, request_id='revert-1'))
        # The parent goes on, and can be committed.
        self.assertEqual('active', self.manager.get_session(root)['status'])
        self.manager.commit_session(root)

    def test_a_refused_close_keeps_nothing(self):
        sid = self.manager.create_session()['id']
        fork = self.manager.fork_session(sid)['id']
        self.assertRaises(exception.InvalidState, self.manager.close_session,
                          sid, request_id='close-1')
        self.assertNotIn('end_request_id', self.manager.get_session(sid))
        # Sent again once the fork is gone, it is checked afresh: closed.
        self.manager.revert_session(fork)
        self.assertEqual('closed', self.manager.close_session(
            sid, request_id='close-1')['status'])

    def test_with_an_id_the_session_is_checked_by_the_call(self):
        lapsed = self.manager.create_session(ttl=1)['id']
        time.sleep(1.2)
        for call in (self.manager.close_session,
                     self.manager.rollback_session,
                     self.manager.revert_session):
            self.assertRaises(exception.SessionExpired, call, lapsed,
                              request_id='end-1')
            exc = self.assertRaises(exception.NotFound, call, UNKNOWN,
                                    request_id='end-1')
            self.assertEqual(UNKNOWN, exc.kwargs['ident'])
        self.assertEqual('active', self.manager.get_session(
            lapsed)['status'])

    def test_concurrent_attempts_end_once_and_answer_alike(self):
        sid = self.manager.create_session()['id']
        fork = self.manager.fork_session(sid)['id']
        answers, errors = self.concurrently(
            lambda: self.manager.rollback_session(sid, request_id='rb-1'))
        self.assertEqual([], errors)
        self.assertEqual(4, len(answers))
        self.assertEqual([fork], answers[0]['descendants'])
        self.assertTrue(all(a == answers[0] for a in answers))


class TestExpirySentAgain(IdempotentSessionsTestCase):
    """1.10: expire_session under a request id, as a rollback."""

    def test_an_expiry_sent_again_answers_as_the_first_time(self):
        sid = self.manager.create_session()['id']
        self.manager.migrate_instance(sid, I1, N1, N2)
        fork = self.manager.fork_session(sid)['id']
        grandchild = self.manager.fork_session(fork)['id']
        first = self.manager.expire_session(sid, request_id='expire-1')
        self.assertEqual(('expired', 0), (first['status'],
                                          first['delta_count']))
        self.assertEqual(sorted([fork, grandchild]), first['descendants'])
        kept = self.manager.get_session(sid)
        again = self.manager.expire_session(sid, request_id='expire-1')
        self.assertEqual(first, again)
        # Nothing written by the second: the session is as the first
        # left it (its end time too), its forks stay expired.
        self.assertEqual(kept, self.manager.get_session(sid))
        self.assertEqual('expire-1', kept['end_request_id'])
        for ended in (fork, grandchild):
            self.assertEqual('expired',
                             self.manager.get_session(ended)['status'])

    def test_an_expiry_without_forks_answers_none_again(self):
        sid = self.manager.create_session()['id']
        first = self.manager.expire_session(sid, request_id='expire-1')
        self.assertEqual([], first['descendants'])
        self.assertEqual(first, self.manager.expire_session(
            sid, request_id='expire-1'))

    def test_another_end_of_an_expired_session_is_refused(self):
        sid = self.manager.create_session()['id']
        self.manager.expire_session(sid, request_id='expire-1')
        for call, request_id in ((self.manager.expire_session, 'expire-2'),
                                 (self.manager.expire_session, None),
                                 (self.manager.rollback_session, 'rb-1'),
                                 (self.manager.close_session, 'close-1')):
            exc = self.assertRaises(exception.InvalidState, call, sid,
                                    request_id=request_id)
            self.assertEqual('expired', exc.kwargs['state'])
        self.assertEqual('expire-1', self.manager.get_session(
            sid)['end_request_id'])

    def test_an_expiry_of_a_session_ended_otherwise_is_refused(self):
        sid = self.manager.create_session()['id']
        self.manager.rollback_session(sid, request_id='rb-1')
        exc = self.assertRaises(exception.InvalidState,
                                self.manager.expire_session, sid,
                                request_id='expire-1')
        self.assertEqual('rolled_back', exc.kwargs['state'])
        self.assertEqual('rb-1', self.manager.get_session(
            sid)['end_request_id'])

    def test_without_an_id_nothing_is_kept(self):
        sid = self.manager.create_session()['id']
        self.assertEqual('expired', self.manager.expire_session(
            sid)['status'])
        self.assertNotIn('end_request_id', self.manager.get_session(sid))
        self.assertRaises(exception.InvalidState,
                          self.manager.expire_session, sid)

    def test_with_an_id_the_session_is_checked_by_the_call(self):
        lapsed = self.manager.create_session(ttl=1)['id']
        time.sleep(1.2)
        self.assertRaises(exception.SessionExpired,
                          self.manager.expire_session, lapsed,
                          request_id='expire-1')
        exc = self.assertRaises(exception.NotFound,
                                self.manager.expire_session, UNKNOWN,
                                request_id='expire-1')
        self.assertEqual(UNKNOWN, exc.kwargs['ident'])
        self.assertNotIn('end_request_id', self.manager.get_session(lapsed))

    def test_the_id_is_checked(self):
        sid = self.manager.create_session()['id']
        for bad in ('', 0, 'x' * 256):
            exc = self.assertRaises(exception.InvalidParameter,
                                    self.manager.expire_session, sid,
                                    request_id=bad)
            self.assertEqual('request_id', exc.kwargs['field'])
        self.assertEqual('active', self.manager.get_session(sid)['status'])

    def test_concurrent_attempts_expire_once_and_answer_alike(self):
        sid = self.manager.create_session()['id']
        fork = self.manager.fork_session(sid)['id']
        answers, errors = self.concurrently(
            lambda: self.manager.expire_session(sid, request_id='expire-1'))
        self.assertEqual([], errors)
        self.assertEqual(4, len(answers))
        self.assertEqual([fork], answers[0]['descendants'])
        self.assertTrue(all(a == answers[0] for a in answers))


class TestMergeSentAgain(IdempotentSessionsTestCase):

    def setUp(self):
        super().setUp()
        self.root = self.manager.create_session(ttl=600)['id']
        self.fork = self.manager.fork_session(self.root)['id']
        self.manager.migrate_instance(self.fork, I1, N1, N2)

    def test_a_merge_sent_again_gets_its_result_and_applies_once(self):
        first = self.manager.merge_session(self.fork, request_id='merge-1')
        self.assertEqual({'session_id': self.root, 'merged': self.fork,
                          'sequences': [0]}, first)
        # The parent moves on before the retry.
        self.manager.migrate_instance(self.root, I2, N1, N3)
        self.assertEqual(first, self.manager.merge_session(
            self.fork, request_id='merge-1'))
        self.assertEqual([(0, I1), (1, I2)],
                         [(d['sequence'], d['consumer_uuid'])
                          for d in self.manager.get_deltas(self.root)])
        fork = self.manager.get_session(self.fork)
        self.assertEqual('merged', fork['status'])
        self.assertEqual(('merge-1', {'result': first}),
                         (fork['merge_request_id'], fork['merge_outcome']))

    def test_another_merge_of_a_merged_fork_is_refused(self):
        self.manager.merge_session(self.fork, request_id='merge-1')
        for request_id in ('merge-2', None):
            exc = self.assertRaises(exception.InvalidState,
                                    self.manager.merge_session, self.fork,
                                    request_id=request_id)
            self.assertEqual('merged', exc.kwargs['state'])
        self.assertEqual(1, len(self.manager.get_deltas(self.root)))

    def test_the_result_is_answered_after_the_parent_committed(self):
        first = self.manager.merge_session(self.fork, request_id='merge-1')
        self.manager.commit_session(self.root)
        self.assertEqual(first, self.manager.merge_session(
            self.fork, request_id='merge-1'))

    def test_a_merge_refused_for_live_forks_keeps_nothing(self):
        grandchild = self.manager.fork_session(self.fork)['id']
        self.assertRaises(exception.InvalidState, self.manager.merge_session,
                          self.fork, request_id='merge-1')
        self.assertNotIn('merge_outcome',
                         self.manager.get_session(self.fork))
        # Sent again once the fork's fork is gone: checked afresh.
        self.manager.revert_session(grandchild)
        self.assertEqual([0], self.manager.merge_session(
            self.fork, request_id='merge-1')['sequences'])

    def test_a_merge_conflict_sent_again_is_the_same_conflict(self):
        # The parent moves I1 away after the fork: the fork's move of I1
        # from N1 no longer fits.
        self.manager.migrate_instance(self.root, I1, N1, N3)
        first = self.assertRaises(exception.MergeConflict,
                                  self.manager.merge_session, self.fork,
                                  request_id='merge-1')
        fork = self.manager.get_session(self.fork)
        self.assertEqual(('active', 'MergeConflict'),
                         (fork['status'], fork['merge_outcome']['error']))
        # The parent's move is undone before the retry: a merge would fit
        # now, but the retry is the first request's and gets its answer.
        self.manager.migrate_instance(self.root, I1, N3, N1)
        again = self.assertRaises(exception.MergeConflict,
                                  self.manager.merge_session, self.fork,
                                  request_id='merge-1')
        self.assertEqual(first.kwargs, again.kwargs)
        self.assertEqual(str(first), str(again))
        self.assertEqual(2, len(self.manager.get_deltas(self.root)))
        # A new request is a new merge.
        self.assertEqual([2], self.manager.merge_session(
            self.fork, request_id='merge-2')['sequences'])

    def test_a_root_is_refused_as_an_ended_or_lapsed_session(self):
        lapsed = self.manager.create_session(ttl=1)['id']
        time.sleep(1.2)
        self.assertRaises(exception.SessionExpired,
                          self.manager.merge_session, lapsed,
                          request_id='merge-1')
        exc = self.assertRaises(exception.InvalidState,
                                self.manager.merge_session, self.root,
                                request_id='merge-1')
        self.assertEqual('a root', exc.kwargs['state'])

    def test_concurrent_attempts_merge_once(self):
        answers, errors = self.concurrently(
            lambda: self.manager.merge_session(self.fork,
                                               request_id='merge-1'))
        self.assertEqual([], errors)
        self.assertEqual([answers[0]] * 4, answers)
        self.assertEqual(1, len(self.manager.get_deltas(self.root)))
