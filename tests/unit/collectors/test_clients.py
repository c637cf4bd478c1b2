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

"""The keystoneauth1 API client against the local API emulators.

Real HTTP over loopback: keystoneauth1 authenticates against the emulated
Keystone (password), finds the endpoints in its catalog and calls the
emulated services. Nothing of keystoneauth1 is mocked.
"""

import socket
import time

import fixtures

from tachyon.collectors import clients
from tachyon.collectors import lookups
from tachyon import exception
from tests import base
from tests.fixtures import emulators


class ClientTestCase(base.TestCase):

    max_limit = 1000

    def setUp(self):
        super().setUp()
        self.logger = self.useFixture(fixtures.FakeLogger())
        self.os = self.useFixture(emulators.OpenStackFixture(
            self.conf, max_limit=self.max_limit))
        self.cloud = self.os.cloud
        self.os.set_retries(3, 0.01)


class TestAPIClient(ClientTestCase):

    max_limit = 7

    def setUp(self):
        super().setUp()
        for index in range(4):
            self.cloud.add_compute_node('compute-%d' % index)
        created = [self.cloud.add_server(host='compute-%d' % (i % 4))
                   for i in range(23)]
        # In the order Nova lists them: the newest first.
        self.servers = created[::-1]

    def test_every_page_followed(self):
        self.flags(group='collectors', page_size=5)
        api = clients.NovaAPI(self.conf)
        servers = api.servers()
        self.assertEqual(self.servers, [s['id'] for s in servers])
        pages = self.os.nova.requests_to(r'^/servers/detail$')
        # 23 servers by 5: 5 pages, each after the previous one's last.
        self.assertEqual(5, len(pages))
        self.assertIsNone(pages[0].query.get('marker'))
        self.assertEqual([self.servers[i] for i in (4, 9, 14, 19)],
                         [p.query['marker'] for p in pages[1:]])
        for page in pages:
            self.assertEqual('True', page.query['all_tenants'])
            self.assertEqual('5', page.query['limit'])

    def test_server_side_limit_is_followed(self):
        # We ask 1000 per page; the API caps at 7 and links the next page.
        api = clients.NovaAPI(self.conf)
        self.assertEqual(23, len(api.servers()))
        self.assertEqual(4, len(self.os.nova.requests_to(
            r'^/servers/detail$')))

    def test_exact_multiple_of_page_size(self):
        self.flags(group='collectors', page_size=1000)
        self.cloud.add_server(host='compute-0')
        api = clients.NovaAPI(self.conf)
        # 24 servers, 7 per page: 4 pages, the last one short.
        self.assertEqual(24, len(api.servers()))
        self.cloud.add_server(host='compute-0')
        self.cloud.add_server(host='compute-0')
        self.cloud.add_server(host='compute-0')
        self.cloud.add_server(host='compute-0')
        self.os.nova.clear()
        # 28 = 4 x 7: a 5th, empty page ends it.
        self.assertEqual(28, len(api.servers()))
        self.assertEqual(5, len(self.os.nova.requests_to(
            r'^/servers/detail$')))

    def test_hypervisors_paged(self):
        self.flags(group='collectors', page_size=3)
        api = clients.NovaAPI(self.conf)
        self.assertEqual(4, len(api.hypervisors()))
        self.assertEqual(2, len(self.os.nova.requests_to(
            r'^/os-hypervisors/detail$')))

    def test_microversion_headers(self):
        api = clients.NovaAPI(self.conf)
        api.servers()
        api.inventories(next(iter(self.cloud.compute_nodes)))
        self.assertEqual({'2.56'}, {r.microversion for r in
                                    self.os.nova.requests})
        request = self.os.nova.requests[0]
        self.assertEqual('compute 2.56',
                         request.headers['openstack-api-version'])
        self.assertEqual('2.56',
                         request.headers['x-openstack-nova-api-version'])
        self.assertEqual('placement 1.6', self.os.placement.requests[0]
                         .headers['openstack-api-version'])

    def test_configured_microversion(self):
        self.flags(group='nova', api_microversion='2.96')
        api = clients.NovaAPI(self.conf)
        api.servers()
        self.assertEqual('2.96', self.os.nova.requests[0].microversion)
        self.assertEqual((2, 96), api.microversion)

    def test_microversion_below_minimum(self):
        self.flags(group='nova', api_microversion='2.40')
        exc = self.assertRaises(exception.ConfigurationError,
                                clients.NovaAPI, self.conf)
        self.assertIn('2.53', str(exc))
        self.flags(group='nova', api_microversion='latest')
        self.assertRaises(exception.ConfigurationError, clients.NovaAPI,
                          self.conf)

    def test_503_retried_then_succeeds(self):
        self.flags(group='collectors', page_size=10)
        # The second page fails twice, then answers.
        self.os.nova.inject(r'^/servers/detail$', status=503, times=2,
                            match=lambda r: 'marker' in r.query)
        api = clients.NovaAPI(self.conf)
        self.assertEqual(self.servers, [s['id'] for s in api.servers()])
        pages = self.os.nova.requests_to(r'^/servers/detail$')
        # 23 servers, at most 7 per page: 4 pages, plus 2 retries.
        self.assertEqual(4 + 2, len(pages))
        self.assertEqual(pages[1].query, pages[2].query)
        self.assertEqual(pages[1].query, pages[3].query)

    def test_retries_wait_as_configured(self):
        self.os.set_retries(3, 0.05)
        self.os.nova.inject(r'^/os-services$', status=502, times=3)
        api = clients.NovaAPI(self.conf)
        start = time.monotonic()
        api.compute_services()
        # three fixed waits of 0.05 s
        self.assertGreaterEqual(time.monotonic() - start, 0.15)
        self.assertEqual(4, len(self.os.nova.requests_to('^/os-services$')))

    def test_keystoneauth_does_not_retry_too(self):
        # 503 is keystoneauth's own default retriable code: if its retries
        # were on as well, 2 retries here would become 3 x 3 requests.
        self.os.set_retries(2, 0.01)
        self.os.nova.inject(r'^/os-services$', status=503, times=10)
        api = clients.NovaAPI(self.conf)
        self.assertRaises(exception.UpstreamError, api.compute_services)
        self.assertEqual(3, len(self.os.nova.requests_to('^/os-services$')))

    def test_status_not_in_retriable_codes_fails_at_once(self):
        self.flags(group='nova', retriable_status_codes=[503])
        self.os.nova.inject(r'^/os-services$', status=500, times=10)
        api = clients.NovaAPI(self.conf)
        exc = self.assertRaises(exception.UpstreamError,
                                api.compute_services)
        self.assertIn('HTTP 500', str(exc))
        self.assertEqual(1, len(self.os.nova.requests_to('^/os-services$')))

    def test_deprecated_api_retries_where_group_is_unset(self):
        self.os.set_retries(None)
        self.flags(group='collectors', api_retries=1, api_retry_delay=0.01)
        self.os.nova.inject(r'^/os-services$', status=500, times=10)
        api = clients.NovaAPI(self.conf)
        self.assertRaises(exception.UpstreamError, api.compute_services)
        self.assertEqual(2, len(self.os.nova.requests_to('^/os-services$')))

    def test_group_retries_win_over_deprecated_api_retries(self):
        self.os.set_retries(None)
        self.flags(group='collectors', api_retries=5, api_retry_delay=0.01)
        self.flags(group='nova', status_code_retries=2,
                   status_code_retry_delay=0.01)
        self.os.nova.inject(r'^/os-services$', status=500, times=10)
        api = clients.NovaAPI(self.conf)
        self.assertRaises(exception.UpstreamError, api.compute_services)
        self.assertEqual(3, len(self.os.nova.requests_to('^/os-services$')))

    def test_5xx_retries_exhausted(self):
        self.os.nova.inject(r'^/os-services$', status=500, times=10)
        api = clients.NovaAPI(self.conf)
        exc = self.assertRaises(exception.UpstreamError,
                                api.compute_services)
        self.assertNotIsInstance(exc, exception.UpstreamAuthFailed)
        self.assertIn('Nova', str(exc))
        self.assertIn('4 attempts', str(exc))
        self.assertIn('HTTP 500', str(exc))
        self.assertEqual(4, len(self.os.nova.requests_to('^/os-services$')))

    def test_malformed_json_page_retried(self):
        self.os.nova.inject(r'^/servers/detail$', status=200,
                            body='{"servers": [{"id": ', times=1)
        api = clients.NovaAPI(self.conf)
        self.assertEqual(23, len(api.servers()))

    def test_malformed_json_page_fails_the_call(self):
        self.os.nova.inject(r'^/servers/detail$', status=200,
                            body='<html>oops</html>', times=10)
        api = clients.NovaAPI(self.conf)
        exc = self.assertRaises(clients.MalformedResponse, api.servers)
        self.assertIn('malformed JSON', str(exc))

    def test_answer_without_list(self):
        self.os.nova.inject(r'^/os-services$', status=200,
                            body='{"services": null}')
        api = clients.NovaAPI(self.conf)
        self.assertRaises(clients.MalformedResponse, api.compute_services)

    def test_client_error_not_retried(self):
        self.os.nova.inject(r'^/os-services$', status=400,
                            body='{"badRequest": {"message": "nope"}}')
        api = clients.NovaAPI(self.conf)
        exc = self.assertRaises(exception.UpstreamError,
                                api.compute_services)
        self.assertIn('HTTP 400', str(exc))
        self.assertEqual(1, len(self.os.nova.requests_to('^/os-services$')))

    def test_connection_error_retried(self):
        # Point Nova at a closed port: every attempt fails to connect.
        sock = socket.socket()
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
        sock.close()
        self.flags(group='nova',
                   endpoint_override='http://127.0.0.1:%d/v2.1' % port)
        self.os.set_retries(2, 0.01)
        api = clients.NovaAPI(self.conf)
        exc = self.assertRaises(exception.UpstreamError,
                                api.compute_services)
        self.assertIn('connection error', str(exc))
        self.assertIn('3 attempts', str(exc))

    def test_keystone_5xx_retried(self):
        self.os.keystone.inject(r'^/v3/auth/tokens$', status=503,
                                method='POST')
        api = clients.NovaAPI(self.conf)
        self.assertEqual(4, len(api.hypervisors()))

    def test_wrong_password(self):
        self.os.set_password('wrong')
        api = clients.NovaAPI(self.conf)
        exc = self.assertRaises(exception.UpstreamAuthFailed, api.servers)
        message = str(exc)
        self.assertIn('Nova API', message)
        self.assertIn('[nova]', message)
        self.assertIn('Keystone refused the credentials', message)
        self.assertIsNone(exc.__cause__.__cause__)
        self.assertFalse(exc.transient)
        # No retry with credentials Keystone refused.
        self.assertEqual(1, len(self.os.keystone.requests_to(
            r'^/v3/auth/tokens$', method='POST')))

    def test_wrong_password_names_the_service(self):
        self.os.set_password('wrong', groups=['placement'])
        api = clients.NovaAPI(self.conf)
        api.servers()
        exc = self.assertRaises(exception.UpstreamAuthFailed,
                                api.inventories,
                                next(iter(self.cloud.compute_nodes)))
        self.assertIn('Placement API', str(exc))
        self.assertIn('[placement]', str(exc))

    def test_token_rejected_by_service(self):
        api = clients.NovaAPI(self.conf)
        api.servers()
        self.os.nova.inject(r'^/servers/detail$', status=401, times=10)
        exc = self.assertRaises(exception.UpstreamAuthFailed, api.servers)
        self.assertIn('the Nova API rejected the token', str(exc))

    def test_password_changed_in_keystone(self):
        api = clients.NovaAPI(self.conf)
        api.servers()
        # Keystone forgets every token and no longer knows the password:
        # keystoneauth authenticates again and is refused.
        self.os.keystone.revoke_all()
        self.os.keystone.password = 'rotated'
        exc = self.assertRaises(exception.UpstreamAuthFailed, api.servers)
        self.assertIn('Keystone refused the credentials', str(exc))

    def test_forbidden(self):
        self.os.nova.inject(r'^/servers/detail$', status=403,
                            body='{"forbidden": {"code": 403}}')
        api = clients.NovaAPI(self.conf)
        exc = self.assertRaises(exception.UpstreamAuthFailed, api.servers)
        self.assertIn('admin role', str(exc))

    def test_no_auth_configured(self):
        self.conf.clear_override('auth_type', group='cinder')
        exc = self.assertRaises(exception.ConfigurationError,
                                clients.APIClient, self.conf, 'cinder')
        self.assertIn('[cinder]/auth_type', str(exc))

    def test_endpoint_not_in_catalog(self):
        self.flags(group='ironic', region_name='NoSuchRegion')
        client = clients.APIClient(self.conf, 'ironic')
        exc = self.assertRaises(exception.ConfigurationError, client.get,
                                '/v1/nodes')
        self.assertIn('Ironic', str(exc))

    def test_deadline(self):
        self.os.set_retries(3, 0.5)
        self.os.nova.inject(r'^/os-services$', status=503, times=10)
        api = clients.NovaAPI(self.conf, clients.Deadline(0.3))
        exc = self.assertRaises(clients.SyncTimeout, api.compute_services)
        self.assertIn('sync_timeout', str(exc))

    def test_deadline_bounds_a_slow_request(self):
        self.os.nova.on_request(r'^/os-services$',
                                lambda request: time.sleep(1.5))
        self.os.set_retries(0)
        api = clients.NovaAPI(self.conf, clients.Deadline(0.5))
        start = time.monotonic()
        self.assertRaises(exception.UpstreamError, api.compute_services)
        self.assertLess(time.monotonic() - start, 1.4)


