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

"""The collected bulk reads: one record holding every row."""

import re

import testtools

from tachyon.graph import common
from tachyon.graph.compute import instances
from tachyon.graph import upsert


def _returned(query):
    """The names the statement inside a collected read returns, in order.

    The last top-level RETURN of the inner statement: each item's alias,
    or the item itself when it has none.
    """
    inner = query[query.index('{') + 1:query.rindex('}')]
    clause = inner[inner.rindex('\nRETURN ') + len('\nRETURN '):]
    items, depth, current = [], 0, ''
    for char in clause:
        depth += char in '([{'
        depth -= char in ')]}'
        if char == ',' and depth == 0:
            items.append(current)
            current = ''
        else:
            current += char
    items.append(current)
    return [re.split(r'\s+AS\s+', item.strip())[-1] for item in items]


class FakeResult(object):

    def __init__(self, rows):
        self.rows = rows

    def single(self):
        return {'rows': self.rows}


class FakeTx(object):

    def __init__(self, rows):
        self.rows = rows
        self.runs = []

    def run(self, query, **params):
        self.runs.append((query, params))
        return FakeResult(self.rows)


class TestCollected(testtools.TestCase):

    def test_wraps_the_statement_and_collects_the_keys(self):
        query = common.collected('UNWIND $xs AS x\nRETURN x AS a, x + 1 AS b',
                                 ('a', 'b'))
        self.assertEqual('CALL () {\nUNWIND $xs AS x\nRETURN x AS a, x + 1 '
                         'AS b\n}\nRETURN collect([a, b]) AS rows', query)

    def test_rows_come_back_as_dicts_of_the_keys(self):
        tx = FakeTx([[1, 'x'], [2, None]])
        self.assertEqual([{'a': 1, 'b': 'x'}, {'a': 2, 'b': None}],
                         common.collected_dicts(tx, 'Q', ('a', 'b'), xs=[1]))
        self.assertEqual([('Q', {'xs': [1]})], tx.runs)

    def test_no_rows(self):
        self.assertEqual([], common.collected_dicts(FakeTx([]), 'Q', ('a',)))

    def test_keys_follow_each_statement_s_return(self):
        # The keys name the columns by position: a statement whose RETURN
        # was reordered or extended without its keys would read one field
        # as another.
        statements = [
            (instances.CLASSIFY_INSTANCES, instances.CLASSIFY_KEYS),
            (instances.GET_NOTIFICATION_STATE,
             instances.NOTIFICATION_STATE_KEYS),
        ] + [(upsert.CLASSIFY[label], upsert.CLASSIFY_KEYS[label])
             for label in (upsert.PROVIDER, upsert.CONSUMER)]
        for query, keys in statements:
            self.assertEqual(list(keys), _returned(query))
            self.assertTrue(query.endswith(
                'RETURN collect([%s]) AS rows' % ', '.join(keys)))
