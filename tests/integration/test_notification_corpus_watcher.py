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

"""The corpus through Watcher 17's own notification endpoints.

Every notification of the corpus that Watcher handles is dispatched, by
oslo.messaging's NotificationDispatcher with the serializer of Watcher's
decision engine, to the endpoints Watcher's Nova and Cinder collectors
register, on Watcher's in-memory model holding the entities it names.
The model must then reflect the notification: what the payload says of
the instance (state, flavor resources, metadata, lock, host) or of the
volume (status, size, attachments, metadata, type, pool) and, after a
volume event, the pool's counters as the Cinder API reports them then.
Where Watcher's result departs from what the event means
(:mod:`tests.fixtures.notifications.expect`), the departure must be one
that :mod:`tests.fixtures.notifications.spec` documents.
"""

import dataclasses

import fixtures
from oslo_messaging import NotificationResult
from watcher.decision_engine.model.collector import ironic as w_ironic
from watcher.decision_engine.model.notification import nova as w_nova

from tests import base
from tests.fixtures.notifications import catalog
from tests.fixtures.notifications import cinder
from tests.fixtures.notifications import common
from tests.fixtures.notifications import expect
from tests.fixtures.notifications import nova
from tests.fixtures.notifications import nova_objects
from tests.fixtures.notifications import spec
from tests.fixtures.notifications import watcher_replay

WATCHER_NOVA = {t for t, e in spec.handled_by_watcher().items()
                if e.service == 'nova'}
WATCHER_CINDER = {t for t, e in spec.handled_by_watcher().items()
                  if e.service == 'cinder'}
INSTANCE_FIELDS = ('name', 'state', 'vcpus', 'memory', 'disk', 'metadata',
                   'project_id', 'host', 'hypervisor_hostname')


def watcher_instance_fields(note):
    """What Watcher's update_instance() takes from the payload.

    The payload's values (expect.instance_fields) behind Watcher's version
    gates: 'locked' above 1.0, flavor extra specs above 1.1.
    """
    data = common.ovo_data(note.payload, 'nova')
    version = common.version_tuple(common.ovo_version(note.payload, 'nova'))
    fields = expect.instance_fields(data)
    wanted = {k: fields[k] for k in INSTANCE_FIELDS}
    if version > (1, 0):
        wanted['locked'] = data['locked']
    if version > (1, 1):
        flavor = data['flavor']['nova_object.data']
        wanted['flavor_extra_specs'] = flavor.get('extra_specs', {})
    return wanted


def watcher_view(scene, uuid, fields):
    inst = scene.instance(uuid)
    if inst is None:
        return None
    view = {k: getattr(inst, k) for k in fields}
    view['node'] = scene.node_of(uuid)
    return view


class CorpusTestCase(base.TestCase):

    def setUp(self):
        super().setUp()
        # Watcher logs the lookups that fail (LOG.exception); keep them.
        self.logs = self.useFixture(fixtures.FakeLogger(level=10))


