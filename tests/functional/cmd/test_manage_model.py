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

"""tachyon-manage model import of hostile files, run as the real command.

The console script installed beside the test interpreter runs against
the test's Neo4j (configured through a config file, as an operator
would). Every hostile file must end the command with a non-zero status
and one line on standard error, no traceback, and the graph exactly as it
was: nothing half-written.
"""

import json
import os
import signal
import subprocess
import sys
import time
import uuid

import fixtures

from tachyon.graph import compute as compute_graph
from tachyon.graph.compute import staging
from tachyon.graph import storage as storage_graph
from tachyon import watcher_xml
from tests.functional import base
from tests import hostile_xml
from tests import watcher_models

SCRIPT = os.path.join(os.path.dirname(sys.executable), 'tachyon-manage')
PREFIX = 'tachyon-manage model import: '

#: Corpus cases run through the real command (the others are checked by
#: tests/unit/watcher_xml/test_hostile.py).
COMMAND_CASES = ('huge_attribute', 'huge_hostname', 'vcpus_1e30',
                 'vcpus_2_63', 'vcpus_negative', 'ratio_nan', 'deep_nesting',
                 'deep_json_list', 'duplicate_node', 'truncated',
                 'non_utf8_bytes', 'billion_laughs', 'external_entity',
                 'external_dtd', 'xinclude', 'pool_capacity_1e30')


def snapshot(graph):
    """Everything in the graph (but the schema version), to compare."""
    nodes = graph.run_autocommit(
        'MATCH (n) WHERE NOT n:TachyonSchema '
        'RETURN labels(n) AS l, properties(n) AS p')
    rels = graph.run_autocommit(
        'MATCH (a)-[r]->(b) RETURN type(r) AS t, properties(r) AS p, '
        'elementId(a) AS a, elementId(b) AS b')
    return (sorted(repr(sorted(r['l'])) + repr(sorted(r['p'].items()))
                   for r in nodes),
            sorted(repr(sorted(r.items())) for r in rels))


def _for_each_case(cls):
    cases = {case.name: case for case in hostile_xml.corpus()}
    for name in COMMAND_CASES:
        def test(self, _case=cases[name]):
            self.check_refused(_case)
        test.__name__ = 'test_refused__%s' % name
        setattr(cls, test.__name__, test)
    return cls


