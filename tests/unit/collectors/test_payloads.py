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

"""API payloads -> records, checked against what Watcher's collectors
build (same fields, same numbers)."""

import copy

from tachyon.collectors import payloads
from tachyon import exception
from tachyon.model import records
from tests import base

NODE_UUID = '2c1e6f5d-66d1-4c3e-9d29-8f5c2e7a1b10'
SERVER_UUID = '73b09e16-35b7-4922-804e-e8f5d9b740fc'
VOLUME_UUID = '6edbc2f4-1507-44f8-ac0d-eed1d2608d38'
IRONIC_UUID = '1be26c0b-03f2-4d2e-ae87-c02d7f33c123'

HYPERVISOR = {
    'id': NODE_UUID,
    'hypervisor_hostname': 'compute-1.example.org',
    'hypervisor_type': 'QEMU',
    'hypervisor_version': 8002000,
    'host_ip': '192.0.2.11',
    'state': 'up',
    'status': 'disabled',
    'service': {'host': 'compute-1', 'id': 'a1f4f3b0-4c4e-4c59-9e0e-'
                '1b8c7d0e3f11', 'disabled_reason': 'maintenance'},
    'vcpus': 40, 'memory_mb': 128000, 'local_gb': 500,
    'vcpus_used': 4, 'memory_mb_used': 8704, 'local_gb_used': 40,
    'running_vms': 2,
}

PLACEMENT_INVENTORIES = {
    'resource_provider_generation': 7,
    'inventories': {
        'VCPU': {'total': 48, 'reserved': 2, 'min_unit': 1, 'max_unit': 48,
                 'step_size': 1, 'allocation_ratio': 16.0},
        'MEMORY_MB': {'total': 131072, 'reserved': 512, 'min_unit': 1,
                      'max_unit': 131072, 'step_size': 1,
                      'allocation_ratio': 1.5},
        'DISK_GB': {'total': 1024, 'reserved': 10, 'min_unit': 1,
                    'max_unit': 1024, 'step_size': 2,
                    'allocation_ratio': 1.0},
    },
}

SERVER = {
    'id': SERVER_UUID,
    'name': 'web-1',
    'status': 'ACTIVE',
    'tenant_id': '6f70656e737461636b20342065766572',
    'user_id': 'fake',
    'metadata': {'optimize': 'true'},
    'image': {'id': '70a599e0-31e7-49b7-b260-868f441e862b', 'links': []},
    'flavor': {'vcpus': 2, 'ram': 4096, 'disk': 40, 'ephemeral': 5,
               'swap': 1536, 'original_name': 'm1.custom',
               'extra_specs': {'hw:cpu_policy': 'dedicated'}},
    'created': '2025-01-15T09:35:00Z',
    'locked': True,
    'OS-EXT-STS:vm_state': 'active',
    'OS-EXT-SRV-ATTR:host': 'compute-1',
    'OS-EXT-SRV-ATTR:hypervisor_hostname': 'compute-1.example.org',
    'os-extended-volumes:volumes_attached': [],
    'pinned_availability_zone': 'az-2',
}


