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

"""How a sync drives the graph API: the APIs are the local emulators (real
HTTP), the graph functions are recorded fakes. The same scenarios against
the real Neo4j are in tests/functional/collectors."""

import dataclasses
import time

import fixtures

from tachyon.collectors import cinder
from tachyon.collectors import clients
from tachyon.collectors import ironic
from tachyon.collectors import manager
from tachyon.collectors import nova
from tachyon import exception
from tests import base
from tests.fixtures import emulators


@dataclasses.dataclass
class Counts:
    created: int = 0
    updated: int = 0
    deleted: int = 0
    skipped: int = 0


class FakeGraphAPI(fixtures.Fixture):
    """Replaces the graph functions a collector calls; records the calls."""

    FUNCS = {
        'tachyon.graph.compute': (
            ('compute_nodes', 'upsert_compute_nodes', 'prune_compute_nodes'),
            ('instances', 'upsert_instances', 'prune_instances')),
        'tachyon.graph.storage': (
            ('storage_nodes', 'upsert_storage_nodes', 'prune_storage_nodes'),
            ('pools', 'upsert_pools', 'prune_pools'),
            ('volumes', 'upsert_volumes', 'prune_volumes')),
        'tachyon.graph.baremetal': (
            ('ironic_nodes', 'upsert_ironic_nodes', 'prune_ironic_nodes'),),
    }

    def _setUp(self):
        self.calls = []
        self.records = {}
        self.runs = []
        self.deleted = {}
        self.stale = {}
        for module, funcs in self.FUNCS.items():
            for kind, upsert, prune in funcs:
                self.useFixture(fixtures.MonkeyPatch(
                    '%s.%s' % (module, upsert), self._upsert(kind)))
                self.useFixture(fixtures.MonkeyPatch(
                    '%s.%s' % (module, prune), self._prune(kind)))
        self.useFixture(fixtures.MonkeyPatch(
            'tachyon.graph.syncs.record_sync_run',
            lambda graph, report: self.runs.append(report)))

    def _upsert(self, kind):
        def upsert(graph, records):
            records = list(records)
            self.calls.append(('upsert', kind))
            self.records.setdefault(kind, []).extend(records)
            stale = self.stale.get(kind, 0)
            return Counts(created=len(records) - stale, skipped=stale)
        return upsert

    def _prune(self, kind):
        def prune(graph, keep_uuids, before):
            self.calls.append(('prune', kind, set(keep_uuids), before))
            return self.deleted.get(kind, 0)
        return prune

    def prune_call(self, kind):
        for call in self.calls:
            if call[0] == 'prune' and call[1] == kind:
                return call
        return None


class SyncTestCase(base.TestCase):

    def setUp(self):
        super().setUp()
        self.logger = self.useFixture(fixtures.FakeLogger())
        self.os = self.useFixture(emulators.OpenStackFixture(self.conf))
        self.cloud = self.os.cloud
        self.os.set_retries(2, 0.01)
        self.flags(group='collectors', page_size=5)
        self.graph_api = self.useFixture(FakeGraphAPI())
        self.graph = object()


