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

"""The compute graph API against the real Neo4j: writes, staleness,
tombstones, orphans, generations, mapping and migration, reads.
"""

import threading

from tachyon import exception
from tachyon.graph import common
from tachyon.graph import compute
from tachyon.graph.compute import reads as compute_reads
from tachyon.graph.compute import usage as compute_usage
from tachyon.graph import tombstones
from tachyon.model import records
from tests.functional import base

N1 = '11111111-1111-4111-8111-111111111111'
N2 = '22222222-2222-4222-8222-222222222222'
N3 = '33333333-3333-4333-8333-333333333333'
I1 = 'aaaaaaaa-0000-4000-8000-000000000001'
I2 = 'aaaaaaaa-0000-4000-8000-000000000002'
I3 = 'aaaaaaaa-0000-4000-8000-000000000003'
P1 = 'pppppppp-0000-4000-8000-000000000001'


def node(uuid=N1, hostname=None, vcpus=16, memory=32768, disk=500,
         vcpu_ratio=2.0, reserved=0, updated_at=None, **kw):
    invs = {
        records.VCPU: records.Inventory(records.VCPU, total=vcpus,
                                        reserved=reserved,
                                        allocation_ratio=vcpu_ratio),
        records.MEMORY_MB: records.Inventory(records.MEMORY_MB,
                                             total=memory, reserved=512,
                                             allocation_ratio=1.5),
        records.DISK_GB: records.Inventory(records.DISK_GB, total=disk,
                                           allocation_ratio=1.0),
    }
    return records.ComputeNode(uuid=uuid,
                               hostname=hostname or 'host-' + uuid[:4],
                               inventories=invs, updated_at=updated_at,
                               **kw)


def instance(uuid=I1, node_uuid=N1, vcpus=2, memory=2048, disk=20,
             updated_at=None, **kw):
    return records.Instance(uuid=uuid, name='vm-' + uuid[-1], vcpus=vcpus,
                            memory=memory, disk=disk, node_uuid=node_uuid,
                            updated_at=updated_at, **kw)


class ComputeTestCase(base.FunctionalTestCase):

    def count(self, query, **params):
        return self.graph.run_autocommit(query, **params)[0]['n']

    def labels(self, label):
        return self.count('MATCH (n:%s) RETURN count(n) AS n' % label)

    def generation(self):
        return self.graph.read(common.global_generation)

    def entity_generation(self, uuid):
        rows = self.graph.run_autocommit(
            'MATCH (n {uuid: $uuid}) WHERE n:ResourceProvider OR n:Consumer '
            'RETURN n.generation AS g', uuid=uuid)
        return rows[0]['g'] if rows else None