class TestComputeNode(base.TestCase):

    def test_from_placement_inventories(self):
        invs = payloads.inventories_from_placement(PLACEMENT_INVENTORIES,
                                                   NODE_UUID)
        node = payloads.compute_node(
            HYPERVISOR, invs, ['HW_CPU_X86_AVX2'],
            {'host': 'compute-1', 'zone': 'az-1'},
            [{'id': 3, 'name': 'ssd'}], updated_at=12.5)
        self.assertEqual(NODE_UUID, node.uuid)
        # Watcher names the node after its compute service's host.
        self.assertEqual('compute-1', node.hostname)
        self.assertEqual('compute-1', node.service_host)
        self.assertEqual(('disabled', 'up', 'maintenance'),
                         (node.status, node.state, node.disabled_reason))
        self.assertEqual(records.Inventory('VCPU', 48, 2, 16.0, 1, 48, 1),
                         node.inventories['VCPU'])
        self.assertEqual(records.Inventory('MEMORY_MB', 131072, 512, 1.5,
                                           1, 131072, 1),
                         node.inventories['MEMORY_MB'])
        self.assertEqual(records.Inventory('DISK_GB', 1024, 10, 1.0, 1,
                                           1024, 2),
                         node.inventories['DISK_GB'])
        self.assertEqual(['HW_CPU_X86_AVX2'], node.traits)
        self.assertEqual('az-1', node.availability_zone)
        self.assertEqual([{'id': 3, 'name': 'ssd'}], node.aggregates)
        self.assertEqual(12.5, node.updated_at)
        self.assertFalse(node.placeholder)

    def test_without_placement_falls_back_on_hypervisor(self):
        # Watcher: no inventory -> the hypervisor's figures, reserved 0,
        # ratio 1.0.
        node = payloads.compute_node(HYPERVISOR, None)
        self.assertEqual(records.Inventory('VCPU', 40, 0, 1.0, 1, 40, 1),
                         node.inventories['VCPU'])
        self.assertEqual(128000, node.inventories['MEMORY_MB'].total)
        self.assertEqual(500, node.inventories['DISK_GB'].total)
        self.assertIsNone(node.availability_zone)

    def test_partial_placement(self):
        invs = payloads.inventories_from_placement(
            {'inventories': {'VCPU': {'total': 8}}}, NODE_UUID)
        node = payloads.compute_node(HYPERVISOR, invs)
        self.assertEqual(records.Inventory('VCPU', 8, 0, 1.0, 1, 8, 1),
                         node.inventories['VCPU'])
        self.assertEqual(128000, node.inventories['MEMORY_MB'].total)

    def test_old_microversion_id_is_malformed(self):
        hyp = dict(HYPERVISOR, id=3)
        exc = self.assertRaises(exception.MalformedEntity,
                                payloads.compute_node, hyp)
        self.assertEqual('3', exc.ident)

    def test_missing_state(self):
        hyp = dict(HYPERVISOR)
        del hyp['state']
        exc = self.assertRaises(exception.MalformedEntity,
                                payloads.compute_node, hyp)
        self.assertEqual(NODE_UUID, exc.ident)
        self.assertIn("'state'", str(exc))

    def test_malformed_inventories(self):
        for body in ([], {'inventories': []},
                     {'inventories': {'VCPU': {'total': 'many'}}},
                     {'inventories': {'VCPU': {'reserved': 1}}},
                     {'inventories': {'VCPU': {'total': True}}}):
            self.assertRaises(exception.MalformedEntity,
                              payloads.inventories_from_placement, body,
                              NODE_UUID)

    def test_traits(self):
        self.assertEqual(['A', 'B'], payloads.traits_from_placement(
            {'traits': ['B', 'A'], 'resource_provider_generation': 1},
            NODE_UUID))
        self.assertRaises(exception.MalformedEntity,
                          payloads.traits_from_placement, {'traits': [1]},
                          NODE_UUID)

    def test_baremetal_hypervisor(self):
        self.assertTrue(payloads.is_baremetal_hypervisor(
            dict(HYPERVISOR, hypervisor_type='ironic')))
        self.assertFalse(payloads.is_baremetal_hypervisor(HYPERVISOR))

    def test_aggregates_by_host(self):
        aggs = [payloads.aggregate(a) for a in (
            {'id': 2, 'name': 'b', 'hosts': ['h1', 'h2']},
            {'id': 1, 'name': 'a', 'hosts': ['h1']},
            {'id': 3, 'name': 'empty', 'hosts': None})]
        self.assertEqual({'h1': [{'id': 1, 'name': 'a'},
                                 {'id': 2, 'name': 'b'}],
                          'h2': [{'id': 2, 'name': 'b'}]},
                         payloads.aggregates_by_host(aggs))
        self.assertRaises(exception.MalformedEntity, payloads.aggregate,
                          {'id': 4, 'hosts': []})


