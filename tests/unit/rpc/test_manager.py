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

import inspect
import time
from unittest import mock

import oslo_messaging as messaging

from tachyon import exception
from tachyon.graph import compute
from tachyon.graph import sessions
from tachyon.model import records
from tachyon.rpc import manager
from tachyon.rpc import schema
from tests import base

S1 = '6c1b7d2e-0000-4000-8000-000000000001'
S9 = '6c1b7d2e-0000-4000-8000-000000000009'


class FakeGraph(object):
    """Runs units of work with no transaction: the reads here are mocked."""

    def read(self, work, *args, **kwargs):
        return work(None, *args, **kwargs)

    read_one = read


def _session(status='active', ttl=60):
    return {'id': S1, 'status': status, 'expires_at': time.time() + ttl}


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
        self.assertEqual(['n1', 'n2'], self.uuids(S1))
        self.load.assert_called_with(None, S1)

    def test_the_session_must_exist_and_be_active(self):
        self.load.side_effect = exception.NotFound(
            kind='simulation session', ident=S9)
        self.assertRaises(exception.NotFound, self.uuids, S9)
        self.load.side_effect = None
        for status in ('committed', 'rolled_back', 'expired', 'closed'):
            self.load.return_value = _session(status=status)
            exc = self.assertRaises(exception.InvalidState, self.uuids, S1)
            self.assertEqual(status, exc.kwargs['state'])
        self.load.return_value = _session(ttl=-1)
        self.assertRaises(exception.SessionExpired, self.uuids, S1)
        self.load.reset_mock()
        for bad in ('', 's1', 0, 1.5, True, [], {}, 'x' * 100000):
            exc = self.assertRaises(exception.InvalidParameter, self.uuids,
                                    bad)
            self.assertEqual('session_id', exc.kwargs['field'])
        # A malformed id is refused before anything is read.
        self.load.assert_not_called()


def _call(endpoint, method, *args, **kwargs):
    try:
        return getattr(endpoint, method)({}, *args, **kwargs)
    except messaging.ExpectedException as exc:
        raise exc.exc_info[1]


class TestSchemas(base.TestCase):
    """Every endpoint method is declared, as its signature has it."""

    def methods(self):
        return {name: func for name, func in inspect.getmembers(
            manager.EngineManager, inspect.isfunction)
            if not name.startswith('_')}

    def test_every_method_has_its_schema(self):
        methods = self.methods()
        self.assertEqual(sorted(methods), sorted(schema.SCHEMAS))
        for name, func in methods.items():
            params = list(inspect.signature(
                inspect.unwrap(func)).parameters.values())[2:]
            declared = schema.SCHEMAS[name]
            self.assertEqual([p.name for p in params], list(declared),
                             name)
            for param in params:
                arg = declared[param.name]
                self.assertEqual(param.default is inspect.Parameter.empty,
                                 arg.required, (name, param.name))
                if param.default is None:
                    self.assertTrue(arg.nullable, (name, param.name))
                elif param.default is not inspect.Parameter.empty:
                    # The default passes the argument's own check.
                    self.assertEqual(param.default, arg.kind.check(
                        param.name, param.default, self.conf))

    def test_a_method_without_a_schema_is_refused(self):
        class Endpoint(object):
            def undeclared(self, ctxt):
                pass

        exc = self.assertRaises(TypeError, manager._rpc_border, Endpoint)
        self.assertIn('undeclared', str(exc))


