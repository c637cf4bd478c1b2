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
