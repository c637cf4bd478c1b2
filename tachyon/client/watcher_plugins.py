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

``tachyon_compute``, ``tachyon_storage`` and ``tachyon_baremetal`` in the
``watcher_cluster_data_model_collectors`` namespace. Listed in a decision
engine's ``[collector]/collector_plugins``, each serves Watcher's model of
the same kind to everything in that process that asks for it by Watcher's
own name (:mod:`tachyon.client.watcher_hooks` says how and why). Their
options live in Watcher's ``[watcher_cluster_data_model_collectors.
tachyon_*]`` groups: where tachyon-engine is (transport, exchange, topic)
and how long to wait for it.

* ``get_latest_cluster_data_model()`` loads the model with one snapshot
  call instead of deep-copying a model kept in memory. Within an audit's
  strategy run, the compute model is a simulation session of that audit
  (its uuid on the session), settled when the strategy returns
  (:mod:`tachyon.client.audits`); anywhere else (``watcher datamodel
  list``, the strategy-state API) it is a read view: no session, and its
  changes stay local.
* ``execute()``, which Watcher's scheduler calls every ``period`` seconds
  to rebuild its in-memory model, only checks that the engine answers:
  Tachyon keeps the model itself.
* No notification endpoints: Tachyon consumes the notifications, once for
  every decision engine.
