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

"""Notifications into the real Neo4j: order, duplicates, tombstones."""

import random

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from tachyon.graph import baremetal
from tachyon.graph import common
from tachyon.graph import compute
from tachyon.graph import storage
from tachyon.model import records
from tachyon.notifications import listener
from tests.functional import base
from tests import notification_payloads as p

T0 = 1.79e9
I1 = '11111111-1111-4111-8111-111111111111'
I2 = '22222222-2222-4222-8222-222222222222'
V1 = '33333333-3333-4333-8333-333333333333'
B1 = '44444444-4444-4444-8444-444444444444'


def _node(uuid, name, vcpus=64):
    invs = {rc: records.Inventory(rc, total=total, max_unit=total)
            for rc, total in (('VCPU', vcpus), ('MEMORY_MB', 262144),
                              ('DISK_GB', 2000))}
    return records.ComputeNode(uuid=uuid, hostname=name, inventories=invs,
                               service_host=name)


class NotificationsTestCase(base.FunctionalTestCase):

    def setUp(self):
        super().setUp()
        # No OpenStack APIs here: unknown nodes become placeholders.
        self.flags(group='notifications', enrich_from_apis=False,
                   requeue_delay=0)
        self.processor = listener.Processor(
            self.conf, self.graph, listener.load_handlers(self.conf))
        compute.upsert_compute_nodes(self.graph, [
            _node('aaaaaaaa-0000-4000-8000-000000000001', 'compute-1'),
            _node('aaaaaaaa-0000-4000-8000-000000000002', 'compute-2')])

    def process(self, *notes):
        self.assertEqual(listener.ACK, self.processor.process(list(notes)))

    def generation(self):
        return self.graph.read(common.global_generation)


