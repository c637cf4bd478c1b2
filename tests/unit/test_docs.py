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

"""The documentation builds cleanly and matches the code it describes."""

import glob
import os
import re
import subprocess
import sys

import fixtures

from tests import base

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
DOC = os.path.join(REPO, 'doc', 'source')

# (var:Label ...) and [var:REL_TYPE|OTHER ...] inside the Cypher strings.
LABEL_RE = re.compile(r'\(\s*\w*\s*:\s*([A-Z][A-Za-z]+)')
REL_RE = re.compile(r'\[\s*\w*\s*:\s*([A-Z][A-Z_|]+)')


def _graph_cypher_names():
    labels, rels = set(), set()
    for path in glob.glob(os.path.join(REPO, 'tachyon', 'graph', '**',
                                       '*.py'), recursive=True):
        with open(path) as source:
            text = source.read()
        labels.update(LABEL_RE.findall(text))
        for match in REL_RE.findall(text):
            rels.update(name for name in match.split('|') if name)
    return labels, rels


class TestGraphSchemaPage(base.TestCase):

    def setUp(self):
        super().setUp()
        with open(os.path.join(DOC, 'graph-schema.rst')) as page:
            self.page = page.read()

    def test_every_label_in_the_code_is_documented(self):
        labels, _rels = _graph_cypher_names()
        self.assertIn('ResourceProvider', labels)
        missing = sorted(label for label in labels
                         if '``%s``' % label not in self.page)
        self.assertEqual([], missing)

    def test_every_relationship_type_in_the_code_is_documented(self):
        _labels, rels = _graph_cypher_names()
        self.assertIn('CONSUMES', rels)
        missing = sorted(rel for rel in rels
                         if '[:%s' % rel not in self.page)
        self.assertEqual([], missing)

    def test_every_documented_relationship_is_used(self):
        _labels, rels = _graph_cypher_names()
        documented = set(re.findall(r'\[:([A-Z_]+)', self.page))
        self.assertEqual([], sorted(documented - rels))


class TestDocsBuild(base.TestCase):
    """What ``tox -e docs`` runs: warnings are errors."""

    def test_sphinx_build_without_warnings(self):
        out = self.useFixture(fixtures.TempDir()).path
        res = subprocess.run(
            [sys.executable, '-m', 'sphinx', '-W', '--keep-going', '-q',
             '-b', 'html', '-d', os.path.join(out, 'doctrees'), DOC,
             os.path.join(out, 'html')],
            capture_output=True, text=True, timeout=300, cwd=REPO)
        self.assertEqual(0, res.returncode, res.stdout + res.stderr)
        with open(os.path.join(out, 'html', 'graph-schema.html')) as page:
            html = page.read()
        # The generated table carries the constraints from the code.
        self.assertIn('rp_uuid', html)
        self.assertIn('session_id', html)


class TestCLIReference(base.TestCase):
    """doc/source/cli documents every command the code offers."""

    def _page(self, name):
        with open(os.path.join(DOC, 'cli', name + '.rst')) as page:
            return page.read()

    def test_every_console_script_has_a_page_and_a_man_page(self):
        import configparser
        setup = configparser.ConfigParser()
        setup.read(os.path.join(REPO, 'setup.cfg'))
        scripts = [line.split('=')[0].strip() for line in
                   setup['entry_points']['console_scripts'].splitlines()
                   if line.strip()]
        self.assertIn('tachyon-manage', scripts)
        with open(os.path.join(DOC, 'conf.py')) as conf:
            conf_text = conf.read()
        index = self._page('index')
        for script in scripts:
            self.assertIn(script, self._page(script).splitlines()[1])
            self.assertIn('   %s\n' % script, index)
            self.assertIn("('%s'," % script, conf_text)

    def test_every_manage_command_and_argument_is_documented(self):
        from tachyon.cmd import manage
        manage._load_command_modules()
        page = self._page('tachyon-manage')
        for category, (_cls, actions) in manage.CATEGORIES.items():
            for action, arguments in actions.items():
                usage = [line for line in page.splitlines()
                         if line.startswith('``tachyon-manage %s %s'
                                            % (category, action))]
                self.assertEqual(1, len(usage), (category, action))
                for args, kwargs in arguments:
                    name = (kwargs.get('metavar') or args[0]
                            if not args[0].startswith('-') else args[0])
                    self.assertIn(name, usage[0], (category, action))
                    for choice in kwargs.get('choices') or ():
                        self.assertIn(choice, usage[0],
                                      (category, action, args))
