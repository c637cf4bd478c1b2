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

"""The audit of a strategy run, and how its sessions end."""

import threading

from tachyon.client import audits
from tachyon import exception
from tests import base


class FakeClient(object):

    def __init__(self, fail=None):
        self.calls = []
        self.fail = fail or {}

    def _answer(self, method, session_id):
        self.calls.append((method, session_id))
        if method in self.fail:
            raise self.fail[method]
        return {'id': session_id}

    def close_session(self, session_id):
        return self._answer('close_session', session_id)

    def rollback_session(self, session_id):
        return self._answer('rollback_session', session_id)


class FakeModel(object):
    """What a run settles: a TachyonClusterModel's session surface."""

    def __init__(self, client, session_id, flush_error=None):
        self.client = client
        self.session_id = session_id
        self.request_context = None
        self.flush_error = flush_error
        self.events = []

    def flush(self):
        self.events.append('flush')
        self.client.calls.append(('flush', self.session_id))
        if self.flush_error is not None:
            raise self.flush_error

    def discard_pending(self):
        self.events.append('discard')

    def release(self):
        self.events.append('release')


class TestAuditRun(base.TestCase):

    def test_outside_a_run(self):
        self.assertIsNone(audits.current())

    def test_a_run_that_ends_sends_then_closes_every_session(self):
        client = FakeClient()
        with audits.bound('audit-1', 'ctx') as run:
            self.assertIs(run, audits.current())
            self.assertEqual(('audit-1', 'ctx'),
                             (run.audit_uuid, run.request_context))
            run.opened(FakeModel(client, 's1'))
            run.opened(FakeModel(client, 's2'))
        self.assertIsNone(audits.current())
        self.assertEqual([('flush', 's1'), ('close_session', 's1'),
                          ('flush', 's2'), ('close_session', 's2')],
                         client.calls)
        self.assertEqual([], run.models)

    def test_a_run_that_raises_rolls_back_and_sends_nothing(self):
        client = FakeClient()
        model = FakeModel(client, 's1')

        def run_strategy():
            with audits.bound('audit-1') as run:
                run.opened(model)
                raise RuntimeError('strategy failed')

        self.assertRaises(RuntimeError, run_strategy)
        self.assertEqual([('rollback_session', 's1')], client.calls)
        self.assertEqual(['discard', 'release'], model.events)

    def test_the_models_are_released_after_their_sessions(self):
        client = FakeClient()
        model = FakeModel(client, 's1')
        with audits.bound('audit-1') as run:
            run.opened(model)
        self.assertEqual(['flush', 'release'], model.events)

    def test_refused_moves_still_close_the_session(self):
        client = FakeClient()
        with audits.bound('audit-1') as run:
            run.opened(FakeModel(client, 's1', flush_error=exception.Conflict(
                reason='moved meanwhile')))
        self.assertEqual([('flush', 's1'), ('close_session', 's1')],
                         client.calls)

    def test_an_unreachable_engine_does_not_fail_the_audit(self):
        client = FakeClient(fail={'close_session': exception.GraphUnavailable(
            uri='bolt://x', reason='down')})
        second = FakeClient()
        with audits.bound('audit-1') as run:
            run.opened(FakeModel(client, 's1'))
            run.opened(FakeModel(second, 's2'))
        # The first failure did not stop the second session from closing.
        self.assertEqual([('flush', 's2'), ('close_session', 's2')],
                         second.calls)

    def test_detached_models_are_left_alone(self):
        with audits.bound('audit-1') as run:
            run.opened(FakeModel(None, None))  # would raise if touched

    def test_runs_nest_and_restore(self):
        with audits.bound('outer') as outer:
            with audits.bound('inner') as inner:
                self.assertIs(inner, audits.current())
            self.assertIs(outer, audits.current())

    def test_a_thread_sees_only_its_own_run_and_scope(self):
        seen = {}
        ready = threading.Barrier(2)

        def audit(name):
            with audits.bound(name):
                audits.keep_scope('compute', {'zone': name})
                ready.wait()
                seen[name] = (audits.current().audit_uuid,
                              audits.take_scope('compute'),
                              audits.take_scope('compute'))

        threads = [threading.Thread(target=audit, args=(n,))
                   for n in ('a1', 'a2')]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual({'a1': ('a1', {'zone': 'a1'}, None),
                          'a2': ('a2', {'zone': 'a2'}, None)}, seen)

    def test_a_scope_kept_before_a_run_does_not_leak_into_it(self):
        audits.keep_scope('compute', {'zone': 'stale'})
        with audits.bound('audit-1'):
            self.assertIsNone(audits.take_scope('compute'))
        self.assertIsNone(audits.take_scope('compute'))
