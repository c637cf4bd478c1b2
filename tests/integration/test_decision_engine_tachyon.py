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

"""Real watcher-decision-engine processes running their audits on Tachyon.

The engines are Watcher's own, on Watcher's own database, configured only
as doc/source/watcher-integration.rst says (``[collector]
collector_plugins``); Tachyon is deployed as the operator guide says
(:mod:`tests.fixtures.watcher.tachyon`). Every scenario of
:mod:`tests.integration.watcher_scenarios` runs on one engine, then all of
them at once on two engines; every plan is compared, action by action,
with the plan Watcher's own in-memory model gives for the same audit on
the same cloud (a baseline deployment on the same emulated APIs), and
after each scenario Tachyon must hold no active session.
"""

import time

from oslo_config import cfg
import oslo_messaging as messaging
import testtools

from tests.fixtures.watcher import deployment as wdeployment
from tests.fixtures.watcher import providers
from tests.fixtures.watcher import tachyon
from tests.integration import test_decision_engine
from tests.integration import watcher_scenarios
from tests import notification_payloads as payloads


class TestOneEngineOnTachyon(test_decision_engine.TestOneEngine):
    provider = tachyon.TachyonProvider
    baseline = providers.WatcherProvider

    def audit_sessions(self, run):
        return [s for s in self.env.provider.sessions()
                if s['audit_uuid'] == run.uuid]

    def test_each_audit_run_had_its_session(self):
        # basic records each migration it plans on the model.
        run = self.run_scenario('basic')
        [session] = self.audit_sessions(run)
        # The strategy's moves reached the session when it ended; the
        # session was closed, not applied.
        self.assertEqual('closed', session['status'])
        moves = [a for a in run.form['actions']
                 if a['action_type'] == 'migrate']
        self.assertTrue(moves)
        self.assertEqual(len(moves), session['delta_count'])
        self.assertEqual(
            sorted(a['resource_id'] for a in moves),
            sorted(d['consumer_uuid'] for d in
                   self.env.provider.client.get_session_deltas(
                       session['id'])))
        continuous = self.run_scenario('dummy', 'CONTINUOUS')
        runs = self.audit_sessions(continuous)
        self.assertGreaterEqual(len(runs), len(continuous.plans))
        self.assertEqual({'closed'}, {s['status'] for s in runs})

    def test_the_data_model_api_answers_from_the_graph(self):
        # A change only Tachyon knows of: Nova's notification that a
        # server stopped, which the emulated API does not reflect.
        nodes, instances = self._model()
        uuid = sorted(u for u, i in instances.items()
                      if i['state'] == 'active')[0]
        host = instances[uuid]['host']
        self._notify(uuid, host, 'stopped')
        # The other scenarios compare plans with Watcher's: as it was.
        self.addCleanup(self._wait_state, uuid, 'active')
        self.addCleanup(self._notify, uuid, host, 'active')
        self._wait_state(uuid, 'stopped')
        # Read views: no session for the data model API.
        self.assertEqual([], self.env.provider.sessions('active'))

    def _wait_state(self, uuid, state):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self._model()[1][uuid]['state'] == state:
                break
            time.sleep(0.5)
        self.assertEqual(state, self._model()[1][uuid]['state'])

    def _notify(self, uuid, host, state):
        server = self.cloud.fake.servers[uuid]
        flavor = server['flavor']
        nova = cfg.ConfigOpts()
        nova([], project='nova-test')
        messaging.TransportURL(nova)   # registers control_exchange
        nova.set_override('control_exchange', 'nova')
        transport = messaging.get_notification_transport(
            nova, url=self.env.provider.url)
        self.addCleanup(transport.cleanup)
        notifier = messaging.Notifier(
            transport, publisher_id='nova-compute:%s' % host,
            driver='messagingv2', topics=['versioned_notifications'])
        event = ('instance.power_off.end' if state == 'stopped'
                 else 'instance.power_on.end')
        notifier.info({}, event, payloads.nova_instance(
            uuid, host=host, state=state, vcpus=flavor['vcpus'],
            memory_mb=flavor['ram'], root_gb=flavor['disk'],
            name=server['name']))

    def test_data_model_api_of_a_scoped_audit(self):
        super().test_data_model_api_of_a_scoped_audit()
        self.assertEqual([], self.env.provider.sessions('active'))


class TestTwoEnginesOnTachyon(test_decision_engine.TestTwoEngines):
    """Two engines, one Tachyon; scoped audits too, at the same time.

    Watcher's own collector keeps one scope per engine (the baseline
    suite leaves scoped audits out); Tachyon's keeps each audit's own.
    """

    provider = tachyon.TachyonProvider
    baseline = providers.WatcherProvider
    oneshot_scenarios = (
        watcher_scenarios.InterleavedTests.oneshot_scenarios
        + ('node-resource-consolidation-scoped', 'basic-scoped',
           'host-maintenance-scoped'))


class TestRefusedSelection(testtools.TestCase):
    """A model both Watcher's collector and Tachyon's would serve."""

    def test_the_engine_refuses_to_start(self):
        deployment = self.useFixture(wdeployment.WatcherDeployment(
            {'collector': {'collector_plugins': ['compute',
                                                 'tachyon_compute']}},
            hosts=()))
        engine = deployment.start_engine('refused', wait=False)
        deadline = time.monotonic() + 90
        while engine.process.alive() and time.monotonic() < deadline:
            time.sleep(0.2)
        self.assertFalse(engine.process.alive(), 'the engine runs')
        self.assertNotEqual(0, engine.process.popen.returncode)
        with open(engine.log_path, errors='replace') as log:
            text = log.read()
        self.assertIn("[collector]/collector_plugins: lists both 'compute' "
                      "and 'tachyon_compute'", text)
