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

"""A real Tachyon back end for Watcher's own strategy tests.

The engine's endpoint is served on the real RabbitMQ (an oslo.messaging
RPC server in this process), backed by the real Neo4j; the client talks to
it through ``rpcapi`` exactly as a decision engine would.
"""

import logging
import os

import fixtures
import oslo_messaging as messaging
from oslo_utils import uuidutils
from watcher.decision_engine.model import model_root

from tachyon.client import model as client_model
from tachyon import conf as tachyon_conf
from tachyon import watcher_xml
from tachyon import rpc
from tachyon.rpc import api
from tachyon.rpc import manager
from tests.fixtures import services


class TachyonBackend(fixtures.Fixture):

    def _setUp(self):
        # Watcher's test base logs everything at DEBUG; the Neo4j driver's
        # wire trace is not worth it.
        neo4j_log = logging.getLogger('neo4j')
        self.addCleanup(neo4j_log.setLevel, neo4j_log.level)
        neo4j_log.setLevel(logging.WARNING)
        url = os.environ.get('TACHYON_TRANSPORT_URL')
        if not url:
            raise RuntimeError('These tests need RabbitMQ: run them through '
                               'tools/run-tests.sh or export '
                               'TACHYON_TRANSPORT_URL.')
        # Watcher's test base points the global transport at fake:/ ; the
        # engine and its client get the real broker's URL explicitly.
        self.conf = tachyon_conf.CONF
        self.neo4j = self.useFixture(services.Neo4jFixture(conf=self.conf))
        self.graph = self.neo4j.graph
        transport = messaging.get_rpc_transport(
            self.conf, url=url, allowed_remote_exmods=rpc.ALLOWED_EXMODS)
        self.addCleanup(transport.cleanup)
        topic = 'tachyon-strategies-' + uuidutils.generate_uuid()[:8]
        self.endpoint = manager.EngineManager(self.conf, self.graph,
                                              host='test')
        server = messaging.get_rpc_server(
            transport, messaging.Target(exchange=self.conf.engine.exchange,
                                        topic=topic, server='test'),
            [self.endpoint])
        server.start()
        self.addCleanup(server.wait)
        self.addCleanup(server.stop)
        self.client = api.EngineAPI(self.conf, transport=transport,
                                    topic=topic, timeout=60)
        self.models = []

    def tachyon_model(self, watcher_model, scope=None):
        """The Tachyon-backed twin of a Watcher ModelRoot, in a session."""
        watcher_xml.import_model(self.graph, watcher_model.to_xml(),
                                 kind='compute', replace=True)
        session = self.client.create_session(ttl=600)
        model = client_model.TachyonClusterModel.load(
            self.client, scope=scope, session_id=session['id'])
        self.models.append(model)
        return model

    def tachyon_storage_model(self, watcher_model):
        """The Tachyon-backed twin of a Watcher StorageModelRoot."""
        watcher_xml.import_model(self.graph, watcher_model.to_xml(),
                                 kind='storage', replace=True)
        model = client_model.TachyonStorageModel.load(self.client)
        self.models.append(model)
        return model


class _Converting(object):
    """Stands for one of Watcher's model PropertyMocks in its tests.

    Whatever Watcher model a test hands to the strategy (compute or
    storage) is replaced by its Tachyon-backed twin; everything else goes
    to the real mock.
    """

    def __init__(self, mock, backend):
        object.__setattr__(self, '_mock', mock)
        object.__setattr__(self, '_backend', backend)

    def __setattr__(self, name, value):
        if name == 'return_value' and not isinstance(value, TWINS):
            if isinstance(value, model_root.StorageModelRoot):
                value = self._backend.tachyon_storage_model(value)
            elif isinstance(value, model_root.ModelRoot):
                value = self._backend.tachyon_model(value)
        setattr(self._mock, name, value)

    def __getattr__(self, name):
        return getattr(self._mock, name)


TWINS = (client_model.TachyonClusterModel, client_model.TachyonStorageModel)


class OnTachyon(object):
    """Mix into one of Watcher's strategy test classes."""

    def setUp(self):
        super().setUp()
        self.tachyon = self.useFixture(TachyonBackend())
        for attr in ('m_c_model', 'm_s_model'):
            if hasattr(self, attr):
                real = getattr(self, attr)
                setattr(self, attr, _Converting(real, self.tachyon))
                # The model Watcher's setUp installed before any test.
                getattr(self, attr).return_value = real.return_value
        self.addCleanup(self._strategy_saw_tachyon)

    def _strategy_saw_tachyon(self):
        # Whatever the test did, the model behind the strategy was the
        # Tachyon-backed one.
        self.assertIsInstance(self.m_c_model._mock.return_value, TWINS)
