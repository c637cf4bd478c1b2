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

"""Three real tachyon-engine processes on one topic, one killed mid-audit.

An audit's session calls go through the causal client (bookmarks) to
whichever engine RabbitMQ hands each call, on ``neo4j://``, while Nova
notifications flow into the engines' listeners. One engine is killed
with SIGKILL half way and started again; the audit must end with every
delta recorded exactly once, in order, and every read of the session
must have shown the session's own writes.
"""

import os
import signal
import threading
import uuid as uuid_lib

from oslo_utils import uuidutils

from tachyon.client import causal
from tachyon.graph import compute
from tachyon.model import records
from tachyon import watcher_xml
from tests.fixtures import services
from tests.functional import base
from tests.functional.rpc import test_engine
from tests import notification_payloads as p
from tests import watcher_models

BATCHES = 9
BATCH = 5
#: Nova notifications published during the audit, one every 0.1 s.
NOTIFICATIONS = 150


def _uuid(i):
    return str(uuid_lib.UUID(int=0x5ca1e << 96 | i))


class TestThreeEngines(base.FunctionalTestCase):

    def setUp(self):
        super().setUp()
        transport = self.useFixture(services.RealTransportFixture(self.conf))
        watcher_xml.import_model(
            self.graph, watcher_models.load_data('scenario_1.xml'))
        # The node Nova's notifications below place their instances on.
        compute.upsert_compute_nodes(self.graph, [records.ComputeNode(
            uuid=_uuid(0), hostname='compute-1', inventories={
                rc: records.Inventory(rc, total=10 ** 6)
                for rc in records.COMPUTE_RESOURCE_CLASSES})])
        suffix = uuidutils.generate_uuid()[:8]
        self.topic = 'tachyon-scale-' + suffix
        self.nova_topic = 'versioned_notifications_' + suffix
        self.url = transport.url
        self.env = {'OS_NEO4J__URI': base.routing_uri(self.neo4j.uri),
                    'OS_NOTIFICATIONS__ENABLE_LISTENER': 'true',
                    'OS_NOTIFICATIONS__NOVA_TOPIC': self.nova_topic,
                    'OS_NOTIFICATIONS__ENRICH_FROM_APIS': 'false',
                    'OS_NOTIFICATIONS__ENABLED_HANDLERS': 'nova'}
        self.engines = {name: self.start_engine(name)
                        for name in ('engine-a', 'engine-b', 'engine-c')}
        self.client = causal.CausalEngineAPI(self.conf, topic=self.topic,
                                             timeout=30)
        self.addCleanup(self.client.transport.cleanup)
        nova = self.useFixture(services.ServiceNotificationTransport(
            self.url, 'nova'))
        self.notifier = nova.notifier('nova-compute:compute-1',
                                      self.nova_topic)

    def start_engine(self, name):
        return self.useFixture(test_engine.EngineProcess(
            self.neo4j, self.url, self.topic, name, env=self.env))

    def notify(self, stop, published):
        # Nova's side: new instances, one every 0.1 s, until told to stop.
        while len(published) < NOTIFICATIONS and not stop.wait(0.1):
            uuid = _uuid(len(published) + 1)
            self.notifier.info({}, 'instance.create.end',
                               p.nova_instance(uuid))
            published.append(uuid)

    def test_audit_survives_a_killed_engine(self):
        hosts = {self.client.ping()['host'] for _ in range(15)}
        self.assertEqual(set(self.engines), hosts)
        snap = self.client.get_compute_snapshot()
        mapping = dict(snap['mapping'])
        # The audit moves instances among the scenario's nodes, not onto
        # the node the notifications fill: a provider changed since the
        # session began would (rightly) make the commit a Conflict.
        nodes = sorted(n['uuid'] for n in snap['nodes']
                       if n['uuid'] != _uuid(0))
        instances = sorted(mapping)[:BATCH]

        stop, published = threading.Event(), []
        notifier = threading.Thread(target=self.notify,
                                    args=(stop, published))
        notifier.start()
        self.addCleanup(notifier.join)
        self.addCleanup(stop.set)

        sid = self.client.create_session(
            ttl=600, audit_uuid=uuidutils.generate_uuid())['id']
        expected, sent = dict(mapping), []
        for batch in range(BATCHES):
            if batch == BATCHES // 3:
                # SIGKILL to the engine's parent and its worker at once (its
                # process group): no goodbye to RabbitMQ or Neo4j.
                victim = self.engines['engine-b'].proc
                os.killpg(victim.pid, signal.SIGKILL)
                victim.wait()
            if batch == 2 * BATCHES // 3:
                self.engines['engine-b'] = self.start_engine('engine-b')
            deltas = []
            for inst in instances:
                src = expected[inst]
                dest = nodes[(nodes.index(src) + 1) % len(nodes)]
                deltas.append({'type': 'MOVE', 'consumer_uuid': inst,
                               'source_uuid': src, 'destination_uuid': dest,
                               'check_capacity': False})
                expected[inst] = dest
            self.assertEqual(
                list(range(len(sent), len(sent) + len(deltas))),
                self.client.record_deltas(sid, deltas))
            sent.extend(deltas)
            # Read your writes, on whichever engine answers this time.
            view = self.client.get_compute_snapshot(session_id=sid)
            self.assertEqual({i: expected[i] for i in instances},
                             {i: view['mapping'][i] for i in instances})
            inst = instances[batch % len(instances)]
            self.assertEqual(expected[inst],
                             self.client.get_consumer_location(sid, inst))
        hosts = {self.client.ping()['host'] for _ in range(15)}
        self.assertEqual(set(self.engines), hosts)

        recorded = self.client.get_session_deltas(sid)
        self.assertEqual(list(range(len(sent))),
                         [d['sequence'] for d in recorded])
        self.assertEqual([(d['consumer_uuid'], d['source_uuid'],
                           d['destination_uuid']) for d in sent],
                         [(d['consumer_uuid'], d['source_uuid'],
                           d['destination_uuid']) for d in recorded])
        self.assertEqual(len(sent),
                         self.client.commit_session(sid)['applied'])
        for inst in instances:
            self.assertEqual(expected[inst], compute.get_node_by_instance_uuid(
                self.graph, inst).uuid)

        stop.set()
        notifier.join()
        # Every notification landed: those the killed engine had taken
        # but not acknowledged went to another engine.
        self.assertGreater(len(published), 10)
        self.assertTrue(services.wait_until(
            lambda: set(published) <= set(compute.get_all_instances(
                self.graph)), 60),
            'notifications lost: %d of %d applied' % (
                len(set(published) & set(compute.get_all_instances(
                    self.graph))), len(published)))
