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

"""Benchmark: RPC round trips to real tachyon-engines, one run.

    tools/bench/bench_rpc.py [--nodes 1000] [--instances 20000]
    tools/bench/bench_rpc.py --engines 1,2,4 [--clients 8] [--duration 10]

Loads a generated cloud into the Neo4j of TACHYON_NEO4J_URI (WIPED), starts
tachyon-engine on the RabbitMQ of TACHYON_TRANSPORT_URL and prints p50/p99
of ``get_node_free_resources`` and of the compute snapshot, beside a bare
``ping`` (an oslo.messaging echo on the same broker and engine) as the
floor. Targets: free resources p50 within 2x the echo; snapshot < 1 s.

With ``--engines``, for each count N it starts N tachyon-engine processes
(one worker each) on one topic and drives them with ``--clients``
concurrent callers (threads spread over ``--client-procs`` processes)
for ``--duration`` seconds per call: aggregate calls/s of
``get_node_free_resources`` and of ``get_compute_snapshot``, their
p50/p99, the scaling ratio against the first count (one engine) of the
same run, and the CPU the window used, per party (Neo4j, RabbitMQ, the
engines, the clients, everything else on the machine), read from /proc
through psutil. It names what saturated: ``cores`` when the machine's
cores were busy for 90 % or more of the window (with the party that used
most of them), ``neo4j`` when Neo4j alone used 90 % of a core per core
the machine has, else ``none`` (the callers' concurrency is the limit).
"""

import argparse
import contextlib
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

import psutil

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import tachyon.cmd  # noqa: E402,F401

from tools.bench import engine as bench_engine  # noqa: E402

#: Busy for this share of the window: saturated.
SATURATED = 0.9


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


def _conf(url):
    from tachyon import conf as tconf
    from tachyon import rpc
    conf = tconf.CONF
    conf([], project='tachyon', default_config_files=[])
    rpc.register_transport_opts(conf)
    conf.set_override('transport_url', url)
    return conf


def _listener(port):
    """The process listening on TCP ``port`` of this machine, or None."""
    for conn in psutil.net_connections(kind='tcp'):
        if (conn.status == psutil.CONN_LISTEN and conn.laddr
                and conn.laddr.port == port and conn.pid):
            return psutil.Process(conn.pid)
    return None


def _port(uri, default):
    return urllib.parse.urlsplit(uri).port or default


def _tree(proc):
    try:
        return [proc] + proc.children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _cpu(procs):
    """CPU seconds (user + system) used so far by ``procs``."""
    total = 0.0
    for proc in procs:
        try:
            times = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


@contextlib.contextmanager
def _engines(url, count, topic):
    """``count`` tachyon-engine processes (one worker each) on ``topic``."""
    from tachyon import service
    env = dict(os.environ, OS_NEO4J__URI=os.environ['TACHYON_NEO4J_URI'],
               OS_NEO4J__USERNAME=os.environ.get('TACHYON_NEO4J_USER',
                                                 'neo4j'),
               OS_NEO4J__PASSWORD=os.environ.get('TACHYON_NEO4J_PASSWORD',
                                                 ''),
               OS_DEFAULT__TRANSPORT_URL=url, OS_ENGINE__TOPIC=topic,
               OS_ENGINE__WORKERS='1',
               OS_NOTIFICATIONS__ENABLE_LISTENER='false',
               OS_COLLECTORS__ENABLED_COLLECTORS='')
    procs = []
    try:
        for i in range(count):
            log = tempfile.NamedTemporaryFile(
                prefix='bench-engine-%d-' % i, suffix='.log', delete=False)
            procs.append(subprocess.Popen(
                [sys.executable, '-m', 'tachyon.cmd.engine',
                 '--config-file', os.devnull],
                env=dict(env, OS_DEFAULT__HOST='bench-%s-%d' % (topic, i)),
                stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True))
        # Every engine consumes the shared topic queue before timing.
        conf = _conf(url)
        deadline = time.monotonic() + 120
        while service.queue_consumers(conf, url, topic) < count:
            if time.monotonic() > deadline:
                raise RuntimeError('%d engines did not start' % count)
            for proc in procs:
                if proc.poll() is not None:
                    raise RuntimeError('an engine exited: %s' % proc.args)
            time.sleep(0.5)
        yield [psutil.Process(proc.pid) for proc in procs]
    finally:
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            proc.wait(60)


