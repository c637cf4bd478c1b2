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

"""Loads the collector plugins and runs them.

tachyon-engine runs each enabled collector every ``[collectors]/
<name>_interval`` seconds::

    manager = CollectorManager(conf, graph)
    for name, seconds in manager.intervals().items():
        ...  # every `seconds`: manager.run(name)

``tachyon-manage sync run`` calls :meth:`CollectorManager.run` on demand.
Runs of the same collector are serialised within one process.
"""

import threading

from oslo_log import log as logging
import stevedore
from stevedore import exception as stevedore_exc

from tachyon import exception

LOG = logging.getLogger(__name__)

NAMESPACE = 'tachyon.collectors'


class CollectorManager(object):
    """The collector plugins ``[collectors]/enabled_collectors`` names."""

    def __init__(self, conf, graph):
        self.conf = conf
        self.graph = graph
        self._plugins = {}
        self._locks = {}
        self._lock = threading.Lock()
        for name in conf.collectors.enabled_collectors:
            self._plugins[name] = self._load(name)

    def _load(self, name):
        try:
            mgr = stevedore.DriverManager(
                NAMESPACE, name, invoke_on_load=True,
                invoke_args=(self.conf,))
        except (stevedore_exc.NoMatches, RuntimeError) as exc:
            known = ', '.join(sorted(self.available()))
            raise exception.ConfigurationError(
                group='collectors', option='enabled_collectors',
                reason='no collector plugin %r (known: %s): %s'
                       % (name, known, exc)) from exc
        return mgr.driver

    @staticmethod
    def available():
        """Names of every installed collector plugin."""
        return set(stevedore.ExtensionManager(NAMESPACE).names())

    @property
    def names(self):
        """The enabled collectors, in configuration order."""
        return list(self._plugins)

    def get(self, name):
        """The plugin ``name``; loaded on demand if it is not enabled."""
        with self._lock:
            if name not in self._plugins:
                self._plugins[name] = self._load(name)
            return self._plugins[name]

    def intervals(self):
        """{collector name: seconds between two periodic runs}.

        Collectors whose interval is 0 (periodic sync disabled) are left
        out.
        """
        result = {}
        for name in self.names:
            seconds = getattr(self.conf.collectors, '%s_interval' % name,
                              None)
            if seconds is None:
                seconds = 3600
            if seconds > 0:
                result[name] = seconds
        return result

    def run(self, name, observer=None):
        """Run one full sync of ``name`` now; returns its SyncReport.

        ``observer`` is told of its progress as it goes (see
        :attr:`tachyon.collectors.base.SyncReport.observer`).

        Raises what failed the sync (the run is logged and recorded in the
        graph first).
        """
        plugin = self.get(name)
        with self._lock:
            lock = self._locks.setdefault(name, threading.Lock())
        with lock:
            return plugin.sync(self.graph, observer=observer)

    def run_all(self):
        """Run every enabled collector.

        Returns {name: SyncReport, or the exception that failed it}.
        """
        results = {}
        for name in self.names:
            try:
                results[name] = self.run(name)
            except exception.TachyonException as exc:
                results[name] = exc
        return results
