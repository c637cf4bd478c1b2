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

"""The write engine's rules without Neo4j: sorting, fingerprints, Cypher."""

import collections

from tachyon.graph import upsert
from tests import base

ENTITY = upsert.Entity(kind='pool', tombstone_kind='pool')
Item = collections.namedtuple('Item', 'uuid value')


def _seen(exists=True, kind='pool', updated_at=5.0, deleted_at=None,
          fingerprint='f'):
    return {'exists': exists, 'kind': kind, 'updated_at': updated_at,
            'deleted_at': deleted_at, 'fingerprint': fingerprint}


class TestPlan(base.TestCase):

    def setUp(self):
        super().setUp()
        self.plan = upsert.Plan(ENTITY)

    def test_new_records_are_created(self):
        self.assertEqual(upsert.NEW, self.plan.sort(None, 'a', 1.0))
        self.assertEqual(upsert.NEW, self.plan.sort(
            _seen(exists=False), 'b', 1.0))
        self.assertEqual(2, self.plan.counts.created)
        self.assertEqual([], self.plan.revived)

    def test_a_tombstone_blocks_an_older_record(self):
        seen = _seen(exists=False, deleted_at=5.0)
        self.assertIsNone(self.plan.sort(seen, 'a', 5.0))
        self.assertEqual(1, self.plan.counts.skipped)
        # Newer than the deletion, or without a time: revived.
        self.assertEqual(upsert.NEW, self.plan.sort(seen, 'b', 6.0))
        self.assertEqual(upsert.NEW, self.plan.sort(seen, 'c', None))
        self.assertEqual(['b', 'c'], self.plan.revived)

    def test_another_kind_is_left_alone(self):
        self.assertIsNone(self.plan.sort(_seen(kind='storage'), 'a', 9.0))
        self.assertEqual(1, self.plan.counts.skipped)

    def test_staleness(self):
        self.assertIsNone(self.plan.sort(_seen(), 'a', 4.0))
        self.assertIsNone(self.plan.sort(_seen(), 'a', 5.0))
        self.assertEqual(upsert.NEWER, self.plan.sort(_seen(), 'a', 6.0))
        self.assertEqual(upsert.NEWER, self.plan.sort(_seen(), 'a', None))
        self.assertEqual(1, self.plan.counts.skipped)
        self.assertEqual(1, self.plan.counts.unchanged)
        self.assertEqual(0, self.plan.counts.changed)

    def test_same_touches_and_changed_counts(self):
        self.plan.same('a', 6.0)
        self.plan.same('b', None)
        self.plan.changed()
        self.assertEqual([{'uuid': 'a', 'updated_at': 6.0}],
                         self.plan.touch)
        self.assertEqual(2, self.plan.counts.unchanged)
        self.assertEqual(1, self.plan.counts.updated)


class TestHelpers(base.TestCase):

    def test_newer(self):
        self.assertEqual(1, upsert.newer(None, 1.0))
        self.assertEqual(1, upsert.newer(1.0, None))
        self.assertEqual(-1, upsert.newer(2.0, 1.0))
        self.assertEqual(0, upsert.newer(1.0, 1.0))
        self.assertEqual(1, upsert.newer(1.0, 2.0))

    def test_fingerprint_ignores_key_order(self):
        self.assertEqual(upsert.fingerprint({'a': 1, 'b': [2]}),
                         upsert.fingerprint({'b': [2], 'a': 1}))
        self.assertNotEqual(upsert.fingerprint({'a': 1}),
                            upsert.fingerprint({'a': 2}))

    def test_stamp_leaves_the_time_out_of_the_fingerprint(self):
        a = upsert.stamp({'uuid': 'a', 'v': 1}, 1.0)
        b = upsert.stamp({'uuid': 'a', 'v': 1}, 2.0)
        self.assertEqual(a['fingerprint'], b['fingerprint'])
        self.assertEqual(2.0, b['updated_at'])

    def test_dedupe_keeps_the_last_in_first_seen_order(self):
        items = [Item('a', 1), Item('b', 2), Item('a', 3)]
        self.assertEqual([Item('a', 3), Item('b', 2)],
                         upsert.dedupe(items))

    def test_column_refs(self):
        refs = upsert.column_refs('rp', ('uuid', 'updated_at', 'name'),
                                  ('name',))
        self.assertEqual('row[0]', refs['uuid'])
        self.assertEqual('row[2]', refs['name'])
        self.assertIn('rp.name = row[2]', refs['set_props'])
        self.assertIn('coalesce(row[1], rp.updated_at)', refs['set_props'])
        self.assertTrue(refs['fresh_set'].startswith('  AND (row[1] IS NULL'))
        self.assertIn('rp.generation = rp.generation + 1',
                      refs['fresh_set'])

    def test_lookups_carry_index_hints(self):
        for label, var in ((upsert.PROVIDER, 'rp'), (upsert.CONSUMER, 'c')):
            for statements in (upsert.CLASSIFY, upsert.TOUCH, upsert.BUMP):
                self.assertIn('USING INDEX SEEK %s:%s(uuid)' % (var, label),
                              statements[label])
        self.assertIn('USING INDEX SEEK t:Tombstone(kind, uuid)',
                      upsert.CLASSIFY[upsert.PROVIDER])
