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

"""Poison messages on the real RabbitMQ end; a future date freezes nothing.

Hundreds of broken notifications are published in oslo.messaging's
notification wire format (the ``messagingv2`` driver's: an ``oslo.version``
2.0 envelope whose ``oslo.message`` is the JSON of the message with its
``_context_*`` keys and ``_unique_id``, routed as ``TOPIC.PRIORITY`` on the
service's exchange), built by hand so that each carries a message id of
the test's choosing and so that the envelope itself can be broken. The
real listener takes them from its pool's queue and writes to the real
Neo4j. The queue must drain, each message be logged exactly once, nothing
be written, and a good event published after them must apply.
"""

import copy
import datetime
import json
import logging
import random
import threading
import time
import uuid as uuid_lib

import fixtures
import kombu

from tachyon.graph import baremetal
from tachyon.graph import compute
from tachyon.graph import storage
from tests.fixtures import services
from tests.functional import base
from tests import notification_payloads as p

NOVA_PUBLISHER = 'nova-compute:compute-1'
CINDER_PUBLISHER = 'volume.storage-1@lvm#pool1'
CAPACITY_PUBLISHER = 'capacity.storage-1@lvm#pool1'
IRONIC_PUBLISHER = 'ironic-conductor.host-1'
#: oslo.messaging logs this (with a traceback) once for each message whose
#: body or envelope it cannot decode, and drops the message.
OSLO_REJECTS = 'Failed to process message ... skipping it.'

NAN = float('nan')
INF = float('inf')
HUGE_TEXT = '\u00e9\u4e2d\U0001f600' * 40000
LONE_SURROGATE = 'x\ud800y'
#: Integers and numbers Neo4j cannot store, or that are no numbers.
BAD_NUMBERS = [None, 'many', [], {}, True, 2 ** 64, -2 ** 64, 2 ** 63,
               10 ** 4000, NAN, INF, -INF, '12.5', HUGE_TEXT]
BAD_STRINGS = [None, 5, [], {}, 2 ** 64, NAN, LONE_SURROGATE]
BAD_UUIDS = [None, 5, [], 'not-a-uuid', HUGE_TEXT, LONE_SURROGATE, 2 ** 64,
             INF]
BAD_BOOLS = [None, 'yes', 1, NAN, [], 2 ** 64]
BAD_VERSIONS = [None, 7, '', 'a.b', '9.0', '3.1', '1.' + '9' * 5000,
                [1, 7], LONE_SURROGATE, 2 ** 64]
MISSING = object()


def _uuid(i):
    return str(uuid_lib.UUID(int=0x9015 << 96 | i))


def _set(payload, path, value):
    """payload with the field at ``path`` set (MISSING: deleted)."""
    payload = copy.deepcopy(payload)
    node = payload
    for key in path[:-1]:
        node = node[key]
    if value is MISSING:
        node.pop(path[-1], None)
    else:
        node[path[-1]] = value
    return payload


NOVA_DATA = ('nova_object.data',)
FLAVOR = NOVA_DATA + ('flavor', 'nova_object.data')


