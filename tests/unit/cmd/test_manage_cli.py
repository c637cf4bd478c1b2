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

"""tachyon-manage's arguments, and the commands the documentation shows.

Every ``tachyon-manage ...`` command line in doc/source (inline literals
and literal blocks) must be one the real parser accepts: a guide that
tells operators an option the code does not have fails here.
"""

import argparse
import configparser
import glob
import os
import re

import stevedore

from tachyon.cmd import formatters
from tachyon.cmd import manage
from tachyon.cmd import manage_sync
from tachyon.collectors import manager as collector_manager
from tests import base

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
DOC = os.path.join(REPO, 'doc', 'source')

INLINE = re.compile(r'``(tachyon-manage [^`]+)``')
BLOCK = re.compile(r'^\s+(?:\$ )?(tachyon-manage .*)$', re.M)


class ParserError(Exception):
    pass


class _Parser(argparse.ArgumentParser):

    def error(self, message):
        raise ParserError(message)


def parser():
    manage._load_command_modules()
    top = _Parser(prog='tachyon-manage')
    top.add_argument('--config-file', action='append')
    top.add_argument('--debug', action='store_true')
    sub = top.add_subparsers(dest='category', parser_class=_Parser)
    sub.required = True
    manage._add_command_parsers(sub)
    return top


def documented_commands():
    """(page, command words) of every tachyon-manage command line."""
    found = []
    for path in sorted(glob.glob(os.path.join(DOC, '**', '*.rst'),
                                 recursive=True)):
        with open(path) as page:
            text = page.read()
        lines = INLINE.findall(text) + BLOCK.findall(text)
        for line in lines:
            line = re.split(r'\s[>|]\s', line)[0].strip()
            words = line.split()[1:]
            # An error line quoted from the command ("tachyon-manage db
            # version: ..."), or the synopsis of the CLI page: not a
            # command to run.
            if not words or words[0].endswith(':') or any(
                    w.endswith(':') for w in words[:2]):
                continue
            if words[0].isupper() or any(c in line for c in '[]{}'):
                continue
            found.append((os.path.relpath(path, DOC), words))
    return found


class TestDocumentedCommands(base.TestCase):

    def test_the_docs_show_commands(self):
        pages = {page for page, _words in documented_commands()}
        self.assertIn('operator-guide.rst', pages)
        self.assertGreater(len(documented_commands()), 10)

    def test_every_documented_command_parses(self):
        top = parser()
        for page, words in documented_commands():
            if len(words) == 2:
                # A command named in a sentence ("load it again with
                # model import"): the command must exist.
                category, action = words
                self.assertIn(action, manage.CATEGORIES.get(
                    category, (None, {}))[1], (page, words))
                continue
            try:
                top.parse_args(words)
            except ParserError as exc:
                self.fail('%s: tachyon-manage %s: %s'
                          % (page, ' '.join(words), exc))

    def test_a_wrong_option_is_caught(self):
        # What the check above would say of a guide showing
        # "model export --kind compute".
        self.assertRaises(ParserError, parser().parse_args,
                          ['model', 'export', '--kind', 'compute'])


class TestArguments(base.TestCase):

    def test_collectors_come_from_the_entry_points(self):
        setup = configparser.ConfigParser()
        setup.read(os.path.join(REPO, 'setup.cfg'))
        declared = sorted(
            line.split('=')[0].strip() for line in
            setup['entry_points']['tachyon.collectors'].splitlines()
            if line.strip())
        self.assertEqual(declared, list(manage_sync.COLLECTORS))
        self.assertEqual(sorted(stevedore.ExtensionManager(
            collector_manager.NAMESPACE).names()),
            list(manage_sync.COLLECTORS))
        top = parser()
        for name in declared:
            args = top.parse_args(['sync', 'run', '--collector', name])
            self.assertEqual(name, args.collector)
        self.assertRaises(ParserError, top.parse_args,
                          ['sync', 'run', '--collector', 'glance'])

    def test_format_and_progress(self):
        top = parser()
        for argv in (['model', 'stats'], ['model', 'show', 'node', 'x'],
                     ['session', 'list'], ['session', 'show', 'x'],
                     ['sync', 'history']):
            self.assertEqual(formatters.TABLE, top.parse_args(argv).format)
            self.assertEqual(formatters.JSON,
                             top.parse_args(argv + ['-f', 'json']).format)
            self.assertRaises(ParserError, top.parse_args,
                              argv + ['-f', 'yaml'])
        for argv in (['model', 'import', 'f.xml'], ['sync', 'run']):
            self.assertIsNone(top.parse_args(argv).progress)
            self.assertTrue(top.parse_args(argv + ['--progress']).progress)
            self.assertFalse(top.parse_args(argv + ['--quiet']).progress)
        self.assertIsNone(top.parse_args(['sync', 'run']).format)
        self.assertRaises(ParserError, top.parse_args,
                          ['model', 'show', 'flavor', 'x'])