class TestNodeWrites(ComputeTestCase):

    def test_shape(self):
        counts = compute.upsert_compute_nodes(self.graph, [node(
            traits=['HW_CPU_X86_AVX2'], availability_zone='az1',
            aggregates=[{'id': 7, 'name': 'ssd'}], service_host='svc1',
            status='disabled', disabled_reason='maintenance')])
        self.assertEqual(common.SyncCounts(created=1), counts)
        traits = self.graph.run_autocommit(
            'MATCH (:ResourceProvider {uuid: $u})-[:HAS_TRAIT]->(t) '
            'RETURN t.name AS name ORDER BY name', u=N1)
        self.assertEqual(['COMPUTE_HYPERVISOR', 'COMPUTE_STATUS_UP',
                          'HW_CPU_X86_AVX2'], [t['name'] for t in traits])
        invs = self.graph.run_autocommit(
            'MATCH (:ResourceProvider {uuid: $u})-[:HAS_INVENTORY]->'
            '(i:Inventory)-[:OF_CLASS]->(rc:ResourceClass) '
            'RETURN rc.name AS rc, i.total AS total, i.provider_uuid AS p '
            'ORDER BY rc', u=N1)
        self.assertEqual([('DISK_GB', 500), ('MEMORY_MB', 32768),
                          ('VCPU', 16)], [(i['rc'], i['total']) for i in invs])
        self.assertEqual({N1}, {i['p'] for i in invs})
        self.assertEqual(1, self.count(
            'MATCH (:ResourceProvider {uuid: $u})-[:LOCATED_IN]->'
            "(:AvailabilityZone {name: 'az1'}) RETURN count(*) AS n", u=N1))
        self.assertEqual(1, self.count(
            'MATCH (:ResourceProvider {uuid: $u})-[:MEMBER_OF]->'
            "(:Aggregate {name: 'ssd', id: 7}) RETURN count(*) AS n", u=N1))
        got = compute.get_node_by_uuid(self.graph, N1)
        self.assertEqual('host-1111', got.hostname)
        self.assertEqual('disabled', got.status)
        self.assertEqual('maintenance', got.disabled_reason)
        self.assertEqual(['HW_CPU_X86_AVX2'], got.traits)
        self.assertEqual('az1', got.availability_zone)
        self.assertEqual([{'id': 7, 'name': 'ssd'}], got.aggregates)
        self.assertEqual(2.0, got.inventories['VCPU'].allocation_ratio)
        self.assertEqual(512, got.inventories['MEMORY_MB'].reserved)
        self.assertEqual(1, got.generation)
        self.assertEqual(got, compute.get_node_by_name(self.graph,
                                                       'host-1111'))

    def test_idempotent_and_generations(self):
        compute.upsert_compute_nodes(self.graph, [node()])
        gen = self.generation()
        counts = compute.upsert_compute_nodes(self.graph, [node()])
        self.assertEqual(common.SyncCounts(unchanged=1), counts)
        self.assertEqual(gen, self.generation())
        self.assertEqual(1, self.entity_generation(N1))
        counts = compute.upsert_compute_nodes(self.graph, [node(vcpus=32)])
        self.assertEqual(common.SyncCounts(updated=1), counts)
        self.assertEqual(gen + 1, self.generation())
        self.assertEqual(2, self.entity_generation(N1))
        self.assertEqual(32, compute.get_node_by_uuid(
            self.graph, N1).inventories['VCPU'].total)
        # One node per uuid, one inventory per class.
        self.assertEqual(1, self.labels('ResourceProvider'))
        self.assertEqual(3, self.labels('Inventory'))

    def test_state_trait_follows_state(self):
        compute.upsert_compute_nodes(self.graph, [node()])
        compute.upsert_compute_nodes(self.graph, [node(state='down')])
        traits = self.graph.run_autocommit(
            'MATCH (:ResourceProvider {uuid: $u})-[:HAS_TRAIT]->(t) '
            'RETURN t.name AS name ORDER BY name', u=N1)
        self.assertEqual(['COMPUTE_HYPERVISOR', 'COMPUTE_STATUS_DOWN'],
                         [t['name'] for t in traits])

    def test_az_and_aggregates_replaced_without_orphans(self):
        compute.upsert_compute_nodes(self.graph, [node(
            availability_zone='az1', aggregates=[{'id': 1, 'name': 'a'}])])
        compute.upsert_compute_nodes(self.graph, [node(
            availability_zone='az2', aggregates=[{'id': 2, 'name': 'b'}])])
        self.assertEqual(['az2'], [r['n'] for r in self.graph.run_autocommit(
            'MATCH (a:AvailabilityZone) RETURN a.name AS n')])
        self.assertEqual(['b'], [r['n'] for r in self.graph.run_autocommit(
            'MATCH (a:Aggregate) RETURN a.name AS n')])

    def test_staleness(self):
        compute.upsert_compute_nodes(self.graph, [node(updated_at=100.0)])
        gen = self.generation()
        counts = compute.upsert_compute_nodes(
            self.graph, [node(vcpus=1, updated_at=99.0)])
        self.assertEqual(common.SyncCounts(skipped=1), counts)
        counts = compute.upsert_compute_nodes(
            self.graph, [node(vcpus=1, updated_at=100.0)])
        self.assertEqual(common.SyncCounts(unchanged=1), counts)
        self.assertEqual(gen, self.generation())
        self.assertEqual(16, compute.get_node_by_uuid(
            self.graph, N1).inventories['VCPU'].total)
        # Same content, newer observation: only updated_at moves.
        counts = compute.upsert_compute_nodes(self.graph,
                                              [node(updated_at=150.0)])
        self.assertEqual(common.SyncCounts(unchanged=1), counts)
        self.assertEqual(gen, self.generation())
        self.assertEqual(150.0, compute.get_node_by_uuid(
            self.graph, N1).updated_at)
        counts = compute.upsert_compute_nodes(
            self.graph, [node(vcpus=1, updated_at=200.0)])
        self.assertEqual(common.SyncCounts(updated=1), counts)
        # No updated_at: applied unconditionally (imports).
        counts = compute.upsert_compute_nodes(self.graph, [node(vcpus=4)])
        self.assertEqual(common.SyncCounts(updated=1), counts)
        got = compute.get_node_by_uuid(self.graph, N1)
        self.assertEqual(4, got.inventories['VCPU'].total)
        self.assertEqual(200.0, got.updated_at)

    def test_tombstone_blocks_resurrection(self):
        compute.upsert_compute_nodes(self.graph, [node(updated_at=100.0)])
        self.assertEqual(1, compute.delete_compute_nodes(
            self.graph, [N1], deleted_at=200.0))
        for when in (150.0, 200.0):
            counts = compute.upsert_compute_nodes(self.graph,
                                                  [node(updated_at=when)])
            self.assertEqual(common.SyncCounts(skipped=1), counts)
        self.assertEqual({}, compute.get_all_compute_nodes(self.graph))
        counts = compute.upsert_compute_nodes(self.graph,
                                              [node(updated_at=201.0)])
        self.assertEqual(common.SyncCounts(created=1), counts)
        self.assertEqual(0, self.labels('Tombstone'))

    def test_placeholder(self):
        compute.upsert_compute_nodes(self.graph, [records.ComputeNode(
            uuid=N1, hostname='h1', placeholder=True, updated_at=10.0)])
        got = compute.get_node_by_uuid(self.graph, N1)
        self.assertTrue(got.placeholder)
        self.assertEqual({'VCPU': 0, 'MEMORY_MB': 0, 'DISK_GB': 0},
                         {rc: i.total for rc, i in got.inventories.items()})
        # The full sync completes it.
        compute.upsert_compute_nodes(self.graph, [node(hostname='h1',
                                                       updated_at=20.0)])
        got = compute.get_node_by_uuid(self.graph, N1)
        self.assertFalse(got.placeholder)
        self.assertEqual(16, got.inventories['VCPU'].total)
        # A placeholder never overwrites a complete node, but its name.
        counts = compute.upsert_compute_nodes(self.graph, [
            records.ComputeNode(uuid=N1, hostname='h1', placeholder=True,
                                state='down', updated_at=30.0)])
        self.assertEqual(common.SyncCounts(unchanged=1), counts)
        compute.upsert_compute_nodes(self.graph, [records.ComputeNode(
            uuid=N1, hostname='h1-renamed', placeholder=True,
            updated_at=30.0)])
        got = compute.get_node_by_uuid(self.graph, N1)
        self.assertEqual('h1-renamed', got.hostname)
        self.assertEqual('up', got.state)
        self.assertFalse(got.placeholder)
        self.assertEqual(16, got.inventories['VCPU'].total)
        self.assertEqual(20.0, got.updated_at)

    def test_bulk(self):
        nodes = [node(uuid='%08d-0000-4000-8000-000000000000' % i)
                 for i in range(2500)]
        counts = compute.upsert_compute_nodes(self.graph, nodes)
        self.assertEqual(2500, counts.created)
        self.assertEqual(2500, len(compute.get_all_compute_nodes(
            self.graph)))
        self.assertEqual(7500, self.labels('Inventory'))

    def test_delete_and_prune(self):
        compute.upsert_compute_nodes(self.graph, [
            node(N1, availability_zone='az1', updated_at=10.0,
                 aggregates=[{'id': 1, 'name': 'a'}]),
            node(N2, updated_at=10.0), node(N3, updated_at=50.0)])
        compute.upsert_instances(self.graph, [instance(I1, N1)])
        gen = self.generation()
        inst_gen = self.entity_generation(I1)
        self.assertEqual(1, compute.delete_compute_nodes(self.graph,
                                                         [N1, 'nope']))
        self.assertEqual(gen + 1, self.generation())
        # The instance stays, unmapped; its mapping changed.
        self.assertIsNone(compute.get_instance_by_uuid(self.graph,
                                                       I1).node_uuid)
        self.assertEqual(inst_gen + 1, self.entity_generation(I1))
        self.assertEqual(6, self.labels('Inventory'))
        self.assertEqual(0, self.labels('AvailabilityZone'))
        self.assertEqual(0, self.labels('Aggregate'))
        self.assertEqual(2, self.labels('Tombstone'))
        gen = self.generation()
        self.assertEqual(0, compute.delete_compute_nodes(self.graph, [N1]))
        self.assertEqual(gen, self.generation())
        # N2 not listed and older than the sync; N3 newer: spared.
        self.assertEqual(1, compute.prune_compute_nodes(self.graph, [],
                                                        before=20.0))
        self.assertEqual([N3], list(compute.get_all_compute_nodes(
            self.graph)))
        counts = compute.upsert_compute_nodes(self.graph,
                                              [node(N2, updated_at=15.0)])
        self.assertEqual(1, counts.skipped)