def bad_payloads():
    """[(event_type, publisher_id, payload)], each one unusable."""
    cases = []
    instance = p.nova_instance(_uuid(1))
    for path, values in [
            (NOVA_DATA + ('uuid',), BAD_UUIDS + [MISSING]),
            (NOVA_DATA + ('state',), BAD_STRINGS + [MISSING]),
            (NOVA_DATA + ('locked',), BAD_BOOLS + [MISSING]),
            (FLAVOR + ('vcpus',), BAD_NUMBERS + [MISSING, -1]),
            (FLAVOR + ('memory_mb',), BAD_NUMBERS + [MISSING, -1]),
            (FLAVOR + ('root_gb',), BAD_NUMBERS + [MISSING]),
            # Optional: missing or null is fine, nothing else is.
            (FLAVOR + ('swap',), BAD_NUMBERS[1:]),
            (FLAVOR + ('ephemeral_gb',), BAD_NUMBERS[1:] + [2 ** 63 - 1]),
            (NOVA_DATA + ('flavor',), [None, 5, [], MISSING]),
            (('nova_object.version',), BAD_VERSIONS + [MISSING]),
            (('nova_object.data',), [None, 5, [], 'x', MISSING])]:
        for value in values:
            for event in ('instance.update', 'instance.create.end'):
                cases.append((event, NOVA_PUBLISHER,
                              _set(instance, path, value)))
    service = p.nova_service('compute-1')
    for path, values in [
            (NOVA_DATA + ('host',), BAD_STRINGS + [MISSING]),
            (NOVA_DATA + ('binary',), BAD_STRINGS + [MISSING]),
            (NOVA_DATA + ('disabled',), BAD_BOOLS + [MISSING]),
            (NOVA_DATA + ('forced_down',), BAD_BOOLS + [MISSING])]:
        for value in values:
            cases.append(('service.update', NOVA_PUBLISHER,
                          _set(service, path, value)))
    volume = p.cinder_volume(_uuid(2))
    for path, values in [
            (('volume_id',), BAD_UUIDS + [MISSING]),
            (('size',), BAD_NUMBERS + [MISSING, -1, '9' * 30, '1' * 5000]),
            (('status',), BAD_STRINGS + [MISSING]),
            (('host',), [5, [], LONE_SURROGATE]),
            (('metadata',), [5, 'x', [5], [{'key': 5}]]),
            (('volume_attachment',), [5, 'x', [5], [None]])]:
        for value in values:
            cases.append(('volume.update.end', CINDER_PUBLISHER,
                          _set(volume, path, value)))
    capacity = p.cinder_capacity('storage-1@lvm#pool1')
    for path, values in [
            (('total',), BAD_NUMBERS + [MISSING, -1]),
            (('free',), BAD_NUMBERS + [MISSING]),
            (('name_to_id',), BAD_STRINGS + [MISSING, 'no-pool-part'])]:
        for value in values:
            cases.append(('capacity.pool', CAPACITY_PUBLISHER,
                          _set(capacity, path, value)))
    node = p.ironic_node(_uuid(3))
    for path, values in [
            (('ironic_object.data', 'uuid'), BAD_UUIDS + [MISSING]),
            (('ironic_object.data', 'maintenance'), BAD_BOOLS[1:]),
            (('ironic_object.data', 'power_state'), BAD_STRINGS[1:]),
            (('ironic_object.version',), BAD_VERSIONS + ['2.0', MISSING])]:
        for value in values:
            cases.append(('baremetal.node.update.end', IRONIC_PUBLISHER,
                          _set(node, path, value)))
    for payload in (None, 'x', 5, [], 2 ** 64, NAN, HUGE_TEXT):
        cases.append(('instance.update', NOVA_PUBLISHER, payload))
        cases.append(('volume.update.end', CINDER_PUBLISHER, payload))
        cases.append(('baremetal.node.create.end', IRONIC_PUBLISHER,
                      payload))
    return cases


