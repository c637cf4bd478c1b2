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

"""Watcher's models by Watcher's names, served by Tachyon's collectors.

In this process, against the installed Watcher's real loader and strategy
context; the whole path runs in real decision engines elsewhere here.
"""

from unittest import mock

from oslo_config import fixture as config_fixture
from watcher import conf as watcher_conf
from watcher.decision_engine.loading import default as loading
from watcher.decision_engine.model.collector import nova as watcher_nova
from watcher.decision_engine.strategy.context import base as context_base

from tachyon.client import audits
from tachyon.client import watcher_hooks
from tachyon.client import watcher_plugins
from tachyon import exception
from tests import base


class TestSelection(base.TestCase):

    def test_each_tachyon_plugin_selects_its_model(self):
        self.assertEqual({}, watcher_hooks.selection(['compute', 'storage']))
        self.assertEqual({'compute': 'tachyon_compute'},
                         watcher_hooks.selection(['tachyon_compute']))
        self.assertEqual(
            {'compute': 'tachyon_compute', 'storage': 'tachyon_storage',
             'baremetal': 'tachyon_baremetal'},
            watcher_hooks.selection(['tachyon_storage', 'tachyon_baremetal',
                                     'tachyon_compute']))

    def test_a_model_served_by_both_is_refused(self):
        exc = self.assertRaises(
            exception.ConfigurationError, watcher_hooks.check_selection,
            ['compute', 'tachyon_compute', 'storage', 'tachyon_storage'])
        self.assertIn('[collector]/collector_plugins', str(exc))
        self.assertIn("'compute' and 'tachyon_compute'", str(exc))
        self.assertIn("'storage' and 'tachyon_storage'", str(exc))
        watcher_hooks.check_selection(['tachyon_compute', 'storage'])
        watcher_hooks.check_selection([])

    def test_the_installed_watcher_is_supported(self):
        watcher_hooks.check_supported()

    def test_a_watcher_without_the_hooked_methods_is_refused(self):
        class Changed(object):
            def load(self, name, osc=None):
                pass

        hooks = ((__name__, 'Missing', 'load', ('self', 'name', 'kwargs')),)
        with mock.patch.object(watcher_hooks, 'HOOKS', hooks):
            exc = self.assertRaises(exception.ConfigurationError,
                                    watcher_hooks.check_supported)
        self.assertIn('Missing.load', str(exc))
        self.assertIn('is missing', str(exc))
        hooks = ((__name__, 'Changed', 'load', ('self', 'name', 'kwargs')),)
        with mock.patch.object(watcher_hooks, 'HOOKS', hooks), \
                mock.patch.object(watcher_hooks, '_hook_target',
                                  return_value=Changed):
            exc = self.assertRaises(exception.ConfigurationError,
                                    watcher_hooks.check_supported)
        self.assertIn('(self, name, osc)', str(exc))


class TestInstalled(base.TestCase):
    """The hooks in this process, as a decision engine would install them."""

    def setUp(self):
        super().setUp()
        self.watcher_conf = self.useFixture(
            config_fixture.Config(watcher_conf.CONF))
        # Watcher's loader rereads the parsed config files at each load.
        watcher_conf.CONF([], project='watcher', default_config_files=[],
                          default_config_dirs=[])
        self.addCleanup(watcher_hooks.uninstall)
        self.original_load = loading.ClusterDataModelCollectorLoader.load
        self.original_run = context_base.StrategyContext.execute_strategy

    def select(self, *plugins):
        self.watcher_conf.config(collector_plugins=list(plugins),
                                 group='collector')
        return watcher_hooks.install(list(plugins))

    def test_watchers_names_load_tachyons_collectors(self):
        self.assertEqual({'compute': 'tachyon_compute'},
                         self.select('tachyon_compute'))
        loader = loading.ClusterDataModelCollectorLoader()
        compute = loader.load('compute')
        self.assertIsInstance(compute, watcher_plugins.TachyonComputeCollector)
        self.assertIs(compute, loader.load('tachyon_compute'))
        # A model Tachyon does not serve stays Watcher's.
        storage = loader.load('storage', osc=mock.Mock())
        self.assertNotIsInstance(storage, watcher_plugins._TachyonCollector)

    def test_install_is_idempotent_and_uninstall_restores(self):
        self.select('tachyon_compute')
        hooked = loading.ClusterDataModelCollectorLoader.load
        self.select('tachyon_compute', 'tachyon_storage')
        self.assertIs(hooked, loading.ClusterDataModelCollectorLoader.load)
        self.assertEqual({'compute': 'tachyon_compute',
                          'storage': 'tachyon_storage'},
                         watcher_hooks.served())
        watcher_hooks.uninstall()
        self.assertIs(self.original_load,
                      loading.ClusterDataModelCollectorLoader.load)
        self.assertIs(self.original_run,
                      context_base.StrategyContext.execute_strategy)
        self.assertIsInstance(
            loading.ClusterDataModelCollectorLoader().load('compute'),
            watcher_nova.NovaClusterDataModelCollector)

    def test_a_refused_selection_installs_nothing(self):
        self.assertRaises(exception.ConfigurationError, self.select,
                          'compute', 'tachyon_compute')
        self.assertIs(self.original_load,
                      loading.ClusterDataModelCollectorLoader.load)

    def test_the_strategy_runs_as_its_audit(self):
        self.select('tachyon_compute')
        seen = []

        class Context(context_base.StrategyContext):
            def do_execute_strategy(self, audit, request_context):
                seen.append(audits.current().audit_uuid)
                return 'solution'

        audit = mock.Mock(uuid='audit-7')
        with mock.patch('watcher.notifications.audit.'
                        'send_action_notification'):
            self.assertEqual('solution',
                             Context().execute_strategy(audit, mock.Mock()))
        self.assertEqual(['audit-7'], seen)
        self.assertIsNone(audits.current())
