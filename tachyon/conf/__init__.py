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

"""Tachyon's configuration: one module per option group.

``tachyon.conf.CONF`` is the process-wide ConfigOpts with every Tachyon
option registered. Each module exposes ``register_opts(conf)`` and
``list_opts()``; :mod:`tachyon.conf.opts` gathers them for the sample
config generator.
"""

from oslo_config import cfg

from tachyon.conf import clients
from tachyon.conf import collectors
from tachyon.conf import default
from tachyon.conf import engine
from tachyon.conf import metrics
from tachyon.conf import model_import
from tachyon.conf import neo4j
from tachyon.conf import notifications
from tachyon.conf import reservations
from tachyon.conf import simulation

CONF = cfg.CONF

MODULES = (default, neo4j, engine, simulation, notifications, collectors,
           clients, model_import, metrics, reservations)


class _SharedProcessConf(object):
    """Registers Tachyon's options, keeping those a host process has.

    Tachyon's Watcher plugins run inside watcher-decision-engine, whose
    global CONF already has ``[DEFAULT]/host`` and keystoneauth options in
    ``[nova]``, ``[cinder]``, ``[ironic]`` and ``[placement]``. An option
    of the same name already registered in a group is left as it is (it
    means the same thing) instead of failing the import.
    """

    def __init__(self, conf):
        self._conf = conf

    def register_opt(self, opt, group=None, **kwargs):
        try:
            return self._conf.register_opt(opt, group=group, **kwargs)
        except cfg.DuplicateOptError:
            return False

    def register_opts(self, opts, group=None, **kwargs):
        for opt in opts:
            self.register_opt(opt, group=group, **kwargs)

    def __getattr__(self, name):
        return getattr(self._conf, name)

    def __getitem__(self, key):
        return self._conf[key]

    def __contains__(self, key):
        return key in self._conf


for _module in MODULES:
    _module.register_opts(_SharedProcessConf(CONF))
