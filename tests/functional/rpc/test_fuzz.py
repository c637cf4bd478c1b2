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

"""Bad calls to every RPC method, over the real RabbitMQ, engine and Neo4j.

The methods are the endpoint's public ones, found by introspection: one
missing from :data:`ARGS` below (a new method, a new argument) fails the
test. Each argument has a kind; each kind a list of bad values. Every
argument of every method is sent each bad value of its kind (the other
arguments valid), each required argument is left out once and an unknown
keyword is added once. Each such call must raise the typed error naming
the argument (InvalidParameter; NotFound for an unknown entity;
NotFound, InvalidState or SessionExpired naming the session for one that
does not exist or is not in a status the call takes), and the whole
graph -- every node and relationship with its properties -- must be as
it was before the call.
"""

import hashlib
import inspect
import time

from oslo_utils import uuidutils

from tachyon import exception
from tachyon.graph import events
from tachyon.model import changes as model_changes
from tachyon.model import plans
from tachyon.rpc import api
from tachyon.rpc import manager
from tachyon import watcher_xml
from tests.fixtures import services
from tests.functional import base
from tests.functional.rpc import test_engine
from tests import watcher_models

# The engine's own liveness records (its workers' heartbeats, its
# leases' renewals) change on their own; what a call wrote is the rest.
NODES = """
MATCH (n) WHERE NOT (n:EngineWorker OR n:Lease)
RETURN elementId(n) AS id, labels(n) AS labels, properties(n) AS props
"""

RELATIONSHIPS = """
MATCH (a)-[r]->(b)
RETURN elementId(a) AS a, type(r) AS type, properties(r) AS props,
       elementId(b) AS b
"""


def fingerprint(graph):
    """A digest of every node and relationship and their properties."""
    rows = [repr((r['id'], sorted(r['labels']), sorted(r['props'].items())))
            for r in graph.run_autocommit(NODES)]
    rows += [repr((r['a'], r['type'], sorted(r['props'].items()), r['b']))
             for r in graph.run_autocommit(RELATIONSHIPS)]
    digest = hashlib.sha256()
    for row in sorted(rows):
        digest.update(row.encode('utf-8', 'backslashreplace'))
        digest.update(b'\n')
    return digest.hexdigest(), len(rows)


UNKNOWN = '0badc0de-0000-4000-8000-00000000f00d'
HUGE = 'x' * 100000
TOO_BIG = 2 ** 63

#: Bad values of every kind of argument: wrong types, a bool for an
#: integer, out of range, too long, malformed.
_NOT_A_STRING = [0, 1.5, True, [], {}, TOO_BIG]
BAD = {
    'ident': _NOT_A_STRING + ['', '   ', HUGE, 'x' * 256, 'a\x00b'],
    'uuid': _NOT_A_STRING + ['', HUGE, 'a-1', 'not-a-uuid',
                             UNKNOWN + 'x'],
    'amount': [-1, TOO_BIG, 2 ** 64, True, False, 1.5, '1', [], {}, HUGE],
    'flag': [0, 1, 'yes', 'true', [], {}, TOO_BIG, HUGE],
    'resource_class': ['GPU', 'vcpu', 0, True, [], {}, HUGE],
    'status': ['done', 'ACTIVE', 0, True, [], {}, HUGE],
    'payload': [[], {}, 1.5, True, 'x' * 256, HUGE, TOO_BIG,
                -TOO_BIG - 1],
    'scope': ['x', [], 0, True, HUGE, {'regions': []},
              {'compute_nodes': 'hostname_0'},
              {'compute_nodes': [{}]}, {'compute_nodes': [None]},
              {'compute_nodes': [[]]}, {'compute_nodes': [True]},
              {'compute_nodes': ['']}, {'compute_nodes': [HUGE]},
              {'exclude_instances': [TOO_BIG]},
              {'host_aggregates': [-1]}],
    'page_size': [0, -1, 10001, TOO_BIG, True, 1.5, '5', [], {}, HUGE],
    'ttl': [0, -1, 86401, TOO_BIG, True, 1.5, '60', [], {}, HUGE],
}
BAD['reservation_state'] = ['done', 'ACTIVE', 0, True, [], {}, HUGE]
for _kind in ('active_session', 'session_view', 'any_session',
              'session_to_commit', 'session_to_end'):
    BAD[_kind] = BAD['uuid']

#: Idents of entities that do not exist (NotFound).
MISSING_ENTITY = ['no-such-entity', UNKNOWN]

