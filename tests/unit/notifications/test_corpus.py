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

"""The notification corpus: its coverage, shapes, sequences and spec.

What the services' code says (tests/fixtures/notifications, and the
upstream commits named there), checked on the corpus: which class and
version each release sends, who publishes what, what a payload holds at
each step of an operation. Watcher's endpoints replay the corpus in
tests/integration/test_notification_corpus_watcher.py; RabbitMQ carries it
in tests/functional/notifications/test_corpus_wire.py.
"""

import collections
import json
import os

from openstack.baremetal.v1 import node as sdk_node

from tachyon.notifications import listener
from tests import base
from tests.fixtures.notifications import catalog
from tests.fixtures.notifications import cinder
from tests.fixtures.notifications import common
from tests.fixtures.notifications import expect
from tests.fixtures.notifications import ironic
from tests.fixtures.notifications import nova
from tests.fixtures.notifications import nova_objects
from tests.fixtures.notifications import spec

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))

#: The events issue #16 lists.
ISSUE_EVENTS = (
    'instance.resize.end', 'instance.resize_finish.end',
    'instance.resize_confirm.end', 'instance.resize_revert.end',
    'instance.shelve.end', 'instance.shelve_offload.end',
    'instance.unshelve.end', 'compute_task.rebuild_server.error',
    'instance.rebuild.error', 'instance.resize.error',
    'instance.reboot.error', 'aggregate.add_host.end',
    'aggregate.remove_host.end', 'aggregate.update_metadata.end',
    'aggregate.update_prop.end', 'volume.manage_existing.end',
    'volume.unmanage.end', 'volume.reset_status.end',
    'volume.transfer.accept.end', 'instance.evacuate',
    'instance.rebuild.end', 'capacity.pool', 'volume.create.end',
    'volume.attach.end', 'volume.retype', 'volume.detach.end',
    'volume.delete.end')


def nova_data(note):
    return common.ovo_data(note.payload, 'nova')


def first(notes, event_type, last=False):
    found = [n for n in notes if n.event_type == event_type]
    return found[-1] if last else found[0]


def envelopes(value, namespace):
    """Every nested oslo.versionedobjects primitive of a payload."""
    key = '%s_object.name' % namespace
    if isinstance(value, dict):
        if key in value:
            yield value
        for item in value.values():
            yield from envelopes(item, namespace)
    elif isinstance(value, list):
        for item in value:
            yield from envelopes(item, namespace)


class TestCoverage(base.TestCase):

    def test_every_subscribed_event_is_in_the_corpus(self):
        built = {n.event_type for n in catalog.everything()}
        subscribed = set()
        for handler in listener.load_handlers(self.conf, ['nova', 'cinder',
                                                          'ironic']):
            subscribed.update(handler.event_types)
        self.assertGreater(len(subscribed), 40)
        missing = sorted(t for t in subscribed if t not in built
                         and spec.EVENTS[t].tachyon != spec.NEVER_SENT)
        self.assertEqual([], missing)
        # And the spec says which of them Tachyon takes today.
        for event_type, event in spec.EVENTS.items():
            self.assertEqual(event_type in subscribed,
                             event.tachyon != spec.NOT_HANDLED, event_type)

    def test_every_event_of_the_issue(self):
        built = {n.event_type for n in catalog.everything()}
        self.assertEqual([], [t for t in ISSUE_EVENTS if t not in built])
        self.assertEqual([], [t for t in ISSUE_EVENTS
                              if not spec.EVENTS[t].handle])

    def test_every_release_builds_and_is_specified(self):
        for release in nova_objects.RELEASES:
            notes = catalog.everything(release)
            self.assertGreater(len(notes), 100, release)
            for note in notes:
                event = spec.EVENTS.get(note.event_type)
                self.assertIsNotNone(event, note.event_type)
                self.assertEqual(event.service, note.service,
                                 note.event_type)
                self.assertEqual(event.priority, note.priority,
                                 note.event_type)
                # What oslo.messaging's JSON serialization carries.
                self.assertEqual(note.payload,
                                 json.loads(json.dumps(note.payload)))

    def test_never_sent_events_cannot_be_built(self):
        for event_type in spec.EVENTS:
            if spec.EVENTS[event_type].tachyon == spec.NEVER_SENT:
                self.assertRaises(ValueError, cinder.volume_event,
                                  event_type, catalog.VOLUME)


