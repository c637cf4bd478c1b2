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

import gc
import threading

from tachyon.common import gc_pause
from tests import base


class TestPaused(base.TestCase):

    def setUp(self):
        super().setUp()
        self.addCleanup(gc.enable if gc.isenabled() else gc.disable)
        gc.enable()

    def test_off_within_on_after(self):
        with gc_pause.paused():
            self.assertFalse(gc.isenabled())
        self.assertTrue(gc.isenabled())

    def test_left_off_when_it_was_off(self):
        gc.disable()
        with gc_pause.paused():
            self.assertFalse(gc.isenabled())
        self.assertFalse(gc.isenabled())

    def test_on_again_after_an_error(self):
        def fail():
            with gc_pause.paused():
                raise KeyError('x')

        self.assertRaises(KeyError, fail)
        self.assertTrue(gc.isenabled())

    def test_overlapping_pauses_end_with_the_last(self):
        first_in, second_in = threading.Event(), threading.Event()
        first_out, second_out = threading.Event(), threading.Event()
        seen = {}

        def first():
            with gc_pause.paused():
                first_in.set()
                second_in.wait(10)
            seen['after first'] = gc.isenabled()
            first_out.set()

        def second():
            first_in.wait(10)
            with gc_pause.paused():
                second_in.set()
                first_out.wait(10)
                seen['second alone'] = gc.isenabled()
            second_out.set()

        threads = [threading.Thread(target=first),
                   threading.Thread(target=second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        self.assertTrue(second_out.is_set())
        self.assertEqual({'after first': False, 'second alone': False},
                         seen)
        self.assertTrue(gc.isenabled())
