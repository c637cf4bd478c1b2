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
import os
import socket

from tachyon import exception
from tachyon.graph import driver
from tests import base

_ROOT = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'tachyon')


def _free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class TestGraphDriverErrors(base.TestCase):

    def _unreachable(self):
        """A Graph on a closed local port, and that port."""
        port = _free_port()
        graph = driver.Graph('bolt://127.0.0.1:%d' % port,
                             password='secret', connection_timeout=1.0,
                             max_transaction_retry_time=0.0)
        self.addCleanup(graph.close)
        return graph, port

    def test_unreachable_server_is_one_clear_error(self):
        graph, port = self._unreachable()
        exc = self.assertRaises(exception.GraphUnavailable, graph.verify)
        self.assertIn('bolt://127.0.0.1:%d' % port, str(exc))
        self.assertNotIn('secret', str(exc))

    def test_unreachable_server_fails_a_one_statement_read_clearly(self):
        graph, port = self._unreachable()
        exc = self.assertRaises(
            exception.GraphUnavailable, graph.read_one,
            lambda tx: tx.run('RETURN 1').single())
        self.assertIn('bolt://127.0.0.1:%d' % port, str(exc))

    def test_malformed_uri_names_the_option(self):
        exc = self.assertRaises(exception.ConfigurationError, driver.Graph,
                                'foo://host:7687')
        self.assertIn('[neo4j]/uri', str(exc))

    def test_redact_drops_credentials(self):
        self.assertEqual('bolt://h:7687',
                         driver._redact('bolt://u:pw@h:7687'))

    def test_from_conf_uses_options(self):
        self.flags(group='neo4j', uri='neo4j://10.0.0.1:7687',
                   username='tachyon', batch_size=7)
        graph = driver.Graph.from_conf(self.conf)
        self.addCleanup(graph.close)
        self.assertEqual('neo4j://10.0.0.1:7687', graph.uri)
        self.assertEqual('tachyon', graph.username)
        self.assertEqual([[1] * 7, [1] * 3], list(graph.batches([1] * 10)))


class TestArchitecture(base.TestCase):
    """What a file may touch is told by its path."""

    def _imports(self):
        for dirpath, _dirs, files in os.walk(_ROOT):
            for name in files:
                if not name.endswith('.py'):
                    continue
                path = os.path.join(dirpath, name)
                with open(path) as src:
                    tree = ast.parse(src.read(), path)
                rel = os.path.relpath(path, _ROOT)
                for node in ast.walk(tree):
                    if isinstance(node, ast.Import):
                        for alias in node.names:
                            yield rel, alias.name
                    elif isinstance(node, ast.ImportFrom) and node.module:
                        yield rel, node.module

    def test_nothing_imports_eventlet(self):
        offenders = [rel for rel, mod in self._imports()
                     if mod.split('.')[0] == 'eventlet']
        self.assertEqual([], offenders)

    def test_only_graph_imports_neo4j(self):
        offenders = [rel for rel, mod in self._imports()
                     if mod.split('.')[0] == 'neo4j'
                     and not rel.startswith('graph' + os.sep)]
        self.assertEqual([], offenders)