@_for_each_case
class TestHostileImport(base.FunctionalTestCase):

    def setUp(self):
        super().setUp()
        self.assertTrue(os.access(SCRIPT, os.X_OK), SCRIPT)
        self.tmp = self.useFixture(fixtures.TempDir())
        # Something of every kind in the graph, to tell it is untouched.
        watcher_xml.import_model(self.graph, watcher_models.load_data(
            'scenario_3_with_2_nodes.xml'))
        watcher_xml.import_model(self.graph, watcher_models.load_data(
            'storage_scenario_1.xml'))
        watcher_xml.import_model(self.graph, watcher_models.load_data(
            'ironic_scenario_1.xml'))
        self.before = snapshot(self.graph)

    def write(self, name, data):
        path = self.tmp.join(name)
        with open(path, 'wb') as f:
            f.write(data if isinstance(data, bytes) else data.encode())
        return path

    def manage(self, *args, config='', stdin=None, debug=False):
        conf = self.write('tachyon.conf', (
            '[neo4j]\nuri = %s\nusername = %s\npassword = %s\n%s' % (
                self.neo4j.uri, self.neo4j.user, self.neo4j.password,
                config)))
        env = {k: v for k, v in os.environ.items()
               if not k.startswith('OS_')}
        return subprocess.run(
            [SCRIPT, '--config-file', conf] + (['--debug'] if debug else [])
            + ['model'] + list(args),
            env=env, input=stdin, capture_output=True, timeout=300)

    def assertRefused(self, result, *fragments):
        stderr = result.stderr.decode('utf-8', 'replace')
        self.assertNotEqual(0, result.returncode, stderr[:2000])
        # oslo.log writes an unhandled error's traceback to stdout.
        output = (result.stdout + result.stderr).decode('utf-8', 'replace')
        self.assertNotIn('Traceback', output, output[-2000:])
        self.assertEqual(1, len(stderr.splitlines()), stderr[:2000])
        self.assertTrue(stderr.startswith(PREFIX), stderr[:2000])
        self.assertLess(len(stderr), 500, stderr[:2000])
        for fragment in fragments:
            self.assertIn(fragment, stderr)
        self.assertEqual(b'', result.stdout)
        self.assertEqual(self.before, snapshot(self.graph))
        return stderr

    def check_refused(self, case):
        config = ''
        if case.limits:
            config = '[model_import]\n' + ''.join(
                '%s = %s\n' % item for item in case.limits.items())
        args = ['import', self.write('%s.xml' % case.name, case.data)]
        if case.kind:
            args += ['--model', case.kind]
        self.assertRefused(self.manage(*args, config=config),
                           *case.expect)

    def test_valid_file_imports(self):
        # The same command and configuration import a good file.
        path = self.write('ok.xml', hostile_xml.valid_compute())
        result = self.manage('import', path)
        self.assertEqual(0, result.returncode, result.stderr)
        self.assertIn(b'Imported the compute model', result.stdout)
        self.assertNotEqual(self.before, snapshot(self.graph))

    def test_document_over_the_configured_limit(self):
        path = os.path.join(watcher_models.DATA_DIR, 'scenario_1.xml')
        size = os.path.getsize(path)
        config = '[model_import]\nmax_document_size = %d\n' % (size - 1)
        self.assertRefused(self.manage('import', path, config=config),
                           'document',
                           '[model_import]/max_document_size (%d bytes)'
                           % (size - 1))
        # From standard input likewise; the limit itself is accepted.
        with open(path, 'rb') as f:
            data = f.read()
        self.assertRefused(self.manage('import', '-', config=config,
                                       stdin=data),
                           'max_document_size')
        config = '[model_import]\nmax_document_size = %d\n' % size
        result = self.manage('import', '-', config=config, stdin=data)
        self.assertEqual(0, result.returncode, result.stderr)

    def test_attribute_over_the_configured_limit(self):
        path = self.write('host.xml', hostile_xml.doc(hostile_xml.node(
            hostname='h' * 101)))
        self.assertRefused(
            self.manage('import', path,
                        config='[model_import]\nmax_attribute_length = 100'),
            "ComputeNode uuid='n1'", 'attribute hostname',
            'max_attribute_length (100 bytes)')

    def test_unexpected_write_failure_is_one_line(self):
        # With the attribute limit raised past what Neo4j can index, the
        # write fails inside Neo4j: one line, the transaction rolled back.
        path = self.write('host.xml', hostile_xml.doc(hostile_xml.node(
            hostname='h' * 40000)))
        stderr = self.assertRefused(
            self.manage('import', path,
                        config='[model_import]\nmax_attribute_length = '
                               '100000'),
            'error while writing the compute model', 'Neo4j refused',
            '--debug')
        self.assertNotIn('h' * 100, stderr)

    def test_storage_write_failure_writes_nothing(self):
        # The storage node is written before the pool that Neo4j refuses:
        # both are one transaction, so neither stays.
        path = self.write('pool.xml', hostile_xml.doc(
            '<StorageNode host="new-host@lvm" zone="nova" status="enabled" '
            'state="up" volume_type="lvm"><Pool name="%s" total_volumes="1" '
            'total_capacity_gb="10" free_capacity_gb="10" '
            'provisioned_capacity_gb="0" allocated_capacity_gb="0" '
            'virtual_free="10"/></StorageNode>'
            % ('new-host@lvm#' + 'p' * 40000)))
        self.assertRefused(
            self.manage('import', path,
                        config='[model_import]\nmax_attribute_length = '
                               '100000'),
            'error while writing the storage model', 'Neo4j refused')
        self.assertNotIn('new-host@lvm',
                         storage_graph.get_all_storage_nodes(self.graph))

    def test_debug_logs_the_traceback(self):
        path = self.write('host.xml', hostile_xml.doc(hostile_xml.node(
            hostname='h' * 40000)))
        result = self.manage(
            'import', path, debug=True,
            config='[model_import]\nmax_attribute_length = 100000')
        self.assertNotEqual(0, result.returncode)
        # Where oslo.log writes (standard output without a log file).
        self.assertIn(b'Traceback', result.stdout + result.stderr)
        self.assertIn(b'DatabaseError', result.stdout + result.stderr)
        self.assertEqual(self.before, snapshot(self.graph))

    def test_missing_file(self):
        self.assertRefused(self.manage('import', self.tmp.join('none.xml')),
                           'FILE', 'No such file')


