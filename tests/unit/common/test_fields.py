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


"""The shared field reader: typed getters, one error naming the field."""

from tachyon.common import fields
from tachyon import exception
from tests import base

UUID = '11111111-1111-4111-8111-111111111111'


class TestReader(base.TestCase):

    def fails(self, func, *args):
        return self.assertRaises(exception.MalformedField, func, *args)

    def test_typed_getters(self):
        r = fields.Reader({'s': 'x', 'i': 3, 'f': 1.5, 'b': False,
                           'm': {}, 'l': [], 'u': UUID, 'n': None})
        self.assertEqual(('x', 3, 1.5, False, {}, [], UUID),
                         (r.string('s'), r.integer('i'), r.number('f'),
                          r.boolean('b'), r.mapping('m'), r.sequence('l'),
                          r.uuid('u')))
        self.assertEqual('d', r.string('n', False, 'd'))
        self.assertEqual('d', r.string('absent', False, 'd'))
        self.assertEqual(7, r.integer('i', source={'i': 7}))

    def test_errors_name_the_field(self):
        r = fields.Reader({'i': 'x', 'b': 1, 'n': None, 'u': 'nope',
                           'flag': True})
        exc = self.fails(r.integer, 'absent')
        self.assertEqual(("missing field 'absent'", 'absent'),
                         (exc.reason, exc.field))
        exc = self.fails(r.integer, 'n')
        self.assertEqual("field 'n' is null", exc.reason)
        exc = self.fails(r.integer, 'i')
        self.assertEqual("field 'i' must be an integer, got str", str(exc))
        exc = self.fails(r.integer, 'flag')
        self.assertEqual("field 'flag' must be an integer, got True",
                         str(exc))
        exc = self.fails(r.boolean, 'b')
        self.assertEqual('b', exc.field)
        exc = self.fails(r.uuid, 'u')
        self.assertEqual("field 'u' is not a UUID: 'nope'", str(exc))

    def test_not_an_object(self):
        exc = self.fails(fields.Reader, [])
        self.assertEqual('expected an object, got list', str(exc))
        self.assertIsNone(exc.field)

    def test_owner_error_and_wording(self):
        class Custom(fields.Reader):
            MISSING = 'has no %(key)r'

        def error(reason, field=None):
            return exception.MalformedPayload('x.y', reason, field)

        exc = self.assertRaises(exception.MalformedPayload,
                                Custom({}, error).string, 'k')
        self.assertEqual("x.y: has no 'k'", str(exc))
        self.assertIsInstance(exc, ValueError)


class TestTextReader(base.TestCase):

    def read(self, **data):
        return fields.TextReader(data)

    def test_parsing(self):
        r = self.read(i='4.0', f='2.5', b='False', m='{"a": 1}',
                      p="{'a': 2}", t='2025-01-15T09:40:00')
        self.assertEqual(4, r.integer('i'))
        self.assertEqual(2.5, r.number('f'))
        self.assertFalse(r.boolean('b', True))
        self.assertEqual({'a': 1}, r.mapping('m'))
        self.assertEqual({'a': 2}, r.mapping('p'))
        self.assertEqual('2025-01-15T09:40:00', r.timestamp('t'))
        self.assertIsNone(r.integer('absent'))
        self.assertTrue(r.boolean('absent', True))
        self.assertEqual({}, r.mapping('absent', {}))

    def test_errors(self):
        for data, call, reason in (
                ({}, lambda r: r.string('k', True), 'missing'),
                ({'k': ' '}, lambda r: r.string('k', True), 'empty'),
                ({'k': '1.5'}, lambda r: r.integer('k'),
                 "'1.5' is not an integer"),
                ({'k': '-1'}, lambda r: r.integer('k'), "'-1' is negative"),
                ({'k': 'nan'}, lambda r: r.number('k'),
                 "'nan' is not a number"),
                ({'k': '-2.5'}, lambda r: r.number('k'),
                 "'-2.5' is not a non-negative number"),
                ({'k': '1e30'}, lambda r: r.integer('k'),
                 "'1e30' is not an integer"),
                ({'k': str(2 ** 63)}, lambda r: r.integer('k'),
                 "'%d' is out of range (0 to %d)" % (2 ** 63, 2 ** 63 - 1)),
                ({'k': 'perhaps'}, lambda r: r.boolean('k', False),
                 "'perhaps' is not a boolean"),
                ({'k': '[1]'}, lambda r: r.mapping('k'), 'not a mapping'),
                ({'k': '{oops'}, lambda r: r.mapping('k'),
                 'neither JSON nor a Python literal'),
                ({'k': 'yesterday'}, lambda r: r.timestamp('k'),
                 "'yesterday' is not an ISO 8601 time")):
            exc = self.assertRaises(exception.MalformedField, call,
                                    fields.TextReader(data))
            self.assertEqual((reason, 'k'), (exc.reason, exc.field))