class TestNovaEvents(NotificationsTestCase):

    def test_create_maps_instance_with_watcher_amounts(self):
        self.process(p.note('instance.create.end', p.nova_instance(
            I1, host='compute-1', vcpus=4, memory_mb=4096, root_gb=40,
            ephemeral_gb=5, swap=1536, extra_specs={'hw:cpu': 'x'}),
            at=T0))
        inst = compute.get_instance_by_uuid(self.graph, I1)
        self.assertEqual((4, 4096, 40 + 5 + 2),
                         (inst.vcpus, inst.memory, inst.disk))
        self.assertEqual('aaaaaaaa-0000-4000-8000-000000000001',
                         inst.node_uuid)
        self.assertEqual({'hw:cpu': 'x'}, inst.flavor_extra_specs)
        used = compute.get_node_used_resources(
            self.graph, 'aaaaaaaa-0000-4000-8000-000000000001')
        self.assertEqual({'vcpu': 4, 'memory': 4096, 'disk': 47}, used)

    def test_boot_from_volume_counts_no_root_disk(self):
        self.process(p.note('instance.create.end', p.nova_instance(
            I1, root_gb=40, ephemeral_gb=1, image=False), at=T0))
        self.assertEqual(1, compute.get_instance_by_uuid(self.graph,
                                                         I1).disk)

    def test_live_migration_moves_and_rollback_moves_back(self):
        self.process(p.note('instance.create.end',
                            p.nova_instance(I1, host='compute-1'), at=T0))
        self.process(p.note('instance.live_migration_post_dest.end',
                            p.nova_instance(I1, host='compute-2'),
                            at=T0 + 1))
        self.assertEqual('compute-2', compute.get_node_by_instance_uuid(
            self.graph, I1).hostname)
        self.process(p.note('instance.live_migration_rollback.end',
                            p.nova_instance(I1, host='compute-1'),
                            at=T0 + 2))
        self.assertEqual('compute-1', compute.get_node_by_instance_uuid(
            self.graph, I1).hostname)

    def test_older_event_never_overwrites_newer_state(self):
        self.process(p.note('instance.power_off.end',
                            p.nova_instance(I1, state='stopped'),
                            at=T0 + 10))
        self.process(p.note('instance.power_on.end',
                            p.nova_instance(I1, state='active'), at=T0))
        self.assertEqual('stopped',
                         compute.get_instance_by_uuid(self.graph, I1).state)

    def test_duplicate_is_a_no_op(self):
        event = p.note('instance.update', p.nova_instance(I1), at=T0)
        self.process(event)
        before = self.generation()
        inst = compute.get_instance_by_uuid(self.graph, I1)
        self.process(event)
        self.assertEqual(before, self.generation())
        self.assertEqual(inst.generation, compute.get_instance_by_uuid(
            self.graph, I1).generation)

    def test_delete_tombstone_stops_a_late_update(self):
        self.process(p.note('instance.create.end', p.nova_instance(I1),
                            at=T0))
        self.process(p.note('instance.delete.end', p.nova_instance(
            I1, state='deleted'), at=T0 + 5))
        self.process(p.note('instance.update', p.nova_instance(I1),
                            at=T0 + 3))
        self.assertNotIn(I1, compute.get_all_instances(self.graph))

    def test_restore_overtaking_its_soft_delete_wins(self):
        self.process(p.note('instance.restore.end', p.nova_instance(I1),
                            at=T0 + 5))
        self.process(p.note('instance.soft_delete.end', p.nova_instance(
            I1, state='soft-delete'), at=T0 + 4))
        self.assertIn(I1, compute.get_all_instances(self.graph))

    def test_building_update_ignored_and_payload_fields_kept(self):
        compute.upsert_instances(self.graph, [records.Instance(
            uuid=I1, name='s', watcher_exclude=True, pinned_az='az9',
            node_name='compute-1', vcpus=1, memory=1, disk=1)])
        self.process(p.note('instance.update', p.nova_instance(
            I1, state='building', vcpus=8), at=T0))
        self.assertEqual(1, compute.get_instance_by_uuid(self.graph,
                                                         I1).vcpus)
        self.process(p.note('instance.update', p.nova_instance(
            I1, vcpus=8), at=T0 + 1))
        inst = compute.get_instance_by_uuid(self.graph, I1)
        self.assertEqual((8, True, 'az9'),
                         (inst.vcpus, inst.watcher_exclude, inst.pinned_az))

    def test_service_update_and_placeholder_completed_by_sync(self):
        self.process(p.note('service.update', p.nova_service(
            'compute-1', disabled=True, reason='maint', forced_down=True),
            at=T0))
        node = compute.get_node_by_name(self.graph, 'compute-1')
        self.assertEqual(('disabled', 'down', 'maint'),
                         (node.status, node.state, node.disabled_reason))
        # An unknown host: a placeholder, mapped, until a sync finds it.
        self.process(p.note('instance.create.end',
                            p.nova_instance(I2, host='compute-9'), at=T0))
        ghost = compute.get_node_by_name(self.graph, 'compute-9')
        self.assertTrue(ghost.placeholder)
        self.assertEqual(ghost.uuid, compute.get_instance_by_uuid(
            self.graph, I2).node_uuid)
        real = _node('bbbbbbbb-0000-4000-8000-000000000009', 'compute-9')
        compute.upsert_compute_nodes(self.graph, [real])
        compute.upsert_instances(self.graph, [records.Instance(
            uuid=I2, node_uuid=real.uuid, vcpus=2, memory=2048, disk=20)])
        compute.prune_compute_nodes(
            self.graph, ['aaaaaaaa-0000-4000-8000-000000000001',
                         'aaaaaaaa-0000-4000-8000-000000000002', real.uuid],
            before=T0 - 100)
        self.assertEqual(real.uuid, compute.get_node_by_name(
            self.graph, 'compute-9').uuid)
        self.assertEqual(real.uuid, compute.get_instance_by_uuid(
            self.graph, I2).node_uuid)

    def test_service_delete_and_other_binaries(self):
        self.process(p.note('service.update', p.nova_service(
            'conductor-1', binary='nova-conductor'), at=T0))
        self.assertEqual(2, len(compute.get_all_compute_nodes(self.graph)))
        self.process(p.note('service.delete', p.nova_service('compute-2'),
                            at=T0))
        self.assertEqual(['compute-1'], [
            n.hostname for n in compute.get_all_compute_nodes(
                self.graph).values()])

    def test_malformed_dropped_the_rest_of_the_batch_applied(self):
        bad = p.nova_instance(I1)
        del bad['nova_object.data']['flavor']
        wrong_version = p.nova_instance(I2, version='3.0')
        with self.assertLogs('tachyon.notifications.listener',
                             'WARNING') as logs:
            self.process(p.note('instance.update', bad, at=T0,
                                message_id='m-bad'),
                         p.note('instance.update', wrong_version, at=T0,
                                message_id='m-version'),
                         p.note('instance.create.end',
                                p.nova_instance(I2), at=T0 + 1))
        self.assertEqual([I2], list(compute.get_all_instances(self.graph)))
        text = '\n'.join(logs.output)
        self.assertIn('m-bad', text)
        self.assertIn("has no 'flavor'", text)
        self.assertIn('unknown payload version 3.0', text)
        self.assertEqual(2, self.processor.counts['malformed'])

    def test_unknown_event_types_do_no_work(self):
        self.process(p.note('instance.exists', p.nova_instance(I1), at=T0))
        self.assertEqual({}, compute.get_all_instances(self.graph))
        self.assertEqual(1, self.processor.counts['filtered'])


