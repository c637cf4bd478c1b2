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

"""The packed tables of RPC 1.8: the same values, repeated ones once."""

import json

import hypothesis
from hypothesis import strategies as st

from tachyon.rpc import packing
from tests import base

NODES = ['n-%d' % i for i in range(3)]

_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.floats(-1.0, 1.0),
    st.sampled_from(['', 'a', 'b', 'active'] + NODES),
    st.lists(st.sampled_from(['host', 'name']), max_size=2),
    st.dictionaries(st.sampled_from(['a', 'b']), st.integers(0, 2),
                    max_size=2))


class TestPackColumn(base.TestCase):

    def test_repeated_strings_are_sent_once(self):
        column = [NODES[i % 3] for i in range(12)] + [None]
        packed = packing.pack_column(column)
        self.assertTrue(packing.is_encoded(packed))
        self.assertEqual(NODES + [None], packed['values'])
        self.assertEqual([0, 1, 2] * 4 + [3], packed['index'])
        self.assertEqual(column, packing.unpack_column(packed))

    def test_mostly_distinct_strings_stay_plain(self):
        column = ['a', 'b', 'c', 'a']
        self.assertIs(column, packing.pack_column(column))
        self.assertTrue(packing.is_encoded(packing.pack_column(
            ['a', 'b', 'a', 'b'])))

    def test_numbers_flags_and_dicts_stay_plain(self):
        for column in ([1] * 10, [True] * 10, [1.0] * 10, [{}] * 10,
                       [None] * 10, [1, True] * 5, ['a', 1] * 5,
                       [None, 'a', 1] * 4):
            self.assertIs(column, packing.pack_column(column), column)

    def test_values_json_tells_apart_are_never_merged(self):
        # 1 == True == 1.0 as dict keys; on the wire they differ.
        column = ['x', 1, True, 1.0] * 3
        self.assertEqual(column, packing.unpack_column(
            json.loads(json.dumps(packing.pack_column(column)))))
        self.assertEqual(
            [type(v) for v in column],
            [type(v) for v in packing.unpack_column(
                packing.pack_column(column))])

    def test_lists_of_strings_come_back_one_list_per_row(self):
        column = [['host'], [], ['host'], [], [], None]
        packed = packing.pack_column(column)
        self.assertTrue(packing.is_encoded(packed))
        rows = packing.unpack_column(packed)
        self.assertEqual(column, rows)
        self.assertIsNot(rows[0], rows[2])
        rows[0].append('name')
        self.assertEqual(['host'], packing.unpack_column(packed)[2])
        # A list holding anything but strings is sent as it is.
        odd = [['a', 1], ['a', 1], ['a', 1]]
        self.assertIs(odd, packing.pack_column(odd))

    @hypothesis.settings(max_examples=300, deadline=None)
    @hypothesis.given(st.lists(_VALUES, max_size=20),
                      st.integers(1, 4))
    def test_any_column_comes_back_equal_through_json(self, values, times):
        column = values * times
        wire = json.loads(json.dumps(packing.pack_column(list(column))))
        back = packing.unpack_column(wire)
        self.assertEqual(json.loads(json.dumps(column)), back)
        self.assertEqual([type(v) for v in json.loads(json.dumps(column))],
                         [type(v) for v in back])


class TestPack(base.TestCase):

    def test_a_table_and_its_rows(self):
        fields = ['uuid', 'node', 'vcpus', 'unset']
        columns = [['i1', 'i2', 'i3', 'i4'], ['n1', 'n1', 'n1', None],
                   [1, 2, 1, 2], [[], [], ['host'], []]]
        table = packing.pack(fields, columns, plain=('uuid',))
        self.assertEqual(4, table['count'])
        self.assertEqual(['i1', 'i2', 'i3', 'i4'], table['columns'][0])
        self.assertTrue(packing.is_encoded(table['columns'][1]))
        self.assertEqual(['n1', 'n1', 'n1', None],
                         packing.column(table, 'node'))
        self.assertIsNone(packing.column(table, 'missing'))
        self.assertEqual(dict(zip(fields, columns)),
                         packing.columns_of(table))
        self.assertEqual({'fields': fields,
                          'rows': [list(r) for r in zip(*columns)]},
                         packing.to_table(table))

    def test_empty_and_uneven_tables(self):
        self.assertEqual({'fields': [], 'rows': []},
                         packing.to_table(packing.pack([], [])))
        self.assertEqual(0, packing.pack(['a'], [[]])['count'])
        self.assertRaises(ValueError, packing.pack, ['a', 'b'],
                          [[1], [1, 2]])
        self.assertRaises(ValueError, packing.pack, ['a'], [[1], [2]])
