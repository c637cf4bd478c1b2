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

"""tachyon-manage model stats / show and -f, run as the real command.

The console script installed beside the test interpreter runs against the
test's Neo4j after Watcher's scenario files are imported; the numbers it
prints are checked against Watcher's own reading of the same files
(``ModelRoot.from_xml``, its ``get_node_used_resources`` and
``get_node_free_resources``) and against the XML itself.
"""

import json
import os
import subprocess
import threading
import time

from lxml import etree
from watcher.decision_engine.model import model_root

from tachyon.graph import common
from tachyon.graph import compute
from tachyon.graph import syncs
from tachyon.model import records
from tachyon.simulation import manager
from tachyon import watcher_xml
from tests.fixtures import emulators
from tests.functional.cmd import base as cmd_base
from tests import watcher_models

COMPUTE = 'scenario_1.xml'
STORAGE = 'storage_scenario_1.xml'
BAREMETAL = 'ironic_scenario_1.xml'


def compute_instances(graph):
    return len(compute.get_all_instances(graph))


def xml_elements(name, tag):
    root = etree.fromstring(watcher_models.load_data(name))
    return list(root.iter(tag))


class TestModelInspect(cmd_base.ManageTestCase):

    def setUp(self):
        super().setUp()
        for name in (COMPUTE, STORAGE, BAREMETAL):
            watcher_xml.import_model(self.graph,
                                     watcher_models.load_data(name))
        self.model = watcher_models.watcher_model(COMPUTE)

    def generation(self):
        return self.graph.read(common.global_generation)

    def test_stats(self):
        mgr = manager.SessionManager(self.conf, self.graph)
        mgr.create_session()
        expired = mgr.create_session()['id']
        mgr.expire_session(expired)
        deleted = sorted(self.model.get_all_instances())[0]
        compute.delete_instances(self.graph, [deleted])
        # Two runs of nova (the newer failed), one of cinder.
        syncs.record_sync_run(self.graph, {
            'collector': 'nova', 'started_at': 1000.0, 'finished_at': 1004.5,
            'created': 3, 'updated': 2, 'deleted': 1, 'status': 'success',
            'details': {'compute_nodes': {'fetched': 5, 'created': 1},
                        'instances': {'fetched': 34, 'created': 2}}})
        syncs.record_sync_run(self.graph, {
            'collector': 'nova', 'started_at': 2000.0, 'finished_at': 2001.0,
            'status': 'failed', 'error': 'Nova API error: boom'})
        syncs.record_sync_run(self.graph, {
            'collector': 'cinder', 'started_at': 1500.0,
            'finished_at': 1502.0, 'updated': 4, 'status': 'success',
            'details': {'volumes': {'fetched': 9, 'updated': 4}}})
        generation = self.generation()

        stats = self.json('model', 'stats')

        nodes = self.model.get_all_compute_nodes()
        instances = self.model.get_all_instances()
        mapped = {i.uuid for n in nodes.values()
                  for i in self.model.get_node_instances(n)}
        self.assertNotEqual(len(mapped), len(instances))
        pools = xml_elements(STORAGE, 'Pool')
        volumes = xml_elements(STORAGE, 'Volume')
        self.assertEqual({
            'generation': generation,
            'compute_nodes': len(nodes),
            'placeholder_compute_nodes': 0,
            'instances': len(instances) - 1,
            'unplaced_instances': len(instances) - len(mapped)
            - (0 if deleted in mapped else 1),
            'storage_nodes': len(xml_elements(STORAGE, 'StorageNode')),
            'pools': len(pools),
            'volumes': len(volumes),
            # Watcher's XML maps a volume to the pool it is inside of.
            'unplaced_volumes': len([v for v in volumes
                                     if v.getparent().tag != 'Pool']),
            'ironic_nodes': len(xml_elements(BAREMETAL, 'IronicNode')),
            'import_leftovers': 0,
        }, stats['model'])
        self.assertEqual({'active': 1, 'expired': 1, 'committed': 0,
                          'rolled_back': 0, 'closed': 0, 'merged': 0},
                         stats['sessions'])
        self.assertEqual(1, stats['tombstones']['instance'])
        self.assertEqual(0, stats['tombstones']['compute_node'])

        by_collector = {s['collector']: s for s in stats['syncs']}
        self.assertEqual(['cinder', 'nova'], sorted(by_collector))
        nova = by_collector['nova']
        self.assertEqual(2, nova['recorded_runs'])
        self.assertEqual('failed', nova['last']['status'])
        self.assertEqual(2000.0, nova['last']['started_at'])
        self.assertEqual('Nova API error: boom', nova['last']['error'])
        success = nova['last_success']
        self.assertEqual(
            (1000.0, 4.5, 3, 2, 1, 39, generation),
            (success['started_at'], success['seconds'], success['created'],
             success['updated'], success['deleted'], success['fetched'],
             success['generation']))
        self.assertEqual({'fetched': 34, 'created': 2},
                         success['details']['instances'])
        self.assertEqual(by_collector['cinder']['last'],
                         by_collector['cinder']['last_success'])

        # The table: the same numbers, and times in UTC.
        table = self.ok('model', 'stats').stdout
        self.assertIn('| compute_nodes             | %d ' % len(nodes),
                      table)
        self.assertIn('| ironic_nodes              | 2 ', table)
        self.assertIn('1970-01-01 00:33:20', table)
        self.assertIn('Nova API error: boom', table)
        # Values: one per line, in the table's order.
        values = self.ok('model', 'stats', '-f', 'value').stdout
        self.assertEqual([str(generation), str(len(nodes))],
                         values.splitlines()[:2])

    def test_show_node_usage_as_watcher_counts_it(self):
        for node in self.model.get_all_compute_nodes().values():
            shown = self.json('model', 'show', 'node', node.uuid)
            self.assertEqual(node.uuid, shown['node']['uuid'])
            self.assertEqual(node.hostname, shown['node']['hostname'])
            used = self.model.get_node_used_resources(node)
            free = self.model.get_node_free_resources(node)
            for key in ('vcpu', 'memory', 'disk'):
                self.assertEqual(used[key], shown['usage'][key]['used'],
                                 (node.uuid, key))
                self.assertEqual(free[key], shown['usage'][key]['free'],
                                 (node.uuid, key))
            self.assertEqual(node.vcpus, shown['usage']['vcpu']['total'])
            self.assertEqual(node.vcpu_ratio,
                             shown['usage']['vcpu']['allocation_ratio'])
            self.assertEqual(
                sorted(i.uuid for i in self.model.get_node_instances(node)),
                [i['uuid'] for i in shown['instances']])
        # By hostname: the same node.
        node = sorted(self.model.get_all_compute_nodes().values(),
                      key=lambda n: n.uuid)[0]
        by_name = self.json('model', 'show', 'node', node.hostname)
        self.assertEqual(node.uuid, by_name['node']['uuid'])
        table = self.ok('model', 'show', 'node', node.hostname).stdout
        self.assertIn('Instances (%d):' % len(by_name['instances']), table)
        self.assertIn('| vcpu     | %d ' % node.vcpus, table)

    def test_show_instance_and_its_node(self):
        mapping = dict.fromkeys(self.model.get_all_instances())
        for node in self.model.get_all_compute_nodes().values():
            for inst in self.model.get_node_instances(node):
                mapping[inst.uuid] = node
        # Two placed instances, two on no node (one command each).
        placed = sorted(u for u, n in mapping.items() if n is not None)
        unplaced = sorted(u for u, n in mapping.items() if n is None)
        self.assertTrue(placed and unplaced)
        for uuid in placed[:2] + unplaced[:2]:
            inst = self.model.get_instance_by_uuid(uuid)
            shown = self.json('model', 'show', 'instance', inst.uuid)
            self.assertEqual((inst.uuid, inst.name, inst.vcpus),
                             (shown['instance']['uuid'],
                              shown['instance']['name'],
                              shown['instance']['vcpus']))
            node = mapping.get(inst.uuid)
            if node is None:
                self.assertIsNone(shown['node'])
            else:
                self.assertEqual(node.uuid, shown['node']['uuid'])
                self.assertEqual(node.hostname, shown['node']['hostname'])
        unplaced = self.ok('model', 'show', 'instance', 'INSTANCE_30').stdout
        self.assertIn('The instance is on no compute node.', unplaced)

    def test_show_volume_and_its_pool(self):
        volumes = xml_elements(STORAGE, 'Volume')
        # A volume of each pool, and one in none.
        shown_pools = set()
        for vol in volumes:
            pool = vol.getparent() if vol.getparent().tag == 'Pool' else None
            name = None if pool is None else pool.get('name')
            if name in shown_pools:
                continue
            shown_pools.add(name)
            shown = self.json('model', 'show', 'volume', vol.get('uuid'))
            self.assertEqual(vol.get('name'), shown['volume']['name'])
            self.assertEqual(int(vol.get('size')), shown['volume']['size'])
            if pool is None:
                self.assertIsNone(shown['pool'])
            else:
                self.assertEqual(pool.get('name'), shown['pool']['name'])
                self.assertEqual(name, shown['volume']['pool_name'])
                self.assertEqual(int(pool.get('total_capacity_gb')),
                                 shown['pool']['total_capacity_gb'])
        self.assertEqual(5, len(shown_pools))
        # By its name.
        by_name = self.json('model', 'show', 'volume', volumes[0].get('name'))
        self.assertEqual(volumes[0].get('uuid'), by_name['volume']['uuid'])

    def test_unknown_and_ambiguous(self):
        for kind, label in (('node', 'compute node'),
                            ('instance', 'instance'), ('volume', 'volume')):
            self.assertOneLineError(
                self.manage('model', 'show', kind, 'no-such-thing'),
                'tachyon-manage model show',
                '%s no-such-thing could not be found' % label)
        compute.upsert_compute_nodes(self.graph, [
            records.ComputeNode(uuid='twin-%d' % i, hostname='twin')
            for i in range(2)])
        self.assertOneLineError(
            self.manage('model', 'show', 'node', 'twin'),
            'tachyon-manage model show',
            "2 compute nodes are named 'twin' (twin-0, twin-1); give a uuid")
        # Each is still shown by its uuid.
        self.assertEqual('twin', self.json('model', 'show', 'node',
                                           'twin-1')['node']['hostname'])
        # A kind the command does not know is a usage error (status 2).
        result = self.manage('model', 'show', 'flavor', 'x')
        self.assertEqual(2, result.returncode)


