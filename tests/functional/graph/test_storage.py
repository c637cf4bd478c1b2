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

"""The storage and baremetal graph APIs against the real Neo4j, and the
differential check against Watcher's own storage and baremetal models."""

import os

from lxml import etree
from watcher.decision_engine.model import model_root

from tachyon import exception
from tachyon.graph import baremetal
from tachyon.graph import common
from tachyon.graph import compute
from tachyon.graph import storage
from tachyon.model import records
from tachyon import watcher_xml
from tests.functional import base

DATA = os.path.join(os.path.dirname(model_root.__file__), '..', '..',
                    'tests', 'unit', 'decision_engine', 'model', 'data')
V1 = 'bbbbbbbb-0000-4000-8000-000000000001'
V2 = 'bbbbbbbb-0000-4000-8000-000000000002'
SERVER = 'aaaaaaaa-0000-4000-8000-000000000001'
NODE = '11111111-1111-4111-8111-111111111111'
IRONIC = 'cccccccc-0000-4000-8000-000000000001'


def _scenario(name):
    with open(os.path.join(DATA, name)) as xml:
        return xml.read()


def pool(name='host-1@lvm#p0', total=100, updated_at=None, **kw):
    return records.Pool(name=name, total_capacity_gb=total,
                        free_capacity_gb=total, updated_at=updated_at, **kw)


def volume(uuid=V1, size=10, pool_name='host-1@lvm#p0', updated_at=None,
           **kw):
    return records.Volume(uuid=uuid, name='vol-' + uuid[-1], size=size,
                          pool_name=pool_name, host=pool_name,
                          project_id='proj-1', updated_at=updated_at, **kw)


class StorageTestCase(base.FunctionalTestCase):

    def count(self, query, **params):
        return self.graph.run_autocommit(query, **params)[0]['n']

    def used_on(self, pool_name):
        return self.count(
            'MATCH (:ResourceProvider {name: $name})-[:HAS_INVENTORY]->'
            '(:Inventory)<-[r:CONSUMES]-() RETURN coalesce(sum(r.used), 0) '
            'AS n', name=pool_name)

    def generation(self):
        return self.graph.read(common.global_generation)


class TestStorageDifferential(StorageTestCase):
    """storage_scenario_1.xml in Neo4j equals Watcher's StorageModelRoot."""

    def setUp(self):
        super().setUp()
        self.xml = _scenario('storage_scenario_1.xml')
        self.watcher = model_root.StorageModelRoot.from_xml(self.xml)
        watcher_xml.import_model(self.graph, self.xml)

    def _compare(self, model):
        w_nodes = self.watcher.get_all_storage_nodes()
        nodes = {n.host: n for n in model['nodes']}
        self.assertEqual(set(w_nodes), set(nodes))
        for host, w in w_nodes.items():
            for field in ('zone', 'status', 'state', 'volume_type'):
                self.assertEqual(getattr(w, field),
                                 getattr(nodes[host], field), field)
            self.assertEqual(
                sorted(p.name for p in self.watcher.get_node_pools(w)),
                sorted(model['node_pools'][host]))
        pools = {p.name: p for p in model['pools']}
        w_pools = {p.name: p for n in w_nodes.values()
                   for p in self.watcher.get_node_pools(n)}
        self.assertEqual(set(w_pools), set(pools))
        for name, w in w_pools.items():
            for field in ('total_volumes', 'total_capacity_gb',
                          'free_capacity_gb', 'provisioned_capacity_gb',
                          'allocated_capacity_gb', 'virtual_free'):
                self.assertEqual(getattr(w, field),
                                 getattr(pools[name], field), field)
            self.assertEqual(
                sorted(v.uuid for v in self.watcher.get_pool_volumes(w)),
                sorted(model['pool_volumes'][name]))
        vols = {v.uuid: v for v in model['volumes']}
        w_vols = self.watcher.get_all_volumes()
        self.assertEqual(set(w_vols), set(vols))
        for uuid, w in w_vols.items():
            for field in ('size', 'status', 'attachments', 'name',
                          'project_id', 'metadata', 'volume_type',
                          'created_at', 'host', 'snapshot_id'):
                self.assertEqual(getattr(w, field),
                                 getattr(vols[uuid], field), field)

    def test_import_matches_watcher(self):
        self._compare(storage.get_storage_model(self.graph))
        # The top-level volume of the scenario is unmapped in both.
        unmapped = '4d1c952d-95d0-4aac-82aa-c3cb509af9f3'
        self.assertEqual('', storage.get_volume_by_uuid(
            self.graph, unmapped).pool_name)
        self.assertRaises(exception.NotFound, storage.get_pool_by_volume,
                          self.graph, unmapped)

    def test_booleans_are_parsed_not_coerced(self):
        # Watcher's from_xml turns bootable="false" into True (bool of a
        # non-empty string); Tachyon reads the attribute's meaning.
        root = etree.fromstring(self.xml.encode())
        expected = {el.get('uuid'): el.get('bootable') == 'true'
                    for el in root.iter('Volume')}
        vols = storage.get_all_volumes(self.graph)
        self.assertEqual(expected, {u: v.bootable for u, v in vols.items()})

    def test_export_reads_back_into_watcher_unchanged(self):
        text = watcher_xml.export_model(self.graph, kind='storage')
        again = model_root.StorageModelRoot.from_xml(text)
        self.assertTrue(model_root.StorageModelRoot.is_isomorphic(
            self.watcher, again))
        self.watcher = again
        self._compare(storage.get_storage_model(self.graph))

    def test_used_capacity_follows_volumes(self):
        self.assertEqual(80, self.used_on('host_0@backend_0#pool_0'))
        node = storage.get_node_by_pool_name(self.graph,
                                             'host_1@backend_1#pool_1')
        self.assertEqual('host_1@backend_1', node.host)

    def test_reimport_is_a_no_op(self):
        before = self.generation()
        kind, counts = watcher_xml.import_model(self.graph, self.xml)
        self.assertEqual('storage', kind)
        self.assertEqual(0, counts.changed)
        self.assertEqual(before, self.generation())