class TestNovaSync(SyncTestCase):

    def setUp(self):
        super().setUp()
        self.nodes = [self.cloud.add_compute_node('compute-%d' % i)
                      for i in range(3)]
        self.servers = [self.cloud.add_server(host='compute-%d' % (i % 3))
                        for i in range(11)]

    def sync(self):
        return nova.NovaCollector(self.conf).sync(self.graph)

    def test_full_sync(self):
        before = time.time()
        report = self.sync()
        self.assertEqual('success', report.status)
        self.assertGreaterEqual(report.started_at, before)
        self.assertEqual(3 + 11, report.created)
        self.assertEqual(0, report.skipped)
        self.assertEqual({'fetched': 3, 'created': 3, 'updated': 0,
                          'deleted': 0, 'skipped': 0, 'stale': 0},
                         report.details['compute_nodes'])
        nodes = self.graph_api.records['compute_nodes']
        instances = self.graph_api.records['instances']
        self.assertEqual(sorted(self.nodes), sorted(n.uuid for n in nodes))
        self.assertEqual(sorted(self.servers),
                         sorted(i.uuid for i in instances))
        # Every record carries the sync's start time.
        self.assertEqual({report.started_at},
                         {r.updated_at for r in nodes + instances})
        by_name = {n.hostname: n.uuid for n in nodes}
        for inst in instances:
            self.assertEqual(by_name[inst.host], inst.node_uuid)
        # Upserts first, then prunes (instances before nodes), with the
        # sync's start as "before".
        self.assertEqual(
            [('upsert', 'compute_nodes'), ('upsert', 'instances'),
             ('prune', 'instances', set(self.servers), report.started_at),
             ('prune', 'compute_nodes', set(self.nodes),
              report.started_at)],
            self.graph_api.calls)
        self.assertEqual([report], self.graph_api.runs)
        self.assertIsNotNone(report.seconds)
        self.assertIn('nova sync success', report.summary())

    def test_deleted_and_baremetal_servers_left_out(self):
        self.cloud.add_compute_node('ironic-conductor',
                                    hypervisor_type='ironic',
                                    hypervisor_hostname='bm-1')
        bm_server = self.cloud.add_server(host='ironic-conductor')
        deleted = self.cloud.add_server(host='compute-0',
                                        vm_state='deleted')
        report = self.sync()
        uuids = {i.uuid for i in self.graph_api.records['instances']}
        self.assertNotIn(bm_server, uuids)
        self.assertNotIn(deleted, uuids)
        self.assertEqual(3, len(self.graph_api.records['compute_nodes']))
        self.assertEqual(0, report.skipped)

    def test_unmapped_server(self):
        server = self.cloud.add_server(host=None, vm_state='error')
        self.sync()
        inst = {i.uuid: i for i in self.graph_api.records['instances']}[
            server]
        self.assertIsNone(inst.node_uuid)
        self.assertEqual('error', inst.state)

    def test_malformed_entities_skipped_counted_and_kept(self):
        bad_flavor, bad_type = self.servers[2], self.servers[7]

        def mangle(body):
            if body['id'] == bad_flavor:
                del body['flavor']['vcpus']
                body['flavor']['ram'] = 'lots'
            elif body['id'] == bad_type:
                body['locked'] = 'yes'
            return body
        self.os.nova.mangle('server', mangle)
        self.os.nova.mangle('server', lambda b: b)
        # One server that is not even an object.
        garbage = {'done': False}

        def not_an_object(body):
            if body['id'] == self.servers[9] and not garbage['done']:
                garbage['done'] = True
                return 'garbage'
            return body
        self.os.nova.mangle('server', not_an_object)
        # A provider whose inventories are not JSON.
        self.os.placement.inject(
            r'/resource_providers/%s/inventories' % self.nodes[1],
            status=200, body='{"inventories": {', times=10)
        logger = self.logger

        report = self.sync()
        self.assertEqual('success', report.status)
        self.assertEqual(4, report.skipped)
        self.assertEqual(1, report.details['compute_nodes']['skipped'])
        self.assertEqual(3, report.details['instances']['skipped'])
        self.assertEqual(2, len(self.graph_api.records['compute_nodes']))
        self.assertEqual(8, len(self.graph_api.records['instances']))
        # Logged with their ids.
        self.assertIn(bad_flavor, logger.output)
        self.assertIn(bad_type, logger.output)
        self.assertIn(self.nodes[1], logger.output)
        # Skipped entities whose id is known are not pruned.
        keep = self.graph_api.prune_call('instances')[2]
        self.assertIn(bad_flavor, keep)
        self.assertIn(bad_type, keep)
        self.assertNotIn(self.servers[9], keep)
        self.assertIn(self.nodes[1],
                      self.graph_api.prune_call('compute_nodes')[2])
        self.assertIn('4 skipped', report.summary())

    def test_malformed_aggregate_skipped(self):
        self.cloud.add_aggregate('good', ['compute-0'])
        self.cloud.add_aggregate('bad', ['compute-1'])
        self.os.nova.mangle('aggregate', lambda a: dict(a, name=None)
                            if a['name'] == 'bad' else a)
        report = self.sync()
        self.assertEqual(1, report.details['aggregates']['skipped'])
        nodes = {n.hostname: n
                 for n in self.graph_api.records['compute_nodes']}
        self.assertEqual([{'id': 1, 'name': 'good'}],
                         nodes['compute-0'].aggregates)
        self.assertEqual([], nodes['compute-1'].aggregates)

    def test_stale_and_deleted_counts(self):
        self.graph_api.stale['instances'] = 2
        self.graph_api.deleted['instances'] = 3
        report = self.sync()
        self.assertEqual(2, report.stale)
        self.assertEqual(3, report.deleted)
        self.assertEqual(3, report.details['instances']['deleted'])
        self.assertIn('2 superseded', report.summary())

    def test_failed_fetch_writes_nothing(self):
        self.os.nova.inject(r'^/servers/detail$', status=500, times=10)
        exc = self.assertRaises(exception.UpstreamError, self.sync)
        self.assertIn('HTTP 500', str(exc))
        self.assertEqual([], self.graph_api.calls)
        [run] = self.graph_api.runs
        self.assertEqual('failed', run.status)
        self.assertIn('HTTP 500', run.error)
        self.assertIsNotNone(run.finished_at)

    def test_wrong_credentials(self):
        self.os.set_password('wrong', groups=['nova'])
        exc = self.assertRaises(exception.UpstreamAuthFailed, self.sync)
        self.assertEqual(
            'Authentication for the Nova API failed: Keystone refused the '
            'credentials (The request you have made requires '
            'authentication. (HTTP 401)); check the [nova] credentials.',
            str(exc))
        self.assertEqual([], self.graph_api.calls)
        self.assertEqual('failed', self.graph_api.runs[0].status)

    def test_sync_timeout(self):
        self.flags(group='collectors', sync_timeout=1)
        self.os.nova.on_request(r'^/servers/detail$',
                                lambda request: time.sleep(1.5))
        start = time.monotonic()
        exc = self.assertRaises(exception.UpstreamError, self.sync)
        self.assertLess(time.monotonic() - start, 5)
        self.assertIn('Nova', str(exc))
        self.assertEqual([], [c for c in self.graph_api.calls
                              if c[0] == 'prune'])
        self.assertEqual('failed', self.graph_api.runs[0].status)

    def test_placement_404_falls_back(self):
        del self.cloud.inventories[self.nodes[0]]
        self.sync()
        node = {n.uuid: n for n in self.graph_api.records[
            'compute_nodes']}[self.nodes[0]]
        # The hypervisor's own figures (microversion 2.56 still has them).
        self.assertEqual(64, node.inventories['VCPU'].total)
        self.assertEqual(1.0, node.inventories['VCPU'].allocation_ratio)
        self.assertEqual([], node.traits)


