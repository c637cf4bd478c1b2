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

"""Watcher's own compute model against Tachyon's sync of the same cloud.

One generated cloud behind the emulated Keystone, Nova and Placement. On
one side a real watcher-decision-engine builds its in-memory model with
Watcher's own compute collector (openstacksdk and its Placement helper),
read back through the data model API (``watcher datamodel list``); on the
other ``tachyon-manage sync run`` syncs the same APIs into Neo4j with
Tachyon's collectors, read back with the graph's model reader
(``tachyon.graph.compute.get_compute_model``), each record's fields named
as Watcher's elements name them. Both must hold the same compute nodes
and instances, field by field, and both must be what the cloud holds.

Instance creation times are compared as instants (Watcher's data model
API sends a naive UTC time, Nova and the graph keep Nova's text).

Watcher runs with its extended attributes on (``[compute_model]
enable_extended_attributes``, ``[nova] api_version = 2.96``) and Tachyon
asks Nova for the same microversion (``[nova] api_microversion``), so that
pinned availability zones and flavor extra specs are compared too.
"""

import os
import subprocess

from oslo_utils import timeutils
import testtools

from tachyon.graph import compute
from tachyon.model import records
from tests.fixtures.emulators import cloud as cloud_mod
from tests.fixtures import services
from tests.fixtures.watcher import config
from tests.fixtures.watcher import datamodel
from tests.fixtures.watcher import environment
from tests.fixtures.watcher import process as proc
from tests.fixtures.watcher import providers
from tests.fixtures.watcher import scenarios


def generated_cloud():
    """A generated cloud, with what generate() leaves out added."""
    fake = cloud_mod.generate(hypervisors=24, servers=150, zones=3,
                              aggregates=4, seed=1515)
    hosts = [n['host'] for n in fake.compute_nodes.values()]
    # Other states, a locked server, a pinned zone, extra specs, a
    # server without a host; an Ironic hypervisor (filtered out by both).
    fake.add_server(host=hosts[1], name='stopped', vm_state='stopped',
                    flavor='m1.medium')
    fake.add_server(host=hosts[2], name='in-error', vm_state='error',
                    flavor='m1.tiny', locked=True)
    fake.add_server(host=hosts[3], name='pinned', flavor='m1.large',
                    pinned_az='az-0', extra_specs={'hw:numa_nodes': '2'})
    fake.add_server(host=None, name='offloaded',
                    vm_state='shelved_offloaded', flavor='m1.small')
    fake.add_compute_node('ironic-node', hypervisor_type='ironic',
                          placement=False)
    return scenarios.Cloud(fake, {}, {})


def _instant(value):
    if not value:
        return value
    return timeutils.normalize_time(timeutils.parse_isotime(value)).strftime(
        timeutils.PERFECT_TIME_FORMAT)


def _with_instants(model):
    nodes, instances = model
    for inst in instances.values():
        if 'created' in inst:
            inst['created'] = _instant(inst['created'])
    return nodes, instances


#: Watcher's ComputeNode fields: (resource class, inventory field).
INVENTORY = {
    'vcpus': (records.VCPU, 'total'),
    'vcpu_reserved': (records.VCPU, 'reserved'),
    'vcpu_ratio': (records.VCPU, 'allocation_ratio'),
    'memory': (records.MEMORY_MB, 'total'),
    'memory_mb_reserved': (records.MEMORY_MB, 'reserved'),
    'memory_ratio': (records.MEMORY_MB, 'allocation_ratio'),
    'disk': (records.DISK_GB, 'total'),
    'disk_gb_reserved': (records.DISK_GB, 'reserved'),
    'disk_ratio': (records.DISK_GB, 'allocation_ratio'),
}
INSTANCE_FIELDS = ('uuid', 'name', 'state', 'vcpus', 'memory', 'disk',
                   'metadata', 'project_id', 'locked', 'watcher_exclude',
                   'host', 'hypervisor_hostname', 'created', 'pinned_az',
                   'flavor_extra_specs')


def graph_model(graph):
    """Nodes and mapped instances of the graph, in Watcher's fields."""
    model = compute.get_compute_model(graph)
    nodes = {}
    for node in model['nodes']:
        fields = {'uuid': node.uuid, 'hostname': node.hostname,
                  'status': node.status, 'state': node.state,
                  'disabled_reason': node.disabled_reason}
        for field, (rc, what) in INVENTORY.items():
            fields[field] = getattr(node.inventory(rc), what)
        nodes[node.uuid] = fields
    instances = {}
    for inst in model['instances']:
        node_uuid = model['mapping'].get(inst.uuid)
        if node_uuid is None:
            continue
        fields = {f: getattr(inst, f) for f in INSTANCE_FIELDS}
        fields['node_uuid'] = node_uuid
        instances[inst.uuid] = fields
    return nodes, instances


class TestComputeModelDifferential(testtools.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = environment.Environment(
            providers.WatcherProvider, cloud=generated_cloud(),
            metrics=None, database='sqlite', sections={
                'compute_model': {'enable_extended_attributes': True},
                'nova': {'api_version': '2.96'}})
        cls.env.setUp()

    @classmethod
    def tearDownClass(cls):
        cls.env.cleanUp()
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.neo4j = self.useFixture(services.Neo4jFixture())
        self.fake = self.env.cloud.fake

    def tachyon_sync(self):
        """``tachyon-manage sync run`` against the emulated cloud."""
        path = os.path.join(self.env.deployment.dir, 'tachyon.conf')
        auth = self.env.openstack.auth_options()
        config.write(path, {
            'neo4j': {'uri': self.neo4j.uri, 'username': self.neo4j.user,
                      'password': self.neo4j.password},
            'collectors': {'enabled_collectors': ['nova']},
            # The microversion Watcher is configured with (pinned zones).
            'nova': dict(auth, api_microversion='2.96'),
            'placement': auth,
        })
        result = subprocess.run(
            [proc.console_script('tachyon-manage'), '--config-file', path,
             'sync', 'run', '--collector', 'nova'],
            capture_output=True, text=True, env=proc.child_env(),
            cwd=proc.REPO, timeout=300)
        self.assertEqual(0, result.returncode,
                         result.stdout + result.stderr)

    def tachyon_model(self):
        return _with_instants(graph_model(self.neo4j.graph))

    def watcher_model(self):
        return _with_instants(datamodel.split(
            self.env.deployment.api.data_model('compute')['context']))

    def assert_same(self, left, right, names):
        for kind, a, b in zip(('node', 'instance'), left, right):
            self.assertEqual([], datamodel.differences(a, b, names=names),
                             '%s differences' % kind)

    def test_watcher_and_tachyon_models_are_the_same(self):
        self.tachyon_sync()
        watcher = self.watcher_model()
        tachyon = self.tachyon_model()
        self.assertEqual(24, len(watcher[0]))
        self.assertEqual(153, len(watcher[1]))
        self.assert_same(watcher, tachyon, ('watcher', 'tachyon'))

    def test_both_hold_the_cloud(self):
        self.tachyon_sync()
        nodes, instances = datamodel.expected(self.fake)
        for name, (got_nodes, got_instances) in (
                ('watcher', self.watcher_model()),
                ('tachyon', self.tachyon_model())):
            fields = sorted(next(iter(nodes.values())))
            self.assertEqual([], datamodel.differences(
                nodes, got_nodes, fields, ('cloud', name)))
            fields = sorted(next(iter(instances.values())))
            self.assertEqual([], datamodel.differences(
                instances, got_instances, fields, ('cloud', name)))
