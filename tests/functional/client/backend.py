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

import os

import fixtures
import oslo_messaging as messaging
from oslo_utils import uuidutils
from watcher.decision_engine.model import model_root

from tachyon.client import model as client_model
from tachyon import conf as tachyon_conf
from tachyon.model import watcher_xml
from tachyon import rpc
from tachyon.rpc import api
from tachyon.rpc import manager
from tests.fixtures import services


class TachyonBackend(fixtures.Fixture):

    def _setUp(self):
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
            transport, messaging.Target(topic=topic, server='test'),
            [self.endpoint], executor='threading')
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
    """Stands for Watcher's compute_model PropertyMock in its tests.

    Whatever ModelRoot a test gives the strategy is replaced by its
    Tachyon-backed twin; everything else goes to the real mock.
    """

    def __init__(self, mock, convert, kind=model_root.ModelRoot,
                 twin=client_model.TachyonClusterModel):
        object.__setattr__(self, '_mock', mock)
        object.__setattr__(self, '_convert', convert)
        object.__setattr__(self, '_kind', kind)
        object.__setattr__(self, '_twin', twin)

    def __setattr__(self, name, value):
        if (name == 'return_value' and isinstance(value, self._kind)
                and not isinstance(value, self._twin)):
            value = self._convert(value)
        setattr(self._mock, name, value)

    def __getattr__(self, name):
        return getattr(self._mock, name)


class OnTachyon(object):
    """Mix into one of Watcher's strategy test classes."""

    def setUp(self):
        super().setUp()
        self.tachyon = self.useFixture(TachyonBackend())
        real = self.m_c_model
        self.m_c_model = _Converting(real, self.tachyon.tachyon_model)
        # The model Watcher's setUp installed before any test runs.
        self.m_c_model.return_value = real.return_value
        if hasattr(self, 'm_s_model'):
            real = self.m_s_model
            self.m_s_model = _Converting(
                real, self.tachyon.tachyon_storage_model,
                model_root.StorageModelRoot,
                client_model.TachyonStorageModel)
            self.m_s_model.return_value = real.return_value
        self.addCleanup(self._strategy_saw_tachyon)

    def _strategy_saw_tachyon(self):
        # Whatever the test did, the model behind the strategy was the
        # Tachyon-backed one.
        self.assertIsInstance(self.m_c_model._mock.return_value,
                              client_model.TachyonClusterModel)
