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

"""The DevStack plugin, phase by phase, with DevStack's functions recorded.

harness.sh sources devstack/settings and devstack/plugin.sh the way
DevStack does, with iniset, run_process, install_package, sudo and the
rest replaced by recorders; each test checks the calls of one phase.
"""

import os
import shlex
import shutil
import stat
import subprocess

import fixtures

from tests import base

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))))
PLUGIN = os.path.join(REPO, 'devstack')
HARNESS = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       'harness.sh')
SCRIPTS = [os.path.join(PLUGIN, name)
           for name in ('plugin.sh', 'settings', 'lib/tachyon')]


class TestPluginPhases(base.TestCase):

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.bin = os.path.join(self.tmp, 'bin')
        os.makedirs(self.bin)
        self.rec = os.path.join(self.tmp, 'calls')
        # tachyon-manage and tachyon-engine are called by path: record
        # them with small scripts in the fake bin dir.
        for name in ('tachyon-manage', 'tachyon-engine'):
            path = os.path.join(self.bin, name)
            with open(path, 'w') as script:
                script.write('#!/bin/sh\necho "%s $*" >> "%s"\n'
                             % (name, self.rec))
            os.chmod(path, stat.S_IRWXU)

    def phase(self, *args, services='n-api,n-cpu', rc=0, **env):
        environ = {
            'PATH': os.environ['PATH'],
            'HOME': self.tmp,
            'TACHYON_PLUGIN': PLUGIN,
            'HARNESS_BIN': self.bin,
            'ENABLED_SERVICES': services,
            'DEST': os.path.join(self.tmp, 'opt'),
            'DATA_DIR': os.path.join(self.tmp, 'data'),
            'SERVICE_PASSWORD': 'secretservice',
            'SERVICE_PROJECT_NAME': 'service',
            'SERVICE_DOMAIN_NAME': 'Default',
            'REGION_NAME': 'RegionOne',
            'KEYSTONE_SERVICE_URI': 'http://keystone.example/identity',
            'STACK_USER': 'stack',
            'ENABLE_DEBUG_LOG_LEVEL': 'True',
            'NOVA_CONF': '/etc/nova/nova.conf',
            'CINDER_CONF': '/etc/cinder/cinder.conf',
            'IRONIC_CONF': '/etc/ironic/ironic.conf',
            'WATCHER_CONF': '/etc/watcher/watcher.conf',
        }
        environ.update(env)
        os.makedirs(os.path.join(environ['DATA_DIR'], 'tachyon',
                                 'devservices'), exist_ok=True)
        if os.path.exists(self.rec):
            os.unlink(self.rec)
        res = subprocess.run(['bash', HARNESS, self.rec] + list(args),
                             env=environ, capture_output=True, text=True,
                             timeout=60)
        self.assertEqual(rc, res.returncode, res.stderr)
        if not os.path.exists(self.rec):
            return []
        with open(self.rec) as calls:
            return [shlex.split(line) for line in calls]

    @staticmethod
    def inisets(calls, path):
        return {(c[2], c[3]): c[4] for c in calls
                if c[0] == 'iniset' and c[1] == path}

    def test_install_from_neo4j_debian_repository(self):
        calls = self.phase('stack', 'install')
        self.assertIn(['install_package', 'neo4j=1:5.26.*'], calls)
        repo = [c for c in calls if c[:2] == ['sudo', 'tee']]
        self.assertEqual(['/etc/apt/sources.list.d/neo4j.list'],
                         [c[2] for c in repo])
        clone = [c for c in calls if c[0] == 'git_clone']
        self.assertEqual(1, len(clone))
        self.assertTrue(clone[0][2].endswith('/opt/tachyon'))
        self.assertIn(['setup_develop', clone[0][2]], calls)

    def test_install_with_project_provisioning(self):
        calls = self.phase('stack', 'install',
                           TACHYON_NEO4J_INSTALL='devservices')
        packages = [c[1:] for c in calls if c[0] == 'install_package']
        self.assertEqual([['openjdk-17-jdk-headless', 'maven']], packages)
        self.assertFalse([c for c in calls if c[0] == 'curl'])

    def test_unknown_neo4j_install_mode_dies_naming_the_setting(self):
        calls = self.phase('stack', 'install', rc=3,
                           TACHYON_NEO4J_INSTALL='docker')
        died = [c for c in calls if c[0] == 'die']
        self.assertEqual(1, len(died))
        self.assertIn('TACHYON_NEO4J_INSTALL', died[0][2])
        self.assertFalse([c for c in calls if c[0] == 'git_clone'])

    def test_post_config_writes_tachyon_conf(self):
        calls = self.phase('stack', 'post-config')
        conf = self.inisets(calls, '/etc/tachyon/tachyon.conf')
        self.assertEqual('bolt://127.0.0.1:7687', conf[('neo4j', 'uri')])
        self.assertEqual('neo4j', conf[('neo4j', 'username')])
        self.assertEqual('secretservice', conf[('neo4j', 'password')])
        self.assertEqual('nova', conf[('notifications', 'enabled_handlers')])
        self.assertEqual('nova', conf[('collectors', 'enabled_collectors')])
        for group in ('nova', 'placement', 'cinder', 'ironic'):
            self.assertEqual('password', conf[(group, 'auth_type')])
            self.assertEqual('http://keystone.example/identity',
                             conf[(group, 'auth_url')])
            self.assertEqual('tachyon', conf[(group, 'username')])
        self.assertIn(['iniset_rpc_backend', 'tachyon',
                       '/etc/tachyon/tachyon.conf'], calls)
        self.assertIn(['create_service_user', 'tachyon', 'admin'], calls)
        nova = self.inisets(calls, '/etc/nova/nova.conf')
        self.assertEqual('messagingv2',
                         nova[('oslo_messaging_notifications', 'driver')])
        self.assertIn(nova[('notifications', 'notification_format')],
                      ('versioned', 'both'))
        # Watcher is not enabled: its configuration is left alone.
        self.assertFalse(self.inisets(calls, '/etc/watcher/watcher.conf'))
        self.assertFalse(self.inisets(calls, '/etc/cinder/cinder.conf'))

    def test_post_config_with_cinder_ironic_and_watcher(self):
        calls = self.phase(
            'stack', 'post-config',
            services='n-api,n-cpu,cinder,ironic,watcher-decision-engine')
        conf = self.inisets(calls, '/etc/tachyon/tachyon.conf')
        self.assertEqual('nova,cinder,ironic',
                         conf[('notifications', 'enabled_handlers')])
        self.assertEqual('nova,cinder,ironic',
                         conf[('collectors', 'enabled_collectors')])
        self.assertEqual('messagingv2', self.inisets(
            calls, '/etc/cinder/cinder.conf')[
                ('oslo_messaging_notifications', 'driver')])
        self.assertEqual('info', self.inisets(
            calls, '/etc/ironic/ironic.conf')[
                ('DEFAULT', 'notification_level')])
        watcher = self.inisets(calls, '/etc/watcher/watcher.conf')
        self.assertEqual('tachyon_compute,tachyon_storage',
                         watcher[('collector', 'collector_plugins')])
        for plugin in ('tachyon_compute', 'tachyon_storage'):
            for option in ('exchange', 'topic'):
                self.assertEqual(conf[('engine', option)], watcher[(
                    'watcher_cluster_data_model_collectors.' + plugin,
                    option)])
        self.assertEqual(('tachyon', 'tachyon-engine'),
                         (conf[('engine', 'exchange')],
                          conf[('engine', 'topic')]))

    def test_watcher_configuration_can_be_turned_off(self):
        calls = self.phase('stack', 'post-config',
                           services='n-api,watcher-decision-engine',
                           TACHYON_CONFIGURE_WATCHER='False')
        self.assertFalse(self.inisets(calls, '/etc/watcher/watcher.conf'))

    def test_extra_starts_neo4j_syncs_schema_and_starts_engine(self):
        calls = self.phase('stack', 'extra')
        names = [c[0] for c in calls]
        self.assertIn(['sudo', 'systemctl', 'restart', 'neo4j'], calls)
        sync = ['tachyon-manage', '--config-file',
                '/etc/tachyon/tachyon.conf', 'db', 'sync']
        self.assertIn(sync, calls)
        run = [c for c in calls if c[0] == 'run_process']
        self.assertEqual(1, len(run))
        self.assertEqual('tachyon-engine', run[0][1])
        self.assertIn('--config-file /etc/tachyon/tachyon.conf', run[0][2])
        # Order: Neo4j up, then the schema, then the engine.
        self.assertLess(names.index('wait_for_service'),
                        calls.index(sync))
        self.assertLess(calls.index(sync), names.index('run_process'))

    def test_extra_makes_the_engine_unit_wait_for_ready(self):
        calls = self.phase('stack', 'extra', SYSTEMD_DIR='/etc/systemd/x')
        dropin = '/etc/systemd/x/devstack@tachyon-engine.service.d'
        tee = ['sudo', 'tee', dropin + '/tachyon.conf']
        self.assertIn(tee, calls)
        self.assertIn(['sudo', 'mkdir', '-p', dropin], calls)
        # Written before run_process reloads systemd and starts the unit.
        self.assertLess(calls.index(tee),
                        [c[0] for c in calls].index('run_process'))

    def test_extra_with_project_provisioning_points_conf_at_it(self):
        calls = self.phase('stack', 'extra',
                           TACHYON_NEO4J_INSTALL='devservices')
        starts = [c for c in calls if c[0] == 'python3']
        self.assertEqual('start-neo4j', starts[0][2])
        self.assertFalse([c for c in calls if c[:2] == ['sudo',
                                                        'systemctl']])

    def test_unstack_stops_engine_and_neo4j(self):
        calls = self.phase('unstack')
        self.assertEqual([['stop_process', 'tachyon-engine'],
                          ['sudo', 'systemctl', 'stop', 'neo4j']], calls)

    def test_clean_removes_config_and_state(self):
        calls = self.phase('clean')
        self.assertEqual(1, len(calls))
        self.assertEqual(['sudo', 'rm', '-rf', '/etc/tachyon'],
                         calls[0][:4])
        self.assertTrue(calls[0][4].endswith('/data/tachyon'))


class TestPluginScripts(base.TestCase):

    def test_bash_syntax(self):
        for script in SCRIPTS + [HARNESS]:
            res = subprocess.run(['bash', '-n', script],
                                 capture_output=True, text=True)
            self.assertEqual(0, res.returncode,
                             '%s: %s' % (script, res.stderr))

    def test_shellcheck(self):
        shellcheck = shutil.which('shellcheck')
        self.assertIsNotNone(
            shellcheck, 'shellcheck is needed (apt-get install shellcheck)')
        res = subprocess.run(
            [shellcheck, '-x', '--source-path=SCRIPTDIR'] + SCRIPTS
            + [HARNESS], capture_output=True, text=True, cwd=PLUGIN)
        self.assertEqual(0, res.returncode, res.stdout + res.stderr)
