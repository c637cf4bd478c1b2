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

"""The rate limit of pool refreshes, and the Cinder events it follows."""

import copy
import time

from tachyon import exception
from tachyon.model import changes
from tachyon.model import records
from tachyon.notifications import base as nbase
from tachyon.notifications import enrich
from tachyon.notifications import listener
from tests import base
from tests.fixtures.notifications import catalog
from tests.fixtures.notifications import cinder
from tests.fixtures.notifications import common

POOL = catalog.POOL
OTHER = catalog.OTHER_POOL


class Clock(object):
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


class TestPoolRefresher(base.TestCase):

    def setUp(self):
        super().setUp()
        self.clock = Clock()
        self.refreshed = []
        self.refresher = enrich.PoolRefresher(10.0, 30.0,
                                              self.refreshed.append,
                                              clock=self.clock)
        # No thread in these tests: run_due() stands for it.
        self.refresher._wake = lambda: None

    def test_first_event_at_once_the_others_at_the_end(self):
        self.assertEqual([POOL], self.refresher.claim({POOL: 1.0}))
        for second in range(1, 10):
            self.clock.now = 100.0 + second
            self.assertEqual([], self.refresher.claim({POOL: 1.0 + second}))
        self.assertEqual({POOL: 110.0}, self.refresher.pending)
        self.assertEqual([], self.refresher.run_due())
        self.clock.now = 110.0
        self.assertEqual([POOL], self.refresher.run_due())
        # One refresh for nine events, dated by the newest of them.
        self.assertEqual([{POOL: 10.0}], self.refreshed)
        self.assertEqual({}, self.refresher.pending)
        # The interval starts again from that refresh.
        self.clock.now = 115.0
        self.assertEqual([], self.refresher.claim({POOL: 11.0}))
        self.clock.now = 120.0
        self.assertEqual([POOL], self.refresher.run_due())
        self.assertEqual({POOL: 11.0}, self.refreshed[-1])

    def test_pools_are_limited_each_on_its_own(self):
        self.assertEqual([POOL], self.refresher.claim({POOL: 1.0}))
        self.clock.now = 105.0
        self.assertEqual([OTHER], self.refresher.claim({POOL: 2.0,
                                                        OTHER: 2.0}))
        self.assertEqual({POOL: 110.0}, self.refresher.pending)

    def test_zero_interval_refreshes_every_time(self):
        refresher = enrich.PoolRefresher(0.0, 30.0, self.refreshed.append,
                                         clock=self.clock)
        for _ in range(3):
            self.assertEqual([POOL], refresher.claim({POOL: 1.0}))
        self.assertEqual({}, refresher.pending)

    def test_transient_failure_is_retried_later(self):
        self.refresher.claim({POOL: 1.0})
        self.refresher.failed({POOL: 1.0}, exception.UpstreamError(
            service='cinder', reason='503'))
        self.assertEqual({POOL: 130.0}, self.refresher.pending)
        # Events meanwhile are covered by the retry.
        self.clock.now = 120.0
        self.assertEqual([], self.refresher.claim({POOL: 5.0}))
        self.clock.now = 130.0
        self.assertEqual([POOL], self.refresher.run_due())
        self.assertEqual([{POOL: 5.0}], self.refreshed)

    def test_connection_errors_are_transient(self):
        self.refresher.failed({POOL: 1.0}, ConnectionRefusedError())
        self.assertIn(POOL, self.refresher.pending)

    def test_refusal_for_good_is_given_up(self):
        self.refresher.failed({POOL: 1.0}, exception.UpstreamAuthFailed(
            service='cinder', reason='401', group='cinder'))
        self.assertEqual({}, self.refresher.pending)

    def test_the_thread_refreshes_at_the_end_of_the_interval(self):
        done = []
        refresher = enrich.PoolRefresher(0.05, 1.0, done.append)
        self.addCleanup(refresher.stop)
        self.assertEqual([POOL], refresher.claim({POOL: 1.0}))
        self.assertEqual([], refresher.claim({POOL: 2.0}))
        for _ in range(100):
            if done:
                break
            time.sleep(0.02)
        self.assertEqual([{POOL: 2.0}], done)


def received(note, stamp=1.0):
    return nbase.Notification(
        note.publisher_id, note.event_type, copy.deepcopy(note.payload),
        {'message_id': common.uuid_for('m:%s' % note.event_type),
         'timestamp': stamp}, note.priority)


