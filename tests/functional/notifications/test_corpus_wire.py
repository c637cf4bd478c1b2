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

"""The corpus over oslo.messaging's real wire path, on the real RabbitMQ.

Each notification is published as its service publishes it: an
oslo.messaging Notifier (``messagingv2`` driver) on the service's control
exchange (``nova``, ``openstack`` for Cinder, ``ironic``), prepared with
the service's publisher id, called at the service's priority. A real
notification listener on the same exchange receives every one of them,
with its event type, publisher id, priority and payload unchanged, and
the filters of Tachyon's handler endpoints (publisher id and event types)
accept those they subscribe to.
"""

import collections
import json
import threading
import time
import uuid as uuid_lib

import oslo_messaging as messaging

from tachyon.notifications import listener
from tests import base
from tests.fixtures.notifications import catalog
from tests.fixtures.notifications import common
from tests.fixtures.notifications import nova_objects
from tests.fixtures.notifications import spec
from tests.fixtures import services

PRIORITIES = ('audit', 'debug', 'info', 'warn', 'error', 'critical',
              'sample')


class Recorder(object):
    """A listener endpoint keeping every notification it gets."""

    def __init__(self):
        self.received = []
        self.lock = threading.Lock()


def _record(priority):
    def method(self, ctxt, publisher_id, event_type, payload, metadata):
        with self.lock:
            self.received.append((priority, publisher_id, event_type,
                                  payload, metadata))
    method.__name__ = priority
    return method


for _priority in PRIORITIES:
    setattr(Recorder, _priority, _record(_priority))


def _key(priority, publisher_id, event_type, payload):
    return (priority, publisher_id, event_type,
            json.dumps(payload, sort_keys=True))


class TestCorpusOnRabbitMQ(base.TestCase):

    def setUp(self):
        super().setUp()
        self.transport_fixture = self.useFixture(
            services.RealTransportFixture(self.conf))

    def service_transport(self, exchange):
        """The notification transport a service configures."""
        return self.useFixture(services.ServiceNotificationTransport(
            self.transport_fixture.url, exchange)).transport

    def start_listener(self, transport, exchange, topic):
        recorder = Recorder()
        lst = messaging.get_notification_listener(
            transport, [messaging.Target(exchange=exchange, topic=topic)],
            [recorder], executor='threading',
            pool='corpus-%s' % uuid_lib.uuid4().hex[:8])
        lst.start()

        def stop():
            lst.stop()
            lst.wait()
        self.addCleanup(stop)
        return recorder

    def send_and_receive(self, service, notes):
        exchange, _default_topic = common.TARGETS[service]
        # A topic of this test's own: nothing left over from other runs.
        topic = '%s_%s' % (_default_topic, uuid_lib.uuid4().hex[:8])
        transport = self.service_transport(exchange)
        recorder = self.start_listener(transport, exchange, topic)
        notifier = messaging.Notifier(transport, driver='messagingv2',
                                      topics=[topic])
        sent = collections.Counter()
        for note in notes:
            self.assertEqual(service, note.service)
            prepared = notifier.prepare(publisher_id=note.publisher_id)
            getattr(prepared, note.priority)({'request_id': 'req-corpus'},
                                             note.event_type, note.payload)
            sent[_key(note.priority, note.publisher_id, note.event_type,
                      note.payload)] += 1
        deadline = time.monotonic() + 120
        while (len(recorder.received) < sum(sent.values())
               and time.monotonic() < deadline):
            time.sleep(0.05)
        got = collections.Counter(
            _key(p, pub, event, payload)
            for p, pub, event, payload, _m in recorder.received)
        self.assertEqual(sum(sent.values()), len(recorder.received))
        self.assertEqual(sent, got)
        for _p, _pub, _event, _payload, metadata in recorder.received:
            self.assertTrue(metadata['message_id'])
            self.assertTrue(metadata['timestamp'])
        return recorder.received

    def assertTachyonFilters(self, service, received):
        """Tachyon's endpoint filters take the events they subscribe to."""
        handler = [h for h in listener.load_handlers(self.conf, [service])][0]
        rule = messaging.NotificationFilter(
            publisher_id=handler.publisher_id,
            event_type=listener.event_type_filter(handler))
        matched = set()
        for _p, publisher_id, event_type, payload, metadata in received:
            if event_type in handler.event_types:
                self.assertTrue(rule.match({}, publisher_id, event_type,
                                           metadata, payload),
                                '%s from %s' % (event_type, publisher_id))
                matched.add(event_type)
            else:
                self.assertFalse(rule.match({}, publisher_id, event_type,
                                            metadata, payload), event_type)
        never = {t for t in handler.event_types
                 if spec.EVENTS[t].tachyon == spec.NEVER_SENT}
        self.assertEqual(set(handler.event_types) - never, matched)

    def _unique(self, notes):
        seen, out = set(), []
        for note in notes:
            key = _key(note.priority, note.publisher_id, note.event_type,
                       note.payload)
            if key not in seen:
                seen.add(key)
                out.append(note)
        return out

    def test_nova(self):
        notes = []
        for release in nova_objects.RELEASES:
            notes.extend(catalog.examples(release))
            if release not in nova_objects.SUPPORTED_RELEASES:
                continue      # Newton / Ocata: single events only
            for mode in ('vm_state', None):
                for seq in catalog.sequences(release, mode).values():
                    notes.extend(seq)
        notes = self._unique(notes)
        self.assertGreater(len(notes), 400)
        received = self.send_and_receive('nova', notes)
        self.assertEqual({'info', 'error'}, {r[0] for r in received})
        self.assertTachyonFilters('nova', received)

    def test_cinder(self):
        notes = self._unique(catalog.cinder_examples('list')
                             + catalog.cinder_examples('dict'))
        received = self.send_and_receive('cinder', notes)
        # Real metadata arrives as the list Cinder sends.
        create = [r for r in received if r[2] == 'volume.create.end']
        self.assertIn([{'key': 'purpose', 'value': 'db'},
                       {'key': 'tier', 'value': 'gold'}],
                      [r[3]['metadata'] for r in create])
        self.assertTachyonFilters('cinder', received)

    def test_ironic(self):
        notes = []
        for release in ('2021.2', '2024.2', '2025.1', '2026.2'):
            notes.extend(catalog.ironic_examples(release))
        received = self.send_and_receive('ironic', self._unique(notes))
        self.assertEqual({'info', 'error'}, {r[0] for r in received})
        self.assertTachyonFilters('ironic', received)