class TestPagingOtherAPIs(ClientTestCase):

    max_limit = 4

    def test_cinder_volumes_paged(self):
        self.cloud.add_storage_backend('stor', 'lvm')
        vols = [self.cloud.add_volume('stor@lvm#pool1') for _i in range(10)]
        api = clients.CinderAPI(self.conf)
        self.assertEqual(vols, [v['id'] for v in api.volumes()])
        self.assertEqual(3, len(self.os.cinder.requests_to(
            r'^/volumes/detail$')))
        self.assertEqual('volume 3.0', self.os.cinder.requests[0]
                         .headers['openstack-api-version'])

    def test_ironic_nodes_paged_with_next(self):
        nodes = [self.cloud.add_ironic_node() for _i in range(9)]
        api = clients.IronicAPI(self.conf)
        self.assertEqual(nodes, [n['uuid'] for n in api.nodes()])
        requests = self.os.ironic.requests_to(r'^/v1/nodes/detail$')
        self.assertEqual(3, len(requests))
        self.assertEqual('1.21', requests[0].headers[
            'x-openstack-ironic-api-version'])

    def test_next_link_that_loops(self):
        self.cloud.add_compute_node('c1')
        for _i in range(5):
            self.cloud.add_server(host='c1')
        body = ('{"servers": [{"id": "x"}], "servers_links": [{"rel": '
                '"next", "href": "http://h/v2.1/servers/detail?marker=x"}]}')
        self.os.nova.inject(r'^/servers/detail$', status=200, body=body,
                            times=2)
        api = clients.NovaAPI(self.conf)
        exc = self.assertRaises(clients.MalformedResponse, api.servers)
        self.assertIn('does not move on', str(exc))


