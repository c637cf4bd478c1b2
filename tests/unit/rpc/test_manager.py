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

"""The endpoint hands calls naming a session to the session service.

The service checks that the session exists and is active.
"""

import time
from unittest import mock

import oslo_messaging as messaging

from tachyon import exception
from tachyon.graph import compute
from tachyon.graph import sessions
from tachyon.model import records
from tachyon.rpc import manager
from tests import base


class FakeGraph(object):
    """Runs units of work with no transaction: the reads here are mocked."""

    def read(self, work, *args, **kwargs):
        return work(None, *args, **kwargs)

    read_one = read


def _session(status='active', ttl=60):
    return {'id': 's1', 'status': status, 'expires_at': time.time() + ttl}


class TestListComputeNodes(base.TestCase):

    def setUp(self):
        super().setUp()
        self.endpoint = manager.EngineManager(self.conf, FakeGraph(),
                                              host='h')
        nodes = {u: records.ComputeNode(uuid=u, hostname='h-' + u)
                 for u in ('n2', 'n1')}
        self.patch(compute, 'get_all_compute_nodes', return_value=nodes)
        self.load = self.patch(sessions, 'load_session')

    def patch(self, target, name, **kwargs):
        patcher = mock.patch.object(target, name, **kwargs)
        self.addCleanup(patcher.stop)
        return patcher.start()

    def uuids(self, session_id=None):
        try:
            nodes = self.endpoint.list_compute_nodes({},
                                                     session_id=session_id)
        except messaging.ExpectedException as exc:
            # What oslo.messaging sends back to the caller.
            raise exc.exc_info[1]
        return [n['uuid'] for n in nodes]

    def test_without_a_session(self):
        self.assertEqual(['n1', 'n2'], self.uuids())
        self.load.assert_not_called()

    def test_an_active_session_sees_the_same_nodes(self):
        self.load.return_value = _session()
        self.assertEqual(['n1', 'n2'], self.uuids('s1'))
        self.load.assert_called_once_with(None, 's1')

    def test_the_session_must_exist_and_be_active(self):
        self.load.side_effect = exception.NotFound(
            kind='simulation session', ident='s9')
        self.assertRaises(exception.NotFound, self.uuids, 's9')
        self.load.side_effect = None
        self.load.return_value = _session(status='committed')
        self.assertRaises(exception.InvalidState, self.uuids, 's1')
        self.load.return_value = _session(ttl=-1)
        self.assertRaises(exception.SessionExpired, self.uuids, 's1')
        exc = self.assertRaises(exception.InvalidParameter, self.uuids, '')
        self.assertEqual('session_id', exc.kwargs['field'])
