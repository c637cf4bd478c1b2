#!/usr/bin/env python3
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

"""Benchmark: what 100 pending action plans' reservations cost, one run.

    tools/bench/bench_reservations.py [--clouds 1000x20000] [--plans 100]
                                      [--moves 5] [--runs 5]

For each generated cloud (loaded into the Neo4j named by
TACHYON_NEO4J_URI, which is WIPED; see tools/devservices.py env) it
times, in this order and in one process:

1. the compute snapshot (what ``get_compute_snapshot`` reads: the
   whole model, what is held withheld from capacity) and the all-nodes
   usage, with no reservation: the baseline;
2. the same with ``--plans`` active reservations of ``--moves`` moves
   each, made as Watcher's action_plan.create makes them (an audit's
   closed session, then the plan's change applied by the graph layer);
3. the same again once every reservation is released: the baseline
   measured again, so that a drift of the machine shows.

Every run's time is printed, then the medians and the ratio of the
median with reservations to the median of both baselines (target: at
most 1.2 for the snapshot).
"""

import argparse
import os
import random
import statistics
import sys
import time
import uuid as uuid_lib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import tachyon.cmd  # noqa: E402,F401 - threading backend, quiet eventlet

from tools.bench import bench_compute_model as cloudgen  # noqa: E402
from tools.bench import bench_sessions as sessbench  # noqa: E402


def _time(func, runs):
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        func()
        samples.append(time.perf_counter() - start)
    return samples


def _fmt(samples):
    return ' '.join('%.1f' % (s * 1000.0) for s in samples)


def _reserve(graph, mgr, rnd, instances, node_ids, n_plans, n_moves):
    from tachyon.graph import events
    from tachyon.model import changes
    from tachyon.model import plans
    placed = {i['uuid']: i['node'] for i in instances if i['node']}
    chosen = rnd.sample(sorted(placed), n_plans * n_moves)
    made = []
    now = time.time()
    for index in range(n_plans):
        audit = str(uuid_lib.UUID(int=rnd.getrandbits(128), version=4))
        sid = mgr.create_session(ttl=3600, audit_uuid=audit)['id']
        specs = []
        for inst in chosen[index * n_moves:(index + 1) * n_moves]:
            dest = rnd.choice([u for u in rnd.sample(node_ids, 2)
                               if u != placed[inst]])
            specs.append(sessbench.move_spec(inst, placed[inst], dest))
        mgr.record_deltas(sid, specs)
        mgr.close_session(sid)
        plan = str(uuid_lib.UUID(int=rnd.getrandbits(128), version=4))
        events.apply_changes(graph, [changes.Change(
            kind=changes.ACTION_PLAN, action=changes.UPSERT, key=plan,
            timestamp=now, record=plans.ActionPlanState(
                uuid=plan, audit_uuid=audit, state=plans.RECOMMENDED,
                created_at=now))])
        made.append(plan)
    return made


def run(graph, conf, n_nodes, n_instances, n_plans, n_moves, runs, seed):
    import logging
    from tachyon.graph import reservations
    from tachyon import watcher_xml
    from tachyon.simulation import manager
    from tachyon.simulation import virtual

    # The generated clouds overcommit some disks already: each plan onto
    # one would log its conflict.
    logging.getLogger(reservations.__name__).setLevel(logging.ERROR)
    nodes, instances = cloudgen.generate(n_nodes, n_instances, seed)
    cloudgen.wipe(graph)
    watcher_xml.import_model(graph, cloudgen.document(nodes, instances))
    mgr = manager.SessionManager(conf, graph)
    rnd = random.Random(seed)
    node_ids = [n['uuid'] for n in nodes]

    def snapshot():
        virtual.get_compute_model(graph, None)

    def usage():
        virtual.get_all_nodes_usage(graph, None)

    snapshot()  # warm the page cache and the query plans
    usage()
    before = (_time(snapshot, runs), _time(usage, runs))
    made = _reserve(graph, mgr, rnd, instances, node_ids, n_plans, n_moves)
    live = [r for r in reservations.list_reservations(graph, 'active')]
    holding = sum(r['holding'] for r in live)
    snapshot()
    usage()
    held = (_time(snapshot, runs), _time(usage, runs))
    for plan in made:
        reservations.release(graph, plan)
    snapshot()
    usage()
    after = (_time(snapshot, runs), _time(usage, runs))

    print('cloud %d nodes / %d instances, %d active reservations holding '
          '%d moves' % (n_nodes, n_instances, len(live), holding))
    for index, name in enumerate(('compute snapshot', 'all-nodes usage')):
        base = statistics.median(before[index] + after[index])
        with_held = statistics.median(held[index])
        print('  %s (ms per run)' % name)
        print('    none, before         %s' % _fmt(before[index]))
        print('    %d reservations     %s' % (len(live), _fmt(held[index])))
        print('    none, after release  %s' % _fmt(after[index]))
        print('    median: none %.1f ms, with %.1f ms: %.3fx%s'
              % (base * 1000.0, with_held * 1000.0, with_held / base,
                 '  (target <= 1.2)' if index == 0 else ''))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--clouds', default='1000x20000')
    parser.add_argument('--plans', type=int, default=100)
    parser.add_argument('--moves', type=int, default=5)
    parser.add_argument('--runs', type=int, default=5)
    parser.add_argument('--seed', type=int, default=7)
    args = parser.parse_args()
    graph = cloudgen._graph()
    conf = sessbench.session_conf()
    for spec in args.clouds.split(','):
        n_nodes, n_instances = (int(x) for x in spec.split('x'))
        run(graph, conf, n_nodes, n_instances, args.plans, args.moves,
            args.runs, args.seed)
    graph.close()


if __name__ == '__main__':
    main()
