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

"""RPC 1.5 (forked sessions): the client's version checks, the schemas."""

from tachyon import exception
from tachyon.rpc import api
from tachyon.rpc import schema
from tests import base
from tests.fixtures import services

S1 = '11111111-1111-4111-8111-111111111111'


class TestForkCalls(base.TestCase):

    def setUp(self):
        super().setUp()
        self.transport = self.useFixture(
            services.FakeTransportFixture(self.conf)).transport

    def test_the_client_knows_1_5(self):
        self.assertGreaterEqual(
            tuple(int(p) for p in api.RPC_API_VERSION.split('.')), (1, 5))

    def sent(self):
        sent = []

        def send(target, ctxt, message, *args, **kwargs):
            sent.append(message)
            return {}
        self.transport._send = send
        return sent

    def test_capped_client_refuses_fork_calls_without_sending(self):
        client = api.EngineAPI(self.conf, transport=self.transport,
                               version_cap='1.4')
        sent = self.sent()
        for call in (client.fork_session, client.merge_session,
                     client.revert_session):
            exc = self.assertRaises(exception.InvalidState, call, S1)
            self.assertIn('needs RPC API 1.5', str(exc))
        self.assertEqual([], sent)

    def test_calls_are_sent_as_1_5(self):
        # Capped below 1.9 (which adds their request ids), as they were.
        client = api.EngineAPI(self.conf, transport=self.transport,
                               version_cap='1.8')
        sent = self.sent()
        client.fork_session(S1, ttl=30)
        client.merge_session(S1)
        client.revert_session(S1)
        self.assertEqual([
            ('fork_session', '1.5', {'session_id': S1, 'ttl': 30}),
            ('merge_session', '1.5', {'session_id': S1}),
            ('revert_session', '1.5', {'session_id': S1})],
            [(m['method'], m['version'], m['args']) for m in sent])

    def test_schemas_check_the_arguments(self):
        self.assertEqual({'session_id': S1, 'ttl': 30}, schema.check_call(
            'fork_session', (), {'session_id': S1, 'ttl': 30}, self.conf))
        for kwargs, field in (({'session_id': 'x'}, 'session_id'),
                              ({'session_id': S1, 'ttl': -1}, 'ttl'),
                              ({}, 'session_id')):
            exc = self.assertRaises(exception.InvalidParameter,
                                    schema.check_call, 'fork_session', (),
                                    kwargs, self.conf)
            self.assertEqual(field, exc.kwargs['field'])
        for method in ('merge_session', 'revert_session'):
            # 1.9: checked by the call, under the session's lock.
            self.assertEqual(schema.SESSION_TO_END,
                             schema.SCHEMAS[method]['session_id'].kind)
            self.assertRaises(exception.InvalidParameter, schema.check_call,
                              method, (), {'session_id': S1, 'ttl': 3},
                              self.conf)