class PoisonTestCase(base.FunctionalTestCase):

    def setUp(self):
        super().setUp()
        self.transport = self.useFixture(
            services.RealTransportFixture(self.conf))
        run = uuid_lib.uuid4().hex[:8]
        self.run = run
        # Topics and a pool of this test's own: no leftovers.
        self.topics = {'nova': 'poison_nova_%s' % run,
                       'openstack': 'poison_cinder_%s' % run,
                       'ironic': 'poison_ironic_%s' % run}
        self.pool = 'tachyon-poison-%s' % run
        self.flags(group='notifications', enrich_from_apis=False,
                   requeue_delay=0.2, pool=self.pool,
                   nova_topic=self.topics['nova'],
                   cinder_topic=self.topics['openstack'],
                   ironic_topic=self.topics['ironic'])
        self.log = self.useFixture(fixtures.FakeLogger(
            level=logging.WARNING,
            format='%(levelname)s %(name)s %(message)s'))
        # kombu names oslo.messaging's "rabbit://" scheme "amqp://".
        self.amqp_url = 'amqp' + self.transport.url[len('rabbit'):]
        self.broker = kombu.Connection(self.amqp_url)
        self.addCleanup(self.broker.release)
        self.producer = self.broker.Producer(serializer='json')

    # -- publishing -------------------------------------------------------

    def publish_raw(self, exchange, body, priority='info', **kwargs):
        """``body`` on ``exchange`` as oslo.messaging routes it."""
        target = kombu.Exchange(exchange, type='topic', durable=False,
                                auto_delete=False)
        self.producer.publish(
            body, exchange=target, declare=[target],
            routing_key='%s.%s' % (self.topics[exchange], priority),
            **kwargs)

    @staticmethod
    def message(message_id, event_type, publisher_id, payload,
                priority='INFO', timestamp=None):
        """A message as oslo.messaging's Notifier builds it."""
        return {
            'message_id': message_id,
            'publisher_id': publisher_id,
            'event_type': event_type,
            'priority': priority,
            'payload': payload,
            'timestamp': timestamp or str(datetime.datetime.now(
                datetime.timezone.utc).replace(tzinfo=None)),
            '_context_request_id': 'req-poison',
            '_unique_id': uuid_lib.uuid4().hex,
        }

    @staticmethod
    def envelope(message):
        return {'oslo.version': '2.0', 'oslo.message': json.dumps(message)}

    @staticmethod
    def exchange_of(publisher_id):
        if isinstance(publisher_id, str):
            if publisher_id.startswith('nova'):
                return 'nova'
            if publisher_id.startswith('ironic'):
                return 'ironic'
        return 'openstack'

    def notifier(self, exchange, publisher_id):
        """An oslo.messaging Notifier as the service configures it."""
        service = self.useFixture(services.ServiceNotificationTransport(
            self.transport.url, exchange))
        return service.notifier(publisher_id, self.topics[exchange])

    # -- observing --------------------------------------------------------

    def queue_depth(self):
        """Messages ready in the pool's queue (passive declare)."""
        with kombu.Connection(self.amqp_url) as conn:
            _name, ready, _consumers = conn.default_channel.queue_declare(
                queue=self.pool, passive=True)
        return ready

    def ended(self, lst):
        counts = lst.processor.counts
        return (counts['malformed'] + counts['dropped'] + counts['filtered']
                + counts['applied'] + counts.get('dead_lettered', 0))

    def wait_for(self, predicate, timeout=90, what='the graph to change'):
        if not services.wait_until(predicate, timeout, interval=0.2):
            self.fail('Timed out waiting for %s' % what)

    def assertNothingWritten(self):
        self.assertEqual({}, compute.get_all_instances(self.graph))
        self.assertFalse(compute.get_all_compute_nodes(self.graph))
        self.assertFalse(storage.get_all_volumes(self.graph))
        self.assertFalse(storage.get_all_pools(self.graph))
        self.assertFalse(storage.get_all_storage_nodes(self.graph))
        self.assertFalse(baremetal.get_all_ironic_nodes(self.graph))


