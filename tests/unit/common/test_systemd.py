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

"""The supervisor's decisions, on a real datagram socket, clock given."""

import os
import socket

import fixtures

from tachyon.common import systemd
from tests import base


class TestSupervisor(base.TestCase):

    def setUp(self):
        super().setUp()
        tmp = self.useFixture(fixtures.TempDir()).path
        self.path = os.path.join(tmp, 'notify')
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.setblocking(False)
        self.addCleanup(self.sock.close)

    def received(self):
        out = []
        while True:
            try:
                out.append(self.sock.recv(4096).decode())
            except BlockingIOError:
                return out

    def supervisor(self, expected=2, usec='4000000', probe=None, **kw):
        env = {'NOTIFY_SOCKET': self.path, 'WATCHDOG_USEC': usec,
               'WATCHDOG_PID': str(os.getpid()), 'OTHER': 'x'}
        sup = systemd.Supervisor(expected, probe=probe, environ=env,
                                 describe=lambda: 'serving', **kw)
        # Nothing else may speak for the service, nor a worker inherit it.
        self.assertEqual({'OTHER': 'x'}, env)
        return sup

    def test_ready_waits_for_every_worker_and_the_probe(self):
        answers = [False, True]
        sup = self.supervisor(probe=lambda: answers.pop(0))
        self.assertEqual(2.0, sup.stale_after)
        self.assertEqual(0.5, sup.beat)
        sup.handle('STARTED 10', now=0)
        sup.tick(now=0)
        self.assertEqual(['STATUS=Starting: 1/2 workers started',
                          'WATCHDOG=1'], self.received())
        sup.handle('STARTED 11', now=0.5)
        sup.tick(now=0.5)  # the probe says no: not yet
        self.assertNotIn('READY=1', ''.join(self.received()))
        sup.tick(now=1.0)
        self.assertIn('READY=1\nSTATUS=serving', self.received())

    def test_held_status_is_not_overwritten_by_the_worker_count(self):
        sup = self.supervisor()
        sup.hold('Checking Neo4j and the message broker')
        for now in (0, 0.5, 1.0):
            sup.tick(now=now)
        self.assertEqual(['STATUS=Checking Neo4j and the message broker'],
                         [m for m in self.received() if 'STATUS' in m])
        sup.hold(None)
        sup.tick(now=1.5)
        self.assertIn('STATUS=Starting: 0/2 workers started',
                      self.received())

    def test_watchdog_every_half_period_while_fresh(self):
        sup = self.supervisor(expected=1)
        sup.handle('STARTED 10', now=0)
        sup.tick(now=0)
        self.received()
        pings = []
        for step in range(1, 17):
            now = step * 0.25
            sup.handle('ALIVE 10', now=now)
            sup.tick(now=now)
            if 'WATCHDOG=1' in self.received():
                pings.append(now)
        self.assertEqual([2.0, 4.0], pings)

    def test_a_silent_worker_stops_the_watchdog(self):
        sup = self.supervisor(expected=2)
        for pid in ('10', '11'):
            sup.handle('STARTED ' + pid, now=0)
        sup.tick(now=0)
        self.received()
        # 11 stops reporting (SIGSTOP, a frozen interpreter, dead).
        for step in range(1, 41):
            now = step * 0.25
            sup.handle('ALIVE 10', now=now)
            sup.tick(now=now)
        got = self.received()
        self.assertIn('WATCHDOG=1', got)  # at 2.0, while 11 was fresh
        self.assertEqual(1, got.count('WATCHDOG=1'))
        self.assertIn('STATUS=Degraded: 1/2 workers serving, 0 starting or '
                      'stopping', got)
        # A respawned worker (a new pid) brings it back.
        sup.handle('STARTED 12', now=10.25)
        sup.tick(now=10.25)
        self.assertEqual(['READY=1\nSTATUS=serving', 'WATCHDOG=1'],
                         self.received())

    def test_stopping_workers_still_count_for_the_watchdog(self):
        # SIGHUP restarts every worker: while one stops and its successor
        # starts, both report, and systemd is not told of a hang.
        sup = self.supervisor(expected=1)
        sup.handle('STARTED 10', now=0)
        sup.tick(now=0)
        self.assertIn('READY=1\nSTATUS=serving', self.received())
        sup.handle('STOPPING 10', now=1.5)
        self.assertEqual((0, 1), sup.counts(now=1.5))
        sup.handle('STARTING 11', now=2.0)
        sup.tick(now=2.0)
        self.assertEqual(['STATUS=Degraded: 0/1 workers serving, 2 starting '
                          'or stopping', 'WATCHDOG=1'], self.received())
        sup.handle('STARTED 11', now=2.5)
        sup.tick(now=2.5)
        self.assertEqual(['READY=1\nSTATUS=serving'], self.received())
        # 10 has exited: it goes stale, 11 is enough.
        self.assertEqual((1, 1), sup.counts(now=4.0))

    def test_fatal_calls_on_fatal_once(self):
        fatal = []
        sup = self.supervisor(on_fatal=fatal.append)
        sup.handle('FATAL 10 Invalid configuration [a]/b: no', now=0)
        sup.tick(now=0)
        sup.tick(now=1)
        self.assertEqual(['Invalid configuration [a]/b: no'], fatal)
        self.assertIn('STATUS=Stopping: Invalid configuration [a]/b: no',
                      self.received())

    def test_no_watchdog_for_another_pid_or_without_usec(self):
        env = {'NOTIFY_SOCKET': self.path, 'WATCHDOG_USEC': '4000000',
               'WATCHDOG_PID': '1'}
        self.assertIsNone(systemd.Supervisor(1, environ=env).watchdog)
        sup = systemd.Supervisor(1, environ={'NOTIFY_SOCKET': self.path})
        self.assertIsNone(sup.watchdog)
        self.assertEqual(systemd.DEFAULT_BEAT, sup.beat)
        sup.handle('STARTED 10', now=0)
        sup.tick(now=0)
        self.assertEqual(['STATUS=1/1 workers started; waiting for their '
                          'consumers on the message broker',
                          'READY=1\nSTATUS=serving'], self.received())

    def test_reporter_reaches_the_supervisor(self):
        sup = self.supervisor(expected=1)
        self.addCleanup(sup.stop)
        sup.start()
        sup.reporter().started()
        for _ in range(100):
            if 'READY=1\nSTATUS=serving' in self.received():
                break
            self.sock.settimeout(0.1)
            try:
                if 'READY=1' in self.sock.recv(4096).decode():
                    break
            except socket.timeout:
                pass
            finally:
                self.sock.setblocking(False)
        else:
            self.fail('no READY=1')

    def test_notify_without_socket_is_harmless(self):
        self.assertFalse(systemd.notify(None, 'READY=1'))
        self.assertFalse(systemd.notify('/nonexistent/sock', 'READY=1'))
