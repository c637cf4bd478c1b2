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

"""Every index hint of the graph layer plans, as a seek, on the real
Neo4j: a ``USING INDEX SEEK`` the planner cannot meet fails the
statement, and a hint on an index the schema lacks fails it when it
runs, so either would otherwise only show when that path ran."""

import importlib
import pkgutil

from tachyon import graph
from tachyon.graph.compute import staging
from tests.functional import base


def _hinted():
    """(name, statement) of each module constant with an index hint."""
    for info in pkgutil.walk_packages(graph.__path__, graph.__name__ + '.'):
        module = importlib.import_module(info.name)
        for name, value in sorted(vars(module).items()):
            if name.startswith('__'):
                continue
            values = value if isinstance(value, tuple) else (value,)
            for index, text in enumerate(values):
                if (isinstance(text, str) and 'USING INDEX' in text
                        and '%(' not in text and '%s' not in text):
                    yield '%s.%s[%d]' % (info.name, name, index), text


class TestIndexHints(base.FunctionalTestCase):

    def explain(self, name, statement):
        # Planned, not run: a seek it cannot meet raises; a hinted index
        # that does not exist is a notification.
        with self.graph._driver.session(database=self.graph.database) as s:
            summary = s.run('EXPLAIN ' + statement).consume()
        missing = [n for n in summary.notifications or ()
                   if n.get('code', '').endswith('HintedIndexNotFound')]
        self.assertEqual([], missing, name)

    def test_every_hint_is_a_seek_that_plans(self):
        seen = 0
        for name, statement in _hinted():
            self.assertNotRegex(statement, r'USING INDEX (?!SEEK )', name)
            self.explain(name, statement)
            # The staged import runs the live writes on its own labels.
            self.explain(name + ' (staged)', staging.staged_query(statement))
            seen += 1
        self.assertGreater(seen, 40)