class TestPoisonMessages(PoisonTestCase):

    def test_fuzzed_messages_end_once_each_and_change_nothing(self):
        lst = self.start_listener()
        rand = random.Random(17)
        # Each message handed to Tachyon, by its id: logged exactly once.
        ours = []
        # Ids (or their rendering) of envelopes without a usable id:
        # text -> how many lines must show it.
        unnamed = {}
        rejects = 0

        def next_id():
            ident = 'poison-%s-%04d' % (self.run, len(ours))
            ours.append(ident)
            return ident

        for event, publisher, payload in bad_payloads():
            message = self.message(next_id(), event, publisher, payload)
            self.publish_raw(self.exchange_of(publisher),
                             self.envelope(message))
        bad_nova = _set(p.nova_instance(_uuid(4)),
                        FLAVOR + ('vcpus',), 'x')
        # Unreadable times are no time: the message is judged on the rest.
        for stamp in (NAN, INF, 2 ** 64, 10 ** 400, 'yesterday', '',
                      '99999-01-01 00:00:00', '0001-01-01T00:00:00-14:00',
                      [], {}, HUGE_TEXT, '2076-01-01 00:00:00'):
            message = self.message(next_id(), 'instance.update',
                                   NOVA_PUBLISHER, bad_nova)
            message['timestamp'] = stamp
            self.publish_raw('nova', self.envelope(message))
        # Envelope fuzz: what oslo.messaging itself cannot dispatch.
        for key, values in [('priority', [5, None, [], 'bogus', '',
                                          LONE_SURROGATE, MISSING]),
                            ('event_type', [5, None, [], '', MISSING]),
                            ('publisher_id', [5, None, {}, MISSING])]:
            for value in values:
                message = self.message(next_id(), 'instance.update',
                                       NOVA_PUBLISHER, bad_nova)
                if value is MISSING:
                    del message[key]
                else:
                    message[key] = value
                self.publish_raw('nova', self.envelope(message))
        for value, shown in [(MISSING, 'None'), (None, 'None'), ('', "''"),
                             ([], '[]'), (777001, '777001'),
                             ({'a': 1}, "{'a': 1}")]:
            message = self.message('unused', 'instance.update',
                                   NOVA_PUBLISHER, bad_nova)
            if value is MISSING:
                del message['message_id']
            else:
                message['message_id'] = value
            self.publish_raw('nova', self.envelope(message))
            key = 'Dropping malformed notification %s:' % shown
            unnamed[key] = unnamed.get(key, 0) + 1
        # The pre-envelope (1.0) format: the message itself as the body.
        for _ in range(3):
            self.publish_raw('nova', self.message(
                next_id(), 'instance.update', NOVA_PUBLISHER, bad_nova))
        # Bodies and envelopes oslo.messaging refuses to decode.
        good_json = json.dumps(self.message(
            'unused', 'instance.update', NOVA_PUBLISHER, bad_nova))
        undecodable = [
            ({'oslo.version': '3.0', 'oslo.message': good_json}, {}),
            ({'oslo.version': 2, 'oslo.message': good_json}, {}),
            ({'oslo.version': '2.0', 'oslo.message': '{"not json'}, {}),
            ({'oslo.version': '2.0', 'oslo.message': '[1, 2, 3]'}, {}),
            ({'oslo.version': '2.0', 'oslo.message': '17'}, {}),
            ({'oslo.version': '2.0', 'oslo.message': 5}, {}),
            (b'{"oslo.version": "2.0", "oslo.mess', dict(
                content_type='application/json', content_encoding='utf-8')),
            (b'\xff\xfe\x00garbage', dict(
                content_type='application/json', content_encoding='binary')),
            ('plain words', dict(serializer=None,
                                 content_type='text/plain',
                                 content_encoding='utf-8')),
        ]
        for _ in range(3):
            for body, options in undecodable:
                self.publish_raw('nova', body, **options)
                rejects += 1
        # A mix of the above, shuffled, on every priority's routing key.
        mixed = bad_payloads()
        rand.shuffle(mixed)
        for event, publisher, payload in mixed[:60]:
            message = self.message(
                next_id(), event, publisher, payload,
                priority=rand.choice(['INFO', 'error', 'Warn', 'SAMPLE']))
            self.publish_raw(self.exchange_of(publisher),
                             self.envelope(message),
                             priority=message['priority'].lower())
        total = len(ours) + sum(unnamed.values())
        self.assertGreater(total + rejects, 300)

        def drained():
            return (self.ended(lst) >= total
                    and self.log.output.count(OSLO_REJECTS) >= rejects
                    and self.queue_depth() == 0)
        self.wait_for(drained, what='the queue to drain (%d of %d ended, '
                      '%r)' % (self.ended(lst), total, lst.processor.counts))
        # Nothing comes back: no message is being requeued.
        time.sleep(2)
        self.assertEqual(0, self.queue_depth())
        self.assertEqual(total, self.ended(lst))
        self.assertEqual(0, lst.processor.counts['requeued'])
        self.assertEqual(0, lst.processor.counts['applied'])
        self.assertEqual(rejects, self.log.output.count(OSLO_REJECTS))
        output = self.log.output
        logged = {ident: output.count(ident) for ident in ours}
        self.assertEqual({}, {i: n for i, n in logged.items() if n != 1},
                         'messages not logged exactly once')
        for text, count in unnamed.items():
            self.assertEqual(count, output.count(text), text)
        # Nothing else escaped as a traceback of Tachyon's or oslo's.
        self.assertNotIn('Callback raised an exception', output)
        self.assertNotIn('Exception during message handling', output)
        self.assertNotIn('unexpected error', output)
        self.assertNothingWritten()
        # A good event after all that applies.
        self.notifier('nova', NOVA_PUBLISHER).info(
            {}, 'instance.create.end', p.nova_instance(_uuid(9)))
        self.wait_for(lambda: _uuid(9) in compute.get_all_instances(
            self.graph))


class TestFutureTimestamps(PoisonTestCase):

    def test_an_event_dated_2076_does_not_freeze_the_instance(self):
        lst = self.start_listener()
        message = self.message(
            'poison-2076-%s' % self.run, 'instance.create.end',
            NOVA_PUBLISHER, p.nova_instance(_uuid(20), state='active'),
            timestamp='2076-05-04 03:02:01.000000')
        self.publish_raw('nova', self.envelope(message))
        self.wait_for(lambda: _uuid(20) in compute.get_all_instances(
            self.graph))
        # The real events after it, as nova-compute sends them.
        notifier = self.notifier('nova', NOVA_PUBLISHER)
        notifier.info({}, 'instance.power_off.end',
                      p.nova_instance(_uuid(20), state='stopped'))
        self.wait_for(lambda: compute.get_all_instances(self.graph)[
            _uuid(20)].state == 'stopped', timeout=30,
            what='the real event to apply after the one dated 2076')
        notifier.info({}, 'instance.power_on.end',
                      p.nova_instance(_uuid(20), state='active'))
        self.wait_for(lambda: compute.get_all_instances(self.graph)[
            _uuid(20)].state == 'active', timeout=30,
            what='a second real event to apply')
        self.assertEqual(1, self.log.output.count(message['message_id']))
        self.assertIn('in the future', self.log.output)
        self.assertEqual(3, lst.processor.counts['applied'])


