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

"""The record of sync runs, (:SyncRun) nodes, in the real Neo4j."""

from tachyon.graph import syncs
from tests.functional import base


class TestSyncRuns(base.FunctionalTestCase):

    def test_history_trimmed_per_collector(self):
        for index in range(5):
            syncs.record_sync_run(self.graph, {
                'collector': 'nova', 'started_at': 100.0 + index,
                'finished_at': 101.0 + index, 'created': index,
                'status': 'success', 'details': {'instances': {}}},
                keep=3)
        syncs.record_sync_run(self.graph, {
            'collector': 'cinder', 'started_at': 50.0, 'finished_at': 51.0,
            'status': 'failed', 'error': 'boom'}, keep=3)
        runs = syncs.last_sync_runs(self.graph, 'nova')
        self.assertEqual([4, 3, 2], [r['created'] for r in runs])
        self.assertEqual(1.0, runs[0]['seconds'])
        self.assertEqual({'instances': {}}, runs[0]['details'])
        everything = syncs.last_sync_runs(self.graph)
        self.assertEqual(4, len(everything))
        self.assertEqual('boom', everything[-1]['error'])
