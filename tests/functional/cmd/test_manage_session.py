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

"""tachyon-manage session list / show / expire, as an operator runs them."""

import os
import subprocess
import sys

from tachyon import watcher_xml
from tachyon.simulation import manager
from tests.functional import base
from tests import watcher_models


class TestManageSession(base.FunctionalTestCase):

    def manage(self, *args):
        env = dict(os.environ, OS_NEO4J__URI=self.neo4j.uri,
                   OS_NEO4J__USERNAME=self.neo4j.user,
                   OS_NEO4J__PASSWORD=self.neo4j.password)
        return subprocess.run(
            [sys.executable, '-m', 'tachyon.cmd.manage', '--config-file',
             os.devnull] + list(args), env=env, capture_output=True,
            text=True, timeout=120)

    def test_list_show_expire(self):
        watcher_xml.import_model(self.graph,
                                 watcher_models.load_data('scenario_1.xml'))
        model = watcher_models.watcher_model('scenario_1.xml')
        node = sorted(model.get_all_compute_nodes().values(),
                      key=lambda n: n.uuid)[0]
        inst = model.get_node_instances(node)[0]
        other = sorted(u for u in model.get_all_compute_nodes()
                       if u != node.uuid)[0]
        mgr = manager.SessionManager(self.conf, self.graph)
        sid = mgr.create_session(audit_uuid='audit-9')['id']
        mgr.migrate_instance(sid, inst.uuid, node.uuid, other,
                             check_capacity=False)

        res = self.manage('session', 'list', '--status', 'active')
        self.assertEqual(0, res.returncode, res.stderr)
        self.assertIn(sid, res.stdout)
        self.assertIn('audit-9', res.stdout)
        res = self.manage('session', 'show', sid)
        self.assertEqual(0, res.returncode, res.stderr)
        self.assertIn('MOVE', res.stdout)
        self.assertIn(inst.uuid, res.stdout)
        res = self.manage('session', 'expire', sid)
        self.assertEqual(0, res.returncode, res.stderr)
        self.assertIn('expired', res.stdout)
        self.assertEqual('expired', mgr.get_session(sid)['status'])
        res = self.manage('session', 'expire', sid)
        self.assertEqual(1, res.returncode)
        self.assertNotIn('Traceback', res.stderr)
