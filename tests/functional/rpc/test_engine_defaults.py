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

"""tachyon-engine on its shipped defaults, RPC and listener both on.

Only what has no default is given (Neo4j's address and password, the
broker's URL, the host name); everything else is as the sample config
ships it, listener included, as DevStack and the systemd unit run it.
Nova's notifications come from a Notifier with nova-compute's publisher id
on Nova's exchange and topic, as nova-compute sends them.
"""

from concurrent import futures
import os
import subprocess
import sys
import time
import uuid as uuid_lib

import oslo_messaging as messaging

from tachyon.graph import compute
from tachyon.model import records
from tachyon.rpc import api
from tests.fixtures import services
from tests.functional import base
from tests.functional.rpc import test_engine
from tests import notification_payloads as p


def _uuid(i):
    return str(uuid_lib.UUID(int=0xdefa << 96 | i))


class TestShippedDefaults(base.FunctionalTestCase):

    PINGS = 20
    SERVERS = 200

    def setUp(self):
        super().setUp()
        transport = self.useFixture(services.RealTransportFixture(self.conf))
        compute.upsert_compute_nodes(self.graph, [records.ComputeNode(
            uuid=_uuid(0), hostname='compute-1', inventories={
                rc: records.Inventory(rc, total=10 ** 6)
                for rc in records.COMPUTE_RESOURCE_CLASSES})])
        self.engine = self.useFixture(test_engine.EngineProcess(
            self.neo4j, transport.url, None, 'engine-defaults'))
        # The client on its defaults too: topic and exchange not given.
        self.client = api.EngineAPI(transport=self.transport(transport.url),
                                    timeout=30)
        self.notifier = self.useFixture(
            services.ServiceNotificationTransport(transport.url, 'nova')
        ).notifier('nova-compute:compute-1', 'versioned_notifications')

    def transport(self, url):
        transport = messaging.get_rpc_transport(self.conf, url=url)
        self.addCleanup(transport.cleanup)
        return transport

    def test_every_call_and_every_notification_is_served(self):
        def ping(i):
            return self.client.ping(i)['payload']

        with futures.ThreadPoolExecutor(4) as pool:
            pings = pool.map(ping, range(self.PINGS))
            for i in range(1, self.SERVERS + 1):
                self.notifier.info({}, 'instance.create.end',
                                   p.nova_instance(_uuid(i)))
            answered = sorted(pings)
        self.assertEqual(list(range(self.PINGS)), answered)
        expected = {_uuid(i) for i in range(1, self.SERVERS + 1)}
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            found = set(compute.get_all_instances(self.graph)) & expected
            if found == expected:
                break
            time.sleep(0.2)
        self.assertEqual(len(expected), len(found))
        placed = compute.get_all_instances(self.graph)
        self.assertEqual({_uuid(0)}, {placed[u].node_uuid for u in expected})
        self.assertNotIn('Unknown priority', self.engine.output())


class TestQueueClash(base.FunctionalTestCase):

    def test_a_pool_named_as_the_rpc_topic_is_refused_at_start(self):
        env = dict(os.environ, OS_NEO4J__URI=self.neo4j.uri,
                   OS_NEO4J__USERNAME=self.neo4j.user,
                   OS_NEO4J__PASSWORD=self.neo4j.password,
                   OS_NOTIFICATIONS__POOL='tachyon-engine')
        res = subprocess.run(
            [sys.executable, '-m', 'tachyon.cmd.engine', '--config-file',
             os.devnull], env=env, capture_output=True, text=True,
            timeout=60)
        self.assertEqual(2, res.returncode)
        self.assertIn('[notifications]/pool', res.stderr)
        self.assertIn('[engine]/topic', res.stderr)
        self.assertNotIn('Traceback', res.stderr)
