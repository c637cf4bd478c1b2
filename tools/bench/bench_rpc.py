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

"""Benchmark: RPC round trips to a real tachyon-engine, one run.

    tools/bench/bench_rpc.py [--nodes 1000] [--instances 20000]

Loads a generated cloud into the Neo4j of TACHYON_NEO4J_URI (WIPED), starts
tachyon-engine on the RabbitMQ of TACHYON_TRANSPORT_URL and prints p50/p99
of ``get_node_free_resources`` and of the compute snapshot, beside a bare
``ping`` (an oslo.messaging echo on the same broker and engine) as the
floor. Targets: free resources p50 within 2x the echo; snapshot < 1 s.
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

import tachyon.cmd  # noqa: E402,F401

from tools.bench import engine as bench_engine  # noqa: E402


def _percentiles(samples):
    samples = sorted(samples)
    return (samples[len(samples) // 2] * 1000.0,
            samples[min(len(samples) - 1, int(len(samples) * 0.99))]
            * 1000.0)


def _timed(func, count):
    return _percentiles(_samples(func, count))


def _samples(func, count):
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        func()
        samples.append(time.perf_counter() - start)
    return samples


def _interleaved(first, second, rounds):
    """(p50, p99) of ``first`` and of ``second``, timed alternately.

    Whatever else the machine does meanwhile (a checkpoint, a GC) falls
    on both alike.
    """
    one, two = [], []
    for _ in range(rounds):
        one.extend(_samples(first, 1))
        two.extend(_samples(second, 1))
    return _percentiles(one), _percentiles(two)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--nodes', type=int, default=1000)
    parser.add_argument('--instances', type=int, default=20000)
    parser.add_argument('--calls', type=int, default=1000,
                        help='timed calls of each of echo and free '
                             'resources, alternating')
    parser.add_argument('--warmup', type=int, default=300,
                        help='untimed rounds before')
    args = parser.parse_args()
    url = bench_engine.transport_url()
    nodes, _instances = bench_engine.load_cloud(args.nodes, args.instances,
                                                11)
    with bench_engine.running_engine(url) as client:
        rnd = random.Random(3)
        uuids = [n['uuid'] for n in nodes]

        def call_echo():
            client.ping('x' * 64)

        def call_free():
            client.get_node_free_resources(rnd.choice(uuids))

        _interleaved(call_echo, call_free, args.warmup)
        echo, free = _interleaved(call_echo, call_free, args.calls)
        client.get_compute_snapshot()
        snap = _timed(client.get_compute_snapshot, 10)
        print('cloud %d nodes / %d instances' % (args.nodes,
                                                 args.instances))
        print('  echo (ping) floor              p50 %7.2f ms  p99 %7.2f ms'
              % echo)
        ratio = free[0] / echo[0]
        print('  get_node_free_resources        p50 %7.2f ms  p99 %7.2f ms'
              '  (%.2fx the echo; target <= 2x)' % (free + (ratio,)))
        print('  get_compute_snapshot           p50 %7.1f ms  p99 %7.1f ms'
              '  (target < 1000 ms)' % snap)


if __name__ == '__main__':
    main()
