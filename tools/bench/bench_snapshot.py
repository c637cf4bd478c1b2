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

"""Benchmark: the compute snapshot as Watcher gets it, by cloud size.

    tools/bench/bench_snapshot.py [--clouds 1000x20000,5000x100000]
                                  [--calls 5]

For each generated cloud (WIPES the Neo4j of TACHYON_NEO4J_URI, imports
it, starts a real tachyon-engine on TACHYON_TRANSPORT_URL) it times
``get_compute_snapshot`` over RPC and ``TachyonClusterModel.from_snapshot``
of its answer, as ``TachyonClusterModel.load`` makes them (the 1.8 packed
form, cyclic GC held off), p50 and max over ``--calls`` calls, with the
CPU seconds the engine process and the Neo4j process spent per snapshot
(the machine is shared: CPU seconds depend less on the load). Baselines
measured in the same run: Watcher's own ``ModelRoot.from_xml`` of the
same cloud, and the first cloud's figures (the growth ratio). The
clouds are imported staged (``--replace``), so this runs on Neo4j's
default 1 GB heap. Target: the 5,000 / 100,000 snapshot (call
+ build) under 3 s.
"""

import argparse
import gc
import os
import sys
import time
import urllib.parse

import psutil

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import tachyon.cmd  # noqa: E402,F401

from tools.bench import bench_compute_model as cloudgen  # noqa: E402
from tools.bench import engine as bench_engine  # noqa: E402


def _neo4j_process():
    """The process listening on TACHYON_NEO4J_URI's port, or None."""
    port = urllib.parse.urlsplit(os.environ['TACHYON_NEO4J_URI']).port
    for proc in psutil.process_iter(['name']):
        try:
            if 'java' not in (proc.info['name'] or ''):
                continue
            for conn in proc.net_connections(kind='tcp'):
                if (conn.status == psutil.CONN_LISTEN
                        and conn.laddr.port == port):
                    return proc
        except (psutil.AccessDenied, psutil.NoSuchProcess):
            continue
    return None


def _engine_processes():
    """tachyon-engine (running_engine's child) and the workers it forks."""
    return psutil.Process().children(recursive=True)


def _cpu(procs):
    if not procs:
        return float('nan')
    total = 0.0
    for proc in procs:
        times = proc.cpu_times()
        total += times.user + times.system
    return total


def _summary(samples):
    samples = sorted(samples)
    return samples[len(samples) // 2], samples[-1]


def run(n_nodes, n_instances, calls):
    from watcher.decision_engine.model import model_root

    from tachyon.client import model as tmodel
    from tachyon.common import gc_pause

    nodes, instances = bench_engine.load_cloud(n_nodes, n_instances, 11)
    dump = cloudgen.document(nodes, instances)
    gc.collect()
    start = time.perf_counter()
    model_root.ModelRoot.from_xml(dump)
    w_from_xml = time.perf_counter() - start
    del dump
    gc.collect()
    neo4j = _neo4j_process()
    rows = {'rpc': [], 'build': [], 'total': [], 'engine_cpu': [],
            'neo4j_cpu': [], 'client_cpu': []}
    with bench_engine.running_engine(bench_engine.transport_url(),
                                     timeout=600) as client:
        engine = _engine_processes()
        client.get_compute_snapshot()   # warm up: plans, caches
        for _ in range(calls):
            e0, n0 = _cpu(engine), _cpu([neo4j] if neo4j else [])
            c0 = time.process_time()
            start = time.perf_counter()
            # As TachyonClusterModel.load makes it (the 1.8 packed
            # form, the collector held off), with the call and the build
            # timed apart.
            with gc_pause.paused():
                snap = client.get_compute_snapshot(columns=True,
                                                   packed=True)
                mid = time.perf_counter()
                c1 = time.process_time()
                e1, n1 = _cpu(engine), _cpu([neo4j] if neo4j else [])
                tmodel.TachyonClusterModel.from_snapshot(snap)
            end = time.perf_counter()
            rows['rpc'].append(mid - start)
            rows['build'].append(end - mid)
            rows['total'].append(end - start)
            rows['engine_cpu'].append(e1 - e0)
            rows['neo4j_cpu'].append(n1 - n0)
            rows['client_cpu'].append(c1 - c0 + time.process_time() - c1)
            del snap
            gc.collect()
    result = {k: _summary(v) for k, v in rows.items()}
    result['from_xml'] = w_from_xml
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--clouds', default='1000x20000,5000x100000')
    parser.add_argument('--calls', type=int, default=5)
    args = parser.parse_args()
    clouds = [tuple(int(x) for x in c.split('x'))
              for c in args.clouds.split(',')]
    first = None
    for n_nodes, n_instances in clouds:
        res = run(n_nodes, n_instances, args.calls)
        print('cloud %d nodes / %d instances, %d calls'
              % (n_nodes, n_instances, args.calls))
        print('  Watcher ModelRoot.from_xml (baseline)   %7.2f s'
              % res['from_xml'])
        for key, label in (('rpc', 'get_compute_snapshot (RPC)'),
                           ('build', 'from_snapshot (client build)'),
                           ('total', 'snapshot as Watcher gets it')):
            p50, top = res[key]
            grow = ''
            if first is not None:
                grow = '  (%.1fx the first cloud)' % (p50 / first[key][0])
            print('  %-38s p50 %6.2f s  max %6.2f s%s'
                  % (label, p50, top, grow))
        for key, label in (('engine_cpu', 'engine CPU s per call'),
                           ('neo4j_cpu', 'Neo4j CPU s per call'),
                           ('client_cpu', 'client CPU s (call + build)')):
            p50, top = res[key]
            print('  %-38s p50 %6.2f s  max %6.2f s' % (label, p50, top))
        print('  target: total < 3 s at 5,000 / 100,000; %s'
              % ('met' if res['total'][0] < 3.0 else 'NOT met')
              if (n_nodes, n_instances) == (5000, 100000) else '')
        if first is None:
            first = res
        sys.stdout.flush()


if __name__ == '__main__':
    main()