class TestComputeNodeLookup(ClientTestCase):

    def setUp(self):
        super().setUp()
        self.node = self.cloud.add_compute_node(
            'compute-1', vcpus=16, zone='az-9',
            hypervisor_hostname='compute-1.example.org')
        self.cloud.add_compute_node('compute-11')
        self.cloud.add_aggregate('gpu', ['compute-1'])
        self.cloud.add_compute_node('ironic-host', hypervisor_type='ironic',
                                    hypervisor_hostname='bm-node-1')
        self.lookup = lookups.ComputeNodeLookup(self.conf)

    def test_by_hostname(self):
        before = time.time()
        node = self.lookup.lookup('compute-1')
        self.assertEqual(self.node, node.uuid)
        self.assertEqual('compute-1', node.hostname)
        self.assertEqual('az-9', node.availability_zone)
        self.assertEqual([{'id': 1, 'name': 'gpu'}], node.aggregates)
        self.assertEqual(16, node.inventories['VCPU'].total)
        self.assertEqual(16.0, node.inventories['VCPU'].allocation_ratio)
        self.assertIn('HW_CPU_X86_AVX2', node.traits)
        self.assertGreaterEqual(node.updated_at, before)
        self.assertFalse(node.placeholder)

    def test_by_hypervisor_hostname_and_uuid(self):
        self.assertEqual(self.node, self.lookup.lookup(
            'compute-1.example.org').uuid)
        self.assertEqual(self.node, self.lookup.lookup(
            self.node).uuid)

    def test_unknown(self):
        self.assertIsNone(self.lookup.lookup('compute-404'))
        self.assertIsNone(self.lookup.lookup(
            '00000000-0000-4000-8000-000000000000'))

    def test_baremetal_is_not_a_compute_node(self):
        self.assertIsNone(self.lookup.lookup('bm-node-1'))

    def test_session_reused(self):
        self.lookup.lookup('compute-1')
        tokens = len(self.os.keystone.requests_to(r'^/v3/auth/tokens$',
                                                  method='POST'))
        # One token for Nova, one for Placement; none more later.
        self.assertEqual(2, tokens)
        self.lookup.lookup('compute-11')
        self.assertEqual(tokens, len(self.os.keystone.requests_to(
            r'^/v3/auth/tokens$', method='POST')))