class TestInstance(base.TestCase):

    def test_image_backed(self):
        inst = payloads.instance(SERVER, NODE_UUID, updated_at=3.0)
        self.assertEqual(SERVER_UUID, inst.uuid)
        self.assertEqual('web-1', inst.name)
        self.assertEqual('active', inst.state)
        self.assertEqual(2, inst.vcpus)
        self.assertEqual(4096, inst.memory)
        # root 40 + ephemeral 5 + ceil(1536 MB / 1024) = 47
        self.assertEqual(47, inst.disk)
        self.assertEqual({'optimize': 'true'}, inst.metadata)
        self.assertEqual('6f70656e737461636b20342065766572',
                         inst.project_id)
        self.assertTrue(inst.locked)
        self.assertEqual('compute-1', inst.host)
        self.assertEqual('compute-1.example.org', inst.hypervisor_hostname)
        self.assertEqual('2025-01-15T09:35:00Z', inst.created)
        self.assertEqual({'hw:cpu_policy': 'dedicated'},
                         inst.flavor_extra_specs)
        self.assertEqual('m1.custom', inst.flavor_name)
        self.assertEqual(NODE_UUID, inst.node_uuid)
        self.assertEqual('compute-1', inst.node_name)
        self.assertEqual(3.0, inst.updated_at)
        self.assertFalse(inst.watcher_exclude)

    def test_boot_from_volume_has_no_root_disk(self):
        for image in ('', None, {}, {'id': None}):
            server = dict(SERVER, image=image)
            self.assertEqual(5 + 2, payloads.instance(server).disk)

    def test_swap_rounds_up(self):
        for swap, expected in ((0, 0), (1, 1), (1024, 1), (1025, 2),
                               ('', 0)):
            server = copy.deepcopy(SERVER)
            server['flavor'].update(swap=swap, ephemeral=0)
            self.assertEqual(40 + expected, payloads.instance(server).disk)

    def test_pinned_az_only_from_2_96(self):
        self.assertEqual('', payloads.instance(SERVER).pinned_az)
        self.assertEqual('az-2', payloads.instance(
            SERVER, microversion=(2, 96)).pinned_az)
        server = dict(SERVER, pinned_availability_zone=None)
        self.assertEqual('', payloads.instance(
            server, microversion=(2, 96)).pinned_az)

    def test_unmapped(self):
        server = dict(SERVER)
        server['OS-EXT-SRV-ATTR:host'] = None
        server['OS-EXT-SRV-ATTR:hypervisor_hostname'] = None
        inst = payloads.instance(server)
        self.assertIsNone(inst.node_uuid)
        self.assertIsNone(inst.node_name)

    def test_flavor_not_embedded(self):
        server = dict(SERVER, flavor={'id': '1', 'links': []})
        exc = self.assertRaises(exception.MalformedEntity,
                                payloads.instance, server)
        self.assertIn('2.47', str(exc))
        self.assertEqual(SERVER_UUID, exc.ident)

    def test_wrong_types(self):
        for change in ({'flavor': 'm1.small'}, {'id': 'not-a-uuid'},
                       {'locked': 'yes'}, {'metadata': []},
                       {'OS-EXT-STS:vm_state': None}):
            server = dict(SERVER, **change)
            self.assertRaises(exception.MalformedEntity, payloads.instance,
                              server)
        server = copy.deepcopy(SERVER)
        server['flavor']['vcpus'] = '2'
        self.assertRaises(exception.MalformedEntity, payloads.instance,
                          server)
        self.assertRaises(exception.MalformedEntity, payloads.instance,
                          ['not', 'a', 'server'])

    def test_deleted(self):
        self.assertTrue(payloads.server_is_deleted(
            dict(SERVER, **{'OS-EXT-STS:vm_state': 'deleted'})))
        self.assertFalse(payloads.server_is_deleted(SERVER))