class TestNovaShapes(base.TestCase):

    def test_payload_classes_and_versions_of_each_release(self):
        for name, rel in nova_objects.RELEASES.items():
            notes = catalog.examples(name)
            for note in notes:
                if not note.event_type.startswith('instance.'):
                    continue
                cls = note.payload['nova_object.name']
                field = nova_objects.RELEASE_FIELD[cls]
                self.assertEqual(getattr(rel, field),
                                 note.payload['nova_object.version'],
                                 '%s %s' % (name, note.event_type))
                self.assertEqual(nova.payload_class(note.event_type), cls)
                flavor = nova_data(note)['flavor']
                self.assertEqual(rel.flavor, flavor['nova_object.version'])
            for note in notes:
                for env in envelopes(note.payload, 'nova'):
                    self.assertEqual('nova', env['nova_object.namespace'])
                    self.assertEqual({'nova_object.name',
                                      'nova_object.namespace',
                                      'nova_object.version',
                                      'nova_object.data'}, set(env))

    def test_fields_follow_the_version_histories(self):
        def update(release):
            return nova_data(nova.instance_update(catalog.SERVER,
                                                  release=release))

        newest, dalmatian, xena = (update('2026.2'), update('2024.2'),
                                   update('2021.2'))
        self.assertIsNone(newest['shares'])          # 2.1: shares
        self.assertNotIn('shares', dalmatian)
        self.assertNotIn('bandwidth', dalmatian)     # 2.0: gone
        self.assertEqual('private', xena['bandwidth'][0][
            'nova_object.data']['network_name'])
        self.assertIn('locked_reason', xena)         # 1.9 (base 1.8)
        newton = update('2016.2')
        self.assertNotIn('locked', newton)           # 1.1
        self.assertNotIn('tags', newton)             # 1.2
        self.assertNotIn('name', newton['flavor']['nova_object.data'])
        self.assertEqual('1.0', newton['flavor']['nova_object.version'])
        ocata = update('2017.1')
        self.assertIn('locked', ocata)
        self.assertIn('extra_specs', ocata['flavor']['nova_object.data'])
        create = nova_data(nova.instance('instance.create.end',
                                         catalog.SERVER))
        self.assertEqual(['my-key'], [k['nova_object.data']['name']
                                      for k in create['keypairs']])
        self.assertIn('instance_name', create)
        # An instance's flavor never has its projects loaded.
        self.assertIsNone(create['flavor']['nova_object.data']['projects'])

    def test_publishers(self):
        notes = catalog.examples()
        publishers = collections.defaultdict(set)
        for note in notes:
            publishers[note.event_type].add(note.publisher_id.split(':')[0])
        self.assertEqual({'nova-api'}, publishers['instance.lock'])
        self.assertEqual({'nova-api'}, publishers['instance.evacuate'])
        self.assertEqual({'nova-conductor'},
                         publishers['instance.rebuild_scheduled'])
        self.assertEqual({'nova-conductor'},
                         publishers['compute_task.rebuild_server.error'])
        self.assertEqual({'nova-api'}, publishers['aggregate.add_host.end'])
        self.assertEqual({'nova-compute', 'nova-scheduler'},
                         publishers['service.update'])
        self.assertEqual({'nova-conductor', 'nova-compute'},
                         publishers['instance.update'])
        for note in notes:
            self.assertEqual(note.event_type.endswith('.error'),
                             note.priority == 'error', note.event_type)
            if note.priority == 'error' and note.event_type.startswith(
                    'instance.'):
                fault = nova_data(note)['fault']
                self.assertEqual('ExceptionPayload',
                                 fault['nova_object.name'])

    def test_boot(self):
        notes = catalog.sequences()['boot']
        types = [n.event_type for n in notes]
        self.assertEqual('instance.create.end', types[-1])
        # No instance.update after create.end: the active save is before.
        last_update = nova_data(first(notes, 'instance.update', last=True))
        self.assertEqual('active', last_update['state'])
        self.assertEqual(
            'nova-conductor:controller',
            first(notes, 'instance.update').publisher_id)
        self.assertIsNone(nova_data(first(notes, 'instance.update'))['host'])
        start = nova_data(first(notes, 'instance.create.start'))
        self.assertEqual((None, 'building', []), (
            start['host'], start['state'], start['ip_addresses']))
        updates = [nova_data(n)['state_update']['nova_object.data']
                   for n in notes if n.event_type == 'instance.update']
        self.assertEqual(['scheduling', None, None, 'networking',
                          'block_device_mapping', 'spawning', None],
                         [u['new_task_state'] for u in updates])
        self.assertEqual(['instance.create.start', 'instance.create.end'],
                         [t for t in [n.event_type for n in catalog.sequences(
                             notify_on_state_change=None)['boot']]])

    def test_resize(self):
        notes = catalog.sequences()['resize-confirm']
        end = first(notes, 'instance.resize.end')
        data = nova_data(end)
        self.assertEqual('nova-compute:%s' % catalog.SOURCE, end.publisher_id)
        self.assertEqual((catalog.DEST, 'm1.small', 'resize_migrated'), (
            data['host'], data['flavor']['nova_object.data']['name'],
            data['task_state']))
        finish = first(notes, 'instance.resize_finish.end')
        data = nova_data(finish)
        self.assertEqual('nova-compute:%s' % catalog.DEST, finish.publisher_id)
        self.assertEqual((catalog.DEST, 'm1.medium', 'resized'), (
            data['host'], data['flavor']['nova_object.data']['name'],
            data['state']))
        prep = nova_data(first(notes, 'instance.resize_prep.start'))
        self.assertEqual('m1.medium', prep['new_flavor']['nova_object.data'][
            'name'])
        confirm = first(notes, 'instance.resize_confirm.end')
        self.assertEqual('nova-compute:%s' % catalog.SOURCE,
                         confirm.publisher_id)
        self.assertEqual((catalog.DEST, 'active'), (
            nova_data(confirm)['host'], nova_data(confirm)['state']))
        revert = first(catalog.sequences()['resize-revert'],
                       'instance.resize_revert.end')
        data = nova_data(revert)
        self.assertEqual((catalog.SOURCE, 'm1.small', 'active'), (
            data['host'], data['flavor']['nova_object.data']['name'],
            data['state']))

    def test_shelve_offload_unshelve(self):
        notes = catalog.sequences()['shelve-offload-unshelve']
        shelved = nova_data(first(notes, 'instance.shelve.end'))
        self.assertEqual(('shelved', 'shelving_offloading', catalog.SOURCE),
                         (shelved['state'], shelved['task_state'],
                          shelved['host']))
        offload = first(notes, 'instance.shelve_offload.end')
        data = nova_data(offload)
        self.assertEqual('nova-compute:%s' % catalog.SOURCE,
                         offload.publisher_id)
        self.assertEqual(('shelved_offloaded', None, None, None), (
            data['state'], data['host'], data['node'],
            data['availability_zone']))
        self.assertIsNone(nova_data(first(notes,
                                          'instance.unshelve.start'))['host'])
        self.assertEqual(catalog.DEST,
                         nova_data(first(notes, 'instance.unshelve.end'))[
                             'host'])

    def test_evacuate(self):
        notes = catalog.sequences()['evacuate']
        self.assertEqual('service.update', notes[0].event_type)
        self.assertTrue(nova_data(notes[0])['forced_down'])
        evac = first(notes, 'instance.evacuate')
        self.assertEqual('nova-api:controller', evac.publisher_id)
        self.assertEqual((catalog.SOURCE, 'rebuilding'), (
            nova_data(evac)['host'], nova_data(evac)['task_state']))
        end = first(notes, 'instance.rebuild.end')
        self.assertEqual('nova-compute:%s' % catalog.DEST, end.publisher_id)
        self.assertEqual(catalog.SOURCE, nova_data(end)['host'])
        self.assertEqual('InstanceActionRebuildPayload',
                         end.payload['nova_object.name'])
        last = notes[-1]
        self.assertEqual(('instance.update', catalog.DEST), (
            last.event_type, nova_data(last)['host']))
        scheduled = first(notes, 'instance.rebuild_scheduled')
        self.assertEqual('nova-conductor:%s' % catalog.DEST,
                         scheduled.publisher_id)

    def test_live_migration(self):
        notes = catalog.sequences()['live-migration']
        dest = nova_data(first(notes, 'instance.live_migration_post_dest.end'))
        self.assertEqual((catalog.DEST, None), (dest['host'],
                                                dest['task_state']))
        stale = nova_data(first(notes, 'instance.live_migration_post.end'))
        self.assertEqual((catalog.SOURCE, 'migrating'), (
            stale['host'], stale['task_state']))
        self.assertEqual('instance.live_migration_post.end',
                         notes[-1].event_type)

    def test_compute_task_and_aggregate_payloads(self):
        task = nova.compute_task_error('rebuild_server', catalog.SERVER,
                                       ignore_hosts=[catalog.SOURCE])
        data = nova_data(task)
        self.assertEqual(('ComputeTaskPayload', catalog.SERVER.uuid,
                          'error', 'NoValidHost'), (
            task.payload['nova_object.name'], data['instance_uuid'],
            data['state'], data['reason']['nova_object.data']['exception']))
        self.assertNotIn('host', data)
        spec_data = data['request_spec']['nova_object.data']
        self.assertEqual([catalog.SOURCE], spec_data['ignore_hosts'])
        self.assertNotIn('image_meta', spec_data)   # declared, never set
        story = catalog.aggregate_story()
        added = nova_data(story[7])
        self.assertEqual('aggregate.add_host.end', story[7].event_type)
        self.assertEqual(([catalog.SOURCE, catalog.DEST], 'az-1'), (
            added['hosts'], added['metadata']['availability_zone']))
        start = nova_data(story[6])
        self.assertEqual([catalog.SOURCE], start['hosts'])

    def test_legacy_releases_have_no_newer_payloads(self):
        self.assertRaises(ValueError, nova.instance, 'instance.create.end',
                          catalog.SERVER, '2017.1')
        self.assertRaises(ValueError, nova.aggregate,
                          'aggregate.add_host.end', 'a', release='2016.2')


