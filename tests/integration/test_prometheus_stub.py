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

"""The Prometheus stub, asked by Watcher's own Prometheus datasource.

``PrometheusHelper`` (python-observabilityclient underneath) is built from
Watcher's ``[prometheus_client]`` options pointed at the stub; every
figure it returns comes from the stub's table, through the queries the
datasource itself builds.
"""

from observabilityclient import prometheus_client
from oslo_config import cfg
from watcher.common import exception
from watcher.decision_engine.datasources import prometheus
from watcher.decision_engine.model import element
from watcher.tests.unit import base as watcher_base

from tests.fixtures.emulators import prometheus as stub_mod


class TestPrometheusStub(watcher_base.TestCase):

    def setUp(self):
        super().setUp()
        self.stub = stub_mod.PrometheusStub().start()
        self.addCleanup(self.stub.stop)
        for name, value in (('host', '127.0.0.1'),
                            ('port', self.stub.port)):
            cfg.CONF.set_override(name, value, group='prometheus_client')
        self.stub.set_host('compute-1', host_cpu_usage=37.5,
                           host_ram_usage={'avg': 2048, 'min': 1024})
        self.stub.set_host('compute-2', host_cpu_usage=12)
        self.stub.set_instance('7d0b3f5e-1111-4222-8333-944455556666',
                               instance_cpu_usage=64.0,
                               instance_ram_usage=300)
        self.helper = prometheus.PrometheusHelper()
        self.node = element.ComputeNode(uuid='n1', hostname='compute-1')
        self.instance = element.Instance(
            uuid='7d0b3f5e-1111-4222-8333-944455556666', vcpus=2,
            memory=512, disk=10)

    def test_hosts_are_known_by_fqdn(self):
        self.assertEqual({'compute-1.cloud.test', 'compute-2.cloud.test'},
                         self.helper.prometheus_fqdn_labels)
        self.assertEqual({'compute-1': 'compute-1.cloud.test',
                          'compute-2': 'compute-2.cloud.test'},
                         self.helper.prometheus_host_instance_map)

    def test_figures_come_from_the_table(self):
        self.assertEqual(37.5, self.helper.get_host_cpu_usage(
            self.node, period=600))
        # 'max' RAM used is the 'min' of available memory: Watcher
        # inverts the aggregate, the table answers per aggregate.
        self.assertEqual(2048, self.helper.get_host_ram_usage(self.node))
        self.assertEqual(1024, self.helper.get_host_ram_usage(
            self.node, aggregate='max'))
        self.assertEqual(64.0, self.helper.get_instance_cpu_usage(
            self.instance))
        self.assertEqual(300, self.helper.get_instance_ram_usage(
            self.instance))
        queries = {q['metric']: q for q in self.stub.queries}
        self.assertEqual('600', queries['host_cpu_usage']['period'])
        self.assertEqual('compute-1.cloud.test',
                         queries['host_cpu_usage']['value'])
        self.assertEqual('2', queries['instance_cpu_usage']['vcpus'])

    def test_unknown_series_are_empty(self):
        # A target without that series, an instance without one.
        self.stub.set_host('compute-3', host_ram_usage=512)
        quiet = element.ComputeNode(uuid='n3', hostname='compute-3')
        self.assertIsNone(self.helper.get_host_cpu_usage(quiet))
        self.assertEqual(1, len(self.stub.queries_of('host_cpu_usage')))
        self.assertIsNone(self.helper.get_instance_cpu_usage(
            element.Instance(uuid='00000000-0000-4000-8000-000000000000',
                             vcpus=1)))

    def test_hosts_without_a_target_are_refused(self):
        # Watcher asks for the targets again, then gives up on the host.
        before = len(self.stub.requests_to(r'^/targets$'))
        other = element.ComputeNode(uuid='n9', hostname='compute-9')
        self.assertRaises(exception.InvalidParameter,
                          self.helper.get_host_cpu_usage, other)
        self.assertEqual(before + 1,
                         len(self.stub.requests_to(r'^/targets$')))
        self.assertEqual([], self.stub.queries_of('host_cpu_usage'))

    def test_strategy_state_checks(self):
        self.assertEqual('available', self.helper.check_availability())
        self.assertEqual(
            {'node_cpu_seconds_total', 'node_memory_MemTotal_bytes',
             'node_memory_MemAvailable_bytes', 'ceilometer_cpu',
             'ceilometer_memory_usage'}, self.helper.list_metrics())

    def test_other_queries_are_errors(self):
        exc = self.assertRaises(prometheus_client.PrometheusAPIClientError,
                                self.helper.prometheus.query, 'up{job="x"}')
        self.assertIn('bad_data', str(exc.resp.json()))
