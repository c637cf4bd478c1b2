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

"""Freed memory handed back to the system."""

import gc
import weakref

from tachyon.common import memory
from tests import base


class Node(object):
    pass


def rss_kib():
    with open('/proc/self/status') as status:
        for line in status:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])


class TestRelease(base.TestCase):

    def test_cycles_are_collected(self):
        gc.disable()
        self.addCleanup(gc.enable)
        a, b = Node(), Node()
        a.other, b.other = b, a
        ref = weakref.ref(a)
        del a, b
        self.assertIsNotNone(ref())
        memory.release()
        self.assertIsNone(ref())

    def test_freed_heap_goes_back_to_the_system(self):
        # Some 200 MB of small objects, as a model's elements are, then one
        # that outlives them at the top of the heap: glibc keeps the freed
        # pages below it (measured here: 197 of 204 MB) until trimmed.
        before = rss_kib()
        blocks = [bytearray(2000) for _i in range(100000)]
        pin = bytearray(2000)
        self.addCleanup(lambda: pin)
        grown = rss_kib()
        self.assertGreater(grown - before, 150000)
        del blocks
        self.assertTrue(memory.release())  # glibc, on this platform
        self.assertLess(rss_kib() - before, (grown - before) // 4)