class TestCinderShapes(base.TestCase):

    def test_metadata_as_cinder_sends_it(self):
        vol = catalog.VOLUME
        listed = cinder.volume_payload(vol)
        self.assertEqual([{'key': 'purpose', 'value': 'db'},
                          {'key': 'tier', 'value': 'gold'}],
                         listed['metadata'])
        self.assertEqual([], cinder.volume_payload(cinder.volume(
            'bare'))['metadata'])
        self.assertEqual({'purpose': 'db', 'tier': 'gold'},
                         cinder.volume_payload(vol, 'dict')['metadata'])
        self.assertRaises(ValueError, cinder.volume_payload, vol, 'json')

    def test_volume_payload(self):
        attached = catalog.cinder_examples()[4]
        self.assertEqual(('volume.attach.end', 'volume.controller'),
                         (attached.event_type, attached.publisher_id))
        payload = attached.payload
        self.assertEqual(20, payload['size'])
        self.assertEqual(cinder.VOLUME_TYPES['lvmdriver-1'],
                         payload['volume_type'])
        self.assertEqual('2026-11-20T10:00:00+00:00', payload['created_at'])
        row = payload['volume_attachment'][0]
        self.assertEqual((catalog.SERVER.uuid, 'attached',
                          catalog.VOLUME.uuid),
                         (row['instance_uuid'], row['attach_status'],
                          row['volume']['id']))
        self.assertEqual('in-use', row['volume']['status'])
        self.assertIn('image_id', [g['key']
                                   for g in payload['glance_metadata']])
        self.assertNotIn('glance_metadata', cinder.volume_payload(
            cinder.volume('blank')))

    def test_publishers(self):
        notes = {n.event_type: n for n in catalog.cinder_examples()}
        self.assertEqual('volume.%s' % catalog.POOL,
                         notes['volume.create.end'].publisher_id)
        self.assertEqual('volume.%s' % catalog.OTHER_POOL,
                         notes['volume.manage_existing.end'].publisher_id)
        for event in ('volume.retype', 'volume.delete.end',
                      'volume.resize.end', 'volume.detach.start'):
            self.assertEqual('volume.%s' % catalog.BACKEND,
                             notes[event].publisher_id, event)
        for event in ('volume.update.end', 'volume.reset_status.end',
                      'volume.transfer.accept.end', 'volume.detach.end'):
            self.assertEqual('volume.controller', notes[event].publisher_id)
        self.assertEqual('capacity.controller',
                         notes['capacity.pool'].publisher_id)
        self.assertEqual(('scheduler.controller', 'error', 'error'), (
            notes['scheduler.create_volume'].publisher_id,
            notes['scheduler.create_volume'].priority,
            notes['scheduler.create_volume'].payload['state']))
        self.assertEqual({'status': 'available'},
                         notes['scheduler.retype'].payload['state'])
        self.assertEqual(common.OTHER_PROJECT, notes[
            'volume.transfer.accept.end'].payload['tenant_id'])
        self.assertEqual(cinder.VOLUME_TYPES['ceph-ssd'],
                         notes['volume.retype'].payload['volume_type'])
        self.assertEqual('', notes['snapshot.create.end'].payload['metadata'])

    def test_capacity(self):
        pool = cinder.PoolState(catalog.POOL, allocated_capacity_gb=20,
                                provisioned_capacity_gb=20,
                                free_capacity_gb=980, total_volumes=1)
        payload = cinder.capacity_pool(pool).payload
        self.assertEqual({'name_to_id', 'total', 'free', 'allocated',
                          'provisioned', 'virtual_free', 'reported_at'},
                         set(payload))
        self.assertEqual((1000.0, 980.0, 980.0), (
            payload['total'], payload['free'], payload['virtual_free']))
        thin = cinder.PoolState(catalog.OTHER_POOL,
                                thin_provisioning_support=True,
                                provisioned_capacity_gb=300)
        self.assertEqual(1000 * 20.0 - 300, thin.virtual_free())
        backend = cinder.capacity_backend(catalog.BACKEND, [pool, thin])
        self.assertEqual(2000.0, backend.payload['total'])

    def test_lifecycle_pool_numbers(self):
        pools = {catalog.POOL: cinder.PoolState(catalog.POOL)}
        steps = cinder.lifecycle(catalog.VOLUME, catalog.SERVER.uuid,
                                 pools=pools)
        after = {n.event_type: p[catalog.POOL] for n, p in steps}
        self.assertEqual((20.0, 1), (
            after['volume.create.end'].allocated_capacity_gb,
            after['volume.create.end'].total_volumes))
        self.assertEqual((0.0, 0), (
            after['volume.delete.end'].allocated_capacity_gb,
            after['volume.delete.end'].total_volumes))
        capacities = [n for n, _p in steps if n.event_type == 'capacity.pool']
        self.assertEqual([20.0, 0.0],
                         [c.payload['allocated'] for c in capacities])


