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

"""A session's move and a commit sent again under their request id.

Against the real Neo4j, through the session service: what a retry of a
call whose answer was lost does (tests/functional/scale/
test_retry_writes.py sends the retries over RPC, to real engines).
"""

import time

from tachyon import exception
from tachyon.graph import common
from tachyon.graph import compute
from tachyon.graph import sessions
from tests.functional import base
from tests.functional.simulation import test_sessions as ts

N1, N2, N3 = ts.N1, ts.N2, ts.N3
I1, I2 = ts.I1, ts.I2


class IdempotentTestCase(ts.SessionTestCase):

    def generation(self):
        return self.graph.read_one(common.global_generation)

    def placed(self, uuid):
        """(node, generation) of an instance in the global graph."""
        return (compute.get_node_by_instance_uuid(self.graph, uuid).uuid,
                compute.get_instance_by_uuid(self.graph, uuid).generation)


class TestMoveSentAgain(IdempotentTestCase):

    def test_a_move_sent_again_is_recorded_once(self):
        sid = self.manager.create_session()['id']
        self.assertEqual(0, self.manager.migrate_instance(
            sid, I1, N1, N2, request_id='move-1'))
        self.assertEqual(0, self.manager.migrate_instance(
            sid, I1, N1, N2, request_id='move-1'))
        # Sent again after the instance moved on in the session: still
        # the first answer, not a Conflict (I1 is no longer on N1).
        self.assertEqual(1, self.manager.migrate_instance(
            sid, I1, N2, N3, check_capacity=False, request_id='move-2'))
        self.assertEqual(0, self.manager.migrate_instance(
            sid, I1, N1, N2, request_id='move-1'))
        deltas = self.manager.get_deltas(sid)
        self.assertEqual([(0, N1, N2, 'move-1'), (1, N2, N3, 'move-2')],
                         [(d['sequence'], d['source_uuid'],
                           d['destination_uuid'], d['request_id'])
                          for d in deltas])
        self.assertEqual(2, self.manager.get_session(sid)['delta_count'])

    def test_a_move_without_an_id_is_recorded_each_time(self):
        sid = self.manager.create_session()['id']
        self.manager.migrate_instance(sid, I1, N1, N2)
        self.assertRaises(exception.Conflict, self.manager.migrate_instance,
                          sid, I1, N1, N2)
        self.assertEqual(1, len(self.manager.get_deltas(sid)))

    def test_a_refused_move_records_nothing_and_is_checked_again(self):
        sid = self.manager.create_session()['id']
        # N3 has 2 VCPUs: I1 (2) fits, then I2 (2) does not.
        self.manager.migrate_instance(sid, I1, N1, N3, request_id='m-1')
        self.assertRaises(exception.Conflict, self.manager.migrate_instance,
                          sid, I2, N1, N3, request_id='m-2')
        self.assertRaises(exception.Conflict, self.manager.migrate_instance,
                          sid, I2, N1, N3, request_id='m-2')
        self.assertEqual(['m-1'], [d['request_id'] for d in
                                   self.manager.get_deltas(sid)])

    def test_the_id_is_checked(self):
        sid = self.manager.create_session()['id']
        exc = self.assertRaises(exception.InvalidParameter,
                                self.manager.migrate_instance, sid, I1, N1,
                                N2, request_id='')
        self.assertEqual('request_id', exc.kwargs['field'])
        self.assertEqual([], self.manager.get_deltas(sid))


