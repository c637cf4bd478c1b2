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

"""Full syncs end to end: emulated OpenStack APIs over HTTP (through
keystoneauth1) into the real Neo4j."""

import io
import os
import subprocess
import sys
import textwrap
import time

import fixtures

from tachyon.cmd import manage_sync
from tachyon.collectors import cinder
from tachyon.collectors import ironic
from tachyon.collectors import manager
from tachyon.collectors import nova
from tachyon import exception
from tachyon.graph import baremetal
from tachyon.graph import compute
from tachyon.graph import storage
from tachyon.graph import syncs
from tachyon.model import records
from tests.fixtures import emulators
from tests.functional import base


class SyncTestCase(base.FunctionalTestCase):

    def setUp(self):
        super().setUp()
        self.logger = self.useFixture(fixtures.FakeLogger())
        self.os = self.useFixture(emulators.OpenStackFixture(self.conf))
        self.cloud = self.os.cloud
        self.os.set_retries(2, 0.01)
        self.flags(group='collectors', page_size=4)

    def nova_sync(self):
        return nova.NovaCollector(self.conf).sync(self.graph)

    def instances(self):
        return compute.get_all_instances(self.graph)

    def nodes(self):
        return compute.get_all_compute_nodes(self.graph)


class TestNovaSync(SyncTestCase):

    def setUp(self):
        super().setUp()
        self.node_uuids = [
            self.cloud.add_compute_node('compute-%d' % i, vcpus=32,
                                        memory_mb=65536, disk_gb=1000,
                                        zone='az-%d' % (i % 2))
            for i in range(3)]
        self.cloud.add_aggregate('ssd', ['compute-0', 'compute-2'])
        self.servers = [
            self.cloud.add_server(host='compute-%d' % (i % 3),
                                  flavor='e1.swap' if i == 0 else 'm1.small',
                                  boot_from_volume=(i == 1))
            for i in range(10)]

    def test_full_sync(self):
        report = self.nova_sync()
        self.assertEqual('success', report.status)
        self.assertEqual(13, report.created)
        nodes = self.nodes()
        self.assertEqual(set(self.node_uuids), set(nodes))
        node = nodes[self.node_uuids[0]]
        self.assertEqual('compute-0', node.hostname)
        self.assertEqual('az-0', node.availability_zone)
        self.assertEqual(32, node.inventories['VCPU'].total)
        self.assertEqual(16.0, node.inventories['VCPU'].allocation_ratio)
        self.assertEqual(512, node.inventories['MEMORY_MB'].reserved)
        self.assertEqual(['ssd'], [a['name'] for a in node.aggregates])

        instances = self.instances()
        self.assertEqual(set(self.servers), set(instances))
        # e1.swap: root 20 + ephemeral 10 + 1536 MB swap -> 2 GB = 32.
        self.assertEqual(32, instances[self.servers[0]].disk)
        # Boot from volume: no root disk.
        self.assertEqual(0, instances[self.servers[1]].disk)
        self.assertEqual(20, instances[self.servers[2]].disk)

        model = compute.get_compute_model(self.graph)
        for index, server in enumerate(self.servers):
            self.assertEqual(self.node_uuids[index % 3],
                             model['mapping'][server])
        used = compute.get_node_used_resources(self.graph,
                                               self.node_uuids[1])
        # compute-1: servers 1, 4, 7 (m1.small; 1 boots from volume).
        self.assertEqual({'vcpu': 3, 'memory': 3 * 2048, 'disk': 40},
                         used)

        [run] = syncs.last_sync_runs(self.graph)
        self.assertEqual('nova', run['collector'])
        self.assertEqual('success', run['status'])
        self.assertEqual(13, run['created'])
        self.assertEqual(0, run['skipped'])
        self.assertAlmostEqual(report.started_at, run['started_at'])
        self.assertGreater(run['finished_at'], run['started_at'])
        self.assertEqual(10, run['details']['instances']['fetched'])

    def test_second_sync_prunes_what_is_gone(self):
        self.nova_sync()
        gone = self.servers[4]
        self.cloud.delete_server(gone)
        moved = self.servers[5]
        self.cloud.update_server(moved, host='compute-0')
        new = self.cloud.add_server(host='compute-1')
        report = self.nova_sync()
        self.assertEqual('success', report.status)
        self.assertEqual(1, report.deleted)
        self.assertEqual(1, report.created)
        instances = self.instances()
        self.assertNotIn(gone, instances)
        self.assertIn(new, instances)
        self.assertRaises(exception.NotFound, compute.get_instance_by_uuid,
                          self.graph, gone)
        model = compute.get_compute_model(self.graph)
        self.assertEqual(self.node_uuids[0], model['mapping'][moved])

    def test_compute_node_gone(self):
        self.nova_sync()
        for server in self.servers[2::3]:
            self.cloud.delete_server(server)
        self.cloud.delete_compute_node(self.node_uuids[2])
        report = self.nova_sync()
        self.assertNotIn(self.node_uuids[2], self.nodes())
        self.assertEqual(3 + 1, report.deleted)

    def test_sync_races_newer_notifications(self):
        self.nova_sync()
        updated, deleted = self.servers[3], self.servers[6]
        created = '8d3b2a60-5d8f-4d6c-9a57-2f0f2c6f1e01'
        # What Nova says during the sync: still active, still there.
        notified = {}

        def notifications(request):
            if notified:
                return
            now = time.time()
            inst = self.instances()[updated]
            inst.state = 'stopped'
            inst.updated_at = now
            notified['upsert'] = compute.upsert_instances(self.graph, [inst])
            compute.upsert_instances(self.graph, [records.Instance(
                uuid=created, name='born-during-sync', vcpus=1,
                memory=512, disk=1, node_uuid=self.node_uuids[0],
                updated_at=now)])
            compute.delete_instances(self.graph, [deleted], deleted_at=now)
        # The notifications land while the collector reads the servers.
        self.os.nova.on_request(r'^/servers/detail$', notifications)

        report = self.nova_sync()
        self.assertTrue(notified)
        self.assertEqual('success', report.status)
        instances = self.instances()
        # The newer notification's state is kept, not rolled back.
        self.assertEqual('stopped', instances[updated].state)
        # Created by a notification during the sync: not pruned although
        # the API did not list it.
        self.assertIn(created, instances)
        # Deleted by a notification during the sync: not resurrected.
        self.assertNotIn(deleted, instances)
        self.assertGreaterEqual(report.stale, 1)

    def test_malformed_entities_skipped_and_counted(self):
        self.nova_sync()
        broken = self.servers[8]
        self.os.nova.mangle('server', lambda b: dict(b, flavor=None)
                            if b['id'] == broken else b)
        logger = self.logger
        report = self.nova_sync()
        self.assertEqual('success', report.status)
        self.assertEqual(1, report.skipped)
        self.assertIn(broken, logger.output)
        # Skipped, but not deleted: the graph keeps what it knew.
        self.assertIn(broken, self.instances())
        self.assertEqual(1, syncs.last_sync_runs(self.graph)[0]['skipped'])

    def test_503_retried(self):
        self.os.nova.inject(r'^/servers/detail$', status=503, times=1,
                            match=lambda r: 'marker' in r.query)
        self.os.placement.inject(r'/inventories$', status=503, times=2)
        report = self.nova_sync()
        self.assertEqual('success', report.status)
        self.assertEqual(set(self.servers), set(self.instances()))

    def test_wrong_credentials(self):
        self.nova_sync()
        self.os.set_password('wrong')
        exc = self.assertRaises(exception.UpstreamAuthFailed,
                                self.nova_sync)
        self.assertIn('Nova API', str(exc))
        runs = syncs.last_sync_runs(self.graph, 'nova')
        self.assertEqual(['failed', 'success'],
                         [r['status'] for r in runs])
        self.assertEqual(str(exc), runs[0]['error'])
        # Nothing pruned.
        self.assertEqual(10, len(self.instances()))

    def test_manager_and_manage_command(self):
        self.flags(group='collectors', enabled_collectors=['nova'])
        mgr = manager.CollectorManager(self.conf, self.graph)
        self.assertEqual('success', mgr.run('nova').status)
        out = self.useFixture(fixtures.MonkeyPatch('sys.stdout',
                                                   io.StringIO())).new_value
        manage_sync.SyncCommands().run(collector='nova')
        manage_sync.SyncCommands().history(limit=5)
        text = out.getvalue()
        self.assertIn('nova sync success', text)
        self.assertEqual(2, text.count('| nova '))


