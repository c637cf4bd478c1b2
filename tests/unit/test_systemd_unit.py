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

"""The shipped systemd unit, judged by systemd's own tools.

``systemd-analyze`` (systemd 252 or newer) must be installed: it parses
the unit as systemd would, offline, without a running systemd.
"""

import configparser
import os
import re
import shutil
import subprocess

import fixtures

from tests import base

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
UNIT = os.path.join(REPO, 'etc', 'systemd', 'tachyon-engine.service')

#: The highest exposure ``systemd-analyze security`` may give the unit.
MAX_EXPOSURE = 4.0


def _analyze(*args):
    tool = shutil.which('systemd-analyze')
    if tool is None:
        raise AssertionError('systemd-analyze is needed to check the unit '
                             '(Debian: apt-get install systemd)')
    return subprocess.run([tool] + list(args), capture_output=True,
                          text=True, timeout=120)


def _directives():
    parser = configparser.RawConfigParser(strict=False,
                                          interpolation=None)
    parser.optionxform = str
    with open(UNIT) as unit:
        # systemd allows a key more than once: keep the last.
        parser.read_file(unit)
    return parser


class TestUnit(base.TestCase):

    def test_security_exposure_is_low(self):
        res = _analyze('security', '--offline=true', '--no-pager', UNIT)
        found = re.search(r'Overall exposure level for \S+: ([0-9.]+)',
                          res.stdout)
        self.assertIsNotNone(found, res.stdout + res.stderr)
        self.assertLess(float(found.group(1)), MAX_EXPOSURE, res.stdout)

    def test_systemd_knows_every_directive(self):
        # verify checks that ExecStart= exists: point it at a program that
        # does, leave every other line as shipped.
        tmp = self.useFixture(fixtures.TempDir()).path
        copy = os.path.join(tmp, 'tachyon-engine.service')
        with open(UNIT) as src, open(copy, 'w') as dst:
            for line in src:
                if line.startswith('ExecStart='):
                    line = line.replace('/usr/local/bin/tachyon-engine',
                                        '/bin/true', 1)
                dst.write(line)
        res = _analyze('verify', '--man=no', '--generators=no', copy)
        # An unknown key or a value systemd cannot parse is only a
        # warning for systemd (the line is ignored): none may be printed.
        self.assertEqual(0, res.returncode, res.stderr)
        self.assertEqual('', res.stderr.strip())

    def test_readiness_watchdog_and_exit_statuses(self):
        service = _directives()['Service']
        self.assertEqual('notify', service['Type'])
        # Only the main process speaks to systemd (tachyon.common.systemd).
        self.assertEqual('main', service['NotifyAccess'])
        watchdog = int(service['WatchdogSec'])
        self.assertGreaterEqual(watchdog, 10)
        self.assertGreater(int(service['TimeoutStartSec']), 60)
        self.assertEqual({'1', '2'},
                         set(service['RestartPreventExitStatus'].split()))
        self.assertEqual('on-failure', service['Restart'])
        self.assertEqual('/bin/kill -HUP $MAINPID', service['ExecReload'])
        self.assertIn('AF_INET', service['RestrictAddressFamilies'].split())
        self.assertIn('AF_INET6',
                      service['RestrictAddressFamilies'].split())