#: Sessions by the status a kind of session argument refuses.
REFUSED_SESSIONS = {
    'active_session': {'unknown': exception.NotFound,
                       'committed': exception.InvalidState,
                       'rolled_back': exception.InvalidState,
                       'expired': exception.InvalidState,
                       'closed': exception.InvalidState,
                       'lapsed': exception.SessionExpired},
    'session_view': {'unknown': exception.NotFound,
                     'committed': exception.InvalidState,
                     'rolled_back': exception.InvalidState,
                     'expired': exception.InvalidState,
                     'lapsed': exception.SessionExpired},
    'any_session': {'unknown': exception.NotFound},
}
# A commit checks its session itself (1.7), and refuses as the border
# does an active_session (a request id another commit did not use).
REFUSED_SESSIONS['session_to_commit'] = dict(
    REFUSED_SESSIONS['active_session'])
# So does a session's end or merge (1.9), with a request id or without.
REFUSED_SESSIONS['session_to_end'] = dict(
    REFUSED_SESSIONS['active_session'])


def _move(**changes):
    spec = {'type': 'MOVE', 'consumer_uuid': '@inst',
            'source_uuid': '@src', 'destination_uuid': '@dest',
            'check_capacity': False}
    spec.update(changes)
    return spec


BAD['deltas'] = [
    [], {}, 'x', 0, True, HUGE, [None], ['x'], [[]], [{}],
    [_move(type='FLY')], [_move(type=None)], [_move(consumer_uuid=0)],
    [_move(consumer_uuid=HUGE)], [_move(source_uuid=None)],
    [_move(destination_uuid=[])], [_move(check_capacity='no')],
    [_move(colour='red')], [_move(resources={'VCPU': -1})],
    [_move(resources='x')],
    [_move(type='ALLOCATE', source_uuid=None,
           resources={'VCPU': TOO_BIG})],
    [_move(type='ALLOCATE', resources={'VCPU': True})],
    [_move(type='ALLOCATE', resources={'GPU': 1})],
    [_move(type='ALLOCATE', resources={})],
    [_move(type='RESIZE', resources={'VCPU': 1.5})],
    # A bad delta after a good one: nothing recorded.
    [_move(), _move(type='DEALLOCATE', source_uuid=0)],
    # More than a session may hold ([simulation]/max_deltas_per_session).
    [_move()] * 10001,
]

