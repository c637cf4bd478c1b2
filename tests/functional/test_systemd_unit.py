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

"""etc/systemd/tachyon-engine.service under a real systemd.

The shipped unit, unchanged, is installed in a container whose PID 1 is
systemd (:mod:`tests.functional.systemd_container`) as the operator guide
tells: the file in ``/etc/systemd/system``, the ``tachyon`` user, the
configuration in ``/etc/tachyon/tachyon.conf``, ``systemctl start``. One
drop-in shortens ``WatchdogSec=`` to 10 s (60 s shipped) so that the
watchdog test takes seconds, not minutes. The engine talks to the test's
real Neo4j and RabbitMQ on the host's loopback.
"""

import re
import time

from oslo_utils import uuidutils

from tachyon.rpc import api
from tests.fixtures import services
from tests.functional import base
from tests.functional import operator_guide
from tests.functional import systemd_container
from tests.functional import test_systemd

UNIT = 'tachyon-engine.service'
WATCHDOG = 10


class SystemdUnitTestCase(base.FunctionalTestCase):

    def setUp(self):
        super().setUp()
        self.transport = self.useFixture(
            services.RealTransportFixture(self.conf))
        suffix = uuidutils.generate_uuid()[:8]
        self.topic = 'tachyon-unit-' + suffix
        self.container = self.useFixture(systemd_container.Container({
            '/etc/systemd/system/%s.d/test.conf' % UNIT:
                '[Service]\nWatchdogSec=%d\n' % WATCHDOG}))

    def install(self, config):
        """The operator guide's Start steps, each line as written.

        Returns [(line, CompletedProcess)]: run in the checkout, as the
        guide's ``cp etc/systemd/...`` expects.
        """
        self.container.write('/etc/tachyon/tachyon.conf', config)
        done = []
        for line in operator_guide.block_with(
                'systemctl enable --now tachyon-engine'):
            done.append((line, self.container.run(
                'sh', '-c', line, cwd=systemd_container.REPO,
                check=False)))
        return done

    def config(self, neo4j_uri, extra=''):
        return ('[DEFAULT]\ntransport_url = %s\nhost = unit-%s\n'
                '[neo4j]\nuri = %s\nusername = %s\npassword = %s\n'
                '[collectors]\nenabled_collectors =\n'
                '[engine]\nworkers = 2\ntopic = %s\n'
                '[notifications]\npool = %s-pool\n%s'
                % (self.transport.url, self.topic, neo4j_uri,
                   self.neo4j.user, self.neo4j.password, self.topic,
                   self.topic, extra))

    def state(self):
        return self.container.show(
            UNIT, 'ActiveState', 'SubState', 'Result', 'MainPID',
            'NRestarts', 'StatusText', 'ExecMainStatus')

    def wait_state(self, predicate, timeout, what):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.state()
            if predicate(state):
                return state
            time.sleep(0.5)
        raise AssertionError('%s: not within %s s: %s\n%s' % (
            what, timeout, state, self.container.journal(UNIT)))

    def ping(self):
        client = api.EngineAPI(self.conf, topic=self.topic, timeout=10)
        self.addCleanup(client.transport.cleanup)
        return client.ping()