class TestInstanceWrites(ComputeTestCase):

    def setUp(self):
        super().setUp()
        compute.upsert_compute_nodes(self.graph, [
            node(N1, hostname='h1'), node(N2, hostname='h2')])

    def test_shape(self):
        counts = compute.upsert_instances(self.graph, [instance(
            project_id=P1, pinned_az='az9', flavor_name='m1.small',
            flavor_extra_specs={'hw:cpu_policy': 'dedicated', 'n': 2},
            metadata={'a': {'b': 1}}, locked=True, host='h1',
            hypervisor_hostname='h1', created='2026-01-01T00:00:00Z')])
        self.assertEqual(common.SyncCounts(created=1), counts)
        used = self.graph.run_autocommit(
            'MATCH (:Consumer {uuid: $u})-[r:CONSUMES]->(i:Inventory) '
            'RETURN i.resource_class AS rc, r.used AS used, '
            'r.resource_class AS rrc, i.provider_uuid AS p ORDER BY rc',
            u=I1)
        self.assertEqual([('DISK_GB', 20, N1), ('MEMORY_MB', 2048, N1),
                          ('VCPU', 2, N1)],
                         [(r['rc'], r['used'], r['p']) for r in used])
        self.assertEqual([r['rc'] for r in used], [r['rrc'] for r in used])
        self.assertEqual(1, self.count(
            'MATCH (:Consumer {uuid: $u})-[:OWNED_BY]->(:Project '
            '{external_id: $p}) RETURN count(*) AS n', u=I1, p=P1))
        self.assertEqual(1, self.count(
            'MATCH (:Consumer {uuid: $u})-[:PINNED_TO]->(:AvailabilityZone '
            "{name: 'az9'}) RETURN count(*) AS n", u=I1))
        specs = self.graph.run_autocommit(
            'MATCH (:Consumer {uuid: $u})-[:OF_TYPE]->(f:Flavor)'
            '-[:HAS_EXTRA_SPEC]->(s:ExtraSpec) RETURN f.name AS f, '
            'f.key AS key, s.key AS k, s.value AS v ORDER BY k', u=I1)
        self.assertEqual([('hw:cpu_policy', 'dedicated'), ('n', '2')],
                         [(s['k'], s['v']) for s in specs])
        self.assertEqual('m1.small', specs[0]['f'])
        self.assertTrue(specs[0]['key'].startswith('m1.small|'))
        got = compute.get_instance_by_uuid(self.graph, I1)
        self.assertEqual({'a': {'b': 1}}, got.metadata)
        self.assertEqual({'hw:cpu_policy': 'dedicated', 'n': 2},
                         got.flavor_extra_specs)
        self.assertEqual('m1.small', got.flavor_name)
        self.assertTrue(got.locked)
        self.assertEqual('az9', got.pinned_az)
        self.assertEqual(P1, got.project_id)
        self.assertEqual(N1, got.node_uuid)
        self.assertEqual('h1', got.node_name)
        self.assertEqual(1, got.generation)
        self.assertEqual('2026-01-01T00:00:00Z', got.created)

    def test_flavor_specs_make_distinct_flavors(self):
        compute.upsert_instances(self.graph, [
            instance(I1, flavor_name='f', flavor_extra_specs={'a': '1'}),
            instance(I2, flavor_name='f', flavor_extra_specs={'a': '2'}),
            instance(I3, flavor_name='f', flavor_extra_specs={'a': '1'})])
        self.assertEqual(2, self.labels('Flavor'))
        self.assertEqual(2, self.labels('ExtraSpec'))

    def test_mapping_by_uuid_then_name(self):
        compute.upsert_instances(self.graph, [
            instance(I1, node_uuid=N2),
            instance(I2, node_uuid='unknown', node_name='h2'),
            instance(I3, node_uuid=None, node_name='nowhere')])
        mapping = compute.get_compute_model(self.graph)['mapping']
        self.assertEqual({I1: N2, I2: N2}, mapping)
        self.assertEqual({N1: [], N2: [I1, I2]},
                         compute.get_instances_by_node(self.graph))

    def test_move_and_resize(self):
        compute.upsert_instances(self.graph, [instance(I1, N1)])
        gens = {u: self.entity_generation(u) for u in (N1, N2, I1)}
        counts = compute.upsert_instances(self.graph, [instance(I1, N2)])
        self.assertEqual(common.SyncCounts(updated=1), counts)
        self.assertEqual({'vcpu': 0, 'memory': 0, 'disk': 0},
                         compute.get_node_used_resources(self.graph, N1))
        self.assertEqual({'vcpu': 2, 'memory': 2048, 'disk': 20},
                         compute.get_node_used_resources(self.graph, N2))
        for uuid in (N1, N2, I1):
            self.assertEqual(gens[uuid] + 1, self.entity_generation(uuid))
        compute.upsert_instances(self.graph, [instance(I1, N2, vcpus=8)])
        self.assertEqual(8, compute.get_node_used_resources(
            self.graph, N2)['vcpu'])
        self.assertEqual(8, compute.get_instance_by_uuid(self.graph,
                                                         I1).vcpus)
        # Unmapped by the next observation: no CONSUMES left, amounts kept.
        compute.upsert_instances(self.graph, [instance(I1, None, vcpus=8)])
        self.assertEqual(0, self.count(
            'MATCH (:Consumer {uuid: $u})-[r:CONSUMES]->() '
            'RETURN count(r) AS n', u=I1))
        self.assertEqual(8, compute.get_instance_by_uuid(self.graph,
                                                         I1).vcpus)

    def test_updates_in_place_and_when_edges_must_change(self):
        # An update that keeps node, project, zone and flavor only sets
        # properties and amounts; one that changes any of them, or finds
        # an inventory its edges miss, rewrites the edges.
        def edges():
            return sorted((r['t'], r['k']) for r in self.graph.run_autocommit(
                'MATCH (:Consumer {uuid: $u})-[r]->(n) RETURN type(r) AS t, '
                'coalesce(n.resource_class, n.external_id, n.name) AS k',
                u=I1))
        compute.upsert_instances(self.graph, [instance(
            project_id=P1, pinned_az='az1', flavor_name='f', updated_at=1)])
        # An edge missing (a graph written by an older Tachyon, a hand
        # edit): the next update puts it back.
        self.graph.run_autocommit(
            "MATCH (:Consumer {uuid: $u})-[r:CONSUMES "
            "{resource_class: 'DISK_GB'}]->() DELETE r", u=I1)
        self.assertNotIn(('CONSUMES', 'DISK_GB'), edges())
        compute.upsert_instances(self.graph, [instance(
            project_id=P1, pinned_az='az1', flavor_name='f', state='paused',
            updated_at=2)])
        self.assertIn(('CONSUMES', 'DISK_GB'), edges())
        before = edges()
        compute.upsert_instances(self.graph, [instance(
            project_id=P1, pinned_az='az1', flavor_name='f', vcpus=6,
            state='active', updated_at=3)])
        self.assertEqual(before, edges())
        self.assertEqual({'vcpu': 6, 'memory': 2048, 'disk': 20},
                         compute.get_node_used_resources(self.graph, N1))
        got = compute.get_instance_by_uuid(self.graph, I1)
        self.assertEqual(('active', 6, 3), (got.state, got.vcpus,
                                            got.generation))
        for at, changed in enumerate(({'project_id': 'p2'},
                                      {'pinned_az': 'az2'},
                                      {'flavor_name': 'g'}), start=4):
            fields = dict(project_id=P1, pinned_az='az1', flavor_name='f')
            fields.update(changed)
            compute.upsert_instances(self.graph, [instance(
                updated_at=at, **fields)])
            self.assertIn(list(changed.values())[0],
                          [k for _t, k in edges()], changed)
        self.assertEqual(1, self.labels('Project'))
        self.assertEqual(1, self.labels('AvailabilityZone'))
        self.assertEqual(1, self.labels('Flavor'))

    def test_idempotent(self):
        compute.upsert_instances(self.graph, [instance(project_id=P1)])
        gen = self.generation()
        counts = compute.upsert_instances(self.graph,
                                          [instance(project_id=P1)])
        self.assertEqual(common.SyncCounts(unchanged=1), counts)
        self.assertEqual(gen, self.generation())
        self.assertEqual(1, self.entity_generation(I1))
        self.assertEqual(3, self.count(
            'MATCH ()-[r:CONSUMES]->() RETURN count(r) AS n'))

    def test_staleness_and_tombstones(self):
        compute.upsert_instances(self.graph, [instance(updated_at=10.0,
                                                       state='active')])
        counts = compute.upsert_instances(
            self.graph, [instance(updated_at=5.0, state='stopped')])
        self.assertEqual(common.SyncCounts(skipped=1), counts)
        self.assertEqual('active', compute.get_instance_by_uuid(
            self.graph, I1).state)
        compute.delete_instances(self.graph, [I1], deleted_at=20.0)
        counts = compute.upsert_instances(self.graph,
                                          [instance(updated_at=19.0)])
        self.assertEqual(common.SyncCounts(skipped=1), counts)
        self.assertRaises(exception.NotFound, compute.get_instance_by_uuid,
                          self.graph, I1)
        # A delete seen before the create still blocks the late create.
        compute.delete_instances(self.graph, [I2], deleted_at=20.0)
        counts = compute.upsert_instances(self.graph,
                                          [instance(I2, updated_at=15.0)])
        self.assertEqual(common.SyncCounts(skipped=1), counts)
        # An import (no updated_at) is applied whatever the tombstone.
        counts = compute.upsert_instances(self.graph, [instance(I2)])
        self.assertEqual(common.SyncCounts(created=1), counts)

    def test_delete_leaves_no_orphans(self):
        compute.upsert_instances(self.graph, [
            instance(I1, project_id=P1, pinned_az='az1', flavor_name='f',
                     flavor_extra_specs={'a': '1'}),
            instance(I2, project_id=P1, pinned_az='az1', flavor_name='f',
                     flavor_extra_specs={'a': '1'})])
        gen = self.generation()
        n1_gen = self.entity_generation(N1)
        self.assertEqual(1, compute.delete_instances(self.graph, [I1]))
        self.assertEqual(gen + 1, self.generation())
        self.assertEqual(n1_gen + 1, self.entity_generation(N1))
        for label in ('Project', 'Flavor', 'ExtraSpec', 'AvailabilityZone'):
            self.assertEqual(1, self.labels(label), label)
        self.assertEqual(1, compute.delete_instances(self.graph, [I2, I3]))
        for label in ('Project', 'Flavor', 'ExtraSpec', 'AvailabilityZone',
                      'Consumer'):
            self.assertEqual(0, self.labels(label), label)
        self.assertEqual(6, self.labels('Inventory'))
        self.assertEqual(3, self.labels('Tombstone'))
        gen = self.generation()
        self.assertEqual(0, compute.delete_instances(self.graph, [I1]))
        self.assertEqual(gen, self.generation())

    def test_changing_references_leaves_no_orphans(self):
        compute.upsert_instances(self.graph, [instance(
            project_id=P1, pinned_az='az1', flavor_name='f',
            flavor_extra_specs={'a': '1'})])
        compute.upsert_instances(self.graph, [instance(
            project_id='other', pinned_az='', flavor_name='g')])
        self.assertEqual(['other'], [r['p'] for r in self.graph.run_autocommit(
            'MATCH (p:Project) RETURN p.external_id AS p')])
        self.assertEqual(0, self.labels('AvailabilityZone'))
        self.assertEqual(1, self.labels('Flavor'))
        self.assertEqual(0, self.labels('ExtraSpec'))

    def test_prune(self):
        compute.upsert_instances(self.graph, [
            instance(I1, updated_at=10.0), instance(I2, updated_at=10.0),
            instance(I3, updated_at=30.0)])
        self.assertEqual(1, compute.prune_instances(self.graph, [I1],
                                                    before=20.0))
        self.assertEqual([I1, I3], list(compute.get_all_instances(
            self.graph)))

    def test_purge_tombstones(self):
        compute.delete_instances(self.graph, [I1], deleted_at=100.0)
        compute.delete_instances(self.graph, [I2], deleted_at=300.0)
        gen = self.generation()
        self.assertEqual(1, tombstones.purge_tombstones(self.graph, 200.0))
        self.assertEqual(1, self.labels('Tombstone'))
        self.assertEqual(gen, self.generation())
        # Purged: a late update is no longer blocked.
        counts = compute.upsert_instances(self.graph,
                                          [instance(I1, updated_at=50.0)])
        self.assertEqual(1, counts.created)