class TestBorder(base.TestCase):

    def setUp(self):
        super().setUp()
        self.graph = mock.Mock()
        self.endpoint = manager.EngineManager(self.conf, self.graph,
                                              host='h')

    def refused(self, field, method, *args, **kwargs):
        exc = self.assertRaises(exception.InvalidParameter, _call,
                                self.endpoint, method, *args, **kwargs)
        self.assertEqual(field, exc.kwargs['field'])
        return exc

    def test_unknown_and_missing_keywords_are_named(self):
        exc = self.refused('colour', 'get_instance', uuid='i1',
                           colour='red')
        self.assertIn('get_instance takes no such argument (it takes '
                      'uuid)', str(exc))
        self.refused('uuid', 'get_instance')
        self.refused('deltas', 'record_deltas', session_id=S1)
        self.refused('get_instance', 'get_instance', 'i1', 'i2')
        self.refused('uuid', 'get_instance', 'i1', uuid='i2')
        self.graph.assert_not_called()
        self.assertEqual([], self.graph.method_calls)

    def test_values_are_checked_before_any_graph_call(self):
        self.refused('amount', 'find_nodes_with_capacity', 'VCPU', 2 ** 63)
        self.refused('amount', 'find_nodes_with_capacity', 'VCPU', True)
        self.refused('expected_generation', 'migrate_instance', 'i', 'a',
                     'b', expected_generation=-1)
        self.refused('check_capacity', 'migrate_instance', 'i', 'a', 'b',
                     check_capacity=None)
        self.refused('limit', 'list_instances', limit=10 ** 9)
        self.refused('audit_uuid', 'create_session', audit_uuid='a-1')
        self.refused('ttl', 'create_session', ttl=2 ** 63)
        self.refused('payload', 'ping', payload=['x'])
        self.refused('scope.compute_nodes[0]', 'get_compute_snapshot',
                     scope={'compute_nodes': [{}]})
        self.refused('deltas[0].colour', 'record_deltas', S1, [{
            'type': 'MOVE', 'consumer_uuid': 'i', 'source_uuid': 'a',
            'destination_uuid': 'b', 'colour': 'red'}])
        self.refused('deltas[0].resources.VCPU', 'record_deltas', S1, [{
            'type': 'ALLOCATE', 'consumer_uuid': 'i',
            'destination_uuid': 'b', 'resources': {'VCPU': 2 ** 63}}])
        self.assertEqual([], self.graph.method_calls)

    def test_a_request_id_is_checked_as_an_ident(self):
        for bad in ('', 0, True, [], 'x' * 256, 'a\x00b'):
            self.refused('request_id', 'commit_session', S1,
                         request_id=bad)
            self.refused('request_id', 'migrate_instance', 'i', 'a', 'b',
                         session_id=S1, request_id=bad)
        self.assertEqual([], self.graph.method_calls)

    def test_a_move_in_the_global_graph_hands_its_request_id_on(self):
        # 1.10: to the graph layer, which keeps it on the instance.
        with mock.patch.object(manager.compute, 'migrate_instance',
                               return_value=7) as move:
            self.assertEqual({'generation': 7}, _call(
                self.endpoint, 'migrate_instance', 'i', 'a', 'b',
                expected_generation=6, request_id='req-1'))
        move.assert_called_once_with(
            self.graph, 'i', 'a', 'b', expected_generation=6,
            check_capacity=True, request_id='req-1')

    def test_a_global_moves_request_id_is_checked_as_an_ident(self):
        with mock.patch.object(manager.compute, 'migrate_instance') as move:
            for bad in ('', 0, True, [], 'x' * 256, 'a\x00b'):
                self.refused('request_id', 'migrate_instance', 'i', 'a',
                             'b', request_id=bad)
        move.assert_not_called()
        self.assertEqual([], self.graph.method_calls)

    def test_an_expiry_hands_its_request_id_on(self):
        # 1.10: the expired session is checked by the call, under its
        # lock, as a close's; without an id, where the call enters.
        sessions_ = mock.Mock()
        self.endpoint.sessions = sessions_
        _call(self.endpoint, 'expire_session', S1, request_id='x-1')
        sessions_.expire_session.assert_called_once_with(
            S1, request_id='x-1')
        sessions_.check_session.assert_not_called()
        sessions_.reset_mock()
        _call(self.endpoint, 'expire_session', S1)
        sessions_.check_session.assert_called_once_with(S1)
        sessions_.expire_session.assert_called_once_with(
            S1, request_id=None)

    def test_an_expiry_without_an_id_is_checked_as_before(self):
        sessions_ = mock.Mock()
        sessions_.check_session.side_effect = exception.InvalidState(
            kind='Simulation session', ident=S1, state='expired',
            reason='this call takes a session that is active')
        self.endpoint.sessions = sessions_
        self.assertRaises(exception.InvalidState, _call, self.endpoint,
                          'expire_session', S1)
        sessions_.expire_session.assert_not_called()
        for bad in ('', 0, True, [], 'x' * 256):
            self.refused('request_id', 'expire_session', S1,
                         request_id=bad)
        sessions_.expire_session.assert_not_called()

    def test_moves_and_commits_hand_their_request_id_on(self):
        sessions_ = mock.Mock()
        sessions_.migrate_instance.return_value = 3
        self.endpoint.sessions = sessions_
        self.assertEqual({'sequence': 3}, _call(
            self.endpoint, 'migrate_instance', 'i', 'a', 'b',
            session_id=S1, check_capacity=False, request_id='req-1'))
        sessions_.migrate_instance.assert_called_once_with(
            S1, 'i', 'a', 'b', check_capacity=False, request_id='req-1')
        # A move's session is checked where the call enters.
        sessions_.check_session.assert_called_once_with(S1, ('active',))
        sessions_.check_session.reset_mock()
        _call(self.endpoint, 'commit_session', S1, request_id='req-2')
        sessions_.commit_session.assert_called_once_with(
            S1, request_id='req-2')
        # The commit's session is checked in the commit, not before it.
        sessions_.check_session.assert_not_called()

    def test_session_calls_hand_their_request_id_on(self):
        # 1.9: a creation, fork, end or merge with its request id.
        sessions_ = mock.Mock()
        self.endpoint.sessions = sessions_
        _call(self.endpoint, 'create_session', ttl=30, request_id='c-1')
        sessions_.create_session.assert_called_once_with(
            ttl=30, audit_uuid=None, request_id='c-1')
        _call(self.endpoint, 'fork_session', S1, request_id='f-1')
        sessions_.fork_session.assert_called_once_with(
            S1, ttl=None, request_id='f-1')
        # A fork's parent is checked where the call enters.
        sessions_.check_session.assert_called_once_with(S1, ('active',))
        for method in ('close_session', 'rollback_session',
                       'revert_session', 'merge_session'):
            sessions_.check_session.reset_mock()
            _call(self.endpoint, method, S1, request_id='e-1')
            getattr(sessions_, method).assert_called_once_with(
                S1, request_id='e-1')
            # The ended session is checked by the call, under its lock:
            # the same call sent again gets the first answer there.
            sessions_.check_session.assert_not_called()

    def test_session_ends_without_an_id_are_checked_as_before(self):
        # A 1.8 client's: its session is checked before the call runs.
        sessions_ = mock.Mock()
        sessions_.check_session.side_effect = exception.InvalidState(
            kind='Simulation session', ident=S1, state='closed',
            reason='this call takes a session that is active')
        self.endpoint.sessions = sessions_
        for method in ('close_session', 'rollback_session',
                       'revert_session', 'merge_session'):
            self.assertRaises(exception.InvalidState, _call, self.endpoint,
                              method, S1)
            getattr(sessions_, method).assert_not_called()
        self.assertEqual(4, sessions_.check_session.call_count)

    def test_a_session_calls_request_id_is_checked_as_an_ident(self):
        for method, args in (('create_session', ()),
                             ('fork_session', (S1,)),
                             ('close_session', (S1,)),
                             ('rollback_session', (S1,)),
                             ('revert_session', (S1,)),
                             ('merge_session', (S1,))):
            for bad in ('', 0, True, [], 'x' * 256):
                self.refused('request_id', method, *args, request_id=bad)
        self.assertEqual([], self.graph.method_calls)

    def test_an_unexpected_error_is_logged_and_typed(self):
        self.graph.read_one.side_effect = KeyError('boom')
        with mock.patch.object(manager.LOG, 'exception') as log:
            exc = self.assertRaises(exception.InternalError, _call,
                                    self.endpoint, 'get_generation')
        self.assertEqual({'method': 'get_generation', 'error': 'KeyError'},
                         exc.kwargs)
        log.assert_called_once()
        self.assertNotIn('boom', str(exc))

    def test_tachyon_errors_pass_as_they_are(self):
        self.graph.read_one.side_effect = exception.GraphUnavailable(
            uri='bolt://x', reason='down')
        self.assertRaises(exception.GraphUnavailable, _call, self.endpoint,
                          'get_generation')
