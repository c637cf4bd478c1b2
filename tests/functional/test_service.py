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

"""Periodic tasks of tachyon-engine, two workers on the real Neo4j."""

import threading
import time

from tachyon.graph import leases
from tachyon import service
from tests.functional import base


class TestPeriodicTask(base.FunctionalTestCase):

    def _task(self, holder, func, interval=4.0, lease_ttl=3.0):
        return service.PeriodicTask(self.graph, 'job', interval, func,
                                    holder, lease_ttl=lease_ttl)

    def test_a_run_longer_than_its_interval_never_runs_twice(self):
        running = []
        overlaps = []
        lock = threading.Lock()
        started = threading.Event()

        def job():
            started.set()
            with lock:
                if running:
                    overlaps.append(list(running))
                running.append(threading.current_thread().name)
            time.sleep(8.0)
            with lock:
                running.pop()

        first = self._task('worker-1', job)
        second = self._task('worker-2', job)
        thread = threading.Thread(target=first.run_once, name='worker-1')
        thread.start()
        self.assertTrue(started.wait(60))
        # Past the interval (4 s) and the lease's TTL (3 s): the renewed
        # lease still keeps the second worker out.
        deadline = time.monotonic() + 6.0
        attempts = 0
        while time.monotonic() < deadline:
            self.assertFalse(second.run_once())
            attempts += 1
            time.sleep(0.3)
        thread.join()
        self.assertGreater(attempts, 5)
        self.assertEqual([], overlaps)
        # The run is over and started more than 0.9 interval ago: free.
        ran = []
        self.assertTrue(self._task('worker-2', lambda: ran.append(1))
                        .run_once())
        self.assertEqual([1], ran)

    def test_a_live_holder_keeps_the_task(self):
        self.assertTrue(leases.acquire(self.graph, 'periodic:job',
                                       'worker-1', 30))
        ran = []
        self.assertFalse(self._task('worker-2', ran.append).run_once())
        self.assertEqual([], ran)

    def test_a_dead_holders_task_is_taken_over_after_its_ttl(self):
        # worker-1 took the lease 31 s ago for 30 s and died: it never
        # renewed.
        self.assertTrue(leases.acquire(self.graph, 'periodic:job',
                                       'worker-1', 30,
                                       now=time.time() - 31))
        ran = []
        self.assertTrue(self._task('worker-2', lambda: ran.append(1))
                        .run_once())
        self.assertEqual([1], ran)

    def test_a_run_keeps_the_task_for_the_rest_of_its_interval(self):
        ran = []
        first = self._task('worker-1', lambda: ran.append(1), interval=60)
        second = self._task('worker-2', lambda: ran.append(2), interval=60)
        before = time.time()
        self.assertTrue(first.run_once())
        after = time.time()
        self.assertFalse(second.run_once())
        self.assertEqual([1], ran)
        (lease,) = leases.get_leases(self.graph, 'periodic:job')
        self.assertEqual('worker-1', lease['holder'])
        self.assertIsNotNone(lease['released_at'])
        # Kept until 0.9 interval after the run started.
        self.assertGreaterEqual(lease['expires_at'], before + 54)
        self.assertLessEqual(lease['expires_at'], after + 54)