class TestIronicShapes(base.TestCase):

    def test_classes_and_versions(self):
        for name, old in (('2024.1', True), ('2026.2', False)):
            rel = ironic.release_for(name)
            for note in catalog.ironic_examples(name):
                cls = note.payload['ironic_object.name']
                version = note.payload['ironic_object.version']
                want = {'NodePayload': rel.node, 'NodeCRUDPayload': rel.crud,
                        'NodeSetPowerStatePayload': rel.power_set,
                        'NodeCorrectedPowerStatePayload': rel.corrected,
                        'NodeSetProvisionStatePayload': rel.provision_set}
                self.assertEqual(want[cls], version, note.event_type)
                data = common.ovo_data(note.payload, 'ironic')
                self.assertEqual(not old, 'disable_power_off' in data)
                self.assertEqual(note.event_type.endswith('.error'),
                                 note.priority == 'error')
                service = note.publisher_id.split('.', 1)[0]
                self.assertEqual(
                    'ironic-conductor' if any(
                        part in note.event_type for part in (
                            'power_set', 'provision_set',
                            'power_state_corrected')) else 'ironic-api',
                    service, note.event_type)
        self.assertEqual('2024.1', ironic.release_for('2024.1').name)
        self.assertEqual('2024.2', ironic.release_for('2025.0').name)

    def test_node_fields_are_the_apis(self):
        # openstacksdk's Node (the API's baremetal node) reads the payload
        # data under the API's field names.
        for note in catalog.ironic_examples():
            data = common.ovo_data(note.payload, 'ironic')
            node = sdk_node.Node(**data)
            self.assertEqual(
                (data['uuid'], data['name'], data['power_state'],
                 data['provision_state'], data['maintenance'],
                 data['resource_class'], data['instance_uuid']),
                (node.id, node.name, node.power_state,
                 node.provision_state, node.is_maintenance,
                 node.resource_class, node.instance_id), note.event_type)

    def test_provision_statuses(self):
        notes = catalog.ironic_examples()
        statuses = [n.event_type.rsplit('.', 1)[1] for n in notes
                    if 'provision_set' in n.event_type]
        self.assertEqual(['start', 'end', 'start', 'end', 'start',
                          'success', 'success', 'end', 'start', 'success',
                          'error'], statuses)