class TestNodeUsageWithRatios(cmd_base.ManageTestCase):

    def test_reserved_and_allocation_ratios(self):
        # Watcher's scenario, with reserved amounts and overcommit.
        data = watcher_models.load_data('scenario_3_with_2_nodes.xml')
        for old, new in ((b'vcpu_reserved="0"', b'vcpu_reserved="4"'),
                         (b'vcpu_ratio="1"', b'vcpu_ratio="16.0"'),
                         (b'memory_mb_reserved="0"',
                          b'memory_mb_reserved="12"'),
                         (b'memory_ratio="1"', b'memory_ratio="1.5"'),
                         (b'disk_gb_reserved="0"', b'disk_gb_reserved="50"'),
                         (b'disk_ratio="1"', b'disk_ratio="0.5"')):
            self.assertIn(old, data)
            data = data.replace(old, new)
        model = model_root.ModelRoot.from_xml(data)
        result = self.manage('model', 'import', '-', '--quiet',
                             input_=data.decode())
        self.assertEqual(0, result.returncode, result.stderr)
        capacity = {'vcpu': 'vcpu_capacity', 'memory': 'memory_mb_capacity',
                    'disk': 'disk_gb_capacity'}
        for node in model.get_all_compute_nodes().values():
            usage = self.json('model', 'show', 'node', node.uuid)['usage']
            used = model.get_node_used_resources(node)
            free = model.get_node_free_resources(node)
            for key, attr in capacity.items():
                self.assertEqual(
                    (getattr(node, attr), used[key], free[key]),
                    (usage[key]['capacity'], usage[key]['used'],
                     usage[key]['free']), (node.uuid, key))
            self.assertEqual((node.vcpus, 4, 16.0),
                             (usage['vcpu']['total'],
                              usage['vcpu']['reserved'],
                              usage['vcpu']['allocation_ratio']))
            self.assertEqual((node.vcpus - 4) * 16.0,
                             usage['vcpu']['capacity'])