class TestCinder(base.TestCase):

    TYPES = [
        {'id': 'a', 'name': 'fast', 'extra_specs': {
            'volume_backend_name': 'ceph'}},
        {'id': 'b', 'name': 'slow', 'extra_specs': {
            'volume_backend_name': 'lvm'}},
        {'id': 'c', 'name': 'default', 'extra_specs': {}},
        {'id': 'd', 'name': 'fast2', 'extra_specs': {
            'volume_backend_name': 'ceph'}},
    ]

    def test_storage_node_volume_types_of_backend(self):
        types = payloads.volume_types_by_backend(self.TYPES)
        node = payloads.storage_node(
            {'binary': 'cinder-volume', 'host': 'stor-1@ceph',
             'zone': 'nova', 'status': 'enabled', 'state': 'up'},
            types, updated_at=4.0)
        self.assertEqual('stor-1@ceph', node.host)
        self.assertEqual('nova', node.zone)
        self.assertEqual(['fast', 'fast2'], node.volume_type)
        self.assertEqual(records.storage_node_uuid('stor-1@ceph'),
                         node.uuid)
        self.assertEqual(4.0, node.updated_at)
        # A host without backend gets the types of backend "".
        node = payloads.storage_node(
            {'host': 'stor-2', 'zone': 'nova', 'status': 'enabled',
             'state': 'down'}, types)
        self.assertEqual([], node.volume_type)

    def test_storage_node_missing_host(self):
        self.assertRaises(exception.MalformedEntity, payloads.storage_node,
                          {'zone': 'nova', 'status': 'enabled',
                           'state': 'up'})

    def test_pool(self):
        pool = payloads.pool({'name': 'stor-1@ceph#rbd', 'capabilities': {
            'total_capacity_gb': 1000.75, 'free_capacity_gb': '400.2',
            'allocated_capacity_gb': 550, 'provisioned_capacity_gb': 600,
            'total_volumes': 12, 'pool_name': 'rbd'}}, updated_at=5.0)
        self.assertEqual(
            ('stor-1@ceph#rbd', 1000, 400, 550, 600, 12),
            (pool.name, pool.total_capacity_gb, pool.free_capacity_gb,
             pool.allocated_capacity_gb, pool.provisioned_capacity_gb,
             pool.total_volumes))
        self.assertEqual('stor-1@ceph', pool.node_host)
        self.assertEqual(records.pool_uuid('stor-1@ceph#rbd'), pool.uuid)
        self.assertEqual(0, pool.virtual_free)

    def test_pool_optional_capacities(self):
        pool = payloads.pool({'name': 'h@b#p', 'capabilities': {
            'total_capacity_gb': 10, 'free_capacity_gb': 4,
            'allocated_capacity_gb': 3}})
        self.assertEqual(3, pool.provisioned_capacity_gb)
        self.assertEqual(0, pool.total_volumes)

    def test_pool_unknown_capacity_is_malformed(self):
        for caps in ({'total_capacity_gb': 'unknown',
                      'free_capacity_gb': 1},
                     {'total_capacity_gb': 10, 'free_capacity_gb':
                      'infinite'},
                     {'free_capacity_gb': 1},
                     {'total_capacity_gb': -1, 'free_capacity_gb': 1}):
            exc = self.assertRaises(exception.MalformedEntity, payloads.pool,
                                    {'name': 'h@b#p', 'capabilities': caps})
            self.assertEqual('h@b#p', exc.ident)

    def test_volume(self):
        vol = payloads.volume({
            'id': VOLUME_UUID, 'name': None, 'size': 20,
            'status': 'in-use', 'bootable': 'true', 'multiattach': False,
            'attachments': [{'id': VOLUME_UUID, 'attachment_id': 'att-1',
                             'server_id': SERVER_UUID,
                             'device': '/dev/vdb', 'host_name': None}],
            'volume_type': 'fast', 'snapshot_id': None,
            'metadata': {'k': 'v'},
            'created_at': '2025-01-15T09:40:00.000000',
            'os-vol-host-attr:host': 'stor-1@ceph#rbd',
            'os-vol-tenant-attr:tenant_id': 'proj'}, updated_at=6.0)
        self.assertEqual(VOLUME_UUID, vol.uuid)
        self.assertEqual('', vol.name)
        self.assertEqual(20, vol.size)
        # Watcher keeps only server_id and attachment_id.
        self.assertEqual([{'attachment_id': 'att-1',
                           'server_id': SERVER_UUID}], vol.attachments)
        self.assertTrue(vol.bootable)
        self.assertEqual('', vol.snapshot_id)
        self.assertEqual('proj', vol.project_id)
        self.assertEqual('stor-1@ceph#rbd', vol.host)
        self.assertEqual('stor-1@ceph#rbd', vol.pool_name)
        self.assertEqual({'k': 'v'}, vol.metadata)
        self.assertEqual('fast', vol.volume_type)
        self.assertEqual(6.0, vol.updated_at)

    def test_volume_bootable_false_and_unmapped(self):
        vol = payloads.volume({'id': VOLUME_UUID, 'size': 1,
                               'status': 'available', 'bootable': 'false',
                               'os-vol-host-attr:host': None})
        self.assertFalse(vol.bootable)
        self.assertIsNone(vol.pool_name)

    def test_volume_malformed(self):
        good = {'id': VOLUME_UUID, 'size': 1, 'status': 'available'}
        for change in ({'size': '1'}, {'size': None}, {'bootable': 'maybe'},
                       {'attachments': ['x']}, {'id': 'nope'}):
            self.assertRaises(exception.MalformedEntity, payloads.volume,
                              dict(good, **change))


