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

"""Base class of functional tests: real Neo4j, clean graph per test."""

import threading
import uuid

from tachyon.graph import driver
from tachyon.notifications import listener
from tests import base
from tests.fixtures import services


class FunctionalTestCase(base.TestCase):

    def setUp(self):
        super().setUp()
        self.neo4j = self.useFixture(services.Neo4jFixture(conf=self.conf))
        self.graph = self.neo4j.graph
        # A listener pool (so a queue) of this test's own: what an earlier
        # test published and did not wait for is not this test's input.
        self.flags(group='notifications',
                   pool='tachyon-test-%s' % uuid.uuid4().hex[:12])

    def start_listener(self, graph=None):
        """Start Tachyon's listener on this test's configuration.

        It gets a graph of its own (as the engine has) unless ``graph`` is
        given; both are stopped and closed when the test ends.
        """
        engine_graph = graph or driver.Graph.from_conf(self.conf)
        if graph is None:
            self.addCleanup(engine_graph.close)
        lst = listener.build(self.conf, engine_graph)
        lst.start()

        def stop():
            lst.stop()
            lst.wait()
        self.addCleanup(stop)
        return lst


def routing_uri(uri):
    """``uri`` (bolt://, bolt+s://, bolt+ssc://) with the routing scheme.

    Neo4j 5 Community answers a ``neo4j://`` driver with a routing table
    of one member (itself), so the routed code paths of the driver
    (routing table fetch and refresh, read and write routing, bookmarks)
    run against the test server as they would against a cluster.
    """
    scheme, sep, rest = uri.partition('://')
    if not sep:
        raise ValueError('not a URI: %r' % uri)
    return 'neo4j' + scheme[len('bolt'):] + '://' + rest \
        if scheme.startswith('bolt') else uri


def concurrently(call, count=4):
    """``call()`` in ``count`` threads released at once: answers, errors.

    What a retry reaching another engine while the first attempt still
    runs looks like to the graph.
    """
    answers, errors = [], []
    barrier = threading.Barrier(count)

    def attempt():
        barrier.wait()
        try:
            answers.append(call())
        except Exception as exc:  # noqa: B902 - returned to the test
            errors.append(exc)
    threads = [threading.Thread(target=attempt) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers, errors