class TestImportProgress(cmd_base.ManageTestCase):

    def test_progress_on_stderr_result_on_stdout(self):
        path = os.path.join(watcher_models.DATA_DIR,
                            'scenario_3_with_2_nodes.xml')
        model = watcher_models.watcher_model('scenario_3_with_2_nodes.xml')
        nodes = len(model.get_all_compute_nodes())
        instances = len(model.get_all_instances())
        result = self.ok('model', 'import', path, '--progress')
        self.assertIn('Imported the compute model', result.stdout)
        lines = result.stderr.splitlines()
        self.assertEqual(4, len(lines), result.stderr)
        for line in lines:
            self.assertRegex(line, r'^tachyon-manage model import: '
                                   r'\[ *\d+\.\d\ds\] ')
        self.assertIn('read %d bytes' % os.path.getsize(path), lines[0])
        self.assertIn('parsed and validated the compute model: %d nodes, '
                      '%d instances' % (nodes, instances), lines[1])
        self.assertIn('schema checked', lines[2])
        self.assertIn('wrote the compute model in one transaction',
                      lines[3])
        self.assertIn('%d created' % (nodes + instances), lines[3])
        # --quiet (and no terminal): nothing on stderr.
        result = self.ok('model', 'import', path, '--quiet')
        self.assertEqual('', result.stderr)
        self.assertIn('%d unchanged' % (nodes + instances), result.stdout)
        result = self.ok('model', 'import', path)
        self.assertEqual('', result.stderr)


