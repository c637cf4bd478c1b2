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

"""A volume that changes pools refreshes both, from the Cinder API.

The API is the Cinder API emulator (:mod:`tests.fixtures.emulators`),
reached over HTTP by Tachyon's own Cinder client with Keystone's
emulated tokens; the graph is seeded by Tachyon's Cinder collector from
it. A retype that migrates the volume to another backend (Cinder's
``volume.retype``, sent by the destination's cinder-volume with the new
host), or any volume event that names another pool than the one the
graph holds the volume in (the first event after a migration), refreshes
the pool the volume left as well as the one it is in: both hold the API's
numbers afterwards, in one API call.
"""

import copy
import dataclasses
import time

import fixtures

from tachyon.collectors import cinder as cinder_collector
from tachyon.graph import storage
from tachyon.notifications import base as nbase
from tachyon.notifications import listener
from tests.fixtures import emulators
from tests.fixtures.notifications import cinder
from tests.fixtures.notifications import common
from tests.functional import base

OLD = 'stor-1@lvm#a'
NEW = 'stor-2@ceph#b'
SAME_BACKEND = 'stor-1@lvm#c'
COUNTERS = ('total_volumes', 'free_capacity_gb', 'allocated_capacity_gb',
            'provisioned_capacity_gb', 'total_capacity_gb')


class TestVolumeMovesBetweenPools(base.FunctionalTestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.FakeLogger())
        self.os = self.useFixture(emulators.OpenStackFixture(self.conf))
        self.os.set_retries(2, 0.01)
        self.cloud = self.os.cloud
        self.cloud.add_storage_backend('stor-1', 'lvm', pools=('a', 'c'),
                                       volume_types=['lvmdriver-1'])
        self.cloud.add_storage_backend('stor-2', 'ceph', pools=('b',),
                                       volume_types=['ceph-ssd'])
        self.vol = cinder.volume('moving', host=OLD, size=30)
        self.cloud.add_volume(OLD, size=30, volume_uuid=self.vol.uuid,
                              name='moving')
        self.take(OLD, 30)
        report = cinder_collector.CinderCollector(self.conf).sync(
            self.graph)
        self.assertEqual('success', report.status)
        self.assertEqual(OLD, storage.get_pool_by_volume(
            self.graph, self.vol.uuid).name)
        self.flags(group='notifications', enabled_handlers=['cinder'],
                   pool_refresh_interval=0)
        self.processor = listener.Processor(
            self.conf, self.graph, listener.load_handlers(self.conf))
        self.addCleanup(self.processor.enricher.stop)
        self.os.cinder.clear()

    def pool_calls(self):
        return len(self.os.cinder.requests_to('/scheduler-stats/get_pools'))

    def take(self, pool, size):
        caps = self.cloud.pools[pool]['capabilities']
        caps['allocated_capacity_gb'] += size
        caps['provisioned_capacity_gb'] += size
        caps['free_capacity_gb'] -= size

    def move(self, pool):
        """What Cinder's database says once the volume is in ``pool``."""
        with self.cloud.lock:
            old = self.cloud.volumes[self.vol.uuid]['host']
            self.cloud.volumes[self.vol.uuid]['host'] = pool
            self.cloud.pools[old]['capabilities']['total_volumes'] -= 1
            self.cloud.pools[pool]['capabilities']['total_volumes'] += 1
            self.take(old, -self.vol.size)
            self.take(pool, self.vol.size)

    def apply(self, note):
        stamp = time.time()
        result = self.processor.process([nbase.Notification(
            note.publisher_id, note.event_type, copy.deepcopy(note.payload),
            {'message_id': common.uuid_for('m:%r' % stamp),
             'timestamp': stamp}, note.priority)])
        self.assertEqual(listener.ACK, result, note.event_type)
        self.assertEqual(0, self.processor.counts['malformed'])

    def graph_counters(self, name):
        pool = storage.get_pool_by_pool_name(self.graph, name)
        return {k: int(getattr(pool, k)) for k in COUNTERS}

    def api_counters(self, name):
        caps = self.cloud.pools[name]['capabilities']
        return {k: int(caps[k]) for k in COUNTERS}

    def assertPoolsAsTheAPI(self, *names):
        for name in names:
            self.assertEqual(self.api_counters(name),
                             self.graph_counters(name), name)

    def test_retype_to_another_backend_refreshes_both_pools(self):
        before = self.graph_counters(OLD)
        self.assertEqual(1, before['total_volumes'])
        self.move(NEW)
        moved = dataclasses.replace(self.vol, host=NEW,
                                    volume_type='ceph-ssd')
        self.apply(cinder.volume_event(
            'volume.retype', moved,
            volume_type=cinder.VOLUME_TYPES['ceph-ssd']))
        self.assertEqual(NEW, storage.get_pool_by_volume(
            self.graph, self.vol.uuid).name)
        self.assertPoolsAsTheAPI(OLD, NEW)
        self.assertEqual(0, self.graph_counters(OLD)['total_volumes'])
        self.assertEqual(before['free_capacity_gb'] + 30,
                         self.graph_counters(OLD)['free_capacity_gb'])
        self.assertEqual(1, self.graph_counters(NEW)['total_volumes'])
        # Both pools in one call.
        self.assertEqual(1, self.pool_calls())

    def test_first_event_after_a_migration_refreshes_both_pools(self):
        # A migration within the backend sends no volume event; the next
        # event (an attach, an update) names the new pool.
        self.move(SAME_BACKEND)
        moved = dataclasses.replace(self.vol, host=SAME_BACKEND,
                                    name='renamed')
        self.apply(cinder.volume_event('volume.update.end', moved))
        self.assertPoolsAsTheAPI(OLD, SAME_BACKEND)
        self.assertEqual(0, self.graph_counters(OLD)['total_volumes'])
        self.assertEqual(1, self.pool_calls())

    def test_an_event_in_the_same_pool_refreshes_that_pool_only(self):
        caps = self.cloud.pools[OLD]['capabilities']
        caps['free_capacity_gb'] -= 5
        other = self.graph_counters(NEW)
        # The other pools change in the API, unknown to the graph.
        self.take(NEW, 7)
        resized = dataclasses.replace(self.vol, size=35)
        self.apply(cinder.volume_event('volume.resize.end', resized))
        self.assertPoolsAsTheAPI(OLD)
        self.assertEqual(other, self.graph_counters(NEW))
        self.assertEqual(1, self.pool_calls())