class TestIronic(base.TestCase):

    NODE = {
        'uuid': IRONIC_UUID, 'name': 'bm-1', 'power_state': 'power on',
        'provision_state': 'available', 'maintenance': False,
        'maintenance_reason': None, 'resource_class': 'baremetal.gold',
        'extra': {'compute_node_id': NODE_UUID}, 'instance_uuid': None,
    }

    def test_node(self):
        node = payloads.ironic_node(self.NODE, updated_at=7.0)
        self.assertEqual(IRONIC_UUID, node.uuid)
        self.assertEqual('bm-1', node.human_id)
        self.assertEqual('power on', node.power_state)
        self.assertFalse(node.maintenance)
        self.assertEqual({'compute_node_id': NODE_UUID}, node.extra)
        self.assertEqual('baremetal.gold', node.resource_class)
        self.assertEqual('available', node.provision_state)
        self.assertEqual(
            {'CUSTOM_BAREMETAL_GOLD': records.Inventory(
                'CUSTOM_BAREMETAL_GOLD', 1, 0, 1.0, 1, 1, 1)},
            node.inventories)
        self.assertEqual(7.0, node.updated_at)

    def test_reserved_when_unavailable(self):
        for change in ({'maintenance': True, 'maintenance_reason': 'disk'},
                       {'power_state': 'error'},
                       {'provision_state': 'manageable'}):
            node = payloads.ironic_node(dict(self.NODE, **change))
            self.assertEqual(1, node.inventories[
                'CUSTOM_BAREMETAL_GOLD'].reserved)
        # In use: not reserved even in maintenance.
        node = payloads.ironic_node(dict(
            self.NODE, maintenance=True, provision_state='active',
            instance_uuid=SERVER_UUID))
        self.assertEqual(0, node.inventories[
            'CUSTOM_BAREMETAL_GOLD'].reserved)

    def test_no_resource_class(self):
        node = payloads.ironic_node(dict(self.NODE, resource_class=None))
        self.assertEqual({}, node.inventories)

    def test_malformed(self):
        for change in ({'uuid': None}, {'maintenance': 'no'},
                       {'extra': 'x'}):
            self.assertRaises(exception.MalformedEntity,
                              payloads.ironic_node,
                              dict(self.NODE, **change))


class TestMicroversion(base.TestCase):

    def test_parse(self):
        self.assertEqual((2, 56), payloads.parse_microversion('2.56'))
        self.assertEqual((3, 0), payloads.parse_microversion('3'))
        self.assertRaises(ValueError, payloads.parse_microversion, 'x.y')