class TestNovaEvents(CorpusTestCase):
    """Each instance event Watcher handles, alone, at every release."""

    def _check_release(self, release):
        examples = {}
        for note in catalog.examples(release):
            data = common.ovo_data(note.payload, 'nova')
            if data.get('state') == 'building' or not data.get('host'):
                continue        # ignored, or see TestNovaSequences
            examples.setdefault(note.event_type, note)
        checked = []
        for event_type in sorted(WATCHER_NOVA):
            note = examples.get(event_type)
            if note is None or not event_type.startswith('instance.'):
                continue
            data = common.ovo_data(note.payload, 'nova')
            scene = watcher_replay.ComputeScene(catalog.HOSTS + (
                'compute-3',))
            if event_type != 'instance.create.end':
                scene.add_instance(data['uuid'], catalog.SOURCE)
            result = scene.apply(note)
            self.assertEqual(NotificationResult.HANDLED, result, event_type)
            meaning = expect.expected(note)
            if meaning and not meaning[0].exists:
                self.assertIsNone(scene.instance(data['uuid']), event_type)
                checked.append(event_type)
                continue
            wanted = watcher_instance_fields(note)
            view = watcher_view(scene, data['uuid'], wanted)
            host = data['host'] or catalog.SOURCE   # Watcher keeps it
            self.assertEqual(dict(wanted, node=host), view,
                             '%s (%s)' % (event_type, release))
            if common.version_tuple(
                    common.ovo_version(note.payload, 'nova')) <= (1, 1):
                # The gate keeps the stored extra specs, though Ocata's
                # FlavorPayload 1.2 has them (spec.FINDINGS).
                self.assertEqual({'before': 'yes'},
                                 scene.instance(data['uuid'])
                                 .flavor_extra_specs)
            self.assertMeaningOrDocumented(note, meaning, view)
            checked.append(event_type)
        return checked

    def assertMeaningOrDocumented(self, note, meaning, view):
        """Watcher's result is the meaning, or a documented departure."""
        if not meaning:
            return
        exp = meaning[0]
        if exp.node != expect.KEEP and exp.node != view['node']:
            self.assertTrue(spec.EVENTS[note.event_type].watcher_differs,
                            '%s: Watcher puts the instance on %s, the event '
                            'means %s, and spec does not say why'
                            % (note.event_type, view['node'], exp.node))
        for key, value in exp.fields.items():
            if key in view and key != 'host' and view[key] != value:
                self.fail('%s: Watcher has %s=%r, the event means %r'
                          % (note.event_type, key, view[key], value))

    def test_every_supported_release(self):
        for release in nova_objects.SUPPORTED_RELEASES:
            checked = self._check_release(release)
            # Every instance event of Watcher's mapping was replayed.
            self.assertEqual(
                sorted(t for t in WATCHER_NOVA if t.startswith('instance.')),
                sorted(checked), release)

    def test_newton_and_ocata_payloads(self):
        for release in ('2016.2', '2017.1'):
            checked = self._check_release(release)
            self.assertIn('instance.update', checked)
            self.assertIn('instance.lock', checked)

    def test_error_priority_reaches_no_watcher_method(self):
        # Watcher's endpoint only has info(): oslo.messaging dispatches an
        # error notification to nobody.
        srv = dataclasses.replace(catalog.SERVER, state='error')
        for note in (nova.instance('instance.resize.error', srv),
                     nova.compute_task_error('rebuild_server', srv)):
            scene = watcher_replay.ComputeScene(catalog.HOSTS)
            scene.add_instance(srv.uuid, catalog.SOURCE)
            self.assertEqual('error', note.priority)
            scene.apply(note)
            self.assertEqual('active', scene.instance(srv.uuid).state)


