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

import ast
import textwrap

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

    def _private(self, source, filename='tachyon/graph/events.py'):
        tree = ast.parse(textwrap.dedent(source))
        return [text.split(':')[0] for _line, _col, text, _type in
                checks.check_no_private_names_across_modules(tree, filename)]

    def test_private_name_of_an_imported_module_is_flagged(self):
        self.assertEqual(['T304'], self._private('''
            from tachyon.graph import compute
            compute._upsert_nodes(tx, rows)
            '''))
        self.assertEqual(['T304'], self._private('''
            from tachyon.graph import storage as storage_graph
            rows = storage_graph._POOL_RETURN
            '''))
        self.assertEqual(['T304'], self._private('''
            import tachyon.graph.compute
            tachyon.graph.compute._newer(a, b)
            '''))
        self.assertEqual(['T304'], self._private('''
            def f():
                from tachyon.cmd import manage
                return manage._graph()
            '''))

    def test_importing_a_private_name_is_flagged(self):
        self.assertEqual(['T304'], self._private(
            'from tachyon.graph.compute import _node_row\n'))
        self.assertEqual(['T304', 'T304'], self._private(
            'from tachyon.graph.storage import _pool, _volume\n'))

    def test_own_and_public_names_are_fine(self):
        self.assertEqual([], self._private('''
            from tachyon.graph import compute
            from tachyon._i18n import _
            _LIMIT = 3


            class Thing(object):
                _cache = None

                def run(self):
                    self._work(_LIMIT)
                    type(self)._cache = compute.get_compute_model
                    return compute.__name__, cls._cache

            def _helper(node):
                return node._private
            '''))

    def test_private_names_outside_the_package_are_not_checked(self):
        self.assertEqual([], self._private('''
            from tachyon.client import model
            model._pending
            ''', 'tests/unit/test_client_elements.py'))

    def _imports(self, line, filename):
        return [text.split(':')[0] for _col, text in
                checks.check_package_imports(line, filename)]

    def test_model_imports_nothing_above_it(self):
        for line in ('from tachyon.graph import compute',
                     'from tachyon import graph',
                     'import tachyon.graph.compute',
                     'from tachyon.common import fields',
                     'from tachyon import watcher_xml'):
            self.assertEqual(['T305'], self._imports(
                line, 'tachyon/model/records.py'), line)
        for line in ('from tachyon import exception',
                     'from tachyon._i18n import _',
                     'from tachyon.model import records',
                     'import dataclasses',
                     'from oslo_utils import timeutils'):
            self.assertEqual([], self._imports(
                line, 'tachyon/model/records.py'), line)

    def test_the_graph_does_not_import_the_layers_above(self):
        for target in ('simulation', 'rpc', 'notifications', 'collectors',
                       'client', 'watcher_xml', 'cmd', 'service'):
            self.assertEqual(['T305'], self._imports(
                'from tachyon import %s' % target,
                'tachyon/graph/events.py'), target)
        self.assertEqual([], self._imports(
            'from tachyon.model import records', 'tachyon/graph/compute.py'))
        self.assertEqual([], self._imports(
            'from tachyon.graph import common', 'tachyon/graph/compute.py'))

    def test_layers_above(self):
        self.assertEqual([], self._imports(
            'from tachyon.graph import compute as compute_graph',
            'tachyon/watcher_xml/compute.py'))
        self.assertEqual(['T305'], self._imports(
            'from tachyon.rpc import api', 'tachyon/watcher_xml/compute.py'))
        self.assertEqual([], self._imports(
            'from tachyon.collectors import lookups',
            'tachyon/notifications/enrich.py'))
        self.assertEqual(['T305'], self._imports(
            'from tachyon.notifications import base',
            'tachyon/collectors/payloads.py'))
        self.assertEqual(['T305'], self._imports(
            'from tachyon.graph import compute', 'tachyon/client/model.py'))
        self.assertEqual(['T305', 'T305'], self._imports(
            'from tachyon import rpc, graph, simulation',
            'tachyon/client/model.py'))
        self.assertEqual([], self._imports(
            'from tachyon.simulation import manager', 'tachyon/rpc/api.py'))

    def test_entry_points_and_tests_may_import_anything(self):
        for filename in ('tachyon/service.py', 'tachyon/cmd/manage.py',
                         'tests/unit/test_records.py'):
            self.assertEqual([], self._imports(
                'from tachyon.graph import compute', filename))