class TestCinderSync(SyncTestCase):

    def test_full_sync_and_prune(self):
        self.cloud.add_compute_node('compute-0')
        server = self.cloud.add_server(host='compute-0')
        self.cloud.add_storage_backend('stor-1', 'ceph', pools=('a', 'b'),
                                       volume_types=['fast'])
        self.cloud.add_storage_backend('stor-2', 'lvm')
        vols = [self.cloud.add_volume('stor-1@ceph#a', size=5 + i,
                                      attached_to=[server] if i == 0
                                      else None)
                for i in range(9)]
        self.nova_sync()
        report = cinder.CinderCollector(self.conf).sync(self.graph)
        self.assertEqual('success', report.status)
        nodes = storage.get_all_storage_nodes(self.graph)
        self.assertEqual({'stor-1@ceph', 'stor-2@lvm'}, set(nodes))
        self.assertEqual(['fast'], nodes['stor-1@ceph'].volume_type)
        pools = storage.get_node_pools(self.graph, 'stor-1@ceph')
        self.assertEqual({'stor-1@ceph#a', 'stor-1@ceph#b'},
                         {p.name for p in pools})
        volumes = storage.get_all_volumes(self.graph)
        self.assertEqual(set(vols), set(volumes))
        self.assertEqual([server], [a['server_id']
                                    for a in volumes[vols[0]].attachments])
        self.assertEqual('stor-1@ceph#a', storage.get_pool_by_volume(
            self.graph, vols[3]).name)

        self.cloud.delete_volume(vols[5])
        report = cinder.CinderCollector(self.conf).sync(self.graph)
        self.assertEqual(1, report.deleted)
        self.assertNotIn(vols[5], storage.get_all_volumes(self.graph))