class TestListingFormats(cmd_base.ManageTestCase):

    def test_session_list_and_show(self):
        mgr, sid, inst, node, other = cmd_base.session_with_a_move(
            self, COMPUTE, 'audit-7')
        mgr.create_session()

        listed = self.json('session', 'list')
        self.assertEqual(2, len(listed))
        mine = [s for s in listed if s['id'] == sid]
        self.assertEqual(1, len(mine))
        self.assertEqual(('active', 1, 'audit-7'),
                         (mine[0]['status'], mine[0]['delta_count'],
                          mine[0]['audit_uuid']))
        self.assertIsInstance(mine[0]['created_at'], float)
        self.assertEqual([sid], [s['id'] for s in self.json(
            'session', 'list', '--status', 'active') if s['id'] == sid])

        shown = self.json('session', 'show', sid)
        self.assertEqual(sid, shown['session']['id'])
        self.assertEqual([('MOVE', inst.uuid, node.uuid, other)],
                         [(d['type'], d['consumer_uuid'], d['source_uuid'],
                           d['destination_uuid'])
                          for d in shown['deltas']])
        values = self.ok('session', 'list', '-f', 'value').stdout
        self.assertEqual(2, len(values.splitlines()))
        self.assertIn(sid, values)

    def test_sync_history(self):
        self.assertEqual([], self.json('sync', 'history'))
        self.assertIn('No sync recorded.',
                      self.ok('sync', 'history').stdout)
        for index in range(3):
            syncs.record_sync_run(self.graph, {
                'collector': 'ironic', 'started_at': 100.0 + index,
                'finished_at': 102.0 + index, 'created': index,
                'status': 'success'})
        runs = self.json('sync', 'history', '--collector', 'ironic',
                         '--limit', '2')
        self.assertEqual([(102.0, 2), (101.0, 1)],
                         [(r['started_at'], r['created']) for r in runs])
        self.assertEqual(2.0, runs[0]['seconds'])