class TestStorageWrites(StorageTestCase):

    def setUp(self):
        super().setUp()
        storage.upsert_storage_nodes(self.graph, [records.StorageNode(
            host='host-1@lvm', zone='nova', volume_type=['fast ssd'])])
        storage.upsert_pools(self.graph, [pool()])

    def test_node_traits_zone_and_pool_parent(self):
        traits = self.graph.run_autocommit(
            'MATCH (:ResourceProvider {name: $h})-[:HAS_TRAIT]->(t) '
            'RETURN collect(t.name) AS names', h='host-1@lvm')[0]['names']
        self.assertEqual({'STORAGE_BACKEND', 'STORAGE_TYPE_FAST_SSD'},
                         set(traits))
        self.assertEqual(1, self.count(
            'MATCH (:ResourceProvider {name: $h})-[:LOCATED_IN]->'
            '(:AvailabilityZone {name: "nova"}) RETURN count(*) AS n',
            h='host-1@lvm'))
        self.assertEqual(['host-1@lvm#p0'], [
            p.name for p in storage.get_node_pools(self.graph, 'host-1@lvm')])

    def test_volume_consumes_and_resize_moves_usage(self):
        storage.upsert_volumes(self.graph, [volume(size=10, updated_at=1)])
        self.assertEqual(10, self.used_on('host-1@lvm#p0'))
        gen = storage.get_volume_by_uuid(self.graph, V1).generation
        storage.upsert_volumes(self.graph, [volume(size=25, updated_at=2)])
        self.assertEqual(25, self.used_on('host-1@lvm#p0'))
        self.assertEqual(gen + 1,
                         storage.get_volume_by_uuid(self.graph,
                                                    V1).generation)

    def test_older_update_skipped_duplicate_unchanged(self):
        storage.upsert_volumes(self.graph, [volume(size=10, updated_at=5)])
        gen = self.generation()
        counts = storage.upsert_volumes(self.graph,
                                        [volume(size=99, updated_at=4)])
        self.assertEqual(common.SyncCounts(skipped=1), counts)
        counts = storage.upsert_volumes(self.graph,
                                        [volume(size=10, updated_at=5)])
        self.assertEqual(common.SyncCounts(unchanged=1), counts)
        self.assertEqual(gen, self.generation())
        self.assertEqual(10, storage.get_volume_by_uuid(self.graph,
                                                        V1).size)

    def test_volume_before_its_pool_is_mapped_when_pool_arrives(self):
        storage.upsert_volumes(self.graph, [volume(
            pool_name='host-1@lvm#late', size=7)])
        self.assertEqual('', storage.get_volume_by_uuid(self.graph,
                                                        V1).pool_name)
        storage.upsert_pools(self.graph, [pool('host-1@lvm#late')])
        self.assertEqual('host-1@lvm#late', storage.get_pool_by_volume(
            self.graph, V1).name)
        self.assertEqual(7, self.used_on('host-1@lvm#late'))

    def test_attached_to_existing_instance(self):
        inv = {rc: records.Inventory(rc, total=100)
               for rc in records.COMPUTE_RESOURCE_CLASSES}
        compute.upsert_compute_nodes(self.graph, [records.ComputeNode(
            uuid=NODE, hostname='c1', inventories=inv)])
        compute.upsert_instances(self.graph, [records.Instance(
            uuid=SERVER, node_uuid=NODE, vcpus=1, memory=1, disk=1)])
        storage.upsert_volumes(self.graph, [volume(attachments=[
            {'server_id': SERVER, 'attachment_id': 'a1'}])])
        self.assertEqual(1, self.count(
            'MATCH (:Consumer {uuid: $v})-[:ATTACHED_TO]->'
            '(:Consumer {uuid: $s}) RETURN count(*) AS n', v=V1, s=SERVER))

    def test_delete_leaves_tombstone_and_no_orphan_project(self):
        storage.upsert_volumes(self.graph, [volume(updated_at=10)])
        self.assertEqual(1, storage.delete_volumes(self.graph, [V1],
                                                   deleted_at=20))
        self.assertEqual(0, self.count(
            'MATCH (p:Project {external_id: "proj-1"}) RETURN count(p) '
            'AS n'))
        counts = storage.upsert_volumes(self.graph,
                                        [volume(updated_at=15)])
        self.assertEqual(common.SyncCounts(skipped=1), counts)
        self.assertRaises(exception.NotFound, storage.get_volume_by_uuid,
                          self.graph, V1)

    def test_delete_pool_removes_inventory_and_unmaps_volumes(self):
        storage.upsert_volumes(self.graph, [volume()])
        storage.delete_pools(self.graph, [records.pool_uuid(
            'host-1@lvm#p0')])
        self.assertEqual(0, self.count(
            'MATCH (i:Inventory {resource_class: "DISK_GB"}) '
            'RETURN count(i) AS n'))
        self.assertEqual('', storage.get_volume_by_uuid(self.graph,
                                                        V1).pool_name)

    def test_prune_spares_kept_and_newer(self):
        storage.upsert_volumes(self.graph, [volume(V1, updated_at=1),
                                            volume(V2, updated_at=1)])
        self.assertEqual(1, storage.prune_volumes(self.graph, [V1], 5))
        self.assertEqual({V1}, set(storage.get_all_volumes(self.graph)))

    def test_bad_pool_name_writes_nothing(self):
        gen = self.generation()
        exc = self.assertRaises(exception.InvalidParameter,
                                storage.upsert_pools, self.graph,
                                [pool('host-2@lvm#ok'), pool('no-hash')])
        self.assertIn('name', str(exc))
        self.assertRaises(exception.NotFound, storage.get_pool_by_pool_name,
                          self.graph, 'host-2@lvm#ok')
        self.assertEqual(gen, self.generation())

    def test_unknown_names_are_not_found(self):
        self.assertRaises(exception.NotFound, storage.get_node_by_name,
                          self.graph, 'nope@x')
        self.assertRaises(exception.NotFound, storage.get_pool_volumes,
                          self.graph, 'nope@x#y')


