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

"""Request ids across the RPC: what the client sends, what the engine keeps."""

import threading

from oslo_context import context as oslo_context

from tachyon.common import context
from tests import base


def in_new_thread(func):
    """func() in a thread of its own: one without a current context."""
    result = []
    thread = threading.Thread(target=lambda: result.append(func()))
    thread.start()
    thread.join()
    return result[0]


class TestContext(base.TestCase):

    def test_the_current_context_goes_without_credentials(self):
        # As Watcher's own RequestContext (a subclass) makes one current.
        ctxt = oslo_context.RequestContext(
            user_id='u1', project_id='p1', auth_token='secret-token',
            roles=['admin'], global_request_id='req-global')
        wire = context.to_wire()
        self.assertEqual({'request_id': ctxt.request_id,
                          'global_request_id': 'req-global',
                          'user_id': 'u1', 'project_id': 'p1'}, wire)
        self.assertNotIn('secret-token', repr(wire))

    def test_an_explicit_context_or_dict(self):
        ctxt = oslo_context.RequestContext(request_id='req-1',
                                           overwrite=False)
        self.assertEqual({'request_id': 'req-1'}, context.to_wire(ctxt))
        self.assertEqual({'request_id': 'req-2'},
                         context.to_wire({'request_id': 'req-2',
                                          'auth_token': 'x'}))

    def test_no_context(self):
        self.assertEqual({}, in_new_thread(context.to_wire))

    def test_the_engine_serves_a_call_under_the_callers_ids(self):
        ctxt = context.from_wire({'request_id': 'req-a',
                                  'global_request_id': 'req-g',
                                  'auth_token': 'x', 'roles': ['admin']})
        self.assertIs(ctxt, oslo_context.get_current())
        self.assertEqual(('req-a', 'req-g', None, []),
                         (ctxt.request_id, ctxt.global_request_id,
                          ctxt.auth_token, ctxt.roles))

    def test_garbage_is_left_out(self):
        for values in (None, [], 'req-x', {'request_id': 7},
                       {'request_id': ''}, {'request_id': 'r' * 300}):
            ctxt = context.from_wire(values)
            self.assertTrue(ctxt.request_id.startswith('req-'), values)
            self.assertLess(len(ctxt.request_id), 60)

    def test_serializer(self):
        serializer = context.ContextSerializer()
        ctxt = serializer.deserialize_context(
            serializer.serialize_context({'request_id': 'req-s'}))
        self.assertEqual('req-s', ctxt.request_id)
        self.assertEqual({'x': 1}, serializer.serialize_entity(None,
                                                               {'x': 1}))
