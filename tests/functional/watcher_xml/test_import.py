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

"""Watcher XML models into the real Neo4j and back, and the differential
check: every compute read of Tachyon answers as Watcher's in-memory
ModelRoot does, for every scenario Watcher ships and random clusters.
"""

import os
import re
import subprocess
import sys

import hypothesis
from hypothesis import strategies as st
from watcher.common import exception as watcher_exc
from watcher.decision_engine.model import model_root

from tachyon import exception
from tachyon.graph import common
from tachyon.graph import compute
from tachyon.graph import schema
from tachyon.model import records
from tachyon import watcher_xml
from tests.fixtures import services
from tests.functional import base
from tests.functional.graph import test_driver
from tests import watcher_models


def _snapshot(graph):
    """Everything in the graph, to tell that nothing was written."""
    rows = graph.run_autocommit(
        'MATCH (n) WHERE NOT n:TachyonSchema '
        'RETURN labels(n) AS l, properties(n) AS p')
    rels = graph.run_autocommit('MATCH ()-[r]->() RETURN count(r) AS n')
    return (sorted(repr(sorted(r['p'].items())) + repr(r['l'])
                   for r in rows), rels[0]['n'])


@watcher_models.for_each_scenario(watcher_models.COMPUTE_SCENARIOS)
class TestComputeScenarios(base.FunctionalTestCase):

    def check_round_trip(self, name):
        data = watcher_models.load_data(name)
        kind, counts = watcher_xml.import_model(self.graph, data)
        self.assertEqual('compute', kind)
        model = model_root.ModelRoot.from_xml(data)
        self.assertEqual(len(model.get_all_compute_nodes())
                         + len(model.get_all_instances()), counts.created)
        exported = watcher_xml.export_model(self.graph, 'compute')
        self.assertTrue(model_root.ModelRoot.is_isomorphic(
            model, model_root.ModelRoot.from_xml(exported)))

    def check_same_answers_as_watcher(self, name):
        watcher_xml.import_model(self.graph, watcher_models.load_data(name))
        watcher_models.compare_with_watcher(
            self, self.graph, watcher_models.watcher_model(name))

    def check_watcher_dump_imports(self, name):
        # What Watcher's to_xml() writes imports to the same model.
        model = watcher_models.watcher_model(name)
        watcher_xml.import_model(self.graph, model.to_xml())
        watcher_models.compare_with_watcher(self, self.graph, model)

    def check_reimport_is_a_noop(self, name):
        data = watcher_models.load_data(name)
        watcher_xml.import_model(self.graph, data)
        generation = self.graph.read(common.global_generation)
        before = _snapshot(self.graph)
        _kind, counts = watcher_xml.import_model(self.graph, data)
        self.assertEqual(0, counts.changed)
        self.assertEqual(generation, self.graph.read(
            common.global_generation))
        self.assertEqual(before, _snapshot(self.graph))


