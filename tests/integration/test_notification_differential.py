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

"""Differential: Watcher's sample notifications, replayed on both models.

The same starting scenario is loaded into Watcher's in-memory model and
into Tachyon's graph; every sample notification python-watcher ships is
handed to Watcher's own endpoint and to Tachyon's listener processor, in
order; after each one both models must hold the same nodes, instances,
pools and volumes with the same fields and mappings.

Both sides ask "the APIs" for what they lack through fakes that answer the
same thing: a fixed table of hypervisors, and for Cinder the pools,
storage nodes and volume types of the starting scenario.
"""

import dataclasses
import threading
import types
import uuid as uuid_lib

from watcher.common import exception as watcher_exc
from watcher.decision_engine.model.notification import nova as w_nova
from watcher.tests.unit.decision_engine.model import faker_cluster_state

from tachyon.graph import compute
from tachyon.graph import storage
from tachyon.model import records
from tachyon import watcher_xml
from tachyon.notifications import base
from tachyon.notifications import enrich
from tachyon.notifications import listener
from tests.fixtures.notifications import spec
from tests.functional import base as functional
from tests.integration import notification_samples as samples
from tests import watcher_models

# The hypervisors "Nova" knows, beyond those of the starting scenario.
_NS = uuid_lib.UUID('1b4e28ba-2fa1-11d2-883f-0016d3cca427')


def hypervisor(name):
    return types.SimpleNamespace(
        uuid=str(uuid_lib.uuid5(_NS, name)), service_host=name,
        hypervisor_hostname=name, vcpus=40, memory_mb=131072,
        local_gb=250, state='up', status='enabled',
        service_disabled_reason=None)


class FakeWatcherNova(object):
    def get_compute_node_by_hostname(self, name):
        return hypervisor(name)

    def get_compute_node_by_uuid(self, uuid):
        raise watcher_exc.ComputeNodeNotFound(name=uuid)


class FakeWatcherPlacement(object):
    def get_inventories(self, uuid):
        return {}


class FakeTachyonCompute(object):
    """ComputeNodeLookup's interface over the same table."""

    def lookup(self, name):
        hyp = hypervisor(name)
        invs = {rc: records.Inventory(rc, total=total, max_unit=total)
                for rc, total in (('VCPU', hyp.vcpus),
                                  ('MEMORY_MB', hyp.memory_mb),
                                  ('DISK_GB', hyp.local_gb))}
        return records.ComputeNode(uuid=hyp.uuid, hostname=name,
                                   status=hyp.status, state=hyp.state,
                                   inventories=invs, service_host=name)


class CinderState(object):
    """What "Cinder" says: the starting scenario's pools and nodes."""

    def __init__(self, model):
        self.model = model
        self.nodes = {n.host: n.as_dict() for n in
                      model.get_all_storage_nodes().values()}

    @property
    def pools(self):
        # What Cinder reports is what the model holds now.
        return {p.name: p.as_dict() for p in _all_pools(self.model)}

    def pool(self, name):
        data = self.pools.get(name) or {
            'name': name, 'total_volumes': 1, 'total_capacity_gb': 500,
            'free_capacity_gb': 380, 'provisioned_capacity_gb': 120,
            'allocated_capacity_gb': 120}
        return dict(data)

    def node(self, host):
        data = self.nodes.get(host) or {
            'host': host, 'zone': 'zone_2', 'state': 'up',
            'status': 'enabled', 'volume_type': ['type_2']}
        return dict(data)


def _fields(record):
    return {f.name for f in dataclasses.fields(record)}


def _all_pools(model):
    return [p for node in model.get_all_storage_nodes().values()
            for p in model.get_node_pools(node)]


class FakeWatcherCinder(object):
    def __init__(self, state):
        self.state = state

    def get_storage_pool_by_name(self, name):
        return types.SimpleNamespace(**self.state.pool(name))

    def get_storage_node_by_name(self, host):
        data = self.state.node(host)
        return types.SimpleNamespace(
            host=data['host'], availability_zone=data['zone'],
            state=data['state'], status=data['status'])

    def get_volume_type_by_backendname(self, backend):
        for data in self.state.nodes.values():
            if data['host'].split('@')[-1] == backend:
                return list(data['volume_type'])
        return ['type_2']

    def get_volume_type_name_by_id(self, type_id):
        if not type_id:
            raise watcher_exc.VolumeTypeNotFound(name=type_id)
        return type_id


