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

"""The events issue #16 added, over the real wire path, into real Neo4j.

Each notification is published as its service publishes it: an
oslo.messaging Notifier with the ``messagingv2`` driver on the service's
own notification transport (:class:`tests.fixtures.services.
ServiceNotificationTransport`): Nova's versioned notifications on the
``nova`` exchange, topic ``versioned_notifications`` (Nova's
``[notifications]/notification_format = versioned`` and
``versioned_notifications_topics`` default); Cinder's unversioned ones on
oslo.messaging's default exchange ``openstack``, topic ``notifications``
(Cinder sets no control exchange). They go through the real RabbitMQ into
Tachyon's listener as tachyon-engine builds it (:func:`tachyon.
notifications.listener.build`, on Tachyon's default ``[notifications]``
topics and exchanges, which must be those), with a graph of its own, into
the real Neo4j.

The checks are the corpus checks of :class:`tests.fixtures.notifications.
tachyon_checks.TachyonCorpusChecks`, for the new event types only
(:data:`NEW_EVENTS`), at every Nova release of the corpus, in every
sequence, in both Cinder metadata forms, and a field broken in each is
refused whole. The enricher's API lookups answer from the corpus' cloud
(Tachyon's own CinderLookup, its API the cloud), as in the in-process
corpus tests: what is proven here is the wire path.
"""

import time
import uuid as uuid_lib

import fixtures

from tachyon.graph import driver
from tachyon.notifications import cinder as cinder_handler
from tachyon.notifications import enrich
from tachyon.notifications import listener
from tachyon.notifications import nova as nova_handler
from tests.fixtures.notifications import catalog
from tests.fixtures.notifications import spec
from tests.fixtures.notifications import tachyon_checks
from tests.fixtures import services
from tests.functional import base

#: The event types issue #16 added to the handlers.
NEW_EVENTS = frozenset(
    nova_handler.INSTANCE_MOVES + nova_handler.INSTANCE_ERRORS
    + nova_handler.COMPUTE_TASK_ERRORS + nova_handler.AGGREGATE_UPDATES
    + (nova_handler.AGGREGATE_DELETE,) + cinder_handler.VOLUME_ENDS
    + ('volume.unmanage.end',) + cinder_handler.SCHEDULER_ERRORS)

#: Where each service publishes (exchange, topic): its own defaults.
WHERE = {'nova': ('nova', 'versioned_notifications'),
         'cinder': ('openstack', 'notifications')}

_DONE = ('applied', 'malformed', 'dropped', 'dead_lettered')


class WireCorpusChecks(tachyon_checks.TachyonCorpusChecks):
    """The corpus checks, each notification sent over RabbitMQ."""

    areas = ('instance', 'aggregate', 'volume')

    def checks_event(self, event):
        return (event.event_type in NEW_EVENTS
                and super().checks_event(event))

    def setUp(self):
        super().setUp()
        # Hundreds of events, each through RabbitMQ, on a busy machine.
        self.useFixture(fixtures.Timeout(1200, gentle=True))
        self.rabbit = self.useFixture(
            services.RealTransportFixture(self.conf))
        # A pool (queue) of this test's own: another test's listener on
        # the same topics does not take these notifications.
        self.flags(group='notifications', enabled_handlers=[
            'nova', 'cinder'], pool='tachyon-%s' % uuid_lib.uuid4().hex[:8],
            pool_refresh_interval=0)
        opts = self.conf.notifications
        self.assertEqual(WHERE['nova'], (opts.nova_exchange, opts.nova_topic))
        self.assertEqual(WHERE['cinder'],
                         (opts.cinder_exchange, opts.cinder_topic))
        engine_graph = driver.Graph.from_conf(self.conf)
        self.addCleanup(engine_graph.close)
        lst = listener.build(self.conf, engine_graph)
        # The API lookups answer from the corpus' cloud.
        lst.processor.enricher.stop()
        lst.processor.enricher = enrich.Enricher(
            self.conf, engine_graph,
            tachyon_checks.CloudComputeLookup(self.cloud),
            tachyon_checks.CloudCinderLookup(self.conf, self.cloud))
        self.addCleanup(lst.processor.enricher.stop)
        self.processor.enricher.stop()
        self.processor = lst.processor
        self.notifiers = {}
        for service, (exchange, _topic) in WHERE.items():
            self.notifiers[service] = self.useFixture(
                services.ServiceNotificationTransport(self.rabbit.url,
                                                      exchange))
        lst.start()

        def stop():
            lst.stop()
            lst.wait()
        self.addCleanup(stop)
        self.sent = 0

    def check_every_event_alone(self, release):
        super().check_every_event_alone(release)
        # Nothing passes vacuously: the release's new events went through.
        wanted = {n.event_type for n in catalog.everything(release)
                  if n.event_type in NEW_EVENTS}
        self.assertTrue(wanted)
        self.assertGreaterEqual(self.sent, len(wanted))

    def done(self):
        return sum(self.processor.counts[k] for k in _DONE)

    def apply(self, note):
        """Publish ``note`` as its service does; wait until handled."""
        event = spec.EVENTS[note.event_type]
        self.assertIn(note.service, WHERE, note.event_type)
        _exchange, topic = WHERE[note.service]
        notifier = self.notifiers[note.service].notifier(
            note.publisher_id, topic)
        before = self.done()
        getattr(notifier, note.priority)({'request_id': 'req-wire'},
                                         note.event_type, note.payload)
        handler = [h for h in self.processor.handlers
                   if h.name == note.service][0]
        if note.event_type not in handler.event_types:
            # Not subscribed: the listener's filter drops it unseen.
            self.assertFalse(event.handle and event.tachyon ==
                             spec.HANDLED, note.event_type)
            return
        deadline = time.monotonic() + 60
        while self.done() == before and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertEqual(before + 1, self.done(),
                         '%s never handled' % note.event_type)
        self.sent += 1


class TestNewEventsOverTheWire(WireCorpusChecks, base.FunctionalTestCase):

    def test_the_corpus_holds_every_new_event(self):
        seen = {n.event_type for n in catalog.everything()}
        seen |= {n.event_type for n in catalog.aggregate_story()}
        self.assertEqual(set(), set(NEW_EVENTS) - seen)