class TestRandomClusters(base.FunctionalTestCase):

    def _wipe(self):
        self.graph.run_autocommit(services.WIPE)
        self.graph.write(schema._set_version, schema.SCHEMA_VERSION)

    @hypothesis.settings(max_examples=25, deadline=None,
                         suppress_health_check=[
                             hypothesis.HealthCheck.too_slow,
                             hypothesis.HealthCheck.data_too_large])
    @hypothesis.given(watcher_models.clusters())
    def test_same_answers_and_round_trip(self, model):
        self._wipe()
        watcher_xml.import_model(self.graph, model.to_xml())
        watcher_models.compare_with_watcher(self, self.graph, model)
        exported = watcher_xml.export_model(self.graph)
        self.assertTrue(model_root.ModelRoot.is_isomorphic(
            model, model_root.ModelRoot.from_xml(exported)))

    @hypothesis.settings(max_examples=15, deadline=None,
                         suppress_health_check=[
                             hypothesis.HealthCheck.too_slow,
                             hypothesis.HealthCheck.data_too_large])
    @hypothesis.given(watcher_models.clusters(min_nodes=2), st.data())
    def test_operations_as_watcher(self, model, data):
        # Migrations, unmapping, mapping and deletions applied to both
        # models keep them answering alike.
        self._wipe()
        watcher_xml.import_model(self.graph, model.to_xml())
        nodes = sorted(model.get_all_compute_nodes())
        for _step in range(data.draw(st.integers(1, 6), label='steps')):
            instances = sorted(model.get_all_instances())
            if not instances:
                break
            uuid = data.draw(st.sampled_from(instances), label='instance')
            inst = model.get_instance_by_uuid(uuid)
            op = data.draw(st.sampled_from(['migrate', 'unmap', 'map',
                                            'delete']), label='op')
            try:
                source = model.get_node_by_instance_uuid(uuid)
            except watcher_exc.InstanceNotMapped:
                source = None
            dest = model.get_node_by_uuid(data.draw(
                st.sampled_from(nodes), label='dest'))
            if op == 'migrate' and source is not None:
                model.migrate_instance(inst, source, dest)
                compute.migrate_instance(self.graph, uuid, source.uuid,
                                         dest.uuid, check_capacity=False)
            elif op == 'unmap' and source is not None:
                model.unmap_instance(inst, source)
                compute.unmap_instance(self.graph, uuid, source.uuid)
            elif op == 'map' and source is None:
                model.map_instance(inst, dest)
                compute.map_instance(self.graph, uuid, dest.uuid)
            elif op == 'delete':
                model.delete_instance(inst)
                compute.delete_instances(self.graph, [uuid])
        watcher_models.compare_with_watcher(self, self.graph, model)

    @hypothesis.settings(max_examples=10, deadline=None,
                         suppress_health_check=[
                             hypothesis.HealthCheck.too_slow,
                             hypothesis.HealthCheck.data_too_large])
    @hypothesis.given(watcher_models.clusters(), watcher_models.clusters())
    def test_replacing_import(self, first, second):
        # One model over another: with replace, only the second remains.
        self._wipe()
        watcher_xml.import_model(self.graph, first.to_xml())
        watcher_xml.import_model(self.graph, second.to_xml(), replace=True)
        watcher_models.compare_with_watcher(self, self.graph, second)
        for label in ('Project', 'Flavor', 'ExtraSpec', 'AvailabilityZone'):
            orphans = self.graph.run_autocommit(
                'MATCH (n:%s) WHERE NOT EXISTS { (n)--() } '
                'RETURN count(n) AS n' % label)[0]['n']
            self.assertEqual(0, orphans, label)
        self.assertEqual(
            3 * len(second.get_all_compute_nodes()),
            self.graph.run_autocommit(
                'MATCH (i:Inventory) RETURN count(i) AS n')[0]['n'])


