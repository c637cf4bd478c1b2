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

"""Profile: where notification ingestion spends its time.

    tools/bench/profile_notifications.py [--nodes 500] [--instances 10000]
                                         [--events 10000] [--mix ...]
                                         [--out FILE]

Loads the cloud of bench_notifications.py into the Neo4j of
TACHYON_NEO4J_URI (WIPED), applies one untimed round, then hands the
events of the next round, in batches of ``--batch-size``, to the
listener's Processor (parse, completion, one transaction per batch: what
the listener does after oslo.messaging's receive) under cProfile, with
every Cypher statement timed (sent, its records read, its summary). It
prints the Python functions by cumulative time and the statements by
total time (named by their constant in tachyon.graph).
"""

import argparse
import collections
import cProfile
import io
import os
import pstats
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import tachyon.cmd  # noqa: E402,F401

from tools.bench import bench_compute_model as cloudgen  # noqa: E402
from tools.bench import bench_notifications as bench  # noqa: E402
from tools.bench import engine as bench_engine  # noqa: E402


def _statement_names():
    """{Cypher text: 'module.NAME'} of the statements in tachyon.graph."""
    import importlib
    import pkgutil

    import tachyon.graph
    names = {}
    for info in pkgutil.walk_packages(tachyon.graph.__path__,
                                      'tachyon.graph.'):
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if name.isupper() and isinstance(value, str):
                names.setdefault(value, '%s.%s' % (info.name[14:], name))
            elif name.isupper() and isinstance(value, dict):
                for key, text in value.items():
                    if isinstance(text, str):
                        names.setdefault(text, '%s.%s[%s]' % (
                            info.name[14:], name, key))
    return names


class _Result(object):
    def __init__(self, keys, records, summary):
        self._keys, self._records, self._summary = keys, records, summary

    def keys(self):
        return self._keys

    def __iter__(self):
        return iter(self._records)

    def single(self):
        return self._records[0] if self._records else None

    def consume(self):
        return self._summary

    def data(self):
        return [dict(r) for r in self._records]


class _TimedTx(object):
    def __init__(self, tx, times):
        self._tx, self._times = tx, times

    def run(self, query, parameters=None, **params):
        started = time.perf_counter()
        result = self._tx.run(query, parameters, **params)
        keys = result.keys()
        records = list(result)
        summary = result.consume()
        self._times[query].append(time.perf_counter() - started)
        return _Result(keys, records, summary)

    def __getattr__(self, name):
        return getattr(self._tx, name)


def _time_statements(graph, times):
    timed = graph._timed  # noqa: T3 - a profiler wraps the driver's

    def wrapper(work):
        def unit(tx, *args, **kwargs):
            return work(_TimedTx(tx, times), *args, **kwargs)
        return timed(unit)
    graph._timed = wrapper


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--nodes', type=int, default=500)
    parser.add_argument('--instances', type=int, default=10000)
    parser.add_argument('--events', type=int, default=10000)
    parser.add_argument('--mix', default=bench.DEFAULT_MIX)
    parser.add_argument('--storage-hosts', type=int, default=20)
    parser.add_argument('--volumes', type=int, default=2000)
    parser.add_argument('--batch-size', type=int, default=1000)
    parser.add_argument('--batch-timeout', type=float, default=1.0)
    parser.add_argument('--executor-threads', type=int, default=4)
    parser.add_argument('--top', type=int, default=40)
    parser.add_argument('--out', help='write the cProfile stats here')
    args = parser.parse_args()
    from tachyon.notifications import base
    from tachyon.notifications import listener

    url = bench_engine.transport_url()
    nodes, instances = bench_engine.load_cloud(args.nodes, args.instances,
                                               17)
    instances = [i for i in instances if i['node']]
    pools = bench.seed_storage(instances, args)
    stream = bench.Stream(nodes, instances, pools,
                          bench.parse_mix(args.mix), args.events)
    conf = bench.conf_for(args, url, 'profile_%d' % os.getpid())
    graph = cloudgen._graph()
    processor = listener.Processor(
        conf, graph, listener.load_handlers(conf, [bench.NOVA,
                                                   bench.CINDER]))

    def notes(round_no):
        at = time.time()
        return [base.Notification(publisher, event, body,
                                  {'message_id': '%d-%d' % (round_no, i),
                                   'timestamp': at + i * 1e-5})
                for i, (_s, publisher, event, body)
                in enumerate(stream.round(round_no))]

    def run(batch):
        for at in range(0, len(batch), args.batch_size):
            answer = processor.process(batch[at:at + args.batch_size])
            assert answer == listener.ACK, answer

    times = collections.defaultdict(list)
    try:
        run(notes(0))
        batch = notes(1)
        _time_statements(graph, times)
        profile = cProfile.Profile()
        started = time.perf_counter()
        profile.enable()
        run(batch)
        profile.disable()
        elapsed = time.perf_counter() - started
    finally:
        graph.close()
    print('mix: %s' % bench.describe(stream.counts))
    print('%d events in %.2f s: %.0f events/s (profiled; counts %s)'
          % (stream.total, elapsed, stream.total / elapsed,
             processor.counts))
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.sort_stats('cumulative').print_stats(args.top)
    print(out.getvalue())
    if args.out:
        stats.dump_stats(args.out)
    names = _statement_names()
    total = sum(sum(v) for v in times.values())
    print('Cypher statements: %.2f s of %.2f s' % (total, elapsed))
    print('%8s %6s %8s  %s' % ('total s', 'runs', 'ms/run', 'statement'))
    for query, spent in sorted(times.items(), key=lambda kv: -sum(kv[1])):
        name = names.get(query) or ' '.join(query.split())[:70]
        print('%8.2f %6d %8.1f  %s' % (sum(spent), len(spent),
                                       1000 * sum(spent) / len(spent), name))


if __name__ == '__main__':
    main()
