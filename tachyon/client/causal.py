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

"""An engine client whose calls form one causal chain (RPC API 1.4).

Several tachyon-engine processes serve one topic, each on its own
connection to a Neo4j cluster whose followers may lag behind the leader.
:class:`CausalEngineAPI` sends every call with the bookmarks of the
answers it got so far and keeps the ones each answer returns, so a call's
reads see the writes of every call made before it through this client:
a session's ``record_deltas`` on one engine, then its snapshot on
another, read the deltas just recorded.

Bookmarks are kept per client, not per session: a client's calls are
chained whatever session they name, which is more than a session needs
and costs nothing on a single server. Calls that run at the same time
(the model's delta sender and the strategy's queries) each send what is
known when they start; an answer replaces the bookmarks its call sent,
so the set holds about one bookmark per call in flight. A call sent
again (:mod:`tachyon.rpc.api`'s retries) sends the same bookmarks.

Capped below 1.4 ([engine]/rpc_version_cap during a rolling upgrade),
the client sends no bookmarks and gets plain answers: as before, reads
may then land on a follower that has not caught up.
"""

import threading

from tachyon.rpc import api

#: The RPC API version that takes ``bookmarks``.
CAUSAL_VERSION = '1.4'


def _newer(version, other):
    """The later of two 'X.Y' versions."""
    def key(v):
        return tuple(int(part) for part in v.split('.'))
    return version if key(version) >= key(other) else other


class CausalEngineAPI(api.EngineAPI):
    """:class:`tachyon.rpc.api.EngineAPI` carrying Neo4j bookmarks."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._bookmarks_lock = threading.Lock()
        self._bookmarks = frozenset()

    @property
    def bookmarks(self):
        """The bookmarks the next call sends, sorted."""
        with self._bookmarks_lock:
            return sorted(self._bookmarks)

    @property
    def causal(self):
        """True when calls carry bookmarks (the version cap allows 1.4)."""
        return self.can_send_version(CAUSAL_VERSION)

    def _call(self, method, version='1.0', timeout=None, **kwargs):
        if not self.causal:
            return super()._call(method, version=version, timeout=timeout,
                                 **kwargs)
        with self._bookmarks_lock:
            sent = self._bookmarks
        answer = super()._call(method, version=_newer(version,
                                                      CAUSAL_VERSION),
                               timeout=timeout, bookmarks=sorted(sent),
                               **kwargs)
        with self._bookmarks_lock:
            self._bookmarks = ((self._bookmarks - sent)
                               | frozenset(answer['bookmarks']))
        return answer['result']
