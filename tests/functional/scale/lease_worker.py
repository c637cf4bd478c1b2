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

"""A worker process running one periodic task under tachyon-engine's lease.

``python -m tests.functional.scale.lease_worker HOLDER INTERVAL TTL RUN``
(the graph from TACHYON_NEO4J_URI, _USER, _PASSWORD): the engine's own
:class:`tachyon.service.PeriodicTask` runs a task of ``RUN`` seconds
every ``INTERVAL``, with a lease of ``TTL``. Each run is a
``(:LeaseRun)`` node, written only by fenced writes
(:func:`tachyon.graph.leases.fence`): its start, a step every 0.1 s, its
end. A run whose lease is lost stops at its first refused write.
"""

import os
import sys
import time
import uuid

from tachyon import exception
from tachyon.graph import driver
from tachyon.graph import leases
from tachyon import service

NAME = 'scale-probe'
LEASE = 'periodic:' + NAME

START = """
CREATE (:LeaseRun {id: $id, holder: $holder, started: $now, last: $now,
                   steps: 0})
"""
STEP = """
MATCH (r:LeaseRun {id: $id})
SET r.last = $now, r.steps = r.steps + 1
"""
END = """
MATCH (r:LeaseRun {id: $id})
SET r.last = $now, r.ended = $now
"""


def _fenced(tx, query, holder, run_id):
    now = time.time()
    leases.fence(tx, LEASE, holder, now=now)
    tx.run(query, id=run_id, holder=holder, now=now).consume()


def main(holder, interval, ttl, length):
    graph = driver.Graph(os.environ['TACHYON_NEO4J_URI'],
                         username=os.environ.get('TACHYON_NEO4J_USER',
                                                 'neo4j'),
                         password=os.environ.get('TACHYON_NEO4J_PASSWORD',
                                                 ''))

    def task():
        run_id = str(uuid.uuid4())
        try:
            graph.write(_fenced, START, holder, run_id)
            deadline = time.time() + length
            while time.time() < deadline:
                time.sleep(0.1)
                graph.write(_fenced, STEP, holder, run_id)
            graph.write(_fenced, END, holder, run_id)
        except exception.InvalidState as exc:
            print('run %s stopped: %s' % (run_id, exc), flush=True)

    periodic = service.PeriodicTask(graph, NAME, interval, task, holder,
                                    lease_ttl=ttl)
    print('worker %s started' % holder, flush=True)
    periodic.start()
    periodic.wait()


if __name__ == '__main__':
    main(sys.argv[1], float(sys.argv[2]), float(sys.argv[3]),
         float(sys.argv[4]))
