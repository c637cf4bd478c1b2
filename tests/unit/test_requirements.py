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

"""The requirement files follow OpenStack's rules.

Requirements state lower bounds only; the versions CI tests with are
pinned in ``upper-constraints.txt``, which tox and ``tools/run-tests.sh``
install with; and every runtime requirement is used by Tachyon's code.
"""

import ast
import glob
import os

from packaging import requirements as pkg_requirements
from packaging import utils as pkg_utils

from tests import base

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
REQUIREMENT_FILES = ('requirements.txt', 'test-requirements.txt',
                     'doc/requirements.txt')

#: Runtime requirements no module imports, and why they are needed.
NOT_IMPORTED = {
    # neo4j's Rust implementation of its wire format: the neo4j driver
    # loads it by itself when it is installed.
    'neo4j-rust-ext',
}

#: Distribution -> the top-level module it installs, where they differ.
MODULES = {
    'oslo-config': 'oslo_config',
    'oslo-log': 'oslo_log',
    'oslo-service': 'oslo_service',
    'oslo-messaging': 'oslo_messaging',
    'oslo-upgradecheck': 'oslo_upgradecheck',
    'oslo-utils': 'oslo_utils',
    'keystoneauth1': 'keystoneauth1',
}


def _read(name):
    reqs = []
    with open(os.path.join(REPO, name)) as source:
        for line in source:
            line = line.split('#', 1)[0].strip()
            if line:
                reqs.append(pkg_requirements.Requirement(line))
    return reqs


def _constraints():
    pins = {}
    for req in _read('upper-constraints.txt'):
        pins[pkg_utils.canonicalize_name(req.name)] = req
    return pins


def _imported_modules():
    modules = set()
    paths = glob.glob(os.path.join(REPO, 'tachyon', '**', '*.py'),
                      recursive=True) + [os.path.join(REPO, 'setup.py')]
    for path in paths:
        with open(path) as source:
            tree = ast.parse(source.read(), path)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules.update(a.name.split('.')[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module \
                    and not node.level:
                modules.add(node.module.split('.')[0])
    return modules


class TestRequirements(base.TestCase):

    def test_no_upper_caps(self):
        for name in REQUIREMENT_FILES:
            for req in _read(name):
                for spec in req.specifier:
                    self.assertIn(
                        spec.operator, ('>=', '=='),
                        '%s: %s caps %s; caps belong in '
                        'upper-constraints.txt' % (name, req, req.name))

    def test_every_requirement_is_pinned(self):
        pins = _constraints()
        for name in REQUIREMENT_FILES:
            for req in _read(name):
                key = pkg_utils.canonicalize_name(req.name)
                self.assertIn(key, pins, '%s: %s is not pinned in '
                              'upper-constraints.txt' % (name, req.name))
                version = next(iter(pins[key].specifier)).version
                self.assertTrue(
                    req.specifier.contains(version, prereleases=True),
                    '%s: %s does not admit the pinned %s' % (
                        name, req, version))

    def test_pins_are_exact(self):
        for key, pin in _constraints().items():
            ops = [spec.operator for spec in pin.specifier]
            self.assertEqual(['==='], ops, pin)

    def test_runtime_requirements_are_used(self):
        imported = _imported_modules()
        for req in _read('requirements.txt'):
            key = pkg_utils.canonicalize_name(req.name)
            if key in NOT_IMPORTED:
                continue
            module = MODULES.get(key, key.replace('-', '_'))
            self.assertIn(module, imported,
                          'requirements.txt: %s is never imported; drop it '
                          'or say in NOT_IMPORTED why it is needed'
                          % req.name)

    def test_installers_use_the_constraints(self):
        with open(os.path.join(REPO, 'tools', 'run-tests.sh')) as script:
            self.assertIn('upper-constraints.txt', script.read())
        with open(os.path.join(REPO, 'tox.ini')) as tox:
            text = tox.read()
        sections = text.count('\ndeps =')
        self.assertEqual(
            sections, text.count('-c{env:TOX_CONSTRAINTS_FILE:'),
            'every tox deps list installs with the constraints file')