def cloud_document(n_nodes, per_node, seed):
    """A compute model in Watcher's scenario format: uuids from ``seed``."""
    parts = ['<ModelRoot>']
    for n in range(n_nodes):
        parts.append(
            '<ComputeNode uuid="%s" status="enabled" state="up" id="%d" '
            'hostname="host-%d-%d" vcpus="64" vcpu_reserved="0" '
            'vcpu_ratio="2" disk="2000" disk_gb_reserved="0" disk_ratio="1" '
            'disk_capacity="2000" memory="262144" memory_mb_reserved="0" '
            'memory_ratio="1">' % (uuid.UUID(int=seed << 64 | n), n, seed,
                                   n))
        for i in range(per_node):
            parts.append(
                '<Instance watcher_exclude="False" state="active" '
                'human_id="" name="vm-%d-%d" uuid="%s" vcpus="1" disk="10" '
                'disk_capacity="10" memory="1024" metadata="{}" '
                'project_id="project-%d"/>' % (
                    n, i, uuid.UUID(int=seed << 64 | 1 << 32 | n << 16 | i),
                    i % 7))
        parts.append('</ComputeNode>')
    parts.append('</ModelRoot>')
    return '\n'.join(parts)


class TestKilledImport(base.FunctionalTestCase):
    """A replacing import killed with SIGKILL while it stages."""

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir())
        self.config = self.tmp.join('tachyon.conf')
        with open(self.config, 'w') as f:
            # Small chunks, so that staging takes many transactions; a
            # short lease, so that the next import need not wait long.
            f.write('[neo4j]\nuri = %s\nusername = %s\npassword = %s\n'
                    '[model_import]\nstage_chunk_size = 100\n'
                    'stage_lease_ttl = 3\n' % (
                        self.neo4j.uri, self.neo4j.user,
                        self.neo4j.password))

    def command(self, path):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith('OS_')}
        return [SCRIPT, '--config-file', self.config, 'model', 'import',
                '--replace', path], env

    def write(self, name, text):
        path = self.tmp.join(name)
        with open(path, 'w') as f:
            f.write(text)
        return path

    def staged(self):
        return self.graph.run_autocommit(
            'RETURN COUNT { (:StagedConsumer) } AS n')[0]['n']

    def test_killed_import_leaves_the_previous_model(self):
        first = self.write('first.xml', cloud_document(20, 10, 1))
        second = self.write('second.xml', cloud_document(60, 50, 2))
        args, env = self.command(first)
        result = subprocess.run(args, env=env, capture_output=True,
                                timeout=300)
        self.assertEqual(0, result.returncode, result.stderr)
        before = watcher_xml.export_model(self.graph)

        args, env = self.command(second)
        proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        self.addCleanup(proc.wait)
        deadline = time.monotonic() + 120
        while self.staged() < 500 and proc.poll() is None:
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        self.assertEqual(-signal.SIGKILL, proc.returncode,
                         'the import ended before it could be killed')

        # Readers see the previous model, whole; what was staged is
        # there, invisible.
        self.assertEqual(before, watcher_xml.export_model(self.graph))
        self.assertGreater(self.staged(), 0)
        # An operator sees them counted.
        stats = subprocess.run(
            [SCRIPT, '--config-file', self.config, 'model', 'stats', '-f',
             'json'], env=env, capture_output=True, timeout=120)
        self.assertEqual(0, stats.returncode, stats.stderr)
        self.assertGreater(json.loads(stats.stdout)['model'][
            'import_leftovers'], 0)
        # The next import waits for the lease to run out, then purges
        # the leftovers and switches.
        started = time.monotonic()
        while True:
            result = subprocess.run(args, env=env, capture_output=True,
                                    timeout=300)
            if result.returncode == 0:
                break
            self.assertIn(b'another staged import', result.stderr)
            self.assertLess(time.monotonic() - started, 30)
            time.sleep(1)
        self.assertIn(b'3060 created', result.stdout)
        self.assertIn(b'220 deleted', result.stdout)
        self.assertEqual(0, staging.leftovers(self.graph))
        model = compute_graph.get_compute_model(self.graph)
        self.assertEqual(60, len(model['nodes']))
        self.assertEqual(3000, len(model['instances']))
