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

"""Cinder's notifications reach a default Tachyon, on the real RabbitMQ.

The publisher is Cinder's side as Cinder configures it: an oslo.messaging
Notifier (``messagingv2``) on a transport whose control exchange is left
alone, with the default notification topics and a ``volume.<host>`` or
``capacity.<host>`` publisher id. It runs in a process of its own, as
cinder-volume does: Tachyon changes oslo.messaging's default control
exchange in its own process (``set_transport_defaults``), which would
hide the default a Cinder process has. The listener runs on Tachyon's
default ``[notifications]`` options (only the API lookups are off: this
test has no Cinder API).
"""

import json
import subprocess
import sys

from tachyon import exception
from tachyon.graph import storage
from tests.fixtures.notifications import catalog
from tests.fixtures.notifications import cinder
from tests.fixtures import services
from tests.functional import base

#: What cinder-volume does, in a fresh interpreter: notes as JSON on
#: stdin, the control exchange its transport ended up with on stdout.
_CINDER_SIDE = '''
import json
import sys

from oslo_config import cfg
import oslo_messaging as messaging

conf = cfg.ConfigOpts()
conf([], project='cinder')
transport = messaging.get_notification_transport(conf, url=sys.argv[1])
notifier = messaging.Notifier(transport, driver='messagingv2')
for publisher_id, priority, event_type, payload in json.load(sys.stdin):
    getattr(notifier.prepare(publisher_id=publisher_id), priority)(
        {}, event_type, payload)
transport.cleanup()
print(json.dumps({
    'control_exchange': conf.control_exchange,
    'topics': conf.oslo_messaging_notifications.topics}))
'''


class TestCinderOnTheDefaults(base.FunctionalTestCase):

    def setUp(self):
        super().setUp()
        self.transport = self.useFixture(
            services.RealTransportFixture(self.conf))
        self.flags(group='notifications', enrich_from_apis=False)

    def publish_as_cinder(self, *notes):
        sent = json.dumps([[n.publisher_id, n.priority, n.event_type,
                            n.payload] for n in notes])
        done = subprocess.run(
            [sys.executable, '-c', _CINDER_SIDE, self.transport.url],
            input=sent, capture_output=True, text=True, timeout=120)
        self.assertEqual(0, done.returncode, done.stderr)
        where = json.loads(done.stdout.strip().splitlines()[-1])
        # Where Cinder publishes: oslo.messaging's defaults, untouched.
        self.assertEqual({'control_exchange': 'openstack',
                          'topics': ['notifications']}, where)

    def wait_for(self, read, what, timeout=60):
        """What ``read`` returns once it is true."""
        found = services.wait_until(read, timeout,
                                    tolerate=(exception.NotFound,))
        if not found:
            self.fail('Timed out waiting for %s' % what)
        return found

    def wait_for_volume(self, status, what):
        def read():
            vol = storage.get_volume_by_uuid(self.graph, catalog.VOLUME.uuid)
            return vol if vol.status == status else None
        return self.wait_for(read, what)

    def test_volume_status_follows_cinder(self):
        opts = self.conf.notifications
        self.assertEqual(('openstack', 'notifications'),
                         (opts.cinder_exchange, opts.cinder_topic))
        pools = {catalog.POOL: cinder.PoolState(catalog.POOL)}
        notes = {note.event_type: note for note, _after in cinder.lifecycle(
            catalog.VOLUME, catalog.SERVER.uuid, pools=pools)}
        for event_type in ('volume.create.end', 'volume.attach.end',
                           'volume.detach.end'):
            self.assertIsInstance(notes[event_type].payload['metadata'],
                                  list)
        lst = self.start_listener()

        # cinder-scheduler's report of the pool, then the volume in it.
        self.publish_as_cinder(cinder.capacity_pool(pools[catalog.POOL]))
        self.wait_for(lambda: storage.get_pool_by_pool_name(
            self.graph, catalog.POOL), 'the pool to be created')
        self.publish_as_cinder(notes['volume.create.end'])
        vol = self.wait_for_volume('available', 'the volume to be created')
        self.assertEqual({'purpose': 'db', 'tier': 'gold'}, vol.metadata)
        self.assertEqual(catalog.POOL, vol.pool_name)

        self.publish_as_cinder(notes['volume.attach.end'])
        vol = self.wait_for_volume('in-use', 'the volume to be in use')
        self.assertEqual([catalog.SERVER.uuid],
                         [a['server_id'] for a in vol.attachments])
        self.assertEqual({'purpose': 'db', 'tier': 'gold'}, vol.metadata)

        self.publish_as_cinder(notes['volume.detach.end'])
        vol = self.wait_for_volume('available', 'the volume to be detached')
        self.assertEqual([], vol.attachments)
        self.assertEqual(0, lst.processor.counts['malformed'])