class TestBaremetal(StorageTestCase):

    def test_scenario_matches_watcher(self):
        xml = _scenario('ironic_scenario_1.xml')
        watcher = model_root.BaremetalModelRoot.from_xml(xml)
        watcher_xml.import_model(self.graph, xml)
        nodes = baremetal.get_all_ironic_nodes(self.graph)
        w_nodes = watcher.get_all_ironic_nodes()
        self.assertEqual(set(w_nodes), set(nodes))
        root = etree.fromstring(xml.encode())
        for el in root.iter('IronicNode'):
            node = nodes[el.get('uuid')]
            self.assertEqual(w_nodes[node.uuid].power_state,
                             node.power_state)
            self.assertFalse(node.maintenance)
            self.assertIsNone(node.maintenance_reason)
            self.assertEqual(
                {c.tag: c.text.strip() for c in el.find('extra')},
                node.extra)
        # Export and read back into Watcher.
        again = model_root.BaremetalModelRoot.from_xml(
            watcher_xml.export_model(self.graph, kind='baremetal'))
        self.assertTrue(model_root.BaremetalModelRoot.is_isomorphic(
            watcher, again))
        self.assertEqual(set(w_nodes), set(again.get_all_ironic_nodes()))

    def test_upsert_inventory_delete_and_tombstone(self):
        node = records.IronicNode(
            uuid=IRONIC, human_id='bm-1', power_state='power on',
            resource_class='baremetal.gold', extra={'rack': 'r1'},
            inventories={'CUSTOM_BAREMETAL_GOLD': records.Inventory(
                'CUSTOM_BAREMETAL_GOLD', total=1)},
            updated_at=10)
        counts = baremetal.upsert_ironic_nodes(self.graph, [node])
        self.assertEqual(1, counts.created)
        stored = baremetal.get_node_by_uuid(self.graph, IRONIC)
        self.assertEqual({'rack': 'r1'}, stored.extra)
        self.assertEqual(1, stored.inventories[
            'CUSTOM_BAREMETAL_GOLD'].total)
        self.assertEqual(1, self.count(
            'MATCH (:ResourceProvider {uuid: $u})-[:HAS_TRAIT]->'
            '(:Trait {name: "COMPUTE_BAREMETAL"}) RETURN count(*) AS n',
            u=IRONIC))
        node.maintenance, node.updated_at = True, 11
        baremetal.upsert_ironic_nodes(self.graph, [node])
        self.assertTrue(baremetal.get_node_by_uuid(self.graph,
                                                   IRONIC).maintenance)
        self.assertEqual(1, baremetal.delete_ironic_nodes(
            self.graph, [IRONIC], deleted_at=12))
        self.assertEqual(0, self.count(
            'MATCH (i:Inventory {provider_uuid: $u}) RETURN count(i) AS n',
            u=IRONIC))
        node.updated_at = 11.5
        self.assertEqual(common.SyncCounts(skipped=1),
                         baremetal.upsert_ironic_nodes(self.graph, [node]))
        self.assertRaises(exception.NotFound, baremetal.get_node_by_uuid,
                          self.graph, IRONIC)
