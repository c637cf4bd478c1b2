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

"""Benchmark: simulation sessions against Watcher's deepcopy, one run.

    tools/bench/bench_sessions.py [--clouds 1000x20000,5000x100000]

For each generated cloud (loaded into the Neo4j named by
TACHYON_NEO4J_URI, which is WIPED; see tools/devservices.py env) it
prints, beside the same cloud in Watcher's in-memory ModelRoot:

* session create (p50 of 50), target < 10 ms and flat as the cloud grows;
* delta record p50 (MOVE deltas, one per call), target < 5 ms;
* all-nodes virtual usage with 1,000 deltas recorded, target < 200 ms;
* commit of 500 moves, target < 2 s (on the first cloud only);
* the baseline: copy.deepcopy of Watcher's ModelRoot and the memory it
  takes (tracemalloc peak).
"""

import argparse
import copy
import os
import random
import statistics
import sys
import time
import tracemalloc

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import tachyon.cmd  # noqa: E402,F401 - threading backend, quiet eventlet

from tools.bench import bench_compute_model as cloudgen  # noqa: E402


def median_ms(samples):
    """The median of ``samples`` (seconds), in milliseconds."""
    return statistics.median(samples) * 1000.0


def session_conf():
    """Tachyon's options, with room for a benchmark's many sessions."""
    from tachyon import conf
    conf.CONF([], project='tachyon', default_config_files=[])
    conf.CONF.set_override('max_active_sessions', 10000,
                           group='simulation')
    conf.CONF.set_override('max_deltas_per_session', 100000,
                           group='simulation')
    return conf.CONF


def move_spec(consumer, source, destination):
    """A MOVE delta spec, recorded without a capacity check."""
    return {'type': 'MOVE', 'consumer_uuid': consumer,
            'source_uuid': source, 'destination_uuid': destination,
            'check_capacity': False}


def run(graph, conf, n_nodes, n_instances, with_commit, seed):
    from tachyon import watcher_xml
    from tachyon.simulation import manager
    from tachyon.simulation import virtual

    nodes, instances = cloudgen.generate(n_nodes, n_instances, seed)
    graph.run_autocommit('MATCH (n) WHERE NOT n:TachyonSchema '
                         'CALL (n) { DETACH DELETE n } '
                         'IN TRANSACTIONS OF 10000 ROWS')
    start = time.perf_counter()
    watcher_xml.import_model(graph, cloudgen.document(nodes, instances))
    load = time.perf_counter() - start

    model = cloudgen.watcher_build(nodes, instances)
    start = time.perf_counter()
    tracemalloc.start()
    clone = copy.deepcopy(model)
    _cur, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    deepcopy_s = time.perf_counter() - start
    # Without tracemalloc's overhead, as Watcher runs it.
    start = time.perf_counter()
    clone = copy.deepcopy(model)
    deepcopy_plain = time.perf_counter() - start
    del clone

    mgr = manager.SessionManager(conf, graph)
    creates = []
    for _ in range(50):
        start = time.perf_counter()
        mgr.create_session(ttl=600)
        creates.append(time.perf_counter() - start)
    sid = mgr.create_session(ttl=3600)['id']

    rnd = random.Random(seed)
    placed = {i['uuid']: i['node'] for i in instances if i['node']}
    node_ids = [n['uuid'] for n in nodes]
    records_s = []
    instance_ids = sorted(placed)
    moves = 0
    while moves < 1000:
        inst = rnd.choice(instance_ids)
        src = placed[inst]
        dest = rnd.choice(node_ids)
        if dest == src:
            continue
        start = time.perf_counter()
        mgr.migrate_instance(sid, inst, src, dest, check_capacity=False)
        records_s.append(time.perf_counter() - start)
        placed[inst] = dest
        moves += 1
    usage_s = []
    for _ in range(5):
        start = time.perf_counter()
        virtual.get_all_nodes_usage(graph, sid)
        usage_s.append(time.perf_counter() - start)
    one_node = []
    for node_uuid in rnd.sample(node_ids, 50):
        start = time.perf_counter()
        mgr.get_node_used_resources(node_uuid, sid)
        one_node.append(time.perf_counter() - start)

    print('cloud %d nodes / %d instances (import %.1f s)'
          % (n_nodes, n_instances, load))
    print('  Watcher copy.deepcopy(ModelRoot)       %8.3f s   (+%.0f MiB '
          'traced; %.3f s under tracemalloc)'
          % (deepcopy_plain, peak / 2 ** 20, deepcopy_s))
    print('  Tachyon session create           p50   %8.2f ms  (target < 10)'
          % median_ms(creates))
    print('  Tachyon delta record (MOVE)      p50   %8.2f ms  (target < 5)'
          % median_ms(records_s))
    print('  Tachyon node usage, 1000 deltas  p50   %8.2f ms'
          % median_ms(one_node))
    print('  Tachyon all-nodes usage, 1000 deltas   %8.1f ms  (target < 200)'
          % (min(usage_s) * 1000.0))
    if with_commit:
        sid = mgr.create_session(ttl=3600)['id']
        placed = {i['uuid']: i['node'] for i in instances if i['node']}
        specs = []
        for inst in rnd.sample(sorted(placed), 500):
            dest = rnd.choice([u for u in rnd.sample(node_ids, 2)
                               if u != placed[inst]])
            specs.append(move_spec(inst, placed[inst], dest))
        for i in range(0, 500, 100):
            mgr.record_deltas(sid, specs[i:i + 100])
        start = time.perf_counter()
        result = mgr.commit_session(sid)
        commit_s = time.perf_counter() - start
        print('  Tachyon commit of %d moves             %8.3f s   '
              '(target < 2)' % (result['applied'], commit_s))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--clouds', default='1000x20000,5000x100000')
    parser.add_argument('--seed', type=int, default=7)
    args = parser.parse_args()
    graph = cloudgen._graph()
    conf = session_conf()
    for index, spec in enumerate(args.clouds.split(',')):
        n_nodes, n_instances = (int(x) for x in spec.split('x'))
        run(graph, conf, n_nodes, n_instances, index == 0, args.seed)
    graph.close()


if __name__ == '__main__':
    main()