class TestPoisonMessagesInBatches(TestPoisonMessages):
    """The same fuzz through oslo.messaging's batch listener."""

    def setUp(self):
        super().setUp()
        self.flags(group='notifications', batch_size=25, batch_timeout=0.2)


class TestRefusedByNeo4j(PoisonTestCase):

    def test_a_change_neo4j_refuses_is_dropped_once(self):
        lst = self.start_listener()
        # A host name longer than Neo4j indexes: the payload is readable,
        # the write is refused by the server.
        ident = 'poison-refused-%s' % self.run
        self.publish_raw('nova', self.envelope(self.message(
            ident, 'instance.update', NOVA_PUBLISHER,
            p.nova_instance(_uuid(30), host='h' * 40000))))
        counts = lst.processor.counts
        self.wait_for(lambda: counts['dropped'] + counts['applied'] >= 1,
                      what='the refused change to end')
        self.assertEqual(1, counts['dropped'], counts)
        self.notifier('nova', NOVA_PUBLISHER).info(
            {}, 'instance.create.end', p.nova_instance(_uuid(31)))
        self.wait_for(lambda: _uuid(31) in compute.get_all_instances(
            self.graph))
        time.sleep(1)
        self.assertEqual(0, counts['requeued'])
        self.assertEqual(1, self.log.output.count(ident))
        self.assertIn('can never be written: Neo4j refused the change',
                      self.log.output)
        self.assertNotIn(_uuid(30), compute.get_all_instances(self.graph))


# Holds the write lock of the node every notification transaction locks
# first (the global state), as a long transaction of another writer would.
HOLD_GLOBAL_LOCK = """
MERGE (g:GlobalState {id: 'global'})
ON CREATE SET g.generation = 0
SET g.lock__ = true REMOVE g.lock__
RETURN g.generation AS generation
"""


class TestDeadLetter(PoisonTestCase):
    """A failure Neo4j answers and that persists ends in the dead letter."""

    def test_a_message_that_keeps_timing_out_is_dead_lettered_once(self):
        self.flags(group='neo4j', transaction_timeout=1.0)
        self.flags(group='notifications', max_requeues=2)
        lst = self.start_listener()
        counts = lst.processor.counts
        locked = threading.Event()
        release = threading.Event()

        def hold(tx):
            tx.run(HOLD_GLOBAL_LOCK).consume()
            locked.set()
            release.wait(60)

        holder = threading.Thread(target=self.graph.write, args=(hold,))
        holder.start()
        self.addCleanup(holder.join)
        self.addCleanup(release.set)
        self.assertTrue(locked.wait(30))
        ident = 'poison-dead-%s' % self.run
        self.publish_raw('nova', self.envelope(self.message(
            ident, 'instance.create.end', NOVA_PUBLISHER,
            p.nova_instance(_uuid(40)))))
        # Each try waits for the lock until its transaction times out:
        # Neo4j answered, so each counts against max_requeues.
        self.wait_for(lambda: counts['dead_lettered'] >= 1, timeout=60,
                      what='the message to be dead-lettered')
        release.set()
        holder.join()
        self.assertEqual(1, counts['dead_lettered'], counts)
        self.assertEqual(2, counts['requeued'], counts)
        self.assertEqual(0, counts['applied'], counts)
        self.assertIn('Dead-lettering', self.log.output)
        dead = [line for line in self.log.output.splitlines()
                if 'Dead-lettering' in line]
        self.assertEqual(1, len(dead), dead)
        self.assertIn(ident, dead[0])
        # It is gone from the queue, and the next event applies.
        self.notifier('nova', NOVA_PUBLISHER).info(
            {}, 'instance.create.end', p.nova_instance(_uuid(41)))
        self.wait_for(lambda: _uuid(41) in compute.get_all_instances(
            self.graph))
        time.sleep(1)
        self.assertNotIn(_uuid(40), compute.get_all_instances(self.graph))
        self.assertEqual(0, self.queue_depth())
        self.assertEqual(1, counts['dead_lettered'], counts)
