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

"""How Tachyon's collectors take over Watcher's models in a decision engine.

Watcher's strategies, its data model API and its strategy-state API ask
for their models by fixed names: ``compute``, ``storage`` and
``baremetal`` (``CollectorManager.get_cluster_model_collector(name)``).
No Watcher option changes those names, and a second entry point of the
same name in ``watcher_cluster_data_model_collectors`` makes stevedore
refuse both (``MultipleMatches``: every audit fails). What an operator
*can* choose is ``[collector]/collector_plugins``, the collectors the
decision engine loads when it starts; it loads them before it serves any
audit or API call.

So the selection is that option: listing ``tachyon_compute`` (or
``tachyon_storage``, ``tachyon_baremetal``) there makes Tachyon serve that
model. When the decision engine loads the first of them, :func:`install`
hooks two places of the process, leaving Watcher's code as it is:

* **the collector loader**: ``ClusterDataModelCollectorLoader.load`` gives
  the Tachyon collector of a model whenever Watcher asks for the model by
  its own name (the strategies, ``watcher datamodel list`` and the
  strategy-state API alike); every other name loads as before;
* **the strategy run**: ``StrategyContext.execute_strategy(audit,
  request_context)`` runs inside :func:`tachyon.client.audits.bound`, so
  the session a collector opens carries the audit's uuid, and is settled
  (moves sent, then closed; rolled back if the strategy raised) when the
  strategy returns.

Both are methods every supported Watcher release has with the same
signature (:data:`HOOKS`); :func:`check_supported` refuses a Watcher
without them, and :func:`check_selection` a configuration that would
have Watcher's own collector and Tachyon's serve one model. Either
refusal happens while the decision engine starts: it logs the reason
and exits.
"""

import functools
import importlib
import inspect
import threading

from oslo_log import log as logging

from tachyon.client import audits
from tachyon import exception

LOG = logging.getLogger(__name__)

#: Tachyon's collector plugin of each of Watcher's models.
PLUGINS = {'compute': 'tachyon_compute', 'storage': 'tachyon_storage',
           'baremetal': 'tachyon_baremetal'}

#: (module, class, method, parameters) of each place hooked.
HOOKS = (
    ('watcher.decision_engine.loading.default',
     'ClusterDataModelCollectorLoader', 'load', ('self', 'name', 'kwargs')),
    ('watcher.decision_engine.strategy.context.base', 'StrategyContext',
     'execute_strategy', ('self', 'audit', 'request_context')),
)

_lock = threading.Lock()
#: Watcher's model name -> the Tachyon plugin serving it, in this process.
_served = {}
#: (class, method name) -> the original function, while hooked.
_originals = {}


def _hook_target(module_name, class_name):
    return getattr(importlib.import_module(module_name), class_name)


def check_supported():
    """Refuse a Watcher whose hooked methods are not the expected ones.

    :raises: ConfigurationError naming the method and what differs.
    """
    for module_name, class_name, method, params in HOOKS:
        where = '%s.%s.%s' % (module_name, class_name, method)
        try:
            cls = _hook_target(module_name, class_name)
            func = getattr(cls, method)
        except (ImportError, AttributeError) as exc:
            raise _unsupported(where, 'it is missing (%s)' % exc)
        func = _originals.get((cls, method), func)
        found = tuple(inspect.signature(func).parameters)
        if found != params:
            raise _unsupported(where, 'its parameters are (%s), not (%s)'
                               % (', '.join(found), ', '.join(params)))


def _unsupported(where, reason):
    return exception.ConfigurationError(
        group='collector', option='collector_plugins',
        reason='Tachyon\'s collectors cannot serve this Watcher: %s, '
        'which they hook, is not as in the Watcher releases Tachyon '
        'supports: %s' % (where, reason))


def selection(collector_plugins):
    """{Watcher's model name: Tachyon plugin} that the option selects."""
    names = list(collector_plugins or ())
    return {model: plugin for model, plugin in PLUGINS.items()
            if plugin in names}


def check_selection(collector_plugins):
    """Refuse a model served both by Watcher's collector and Tachyon's.

    Watcher would then build and keep its own model of it too (polling
    the APIs and consuming the notifications Tachyon already consumes),
    and its strategies would still get Tachyon's.

    :raises: ConfigurationError naming both plugins.
    """
    names = list(collector_plugins or ())
    both = [model for model, plugin in sorted(selection(names).items())
            if model in names]
    if both:
        raise exception.ConfigurationError(
            group='collector', option='collector_plugins',
            reason='lists both %s: keep only the Tachyon plugin of each '
            'model' % ', '.join("'%s' and '%s'" % (model, PLUGINS[model])
                                for model in both))


def install(collector_plugins):
    """Make the selected Tachyon collectors serve Watcher's models.

    Called by each Tachyon collector as the decision engine loads it;
    idempotent. Returns {model: plugin} now served by Tachyon.
    """
    check_supported()
    check_selection(collector_plugins)
    served = selection(collector_plugins)
    with _lock:
        _served.clear()
        _served.update(served)
        first = not _originals
        if first:
            _hook(HOOKS[0], _aliasing_load)
            _hook(HOOKS[1], _bound_execute_strategy)
    if first:
        others = sorted(set(PLUGINS) - set(served))
        LOG.info('Tachyon serves Watcher\'s %(served)s model%(s)s%(rest)s',
                 {'served': ', '.join(sorted(served)) or 'no',
                  's': '' if len(served) == 1 else 's',
                  'rest': ('; Watcher\'s own collectors serve %s (add %s to '
                           '[collector]/collector_plugins to serve them from '
                           'Tachyon)' % (', '.join(others), ', '.join(
                               PLUGINS[m] for m in others))
                           if others else '')})
    return dict(served)


def uninstall():
    """Undo :func:`install` (tests)."""
    with _lock:
        for (cls, method), func in _originals.items():
            setattr(cls, method, func)
        _originals.clear()
        _served.clear()


def served():
    """{Watcher's model name: Tachyon plugin} served in this process."""
    return dict(_served)


def _hook(hook, make_wrapper):
    module_name, class_name, method, _params = hook
    cls = _hook_target(module_name, class_name)
    original = getattr(cls, method)
    _originals[(cls, method)] = original
    wrapper = functools.wraps(original)(make_wrapper(original))
    setattr(cls, method, wrapper)


def _aliasing_load(original):
    def load(self, name, **kwargs):
        return original(self, _served.get(name, name), **kwargs)
    return load


def _bound_execute_strategy(original):
    def execute_strategy(self, audit, request_context):
        with audits.bound(getattr(audit, 'uuid', None), request_context):
            return original(self, audit, request_context)
    return execute_strategy
