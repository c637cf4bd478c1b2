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

"""The causal client's bookkeeping (the wire is tested functionally)."""

from unittest import mock

import oslo_messaging as messaging

from tachyon.client import causal
from tachyon import exception
from tachyon.rpc import api
from tachyon.rpc import manager
from tachyon.rpc import schema
from tests import base
from tests.fixtures import services


class TestCausalClient(base.TestCase):

    def setUp(self):
        super().setUp()
        self.transport = self.useFixture(
            services.FakeTransportFixture(self.conf)).transport
        self.sent = []
        self.answers = []

        def call(client, method, version='1.0', timeout=None, **kwargs):
            self.sent.append((method, version, kwargs))
            return self.answers.pop(0)
        patcher = mock.patch.object(api.EngineAPI, '_call', call)
        patcher.start()
        self.addCleanup(patcher.stop)

    def test_answers_bookmarks_go_out_with_the_next_call(self):
        client = causal.CausalEngineAPI(self.conf, transport=self.transport)
        self.answers = [{'result': 7, 'bookmarks': ['b1']},
                        {'result': {'id': 's'}, 'bookmarks': ['b2']}]
        self.assertEqual(7, client.get_generation())
        self.assertEqual({'id': 's'}, client.get_session('s'))
        self.assertEqual([('get_generation', '1.4', {'bookmarks': []}),
                          ('get_session', '1.4',
                           {'bookmarks': ['b1'], 'session_id': 's'})],
                         self.sent)
        # b2 follows b1 (it was made from it): b1 is dropped.
        self.assertEqual(['b2'], client.bookmarks)

    def test_a_call_in_flight_keeps_its_own_bookmarks(self):
        client = causal.CausalEngineAPI(self.conf, transport=self.transport)
        client._bookmarks = frozenset(['b1'])
        self.answers = [{'result': None, 'bookmarks': ['b3']}]
        # Another call answered meanwhile with b2 (sent from b1).
        real = self.answers

        def answer_and_interleave(*a, **kw):
            client._bookmarks = frozenset(['b2'])
            return real.pop(0)
        with mock.patch.object(api.EngineAPI, '_call',
                               lambda *a, **kw: answer_and_interleave()):
            client.ping()
        self.assertEqual(['b2', 'b3'], client.bookmarks)

    def test_capped_below_1_4_sends_no_bookmarks(self):
        client = causal.CausalEngineAPI(self.conf, transport=self.transport,
                                        version_cap='1.3')
        self.answers = [5]
        self.assertEqual(5, client.get_generation())
        self.assertEqual([('get_generation', '1.0', {})], self.sent)
        self.assertEqual([], client.bookmarks)

    def test_newer_version_of_a_call_is_kept(self):
        self.assertEqual('1.4', causal._newer('1.3', '1.4'))
        self.assertEqual('1.10', causal._newer('1.10', '1.4'))


class FakeGraph(object):

    def read_one(self, work, *args, **kwargs):
        return work(None, *args, **kwargs)


class TestBookmarksOption(base.TestCase):

    def test_checked(self):
        self.assertIsNone(schema.pop_bookmarks({'x': 1}))
        kwargs = {'bookmarks': ('a', 'b'), 'x': 1}
        self.assertEqual(['a', 'b'], schema.pop_bookmarks(kwargs))
        self.assertEqual({'x': 1}, kwargs)
        for bad, field in (('FB:x', 'bookmarks'), ([1], 'bookmarks[0]'),
                           ([''], 'bookmarks[0]'),
                           (['a', 'x' * 2000], 'bookmarks[1]'),
                           (['a'] * 100, 'bookmarks')):
            exc = self.assertRaises(exception.InvalidParameter,
                                    schema.pop_bookmarks,
                                    {'bookmarks': bad})
            self.assertIn(field, str(exc))

    def test_the_answer_is_wrapped_only_for_callers_that_send_them(self):
        endpoint = manager.EngineManager(self.conf, FakeGraph(), host='h')
        self.assertEqual({'payload': 1, 'host': 'h'},
                         endpoint.ping({}, payload=1))
        # No transaction ran: the caller's bookmarks come back as sent.
        self.assertEqual({'result': {'payload': 1, 'host': 'h'},
                          'bookmarks': ['FB:a']},
                         endpoint.ping({}, payload=1, bookmarks=['FB:a']))
        self.assertRaises(messaging.ExpectedException, endpoint.ping, {},
                          bookmarks='FB:a')