class TestCommitSentAgain(IdempotentTestCase):

    def session(self):
        sid = self.manager.create_session()['id']
        self.manager.migrate_instance(sid, I1, N1, N2)
        return sid

    def test_a_commit_sent_again_gets_its_result_and_applies_once(self):
        sid = self.session()
        before, inst_gen = self.generation(), self.placed(I1)[1]
        first = self.manager.commit_session(sid, request_id='commit-1')
        self.assertEqual({'generation': before + 1, 'applied': 1,
                          'consumers': 1}, first)
        again = self.manager.commit_session(sid, request_id='commit-1')
        self.assertEqual(first, again)
        # The global graph changed once.
        self.assertEqual(before + 1, self.generation())
        self.assertEqual((N2, inst_gen + 1), self.placed(I1))
        session = self.manager.get_session(sid)
        self.assertEqual('committed', session['status'])
        self.assertEqual('commit-1', session['commit_request_id'])
        self.assertEqual({'result': first}, session['commit_outcome'])

    def test_another_commit_of_a_committed_session_is_refused(self):
        sid = self.session()
        self.manager.commit_session(sid, request_id='commit-1')
        for request_id in ('commit-2', None):
            exc = self.assertRaises(exception.InvalidState,
                                    self.manager.commit_session, sid,
                                    request_id=request_id)
            self.assertEqual('committed', exc.kwargs['state'])

    def test_a_commit_without_an_id_keeps_nothing(self):
        sid = self.session()
        self.manager.commit_session(sid)
        session = self.manager.get_session(sid)
        self.assertNotIn('commit_request_id', session)
        self.assertRaises(exception.InvalidState,
                          self.manager.commit_session, sid)

    def test_the_result_stands_after_the_ttl_and_the_reaper(self):
        sid = self.manager.create_session(ttl=1)['id']
        self.manager.migrate_instance(sid, I1, N1, N2)
        first = self.manager.commit_session(sid, request_id='commit-1')
        time.sleep(1.2)
        self.manager.reap()
        self.assertEqual(first, self.manager.commit_session(
            sid, request_id='commit-1'))

    def test_a_conflict_sent_again_is_the_same_conflict(self):
        sid = self.session()
        compute.upsert_instances(self.graph, [ts.instance(
            I1, N1, vcpus=3, updated_at=time.time() + 1)])
        before = self.generation()
        first = self.assertRaises(exception.Conflict,
                                  self.manager.commit_session, sid,
                                  request_id='commit-1')
        self.assertEqual(sorted([I1, N1]), first.conflicts)
        again = self.assertRaises(exception.Conflict,
                                  self.manager.commit_session, sid,
                                  request_id='commit-1')
        self.assertIs(type(first), type(again))
        self.assertEqual(first.kwargs, again.kwargs)
        self.assertEqual(str(first), str(again))
        self.assertEqual(before, self.generation())
        self.assertEqual(N1, self.placed(I1)[0])
        session = self.manager.get_session(sid)
        self.assertEqual('active', session['status'])
        self.assertEqual('Conflict', session['commit_outcome']['error'])

    def test_a_refusal_is_answered_again_though_it_would_pass_now(self):
        sid = self.session()
        fork = self.manager.fork_session(sid, ttl=600)['id']
        first = self.assertRaises(exception.InvalidState,
                                  self.manager.commit_session, sid,
                                  request_id='commit-1')
        self.assertEqual('forked', first.kwargs['state'])
        # The fork is reverted before the retry: a commit now would pass,
        # but the retry is the first request's, and gets its answer.
        self.manager.revert_session(fork)
        again = self.assertRaises(exception.InvalidState,
                                  self.manager.commit_session, sid,
                                  request_id='commit-1')
        self.assertEqual(first.kwargs, again.kwargs)
        self.assertEqual('active', self.manager.get_session(sid)['status'])
        # A new request is a new commit.
        self.assertEqual(1, self.manager.commit_session(
            sid, request_id='commit-2')['applied'])
        self.assertEqual(N2, self.placed(I1)[0])

    def test_an_expired_session_keeps_no_refusal(self):
        sid = self.manager.create_session(ttl=1)['id']
        time.sleep(1.2)
        self.assertRaises(exception.SessionExpired,
                          self.manager.commit_session, sid,
                          request_id='commit-1')
        self.assertNotIn('commit_outcome', self.manager.get_session(sid))

    def test_an_unknown_session_is_not_found(self):
        exc = self.assertRaises(exception.NotFound,
                                self.manager.commit_session,
                                '0badc0de-0000-4000-8000-00000000f00d',
                                request_id='commit-1')
        self.assertEqual('0badc0de-0000-4000-8000-00000000f00d',
                         exc.kwargs['ident'])

    def test_concurrent_attempts_apply_once_and_answer_alike(self):
        # A retry that reaches another engine while the first attempt is
        # still running: the session's lock orders them.
        sid = self.session()
        self.manager.migrate_instance(sid, I2, N1, N3)
        before = self.generation()
        answers, errors = base.concurrently(
            lambda: self.manager.commit_session(sid, request_id='commit-1'))
        self.assertEqual([], errors)
        self.assertEqual([{'generation': before + 1, 'applied': 2,
                           'consumers': 2}] * 4, answers)
        self.assertEqual(before + 1, self.generation())
        self.assertEqual((N2, N3), (self.placed(I1)[0], self.placed(I2)[0]))


class TestKeptOutcomeIsPurged(IdempotentTestCase):

    def test_the_kept_answer_goes_with_its_session(self):
        sid = self.session_committed()
        sessions.reap_sessions(self.graph, retention=0,
                               now=time.time() + 1)
        self.assertRaises(exception.NotFound, self.manager.commit_session,
                          sid, request_id='commit-1')

    def session_committed(self):
        sid = self.manager.create_session()['id']
        self.manager.migrate_instance(sid, I1, N1, N2)
        self.manager.commit_session(sid, request_id='commit-1')
        return sid
