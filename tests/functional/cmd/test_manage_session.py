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

from tests.functional.cmd import base


class TestManageSession(base.ManageTestCase):

    def test_list_show_expire(self):
        mgr, sid, inst, node, other = base.session_with_a_move(
            self, 'scenario_1.xml', 'audit-9')

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
