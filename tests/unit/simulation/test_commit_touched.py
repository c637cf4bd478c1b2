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

"""What a commit locks before its conflict check."""

from tachyon.simulation import commit
from tests import base
from tests.unit.simulation import test_deltas


class TestTouched(base.TestCase):

    def test_consumers_and_providers_each_sorted_once(self):
        d = test_deltas.delta
        found = commit.touched([
            d('MOVE', consumer='i2', source='n3', dest='n1'),
            d('MOVE', consumer='i1', source='n1', dest='n2'),
            d('ALLOCATE', consumer='i3', dest='n3'),
            d('DEALLOCATE', consumer='i2', source='n1'),
            d('RESIZE', consumer='i1', source='n2')])
        self.assertEqual((['i1', 'i2', 'i3'], ['n1', 'n2', 'n3']), found)

    def test_no_deltas_lock_nothing(self):
        self.assertEqual(([], []), commit.touched([]))
