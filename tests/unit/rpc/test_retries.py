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

"""Which calls the rpcapi client sends again when no answer comes.

The transport is oslo.messaging's fake one (its send replaced): what is
asserted is what the client sends; tests/functional/scale/test_retry.py
does the same against real engines.
"""

import fixtures
import oslo_messaging as messaging

from tachyon.client import causal
from tachyon.rpc import api
from tests import base
from tests.fixtures import services


class RetriesTestCase(base.TestCase):

    def setUp(self):
        super().setUp()
        self.transport = self.useFixture(
            services.FakeTransportFixture(self.conf)).transport
        self.log = self.useFixture(fixtures.FakeLogger(
            name='tachyon.rpc.api', level='WARNING'))
        self.sent = []

    def answering(self, lost, answer):
        """The transport loses the first ``lost`` calls, then answers."""
        def send(target, ctxt, message, *args, **kwargs):
            self.sent.append(message)
            if len(self.sent) <= lost:
                raise messaging.MessagingTimeout('no reply')
            return answer
        self.transport._send = send

    def client(self, **kwargs):
        return api.EngineAPI(self.conf, transport=self.transport, **kwargs)


class TestRetries(RetriesTestCase):

    def test_a_read_is_sent_again(self):
        self.answering(2, {'host': 'engine-b'})
        self.assertEqual({'host': 'engine-b'}, self.client().ping())
        self.assertEqual(3, len(self.sent))
        self.assertEqual(2, self.log.output.count('sending it again'))
        self.assertIn('RPC call ping', self.log.output)

    def test_retries_are_bounded(self):
        self.answering(100, None)
        self.assertRaises(messaging.MessagingTimeout,
                          self.client(retries=3).get_generation)
        self.assertEqual(4, len(self.sent))

    def test_the_default_is_the_option(self):
        self.conf.set_override('rpc_retries', 1, group='engine')
        self.answering(100, None)
        self.assertRaises(messaging.MessagingTimeout,
                          self.client().get_generation)
        self.assertEqual(2, len(self.sent))

    def test_zero_never_retries(self):
        self.answering(100, None)
        self.assertRaises(messaging.MessagingTimeout,
                          self.client(retries=0).ping)
        self.assertEqual(1, len(self.sent))

    def test_writes_without_an_id_are_sent_once(self):
        # Capped at 1.9, an expiry and a global move carry no request id.
        client = self.client(retries=5, version_cap='1.9')
        for call in (lambda: client.expire_session('s'),
                     lambda: client.migrate_instance('i', 'a', 'b')):
            self.sent[:] = []
            self.answering(100, None)
            self.assertRaises(messaging.MessagingTimeout, call)
            self.assertEqual(1, len(self.sent))
            self.assertNotIn('request_id', self.sent[0]['args'])
        self.assertNotIn('sending it again', self.log.output)

    def test_a_batch_is_sent_again_under_one_request_id(self):
        self.answering(2, [0, 1])
        deltas = [{'type': 'MOVE', 'consumer_uuid': 'i'}]
        self.assertEqual([0, 1], self.client().record_deltas('s', deltas))
        self.assertEqual(3, len(self.sent))
        ids = {m['args']['request_id'] for m in self.sent}
        self.assertEqual(1, len(ids))
        self.assertEqual({'1.5'}, {m['version'] for m in self.sent})
        # The next batch has an id of its own.
        self.answering(0, [2])
        self.client().record_deltas('s', deltas)
        self.assertNotIn(self.sent[-1]['args']['request_id'], ids)

    def test_a_client_capped_below_1_5_sends_no_id_and_no_retry(self):
        self.answering(100, None)
        self.assertRaises(messaging.MessagingTimeout,
                          self.client(version_cap='1.4').record_deltas,
                          's', [])
        self.assertEqual(1, len(self.sent))
        self.assertNotIn('request_id', self.sent[0]['args'])

    def assertOneRequestId(self, version='1.7'):
        ids = {m['args']['request_id'] for m in self.sent}
        self.assertEqual(1, len(ids))
        self.assertTrue(all(ids))
        self.assertEqual({version}, {m['version'] for m in self.sent})
        return ids.pop()

    def test_a_commit_is_sent_again_under_one_request_id(self):
        answer = {'generation': 8, 'applied': 2, 'consumers': 1}
        self.answering(2, answer)
        self.assertEqual(answer, self.client().commit_session('s'))
        self.assertEqual(3, len(self.sent))
        first = self.assertOneRequestId()
        self.assertEqual({'session_id': 's', 'request_id': first},
                         self.sent[0]['args'])
        self.assertIn('RPC call commit_session', self.log.output)
        # Another commit is another request.
        self.sent[:] = []
        self.answering(0, answer)
        self.client().commit_session('s')
        self.assertNotEqual(first, self.sent[0]['args']['request_id'])

    def test_a_commit_retried_is_bounded_too(self):
        self.answering(100, None)
        self.assertRaises(messaging.MessagingTimeout,
                          self.client(retries=2).commit_session, 's')
        self.assertEqual(3, len(self.sent))
        self.assertOneRequestId()

    def test_a_move_in_a_session_is_sent_again_under_one_request_id(self):
        self.answering(1, {'sequence': 4})
        self.assertEqual({'sequence': 4}, self.client().migrate_instance(
            'i', 'a', 'b', session_id='s', check_capacity=False))
        self.assertEqual(2, len(self.sent))
        request_id = self.assertOneRequestId()
        self.assertEqual({'instance_uuid': 'i', 'source_node_uuid': 'a',
                          'destination_node_uuid': 'b', 'session_id': 's',
                          'expected_generation': None,
                          'check_capacity': False,
                          'request_id': request_id}, self.sent[0]['args'])

    def test_a_move_in_the_global_graph_capped_at_1_9_carries_no_id(self):
        self.answering(0, {'generation': 3})
        self.client(version_cap='1.9').migrate_instance(
            'i', 'a', 'b', expected_generation=2)
        self.assertNotIn('request_id', self.sent[0]['args'])
        self.assertEqual('1.0', self.sent[0]['version'])

    def test_a_client_capped_below_1_7_sends_moves_and_commits_once(self):
        # An engine of 1.6 would refuse request_id: none is sent, and the
        # call is not retried (its lost answer surfaces, as before).
        client = self.client(version_cap='1.6', retries=5)
        for call in (lambda: client.commit_session('s'),
                     lambda: client.migrate_instance('i', 'a', 'b',
                                                     session_id='s')):
            self.sent[:] = []
            self.answering(100, None)
            self.assertRaises(messaging.MessagingTimeout, call)
            self.assertEqual(1, len(self.sent))
            self.assertNotIn('request_id', self.sent[0]['args'])
            self.assertEqual('1.0', self.sent[0]['version'])
        self.assertNotIn('sending it again', self.log.output)

    def test_the_causal_client_retries_a_commit_as_it_is(self):
        self.answering(1, {'result': {'generation': 8}, 'bookmarks': ['b2']})
        client = causal.CausalEngineAPI(self.conf, transport=self.transport)
        self.assertEqual({'generation': 8}, client.commit_session('s'))
        self.assertEqual(2, len(self.sent))
        self.assertOneRequestId()
        self.assertEqual([[], []],
                         [m['args']['bookmarks'] for m in self.sent])

    def test_the_causal_client_retries_with_the_same_bookmarks(self):
        self.answering(1, {'result': 'pong', 'bookmarks': ['b2']})
        client = causal.CausalEngineAPI(self.conf, transport=self.transport)
        self.assertEqual('pong', client.ping())
        self.assertEqual(2, len(self.sent))
        self.assertEqual([[], []],
                         [m['args']['bookmarks'] for m in self.sent])
        self.assertEqual(['b2'], client.bookmarks)


