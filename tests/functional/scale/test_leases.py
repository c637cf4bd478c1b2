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

"""Two worker processes racing for one periodic task's lease.

The holder is paused (SIGSTOP) past its lease while its run is under
way, then resumed; later the holder is killed (SIGKILL). Each run
records its start, its steps and its end through fenced writes
(:func:`tachyon.graph.leases.fence`): the runs' writes never interleave,
the paused run's writes after its lease was taken are refused, and the
killed holder's task is taken over within a lease period (plus the
other worker's polling interval).
"""

import os
import signal
import subprocess
import sys
import time

from tachyon.graph import sessions
from tests.fixtures import services
from tests.functional import base

INTERVAL = 2.5
TTL = 2.0
RUN = 3.5


def _runs(tx):
    return [r['run'] for r in tx.run(
        'MATCH (r:LeaseRun) RETURN r {.*} AS run ORDER BY r.started')]


class _Workers(base.FunctionalTestCase):

    def setUp(self):
        super().setUp()
        self.outputs = {}

    def start_worker(self, holder, module='lease_worker'):
        env = dict(os.environ, TACHYON_NEO4J_URI=self.neo4j.uri,
                   TACHYON_NEO4J_USER=self.neo4j.user,
                   TACHYON_NEO4J_PASSWORD=self.neo4j.password)
        proc = subprocess.Popen(
            [sys.executable, '-m', 'tests.functional.scale.' + module,
             holder, str(INTERVAL), str(TTL), str(RUN)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

        def stop():
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.kill()
            proc.wait()
            if not proc.stdout.closed:
                self.outputs[holder] = proc.stdout.read().decode(
                    'utf-8', 'replace')
                proc.stdout.close()
            return self.outputs[holder]
        self.addCleanup(stop)
        proc.stop = stop
        return proc

    def runs(self):
        return self.graph.read(_runs)

    def wait_for(self, predicate, timeout, what):
        if not services.wait_until(predicate, timeout, interval=0.05):
            self.fail('timed out waiting for %s: %s' % (what, self.runs()))

    def running(self, holder):
        """The holder's runs under way: not ended, written within 1 s."""
        recent = time.time() - 1.0
        return [r for r in self.runs() if r['holder'] == holder
                and 'ended' not in r and r['last'] > recent]


class TestLeaseRace(_Workers):

    def test_paused_and_killed_holders(self):
        procs = {'w1': self.start_worker('w1')}
        self.wait_for(lambda: self.running('w1'), 60, 'w1 to start a run')
        procs['w2'] = self.start_worker('w2')
        # w1 is in a run: freeze it well past its lease.
        procs['w1'].send_signal(signal.SIGSTOP)
        paused_at = time.time()
        self.wait_for(lambda: self.running('w2'), 60,
                      'w2 to take the paused holder\'s task')
        time.sleep(max(0.0, paused_at + 3 * TTL - time.time()))
        procs['w1'].send_signal(signal.SIGCONT)
        # Both compete again for a few rounds.
        time.sleep(3 * INTERVAL)

        # Kill whoever holds the task now, in the middle of a run.
        self.wait_for(lambda: any(self.running(h) for h in procs), 60,
                      'a run under way')
        victim = next(h for h in procs if self.running(h))
        other = next(h for h in procs if h != victim)
        procs[victim].kill()
        procs[victim].wait()
        killed_at = time.time()
        self.wait_for(
            lambda: any(r['holder'] == other and r['started'] > killed_at
                        for r in self.runs()),
            60, '%s to take the task over' % other)
        takeover = min(r['started'] for r in self.runs()
                       if r['holder'] == other and r['started'] > killed_at)
        self.wait_for(lambda: not self.running(other), 60,
                      'the last run to end')
        procs[other].kill()
        procs[other].wait()

        runs = self.runs()
        # Never twice at once: every write of a run precedes the start of
        # the next one.
        for earlier, later in zip(runs, runs[1:]):
            self.assertLess(earlier['last'], later['started'],
                            (earlier, later))
        # The run under way when w1 was paused was cut short: its writes
        # after the takeover were refused, so it never ended.
        paused = [r for r in runs if r['holder'] == 'w1'
                  and r['started'] < paused_at]
        self.assertTrue(paused, runs)
        self.assertNotIn('ended', paused[-1], runs)
        # The resumed worker ran the task again later (the race went on).
        self.assertTrue(any(r['started'] > paused_at + 3 * TTL
                            for r in runs), runs)
        # Taken over within a lease period once the other worker polls
        # (PeriodicTask tries every INTERVAL); 1 s for a loaded machine.
        self.assertLess(takeover - killed_at, TTL + INTERVAL + 1.0,
                        runs)


def _reaper_runs(tx):
    return [r['run'] for r in tx.run(
        'MATCH (r:ReaperRun) RETURN r {.*} AS run ORDER BY r.started')]


class TestFencedReaper(_Workers):
    """The engine's session reaper, its writes fenced by its lease.

    Two processes run the reaper (reaper_worker.py) the way tachyon-engine
    wires it: every write through the task's fenced graph. The holder is
    paused (SIGSTOP) before its reaper write and resumed after the other
    worker took the task over: its reaper write, which would expire a
    session the new holder has not reaped yet, is refused, and the new
    holder expires that session, once.
    """

    def runs(self):
        return self.graph.read(_reaper_runs)

    def test_a_resumed_stale_leader_cannot_reap(self):
        procs = {'w1': self.start_worker('w1', 'reaper_worker')}
        self.wait_for(lambda: self.running('w1'), 60, 'w1 to start a run')
        procs['w2'] = self.start_worker('w2', 'reaper_worker')
        # w1 is in a run, before its reaper write: freeze it past its
        # lease.
        procs['w1'].send_signal(signal.SIGSTOP)
        paused_at = time.time()
        (stale,) = [r for r in self.runs() if r['holder'] == 'w1']
        self.wait_for(
            lambda: [r for r in self.runs() if r['holder'] == 'w2'],
            60, 'w2 to take the paused holder\'s task')
        (taken,) = [r for r in self.runs() if r['holder'] == 'w2']
        # A session the new holder's reaper write (RUN s after its start)
        # will expire, which w1's would expire first if it were let.
        session_id = 'stale-%d' % os.getpid()
        sessions.create_session(self.graph, session_id, 0.2)
        time.sleep(0.5)
        self.assertGreater(time.time() - paused_at, TTL)
        self.assertLess(time.time(), taken['started'] + RUN - 1.0,
                        'w1 must resume before w2 reaps: machine too slow')
        procs['w1'].send_signal(signal.SIGCONT)
        resumed_at = time.time()
        self.wait_for(
            lambda: any(r['id'] == taken['id'] and 'ended' in r
                        for r in self.runs()),
            60, 'w2 to end its run')
        # Both compete again for a few rounds.
        time.sleep(3 * INTERVAL)
        outputs = {holder: proc.stop() for holder, proc in procs.items()}
        runs = self.runs()

        ended = {r['id']: r for r in runs if 'ended' in r}
        # The stale run never ended: its reaper write was refused.
        self.assertNotIn(stale['id'], ended, runs)
        self.assertIn('reap refused %s' % stale['id'], outputs['w1'],
                      outputs)
        # The new holder expired the session, and no other run did.
        self.assertEqual([taken['id']],
                         [r['id'] for r in ended.values()
                          if session_id in r['expired']], runs)
        self.assertEqual('expired', sessions.get_session(
            self.graph, session_id)['status'])
        # Never twice at once: every write of a run precedes the start of
        # the next one, the stale run's included.
        for earlier, later in zip(runs, runs[1:]):
            self.assertLess(earlier['last'], later['started'],
                            (earlier, later))
        # The task went on after the stale run: more runs reaped.
        self.assertTrue([r for r in ended.values()
                         if r['started'] > resumed_at], runs)