class TestNovaSequences(CorpusTestCase):
    """Nova's operations in order, with and without instance.update."""

    def replay(self, name, mode):
        notes = catalog.sequences(notify_on_state_change=mode)[name]
        scene = watcher_replay.ComputeScene(catalog.HOSTS)
        uuid = catalog.SERVER.uuid
        if name != 'boot':
            scene.add_instance(uuid, catalog.SOURCE)
        trail = []
        for note in notes:
            before = watcher_view(scene, uuid, INSTANCE_FIELDS)
            result = scene.apply(note)
            after = watcher_view(scene, uuid, INSTANCE_FIELDS)
            handled = (note.event_type in WATCHER_NOVA
                       and note.priority == 'info')
            data = common.ovo_data(note.payload, 'nova')
            if (handled and note.event_type.startswith('instance.')
                    and not data.get('host')
                    and data.get('state') != 'building'):
                # Watcher's update_instance() fails on the null host
                # after setting the state (spec: watcher_differs).
                self.assertEqual(NotificationResult.REQUEUE, result)
                self.assertEqual(dict(before, state=data['state']), after,
                                 '%s: %s' % (name, note.event_type))
                trail.append((note.event_type, after))
                continue
            if not handled:
                self.assertEqual(before, after, '%s: %s changed Watcher\'s '
                                 'model' % (name, note.event_type))
            elif note.event_type.startswith('instance.') and after:
                if data['state'] != 'building':
                    wanted = watcher_instance_fields(note)
                    node = data['host'] or (before or {}).get('node')
                    self.assertEqual(
                        dict(wanted, node=node),
                        watcher_view(scene, uuid, wanted),
                        '%s: %s' % (name, note.event_type))
            trail.append((note.event_type, after))
        return scene, trail

    def at(self, trail, event_type, last=False):
        views = [view for event, view in trail if event == event_type]
        return views[-1] if last else views[0]

    def test_boot(self):
        for mode in ('vm_and_task_state', 'vm_state', None):
            scene, trail = self.replay('boot', mode)
            # Nothing while building; the server appears active.
            self.assertIsNone(self.at(trail, 'instance.create.start'))
            view = watcher_view(scene, catalog.SERVER.uuid, INSTANCE_FIELDS)
            self.assertEqual((catalog.SOURCE, 'active', 1, 2048, 20),
                             (view['node'], view['state'], view['vcpus'],
                              view['memory'], view['disk']))

    def test_resize_confirm(self):
        # Without instance.update Watcher keeps the old flavor on the
        # source for the whole confirm window (resize.end and
        # resize_finish.end are not in its mapping).
        scene, trail = self.replay('resize-confirm', None)
        finished = self.at(trail, 'instance.resize_finish.end')
        self.assertEqual((catalog.SOURCE, 1),
                         (finished['node'], finished['vcpus']))
        view = self.at(trail, 'instance.resize_confirm.end')
        self.assertEqual((catalog.DEST, 'active', 2, 4096, 40),
                         (view['node'], view['state'], view['vcpus'],
                          view['memory'], view['disk']))
        # With them it follows the saves: on the destination with the
        # old flavor after resize.end's save, the new one after finish.
        scene, trail = self.replay('resize-confirm', 'vm_and_task_state')
        moved = self.at(trail, 'instance.resize.end')
        self.assertEqual((catalog.DEST, 1), (moved['node'], moved['vcpus']))
        finished = self.at(trail, 'instance.resize_finish.end')
        self.assertEqual((catalog.DEST, 2, 'resized'),
                         (finished['node'], finished['vcpus'],
                          finished['state']))

    def test_resize_revert(self):
        scene, trail = self.replay('resize-revert', 'vm_and_task_state')
        view = trail[-1][1]
        self.assertEqual((catalog.SOURCE, 'active', 1, 2048),
                         (view['node'], view['state'], view['vcpus'],
                          view['memory']))
        # Without instance.update nothing of a revert is in Watcher's
        # mapping (resize_revert.end is not): the model is as before.
        scene, trail = self.replay('resize-revert', None)
        self.assertEqual([trail[0][1]], [view for _e, view in trail][-1:])
        self.assertEqual('before', trail[-1][1]['name'])
        self.assertNotIn('instance.resize_revert.end', WATCHER_NOVA)

    def test_shelve_offload_unshelve(self):
        scene, trail = self.replay('shelve-offload-unshelve', None)
        offloaded = self.at(trail, 'instance.shelve_offload.end')
        # shelve_offload.end is not in Watcher's mapping: still shelved,
        # on the host it left.
        self.assertEqual(('shelved', catalog.SOURCE),
                         (offloaded['state'], offloaded['node']))
        scene, trail = self.replay('shelve-offload-unshelve',
                                   'vm_and_task_state')
        offloaded = self.at(trail, 'instance.shelve_offload.end')
        # The update naming no host: the state is set, then Watcher fails
        # (spec: watcher_differs of instance.update); it stays mapped.
        self.assertEqual(('shelved_offloaded', catalog.SOURCE,
                          catalog.SOURCE),
                         (offloaded['state'], offloaded['node'],
                          offloaded['host']))
        self.assertTrue(spec.EVENTS['instance.update'].watcher_differs)
        view = trail[-1][1]
        self.assertEqual(('active', catalog.DEST),
                         (view['state'], view['node']))

    def test_live_migration(self):
        for mode in ('vm_and_task_state', None):
            scene, trail = self.replay('live-migration', mode)
            view = self.at(trail, 'instance.live_migration_post_dest.end')
            self.assertEqual(catalog.DEST, view['node'])
            # post.end's stale payload (the source) is not applied.
            self.assertEqual(catalog.DEST, trail[-1][1]['node'])
            scene, trail = self.replay('live-migration-rollback', mode)
            self.assertEqual(catalog.SOURCE, trail[-1][1]['node'])

    def test_evacuate(self):
        scene, trail = self.replay('evacuate', None)
        view = self.at(trail, 'instance.rebuild.end')
        # rebuild.end names the failed source: Watcher leaves it there.
        self.assertEqual(catalog.SOURCE, view['node'])
        self.assertEqual(catalog.SOURCE, trail[-1][1]['node'])
        self.assertTrue(
            spec.EVENTS['instance.rebuild.end'].watcher_differs)
        note = [n for n in catalog.sequences(notify_on_state_change=None)[
            'evacuate'] if n.event_type == 'instance.rebuild.end'][0]
        self.assertEqual(catalog.DEST, expect.expected(note)[0].node)
        # With instance.update, the last one (finish_evacuation) moves it.
        scene, trail = self.replay('evacuate', 'vm_and_task_state')
        self.assertEqual(catalog.SOURCE,
                         self.at(trail, 'instance.rebuild.end')['node'])
        self.assertEqual(catalog.DEST, trail[-1][1]['node'])
        # The forced-down service went through Watcher's service_updated.
        self.assertEqual('down', scene.node(catalog.SOURCE).state)

    def test_evacuate_no_valid_host(self):
        scene, trail = self.replay('evacuate-no-valid-host', None)
        # compute_task.rebuild_server.error has priority error.
        self.assertEqual('active', trail[-1][1]['state'])
        scene, trail = self.replay('evacuate-no-valid-host',
                                   'vm_and_task_state')
        self.assertEqual('error', trail[-1][1]['state'])

    def test_rebuild_and_delete(self):
        scene, trail = self.replay('rebuild', 'vm_and_task_state')
        self.assertEqual((catalog.SOURCE, 'active'),
                         (trail[-1][1]['node'], trail[-1][1]['state']))
        for mode in ('vm_and_task_state', None):
            scene, trail = self.replay('delete', mode)
            self.assertIsNone(trail[-1][1])


