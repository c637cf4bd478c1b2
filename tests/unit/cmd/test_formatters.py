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

"""tachyon-manage's output formats (table, json, value) and progress."""

import io
import json

from tachyon.cmd import formatters as f
from tests import base


def sections():
    return [
        f.Record('node', [('uuid', 'n1'), ('ratio', 1.5), ('state', None),
                          ('updated_at', f.when(86400.25)),
                          ('traits', ['A', 'B'])]),
        f.Listing('instances', ['uuid', 'vcpus'], [['i1', 2], ['i2', 4]],
                  headers=['UUID', 'vCPUs']),
    ]


class TestRender(base.TestCase):

    def test_json_keeps_types(self):
        doc = json.loads(f.render(sections(), f.JSON))
        self.assertEqual({
            'node': {'uuid': 'n1', 'ratio': 1.5, 'state': None,
                     'updated_at': 86400.25, 'traits': ['A', 'B']},
            'instances': [{'uuid': 'i1', 'vcpus': 2},
                          {'uuid': 'i2', 'vcpus': 4}],
        }, doc)

    def test_json_of_one_section_is_the_section(self):
        self.assertEqual([{'uuid': 'i1', 'vcpus': 2},
                          {'uuid': 'i2', 'vcpus': 4}],
                         json.loads(f.render(sections()[1:], f.JSON)))
        self.assertEqual([], json.loads(f.render(
            [f.Listing('x', ['a'], [])], f.JSON)))

    def test_json_data_and_missing_record(self):
        doc = json.loads(f.render([
            f.Record('a', [('x', 1)], data={'x': 1, 'more': [1, 2]}),
            f.Record('b', None, empty='none here')], f.JSON))
        self.assertEqual({'a': {'x': 1, 'more': [1, 2]}, 'b': None}, doc)

    def test_table(self):
        text = f.render(sections(), f.TABLE)
        self.assertEqual([
            'Node:',
            '+------------+---------------------+',
            '| Field      | Value               |',
            '+------------+---------------------+',
            '| uuid       | n1                  |',
            '| ratio      | 1.5                 |',
            '| state      | -                   |',
            '| updated_at | 1970-01-02 00:00:00 |',
            '| traits     | ["A", "B"]          |',
            '+------------+---------------------+',
            '',
            'Instances:',
            '+------+-------+',
            '| UUID | vCPUs |',
            '+------+-------+',
            '| i1   | 2     |',
            '| i2   | 4     |',
            '+------+-------+',
        ], text.splitlines())

    def test_table_empty(self):
        self.assertEqual('No instance.\n', f.render(
            [f.Listing('x', ['a'], [], empty='No instance.')]))
        self.assertEqual('The volume is in no pool.\n', f.render(
            [f.Record('pool', None, empty='The volume is in no pool.')]))

    def test_value(self):
        self.assertEqual(['n1', '1.5', '-', '1970-01-02 00:00:00',
                          '["A", "B"]', 'i1 2', 'i2 4'],
                         f.render(sections(), f.VALUE).splitlines())

    def test_unknown_format(self):
        self.assertRaises(ValueError, f.render, sections(), 'yaml')


class TestProgress(base.TestCase):

    def test_lines_with_elapsed_time(self):
        out = io.StringIO()
        ticks = iter([10.0, 10.5, 12.25])
        progress = f.Progress('tachyon-manage x', True, out,
                              clock=lambda: next(ticks))
        progress('read %d bytes', 12)
        progress('done: 50%')
        self.assertEqual(['tachyon-manage x: [   0.50s] read 12 bytes',
                          'tachyon-manage x: [   2.25s] done: 50%'],
                         out.getvalue().splitlines())

    def test_quiet_and_terminal_default(self):
        out = io.StringIO()
        f.Progress('p', False, out)('nothing')
        f.Progress('p', None, out)('not a terminal')
        self.assertEqual('', out.getvalue())

        class Terminal(io.StringIO):
            def isatty(self):
                return True
        tty = Terminal()
        f.Progress('p', None, tty)('shown')
        self.assertIn('shown', tty.getvalue())