class FakeTachyonCinder(object):
    def __init__(self, state):
        self.state = state
        self.watcher = FakeWatcherCinder(state)

    def pools(self, names):
        result = {}
        for name in names:
            data = self.state.pool(name)
            result[name] = records.Pool(**{
                k: v for k, v in data.items()
                if k in _fields(records.Pool) and k != 'virtual_free'})
        return result

    def storage_nodes(self, hosts):
        result = {}
        for host in hosts:
            data = self.state.node(host)
            if host not in self.state.nodes:
                backend = host.split('@')[-1]
                data['volume_type'] = (
                    self.watcher.get_volume_type_by_backendname(backend))
            result[host] = records.StorageNode(
                host=host, zone=data['zone'], state=data['state'],
                status=data['status'], volume_type=data['volume_type'])
        return result

    def volume_types(self):
        return {name: name for name in ('type_0', 'type_1', 'type_2')}


class DifferentialTestCase(functional.FunctionalTestCase):

    def setUp(self):
        super().setUp()
        self.clock = 1.7e9
        self.collector = None

    def _processor(self, compute_lookup=None, cinder_lookup=None):
        handlers = listener.load_handlers(self.conf)
        enricher = enrich.Enricher(self.conf, self.graph,
                                   compute_lookup or FakeTachyonCompute(),
                                   cinder_lookup)
        return listener.Processor(self.conf, self.graph, handlers, enricher)

    def _replay(self, processor, endpoints, message):
        self.clock += 1.0
        metadata = {'message_id': str(uuid_lib.uuid4()),
                    'timestamp': self.clock}
        ctxt = types.SimpleNamespace(request_id=None)
        for endpoint in endpoints:
            endpoint.info(ctxt, message['publisher_id'],
                          message['event_type'], message['payload'],
                          dict(metadata))
        note = base.Notification(message['publisher_id'],
                                 message['event_type'], message['payload'],
                                 metadata)
        self.assertEqual(listener.ACK, processor.process([note]))


class TestNovaDifferential(DifferentialTestCase):
    """Nova's samples, from Watcher's scenario 3 (2 nodes)."""

    def setUp(self):
        super().setUp()
        faker = faker_cluster_state.FakerModelCollector()
        self.model = faker.generate_scenario_3_with_2_nodes()
        # Tachyon always keeps the extended attributes (extra specs).
        self.model.extended_attributes_enabled = True
        watcher_xml.import_model(self.graph, self.model.to_xml())
        collector = types.SimpleNamespace(cluster_data_model=self.model,
                                          sync_lock=threading.Lock())
        self.endpoint = w_nova.VersionedNotification(collector)
        self.endpoint._nova = FakeWatcherNova()
        self.endpoint._placement_helper = FakeWatcherPlacement()
        self.processor = self._processor()

    def assertSameCompute(self, after, only_watcher=(), placement=True):
        """Tachyon's graph holds Watcher's model.

        ``only_watcher``: nodes Watcher made on events where it departs
        from the event's meaning (spec ``watcher_differs``), left out on
        both sides (Tachyon may make them later, from a later event);
        ``placement`` False: the instances' nodes are not compared (after
        such an event).
        """
        nodes = {uuid: node for uuid, node
                 in compute.get_all_compute_nodes(self.graph).items()
                 if uuid not in only_watcher}
        instances = compute.get_all_instances(self.graph)
        w_nodes = {uuid: node for uuid, node
                   in self.model.get_all_compute_nodes().items()
                   if uuid not in only_watcher}
        w_instances = self.model.get_all_instances()
        self.assertEqual(sorted(w_nodes), sorted(nodes), after)
        self.assertEqual(sorted(w_instances), sorted(instances), after)
        for uuid, node in nodes.items():
            self.assertEqual({}, watcher_models.mismatches(
                w_nodes[uuid], watcher_models.node_fields(node)),
                '%s: node %s' % (after, uuid))
        for uuid, inst in instances.items():
            differ = watcher_models.mismatches(
                w_instances[uuid], watcher_models.instance_fields(inst))
            if not placement:
                # Where the instance is: host and hypervisor as well.
                differ.pop('host', None)
                differ.pop('hypervisor_hostname', None)
            self.assertEqual({}, differ, '%s: instance %s' % (after, uuid))
            try:
                w_node = self.model.get_node_by_instance_uuid(uuid).uuid
            except watcher_exc.ComputeResourceNotFound:
                w_node = None
            if placement:
                self.assertEqual(w_node, inst.node_uuid,
                                 '%s: node of instance %s' % (after, uuid))

    def test_every_nova_sample_in_turn(self):
        self.assertSameCompute('at the start')
        replayed = 0
        only_watcher = set()
        for name, message in samples.nova_samples():
            before = set(self.model.get_all_compute_nodes())
            self._replay(self.processor, [self.endpoint], message)
            event = spec.EVENTS.get(message['event_type'])
            differs = bool(event and event.watcher_differs)
            if differs:
                # e.g. instance.rebuild.end of an evacuation: Watcher
                # makes a node of the payload's (source) host; Tachyon
                # puts the instance on the publisher's.
                only_watcher |= (set(self.model.get_all_compute_nodes())
                                 - before
                                 - set(compute.get_all_compute_nodes(
                                     self.graph)))
            self.assertSameCompute('after %s' % name, only_watcher,
                                   placement=not differs)
            replayed += 1
        self.assertEqual(len(samples.nova_samples()), replayed)
        # The samples did change the model: not a vacuous comparison.
        self.assertGreater(len(compute.get_all_compute_nodes(self.graph)),
                           2)