class TestBadInput(base.FunctionalTestCase):

    def setUp(self):
        super().setUp()
        watcher_xml.import_model(self.graph, watcher_models.load_data(
            'scenario_3_with_2_nodes.xml'))
        self.before = _snapshot(self.graph)

    def assertUnchanged(self):
        self.assertEqual(self.before, _snapshot(self.graph))

    def test_malformed(self):
        data = watcher_models.load_data('scenario_1.xml')
        exc = self.assertRaises(exception.InvalidModel,
                                watcher_xml.import_model, self.graph,
                                data[:len(data) // 2])
        self.assertIn('malformed XML', str(exc))
        self.assertUnchanged()

    def test_last_element_bad_writes_nothing(self):
        data = watcher_models.load_data('scenario_1.xml').decode()
        # Everything is fine but the very last instance.
        lines = data.splitlines()
        index = max(i for i, line in enumerate(lines) if '<Instance' in line)
        last = lines[index].split(' uuid="')[1].split('"')[0]
        lines[index] = re.sub(r' vcpus="\d+"', ' vcpus="ten"', lines[index])
        exc = self.assertRaises(exception.InvalidModel,
                                watcher_xml.import_model, self.graph,
                                '\n'.join(lines))
        self.assertIn(last, str(exc))
        self.assertIn('vcpus', str(exc))
        self.assertUnchanged()

    def test_dangling_reference(self):
        data = watcher_models.load_data('scenario_1.xml').decode()
        data = data.replace('uuid="Node_2" ', '', 1)
        exc = self.assertRaises(exception.InvalidModel,
                                watcher_xml.import_model, self.graph, data)
        self.assertIn('ComputeNode', str(exc))
        self.assertIn("hostname='hostname_2'", str(exc))
        self.assertUnchanged()

    def test_duplicate(self):
        data = watcher_models.load_data('scenario_1.xml').decode()
        data = data.replace('uuid="Node_2"', 'uuid="Node_1"', 1)
        self.assertRaises(exception.InvalidModel, watcher_xml.import_model,
                          self.graph, data)
        self.assertUnchanged()

    def test_wrong_kind(self):
        self.assertRaises(exception.InvalidModel, watcher_xml.import_model,
                          self.graph, watcher_models.load_data(
                              'scenario_1.xml'), 'storage')
        self.assertUnchanged()


class TestManageCommand(base.FunctionalTestCase):

    def manage(self, *args, prelude=''):
        env = dict(os.environ,
                   OS_NEO4J__URI=self.neo4j.uri,
                   OS_NEO4J__USERNAME=self.neo4j.user,
                   OS_NEO4J__PASSWORD=self.neo4j.password)
        return subprocess.run(
            [sys.executable, '-c',
             prelude + 'import sys; from tachyon.cmd import manage; '
             'sys.exit(manage.main(["tachyon-manage"] + sys.argv[1:]))']
            + list(args),
            env=env, capture_output=True, text=True, timeout=120)

    def test_import_export(self):
        path = os.path.join(watcher_models.DATA_DIR, 'scenario_1.xml')
        result = self.manage('model', 'import', path)
        self.assertEqual(0, result.returncode, result.stderr)
        self.assertIn('Imported the compute model', result.stdout)
        self.assertIn('40 created', result.stdout)
        out = self.useFixture(
            __import__('fixtures').TempDir()).join('out.xml')
        result = self.manage('model', 'export', '--model', 'compute',
                             '--output', out)
        self.assertEqual(0, result.returncode, result.stderr)
        with open(out, 'rb') as f:
            self.assertTrue(watcher_models.isomorphic(
                watcher_models.load_data('scenario_1.xml'), f.read()))
        result = self.manage('model', 'export')
        self.assertEqual(0, result.returncode, result.stderr)
        self.assertTrue(watcher_models.isomorphic(
            watcher_models.load_data('scenario_1.xml'), result.stdout))

    def test_a_merge_larger_than_a_chunk_is_staged(self):
        # The real command, as an operator sets the chunk: Watcher's
        # scenario of 40 records merged in stages of 10, onto a model
        # that already has a node the file does not name.
        extra = '99999999-9999-4999-8999-999999999999'
        compute.upsert_compute_nodes(self.graph, [records.ComputeNode(
            uuid=extra, hostname='kept-host', inventories={})])
        self.useFixture(__import__('fixtures').EnvironmentVariable(
            'OS_MODEL_IMPORT__STAGE_CHUNK_SIZE', '10'))
        path = os.path.join(watcher_models.DATA_DIR, 'scenario_1.xml')
        result = self.manage('model', 'import', path, '--progress')
        self.assertEqual(0, result.returncode, result.stderr)
        self.assertIn('staged, then switched to', result.stderr)
        # The staging's own phases, as it reports them.
        self.assertRegex(result.stderr, r'staged \d+ nodes and \d+ '
                                        r'instances \(0 left as they are\)')
        self.assertIn('switched to the staged model', result.stderr)
        self.assertIn('40 created', result.stdout)
        self.assertIn(extra, compute.get_all_compute_nodes(self.graph))
        compute.delete_compute_nodes(self.graph, [extra])
        result = self.manage('model', 'export')
        self.assertEqual(0, result.returncode, result.stderr)
        self.assertTrue(watcher_models.isomorphic(
            watcher_models.load_data('scenario_1.xml'), result.stdout))

    def test_an_import_refused_for_memory_says_what_to_do(self):
        # The one-transaction import, made to need more than Neo4j's pool
        # of transaction memory: the real command, the real refusal.
        prelude = (
            'from tachyon.graph.compute import bulk\n'
            'from tests.functional.graph import test_driver\n'
            'real = bulk._import\n'
            'def hungry(tx, *args):\n'
            '    real(tx, *args)\n'
            '    test_driver.exhaust_memory(tx, %d)\n'
            'bulk._import = hungry\n'
            % test_driver.pool_limit(self.graph))
        path = os.path.join(watcher_models.DATA_DIR, 'scenario_1.xml')
        result = self.manage('model', 'import', path, prelude=prelude)
        self.assertEqual(1, result.returncode, result.stderr)
        self.assertNotIn('Traceback', result.stderr)
        self.assertIn('error while writing the compute model', result.stderr)
        self.assertIn('refused the change for memory', result.stderr)
        self.assertIn('set [model_import]/stage_chunk_size below its 40 '
                      'records', result.stderr)
        self.assertIn('server.memory.heap.max_size', result.stderr)
        self.assertEqual({}, compute.get_all_compute_nodes(self.graph))

    def test_bad_file(self):
        bad = self.useFixture(__import__('fixtures').TempDir()).join('b.xml')
        with open(bad, 'w') as f:
            f.write('<ModelRoot><ComputeNode hostname="h"/></ModelRoot>')
        result = self.manage('model', 'import', bad)
        self.assertEqual(1, result.returncode)
        self.assertIn('uuid: missing', result.stderr)
        self.assertNotIn('Traceback', result.stderr)
        self.assertEqual({}, compute.get_all_compute_nodes(self.graph))
        result = self.manage('model', 'import', bad + '.missing')
        self.assertEqual(1, result.returncode)
        self.assertIn('No such file', result.stderr)