class TestNovaServices(CorpusTestCase):

    def test_service_update_of_a_known_node(self):
        scene = watcher_replay.ComputeScene(catalog.HOSTS)
        scene.apply(nova.service('service.update', catalog.SOURCE,
                                 disabled=True,
                                 disabled_reason='hardware check'))
        node = scene.node(catalog.SOURCE)
        self.assertEqual(('up', 'disabled', 'hardware check'),
                         (node.state, node.status, node.disabled_reason))
        scene.apply(nova.service('service.update', catalog.SOURCE,
                                 forced_down=True))
        node = scene.node(catalog.SOURCE)
        self.assertEqual(('down', 'enabled', None),
                         (node.state, node.status, node.disabled_reason))

    def test_service_create_looks_the_new_host_up(self):
        scene = watcher_replay.ComputeScene(catalog.HOSTS)
        scene.cloud.add_hypervisor('compute-3', vcpus=32)
        scene.apply(nova.service('service.create', 'compute-3'))
        node = scene.node('compute-3')
        # From "Nova" and "Placement": the inventories of the provider.
        self.assertEqual((32, 4.0, 512),
                         (node.vcpus, node.vcpu_ratio,
                          node.memory_mb_reserved))
        self.assertIn(('compute', 'hypervisors', 'compute-3'),
                      scene.cloud.calls)
        self.assertIn(('placement', 'inventories', node.uuid),
                      scene.cloud.calls)

    def test_service_delete(self):
        scene = watcher_replay.ComputeScene(catalog.HOSTS + ('compute-3',))
        scene.apply(nova.service('service.delete', 'compute-3'))
        self.assertIsNone(scene.node('compute-3'))

    def test_other_binaries_are_looked_up_as_nodes(self):
        scene = watcher_replay.ComputeScene(catalog.HOSTS)
        scene.apply(nova.service('service.update', 'controller',
                                 binary='nova-scheduler', disabled=True))
        self.assertIsNone(scene.node('controller'))
        self.assertIn(('compute', 'hypervisors', 'controller'),
                      scene.cloud.calls)
        self.assertIn('every binary',
                      spec.EVENTS['service.update'].watcher_differs)

    def test_every_release(self):
        for release in nova_objects.RELEASES:
            scene = watcher_replay.ComputeScene(catalog.HOSTS)
            scene.apply(nova.service('service.update', catalog.DEST,
                                     release=release, disabled=True,
                                     disabled_reason='r'))
            self.assertEqual('disabled', scene.node(catalog.DEST).status,
                             release)