#: The session's life calls that take a request id from 1.9: (method,
#: the client's call, the arguments sent besides request_id, the version
#: sent to an engine older than 1.9).
SESSION_CALLS = [
    ('create_session', lambda c: c.create_session(ttl=30, audit_uuid='a'),
     {'ttl': 30, 'audit_uuid': 'a'}, '1.0'),
    ('fork_session', lambda c: c.fork_session('s', ttl=20),
     {'session_id': 's', 'ttl': 20}, '1.5'),
    ('close_session', lambda c: c.close_session('s'),
     {'session_id': 's'}, '1.3'),
    ('rollback_session', lambda c: c.rollback_session('s'),
     {'session_id': 's'}, '1.0'),
    ('revert_session', lambda c: c.revert_session('s'),
     {'session_id': 's'}, '1.5'),
    ('merge_session', lambda c: c.merge_session('s'),
     {'session_id': 's'}, '1.5'),
]


class TestSessionCallsRetried(RetriesTestCase):
    """RPC 1.9: a session's creation, fork, end and merge are retried."""

    def assertOneRequestId(self, version=api.IDEMPOTENT_SESSIONS_VERSION):
        ids = {m['args']['request_id'] for m in self.sent}
        self.assertEqual(1, len(ids))
        self.assertTrue(all(ids))
        self.assertEqual({version}, {m['version'] for m in self.sent})
        return ids.pop()

    def test_the_client_knows_1_9(self):
        self.assertEqual('1.9', api.IDEMPOTENT_SESSIONS_VERSION)

    def test_each_is_sent_again_under_one_request_id(self):
        for method, call, args, _old in SESSION_CALLS:
            self.sent[:] = []
            self.answering(2, {'id': 'answer'})
            self.assertEqual({'id': 'answer'}, call(self.client(retries=2)))
            self.assertEqual(3, len(self.sent), method)
            request_id = self.assertOneRequestId()
            self.assertEqual(dict(args, request_id=request_id),
                             self.sent[0]['args'])
            self.assertEqual({method}, {m['method'] for m in self.sent})
            self.assertIn('RPC call %s on topic' % method, self.log.output)

    def test_the_retries_are_the_option(self):
        self.conf.set_override('rpc_retries', 3, group='engine')
        for method, call, _args, _old in SESSION_CALLS:
            self.sent[:] = []
            self.answering(100, None)
            self.assertRaises(messaging.MessagingTimeout, call,
                              self.client())
            self.assertEqual(4, len(self.sent), method)
            self.assertOneRequestId()

    def test_each_call_is_a_request_of_its_own(self):
        ids = set()
        for _method, call, _args, _old in SESSION_CALLS * 2:
            self.sent[:] = []
            self.answering(0, {})
            call(self.client())
            ids.add(self.assertOneRequestId())
        self.assertEqual(2 * len(SESSION_CALLS), len(ids))

    def test_a_client_capped_at_1_8_sends_them_once_as_before(self):
        # An engine of 1.8 would refuse request_id: none is sent, each
        # goes at the version it had, and is not retried.
        client = self.client(version_cap='1.8', retries=5)
        for method, call, args, old in SESSION_CALLS:
            self.sent[:] = []
            self.answering(100, None)
            self.assertRaises(messaging.MessagingTimeout, call, client)
            self.assertEqual(1, len(self.sent), method)
            self.assertEqual(args, self.sent[0]['args'])
            self.assertEqual(old, self.sent[0]['version'])
        self.assertNotIn('sending it again', self.log.output)

    def test_a_client_capped_at_1_8_gets_its_answer(self):
        client = self.client(version_cap='1.8')
        self.answering(0, {'id': 'sid'})
        self.assertEqual({'id': 'sid'}, client.create_session())
        self.assertNotIn('request_id', self.sent[0]['args'])

    def test_the_causal_client_retries_them_with_its_bookmarks(self):
        for method, call, args, _old in SESSION_CALLS:
            self.sent[:] = []
            self.answering(1, {'result': {'id': 'x'}, 'bookmarks': ['b2']})
            client = causal.CausalEngineAPI(self.conf,
                                            transport=self.transport)
            self.assertEqual({'id': 'x'}, call(client))
            self.assertEqual(2, len(self.sent), method)
            self.assertOneRequestId()
            self.assertEqual([[], []],
                             [m['args']['bookmarks'] for m in self.sent])

    def test_the_causal_client_capped_at_1_8_sends_once(self):
        client = causal.CausalEngineAPI(self.conf, transport=self.transport,
                                        version_cap='1.8', retries=4)
        self.answering(100, None)
        self.assertRaises(messaging.MessagingTimeout, client.fork_session,
                          's')
        self.assertEqual(1, len(self.sent))
        self.assertNotIn('request_id', self.sent[0]['args'])
        self.assertEqual('1.5', self.sent[0]['version'])


