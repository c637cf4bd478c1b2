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

"""Watcher cluster data model collectors backed by tachyon-engine.

Loaded by watcher-decision-engine from the
``watcher_cluster_data_model_collectors`` namespace (``tachyon_compute``,
``tachyon_storage``, ``tachyon_baremetal``); select them with
``[collector] collector_plugins``. Their options live in Watcher's
``[watcher_cluster_data_model_collectors.tachyon_*]`` groups.

``get_latest_cluster_data_model()`` opens a simulation session and loads
the audit's scoped model in one snapshot call, instead of deep-copying a
model kept in memory; there are no notification endpoints (Tachyon owns
the notifications).
"""

from oslo_config import cfg
import oslo_messaging as messaging
from watcher.decision_engine.model.collector import base
from watcher.decision_engine.model import model_root

from tachyon.client import elements
from tachyon.client import model as client_model
from tachyon import rpc
from tachyon.rpc import api


def translate_scope(audit_scope):
    """Watcher's compute audit scope -> Tachyon's snapshot scope."""
    scope = {}
    for item in audit_scope or ():
        for entry in (item.get('compute') or []):
            if 'host_aggregates' in entry:
                scope.setdefault('host_aggregates', []).extend(
                    str(a.get('name', a.get('id')))
                    for a in entry['host_aggregates'])
            if 'availability_zones' in entry:
                scope.setdefault('availability_zones', []).extend(
                    z['name'] for z in entry['availability_zones'])
            for excluded in entry.get('exclude') or ():
                for key, target, field in (
                        ('instances', 'exclude_instances', 'uuid'),
                        ('compute_nodes', 'exclude_compute_nodes', 'name'),
                        ('projects', 'exclude_projects', 'uuid')):
                    if key in excluded:
                        scope.setdefault(target, []).extend(
                            e[field] for e in excluded[key])
    return scope


class _ServerSideScope(object):
    """Watcher's scope handler interface; the engine already scoped."""

    def __init__(self, audit_scope):
        self.scope = translate_scope(audit_scope)

    def get_scoped_model(self, cluster_model):
        return cluster_model


class _TachyonCollector(base.BaseClusterDataModelCollector):

    _client = None

    @classmethod
    def get_config_opts(cls):
        return super().get_config_opts() + [
            cfg.StrOpt('topic', default='tachyon',
                       help="tachyon-engine's RPC topic."),
            cfg.IntOpt('rpc_timeout', default=60, min=1,
                       help='Seconds to wait for a call to tachyon-engine.'),
            cfg.IntOpt('session_ttl', default=3600, min=1,
                       help='Lifetime of the simulation session an audit '
                            'gets.'),
        ]

    def __init__(self, config, osc=None):
        super().__init__(config, osc)
        self._scope = None

    @property
    def client(self):
        if self._client is None:
            transport = messaging.get_rpc_transport(
                cfg.CONF, allowed_remote_exmods=rpc.ALLOWED_EXMODS)
            self._client = api.EngineAPI(
                transport=transport, topic=self.config.topic,
                timeout=self.config.rpc_timeout)
        return self._client

    @property
    def notification_endpoints(self):
        return []

    def get_audit_scope_handler(self, audit_scope):
        self._scope = _ServerSideScope(audit_scope)
        return self._scope


class TachyonComputeCollector(_TachyonCollector):
    """The compute model, from tachyon-engine."""

    def execute(self):
        # Watcher's periodic refresh: a plain (global) view.
        return client_model.TachyonClusterModel.load(self.client)

    def get_latest_cluster_data_model(self):
        session = self.client.create_session(ttl=self.config.session_ttl)
        scope = self._scope.scope if self._scope else None
        return client_model.TachyonClusterModel.load(
            self.client, scope=scope, session_id=session['id'])


class TachyonStorageCollector(_TachyonCollector):
    """The storage model, from tachyon-engine."""

    def execute(self):
        return client_model.TachyonStorageModel.load(self.client)

    def get_latest_cluster_data_model(self):
        return client_model.TachyonStorageModel.load(self.client)


class TachyonBaremetalCollector(_TachyonCollector):
    """The baremetal model, from tachyon-engine."""

    def execute(self):
        return self.get_latest_cluster_data_model()

    def get_latest_cluster_data_model(self):
        snapshot = self.client.get_baremetal_snapshot()
        model = model_root.BaremetalModelRoot()
        for node in snapshot['nodes']:
            model.add_node(elements.build(elements.IronicNode, dict(
                uuid=node['uuid'], human_id=node.get('human_id') or '',
                power_state=node.get('power_state') or '',
                maintenance=bool(node.get('maintenance')),
                maintenance_reason=node.get('maintenance_reason') or '',
                extra=node.get('extra') or {})))
        return model