def _caller(url, topic, method, uuids, threads, warm_until, stop_at, out):
    """A client process: ``threads`` callers, timing from ``warm_until``."""
    from tachyon.rpc import api
    client = api.EngineAPI(_conf(url), topic=topic, timeout=120)
    lock = threading.Lock()
    samples = []
    errors = []

    def loop(seed):
        rnd = random.Random(seed)
        mine = []
        while True:
            start = time.time()
            if start >= stop_at:
                break
            try:
                if method == 'snapshot':
                    client.get_compute_snapshot()
                else:
                    client.get_node_free_resources(rnd.choice(uuids))
            except Exception as exc:
                errors.append(repr(exc))
                continue
            end = time.time()
            # A call counts when it ends inside the window.
            if warm_until <= end < stop_at:
                mine.append(end - start)
        with lock:
            samples.extend(mine)

    workers = [threading.Thread(target=loop, args=(i + os.getpid(),))
               for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    client.transport.cleanup()
    out.put((samples, errors))


def _drive(url, topic, method, uuids, args, parties, clients, duration):
    """Run the callers; (latencies, errors, cores by party, busy cores)."""
    ctx = multiprocessing.get_context('fork')
    out = ctx.Queue()
    procs = min(args.client_procs, clients)
    per_proc = [clients // procs + (1 if i < clients % procs else 0)
                for i in range(procs)]
    now = time.time()
    warm_until = now + args.warmup_seconds + 2.0
    stop_at = warm_until + duration
    callers = [ctx.Process(target=_caller,
                           args=(url, topic, method, uuids, n, warm_until,
                                 stop_at, out))
               for n in per_proc if n]
    for caller in callers:
        caller.start()
    parties = dict(parties,
                   clients=[psutil.Process(c.pid) for c in callers])
    time.sleep(max(0.0, warm_until - time.time()))
    cpu_before = {name: _cpu(procs) for name, procs in parties.items()}
    sys_before = psutil.cpu_times()
    time.sleep(max(0.0, stop_at - time.time()))
    cpu_after = {name: _cpu(procs) for name, procs in parties.items()}
    sys_after = psutil.cpu_times()
    samples, errors = [], []
    for _ in callers:
        got, failed = out.get(timeout=duration + 300)
        samples.extend(got)
        errors.extend(failed)
    for caller in callers:
        caller.join()
    busy = (sum(sys_after) - sum(sys_before)
            - (sys_after.idle - sys_before.idle)
            - (getattr(sys_after, 'iowait', 0)
               - getattr(sys_before, 'iowait', 0)))
    cores = {name: (cpu_after[name] - cpu_before[name]) / duration
             for name in parties}
    cores['other'] = max(0.0, busy / duration - sum(cores.values()))
    return samples, errors, cores, busy / duration


def _saturated(cores, busy, ncpu):
    if busy >= SATURATED * ncpu:
        top = max(cores, key=cores.get)
        return 'cores (most used by %s)' % top
    if cores['neo4j'] >= SATURATED * ncpu:
        return 'neo4j'
    return 'none'


def scaling(args):
    url = bench_engine.transport_url()
    counts = [int(n) for n in args.engines.split(',')]
    nodes, _instances = bench_engine.load_cloud(args.nodes, args.instances,
                                                11)
    uuids = [n['uuid'] for n in nodes]
    neo4j = _listener(_port(os.environ['TACHYON_NEO4J_URI'], 7687))
    rabbit = _listener(_port(url, 5672))
    if neo4j is None:
        sys.exit('Cannot find the process serving TACHYON_NEO4J_URI.')
    ncpu = psutil.cpu_count()
    print('cloud %d nodes / %d instances; %d cores; callers in %d '
          'processes: free resources %d for %.0f s, snapshots %d for '
          '%.0f s' % (args.nodes, args.instances, ncpu, args.client_procs,
                      args.clients, args.duration, args.snapshot_clients,
                      args.snapshot_duration))
    print('  (cores: CPU the window used, in cores, per party; other: '
          'every other process on the machine)')
    baseline = {}
    for count in counts:
        topic = 'tachyon-bench-%d-%d' % (os.getpid(), count)
        with _engines(url, count, topic) as engines:
            parties = {'neo4j': [neo4j],
                       'rabbitmq': _tree(rabbit) if rabbit else [],
                       'engines': [p for e in engines for p in _tree(e)]}
            for method, clients, duration in (
                    ('free', args.clients, args.duration),
                    ('snapshot', args.snapshot_clients,
                     args.snapshot_duration)):
                samples, errors, cores, busy = _drive(
                    url, topic, method, uuids, args, parties, clients,
                    duration)
                rate = len(samples) / duration
                baseline.setdefault(method, rate)
                ratio = rate / baseline[method] if baseline[method] else 0
                p50, p99 = (_percentiles(samples) if samples
                            else (float('nan'),) * 2)
                name = ('get_node_free_resources' if method == 'free'
                        else 'get_compute_snapshot')
                print('  %d engine(s) %-24s %8.1f calls/s (%d)  p50 %8.2f '
                      'ms  p99 %8.2f ms  x%.2f vs %d engine(s)'
                      % (count, name, rate, len(samples), p50, p99, ratio,
                         counts[0]))
                print('      cores: %s; machine busy %.2f of %d; '
                      'saturated: %s%s'
                      % (', '.join('%s %.2f' % kv
                                   for kv in sorted(cores.items())),
                         busy, ncpu, _saturated(cores, busy, ncpu),
                         '; %d calls failed (first: %s)'
                         % (len(errors), errors[0]) if errors else ''))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--nodes', type=int, default=1000)
    parser.add_argument('--instances', type=int, default=20000)
    parser.add_argument('--calls', type=int, default=1000,
                        help='timed calls of each of echo and free '
                             'resources, alternating')
    parser.add_argument('--warmup', type=int, default=300,
                        help='untimed rounds before')
    parser.add_argument('--engines',
                        help='comma-separated engine counts (1,2,4): '
                             'measure aggregate throughput instead')
    parser.add_argument('--clients', type=int, default=8,
                        help='with --engines: concurrent callers')
    parser.add_argument('--client-procs', type=int, default=2,
                        help='with --engines: processes the callers run in')
    parser.add_argument('--duration', type=float, default=10.0,
                        help='with --engines: seconds timed, free '
                             'resources')
    parser.add_argument('--snapshot-clients', type=int, default=2,
                        help='with --engines: concurrent snapshot callers')
    parser.add_argument('--snapshot-duration', type=float, default=20.0,
                        help='with --engines: seconds timed, snapshots')
    parser.add_argument('--warmup-seconds', type=float, default=3.0,
                        help='with --engines: untimed seconds before')
    args = parser.parse_args()
    if args.engines:
        return scaling(args)
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
