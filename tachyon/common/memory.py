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

"""Giving a long-lived process the memory of a finished model back.

A decision engine loads a whole cloud's model for each audit and drops it
when the strategy has run. CPython frees the objects, but the memory stays
with the process: glibc keeps the freed heap pages for the next
allocation, so the engine's resident size grows to its largest audit and
stays there. :func:`release` collects what only the cyclic collector can
free, then asks glibc (where it is the C library) to return its free pages
to the system with ``malloc_trim``.
"""

import ctypes
import ctypes.util
import gc
import threading

_lock = threading.Lock()
_trim = None
_looked_up = False


def _malloc_trim():
    global _trim, _looked_up
    with _lock:
        if not _looked_up:
            _looked_up = True
            try:
                libc = ctypes.CDLL(ctypes.util.find_library('c')
                                   or 'libc.so.6')
                _trim = libc.malloc_trim
                _trim.argtypes = [ctypes.c_size_t]
                _trim.restype = ctypes.c_int
            except (OSError, AttributeError):
                _trim = None   # not glibc: nothing to ask
        return _trim


def release():
    """Collect garbage, then hand free heap pages back; True if trimmed."""
    gc.collect()
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