class TestRetryPolicy(base.TestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(emulators.OpenStackFixture(self.conf))

    def test_defaults_are_keystoneauths_exponential_delay(self):
        policy = clients.RetryPolicy(self.conf, 'nova')
        self.assertEqual({'connect': 3, 'status': 3}, policy.retries)
        self.assertEqual([0.5, 1.0, 2.0, 4.0],
                         [policy.delay('status', n) for n in range(4)])
        self.assertEqual(60.0, policy.delay('connect', 20))
        self.assertEqual({500, 502, 503, 504},
                         policy.retriable_status_codes)

    def test_fixed_delay_per_budget(self):
        self.flags(group='cinder', connect_retry_delay=2.0,
                   status_code_retries=7)
        policy = clients.RetryPolicy(self.conf, 'cinder')
        self.assertEqual([2.0, 2.0, 2.0],
                         [policy.delay('connect', n) for n in range(3)])
        self.assertEqual(1.0, policy.delay('status', 1))
        self.assertEqual({'connect': 3, 'status': 7}, policy.retries)

    def test_deprecated_delay_doubles_as_before(self):
        self.flags(group='collectors', api_retries=4, api_retry_delay=0.1)
        policy = clients.RetryPolicy(self.conf, 'ironic')
        self.assertEqual({'connect': 4, 'status': 4}, policy.retries)
        self.assertEqual([0.1, 0.2, 0.4],
                         [policy.delay('status', n) for n in range(3)])