class TestCinderEvents(base.TestCase):

    def setUp(self):
        super().setUp()
        [self.handler] = listener.load_handlers(self.conf, ['cinder'])
        self.notes = {}
        for note in catalog.cinder_examples():
            self.notes.setdefault(note.event_type, note)

    def parse(self, event_type, **payload):
        note = self.notes[event_type]
        note = received(note)
        note.payload.update(payload)
        return self.handler.parse(note)

    def test_manage_reset_transfer_revert_carry_the_volume(self):
        for event_type in ('volume.manage_existing.end',
                           'volume.reset_status.end',
                           'volume.transfer.accept.end',
                           'volume.revert.end'):
            [change] = self.parse(event_type)
            payload = self.notes[event_type].payload
            self.assertEqual((changes.VOLUME, changes.UPSERT,
                              payload['volume_id']),
                             (change.kind, change.action, change.key))
            self.assertEqual(payload['tenant_id'], change.record.project_id)
            self.assertEqual(payload['host'], change.record.pool_name)

    def test_delete_and_unmanage_name_the_pool(self):
        for event_type in ('volume.delete.end', 'volume.unmanage.end'):
            [change] = self.parse(event_type)
            self.assertEqual(changes.DELETE, change.action)
            self.assertEqual(self.notes[event_type].payload['host'],
                             change.fields['pool_name'])

    def test_a_delete_with_a_broken_field_is_refused(self):
        err = self.assertRaises(exception.MalformedPayload, self.parse,
                                'volume.unmanage.end', size=[1])
        self.assertEqual('size', err.field)

    def test_scheduler_failures_set_the_status_of_known_volumes(self):
        [change] = self.parse('scheduler.create_volume')
        self.assertEqual(('error', True), (change.record.status,
                                           change.fields['if_known']))
        self.assertIn('size', change.keep)
        [change] = self.parse('scheduler.retype')
        self.assertEqual('available', change.record.status)
        self.assertEqual([], self.parse('scheduler.extend_volume',
                                        state={}))
        err = self.assertRaises(exception.MalformedPayload, self.parse,
                                'scheduler.retype', state=[1])
        self.assertEqual('state', err.field)
        err = self.assertRaises(exception.MalformedPayload, self.parse,
                                'scheduler.retype', state={'status': 3})
        self.assertEqual('status', err.field)

    def test_scheduler_publisher_is_routed(self):
        processor = listener.Processor(self.conf, None, [self.handler],
                                       enricher=object())
        for method in ('create_volume', 'retype', 'migrate_volume_to_host',
                       'manage_existing', 'extend_volume'):
            note = received(cinder.scheduler_error(catalog.VOLUME, method))
            self.assertIs(self.handler, processor.route(note), method)


class TestRefreshAndCapacityInOneBatch(base.TestCase):

    def changes(self, capacity_at, refresh_at):
        pool = records.Pool(name=POOL, total_volumes=3, free_capacity_gb=70,
                            total_capacity_gb=100, updated_at=50.0)
        refreshed = enrich.Enricher._refresh_changes({POOL: pool},
                                                     {POOL: refresh_at})
        capacity = changes.Change(
            kind=changes.POOL, action=changes.UPDATE, key=POOL,
            timestamp=capacity_at,
            fields={'free_capacity_gb': 60, 'virtual_free': 55})
        return enrich.Enricher._merge_capacity(refreshed, [capacity])

    def test_a_newer_capacity_report_takes_total_volumes(self):
        kept, [capacity] = self.changes(capacity_at=20.0, refresh_at=10.0)
        self.assertEqual([], kept)
        self.assertEqual({'free_capacity_gb': 60, 'virtual_free': 55,
                          'total_volumes': 3}, capacity.fields)

    def test_a_newer_refresh_takes_virtual_free(self):
        [refresh], _ = self.changes(capacity_at=10.0, refresh_at=20.0)
        self.assertEqual(20.0, refresh.timestamp)
        self.assertEqual((3, 70, 55), (refresh.fields['total_volumes'],
                                       refresh.fields['free_capacity_gb'],
                                       refresh.fields['virtual_free']))

    def test_a_refresh_without_event_time_is_dated_by_the_call(self):
        pool = records.Pool(name=POOL, updated_at=50.0)
        [refresh] = enrich.Enricher._refresh_changes({POOL: pool},
                                                     {POOL: None})
        self.assertEqual(50.0, refresh.timestamp)
        self.assertNotIn('virtual_free', refresh.fields)