class TestExpectations(base.TestCase):

    def expected_instance(self, note):
        result = expect.expected(note)
        self.assertEqual(1, len(result), note.event_type)
        return result[0]

    def test_resize(self):
        notes = catalog.sequences()['resize-confirm']
        moved = self.expected_instance(first(notes, 'instance.resize.end'))
        self.assertEqual((catalog.DEST, 1, 2048, 20), (
            moved.node, moved.fields['vcpus'], moved.fields['memory'],
            moved.fields['disk']))
        done = self.expected_instance(first(notes,
                                            'instance.resize_finish.end'))
        self.assertEqual((catalog.DEST, 2, 4096, 40, 'resized'), (
            done.node, done.fields['vcpus'], done.fields['memory'],
            done.fields['disk'], done.fields['state']))
        back = self.expected_instance(first(
            catalog.sequences()['resize-revert'],
            'instance.resize_revert.end'))
        self.assertEqual((catalog.SOURCE, 1),
                         (back.node, back.fields['vcpus']))
        self.assertEqual([], expect.expected(first(
            notes, 'instance.resize.start')))

    def test_placement_rules(self):
        notes = catalog.sequences()['shelve-offload-unshelve']
        off = self.expected_instance(first(notes,
                                           'instance.shelve_offload.end'))
        self.assertEqual((None, 'shelved_offloaded'),
                         (off.node, off.fields['state']))
        evacuate = catalog.sequences()['evacuate']
        self.assertEqual(catalog.SOURCE, self.expected_instance(first(
            evacuate, 'instance.evacuate')).node)
        self.assertEqual({'state', 'host'}, set(self.expected_instance(first(
            evacuate, 'instance.evacuate')).fields))
        self.assertEqual(catalog.DEST, self.expected_instance(first(
            evacuate, 'instance.rebuild.end')).node)
        boot = catalog.sequences()['boot']
        self.assertEqual([], expect.expected(first(boot, 'instance.update')))
        task = self.expected_instance(nova.compute_task_error(
            'migrate_server', catalog.SERVER, 'active'))
        self.assertEqual(({'state': 'active'}, expect.KEEP, True), (
            task.fields, task.node, task.only_if_known))

    def test_disk_of_ephemeral_swap_and_volume_boot(self):
        srv = nova.server('eph', flavor=nova_objects.EPHEMERAL)
        exp = self.expected_instance(nova.instance_update(srv))
        self.assertEqual(10 + 5 + 2, exp.fields['disk'])
        self.assertEqual({'hw:cpu_policy': 'dedicated',
                          'hw:mem_page_size': 'large'},
                         exp.fields['flavor_extra_specs'])
        bfv = nova.server('bfv', flavor=nova_objects.EPHEMERAL,
                          image_uuid='')
        self.assertEqual(5 + 2, self.expected_instance(
            nova.instance_update(bfv)).fields['disk'])
        self.assertNotIn('locked', self.expected_instance(
            nova.instance_update(srv, release='2016.2')).fields)

    def test_aggregate_story(self):
        cloud = expect.Cloud()
        zones = []
        for note in catalog.aggregate_story():
            result = expect.expected(note, cloud)
            data = nova_data(note)
            if result:
                zones.append((note.event_type, {
                    e.key: (e.fields['availability_zone'],
                            [a['name'] for a in e.fields['aggregates']])
                    for e in result}))
            if note.event_type.endswith('.end'):
                cloud.aggregates[data['id']] = {
                    'name': data['name'], 'hosts': list(data['hosts']),
                    'metadata': dict(data['metadata'])}
        S, D = catalog.SOURCE, catalog.DEST
        # (The zone set before any host joined changes no node.)
        self.assertEqual([
            ('aggregate.add_host.end', {S: ('az-1', ['rack-12'])}),
            ('aggregate.add_host.end', {S: ('az-1', ['rack-12']),
                                        D: ('az-1', ['rack-12'])}),
            ('aggregate.update_prop.end', {S: ('az-1', ['rack-12b']),
                                           D: ('az-1', ['rack-12b'])}),
            ('aggregate.update_metadata.end', {S: ('az-2', ['rack-12b']),
                                               D: ('az-2', ['rack-12b'])}),
            ('aggregate.remove_host.end', {S: ('nova', []),
                                           D: ('az-2', ['rack-12b'])}),
            ('aggregate.remove_host.end', {D: ('nova', [])}),
        ], zones)

    def test_cinder(self):
        pools = {catalog.POOL: cinder.PoolState(catalog.POOL)}
        steps = cinder.lifecycle(catalog.VOLUME, catalog.SERVER.uuid,
                                 pools=pools)
        types = {v: k for k, v in cinder.VOLUME_TYPES.items()}
        for note, after in steps:
            result = expect.expected(note, expect.Cloud(volume_types=types,
                                                        pools=after))
            if note.event_type == 'volume.attach.end':
                vol, pool = result
                self.assertEqual(
                    ('in-use', [{'server_id': catalog.SERVER.uuid,
                                 'attachment_id': note.payload[
                                     'volume_attachment'][0]['id']}],
                     {'purpose': 'db', 'tier': 'gold'}, True,
                     'lvmdriver-1', catalog.POOL),
                    (vol.fields['status'], vol.fields['attachments'],
                     vol.fields['metadata'], vol.fields['bootable'],
                     vol.fields['volume_type'], vol.pool))
                self.assertEqual(1, pool.fields['total_volumes'])
            if note.event_type == 'volume.delete.end':
                self.assertEqual([False, 0], [result[0].exists, result[1]
                                              .fields['total_volumes']])
            if note.event_type.endswith('.start'):
                self.assertEqual([], result)
        self.assertEqual(
            expect.volume_metadata([{'key': 'a', 'value': '1'}]),
            expect.volume_metadata({'a': '1'}))

    def test_ironic(self):
        notes = catalog.ironic_examples()
        exp = expect.expected(first(notes,
                                    'baremetal.node.maintenance_set.end'))
        self.assertEqual((True, 'fan failure'), (
            exp[0].fields['maintenance'], exp[0].fields['maintenance_reason']))
        self.assertFalse(expect.expected(first(
            notes, 'baremetal.node.delete.end'))[0].exists)
        self.assertEqual([], expect.expected(first(
            notes, 'baremetal.node.power_set.start')))


class TestSpec(base.TestCase):

    def test_events(self):
        for event_type, event in spec.EVENTS.items():
            self.assertTrue(set(event.effects) <= set(spec.EFFECTS),
                            event_type)
            if event.handle:
                self.assertTrue(event.effects and event.graph, event_type)
            else:
                self.assertTrue(event.reason, event_type)
            self.assertIn(event.service, ('nova', 'cinder', 'ironic'))
        for finding in spec.FINDINGS:
            for event_type in finding.events:
                self.assertIn(event_type, spec.EVENTS)

    def test_draft_docs_are_the_spec(self):
        for name, render in (('notifications-events.rst', spec.rst),
                             ('notifications-findings.rst',
                              spec.findings_rst)):
            path = os.path.join(REPO, 'doc', 'drafts', name)
            with open(path) as draft:
                self.assertEqual(render(), draft.read(), name)