class TestIronicSync(SyncTestCase):

    def test_full_sync_and_prune(self):
        nodes = [self.cloud.add_ironic_node(
            extra={'compute_node_id': 'cn-%d' % i}) for i in range(6)]
        report = ironic.IronicCollector(self.conf).sync(self.graph)
        self.assertEqual(6, report.created)
        stored = baremetal.get_all_ironic_nodes(self.graph)
        self.assertEqual(set(nodes), set(stored))
        self.assertEqual({'compute_node_id': 'cn-0'},
                         stored[nodes[0]].extra)
        self.cloud.delete_ironic_node(nodes[2])
        self.cloud.ironic_nodes[nodes[3]]['maintenance'] = True
        report = ironic.IronicCollector(self.conf).sync(self.graph)
        self.assertEqual(1, report.deleted)
        stored = baremetal.get_all_ironic_nodes(self.graph)
        self.assertNotIn(nodes[2], stored)
        self.assertTrue(stored[nodes[3]].maintenance)


class TestManageCommand(SyncTestCase):
    """``tachyon-manage sync run`` as an operator runs it."""

    def _config(self, password=None):
        auth = self.os.openstack.auth_options(password)
        lines = ['[neo4j]', 'uri = %s' % self.neo4j.uri,
                 'username = %s' % self.neo4j.user,
                 'password = %s' % self.neo4j.password]
        for group in emulators.GROUPS:
            lines.append('[%s]' % group)
            lines.extend('%s = %s' % item for item in sorted(auth.items()))
            lines.extend(['connect_retries = 1', 'status_code_retries = 1',
                          'connect_retry_delay = 0.01',
                          'status_code_retry_delay = 0.01'])
        path = os.path.join(self.useFixture(fixtures.TempDir()).path,
                            'tachyon.conf')
        with open(path, 'w') as conf_file:
            conf_file.write('\n'.join(lines) + '\n')
        return path

    def _run(self, config, *args):
        env = dict(os.environ)
        env['PYTHONWARNINGS'] = 'ignore'
        return subprocess.run(
            [sys.executable, '-c', 'import sys; from tachyon.cmd import '
             'manage; sys.exit(manage.main())', '--config-file', config,
             'sync', 'run'] + list(args),
            capture_output=True, text=True, env=env, timeout=120)

    def test_sync_run(self):
        self.cloud.add_compute_node('compute-0')
        self.cloud.add_server(host='compute-0')
        result = self._run(self._config(), '--collector', 'nova')
        self.assertEqual(0, result.returncode, result.stderr)
        self.assertIn('nova sync success', result.stdout)
        self.assertIn('2 created', result.stdout)
        self.assertEqual(1, len(self.instances()))

    def test_wrong_credentials_one_clear_line(self):
        result = self._run(self._config(password='wrong'), '--collector',
                           'cinder')
        self.assertEqual(1, result.returncode)
        self.assertEqual(textwrap.dedent('''\
            tachyon-manage sync run: Authentication for the Cinder API \
failed: Keystone refused the credentials (The request you have made \
requires authentication. (HTTP 401)); check the [cinder] credentials.
            '''), result.stderr.splitlines(True)[-1])
        self.assertNotIn('Traceback', result.stderr)
