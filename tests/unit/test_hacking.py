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

from tachyon.hacking import checks
from tests import base


class TestHackingChecks(base.TestCase):

    def _run(self, check, line, filename):
        return list(check(line, filename))

    def test_eventlet_import_is_flagged(self):
        self.assertEqual(1, len(self._run(
            checks.check_no_eventlet, 'import eventlet',
            'tachyon/service.py')))
        self.assertEqual(1, len(self._run(
            checks.check_no_eventlet, 'from eventlet import greenpool',
            'tachyon/service.py')))
        self.assertEqual(0, len(self._run(
            checks.check_no_eventlet, 'import eventlet_like',
            'tachyon/service.py')))

    def test_cypher_outside_graph_is_flagged(self):
        line = 'Q = "MATCH (n:Consumer {uuid: $uuid}) RETURN n"'
        self.assertEqual(1, len(self._run(
            checks.check_no_cypher_outside_graph, line,
            'tachyon/notifications/nova.py')))
        self.assertEqual(0, len(self._run(
            checks.check_no_cypher_outside_graph, line,
            'tachyon/graph/compute.py')))
        self.assertEqual(0, len(self._run(
            checks.check_no_cypher_outside_graph,
            '"match the payload"', 'tachyon/notifications/nova.py')))

    def test_neo4j_import_outside_graph_is_flagged(self):
        self.assertEqual(1, len(self._run(
            checks.check_no_neo4j_outside_graph, 'import neo4j',
            'tachyon/rpc/manager.py')))
        self.assertEqual(0, len(self._run(
            checks.check_no_neo4j_outside_graph, 'import neo4j',
            'tachyon/graph/driver.py')))