class TestCinder(CorpusTestCase):

    def scene(self, pools=None):
        scene = watcher_replay.StorageScene()
        pools = pools or [cinder.PoolState(catalog.POOL)]
        scene.add_backend(catalog.BACKEND, pools,
                          types=('lvmdriver-1', 'ceph-ssd'))
        return scene

    def assertVolumeReflects(self, scene, note, pools_after):
        payload = note.payload
        volume = scene.volume(payload['volume_id'])
        self.assertIsNotNone(volume, note.event_type)
        names = watcher_replay.volume_type_names()
        self.assertEqual({
            'name': payload['display_name'],
            'size': payload['size'],
            'status': payload['status'],
            'attachments': [{'server_id': a['instance_uuid'],
                             'attachment_id': a['id']}
                            for a in payload['volume_attachment']],
            'project_id': payload['tenant_id'],
            # Watcher stores what it is sent: Cinder's list (its collector
            # stores the API's dict: spec.watcher_differs).
            'metadata': payload['metadata'],
            'bootable': 'glance_metadata' in payload,
            'volume_type': names[payload['volume_type']],
            'host': payload['host'],
        }, {k: getattr(volume, k) for k in (
            'name', 'size', 'status', 'attachments', 'project_id',
            'metadata', 'bootable', 'volume_type', 'host')},
            note.event_type)
        self.assertEqual(payload['host'], scene.pool_of(volume.uuid))
        self.assertPoolIsTheAPIs(scene, payload['host'], pools_after)

    def assertPoolIsTheAPIs(self, scene, name, pools_after):
        pool = scene.pool(name)
        wanted = watcher_replay.pool_values(pools_after[name])
        self.assertEqual(wanted, {k: getattr(pool, k) for k in wanted},
                         'pool %s' % name)

    def test_volume_life(self):
        for form in ('list', 'dict'):
            scene = self.scene()
            vol = catalog.VOLUME
            pools = {catalog.POOL: cinder.PoolState(catalog.POOL)}
            steps = cinder.lifecycle(vol, catalog.SERVER.uuid, pools=pools,
                                     metadata_form=form)
            seen = []
            for note, after in steps:
                # What the API reports once the event happened.
                scene.cloud.pools.update(
                    {n: dataclasses.replace(p) for n, p in after.items()})
                before = scene.volume(vol.uuid)
                before = before.as_dict() if before else None
                scene.apply(note)
                seen.append(note.event_type)
                if note.event_type == 'capacity.pool':
                    pool = scene.pool(note.payload['name_to_id'])
                    self.assertEqual(
                        int(note.payload['allocated']),
                        pool.allocated_capacity_gb)
                    continue
                if note.event_type not in WATCHER_CINDER:
                    now = scene.volume(vol.uuid)
                    self.assertEqual(before, now.as_dict() if now else None,
                                     note.event_type)
                    continue
                if note.event_type == 'volume.delete.end':
                    self.assertIsNone(scene.volume(vol.uuid))
                    self.assertPoolIsTheAPIs(scene, catalog.POOL, after)
                    continue
                self.assertVolumeReflects(scene, note, after)
            self.assertEqual(
                ['volume.create.start', 'volume.create.end', 'capacity.pool',
                 'volume.attach.start', 'volume.attach.end', 'volume.retype',
                 'volume.detach.start', 'volume.detach.end',
                 'volume.delete.start', 'volume.delete.end',
                 'capacity.pool'], seen)

    def test_pool_counters_follow_the_api(self):
        # The changed numbers after create.end reach Watcher's pool.
        scene = self.scene()
        pools = {catalog.POOL: cinder.PoolState(catalog.POOL)}
        steps = cinder.lifecycle(catalog.VOLUME, catalog.SERVER.uuid,
                                 pools=pools)
        note, after = steps[1]
        self.assertEqual('volume.create.end', note.event_type)
        scene.cloud.pools.update(after)
        scene.apply(note)
        pool = scene.pool(catalog.POOL)
        self.assertEqual((1, 20, 980), (pool.total_volumes,
                                        pool.allocated_capacity_gb,
                                        pool.free_capacity_gb))

    def test_volume_in_a_pool_and_backend_watcher_lacks(self):
        scene = self.scene()
        other = cinder.PoolState(catalog.OTHER_POOL, total_capacity_gb=500,
                                 free_capacity_gb=450,
                                 allocated_capacity_gb=50,
                                 provisioned_capacity_gb=50,
                                 total_volumes=3)
        scene.add_backend('storage-2@ceph', [other], types=('ceph-ssd',),
                          in_model=False, zone='az-2')
        vol = cinder.volume('elsewhere', host=catalog.OTHER_POOL,
                            volume_type='ceph-ssd')
        note = cinder.volume_event('volume.create.end', vol)
        scene.apply(note)
        self.assertVolumeReflects(scene, note, {catalog.OTHER_POOL: other})
        node = scene.model.get_node_by_name('storage-2@ceph')
        self.assertEqual(('az-2', ['ceph-ssd']),
                         (node.zone, node.volume_type))

    def test_resize_and_update(self):
        scene = self.scene()
        vol = catalog.VOLUME
        scene.add_volume(vol)
        pools = {catalog.POOL: cinder.PoolState(catalog.POOL)}
        for note in catalog.cinder_examples():
            if note.event_type in ('volume.resize.end', 'volume.update.end'):
                scene.apply(note)
                self.assertVolumeReflects(scene, note, pools)
        self.assertEqual((30, 'web-1-db'), (scene.volume(vol.uuid).size,
                                            scene.volume(vol.uuid).name))

    def test_capacity_pool(self):
        scene = self.scene()
        note = [n for n in catalog.cinder_examples()
                if n.event_type == 'capacity.pool'][-1]
        scene.apply(note)
        pool = scene.pool(catalog.POOL)
        self.assertEqual(
            (1000, 980, 20, 20, 980),
            (pool.total_capacity_gb, pool.free_capacity_gb,
             pool.provisioned_capacity_gb, pool.allocated_capacity_gb,
             pool.virtual_free))
        self.assertEqual(980.0, note.payload['free'])
        self.assertNotIn('total_volumes', note.payload)

    def test_events_watcher_ignores_change_nothing(self):
        scene = self.scene()
        vol = catalog.VOLUME
        scene.add_volume(vol)
        before = scene.volume(vol.uuid).as_dict()
        for note in catalog.cinder_examples():
            if (note.event_type in WATCHER_CINDER
                    or note.payload.get('volume_id') != vol.uuid):
                continue
            scene.apply(note)
            self.assertEqual(before, scene.volume(vol.uuid).as_dict(),
                             note.event_type)


