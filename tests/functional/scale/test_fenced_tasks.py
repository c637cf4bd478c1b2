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

"""tachyon-engine's own periodic tasks write only under their lease.

The tasks come from the engine's service (``periodic_tasks``), on the
real Neo4j: run by a worker whose lease was taken by another, each
task's write is refused and nothing it would have written commits.
"""

import time

from tachyon import exception
from tachyon.graph import leases
from tachyon.graph import sessions
from tachyon import service
from tests.functional import base


class TestEngineTasksAreFenced(base.FunctionalTestCase):

    def setUp(self):
        super().setUp()
        self.service = service.EngineService(self.conf)
        self.service.graph = self.graph
        self.tasks = {task.name: task
                      for task in self.service.periodic_tasks()}

    def test_every_task_writes_through_its_lease(self):
        self.assertIn('session-reaper', self.tasks)
        self.assertIn('tombstone-purge', self.tasks)
        for task in self.tasks.values():
            self.assertIsInstance(task.graph_for_task, leases.FencedGraph)
            self.assertEqual(task.lease, task.graph_for_task.lease)
            self.assertEqual(self.service.holder,
                             task.graph_for_task.holder)

    def _lost(self, task):
        # Another worker holds the task's lease: this one lost it.
        self.assertTrue(leases.acquire(self.graph, task.lease, 'other:1',
                                       60))

    def test_a_reaper_that_lost_its_lease_expires_nothing(self):
        sessions.create_session(self.graph, 'old-session', 0.1)
        time.sleep(0.3)
        task = self.tasks['session-reaper']
        self._lost(task)
        exc = self.assertRaises(exception.InvalidState, task.func)
        self.assertEqual('lease', exc.kwargs['kind'])
        self.assertIn(task.lease, str(exc))
        self.assertEqual('active', sessions.get_session(
            self.graph, 'old-session')['status'])
        # run_once as the engine's loop runs it: it takes the lease only
        # once free, then the same write commits.
        leases.release(self.graph, task.lease, 'other:1')
        self.assertTrue(task.run_once())
        self.assertEqual('expired', sessions.get_session(
            self.graph, 'old-session')['status'])

    def test_a_purge_that_lost_its_lease_is_refused(self):
        task = self.tasks['tombstone-purge']
        self._lost(task)
        exc = self.assertRaises(exception.InvalidState, task.func)
        self.assertEqual('lease', exc.kwargs['kind'])

    def test_a_run_whose_lease_is_lost_midway_is_cut_short(self):
        task = self.tasks['tombstone-purge']
        purge, calls = task.func, []

        def steal_then_purge():
            # The lease runs out while the run is under way and another
            # worker takes it; the run's write is refused, run_once logs
            # it and does not raise.
            leases.release(self.graph, task.lease, task.holder)
            self._lost(task)
            calls.append(1)
            return purge()
        task.func = steal_then_purge
        self.assertTrue(task.run_once())
        self.assertEqual([1], calls)
        (lease,) = leases.get_leases(self.graph, task.lease)
        self.assertEqual('other:1', lease['holder'])

    def test_auto_commit_is_checked_first(self):
        task = self.tasks['session-reaper']
        self.assertTrue(leases.acquire(self.graph, task.lease, task.holder,
                                       60))
        self.assertEqual([{'one': 1}], task.graph_for_task.run_autocommit(
            'RETURN $one AS one', one=1))
        leases.release(self.graph, task.lease, task.holder)
        self._lost(task)
        self.assertRaises(exception.InvalidState,
                          task.graph_for_task.run_autocommit, 'RETURN 1')