class TestSyncRun(cmd_base.ManageTestCase):
    """sync run against the emulated APIs; model stats shows the drift."""

    def setUp(self):
        super().setUp()
        self.os = self.useFixture(emulators.OpenStackFixture(self.conf))
        self.cloud = self.os.cloud
        auth = self.os.openstack.auth_options()
        lines = []
        for group in emulators.GROUPS:
            lines.append('[%s]' % group)
            lines.extend('%s = %s' % item for item in sorted(auth.items()))
        with open(self.config, 'a') as f:
            f.write('\n'.join(lines) + '\n')

    def test_progress_json_and_drift(self):
        self.cloud.add_compute_node('compute-0')
        self.cloud.add_compute_node('compute-1')
        servers = [self.cloud.add_server(host='compute-%d' % (i % 2))
                   for i in range(3)]
        result = self.ok('sync', 'run', '--collector', 'nova', '--progress',
                         '-f', 'json')
        runs = json.loads(result.stdout)
        self.assertEqual(1, len(runs))
        self.assertEqual(('nova', 'success', 5, 0, 0),
                         (runs[0]['collector'], runs[0]['status'],
                          runs[0]['created'], runs[0]['updated'],
                          runs[0]['deleted']))
        progress = result.stderr.splitlines()
        for line in progress:
            self.assertRegex(line, r'^tachyon-manage sync run: '
                                   r'\[ *\d+\.\d\ds\] ')
        text = '\n'.join(progress)
        self.assertIn('collectors: nova', progress[0])
        self.assertIn('nova: full sync started', progress[1])
        kinds = runs[0]['details']
        for kind, counts in kinds.items():
            self.assertIn('nova: %s: fetched %d, created %d' % (
                kind, counts['fetched'], counts['created']), text)
        self.assertEqual(5, sum(c['fetched'] for c in kinds.values()))
        self.assertIn('nova: success in ', progress[-1])
        # As it goes: what was fetched, then each kind as it is written
        # (nodes before the instances placed on them) and pruned, then
        # each kind's totals.
        steps = [line.split('] ', 1)[1] for line in progress]
        self.assertEqual([
            'nova: fetched aggregates 0, compute_nodes 2, instances 3',
            'nova: compute_nodes: written 2/2 (created 2, updated 0, '
            'stale 0)',
            'nova: instances: written 3/3 (created 3, updated 0, stale 0)',
            'nova: instances: pruned (deleted 0)',
            'nova: compute_nodes: pruned (deleted 0)'], steps[2:7])
        self.assertEqual(8 + len(kinds), len(progress))

        # The cloud drifts: one server gone, one new, no notification.
        self.cloud.delete_server(servers[0])
        self.cloud.add_server(host='compute-1')
        result = self.ok('sync', 'run', '--collector', 'nova', '--quiet')
        self.assertEqual('', result.stderr)
        self.assertIn('nova sync success', result.stdout)
        self.assertIn('1 created', result.stdout)
        self.assertIn('1 deleted', result.stdout)

        stats = self.json('model', 'stats')
        self.assertEqual((2, 3), (stats['model']['compute_nodes'],
                                  stats['model']['instances']))
        self.assertEqual(1, stats['tombstones']['instance'])
        [nova] = stats['syncs']
        self.assertEqual(2, nova['recorded_runs'])
        last = nova['last']
        self.assertEqual(('success', 1, 1, 5), (
            last['status'], last['created'], last['deleted'],
            last['fetched']))
        self.assertEqual(stats['model']['generation'], last['generation'])
        self.assertEqual(last, nova['last_success'])
        self.assertGreater(last['started_at'], runs[0]['started_at'])

    def test_progress_is_live(self):
        """Each kind's line is out while the next kind still waits.

        The test holds, in a transaction of its own, the uniqueness lock
        of one server's uuid: the sync writes the compute nodes, then
        blocks on that instance until the test rolls back. The nodes'
        line must be on standard error meanwhile, not only at the end.
        """
        self.cloud.add_compute_node('compute-0')
        held = self.cloud.add_server(host='compute-0')
        self.cloud.add_server(host='compute-0')
        locked, release = threading.Event(), threading.Event()

        class Rollback(Exception):
            pass

        def hold(tx):
            tx.run('CREATE (:Consumer {uuid: $uuid})', uuid=held).consume()
            locked.set()
            release.wait(40)
            raise Rollback()

        def holder():
            try:
                self.graph.write(hold)
            except Rollback:
                pass

        thread = threading.Thread(target=holder, daemon=True)
        thread.start()
        self.addCleanup(thread.join, 60)
        self.addCleanup(release.set)
        self.assertTrue(locked.wait(30))
        proc = subprocess.Popen(
            [cmd_base.SCRIPT, '--config-file', self.config, 'sync', 'run',
             '--collector', 'nova', '--progress'],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=dict(PATH=os.environ.get('PATH', ''),
                     PYTHONWARNINGS='ignore'))
        self.addCleanup(proc.wait, 60)
        seen = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            seen.append(line.rstrip('\n'))
            if 'compute_nodes: written' in line:
                break
        self.assertIn('nova: compute_nodes: written 1/1 (created 1, '
                      'updated 0, stale 0)', seen[-1], seen)
        # Still waiting on the held instance: running, nothing more said.
        time.sleep(1)
        self.assertIsNone(proc.poll(), seen)
        self.assertEqual(0, compute_instances(self.graph))
        release.set()
        out, err = proc.communicate(timeout=60)
        self.assertEqual(0, proc.returncode, err)
        rest = err.splitlines()
        self.assertIn('nova: instances: written 2/2 (created 2, '
                      'updated 0, stale 0)', rest[0])
        self.assertIn('nova sync success', out)
        self.assertEqual(2, compute_instances(self.graph))
