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

"""An RPC call in flight when its engine dies is retried on another.

Two real tachyon-engine processes serve one topic. One is frozen
(SIGSTOP): RabbitMQ still hands it every other call, which stays
unanswered. The client's timeout fires and it sends the call again
(same request id for a delta batch), which the live engine serves.
Then the frozen engine is either killed (SIGKILL) or resumed (SIGCONT):
resumed, it serves the first attempt it held, late. Either way the
session must hold each delta once: the batches are RESIZEs, which a
replay would record again.
"""

import concurrent.futures
import os
import signal
import time

import fixtures
from oslo_utils import uuidutils

from tachyon.client import causal
from tachyon import watcher_xml
from tests.fixtures import services
from tests.functional import base
from tests.functional.rpc import test_engine
from tests import watcher_models

#: The client's timeout: how long a call stays in flight on the frozen
#: engine before it is sent again.
TIMEOUT = 4


class TestRetryOnAKilledEngine(base.FunctionalTestCase):

    def setUp(self):
        super().setUp()
        transport = self.useFixture(services.RealTransportFixture(self.conf))
        watcher_xml.import_model(
            self.graph, watcher_models.load_data('scenario_1.xml'))
        self.topic = 'tachyon-retry-' + uuidutils.generate_uuid()[:8]
        self.engines = {
            name: self.useFixture(test_engine.EngineProcess(
                self.neo4j, transport.url, self.topic, name))
            for name in ('engine-a', 'engine-b')}
        self.log = self.useFixture(fixtures.FakeLogger(
            name='tachyon.rpc.api', level='WARNING'))
        self.client = causal.CausalEngineAPI(
            self.conf, topic=self.topic, timeout=TIMEOUT, retries=3)
        self.addCleanup(self.client.transport.cleanup)

    def _audit(self, end_freeze):
        """Record batches while engine-a is frozen; its end: end_freeze().

        Returns (deltas sent, record_deltas' answers, session id, batch
        size).
        """
        hosts = {self.client.ping()['host'] for _ in range(10)}
        self.assertEqual(set(self.engines), hosts)
        snap = self.client.get_compute_snapshot()
        instances = sorted(snap['mapping'])[:3]
        sid = self.client.create_session(ttl=600)['id']
        frozen = self.engines['engine-a'].proc
        os.killpg(frozen.pid, signal.SIGSTOP)
        self.addCleanup(lambda: frozen.poll() is None and os.killpg(
            frozen.pid, signal.SIGCONT))

        sent, answers, ended = [], [], False
        pool = concurrent.futures.ThreadPoolExecutor(1)
        self.addCleanup(pool.shutdown)
        for batch in range(8):
            deltas = [{'type': 'RESIZE', 'consumer_uuid': inst,
                       'source_uuid': snap['mapping'][inst],
                       'resources': {'VCPU': 1 + batch, 'MEMORY_MB': 512,
                                     'DISK_GB': 1},
                       'check_capacity': False} for inst in instances]
            call = pool.submit(self.client.record_deltas, sid, deltas)
            if not ended:
                try:
                    answers.append(call.result(timeout=1.5))
                except concurrent.futures.TimeoutError:
                    # In flight on the frozen engine: let the client time
                    # out and send it again, then end the freeze.
                    time.sleep(TIMEOUT)
                    end_freeze(frozen, call)
                    ended = True
                    answers.append(call.result(timeout=6 * TIMEOUT))
            else:
                answers.append(call.result(timeout=6 * TIMEOUT))
            sent.extend(deltas)
        self.assertTrue(ended, 'no call reached the frozen engine')
        self.assertIn('record_deltas', self.log.output)
        self.assertIn('sending it again', self.log.output)
        return sent, answers, sid, len(instances)

    def assertOnce(self, sid, sent, answers, size):
        # Each batch got the next sequences; the session holds it once.
        self.assertEqual([list(range(i * size, (i + 1) * size))
                          for i in range(len(answers))], answers)
        recorded = self.client.get_session_deltas(sid)
        self.assertEqual(list(range(len(sent))),
                         [d['sequence'] for d in recorded])
        self.assertEqual([(d['consumer_uuid'], d['resources'])
                          for d in sent],
                         [(d['consumer_uuid'], d['resources'])
                          for d in recorded])

    def test_a_batch_in_flight_on_a_killed_engine_is_recorded_once(self):
        def kill(frozen, call):
            os.killpg(frozen.pid, signal.SIGKILL)
            frozen.wait()
        sent, answers, sid, size = self._audit(kill)
        self.assertOnce(sid, sent, answers, size)
        # Reads are retried too: the live engine answers them all.
        self.assertEqual({'engine-b'},
                         {self.client.ping()['host'] for _ in range(6)})

    def test_a_frozen_engine_resumed_late_does_not_record_twice(self):
        def resume(frozen, call):
            # The retry is answered by the live engine first; then the
            # frozen one wakes up and serves the first attempt it holds.
            concurrent.futures.wait([call], timeout=2 * TIMEOUT)
            os.killpg(frozen.pid, signal.SIGCONT)
        sent, answers, sid, size = self._audit(resume)
        # engine-a served what it held (pings answer from both again).
        self.assertTrue(services.wait_until(
            lambda: {self.client.ping()['host'] for _ in range(6)}
            == set(self.engines), 30))
        self.assertOnce(sid, sent, answers, size)