class TestCinderSync(SyncTestCase):

    def test_full_sync(self):
        self.cloud.add_storage_backend('stor-1', 'ceph',
                                       pools=('rbd', 'rbd-ssd'),
                                       volume_types=['fast'])
        self.cloud.add_storage_backend('stor-2', 'lvm', zone='az-2')
        server = self.cloud.add_server()
        vols = [self.cloud.add_volume('stor-1@ceph#rbd', size=10 + i,
                                      attached_to=[server] if i == 3
                                      else None)
                for i in range(12)]
        report = cinder.CinderCollector(self.conf).sync(self.graph)
        self.assertEqual('success', report.status)
        nodes = {n.host: n for n in self.graph_api.records['storage_nodes']}
        self.assertEqual(['fast'], nodes['stor-1@ceph'].volume_type)
        self.assertEqual(['lvm-type'], nodes['stor-2@lvm'].volume_type)
        self.assertEqual('az-2', nodes['stor-2@lvm'].zone)
        pools = {p.name: p for p in self.graph_api.records['pools']}
        self.assertEqual({'stor-1@ceph#rbd', 'stor-1@ceph#rbd-ssd',
                          'stor-2@lvm#pool1'}, set(pools))
        self.assertEqual(12, pools['stor-1@ceph#rbd'].total_volumes)
        volumes = {v.uuid: v for v in self.graph_api.records['volumes']}
        self.assertEqual(set(vols), set(volumes))
        self.assertEqual([server], [a['server_id'] for a in
                                    volumes[vols[3]].attachments])
        self.assertEqual(
            ['upsert', 'upsert', 'upsert', 'prune', 'prune', 'prune'],
            [c[0] for c in self.graph_api.calls])
        self.assertEqual(['volumes', 'pools', 'storage_nodes'],
                         [c[1] for c in self.graph_api.calls[3:]])
        self.assertEqual(set(vols), self.graph_api.prune_call('volumes')[2])
        self.assertEqual({p.uuid for p in pools.values()},
                         self.graph_api.prune_call('pools')[2])
        self.assertEqual(3 + 12 + 2, report.created)

    def test_malformed_pool_and_volume(self):
        self.cloud.add_storage_backend('stor-1', 'ceph', pools=('a', 'b'))
        vol = self.cloud.add_volume('stor-1@ceph#a')
        self.cloud.add_volume('stor-1@ceph#a')

        def unknown(pool):
            if pool['name'].endswith('#b'):
                pool['capabilities']['free_capacity_gb'] = 'unknown'
            return pool
        self.os.cinder.mangle('pool', unknown)
        self.os.cinder.mangle('volume', lambda v: dict(v, size='big')
                              if v['id'] == vol else v)
        report = cinder.CinderCollector(self.conf).sync(self.graph)
        self.assertEqual(2, report.skipped)
        self.assertEqual(1, len(self.graph_api.records['pools']))
        self.assertIn(vol, self.graph_api.prune_call('volumes')[2])