class TestCinderDifferential(DifferentialTestCase):
    """Cinder's samples, from Watcher's storage scenario 1."""

    def setUp(self):
        super().setUp()
        faker = faker_cluster_state.FakerStorageModelCollector()
        self.model = faker.generate_scenario_1()
        watcher_xml.import_model(self.graph, self.model.to_xml())
        state = CinderState(self.model)
        collector = types.SimpleNamespace(cluster_data_model=self.model,
                                          sync_lock=threading.Lock())
        self.endpoints = {}
        for event, cls in samples.WATCHER_CINDER_ENDPOINTS.items():
            endpoint = cls(collector)
            endpoint._cinder = FakeWatcherCinder(state)
            self.endpoints[event] = endpoint
        self.processor = self._processor(
            cinder_lookup=FakeTachyonCinder(state))

    def _endpoints_for(self, event_type):
        endpoint = self.endpoints.get(event_type)
        return [endpoint] if endpoint else []

    def assertSameStorage(self, after):
        model = storage.get_storage_model(self.graph)
        w_nodes = self.model.get_all_storage_nodes()
        w_pools = {p.name: p for p in _all_pools(self.model)}
        w_volumes = self.model.get_all_volumes()
        self.assertEqual(sorted(w_nodes), sorted(n.host for n in
                                                 model['nodes']), after)
        self.assertEqual(sorted(w_pools), sorted(p.name for p in
                                                 model['pools']), after)
        self.assertEqual(sorted(w_volumes), sorted(v.uuid for v in
                                                   model['volumes']), after)
        for node in model['nodes']:
            expected = w_nodes[node.host].as_dict()
            got = {'host': node.host, 'zone': node.zone,
                   'status': node.status, 'state': node.state,
                   'volume_type': node.volume_type}
            self.assertEqual({k: expected.get(k) for k in got}, got,
                             '%s: storage node %s' % (after, node.host))
            self.assertEqual(
                sorted(p.name for p in self.model.get_node_pools(
                    w_nodes[node.host])),
                sorted(model['node_pools'][node.host]), after)
        for pool in model['pools']:
            expected = w_pools[pool.name].as_dict()
            got = {k: getattr(pool, k) for k in expected
                   if k not in ('name', 'uuid') and k in _fields(pool)}
            self.assertEqual({k: expected[k] for k in got}, got,
                             '%s: pool %s' % (after, pool.name))
        for vol in model['volumes']:
            expected = w_volumes[vol.uuid].as_dict()
            got = {k: getattr(vol, k) for k in expected
                   if k != 'uuid' and k in _fields(vol)}
            for key, value in list(got.items()):
                if key == 'snapshot_id' and value == '':
                    got[key] = None if expected[key] is None else value
            self.assertEqual({k: expected[k] for k in got}, got,
                             '%s: volume %s' % (after, vol.uuid))
            try:
                w_pool = self.model.get_pool_by_volume(
                    w_volumes[vol.uuid]).name
            except (watcher_exc.PoolNotFound, AttributeError):
                w_pool = None
            self.assertEqual(w_pool, vol.pool_name or None,
                             '%s: pool of volume %s' % (after, vol.uuid))

    def test_every_cinder_sample_in_turn(self):
        self.assertSameStorage('at the start')
        for name, message in samples.cinder_samples():
            self._replay(self.processor,
                         self._endpoints_for(message['event_type']),
                         message)
            self.assertSameStorage('after %s' % name)
        # Not vacuous: a pool and a storage node came from notifications,
        # one volume went.
        model = storage.get_storage_model(self.graph)
        self.assertIn('host_0@backend_0#pool_2',
                      [p.name for p in model['pools']])
        self.assertIn('host_2@backend_2', [n.host for n in model['nodes']])
        self.assertNotIn('5028b1eb-8749-48ae-a42c-5bdd1323976f',
                         [v.uuid for v in model['volumes']])
