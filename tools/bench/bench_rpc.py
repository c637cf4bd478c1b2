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
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import tachyon.cmd  # noqa: E402,F401

from tools.bench import bench_compute_model as cloudgen  # noqa: E402


def _timed(func, count):
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        func()
        samples.append(time.perf_counter() - start)
    samples.sort()
    return (samples[len(samples) // 2] * 1000.0,
            samples[min(len(samples) - 1, int(len(samples) * 0.99))]
            * 1000.0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--nodes', type=int, default=1000)
    parser.add_argument('--instances', type=int, default=20000)
    parser.add_argument('--calls', type=int, default=500)
    args = parser.parse_args()
    url = os.environ.get('TACHYON_TRANSPORT_URL')
    if not url:
        sys.exit('Export TACHYON_TRANSPORT_URL (tools/devservices.py env).')

    from tachyon import conf as tconf
    from tachyon.model import watcher_xml
    from tachyon import rpc
    from tachyon.rpc import api

    graph = cloudgen._graph()
    graph.run_autocommit('MATCH (n) WHERE NOT n:TachyonSchema '
                         'CALL (n) { DETACH DELETE n } '
                         'IN TRANSACTIONS OF 10000 ROWS')
    nodes, instances = cloudgen.generate(args.nodes, args.instances, 11)
    watcher_xml.import_model(graph, cloudgen.document(nodes, instances))
    graph.close()

    topic = 'tachyon-bench-%d' % os.getpid()
    env = dict(os.environ, OS_NEO4J__URI=os.environ['TACHYON_NEO4J_URI'],
               OS_NEO4J__USERNAME=os.environ.get('TACHYON_NEO4J_USER',
                                                 'neo4j'),
               OS_NEO4J__PASSWORD=os.environ.get('TACHYON_NEO4J_PASSWORD',
                                                 ''),
               OS_DEFAULT__TRANSPORT_URL=url, OS_ENGINE__TOPIC=topic,
               OS_NOTIFICATIONS__ENABLE_LISTENER='false',
               OS_COLLECTORS__ENABLED_COLLECTORS='')
    log = tempfile.NamedTemporaryFile(prefix='bench-engine-', suffix='.log',
                                      delete=False)
    engine = subprocess.Popen([sys.executable, '-m', 'tachyon.cmd.engine',
                               '--config-file', os.devnull], env=env,
                              stdout=log, stderr=subprocess.STDOUT)
    try:
        conf = tconf.CONF
        conf([], project='tachyon', default_config_files=[])
        rpc.register_transport_opts(conf)
        conf.set_override('transport_url', url)
        # A call sent before the engine's queue exists is lost: wait for
        # the engine with short timeouts first.
        probe = api.EngineAPI(conf, topic=topic, timeout=2)
        deadline = time.monotonic() + 90
        while True:
            try:
                probe.ping()
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
        client = api.EngineAPI(conf, topic=topic, timeout=60,
                               transport=probe.transport)
        rnd = random.Random(3)
        uuids = [n['uuid'] for n in nodes]
        for _ in range(20):
            client.ping()
            client.get_node_free_resources(rnd.choice(uuids))
        echo = _timed(lambda: client.ping('x' * 64), args.calls)
        free = _timed(lambda: client.get_node_free_resources(
            rnd.choice(uuids)), args.calls)
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
        client.transport.cleanup()
    finally:
        engine.send_signal(signal.SIGTERM)
        engine.wait(60)


if __name__ == '__main__':
    main()
