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

"""The listener on a real RabbitMQ, writing to the real Neo4j.

Events are published by an oslo.messaging Notifier with Nova's publisher
id on Nova's exchange, exactly as nova-compute does.
"""

import os
import subprocess
import sys
import time
import uuid as uuid_lib


from tachyon.graph import compute
from tachyon.model import records
from tests.fixtures import services
from tests.functional import base
from tests import notification_payloads as p


def _uuid(i):
    return str(uuid_lib.UUID(int=0x5e11 << 96 | i))


class ListenerTestCase(base.FunctionalTestCase):

    def setUp(self):
        super().setUp()
        transport = self.useFixture(services.RealTransportFixture(self.conf))
        # A topic of this test's own: no leftovers from other tests.
        self.topic = 'versioned_notifications_%s' % uuid_lib.uuid4().hex[:8]
        self.flags(group='notifications', enrich_from_apis=False,
                   requeue_delay=0.2, nova_topic=self.topic,
                   enabled_handlers=['nova'])
        compute.upsert_compute_nodes(self.graph, [records.ComputeNode(
            uuid=_uuid(0), hostname='compute-1', inventories={
                rc: records.Inventory(rc, total=10 ** 6)
                for rc in records.COMPUTE_RESOURCE_CLASSES})])
        # nova-compute's side: its own configuration, exchange "nova".
        nova = self.useFixture(services.ServiceNotificationTransport(
            transport.url, 'nova'))
        self.nova_transport = nova.transport
        self.notifier = nova.notifier('nova-compute:compute-1', self.topic)

    def publish(self, event_type, payload):
        self.notifier.info({}, event_type, payload)

    def wait_for(self, predicate, timeout=60, what='the graph to change'):
        if not services.wait_until(predicate, timeout):
            self.fail('Timed out waiting for %s' % what)

    def instances(self):
        return compute.get_all_instances(self.graph)


class TestListener(ListenerTestCase):

    def test_nova_notifier_events_change_the_graph(self):
        lst = self.start_listener()
        self.publish('instance.create.end', p.nova_instance(_uuid(1)))
        self.wait_for(lambda: _uuid(1) in self.instances())
        self.assertEqual(_uuid(0), self.instances()[_uuid(1)].node_uuid)
        self.publish('instance.power_off.end',
                     p.nova_instance(_uuid(1), state='stopped'))
        self.wait_for(lambda: self.instances()[_uuid(1)].state == 'stopped')
        # Not for us: filtered out before any work.
        self.publish('instance.exists', p.nova_instance(_uuid(2)))
        self.publish('instance.delete.end', p.nova_instance(_uuid(1)))
        self.wait_for(lambda: _uuid(1) not in self.instances())
        self.assertNotIn(_uuid(2), self.instances())
        self.assertEqual(0, lst.processor.counts['filtered'])

    def test_batch_mode_writes_every_event(self):
        self.flags(group='notifications', batch_size=50, batch_timeout=0.2)
        lst = self.start_listener()
        for i in range(1, 201):
            self.publish('instance.update', p.nova_instance(_uuid(i)))
        self.wait_for(lambda: len(self.instances()) == 200)
        self.assertEqual(200, lst.processor.counts['applied'])

    def test_malformed_payload_does_not_stop_the_listener(self):
        lst = self.start_listener()
        self.publish('instance.update', {'nova_object.version': '1.0'})
        self.publish('instance.update', p.nova_instance(_uuid(3)))
        self.wait_for(lambda: _uuid(3) in self.instances())
        self.assertEqual(1, lst.processor.counts['malformed'])


class TestNeo4jOutage(ListenerTestCase):
    """Neo4j stops while events flow; every event ends applied."""

    def devservices(self, command):
        script = os.environ.get('TACHYON_DEVSERVICES')
        if not script:
            self.fail('This test stops and restarts the test Neo4j: run it '
                      'through tools/run-tests.sh (tools/devservices.py).')
        # The servers of this state directory, not "the one in the
        # environment" (which devservices would leave alone).
        env = {k: v for k, v in os.environ.items()
               if k not in ('TACHYON_NEO4J_URI', 'TACHYON_TRANSPORT_URL')}
        subprocess.run([sys.executable, script, command], check=True,
                       stdout=subprocess.DEVNULL, timeout=300, env=env)

    def test_events_published_during_an_outage_are_applied(self):
        self.flags(group='neo4j', max_transaction_retry_time=1.0,
                   connection_timeout=2.0)
        self.flags(group='notifications', batch_size=20, batch_timeout=0.2)
        lst = self.start_listener()
        for i in range(1, 51):
            self.publish('instance.update', p.nova_instance(_uuid(i)))
        self.wait_for(lambda: len(self.instances()) == 50)
        self.devservices('stop-neo4j')
        try:
            for i in range(51, 151):
                self.publish('instance.update', p.nova_instance(_uuid(i)))
            # The listener is failing and requeuing meanwhile.
            deadline = time.monotonic() + 30
            while (not lst.processor.counts['requeued']
                   and time.monotonic() < deadline):
                time.sleep(0.1)
        finally:
            self.devservices('start-neo4j')
        self.assertGreater(lst.processor.counts['requeued'], 0)
        self.wait_for(lambda: len(self.instances()) == 150, timeout=120,
                      what='every event to be applied after the outage')
        self.assertEqual(0, lst.processor.counts['dropped'])
