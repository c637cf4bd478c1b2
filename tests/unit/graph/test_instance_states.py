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

"""The state register of instances (no Neo4j): which state wins."""

import itertools
import random

from tachyon.graph.compute import instances
from tests import base


class TestStateWins(base.TestCase):

    def test_newer_wins_whatever_the_keys(self):
        self.assertTrue(instances.state_wins(2.0, 'a', 1.0, 'z'))
        self.assertFalse(instances.state_wins(1.0, 'z', 2.0, 'a'))

    def test_tie_goes_to_the_greater_key(self):
        self.assertTrue(instances.state_wins(1.0, 'b', 1.0, 'a'))
        self.assertFalse(instances.state_wins(1.0, 'a', 1.0, 'b'))
        # The same change again changes nothing.
        self.assertFalse(instances.state_wins(1.0, 'a', 1.0, 'a'))
        # A key beats none (a sync's state); without a key the stored
        # state stays.
        self.assertTrue(instances.state_wins(1.0, 'a', 1.0, None))
        self.assertFalse(instances.state_wins(1.0, None, 1.0, 'a'))
        self.assertFalse(instances.state_wins(1.0, None, 1.0, None))

    def test_undated_applies(self):
        self.assertTrue(instances.state_wins(None, None, 5.0, 'a'))
        self.assertTrue(instances.state_wins(1.0, 'a', None, None))

    def test_the_order_of_changes_does_not_matter(self):
        # Applying changes one after the other, each only when it wins,
        # ends on the same one whatever the order.
        rnd = random.Random(7)
        for _ in range(50):
            changes = [(rnd.choice([1.0, 2.0, 3.0]), rnd.choice('abcd'))
                       for _ in range(5)]
            finals = set()
            for order in itertools.permutations(changes):
                held = None
                for at, key in order:
                    if held is None or instances.state_wins(
                            at, key, held[0], held[1]):
                        held = (at, key)
                finals.add(held)
            self.assertEqual(1, len(finals), changes)
