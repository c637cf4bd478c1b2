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

"""Session limits and commits under concurrency, in the real Neo4j.

Real threads, each with its own Neo4j session, race on one graph; each
race is repeated so that an unserialised path shows up.
"""

import threading
import time

from tachyon import exception
from tachyon.graph import compute
from tachyon.graph import events
from tachyon.model import changes as ch
from tachyon.model import records
from tachyon.simulation import manager
from tests.functional import base
from tests.functional.simulation import test_sessions as helpers

N1, N2, N3 = helpers.N1, helpers.N2, helpers.N3
I1 = helpers.I1

#: Transactions Neo4j reports waiting for a lock.
BLOCKED = """
SHOW TRANSACTIONS YIELD status
WHERE status STARTS WITH 'Blocked'
RETURN count(*) AS n
"""

# Every session not ended, with when it expires.
ACTIVE_SESSIONS = """
MATCH (s:SimulationSession {status: 'active'})
RETURN s.expires_at AS expires_at
"""


def instance(name, **kw):
    """I1 on N1 as a notification describes it."""
    return records.Instance(uuid=I1, name=name, vcpus=2, memory=1024,
                            disk=10, node_uuid=N1, **kw)


def race(*calls):
    """Run each call in a thread of its own, all released together.

    :returns: one (result, exception) pair per call, in order.
    """
    barrier = threading.Barrier(len(calls))
    outcome = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait(30)
            outcome[index] = (call(), None)
        except Exception as exc:  # noqa: B902 - the test looks at it
            outcome[index] = (None, exc)

    threads = [threading.Thread(target=run, args=(i, c))
               for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return outcome


class ConcurrencyTestCase(base.FunctionalTestCase):

    def setUp(self):
        super().setUp()
        self.manager = manager.SessionManager(self.conf, self.graph)
        compute.upsert_compute_nodes(self.graph, [
            helpers.node(N1), helpers.node(N2), helpers.node(N3)])
        compute.upsert_instances(self.graph, [instance(
            'vm', updated_at=time.time() - 60)])

    def location(self):
        return compute.get_node_by_instance_uuid(self.graph, I1).uuid

    def put_back(self):
        """I1 on N1 again, through the global graph."""
        where = self.location()
        if where != N1:
            compute.migrate_instance(self.graph, I1, where, N1)

    def end_active(self):
        for session in self.manager.list_sessions('active'):
            self.manager.rollback_session(session['id'])

    def session_moving(self, dest):
        sid = self.manager.create_session(ttl=120)['id']
        self.manager.migrate_instance(sid, I1, N1, dest)
        return sid

    def vcpus_used(self):
        return {uuid: compute.get_node_used_resources(
            self.graph, uuid)['vcpu'] for uuid in (N1, N2, N3)}


class TestSessionLimit(ConcurrencyTestCase):

    ROUNDS = 3
    THREADS = 20
    MAX = 5

    def test_limit_holds_under_concurrent_creates(self):
        self.flags(max_active_sessions=self.MAX, group='simulation')
        for _ in range(self.ROUNDS):
            outcome = race(*[lambda: self.manager.create_session(ttl=60)
                             for _ in range(self.THREADS)])
            created = [result for result, error in outcome
                       if error is None]
            errors = [error for result, error in outcome
                      if error is not None]
            self.assertEqual(self.MAX, len(created))
            self.assertEqual(self.THREADS - self.MAX, len(errors))
            for error in errors:
                self.assertIsInstance(error, exception.LimitExceeded)
                self.assertEqual(self.MAX, error.kwargs['maximum'])
            self.assertEqual(
                sorted(s['id'] for s in created),
                [s['id'] for s in sorted(
                    self.manager.list_sessions('active'),
                    key=lambda s: s['id'])])
            self.end_active()


class TestSessionLimitUnderChurn(ConcurrencyTestCase):

    THREADS = 8
    MAX = 5
    SECONDS = 6

    def active_now(self):
        """How many sessions are active at one instant.

        The sessions are read first and the instant taken after: every
        session counted existed then and had not expired yet.
        """
        rows = self.graph.run_autocommit(ACTIVE_SESSIONS)
        now = time.time()
        return sum(1 for row in rows if row['expires_at'] > now)

    def test_limit_holds_while_short_sessions_expire(self):
        self.flags(max_active_sessions=self.MAX, group='simulation')
        stop = threading.Event()
        created, refused, errors, seen = [], [], [], []

        def churn():
            while not stop.is_set():
                try:
                    created.append(self.manager.create_session(ttl=1))
                except exception.LimitExceeded:
                    refused.append(1)
                    time.sleep(0.01)
                except Exception as exc:  # noqa: B902 - reported below
                    errors.append(exc)
                    return

        threads = [threading.Thread(target=churn)
                   for _ in range(self.THREADS)]
        for thread in threads:
            thread.start()
        deadline = time.time() + self.SECONDS
        while time.time() < deadline:
            seen.append(self.active_now())
        stop.set()
        for thread in threads:
            thread.join(60)
        self.assertEqual([], errors)
        self.assertLessEqual(max(seen), self.MAX)
        # The sessions expired and were replaced while the limit held.
        self.assertGreater(len(created), 2 * self.MAX)
        self.assertTrue(refused)


class TestRacingCommits(ConcurrencyTestCase):

    ROUNDS = 20

    def test_one_of_two_commits_on_one_instance_wins(self):
        for _ in range(self.ROUNDS):
            self.put_back()
            dests = (N2, N3)
            sids = [self.session_moving(dest) for dest in dests]
            outcome = race(*[
                (lambda sid=sid: self.manager.commit_session(sid))
                for sid in sids])
            won = [i for i, (result, error) in enumerate(outcome)
                   if error is None]
            self.assertEqual(1, len(won), outcome)
            loser = outcome[1 - won[0]][1]
            self.assertIsInstance(loser, exception.Conflict)
            self.assertIn(I1, loser.kwargs['conflicts'])
            winner_dest = dests[won[0]]
            self.assertEqual(winner_dest, self.location())
            # Applied once: the instance's VCPUs are on one node only.
            used = self.vcpus_used()
            self.assertEqual(2, used[winner_dest])
            self.assertEqual(2, sum(used.values()))
            self.assertEqual('committed', self.manager.get_session(
                sids[won[0]])['status'])
            self.assertEqual('active', self.manager.get_session(
                sids[1 - won[0]])['status'])
            self.end_active()


class TestCommitAndNotifications(ConcurrencyTestCase):

    ROUNDS = 20
    HELD_ROUNDS = 3

    def notify(self, name):
        """What the listener does with a notification about I1."""
        return events.apply_changes(self.graph, [ch.Change(
            kind=ch.INSTANCE, action=ch.UPSERT, key=I1,
            record=instance(name),
            timestamp=time.time())])

    def wait_blocked(self, thread, timeout=30):
        """Until Neo4j shows a transaction waiting for a lock."""
        deadline = time.time() + timeout
        while time.time() < deadline and thread.is_alive():
            if self.graph.run_autocommit(BLOCKED)[0]['n']:
                return
            time.sleep(0.02)

    def test_commit_waits_for_an_open_notification(self):
        # A notification's transaction has written I1 and not committed
        # yet when the commit starts: the commit must see it once it
        # commits, and refuse, rather than write what it read before.
        for index in range(self.HELD_ROUNDS):
            self.put_back()
            sid = self.session_moving(N2)
            name = 'held-%d' % index
            written, release = threading.Event(), threading.Event()
            outcome = {}

            def notification(tx):
                counts = compute.write_instances(tx, self.graph, [
                    instance(name, updated_at=time.time())])
                written.set()
                release.wait(60)
                return counts

            def run(key, call):
                try:
                    outcome[key] = (call(), None)
                except Exception as exc:  # noqa: B902 - looked at below
                    outcome[key] = (None, exc)

            held = threading.Thread(target=run, args=(
                'notification', lambda: self.graph.write(notification)))
            held.start()
            while held.is_alive() and not written.wait(0.05):
                pass
            self.assertTrue(written.is_set(), outcome)
            committer = threading.Thread(target=run, args=(
                'commit', lambda: self.manager.commit_session(sid)))
            committer.start()
            self.wait_blocked(committer)
            release.set()
            held.join(60)
            committer.join(60)
            self.assertIsNone(outcome['notification'][1])
            self.assertEqual(1, outcome['notification'][0].updated)
            error = outcome['commit'][1]
            self.assertIsInstance(error, exception.Conflict)
            self.assertIn(I1, error.kwargs['conflicts'])
            inst = compute.get_instance_by_uuid(self.graph, I1)
            self.assertEqual(name, inst.name)
            self.assertEqual(N1, self.location())
            self.assertEqual({N1: 2, N2: 0, N3: 0}, self.vcpus_used())
            self.end_active()

    def test_commit_racing_a_notification_keeps_the_newest(self):
        for index in range(self.ROUNDS):
            self.put_back()
            sid = self.session_moving(N2)
            name = 'race-%d' % index
            commit, note = race(
                lambda: self.manager.commit_session(sid),
                lambda: self.notify(name))
            self.assertIsNone(note[1])
            # The notification is newer than the session: whichever
            # transaction went first, its state is what the graph keeps.
            inst = compute.get_instance_by_uuid(self.graph, I1)
            self.assertEqual(name, inst.name)
            if commit[1] is not None:
                self.assertIsInstance(commit[1], exception.Conflict)
                self.assertIn(I1, commit[1].kwargs['conflicts'])
                self.assertEqual(N1, self.location())
            # Never on two nodes, whatever the order.
            self.assertEqual(2, sum(self.vcpus_used().values()))
            self.end_active()
