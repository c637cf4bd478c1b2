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

"""Real watcher-decision-engine processes on Watcher's own model.

The baseline side of the decision-engine suite: Watcher's own compute
collector builds each engine's in-memory model from the emulated Nova and
Placement, the basic strategy reads the Prometheus stub, and the audits
of :mod:`tests.integration.watcher_scenarios` run on one engine, then on
two engines at once, their plans compared with those of a third engine
alone on a database of its own (PostgreSQL databases: see
:mod:`tests.fixtures.watcher.database`).
"""

import testtools

from tests.fixtures.watcher import datamodel
from tests.fixtures.watcher import providers
from tests.fixtures.watcher import scenarios
from tests.integration import watcher_scenarios


class TestOneEngine(watcher_scenarios.ScenarioTests, testtools.TestCase):
    provider = providers.WatcherProvider
    hosts = ('de-1',)

    def _model(self, audit=None):
        answer = self.api.data_model('compute', audit)
        return datamodel.split(answer['context'])

    def _assert_model(self, expected, actual):
        for kind, want, got in zip(('node', 'instance'), expected, actual):
            fields = sorted(next(iter(want.values())))
            self.assertEqual(
                [], datamodel.differences(want, got, fields,
                                          ('cloud', 'data model API')),
                kind)

    def test_data_model_api_lists_the_cloud(self):
        # watcher datamodel list: Watcher's collector read every node's
        # Placement inventories and every server of every host.
        self._assert_model(datamodel.expected(self.cloud.fake),
                           self._model())

    def test_data_model_api_of_a_scoped_audit(self):
        run = self.run_scenario('node-resource-consolidation-scoped')
        nodes, instances = self._model(run.uuid)
        hosts = {h for h, zone in scenarios.ZONES.items()
                 if zone == scenarios.AZ1}
        self._assert_model(datamodel.expected(self.cloud.fake, hosts),
                           (nodes, instances))
        excluded = self.cloud.uuid('a1')
        self.assertEqual(
            {excluded}, {u for u, i in instances.items()
                         if i['watcher_exclude']})

    def test_strategy_state_api(self):
        self.run_scenario('basic')
        state = {item['type']: item['state']
                 for item in self.api.strategy_info('basic')}
        self.assertEqual('prometheus: available', state['Datasource'])
        self.assertEqual([{'node_cpu_seconds_total': 'available'},
                          {'ceilometer_cpu': 'available'}],
                         state['Metrics'])
        self.assertIn({'compute_model': 'available'}, state['CDM'])
        dummy = {item['type']: item['state']
                 for item in self.api.strategy_info('dummy')}
        self.assertEqual('Datasource is not presented for this strategy',
                         dummy['Datasource'])


class TestTwoEngines(watcher_scenarios.InterleavedTests,
                     testtools.TestCase):
    provider = providers.WatcherProvider
    baseline = providers.WatcherProvider
    hosts = ('de-1', 'de-2')
