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

"""``tachyon-watcher-status upgrade check``: does a decision engine use it?

Run on a Watcher decision engine's host, with the decision engine's own
configuration (``--config-file /etc/watcher/watcher.conf``; by default
Watcher's usual files). It reads that configuration as the decision
engine does, with Watcher's option definitions, and says:

* which of Watcher's models Tachyon's collectors serve there (and refuses
  a model served by Watcher's own collector and Tachyon's);
* whether this Watcher has what Tachyon's collectors hook;
* whether tachyon-engine answers on the route each selected plugin would
  take (its transport, exchange and topic), within a few seconds.

Exit codes follow oslo.upgradecheck: 0 all checks passed, 1 a warning,
2 a failure.
"""

import sys

from oslo_config import cfg
import oslo_messaging as messaging
from oslo_upgradecheck import upgradecheck

from tachyon.cmd import backends
from tachyon import exception
from tachyon import rpc
from tachyon.rpc import api

#: Seconds the reachability check waits for tachyon-engine.
PING_TIMEOUT = 10


def _watcher():
    """Watcher's configuration and Tachyon's plugins, imported late.

    Importing Watcher registers its options on oslo.config's global
    object: only this command does it, never another Tachyon command.
    """
    from watcher import conf as watcher_conf
    from watcher.decision_engine.loading import default as loading

    from tachyon.client import watcher_hooks
    from tachyon.client import watcher_plugins
    return watcher_conf, loading, watcher_hooks, watcher_plugins


class Checks(upgradecheck.UpgradeCommands):
    """The checks, in order."""

    def __init__(self, conf):
        super().__init__()
        self.conf = conf
        (self._watcher_conf, self._loading, self._hooks,
         self._plugins) = _watcher()

    @property
    def _names(self):
        return list(self.conf.collector.collector_plugins or ())

    def _check_selection(self):
        try:
            self._hooks.check_selection(self._names)
        except exception.ConfigurationError as exc:
            return upgradecheck.Result(upgradecheck.Code.FAILURE, str(exc))
        served = self._hooks.selection(self._names)
        if not served:
            return upgradecheck.Result(
                upgradecheck.Code.FAILURE,
                '[collector]/collector_plugins (%s) lists no Tachyon '
                "collector: Watcher's own collectors serve every model. "
                'List tachyon_compute (and tachyon_storage, '
                'tachyon_baremetal) there.' % ', '.join(self._names))
        others = sorted(set(self._hooks.PLUGINS) - set(served))
        message = 'Tachyon serves the %s model%s' % (
            ', '.join(sorted(served)), '' if len(served) == 1 else 's')
        if others:
            message += "; Watcher's own collectors serve %s" % (
                ', '.join(others))
        return upgradecheck.Result(upgradecheck.Code.SUCCESS,
                                   message + '.')

    def _check_hooks(self):
        try:
            self._hooks.check_supported()
        except exception.ConfigurationError as exc:
            return upgradecheck.Result(upgradecheck.Code.FAILURE, str(exc))
        return upgradecheck.Result(
            upgradecheck.Code.SUCCESS,
            "This Watcher has the collector loader and strategy context "
            "Tachyon's collectors hook.")

    def _plugin_config(self, name):
        """The options of plugin ``name``, as Watcher's loader reads them."""
        group = self._loading.ClusterDataModelCollectorLoader(
            ).get_entry_name(name)
        opts = self._plugins.TachyonComputeCollector.get_config_opts()
        if name != 'tachyon_compute':
            opts = self._plugins.TachyonStorageCollector.get_config_opts()
        for opt in opts:
            try:
                self.conf.register_opt(opt, group=group)
            except cfg.DuplicateOptError:
                pass
        return self.conf[group], group

    def _check_engine(self):
        served = self._hooks.selection(self._names)
        if not served:
            return upgradecheck.Result(
                upgradecheck.Code.WARNING,
                'No Tachyon collector selected: nothing to reach.')
        problems, reached = [], []
        for name in sorted(set(served.values())):
            config, group = self._plugin_config(name)
            try:
                self._probe(config, group)
            except exception.TachyonException as exc:
                problems.append(backends.message(exc, self.conf))
                continue
            try:
                answer = self._ping(config)
            except Exception as exc:
                problems.append(
                    '[%s]: no answer from tachyon-engine on exchange %r, '
                    'topic %r within %ds (%s: %s); check exchange, topic '
                    'and transport_url there and [engine]/exchange, '
                    "[engine]/topic in tachyon.conf" % (
                        group, config.exchange, config.topic,
                        PING_TIMEOUT, type(exc).__name__, exc))
            else:
                reached.append('%s: engine %s' % (name, answer['host']))
        if problems:
            return upgradecheck.Result(
                upgradecheck.Code.FAILURE,
                backends.scrub('; '.join(problems), self.conf,
                               self._plugin_passwords()))
        return upgradecheck.Result(
            upgradecheck.Code.SUCCESS,
            'tachyon-engine answers (%s).' % ', '.join(reached))

    def _probe(self, config, group):
        """Check the plugin's transport URL and the broker's login first.

        A malformed URL, a refused login or a broker that is down is
        reported as such, within seconds, naming the option; the ping
        would wait for its timeout (or, for a broker that is down, retry
        the connection forever).
        """
        url = config.transport_url or None
        if url is None:
            group = 'DEFAULT'
        transport = backends.check_transport_url(
            self.conf, url=url, group=group, option='transport_url')
        try:
            backends.probe_transport(
                self.conf, transport, url=url, exchange=config.exchange,
                topic=config.topic, group=group, option='transport_url')
        finally:
            transport.cleanup()

    def check(self):
        """The checks; the first failure again as one line on stderr."""
        self._failures = []
        code = super().check()
        if code == upgradecheck.Code.FAILURE and self._failures:
            sys.stderr.write('tachyon-watcher-status upgrade check: %s\n'
                             % self._failures[0])
        return code

    def record_failure(self, details):
        self._failures.append(backends.scrub(details, self.conf,
                                             self._plugin_passwords()))

    def _plugin_passwords(self):
        found = []
        for name in set(self._hooks.selection(self._names).values()):
            config, _group = self._plugin_config(name)
            found.extend(backends.transport_passwords(config.transport_url))
        return found

    def _ping(self, config):
        transport = messaging.get_rpc_transport(
            self.conf, url=config.transport_url or None,
            allowed_remote_exmods=rpc.ALLOWED_EXMODS)
        try:
            client = api.EngineAPI(
                transport=transport, exchange=config.exchange,
                topic=config.topic, timeout=PING_TIMEOUT)
            return client.ping('tachyon-watcher-status')
        finally:
            transport.cleanup()

    _upgrade_checks = (
        ('Tachyon collectors selected', backends.recorded(_check_selection)),
        ('Watcher hook points', backends.recorded(_check_hooks)),
        ('tachyon-engine reachable', backends.recorded(_check_engine)),
    )


def main(argv=None):
    argv = sys.argv if argv is None else argv
    watcher_conf = _watcher()[0]
    conf = watcher_conf.CONF
    return upgradecheck.main(conf, project='watcher',
                             upgrade_command=Checks(conf), argv=argv[1:])


if __name__ == '__main__':
    sys.exit(main())
