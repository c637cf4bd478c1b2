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

"""An engine's own fault reaches the caller as InternalError, for real.

The real engine process on the real RabbitMQ and Neo4j, with one fault
put in its code before it starts (a graph function that raises
KeyError, as a bug would): the caller gets the typed InternalError over
the wire, not the KeyError, nor a timeout; the engine logs the traceback
and goes on serving.
"""

from oslo_utils import uuidutils

from tachyon import exception
from tachyon.rpc import api
from tests.fixtures import services
from tests.functional import base
from tests.functional import engine_process

#: The engine, with compute.find_nodes_with_capacity broken.
FAULTY_ENGINE = '''
import sys
from tachyon.graph import compute

def find_nodes_with_capacity(graph, resource_class, amount):
    return {}['secret-detail-of-the-fault']

compute.find_nodes_with_capacity = find_nodes_with_capacity
from tachyon.cmd import engine
sys.exit(engine.main(sys.argv))
'''


class TestInternalErrorOverTheWire(base.FunctionalTestCase):

    def setUp(self):
        super().setUp()
        transport = self.useFixture(services.RealTransportFixture(self.conf))
        self.topic = 'tachyon-ie-' + uuidutils.generate_uuid()[:8]
        self.engine = self.useFixture(engine_process.Engine(
            self.neo4j, transport.url, code=FAULTY_ENGINE,
            env={'OS_DEFAULT__HOST': 'ie-engine',
                 'OS_ENGINE__TOPIC': self.topic,
                 'OS_ENGINE__WORKERS': '1',
                 'OS_NOTIFICATIONS__ENABLE_LISTENER': 'false'}))
        self.engine.wait_output('serving topic', timeout=90)
        self.client = api.EngineAPI(self.conf, topic=self.topic, timeout=30)
        self.addCleanup(self.client.transport.cleanup)

    def test_a_fault_becomes_internal_error_and_the_engine_serves_on(self):
        exc = self.assertRaises(exception.InternalError,
                                self.client.find_nodes_with_capacity,
                                'VCPU', 1)
        self.assertEqual({'method': 'find_nodes_with_capacity',
                          'error': 'KeyError'},
                         {k: exc.kwargs[k] for k in ('method', 'error')})
        self.assertIn('Internal error in find_nodes_with_capacity '
                      '(KeyError)', str(exc))
        # The fault's own text stays in the engine's log.
        self.assertNotIn('secret-detail-of-the-fault', str(exc))
        log = self.engine.output()
        self.assertIn('RPC call find_nodes_with_capacity failed on an '
                      'unexpected error', log)
        self.assertIn("KeyError: 'secret-detail-of-the-fault'", log)
        # The same worker answers the next calls, the faulty one included.
        self.assertEqual('ie-engine', self.client.ping()['host'])
        self.assertIsInstance(self.client.get_generation(), int)
        self.assertRaises(exception.InternalError,
                          self.client.find_nodes_with_capacity, 'VCPU', 1)
        # A caller's error is still the caller's, not an internal one.
        self.assertRaises(exception.InvalidParameter,
                          self.client.find_nodes_with_capacity, 'VCPU', -1)
