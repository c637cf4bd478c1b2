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

"""The Cinder handler on the notification corpus, over a real Neo4j.

:class:`TestVolumesOnTheCorpus` runs the corpus checks of the volume area
(every Cinder event alone at every release, a volume's life with the
pool counters the Cinder API reports after each event, a broken field
refused whole). :class:`TestPoolRefresh` checks the rate limit of the
pool refreshes: a burst of volume events on one pool costs a bounded
number of API calls and leaves the API's numbers; an API failure neither
holds nor loses the volume event; a refresh never overwrites a newer
state.
"""

import copy
import threading
import time

import fixtures

from tachyon.collectors import payloads
from tachyon import exception
from tachyon.graph import storage
from tachyon.notifications import base as nbase
from tachyon.notifications import enrich
from tachyon.notifications import listener
from tests.fixtures.notifications import catalog
from tests.fixtures.notifications import cinder
from tests.fixtures.notifications import cloud as cloud_state
from tests.fixtures.notifications import common
from tests.fixtures.notifications import expect
from tests.fixtures.notifications import tachyon_checks
from tests.functional import base


def use_enricher(test, processor, **flags):
    """Give ``processor`` an Enricher built with ``flags`` set."""
    test.flags(group='notifications', **flags)
    old = processor.enricher
    old.stop()
    processor.enricher = enrich.Enricher(test.conf, test.graph, old.compute,
                                         old.cinder)
    test.addCleanup(processor.enricher.stop)
    return processor.enricher


class TestVolumesOnTheCorpus(tachyon_checks.TachyonCorpusChecks,
                             base.FunctionalTestCase):
    """The corpus checks of Cinder's events.

    Every batch of volume events re-reads its pools (interval 0, what
    Watcher does), so the pool holds the API's numbers after each event.
    """

    areas = ('volume',)

    def setUp(self):
        super().setUp()
        # Every event alone, at every release and in both metadata forms,
        # each on a wiped graph: minutes on a busy machine, beyond the
        # suite's usual 240 s.
        self.useFixture(fixtures.Timeout(900, gentle=True))
        use_enricher(self, self.processor, pool_refresh_interval=0)


class CountingCinderAPI(tachyon_checks.CloudCinderAPI):
    """The corpus' Cinder API, counting (and failing) pool listings."""

    def __init__(self, cloud):
        super().__init__(cloud)
        self.pool_calls = 0
        self.failures = []      # exceptions the next calls raise
        self._lock = threading.Lock()

    def pools(self):
        with self._lock:
            self.pool_calls += 1
            if self.failures:
                raise self.failures.pop(0)
        return super().pools()


