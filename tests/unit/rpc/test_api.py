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

"""The rpcapi client's versioning and the server's scope filter."""

import inspect

from tachyon import exception
from tachyon.model import records
from tachyon.rpc import api
from tachyon.rpc import manager
from tachyon.simulation import audit_scope
from tachyon.simulation import validation
from tests import base
from tests.fixtures import services


class TestVersionCap(base.TestCase):

    def setUp(self):
        super().setUp()
        self.transport = self.useFixture(
            services.FakeTransportFixture(self.conf)).transport

    def test_capped_client_refuses_newer_calls_without_sending(self):
        client = api.EngineAPI(self.conf, transport=self.transport,
                               version_cap='1.0')
        sent = []
        self.transport._send = lambda *a, **kw: sent.append((a, kw))
        exc = self.assertRaises(exception.InvalidState,
                                client.get_baremetal_snapshot)
        self.assertIn('1.1', str(exc))
        self.assertIn('rpc_version_cap', str(exc))
        self.assertEqual([], sent)

    def test_packed_snapshot_falls_back_to_1_2_below_1_8(self):
        for cap, version, kwargs in (('1.8', '1.8', {'packed': True}),
                                     ('1.6', '1.2', {'columns': True}),
                                     ('1.1', '1.0', {})):
            client = api.EngineAPI(self.conf, transport=self.transport,
                                   version_cap=cap)
            calls = []

            def call(method, version='1.0', **kw):
                calls.append((method, version, kw))
                return {'nodes': {'fields': ['uuid'], 'rows': [['n1']]},
                        'instances': [], 'mapping': {}}
            client._call = call
            snapshot = client.get_compute_snapshot(columns=True, packed=True)
            self.assertEqual([{'uuid': 'n1'}] if version != '1.0'
                             else {'fields': ['uuid'], 'rows': [['n1']]},
                             snapshot['nodes'])
            (method, sent, kw), = calls
            self.assertEqual(('get_compute_snapshot', version),
                             (method, sent), cap)
            for name, value in kwargs.items():
                self.assertEqual(value, kw[name])
            self.assertNotIn('packed', kw if version != '1.8' else {})

    def test_default_cap_is_the_newest_version(self):
        client = api.EngineAPI(self.conf, transport=self.transport)
        self.assertTrue(client.can_send_version(api.RPC_API_VERSION))
        self.assertFalse(client.can_send_version('2.0'))

    def test_every_client_call_has_a_server_method(self):
        public = [name for name, _f in inspect.getmembers(
            api.EngineAPI, inspect.isfunction)
            if not name.startswith('_') and name != 'can_send_version']
        for name in public:
            self.assertTrue(callable(getattr(manager.EngineManager, name,
                                             None)), name)


def _node(uuid, host, az=None, aggregates=()):
    return records.ComputeNode(uuid=uuid, hostname=host,
                               availability_zone=az,
                               aggregates=[{'name': a, 'id': i}
                                           for i, a in enumerate(aggregates)])


class TestScope(base.TestCase):

    def setUp(self):
        super().setUp()
        self.model = self.fresh()

    def fresh(self):
        return {
            'nodes': [_node('n1', 'h1', 'az1', ['agg-a']),
                      _node('n2', 'h2', 'az2', ['agg-b']),
                      _node('n3', 'h3', 'az1')],
            'instances': [records.Instance(uuid='i1', project_id='p1'),
                          records.Instance(uuid='i2', project_id='p2'),
                          records.Instance(uuid='i3', project_id='p1')],
            'mapping': {'i1': 'n1', 'i2': 'n2', 'i3': 'n3'},
            'generation': 4}

    def scoped(self, **scope):
        model = audit_scope.apply_scope(self.model,
                                        validation.check_scope(scope))
        return ([n.uuid for n in model['nodes']],
                sorted(model['mapping']))

    def test_zones_aggregates_hosts_and_exclusions(self):
        self.assertEqual((['n1', 'n3'], ['i1', 'i3']),
                         self.scoped(availability_zones=['az1']))
        self.assertEqual((['n2'], ['i2']),
                         self.scoped(host_aggregates=['agg-b']))
        self.assertEqual((['n1'], ['i1']),
                         self.scoped(availability_zones=['az1'],
                                     host_aggregates=['agg-a']))
        self.assertEqual((['n1', 'n2'], ['i1', 'i2']),
                         self.scoped(exclude_compute_nodes=['h3']))
        self.assertEqual((['n1', 'n2', 'n3'], ['i1', 'i2', 'i3']),
                         self.scoped(host_aggregates=['*']))

    def test_excluded_instances_stay_marked(self):
        model = audit_scope.apply_scope(self.model, validation.check_scope(
            {'exclude_projects': ['p1'], 'exclude_instances': ['i2']}))
        self.assertEqual({'i1': True, 'i2': True, 'i3': True},
                         {i.uuid: i.watcher_exclude
                          for i in model['instances']})
        model = audit_scope.apply_scope(self.fresh(), validation.check_scope(
            {'compute_nodes': ['h1']}))
        self.assertEqual(['i1'], [i.uuid for i in model['instances']])

    def test_bad_scope_names_the_key(self):
        exc = self.assertRaises(exception.InvalidParameter,
                                validation.check_scope, {'zones': []})
        self.assertEqual('scope.zones', exc.kwargs['field'])
        exc = self.assertRaises(exception.InvalidParameter,
                                validation.check_scope,
                                {'compute_nodes': 'h1'})
        self.assertEqual('scope.compute_nodes', exc.kwargs['field'])
