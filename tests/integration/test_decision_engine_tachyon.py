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

import dataclasses
import json
import subprocess
import sys
import time

import kombu
import testtools

from tests.fixtures.notifications import nova
from tests.fixtures.notifications import nova_objects
from tests.fixtures import services
from tests.fixtures.watcher import deployment as wdeployment
from tests.fixtures.watcher import providers
from tests.fixtures.watcher import tachyon
from tests.integration import test_decision_engine
from tests.integration import watcher_scenarios


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
            sorted(a['input_parameters']['resource_id'] for a in moves),
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
        # The other scenarios compare plans with Watcher's: the graph as
        # the APIs have it again, by a full sync.
        self.addCleanup(self._wait_state, uuid, 'active')
        self.addCleanup(self.env.provider.manage, 'sync', 'run')
        self._publish(nova.instance('instance.power_off.end', self._server(
            uuid, state='stopped', power_state='shutdown')))
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

    def _server(self, uuid, **changes):
        """The corpus' Server of the emulated cloud's server ``uuid``."""
        fake = self.cloud.fake.servers[uuid]
        spec = fake['flavor']
        flavor = nova_objects.Flavor(
            name=spec['original_name'], flavorid=spec['original_name'],
            vcpus=spec['vcpus'], memory_mb=spec['ram'],
            root_gb=spec['disk'], ephemeral_gb=spec['ephemeral'],
            swap=spec['swap'], extra_specs=dict(spec['extra_specs']))
        server = nova_objects.Server(
            uuid=uuid, name=fake['name'], host=fake['host'],
            node=fake['hypervisor_hostname'], state=fake['vm_state'],
            flavor=flavor, image_uuid=fake['image_id'] or '',
            project_id=fake['project_id'], availability_zone=fake['zone'],
            metadata=dict(fake['metadata']), locked=fake['locked'])
        return dataclasses.replace(server, **changes)

    def _publish(self, note):
        """``note`` on Nova's exchange and topic, as nova-compute sends it."""
        notifier = self.useFixture(services.ServiceNotificationTransport(
            self.env.provider.url, note.target[0])).notifier(
                note.publisher_id, note.target[1])
        getattr(notifier, note.priority)({}, note.event_type, note.payload)

    def test_notifications_are_consumed_by_tachyon_only(self):
        # Watcher's engine listens to notifications in a pool named after
        # its host, for the collectors it runs; with Tachyon's, nothing
        # consumes such a queue: Tachyon does, once for every engine.
        def consumers(name):
            url = self.env.provider.url.replace('rabbit://', 'amqp://', 1)
            with kombu.Connection(url) as conn:
                try:
                    return conn.channel().queue_declare(
                        name, passive=True).consumer_count
                except kombu.exceptions.ChannelError:
                    return 0   # no such queue

        self.assertGreater(consumers('ref-1'), 0)   # Watcher's collectors
        self.assertEqual(0, consumers('de-1'))
        self.assertGreater(consumers('tachyon'), 0)   # tachyon-engine

    def watcher_status(self, deployment, host):
        result = subprocess.run(
            [sys.executable, '-m', 'tachyon.cmd.watcher_status',
             '--config-file', deployment.path('%s.conf' % host), 'upgrade',
             'check', '--json'], capture_output=True, text=True,
            timeout=120)
        checks = {c['check']: (c['result'], c['details'] or '')
                  for c in json.loads(result.stdout)['checks']}
        return result.returncode, checks

    def test_watcher_status_says_the_engine_routes_to_tachyon(self):
        rc, checks = self.watcher_status(self.env.deployment, 'de-1')
        self.assertEqual(0, rc, checks)
        self.assertEqual((0, 'Tachyon serves the compute, storage models; '
                          "Watcher's own collectors serve baremetal."),
                         checks['Tachyon collectors selected'])
        code, details = checks['tachyon-engine reachable']
        self.assertEqual(0, code)
        self.assertIn('tachyon_compute: engine tachyon-', details)
        # The baseline's engine runs on Watcher's own collectors.
        rc, checks = self.watcher_status(self.env.baseline, 'ref-1')
        self.assertEqual(2, rc, checks)
        code, details = checks['Tachyon collectors selected']
        self.assertEqual(2, code)
        self.assertIn('lists no Tachyon collector', details)

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