S = 'active_session'
E = 'session_to_end'
#: method -> {argument: (kind, a valid value, flags)}, in the order of
#: the method's signature. Flags: ``r`` required (no default), ``n`` null
#: is taken, ``e`` names an entity that must exist. '@name' values are
#: the fixtures of setUp.
ARGS = {
    'ping': {'payload': ('payload', 'x', 'n')},
    'get_generation': {},
    'list_compute_nodes': {'session_id': (S, '@active', 'n')},
    'get_compute_node': {'uuid': ('ident', '@src', 're')},
    'get_compute_node_by_name': {'hostname': ('ident', '@host', 're')},
    'get_instance': {'uuid': ('ident', '@inst', 're')},
    'list_instances': {'marker': ('ident', '@inst', 'ne'),
                       'limit': ('page_size', 5, 'n')},
    'get_node_by_instance': {'instance_uuid': ('ident', '@inst', 're'),
                             'session_id': (S, '@active', 'n')},
    'get_node_instances': {'node_uuid': ('ident', '@src', 're'),
                           'session_id': (S, '@active', 'n')},
    'get_node_used_resources': {'node_uuid': ('ident', '@src', 're'),
                                'session_id': (S, '@active', 'n')},
    'get_node_free_resources': {'node_uuid': ('ident', '@src', 're'),
                                'session_id': (S, '@active', 'n')},
    'get_all_nodes_usage': {'session_id': (S, '@active', 'n')},
    'find_nodes_with_capacity': {
        'resource_class': ('resource_class', 'VCPU', 'r'),
        'amount': ('amount', 1, 'r')},
    'migrate_instance': {
        'instance_uuid': ('ident', '@inst', 're'),
        'source_node_uuid': ('ident', '@src', 're'),
        'destination_node_uuid': ('ident', '@dest', 're'),
        'session_id': (S, '@active', 'n'),
        'expected_generation': ('amount', None, 'n'),
        'check_capacity': ('flag', False, ''),
        'request_id': ('ident', 'move-fuzz-1', 'n')},
    'get_compute_snapshot': {
        'scope': ('scope', {'compute_nodes': ['@host']}, 'n'),
        'session_id': ('session_view', '@active', 'n'),
        'columns': ('flag', True, ''),
        'packed': ('flag', True, '')},
    'get_storage_node': {'host': ('ident', '@storage_host', 're')},
    'get_pool': {'name': ('ident', '@pool', 're')},
    'get_volume': {'uuid': ('ident', '@volume', 're')},
    'get_pool_volumes': {'pool_name': ('ident', '@pool', 're')},
    'get_ironic_node': {'uuid': ('ident', '@ironic', 're')},
    'get_storage_snapshot': {},
    'get_baremetal_snapshot': {},
    'create_session': {'ttl': ('ttl', 60, 'n'),
                       'audit_uuid': ('uuid', UNKNOWN, 'n'),
                       'request_id': ('ident', 'create-fuzz-1', 'n')},
    'get_session': {'session_id': ('any_session', '@active', 'r')},
    'list_sessions': {'status': ('status', 'active', 'n')},
    'record_deltas': {'session_id': (S, '@active', 'r'),
                      'deltas': ('deltas', [_move()], 'r'),
                      'request_id': ('ident', 'batch-fuzz-1', 'n')},
    'get_consumer_location': {'session_id': (S, '@active', 'rn'),
                              'consumer_uuid': ('ident', '@inst', 're')},
    'get_utilization': {'resource_class': ('resource_class', 'VCPU', 'r'),
                        'session_id': (S, '@active', 'n')},
    'get_balance_score': {
        'resource_class': ('resource_class', 'VCPU', 'r'),
        'session_id': (S, '@active', 'n')},
    'find_destinations': {'instance_uuid': ('ident', '@inst', 're'),
                          'session_id': (S, '@active', 'n'),
                          'limit': ('page_size', 3, '')},
    'commit_session': {'session_id': ('session_to_commit', '@active', 'r'),
                       'request_id': ('ident', 'commit-fuzz-1', 'n')},
    'rollback_session': {'session_id': (E, '@active', 'r'),
                         'request_id': ('ident', 'end-fuzz-1', 'n')},
    'expire_session': {'session_id': (E, '@active', 'r'),
                       'request_id': ('ident', 'expire-fuzz-1', 'n')},
    'close_session': {'session_id': (E, '@active', 'r'),
                      'request_id': ('ident', 'end-fuzz-1', 'n')},
    'get_session_deltas': {'session_id': ('any_session', '@active', 'r')},
    'fork_session': {'session_id': (S, '@active', 'r'),
                     'ttl': ('ttl', 60, 'n'),
                     'request_id': ('ident', 'fork-fuzz-1', 'n')},
    'merge_session': {'session_id': (E, '@fork', 'r'),
                      'request_id': ('ident', 'merge-fuzz-1', 'n')},
    'revert_session': {'session_id': (E, '@fork', 'r'),
                       'request_id': ('ident', 'end-fuzz-1', 'n')},
    'list_reservations': {'state': ('reservation_state', 'active', 'n')},
    'get_reservation': {'action_plan_uuid': ('uuid', '@plan', 'r')},
}


#: Calls fuzzed again with these valid values changed: migrate_instance
#: without a session writes to the global graph, without a request id (a
#: 1.9 client's) and with one (1.10), the second moving the instance back
#: ('@' values are resolved); a session's end or merge without a request
#: id (a 1.8 client's, a 1.9 one's expiry) has its session checked where
#: the call enters, with one by the call (1.9, 1.10).
VARIANTS = {'migrate_instance': [
    {'session_id': None, 'request_id': None},
    {'session_id': None, 'source_node_uuid': '@dest',
     'destination_node_uuid': '@src'}]}
VARIANTS.update({method: [{'request_id': None}] for method in (
    'rollback_session', 'close_session', 'merge_session',
    'revert_session', 'expire_session')})


def endpoint_methods():
    """The endpoint's public methods, by name (what the server serves)."""
    return {name: func for name, func in inspect.getmembers(
        manager.EngineManager, inspect.isfunction)
        if not name.startswith('_')}


def _field_is(arg):
    def named(exc):
        field = str(exc.kwargs.get('field'))
        return (field == arg or field.startswith(arg + '.')
                or field.startswith(arg + '['))
    return named


def _session_named(sid):
    return lambda exc: sid in (exc.kwargs.get('ident'),
                               exc.kwargs.get('session_id'))