class TestPoolRefresh(base.FunctionalTestCase):

    interval = 5.0

    def setUp(self):
        super().setUp()
        # The corpus' cloud: a backend, its pool, its volume types.
        self.cloud = cloud_state.Cloud()
        self.cloud.add_backend(catalog.BACKEND,
                               [cinder.PoolState(catalog.POOL)],
                               types=('lvmdriver-1', 'ceph-ssd'))
        self.api = CountingCinderAPI(self.cloud)
        lookup = tachyon_checks.CloudCinderLookup(self.conf, self.cloud)
        lookup.cloud_api = self.api
        handlers = listener.load_handlers(self.conf, ['cinder'])
        self.processor = listener.Processor(
            self.conf, self.graph, handlers,
            enrich.Enricher(self.conf, self.graph,
                            tachyon_checks.CloudComputeLookup(self.cloud),
                            lookup))
        self.addCleanup(self.processor.enricher.stop)
        # The graph knows them as the API reported them long ago.
        storage.upsert_storage_nodes(self.graph, [
            payloads.storage_node(s, {'lvmdriver-1': ['lvmdriver-1']},
                                  updated_at=1.0)
            for s in self.cloud.cinder_services.values()])
        storage.upsert_pools(self.graph, [
            payloads.pool(p.api_body(), updated_at=1.0)
            for p in self.cloud.pools.values()])
        self.pool = self.cloud.pools[catalog.POOL]

    def apply(self, note, timestamp=None):
        stamp = time.time() if timestamp is None else timestamp
        result = self.processor.process([nbase.Notification(
            note.publisher_id, note.event_type, copy.deepcopy(note.payload),
            {'message_id': common.uuid_for('m:%r' % stamp),
             'timestamp': stamp}, note.priority)])
        self.assertEqual(listener.ACK, result, note.event_type)

    def graph_pool(self):
        pool = storage.get_pool_by_pool_name(self.graph, catalog.POOL)
        return {k: getattr(pool, k) for k in expect.pool_fields(self.pool)}

    def wait_for_api_numbers(self, timeout):
        wanted = expect.pool_fields(self.pool)
        deadline = time.monotonic() + timeout
        while self.graph_pool() != wanted and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertEqual(wanted, self.graph_pool())

    def test_a_burst_costs_a_bounded_number_of_pool_calls(self):
        use_enricher(self, self.processor,
                     pool_refresh_interval=self.interval)
        count = 15
        start = time.monotonic()
        for index in range(count):
            vol = cinder.volume('burst-%d' % index, host=catalog.POOL,
                                size=index + 1)
            # What the API reports once the volume is there.
            self.pool.take(vol.size)
            self.apply(cinder.volume_event('volume.create.end', vol))
        elapsed = time.monotonic() - start
        self.assertEqual(count, self.processor.counts['applied'])
        self.assertEqual(count, len(storage.get_pool_volumes(
            self.graph, catalog.POOL)))
        # The refresh at the end of the interval brings the last numbers.
        self.wait_for_api_numbers(self.interval * 2 + 10)
        self.assertEqual(count, self.graph_pool()['total_volumes'])
        # One refresh at the start, at most one per interval after it.
        bound = 2 + int(elapsed // self.interval)
        self.assertLessEqual(self.api.pool_calls, bound,
                             '%d events in %.1f s' % (count, elapsed))
        self.assertLess(self.api.pool_calls, count)
        # Nothing is left to do.
        time.sleep(self.interval + 0.5)
        self.assertLessEqual(self.api.pool_calls, bound)
        self.assertEqual({}, self.processor.enricher.refresher.pending)

    def test_every_event_refreshes_with_interval_zero(self):
        use_enricher(self, self.processor, pool_refresh_interval=0)
        for index in range(3):
            vol = cinder.volume('each-%d' % index, host=catalog.POOL,
                                size=2)
            self.pool.take(vol.size)
            self.apply(cinder.volume_event('volume.create.end', vol))
            self.assertEqual(expect.pool_fields(self.pool),
                             self.graph_pool())
        self.assertEqual(3, self.api.pool_calls)

    def test_an_api_failure_loses_nothing_and_is_retried(self):
        use_enricher(self, self.processor, pool_refresh_interval=0,
                     pool_refresh_retry_interval=3.0)
        self.api.failures.append(exception.UpstreamError(
            service='cinder', reason='503 Service Unavailable'))
        before = self.graph_pool()
        vol = cinder.volume('while-down', host=catalog.POOL, size=7)
        self.pool.take(vol.size)
        self.apply(cinder.volume_event('volume.create.end', vol))
        # The volume is there at once; the pool waits for the retry.
        self.assertEqual(7, storage.get_volume_by_uuid(self.graph,
                                                       vol.uuid).size)
        self.assertEqual(before, self.graph_pool())
        self.assertIn(catalog.POOL,
                      self.processor.enricher.refresher.pending)
        self.wait_for_api_numbers(10)
        self.assertEqual(2, self.api.pool_calls)

    def test_a_refusal_for_good_is_not_retried(self):
        use_enricher(self, self.processor, pool_refresh_interval=0,
                     pool_refresh_retry_interval=1.0)
        self.api.failures.append(exception.UpstreamAuthFailed(
            service='cinder', reason='401', group='cinder'))
        vol = cinder.volume('refused', host=catalog.POOL, size=3)
        self.pool.take(vol.size)
        self.apply(cinder.volume_event('volume.create.end', vol))
        self.assertEqual(3, storage.get_volume_by_uuid(self.graph,
                                                       vol.uuid).size)
        self.assertEqual({}, self.processor.enricher.refresher.pending)
        time.sleep(1.5)
        self.assertEqual(1, self.api.pool_calls)

    def test_a_refresh_never_overwrites_a_newer_state(self):
        use_enricher(self, self.processor, pool_refresh_interval=0)
        reported = cinder.PoolState(catalog.POOL, free_capacity_gb=500.0,
                                    allocated_capacity_gb=500.0,
                                    provisioned_capacity_gb=500.0)
        # A capacity report dated after the refresh below is made.
        self.apply(cinder.capacity_pool(reported), time.time() + 100)
        vol = cinder.volume('late-refresh', host=catalog.POOL, size=4)
        self.pool.take(vol.size)
        self.apply(cinder.volume_event('volume.create.end', vol))
        self.assertEqual(1, self.api.pool_calls)
        pool = self.graph_pool()
        self.assertEqual((500, 500, 500), (
            pool['free_capacity_gb'], pool['allocated_capacity_gb'],
            pool['provisioned_capacity_gb']))