class TestCinderAndIronicEvents(NotificationsTestCase):

    def test_volume_life_and_pool_capacity(self):
        self.process(p.note('capacity.pool', p.cinder_capacity(
            'storage-1@lvm#pool1', total=1000, free=800), at=T0))
        pool = storage.get_pool_by_pool_name(self.graph,
                                             'storage-1@lvm#pool1')
        self.assertEqual((1000, 800), (pool.total_capacity_gb,
                                       pool.free_capacity_gb))
        self.assertEqual('storage-1@lvm', storage.get_node_by_pool_name(
            self.graph, 'storage-1@lvm#pool1').host)
        self.process(p.note('instance.create.end', p.nova_instance(I1),
                            at=T0))
        self.process(p.note('volume.create.end', p.cinder_volume(
            V1, size='40', bootable=True), at=T0 + 1))
        self.process(p.note('volume.attach.end', p.cinder_volume(
            V1, size=40, status='in-use', attachments=[(I1, 'a-1')],
            bootable=True),
            at=T0 + 2))
        vol = storage.get_volume_by_uuid(self.graph, V1)
        self.assertEqual((40, 'in-use', True, 'storage-1@lvm#pool1'),
                         (vol.size, vol.status, vol.bootable,
                          vol.pool_name))
        self.assertEqual([{'server_id': I1, 'attachment_id': 'a-1'}],
                         vol.attachments)
        self.process(p.note('volume.attach.error', p.cinder_volume(
            V1, size=40, status='error', host=''), at=T0 + 3))
        vol = storage.get_volume_by_uuid(self.graph, V1)
        self.assertEqual(('error', 'storage-1@lvm#pool1'),
                         (vol.status, vol.pool_name))
        self.process(p.note('volume.delete.end', p.cinder_volume(V1),
                            at=T0 + 4))
        self.assertEqual({}, storage.get_all_volumes(self.graph))

    def test_ironic_node_life(self):
        self.process(p.note('baremetal.node.create.end',
                            p.ironic_node(B1), at=T0))
        node = baremetal.get_node_by_uuid(self.graph, B1)
        self.assertEqual(('power on', False), (node.power_state,
                                               node.maintenance))
        self.assertIn('CUSTOM_BAREMETAL', node.inventories)
        self.process(p.note('baremetal.node.maintenance_set.end',
                            p.ironic_node(B1, maintenance=True,
                                          reason='disk'), at=T0 + 1))
        self.process(p.note('baremetal.node.power_set.end',
                            p.ironic_node(B1, power_state='power off'),
                            at=T0 + 0.5))
        node = baremetal.get_node_by_uuid(self.graph, B1)
        self.assertEqual((True, 'disk', 'power on'),
                         (node.maintenance, node.maintenance_reason,
                          node.power_state))
        self.process(p.note('baremetal.node.delete.end', p.ironic_node(B1),
                            at=T0 + 2))
        self.assertEqual({}, baremetal.get_all_ironic_nodes(self.graph))


# -- property: order and duplicates do not matter ---------------------------

_INSTANCES = [I1, I2]
_HOSTS = ['compute-1', 'compute-2', 'compute-7']


@st.composite
def _stream(draw):
    """An ordered stream of Nova events with distinct timestamps."""
    events = []
    for index in range(draw(st.integers(1, 14))):
        at = T0 + index
        kind = draw(st.sampled_from(['update', 'update', 'create',
                                     'delete', 'soft_delete', 'service']))
        if kind == 'service':
            events.append(p.note('service.update', p.nova_service(
                draw(st.sampled_from(_HOSTS)),
                disabled=draw(st.booleans()),
                forced_down=draw(st.booleans())), at=at,
                message_id='m%d' % index))
            continue
        payload = p.nova_instance(
            draw(st.sampled_from(_INSTANCES)),
            host=draw(st.sampled_from(_HOSTS)),
            state=draw(st.sampled_from(['active', 'stopped', 'paused'])),
            vcpus=draw(st.integers(1, 8)))
        event = {'update': 'instance.update',
                 'create': 'instance.create.end',
                 'delete': 'instance.delete.end',
                 'soft_delete': 'instance.soft_delete.end'}[kind]
        events.append(p.note(event, payload, at=at,
                             message_id='m%d' % index))
    return events


class TestOrderProperty(NotificationsTestCase):

    def snapshot(self):
        nodes = {n.hostname: (n.status, n.state, n.placeholder)
                 for n in compute.get_all_compute_nodes(self.graph)
                 .values()}
        instances = {}
        for uuid, inst in compute.get_all_instances(self.graph).items():
            data = records.as_dict(inst)
            data.pop('generation')
            instances[uuid] = data
        return nodes, instances

    def reset(self):
        self.neo4j.wipe()
        compute.upsert_compute_nodes(self.graph, [
            _node('aaaaaaaa-0000-4000-8000-000000000001', 'compute-1'),
            _node('aaaaaaaa-0000-4000-8000-000000000002', 'compute-2')])

    @settings(max_examples=12, deadline=None)
    @given(stream=_stream(), seed=st.integers(0, 2 ** 32 - 1))
    def test_shuffled_stream_with_duplicates_converges(self, stream, seed):
        self.reset()
        for event in stream:
            self.process(event)
        ordered = self.snapshot()

        self.reset()
        rng = random.Random(seed)
        noisy = stream + [rng.choice(stream) for _ in range(len(stream))]
        rng.shuffle(noisy)
        while noisy:
            size = rng.randint(1, 4)
            self.process(*noisy[:size])
            noisy = noisy[size:]
        self.assertEqual(ordered, self.snapshot())
