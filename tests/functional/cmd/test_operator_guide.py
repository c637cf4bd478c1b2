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

"""Every tachyon-manage and tachyon-status command of the operator guide.

The commands are read from doc/source/operator-guide.rst's literal blocks
and run in their order, as written, by bash in a scratch directory whose
``~/.tachyon/tachyon.conf`` (where oslo.config looks when no
``--config-file`` is given) points at the test's real Neo4j and RabbitMQ
and at emulated OpenStack APIs; ``--config-file
/etc/tachyon/tachyon.conf`` names that same file. The graph holds
Watcher's scenario_1.xml and storage_scenario_1.xml, and a session whose
id replaces ``SESSION_ID``. A wrong option, subcommand or argument in the
guide fails here.
"""

import os
import re
import subprocess
import sys

from tachyon.simulation import manager
from tachyon import watcher_xml
from tests.fixtures import emulators
from tests.fixtures import services
from tests.functional.cmd import base as cmd_base
from tests.functional import operator_guide
from tests import watcher_models

BIN = os.path.dirname(sys.executable)
COMMAND = re.compile(r'^(\$ )?(tachyon-manage|tachyon-status)( |$)')
# What the guide's error example reads: a vcpus Neo4j cannot store.
BAD_XML = ('<?xml version="1.0"?>\n<ModelRoot>\n'
           '  <ComputeNode uuid="n1" hostname="compute-1" state="up" '
           'status="enabled" vcpus="1e30" memory="131072" disk="250" '
           'disk_capacity="250"/>\n</ModelRoot>\n')


def guide_commands():
    """[(command, the error line the guide shows for it, or None)]."""
    commands = []
    for block in operator_guide.literal_blocks():
        for index, line in enumerate(block):
            # "prog: message" lines are what a command printed.
            if not COMMAND.match(line) or ': ' in line:
                continue
            shown = None
            if line.startswith('$ ') and index + 1 < len(block):
                following = block[index + 1]
                prog = ' '.join(line[2:].split()[:3])
                if following.startswith(prog + ': '):
                    shown = following
            commands.append((line[2:] if line.startswith('$ ') else line,
                             shown))
    return commands


class TestOperatorGuide(cmd_base.ManageTestCase):

    def setUp(self):
        super().setUp()
        transport = self.useFixture(services.RealTransportFixture(self.conf))
        openstack = self.useFixture(emulators.OpenStackFixture(self.conf))
        openstack.cloud.add_compute_node('compute-0')
        openstack.cloud.add_server(host='compute-0')
        auth = openstack.openstack.auth_options()
        lines = ['[DEFAULT]', 'transport_url = %s' % transport.url]
        for group in emulators.GROUPS:
            lines.append('[%s]' % group)
            lines.extend('%s = %s' % item for item in sorted(auth.items()))
        with open(self.config, 'a') as f:
            f.write('\n'.join(lines) + '\n')
        self.home = self.tmp.join('home')
        os.makedirs(os.path.join(self.home, '.tachyon'))
        os.symlink(self.config, os.path.join(self.home, '.tachyon',
                                             'tachyon.conf'))
        for name in ('scenario_1.xml', 'storage_scenario_1.xml'):
            watcher_xml.import_model(self.graph,
                                     watcher_models.load_data(name))
        self.session = manager.SessionManager(
            self.conf, self.graph).create_session()['id']
        with open(os.path.join(self.home, 'bad.xml'), 'w') as f:
            f.write(BAD_XML)

    def test_every_command_runs(self):
        commands = guide_commands()
        # The guide's walk: install, inspect, import, upgrade, recover.
        self.assertGreaterEqual(len(commands), 15, commands)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith('OS_')}
        env.update(HOME=self.home, PYTHONWARNINGS='ignore',
                   PATH=BIN + os.pathsep + env.get('PATH', ''))
        for command, shown in commands:
            line = command.replace('/etc/tachyon/tachyon.conf', self.config)
            line = line.replace('SESSION_ID', self.session)
            result = subprocess.run(['bash', '-c', line], cwd=self.home,
                                    env=env, capture_output=True, text=True,
                                    timeout=300)
            context = '%s\n%s%s' % (command, result.stdout, result.stderr)
            self.assertNotIn('Traceback', result.stderr, context)
            if shown is None:
                self.assertEqual(0, result.returncode, context)
            else:
                self.assertNotEqual(0, result.returncode, context)
                self.assertEqual([shown], result.stderr.splitlines(),
                                 context)