class TestMigration(ComputeTestCase):

    def setUp(self):
        super().setUp()
        # N2 has room for 8 vcpus ((4 - 0) * 2.0).
        compute.upsert_compute_nodes(self.graph, [
            node(N1, vcpus=16), node(N2, vcpus=4), node(N3, vcpus=16)])
        compute.upsert_instances(self.graph, [
            instance(I1, N1, vcpus=6), instance(I2, N1, vcpus=6),
            instance(I3, None, vcpus=1)])

    def state(self):
        return (self.generation(), compute.get_compute_model(
            self.graph)['mapping'], compute.get_all_nodes_usage(self.graph))

    def test_migrate(self):
        gen = self.generation()
        before = {u: self.entity_generation(u) for u in (N1, N2, I1)}
        new = compute.migrate_instance(self.graph, I1, N1, N2,
                                       expected_generation=before[I1])
        self.assertEqual(before[I1] + 1, new)
        self.assertEqual(new, compute.get_instance_by_uuid(
            self.graph, I1).generation)
        self.assertEqual(gen + 1, self.generation())
        self.assertEqual(before[N1] + 1, self.entity_generation(N1))
        self.assertEqual(before[N2] + 1, self.entity_generation(N2))
        self.assertEqual(N2, compute.get_node_by_instance_uuid(
            self.graph, I1).uuid)
        self.assertEqual({'vcpu': 6, 'memory': 2048, 'disk': 20},
                         compute.get_node_used_resources(self.graph, N2))
        self.assertEqual({'vcpu': 2.0, 'memory': 46336.0, 'disk': 480.0},
                         compute.get_node_free_resources(self.graph, N2))

    def test_same_node_is_a_noop(self):
        state = self.state()
        gen = self.entity_generation(I1)
        self.assertEqual(gen, compute.migrate_instance(self.graph, I1, N1,
                                                       N1))
        self.assertEqual(state, self.state())

    def test_stale_generation(self):
        gen = self.entity_generation(I1)
        compute.upsert_instances(self.graph, [instance(I1, N1, vcpus=6,
                                                       state='paused')])
        state = self.state()
        exc = self.assertRaises(exception.Conflict, compute.migrate_instance,
                                self.graph, I1, N1, N3,
                                expected_generation=gen)
        self.assertEqual([I1], exc.conflicts)
        self.assertIn('generation', str(exc))
        self.assertEqual(state, self.state())

    def test_no_room(self):
        compute.migrate_instance(self.graph, I1, N1, N2)
        state = self.state()
        exc = self.assertRaises(exception.Conflict, compute.migrate_instance,
                                self.graph, I2, N1, N2)
        self.assertEqual([N2], exc.conflicts)
        self.assertIn('VCPU needs 6, 2.0 free', str(exc))
        self.assertEqual(state, self.state())
        # Unless the caller asks not to check.
        compute.migrate_instance(self.graph, I2, N1, N2,
                                 check_capacity=False)
        self.assertEqual(-4.0, compute.get_node_free_resources(
            self.graph, N2)['vcpu'])

    def test_not_on_source(self):
        state = self.state()
        self.assertRaises(exception.Conflict, compute.migrate_instance,
                          self.graph, I1, N3, N2)
        self.assertRaises(exception.Conflict, compute.migrate_instance,
                          self.graph, I3, N1, N2)
        self.assertEqual(state, self.state())

    def test_unknown(self):
        exc = self.assertRaises(exception.NotFound, compute.migrate_instance,
                                self.graph, 'ghost', N1, N2)
        self.assertIn('ghost', str(exc))
        exc = self.assertRaises(exception.NotFound, compute.migrate_instance,
                                self.graph, I1, N1, 'nowhere')
        self.assertIn('nowhere', str(exc))

    def test_concurrent_migrations_never_overcommit(self):
        # Both fit alone on N2, not together: exactly one wins.
        barrier = threading.Barrier(2)
        results = {}

        def move(uuid):
            barrier.wait()
            try:
                results[uuid] = compute.migrate_instance(self.graph, uuid,
                                                         N1, N2)
            except exception.Conflict as exc:
                results[uuid] = exc

        threads = [threading.Thread(target=move, args=(u,))
                   for u in (I1, I2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wins = [u for u, r in results.items() if isinstance(r, int)]
        self.assertEqual(1, len(wins), results)
        self.assertEqual(6, compute.get_node_used_resources(
            self.graph, N2)['vcpu'])

    def test_concurrent_same_generation(self):
        gen = self.entity_generation(I1)
        barrier = threading.Barrier(2)
        results = []

        def move(dest):
            barrier.wait()
            try:
                results.append(compute.migrate_instance(
                    self.graph, I1, N1, dest, expected_generation=gen))
            except exception.Conflict as exc:
                results.append(exc)

        threads = [threading.Thread(target=move, args=(d,))
                   for d in (N3, N3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(1, len([r for r in results if isinstance(r, int)]),
                         results)

    def test_map_and_unmap(self):
        gen = self.generation()
        compute.map_instance(self.graph, I3, N3)
        self.assertEqual(gen + 1, self.generation())
        self.assertEqual(N3, compute.get_node_by_instance_uuid(
            self.graph, I3).uuid)
        # Idempotent.
        compute.map_instance(self.graph, I3, N3)
        self.assertEqual(gen + 1, self.generation())
        self.assertRaises(exception.NotFound, compute.unmap_instance,
                          self.graph, I3, N1)
        compute.unmap_instance(self.graph, I3, N3)
        self.assertRaises(exception.NotFound,
                          compute.get_node_by_instance_uuid, self.graph, I3)
        self.assertEqual({'vcpu': 0, 'memory': 0, 'disk': 0},
                         compute.get_node_used_resources(self.graph, N3))
        self.assertRaises(exception.NotFound, compute.map_instance,
                          self.graph, I3, 'nowhere')


class TestReads(ComputeTestCase):

    def test_not_found_names_the_uuid(self):
        compute.upsert_compute_nodes(self.graph, [node(N1)])
        compute.upsert_instances(self.graph, [instance(I1, None)])
        for func, arg in ((compute.get_node_by_uuid, 'missing-node'),
                          (compute.get_node_by_name, 'missing-host'),
                          (compute.get_instance_by_uuid, 'missing-inst'),
                          (compute.get_node_by_instance_uuid, 'missing-i2'),
                          (compute.get_node_instances, 'missing-n2'),
                          (compute.get_node_used_resources, 'missing-n3'),
                          (compute.get_node_free_resources, 'missing-n4')):
            exc = self.assertRaises(exception.NotFound, func, self.graph,
                                    arg)
            self.assertIn(arg, str(exc))
            self.assertEqual(arg, exc.kwargs['ident'])
        # An instance is not a node, nor a node an instance.
        self.assertRaises(exception.NotFound, compute.get_node_by_uuid,
                          self.graph, I1)
        self.assertRaises(exception.NotFound, compute.get_instance_by_uuid,
                          self.graph, N1)
        exc = self.assertRaises(exception.NotFound,
                                compute.get_node_by_instance_uuid,
                                self.graph, I1)
        self.assertIn(I1, str(exc))

    def test_empty(self):
        self.assertEqual({}, compute.get_all_compute_nodes(self.graph))
        self.assertEqual({}, compute.get_all_instances(self.graph))
        self.assertEqual({}, compute.get_all_nodes_usage(self.graph))
        self.assertEqual({}, compute.get_instances_by_node(self.graph))
        self.assertEqual([], compute.find_nodes_with_capacity(
            self.graph, 'VCPU', 0))
        model = compute.get_compute_model(self.graph)
        self.assertEqual(([], [], {}), (model['nodes'], model['instances'],
                                        model['mapping']))

    def test_usage_and_capacity(self):
        compute.upsert_compute_nodes(self.graph, [
            node(N1, vcpus=10, vcpu_ratio=1.0, reserved=2),
            node(N2, vcpus=10, vcpu_ratio=4.0), node(N3, vcpus=1)])
        compute.upsert_instances(self.graph, [
            instance(I1, N1, vcpus=3), instance(I2, N1, vcpus=1),
            instance(I3, N2, vcpus=30)])
        self.assertEqual({'vcpu': 4, 'memory': 4096, 'disk': 40},
                         compute.get_node_used_resources(self.graph, N1))
        free = compute.get_node_free_resources(self.graph, N1)
        self.assertEqual({'vcpu': 4.0, 'memory': (32768 - 512) * 1.5 - 4096,
                          'disk': 460.0}, free)
        self.assertEqual([(N2, 10.0), (N1, 4.0), (N3, 2.0)],
                         compute.find_nodes_with_capacity(self.graph,
                                                          'VCPU', 1))
        self.assertEqual([(N2, 10.0)], compute.find_nodes_with_capacity(
            self.graph, 'VCPU', 5))
        usage = compute.get_all_nodes_usage(self.graph)
        self.assertEqual({N1, N2, N3}, set(usage))
        self.assertEqual({'vcpu': 0, 'memory': 0, 'disk': 0}, usage[N3])
        self.assertEqual(30, usage[N2]['vcpu'])

    def test_model_of_some_nodes(self):
        compute.upsert_compute_nodes(self.graph, [node(N1), node(N2)])
        compute.upsert_instances(self.graph, [
            instance(I1, N1), instance(I2, N2), instance(I3, None)])
        model = compute.get_compute_model(self.graph, [N2])
        self.assertEqual([N2], [n.uuid for n in model['nodes']])
        self.assertEqual([I2], [i.uuid for i in model['instances']])
        self.assertEqual({I2: N2}, model['mapping'])
        self.assertEqual(self.generation(), model['generation'])
        model = compute.get_compute_model(self.graph)
        self.assertEqual([I1, I2, I3], [i.uuid for i in model['instances']])

    def _plan_operators(self, query, **params):
        with self.graph._driver.session() as session:
            plan = session.run('EXPLAIN ' + query, params).consume().plan
        ops = []

        def walk(p):
            ops.append(p['operatorType'])
            for child in p.get('children', []):
                walk(child)
        walk(plan)
        return ops

    def test_single_node_reads_anchor_on_the_index(self):
        for query in (compute_reads.GET_NODE_BY_UUID,
                      compute_reads.GET_NODE_INSTANCES,
                      compute_usage.GET_NODE_USAGE,
                      compute_reads.GET_INSTANCE,
                      compute_reads.GET_NODE_OF_INSTANCE):
            ops = ' '.join(self._plan_operators(query, uuid='x'))
            self.assertIn('IndexSeek', ops, query)
            self.assertNotIn('AllNodesScan', ops, query)
            self.assertNotIn('NodeByLabelScan', ops, query)
        ops = ' '.join(self._plan_operators(compute_reads.GET_NODES_BY_NAME,
                                            name='x'))
        self.assertIn('IndexSeek', ops)
