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

"""tachyon-manage reservation list / show / release, and model stats."""

import json
import os
import subprocess
import sys
import time

from oslo_utils import uuidutils

from tachyon.graph import compute
from tachyon.graph import events
from tachyon.model import changes
from tachyon.model import plans
from tachyon.simulation import manager
from tests.functional import base
from tests.functional.notifications import test_watcher_reservations as w

N1, N2, I1 = w.N1, w.N2, w.I1


class TestManageReservation(base.FunctionalTestCase):

    def manage(self, *args):
        env = dict(os.environ, OS_NEO4J__URI=self.neo4j.uri,
                   OS_NEO4J__USERNAME=self.neo4j.user,
                   OS_NEO4J__PASSWORD=self.neo4j.password)
        res = subprocess.run(
            [sys.executable, '-m', 'tachyon.cmd.manage', '--config-file',
             os.devnull] + list(args), env=env, capture_output=True,
            text=True, timeout=120)
        self.assertEqual(0, res.returncode, res.stderr)
        return res.stdout

    def test_list_show_release_stats(self):
        compute.upsert_compute_nodes(self.graph, [w.node(N1), w.node(N2)])
        compute.upsert_instances(self.graph, [w.instance(I1, N1)])
        mgr = manager.SessionManager(self.conf, self.graph)
        audit = uuidutils.generate_uuid()
        sid = mgr.create_session(audit_uuid=audit)['id']
        mgr.migrate_instance(sid, I1, N1, N2)
        mgr.close_session(sid)
        plan = uuidutils.generate_uuid()
        now = time.time()
        # What the watcher handler hands the graph for action_plan.create.
        events.apply_changes(self.graph, [changes.Change(
            kind=changes.ACTION_PLAN, action=changes.UPSERT, key=plan,
            timestamp=now, record=plans.ActionPlanState(
                uuid=plan, audit_uuid=audit, state=plans.RECOMMENDED,
                created_at=now))])

        [listed] = json.loads(self.manage('reservation', 'list', '-f',
                                          'json'))
        self.assertEqual((plan, 'active', 1, sid),
                         (listed['action_plan_uuid'], listed['state'],
                          listed['holding'], listed['session_id']))
        self.assertIn(plan, self.manage('reservation', 'list'))
        shown = json.loads(self.manage('reservation', 'show', plan, '-f',
                                       'json'))
        [hold] = shown['holds']
        self.assertEqual([], shown['overcommitted'])
        self.assertEqual((I1, N1, N2, 'held'),
                         (hold['consumer_uuid'], hold['source_uuid'],
                          hold['destination_uuid'], hold['state']))
        self.assertEqual({'VCPU': 2, 'MEMORY_MB': 1024, 'DISK_GB': 10},
                         hold['resources'])
        stats = json.loads(self.manage('model', 'stats', '-f', 'json'))
        self.assertEqual({'active': 1, 'holding_moves': 1, 'conflicts': 0,
                          'ended': 0}, stats['reservations'])

        self.assertEqual(2, mgr.get_node_used_resources(N2)['vcpu'])
        released = self.manage('reservation', 'release', plan)
        self.assertIn('1 hold ended', released)
        self.assertEqual(0, mgr.get_node_used_resources(N2)['vcpu'])
        [listed] = json.loads(self.manage('reservation', 'list', '--state',
                                          'ended', '-f', 'json'))
        self.assertEqual('released by an operator', listed['end_reason'])
        stats = json.loads(self.manage('model', 'stats', '-f', 'json'))
        self.assertEqual({'active': 0, 'holding_moves': 0, 'conflicts': 0,
                          'ended': 1}, stats['reservations'])