class TestSpecIsWatchers(CorpusTestCase):

    def test_watcher_mappings(self):
        # spec's "Watcher 17" column is Watcher's own mapping and filters.
        self.assertEqual(
            set(w_nova.VersionedNotification.notification_mapping),
            WATCHER_NOVA)
        scene = watcher_replay.StorageScene()
        filtered = set()
        for endpoint in scene.endpoints:
            rule = endpoint.filter_rule
            for event_type in spec.EVENTS:
                if rule.match({}, 'volume.host@b#p' if event_type.startswith(
                        'volume.') else 'capacity.host', event_type, {}, {}):
                    filtered.add(event_type)
        self.assertEqual(WATCHER_CINDER, filtered)
        for event_type in WATCHER_NOVA | WATCHER_CINDER:
            name = spec.EVENTS[event_type].watcher.rsplit('.', 1)[-1]
            if event_type in WATCHER_NOVA:
                self.assertEqual(
                    name, w_nova.VersionedNotification.notification_mapping[
                        event_type].__name__)
            else:
                self.assertIn(name, {type(e).__name__
                                     for e in scene.endpoints})


class TestIronic(CorpusTestCase):

    def test_watcher_has_no_ironic_endpoint(self):
        # Watcher rebuilds its baremetal model from the API on every
        # audit: no Ironic notification reaches it.
        self.assertIsNone(
            w_ironic.BaremetalClusterDataModelCollector
            .notification_endpoints.fget(None))
        self.assertFalse([e for e in spec.EVENTS.values()
                          if e.service == 'ironic' and e.watcher])
