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

"""Leases in the real Neo4j: one holder at a time."""

import threading

from tachyon.graph import leases
from tests.functional import base


class TestLeases(base.FunctionalTestCase):

    def test_one_holder_until_it_expires(self):
        self.assertTrue(leases.acquire(self.graph, 'l', 'a', 10, now=100))
        self.assertFalse(leases.acquire(self.graph, 'l', 'b', 10, now=105))
        self.assertTrue(leases.acquire(self.graph, 'l', 'b', 10, now=110))
        (lease,) = leases.get_leases(self.graph, 'l')
        self.assertEqual('b', lease['holder'])
        self.assertEqual(120.0, lease['expires_at'])

    def test_renew_only_by_the_holder_before_expiry(self):
        leases.acquire(self.graph, 'l', 'a', 10, now=100)
        self.assertFalse(leases.renew(self.graph, 'l', 'b', 10, now=105))
        self.assertTrue(leases.renew(self.graph, 'l', 'a', 10, now=109))
        self.assertFalse(leases.acquire(self.graph, 'l', 'b', 10, now=115))
        # Expired: a renewal comes too late, the lease is someone's now.
        self.assertFalse(leases.renew(self.graph, 'l', 'a', 10, now=130))
        self.assertTrue(leases.acquire(self.graph, 'l', 'b', 10, now=130))
        self.assertFalse(leases.renew(self.graph, 'l', 'a', 10, now=131))

    def test_release_frees_or_keeps_until(self):
        leases.acquire(self.graph, 'l', 'a', 100, now=100)
        self.assertFalse(leases.release(self.graph, 'l', 'b', now=101))
        self.assertTrue(leases.release(self.graph, 'l', 'a', keep_until=150,
                                       now=101))
        self.assertFalse(leases.acquire(self.graph, 'l', 'b', 10, now=149))
        self.assertTrue(leases.acquire(self.graph, 'l', 'b', 10, now=150))

    def test_concurrent_attempts_have_one_winner(self):
        for round_ in range(5):
            name = 'race-%d' % round_
            barrier = threading.Barrier(8)
            won = []

            def attempt(holder):
                barrier.wait()
                if leases.acquire(self.graph, name, holder, 60):
                    won.append(holder)

            threads = [threading.Thread(target=attempt, args=('h%d' % i,))
                       for i in range(8)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            self.assertEqual(1, len(won), won)
            (lease,) = leases.get_leases(self.graph, name)
            self.assertEqual(won[0], lease['holder'])