"""

import threading

from oslo_config import cfg
from oslo_log import log as logging
import oslo_messaging as messaging
from watcher import conf as watcher_conf
from watcher.decision_engine.model.collector import base
from watcher.decision_engine.model import model_root
from watcher.decision_engine.scope import baremetal as baremetal_scope
from watcher.decision_engine.scope import storage as storage_scope

from tachyon.client import audits
from tachyon.client import causal
from tachyon.client import elements
from tachyon.client import model as client_model
from tachyon.client import watcher_hooks
from tachyon import rpc
from tachyon.rpc import api

LOG = logging.getLogger(__name__)

COMPUTE = 'compute'


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


class ServerSideScope(object):
    """Watcher's scope handler interface; the engine applies the scope.

    ``get_scoped_model`` hands the model back as it is: the collector
    already asked the engine for the scoped snapshot.
    """

    def __init__(self, audit_scope):
        self.scope = translate_scope(audit_scope)

    def get_scoped_model(self, cluster_model):
        return cluster_model


def local_scope(handler_cls, audit_scope, kind, config):
    """Watcher's own scope handler of ``kind``, when the scope has one.

    Without a ``kind`` part the audit scope leaves the model as it is, and
    Watcher's storage handler would still open a Cinder connection (and
    need credentials) just to be built: answer with a handler that does
    nothing.
    """
    if not any(kind in (item or {}) for item in audit_scope or ()):
        return ServerSideScope(())
    return handler_cls(audit_scope, config)


_transports = {}
_transports_lock = threading.Lock()


def _transport(url):
    """One RPC transport per URL, shared by the plugins of a process."""
    with _transports_lock:
        if url not in _transports:
            _transports[url] = messaging.get_rpc_transport(
                cfg.CONF, url=url, allowed_remote_exmods=rpc.ALLOWED_EXMODS)
        return _transports[url]


class _TachyonCollector(base.BaseClusterDataModelCollector):
    """What the three collectors share: options, client, start-up."""

    #: Watcher's name of the model this collector serves.
    MODEL = None

    @classmethod
    def get_config_opts(cls):
        return super().get_config_opts() + [
            cfg.StrOpt('transport_url', secret=True,
                       help='Messaging URL of the RPC bus tachyon-engine '
                            'serves on. Unset: the decision engine\'s own '
                            '[DEFAULT]/transport_url.'),
            cfg.StrOpt('exchange', default=api.DEFAULT_EXCHANGE,
                       help="tachyon-engine's RPC exchange ([engine]/"
                            'exchange in tachyon.conf). Named explicitly: '
                            "the decision engine's own default exchange is "
                            "'watcher'."),
            cfg.StrOpt('topic', default=api.DEFAULT_TOPIC,
                       help="tachyon-engine's RPC topic ([engine]/topic in "
                            'tachyon.conf).'),
            cfg.IntOpt('rpc_timeout', default=60, min=1,
                       help='Seconds to wait for an answer of '
                            'tachyon-engine.'),
            cfg.IntOpt('snapshot_timeout', default=300, min=1,
                       help='Seconds to wait for a whole model from '
                            'tachyon-engine.'),
            cfg.StrOpt('rpc_version_cap',
                       help='Highest RPC API version to send, e.g. "1.2" '
                            'while tachyon-engines of an older release '
                            'still run during a rolling upgrade. Unset: the '
                            'newest this plugin knows.'),
        ]

    def __init__(self, config, osc=None):
        super().__init__(config, osc)
        self._client = None
        self._client_lock = threading.Lock()
        watcher_hooks.install(watcher_conf.CONF.collector.collector_plugins)

    @property
    def client(self):
        with self._client_lock:
            if self._client is None:
                config = self.config
                self._client = causal.CausalEngineAPI(
                    transport=_transport(config.transport_url or None),
                    exchange=config.exchange, topic=config.topic,
                    version_cap=config.rpc_version_cap or None,
                    timeout=config.rpc_timeout,
                    snapshot_timeout=config.snapshot_timeout)
            return self._client

    @property
    def notification_endpoints(self):
        return []

    def execute(self):
        """Watcher's periodic rebuild: check the engine answers, no more.

        The model Watcher would keep in memory lives in Tachyon; an empty
        one stands for it (nothing in Watcher reads it but a Guru
        Meditation report). An engine that does not answer raises, and
        Watcher marks this collector's model stale until the next round.
        """
        self.client.ping()
        return self._empty_model()

    def _empty_model(self):
        raise NotImplementedError()


class TachyonComputeCollector(_TachyonCollector):
    """Watcher's compute model (ModelRoot), from tachyon-engine."""

    MODEL = COMPUTE

    @classmethod
    def get_config_opts(cls):
        return super().get_config_opts() + [
            cfg.IntOpt('session_ttl', default=3600, min=1,
                       help='Lifetime of the simulation session of an '
                            "audit's strategy run. The session is closed "
                            'when the strategy returns; the TTL only ends '
                            'the session of a decision engine that died '
                            'meanwhile, so it must exceed the longest '
                            'strategy run.'),
            cfg.IntOpt('delta_batch_size', default=100, min=1,
                       help='Moves a strategy records that are sent to '
                            'the session in one call.'),
        ]

    def get_audit_scope_handler(self, audit_scope):
        handler = ServerSideScope(audit_scope)
        # For the get_latest_cluster_data_model() call that follows, in
        # this thread: this collector is shared by concurrent audits.
        audits.keep_scope(COMPUTE, handler.scope)
        return handler

    def _empty_model(self):
        return client_model.TachyonClusterModel()

    def get_latest_cluster_data_model(self):
        scope = audits.take_scope(COMPUTE)
        run = audits.current()
        client = self.client
        if run is None:
            return client_model.TachyonClusterModel.load(
                client, scope=scope, detached=True)
        session = client.create_session(ttl=self.config.session_ttl,
                                        audit_uuid=run.audit_uuid)
        try:
            model = client_model.TachyonClusterModel.load(
                client, scope=scope, session_id=session['id'],
                batch_size=self.config.delta_batch_size)
        except Exception:
            try:
                client.rollback_session(session['id'])
            except Exception as exc:
                LOG.warning('Session %s of audit %s could not be rolled '
                            'back (%s); its TTL will end it',
                            session['id'], run.audit_uuid, exc)
            raise
        run.opened(model)
        LOG.info('Audit %s: compute model of session %s (%d nodes, %d '
                 'instances)', run.audit_uuid, session['id'],
                 len(model.get_all_compute_nodes()),
                 len(model.get_all_instances()))
        return model


class TachyonStorageCollector(_TachyonCollector):
    """Watcher's storage model (StorageModelRoot), from tachyon-engine.

    Storage strategies read the model and act through Cinder: the model is
    a fresh snapshot for each caller and its changes stay local. The audit
    scope is Watcher's own storage scope handler, applied to it as Watcher
    applies it to its in-memory model.
    """

    MODEL = 'storage'

    def get_audit_scope_handler(self, audit_scope):
        return local_scope(storage_scope.StorageScope, audit_scope,
                           'storage', self.config)

    def _empty_model(self):
        return client_model.TachyonStorageModel()

    def get_latest_cluster_data_model(self):
        return client_model.TachyonStorageModel.load(self.client)


class TachyonBaremetalCollector(_TachyonCollector):
    """Watcher's baremetal model (BaremetalModelRoot), from tachyon-engine.

    As the storage model: a fresh snapshot for each caller, scoped by
    Watcher's own baremetal scope handler.
    """

    MODEL = 'baremetal'

    def get_audit_scope_handler(self, audit_scope):
        return local_scope(baremetal_scope.BaremetalScope, audit_scope,
                           'baremetal', self.config)

    def _empty_model(self):
        return model_root.BaremetalModelRoot()

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
