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

"""A worker process running the session reaper as tachyon-engine does.

``python -m tests.functional.scale.reaper_worker HOLDER INTERVAL TTL RUN``
(the graph from TACHYON_NEO4J_URI, _USER, _PASSWORD): the engine's own
:class:`tachyon.service.PeriodicTask` runs the engine's reaper write
(:func:`tachyon.graph.sessions.reap_sessions`) every ``INTERVAL`` with a
lease of ``TTL``, through the task's fenced graph only, exactly as
:meth:`tachyon.service.EngineService.leased` wires it; no write here
calls :func:`tachyon.graph.leases.fence` itself.

A run writes its start (a ``(:ReaperRun)`` node), then takes ``RUN``
seconds before the reaper write (the part of a full sync that fetches
from Nova: a worker paused there holds no transaction open), then
reaps, then writes its end with what it reaped. A run whose reaper
write is refused prints ``reap refused RUN_ID`` and stops.
"""

import os
import sys
import time
import uuid

from tachyon import exception
from tachyon.graph import driver
from tachyon.graph import sessions
from tachyon import service

NAME = 'scale-reaper'

START = """
CREATE (:ReaperRun {id: $id, holder: $holder, started: $now, last: $now})
"""
END = """
MATCH (r:ReaperRun {id: $id})
SET r.last = $now, r.ended = $now, r.expired = $expired
"""


def _write(tx, query, **params):
    tx.run(query, now=time.time(), **params).consume()


def main(holder, interval, ttl, length):
    graph = driver.Graph(os.environ['TACHYON_NEO4J_URI'],
                         username=os.environ.get('TACHYON_NEO4J_USER',
                                                 'neo4j'),
                         password=os.environ.get('TACHYON_NEO4J_PASSWORD',
                                                 ''))

    def reaper(fenced):
        run_id = str(uuid.uuid4())
        fenced.write(_write, START, id=run_id, holder=holder)
        print('run %s started' % run_id, flush=True)
        time.sleep(length)
        try:
            expired, _purged = sessions.reap_sessions(fenced, 3600)
        except exception.InvalidState:
            print('reap refused %s' % run_id, flush=True)
            raise
        fenced.write(_write, END, id=run_id, expired=expired)
        print('run %s reaped %s' % (run_id, expired), flush=True)

    periodic = service.PeriodicTask(graph, NAME, interval, None, holder,
                                    lease_ttl=ttl)
    periodic.func = lambda: reaper(periodic.graph_for_task)
    print('worker %s started' % holder, flush=True)
    periodic.start()
    periodic.wait()


if __name__ == '__main__':
    main(sys.argv[1], float(sys.argv[2]), float(sys.argv[3]),
         float(sys.argv[4]))