class TestIronicSync(SyncTestCase):

    def test_full_sync(self):
        nodes = [self.cloud.add_ironic_node(extra={'compute_node_id': 'x'})
                 for _i in range(7)]
        self.cloud.add_ironic_node(maintenance=True,
                                   maintenance_reason='bad disk',
                                   node_uuid=nodes[0] and None)
        self.os.ironic.mangle('node', lambda n: dict(n, maintenance='no')
                              if n['uuid'] == nodes[2] else n)
        report = ironic.IronicCollector(self.conf).sync(self.graph)
        self.assertEqual(1, report.skipped)
        records = {n.uuid: n for n in self.graph_api.records['ironic_nodes']}
        self.assertEqual(7, len(records))
        self.assertEqual({'compute_node_id': 'x'}, records[nodes[0]].extra)
        self.assertIn(nodes[2], self.graph_api.prune_call('ironic_nodes')[2])
        # 8 nodes, 5 per page: two pages with Ironic's "next" link.
        self.assertEqual(2, len(self.os.ironic.requests_to(
            r'^/v1/nodes/detail$')))


class TestManager(SyncTestCase):

    def test_loads_enabled_plugins(self):
        self.flags(group='collectors',
                   enabled_collectors=['nova', 'ironic'])
        mgr = manager.CollectorManager(self.conf, self.graph)
        self.assertEqual(['nova', 'ironic'], mgr.names)
        self.assertIsInstance(mgr.get('nova'), nova.NovaCollector)
        self.assertIsInstance(mgr.get('ironic'), ironic.IronicCollector)
        self.assertEqual({'nova', 'cinder', 'ironic'} - mgr.available(),
                         set())

    def test_intervals(self):
        self.flags(group='collectors',
                   enabled_collectors=['nova', 'cinder', 'ironic'],
                   nova_interval=600, cinder_interval=0,
                   ironic_interval=1800)
        mgr = manager.CollectorManager(self.conf, self.graph)
        self.assertEqual({'nova': 600, 'ironic': 1800}, mgr.intervals())

    def test_unknown_plugin(self):
        self.flags(group='collectors', enabled_collectors=['neutron'])
        exc = self.assertRaises(exception.ConfigurationError,
                                manager.CollectorManager, self.conf,
                                self.graph)
        self.assertIn('neutron', str(exc))

    def test_run_and_run_not_enabled(self):
        self.flags(group='collectors', enabled_collectors=['nova'])
        self.cloud.add_compute_node('c1')
        self.cloud.add_ironic_node()
        mgr = manager.CollectorManager(self.conf, self.graph)
        self.assertEqual('success', mgr.run('nova').status)
        # Not enabled, but asked for by name (tachyon-manage sync run).
        self.assertEqual(1, mgr.run('ironic').created)

    def test_run_all_collects_failures(self):
        self.flags(group='collectors', enabled_collectors=['nova', 'cinder'])
        self.os.set_password('wrong', groups=['cinder'])
        mgr = manager.CollectorManager(self.conf, self.graph)
        results = mgr.run_all()
        self.assertEqual('success', results['nova'].status)
        self.assertIsInstance(results['cinder'],
                              exception.UpstreamAuthFailed)

    def test_deadline_class(self):
        deadline = clients.Deadline(10, clock=lambda: 100.0)
        self.assertEqual(10, deadline.remaining())
        deadline.check('Nova')
        self.assertRaises(clients.SyncTimeout,
                          clients.Deadline(0).check, 'Nova')
