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

"""Benchmark: forked simulation sessions, baselines of the same run.

    tools/bench/bench_forks.py [--large] [--clouds 1000x20000]

For each generated cloud (loaded into the Neo4j named by
TACHYON_NEO4J_URI, which is WIPED; see tools/devservices.py env;
``--large`` adds 5,000 nodes / 100,000 instances) it prints:

* the p50 of a warm-up of ``WARMUP_PAIRS`` fork/create pairs, not
  counted: a Neo4j just started (or just after a large import) runs
  these statements slowly until its JIT has compiled them (about 12 ms
  for the first ten, under 5 ms after a hundred, about 1.5 ms after a
  thousand on the development machine);
* fork p50 (of 50, after 10 not counted) with the parent holding 0,
  100 and 1,000 deltas, target < 5 ms and flat in both the parent's
  deltas and the cloud; beside it the p50 of a root session's creation,
  timed alternately with the forks;
* all-nodes usage (p50 of 10) and one node's free resources (p50 of 200)
  on the last fork of a depth-4 chain (root and four forks, 200 deltas
  each, 1,000 in all) against one session holding the same 1,000 deltas
  in the same order, the two measured alternately; target: the chain at
  most 1.5x the session. The two answers are compared first.
"""

import argparse
import os
import random
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import tachyon.cmd  # noqa: E402,F401 - threading backend, quiet eventlet

from tools.bench import bench_compute_model as cloudgen  # noqa: E402
from tools.bench import bench_sessions as sessbench  # noqa: E402

DEPTH = 4
CHAIN_DELTAS = 1000
WARMUP = 10
WARMUP_PAIRS = 300

_ms = sessbench.median_ms


def _timed(func, *args):
    start = time.perf_counter()
    func(*args)
    return time.perf_counter() - start


def _moves(rnd, placed, node_ids, count):
    """``count`` random MOVE specs, each from where the instance is."""
    instance_ids = sorted(placed)
    specs = []
    while len(specs) < count:
        inst = rnd.choice(instance_ids)
        dest = rnd.choice(node_ids)
        if dest == placed[inst]:
            continue
        specs.append(sessbench.move_spec(inst, placed[inst], dest))
        placed[inst] = dest
    return specs


def _pairs(mgr, parent, count):
    """``count`` forks of ``parent`` and root creations, alternately.

    Each fork is reverted and each root rolled back at once; returns the
    (fork, creation) times.
    """
    forks, creates = [], []
    for _ in range(count):
        start = time.perf_counter()
        child = mgr.fork_session(parent, ttl=600)
        forks.append(time.perf_counter() - start)
        start = time.perf_counter()
        root = mgr.create_session(ttl=600)
        creates.append(time.perf_counter() - start)
        mgr.revert_session(child['id'])
        mgr.rollback_session(root['id'])
    return forks, creates


def _record(mgr, sid, specs):
    for start in range(0, len(specs), 100):
        mgr.record_deltas(sid, specs[start:start + 100])


def run(graph, conf, n_nodes, n_instances, seed):
    from tachyon import watcher_xml
    from tachyon.simulation import manager

    nodes, instances = cloudgen.generate(n_nodes, n_instances, seed)
    graph.run_autocommit('MATCH (n) WHERE NOT n:TachyonSchema '
                         'CALL (n) { DETACH DELETE n } '
                         'IN TRANSACTIONS OF 10000 ROWS')
    start = time.perf_counter()
    watcher_xml.import_model(graph, cloudgen.document(nodes, instances))
    load = time.perf_counter() - start
    mgr = manager.SessionManager(conf, graph)
    rnd = random.Random(seed)
    node_ids = [n['uuid'] for n in nodes]
    placed = {i['uuid']: i['node'] for i in instances if i['node']}

    print('cloud %d nodes / %d instances (import %.1f s)'
          % (n_nodes, n_instances, load))
    parent = mgr.create_session(ttl=3600)['id']
    forks, creates = _pairs(mgr, parent, WARMUP_PAIRS)
    print('  warm-up, %d pairs first, not counted: fork p50 %.2f ms, '
          'create p50 %.2f ms' % (WARMUP_PAIRS, _ms(forks), _ms(creates)))
    parent_placed = dict(placed)
    held = 0
    for count in (0, 100, 1000):
        _record(mgr, parent, _moves(rnd, parent_placed, node_ids,
                                    count - held))
        held = count
        # Alternately, so that the machine's load weighs on both alike;
        # the first WARMUP pairs are not counted.
        forks, creates = _pairs(mgr, parent, WARMUP + 50)
        forks, creates = forks[WARMUP:], creates[WARMUP:]
        print('  fork, parent with %4d deltas   p50  %8.2f ms  (target < 5;'
              ' baseline: session create p50 %.2f ms)'
              % (count, _ms(forks), _ms(creates)))

    # The same 1,000 moves: spread over a chain, and in one session.
    specs = _moves(rnd, dict(placed), node_ids, CHAIN_DELTAS)
    flat = mgr.create_session(ttl=3600)['id']
    _record(mgr, flat, specs)
    per = CHAIN_DELTAS // (DEPTH + 1)
    chain = mgr.create_session(ttl=3600)['id']
    for level in range(DEPTH + 1):
        if level:
            chain = mgr.fork_session(chain, ttl=3600)['id']
        _record(mgr, chain, specs[level * per:(level + 1) * per])
    assert mgr.get_session(chain)['depth'] == DEPTH
    if mgr.get_all_nodes_usage(chain) != mgr.get_all_nodes_usage(flat):
        sys.exit('the chain and the session disagree')
    sample = rnd.sample(node_ids, 200)
    for uuid in sample[:20]:
        if (mgr.get_node_free_resources(uuid, chain)
                != mgr.get_node_free_resources(uuid, flat)):
            sys.exit('the chain and the session disagree on %s' % uuid)
    usage = {'flat': [], 'chain': []}
    free = {'flat': [], 'chain': []}
    for _ in range(10):
        for name, sid in (('flat', flat), ('chain', chain)):
            usage[name].append(_timed(mgr.get_all_nodes_usage, sid))
    for uuid in sample:
        for name, sid in (('flat', flat), ('chain', chain)):
            free[name].append(_timed(mgr.get_node_free_resources, uuid,
                                     sid))
    for label, samples in (('all-nodes usage', usage),
                           ('node free resources', free)):
        flat_ms, chain_ms = _ms(samples['flat']), _ms(samples['chain'])
        print('  %-20s one session %8.2f ms, depth-%d chain %8.2f ms: '
              '%.2fx  (target <= 1.5x)' % (label, flat_ms, DEPTH, chain_ms,
                                           chain_ms / flat_ms))
    sys.stdout.flush()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--clouds', default='1000x20000')
    parser.add_argument('--large', action='store_true',
                        help='also 5,000 nodes / 100,000 instances')
    parser.add_argument('--seed', type=int, default=7)
    args = parser.parse_args()
    clouds = args.clouds.split(',')
    if args.large:
        clouds.append('5000x100000')
    graph = cloudgen._graph()
    conf = sessbench.session_conf()
    for spec in clouds:
        n_nodes, n_instances = (int(x) for x in spec.split('x'))
        run(graph, conf, n_nodes, n_instances, args.seed)
    graph.close()


if __name__ == '__main__':
    main()