#: The writes that take a request id from 1.10: (method, the client's
#: call, the arguments sent besides request_id).
GLOBAL_CALLS = [
    ('expire_session', lambda c: c.expire_session('s'),
     {'session_id': 's'}),
    ('migrate_instance',
     lambda c: c.migrate_instance('i', 'a', 'b', expected_generation=4),
     {'instance_uuid': 'i', 'source_node_uuid': 'a',
      'destination_node_uuid': 'b', 'session_id': None,
      'expected_generation': 4, 'check_capacity': True}),
]


class TestExpiryAndGlobalMovesRetried(RetriesTestCase):
    """RPC 1.10: an expiry and a move in the global graph are retried."""

    def assertOneRequestId(
            self, version=api.IDEMPOTENT_EXPIRY_AND_MOVES_VERSION):
        ids = {m['args'].get('request_id') for m in self.sent}
        self.assertEqual(1, len(ids))
        self.assertTrue(all(ids))
        self.assertEqual({version}, {m['version'] for m in self.sent})
        return ids.pop()

    def test_the_client_knows_1_10(self):
        self.assertEqual('1.10', api.RPC_API_VERSION)
        self.assertEqual('1.10', api.IDEMPOTENT_EXPIRY_AND_MOVES_VERSION)
        # 1.10 is newer than 1.9 (not compared as text).
        self.assertTrue(self.client().can_send_version('1.10'))
        self.assertFalse(self.client(version_cap='1.9').can_send_version(
            '1.10'))

    def test_each_is_sent_again_under_one_request_id(self):
        for method, call, args in GLOBAL_CALLS:
            self.sent[:] = []
            self.answering(2, {'generation': 9})
            self.assertEqual({'generation': 9}, call(self.client(retries=2)))
            self.assertEqual(3, len(self.sent), method)
            request_id = self.assertOneRequestId()
            self.assertEqual(dict(args, request_id=request_id),
                             self.sent[0]['args'])
            self.assertEqual({method}, {m['method'] for m in self.sent})
            self.assertIn('RPC call %s on topic' % method, self.log.output)
            self.assertIn('attempt 3 of 3', self.log.output)

    def test_the_retries_are_the_option(self):
        self.conf.set_override('rpc_retries', 4, group='engine')
        for method, call, _args in GLOBAL_CALLS:
            self.sent[:] = []
            self.answering(100, None)
            self.assertRaises(messaging.MessagingTimeout, call,
                              self.client())
            self.assertEqual(5, len(self.sent), method)
            self.assertOneRequestId()

    def test_no_retries_sends_once_with_an_id(self):
        for method, call, _args in GLOBAL_CALLS:
            self.sent[:] = []
            self.answering(100, None)
            self.assertRaises(messaging.MessagingTimeout, call,
                              self.client(retries=0))
            self.assertEqual(1, len(self.sent), method)
            self.assertOneRequestId()

    def test_each_call_is_a_request_of_its_own(self):
        ids = set()
        client = self.client()
        for _method, call, _args in GLOBAL_CALLS * 3:
            self.sent[:] = []
            self.answering(0, {})
            call(client)
            ids.add(self.assertOneRequestId())
        self.assertEqual(3 * len(GLOBAL_CALLS), len(ids))

    def test_a_move_in_a_session_stays_at_1_7(self):
        self.answering(1, {'sequence': 0})
        self.client().migrate_instance('i', 'a', 'b', session_id='s')
        self.assertEqual(2, len(self.sent))
        self.assertOneRequestId(api.IDEMPOTENT_WRITES_VERSION)

    def test_a_client_capped_at_1_9_sends_them_once_as_before(self):
        # An engine of 1.9 would refuse request_id of an expiry (and a
        # global move's): none is sent, each goes at 1.0, once.
        client = self.client(version_cap='1.9', retries=5)
        for method, call, args in GLOBAL_CALLS:
            self.sent[:] = []
            self.answering(100, None)
            self.assertRaises(messaging.MessagingTimeout, call, client)
            self.assertEqual(1, len(self.sent), method)
            self.assertEqual(args, self.sent[0]['args'])
            self.assertEqual('1.0', self.sent[0]['version'])
        self.assertNotIn('sending it again', self.log.output)

    def test_a_client_capped_at_1_9_gets_its_answer(self):
        client = self.client(version_cap='1.9')
        for _method, call, _args in GLOBAL_CALLS:
            self.sent[:] = []
            self.answering(0, {'generation': 2})
            self.assertEqual({'generation': 2}, call(client))
            self.assertNotIn('request_id', self.sent[0]['args'])

    def test_a_client_capped_at_1_9_still_retries_the_1_9_calls(self):
        self.answering(1, {'id': 's'})
        self.client(version_cap='1.9').rollback_session('s')
        self.assertEqual(2, len(self.sent))
        self.assertOneRequestId(api.IDEMPOTENT_SESSIONS_VERSION)

    def test_the_causal_client_retries_them_with_its_bookmarks(self):
        for method, call, _args in GLOBAL_CALLS:
            self.sent[:] = []
            self.answering(1, {'result': {'generation': 3},
                               'bookmarks': ['b2']})
            client = causal.CausalEngineAPI(self.conf,
                                            transport=self.transport)
            self.assertEqual({'generation': 3}, call(client))
            self.assertEqual(2, len(self.sent), method)
            self.assertOneRequestId()
            self.assertEqual([[], []],
                             [m['args']['bookmarks'] for m in self.sent])
            self.assertEqual(['b2'], client.bookmarks)

    def test_the_causal_client_capped_at_1_9_sends_once(self):
        client = causal.CausalEngineAPI(self.conf, transport=self.transport,
                                        version_cap='1.9', retries=4)
        for method, call, _args in GLOBAL_CALLS:
            self.sent[:] = []
            self.answering(100, None)
            self.assertRaises(messaging.MessagingTimeout, call, client)
            self.assertEqual(1, len(self.sent), method)
            self.assertNotIn('request_id', self.sent[0]['args'])
            # At 1.4, the version that carries bookmarks.
            self.assertEqual('1.4', self.sent[0]['version'])