class TestUnderSystemd(SystemdUnitTestCase):

    def test_ready_status_and_watchdog_restart(self):
        # systemctl enable --now returns once the engine said READY=1:
        # the unit is active, and an RPC call is answered at once.
        done = self.install(self.config(self.neo4j.uri))
        for line, result in done:
            self.assertEqual(0, result.returncode, (line, result.stdout,
                                                    result.stderr))
        self.assertIn('systemctl status tachyon-engine', done[-1][0])
        status = done[-1][1].stdout
        self.assertIn('Active: active (running)', status)
        self.assertIn('Status: "Serving: 2/2 workers', status)
        state = self.state()
        self.assertEqual(('active', 'running', '0'), (
            state['ActiveState'], state['SubState'], state['NRestarts']))
        self.assertEqual(
            'Serving: 2/2 workers consuming topic %s on exchange tachyon, '
            'notifications in pool %s-pool' % (self.topic, self.topic),
            state['StatusText'])
        self.assertIsNotNone(self.ping())
        # systemd took it as started only after both workers served.
        journal = self.container.journal(UNIT)
        lines = journal.splitlines()
        started = [i for i, line in enumerate(lines)
                   if 'Started tachyon-engine.service' in line]
        serving = [i for i, line in enumerate(lines)
                   if 'serving topic %s' % self.topic in line]
        self.assertEqual(1, len(started), journal)
        self.assertEqual(2, len(serving), journal)
        self.assertLess(max(serving), started[0], journal)

        # A hung worker: the watchdog kills the engine, systemd restarts
        # it (Restart=on-failure), and it serves again.
        main = state['MainPID']
        worker = self.container.run(
            'sh', '-c', 'cat /proc/%s/task/*/children' % main).stdout.split()
        self.assertEqual(2, len(worker), worker)
        self.container.run('sh', '-c', 'kill -STOP %s' % worker[0])
        state = self.wait_state(
            lambda s: s['NRestarts'] == '1' and s['ActiveState'] == 'active'
            and s['SubState'] == 'running', WATCHDOG * 3 + 60,
            'restarted after the watchdog timeout')
        self.assertNotEqual(main, state['MainPID'])
        journal = self.container.journal(UNIT)
        self.assertIn('Watchdog timeout (limit %ds)!' % WATCHDOG, journal)
        self.assertIn("Failed with result 'watchdog'", journal)
        self.assertIsNotNone(self.ping())

    def test_configuration_error_is_not_restarted(self):
        done = dict(self.install(self.config('http://127.0.0.1:7474')))
        self.assertNotEqual(
            0, done['systemctl enable --now tachyon-engine'].returncode)
        state = self.state()
        self.assertEqual(('failed', 'exit-code', '2'), (
            state['ActiveState'], state['Result'], state['ExecMainStatus']))
        # RestartSec=5: were it restarted, it would be by now.
        time.sleep(8)
        state = self.state()
        self.assertEqual(('failed', '0'), (state['ActiveState'],
                                           state['NRestarts']))
        # The guide's first steps of recovery show the status and the
        # line naming the option.
        status, journal = [
            self.container.run('sh', '-c', line, check=False).stdout
            for line in operator_guide.block_with(
                'journalctl -u tachyon-engine -n 20')]
        self.assertIn('status=2', status)
        self.assertIn("tachyon-engine: [neo4j]/uri: 'http' is not a Bolt "
                      "URI scheme", journal)

    def test_neo4j_outage_at_start_is_waited_out(self):
        proxy = self.useFixture(test_systemd.TCPProxy(self.neo4j.uri))
        proxy.close()  # Neo4j "down" when the engine starts
        self.container.write('/etc/tachyon/tachyon.conf',
                             self.config(proxy.uri))
        self.container.run('sh', '-c', 'useradd --system tachyon && '
                           'cp etc/systemd/%s /etc/systemd/system/ && '
                           'systemctl daemon-reload' % UNIT,
                           cwd=systemd_container.REPO)
        self.container.run('systemctl', 'start', '--no-block', UNIT)
        self.wait_state(lambda s: s['ActiveState'] == 'activating',
                        30, 'activating')
        # Until the engine has found Neo4j down (its start may take a
        # while on a busy machine), and some more.
        deadline = time.monotonic() + 90
        while 'is unavailable' not in self.container.journal(UNIT):
            self.assertLess(time.monotonic(), deadline,
                            self.container.journal(UNIT))
            time.sleep(0.5)
        time.sleep(4)
        state = self.state()
        journal = self.container.journal(UNIT)
        self.assertEqual(('activating', '0'), (state['ActiveState'],
                                               state['NRestarts']), journal)
        self.assertEqual('Checking Neo4j and the message broker',
                         state['StatusText'], journal)
        proxy.reopen()  # Neo4j is back, on the same port
        state = self.wait_state(lambda s: s['ActiveState'] == 'active',
                                120, 'active once Neo4j is back')
        self.assertEqual('0', state['NRestarts'])
        journal = self.container.journal(UNIT)
        self.assertGreaterEqual(len(re.findall(
            r'WARNING .*Neo4j.*retrying in', journal)), 2, journal)
        self.assertIsNotNone(self.ping())