class TestEveryMethodIsFuzzed(base.FunctionalTestCase):
    """The table covers the endpoint exactly (no server needed)."""

    def test_the_table_names_every_method_and_argument(self):
        methods = endpoint_methods()
        self.assertEqual(sorted(methods), sorted(ARGS))
        for name, func in methods.items():
            params = list(inspect.signature(
                inspect.unwrap(func)).parameters.values())[2:]
            self.assertEqual([p.name for p in params], list(ARGS[name]),
                             name)
            for param in params:
                kind, _valid, flags = ARGS[name][param.name]
                self.assertIn(kind, BAD, (name, param.name))
                self.assertEqual(param.default is inspect.Parameter.empty,
                                 'r' in flags, (name, param.name))
                if param.default is None:
                    self.assertIn('n', flags, (name, param.name))


class TestRPCFuzz(base.FunctionalTestCase):

    def setUp(self):
        super().setUp()
        transport = self.useFixture(services.RealTransportFixture(self.conf))
        for name in ('scenario_1.xml', 'storage_scenario_1.xml',
                     'ironic_scenario_1.xml'):
            watcher_xml.import_model(self.graph,
                                     watcher_models.load_data(name))
        topic = 'tachyon-fuzz-' + uuidutils.generate_uuid()[:8]
        # No periodic task writes while the graph is compared (their
        # first run, at start, is over before the fixtures are made).
        self.engine = self.useFixture(test_engine.EngineProcess(
            self.neo4j, transport.url, topic, 'engine-fuzz',
            env={'OS_SIMULATION__REAPER_INTERVAL': '1000000',
                 'OS_NOTIFICATIONS__TOMBSTONE_LIFETIME': '100000000'}))
        self.client = api.EngineAPI(self.conf, topic=topic, timeout=60)
        self.addCleanup(self.client.transport.cleanup)
        # Every bad call is refused at once: one that takes long is a bug.
        self.cctxt = self.client.client.prepare(version=api.RPC_API_VERSION,
                                                timeout=15)
        self.fixtures = self._fixtures()
        self.failures = []
        self.calls = 0

    def _fixtures(self):
        client = self.client
        snap = client.get_compute_snapshot()
        inst, src = sorted(snap['mapping'].items())[0]
        dest = next(n['uuid'] for n in snap['nodes'] if n['uuid'] != src)
        storage = client.get_storage_snapshot()
        pool = storage['pools'][0]['name']
        found = {
            'inst': inst, 'src': src, 'dest': dest,
            'host': next(n['hostname'] for n in snap['nodes']
                         if n['uuid'] == src),
            'storage_host': storage['nodes'][0]['host'], 'pool': pool,
            'volume': client.get_pool_volumes(pool)[0]['uuid'],
            'ironic': client.get_baremetal_snapshot()['nodes'][0]['uuid'],
        }
        found['active'] = client.create_session(ttl=3600)['id']
        # The active session holds a delta, of another instance: the
        # valid calls stay valid moves (a bad value let through would be
        # recorded).
        other, where = sorted(snap['mapping'].items())[-1]
        self.assertNotEqual(inst, other)
        client.record_deltas(found['active'], [{
            'type': 'MOVE', 'consumer_uuid': other, 'source_uuid': where,
            'destination_uuid': next(n['uuid'] for n in snap['nodes']
                                     if n['uuid'] != where),
            'check_capacity': False}])
        # Only a fork can be merged or reverted (1.5).
        found['fork'] = client.fork_session(found['active'])['id']
        for status, end in (('committed', client.commit_session),
                            ('rolled_back', client.rollback_session),
                            ('expired', client.expire_session),
                            ('closed', client.close_session)):
            found[status] = client.create_session(ttl=3600)['id']
            end(found[status])
            self.assertEqual(status, client.get_session(
                found[status])['status'])
        # A reservation (1.6): that of a plan whose end was heard first.
        found['plan'] = uuidutils.generate_uuid()
        events.apply_changes(self.graph, [model_changes.Change(
            kind=model_changes.ACTION_PLAN, action=model_changes.UPSERT,
            key=found['plan'], timestamp=time.time(),
            record=plans.ActionPlanState(uuid=found['plan'],
                                         audit_uuid=UNKNOWN,
                                         state=plans.SUCCEEDED))])
        found['lapsed'] = client.create_session(ttl=1)['id']
        found['unknown'] = UNKNOWN
        time.sleep(1.2)
        return found

    def resolve(self, value, found=None):
        found = self.fixtures if found is None else found
        if isinstance(value, str) and value.startswith('@'):
            return found[value[1:]]
        if isinstance(value, list):
            return [self.resolve(v, found) for v in value]
        if isinstance(value, dict):
            return {k: self.resolve(v, found) for k, v in value.items()}
        return value

    def check(self, label, method, kwargs, expected, named):
        """Call; the error must be ``expected`` and pass ``named``."""
        self.calls += 1
        failures = self.failures
        try:
            answer = self.cctxt.call({}, method, **kwargs)
        except expected as exc:
            if not named(exc):
                failures.append('%s: %s %s does not name it' % (
                    label, type(exc).__name__, repr(exc.kwargs)[:200]))
        except Exception as exc:  # noqa: B902 - what came back is checked
            failures.append('%s: %s: %s' % (label, type(exc).__name__,
                                            str(exc)[:200]))
        else:
            failures.append('%s: accepted (%s)' % (label,
                                                   repr(answer)[:100]))
        now = fingerprint(self.graph)
        if now != self.last:
            failures.append('%s: WROTE to the graph' % label)
            self.last = now

    def fuzz(self, method, valid):
        """Every bad call of ``method``, the others arguments ``valid``."""
        for arg, (kind, _valid, flags) in ARGS[method].items():
            bad = list(BAD[kind])
            if 'n' not in flags:
                bad.append(None)
            for value in bad:
                self.check('%s(%s=%s)' % (method, arg, repr(value)[:40]),
                           method, dict(valid, **{arg: self.resolve(value)}),
                           exception.InvalidParameter, _field_is(arg))
            for value in MISSING_ENTITY if 'e' in flags else ():
                self.check('%s(%s=%r) unknown' % (method, arg, value),
                           method, dict(valid, **{arg: value}),
                           exception.NotFound,
                           lambda exc, v=value: exc.kwargs.get('ident') == v)
            for status, error in REFUSED_SESSIONS.get(kind, {}).items():
                sid = self.fixtures[status]
                self.check('%s(%s=<%s session>)' % (method, arg, status),
                           method, dict(valid, **{arg: sid}), error,
                           _session_named(sid))
            if 'r' in flags:
                missing = dict(valid)
                del missing[arg]
                self.check('%s(no %s)' % (method, arg), method, missing,
                           exception.InvalidParameter, _field_is(arg))
        self.check('%s(bogus_arg=1)' % method, method,
                   dict(valid, bogus_arg=1), exception.InvalidParameter,
                   _field_is('bogus_arg'))

    def fuzz_methods(self, methods):
        start = self.last = fingerprint(self.graph)
        for method in methods:
            valid = {arg: self.resolve(value)
                     for arg, (_k, value, _e) in ARGS[method].items()}
            self.fuzz(method, valid)
            for changes in VARIANTS.get(method, ()):
                self.fuzz(method, dict(valid, **self.resolve(changes)))
        self.assertEqual([], self.failures, '%d of %d bad calls:\n%s' % (
            len(self.failures), self.calls, '\n'.join(self.failures)))
        self.assertEqual(start, fingerprint(self.graph))
        # No call was a fault of the server.
        self.assertNotIn('Traceback', self.engine.output())
        self.baseline(methods)
        return self.calls

    def baseline(self, methods):
        """The valid calls the bad ones were made of are taken.

        So each refusal above was the bad value's. Each call naming the
        active session gets a fresh one (some end it), each naming the fork
        a fresh fork; the variants (migrate_instance moving the instance
        globally) come last.
        """
        calls = []
        for method in methods:
            valid = {arg: self.resolve(value)
                     for arg, (_k, value, _e) in ARGS[method].items()}
            calls.append((method, valid))
        for method in methods:
            for changes in VARIANTS.get(method, ()):
                calls.append((method, dict(calls[methods.index(method)][1],
                                           **self.resolve(changes))))
        for method, valid in calls:
            if valid.get('session_id') == self.fixtures['active']:
                valid['session_id'] = self.client.create_session()['id']
            elif valid.get('session_id') == self.fixtures['fork']:
                valid['session_id'] = self.client.fork_session(
                    self.client.create_session()['id'])['id']
            self.cctxt.call({}, method, **valid)


def _add_tests(cls, groups):
    """One test per group of methods (each within the test timeout)."""
    names = sorted(ARGS)
    size = -(-len(names) // groups)
    for index in range(groups):
        chunk = names[index * size:(index + 1) * size]

        def test(self, chunk=chunk):
            self.assertGreater(self.fuzz_methods(chunk), 10 * len(chunk))
        test.__name__ = 'test_bad_calls_%d_%s_to_%s' % (index, chunk[0],
                                                        chunk[-1])
        test.__doc__ = 'Bad calls of %s.' % ', '.join(chunk)
        setattr(cls, test.__name__, test)


_add_tests(TestRPCFuzz, 6)
