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

"""What the tachyon-manage tests share: the real console script, run
against the test's Neo4j through a configuration file, and a session
holding one move of a Watcher scenario's instance."""

import json
import os
import subprocess
import sys

import fixtures

from tachyon.simulation import manager
from tachyon import watcher_xml
from tests.functional import base
from tests import watcher_models

SCRIPT = os.path.join(os.path.dirname(sys.executable), 'tachyon-manage')


class ManageTestCase(base.FunctionalTestCase):

    def setUp(self):
        super().setUp()
        self.assertTrue(os.access(SCRIPT, os.X_OK), SCRIPT)
        self.tmp = self.useFixture(fixtures.TempDir())
        self.config = self.tmp.join('tachyon.conf')
        with open(self.config, 'w') as f:
            f.write('[neo4j]\nuri = %s\nusername = %s\npassword = %s\n' % (
                self.neo4j.uri, self.neo4j.user, self.neo4j.password))

    def manage(self, *args, input_=None):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith('OS_')}
        env['PYTHONWARNINGS'] = 'ignore'
        return subprocess.run([SCRIPT, '--config-file', self.config]
                              + list(args), env=env, capture_output=True,
                              text=True, timeout=300, input=input_)

    def ok(self, *args):
        result = self.manage(*args)
        self.assertEqual(0, result.returncode, result.stderr)
        self.assertNotIn('Traceback', result.stdout + result.stderr)
        return result

    def json(self, *args):
        return json.loads(self.ok(*(args + ('-f', 'json'))).stdout)

    def assertOneLineError(self, result, prog, *fragments):
        self.assertEqual(1, result.returncode, result.stderr)
        self.assertNotIn('Traceback', result.stdout + result.stderr)
        self.assertEqual('', result.stdout)
        lines = result.stderr.splitlines()
        self.assertEqual(1, len(lines), result.stderr)
        self.assertTrue(lines[0].startswith(prog + ': '), lines[0])
        for fragment in fragments:
            self.assertIn(fragment, lines[0])


def session_with_a_move(test, scenario, audit_uuid):
    """Import ``scenario``; open a session moving one instance.

    Returns (manager, session id, instance, source node, destination uuid),
    the instance and node as Watcher's own model reads them.
    """
    watcher_xml.import_model(test.graph, watcher_models.load_data(scenario))
    model = watcher_models.watcher_model(scenario)
    node = sorted(model.get_all_compute_nodes().values(),
                  key=lambda n: n.uuid)[0]
    inst = model.get_node_instances(node)[0]
    other = sorted(u for u in model.get_all_compute_nodes()
                   if u != node.uuid)[0]
    mgr = manager.SessionManager(test.conf, test.graph)
    sid = mgr.create_session(audit_uuid=audit_uuid)['id']
    mgr.migrate_instance(sid, inst.uuid, node.uuid, other,
                         check_capacity=False)
    return mgr, sid, inst, node, other
