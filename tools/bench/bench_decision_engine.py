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

"""Benchmark: a real watcher-decision-engine on a generated cloud.

    tools/bench/bench_decision_engine.py [--hypervisors 1000]
        [--servers 20000] [--audits 5] [--strategy dummy]

Side (a), Watcher's own collectors: the emulated Keystone, Nova and
Placement (tests/fixtures/emulators) serve the cloud from this process; a
real ``watcher-decision-engine`` (tests/fixtures/watcher: a SQLite
database, enough for oneshot audits one after the other; the RabbitMQ
of ``TACHYON_TRANSPORT_URL`` as ``tools/devservices.py env`` exports
it) builds its in-memory model with
Watcher's compute collector when the first audit needs it. For each audit
the wall time from its creation and ``trigger_audit`` to its action plan
``RECOMMENDED`` is printed, the first one (which builds the model) apart
from the later ones (p50). The first audit's time is split into the
decision engine's CPU time and this process's (the emulators'), with the
emulators' busy wall time: the emulators' share shows whether the
figure measures Watcher or the emulators. The engine's resident memory
is printed at the end.

Side (b), Tachyon, is added with the Tachyon provider: the same cloud
synced by Tachyon's collectors, the same audits on a decision engine that
reads Tachyon's model.
"""

import argparse
import os
import statistics
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

GOALS = {'dummy': 'dummy', 'node_resource_consolidation':
         'server_consolidation', 'host_maintenance': 'cluster_maintaining'}
TICK = os.sysconf('SC_CLK_TCK')


class BusyClock(object):
    """The union of the intervals during which an emulator answered."""

    def __init__(self):
        self.lock = threading.Lock()
        self.intervals = []

    def wrap(self, emulator_class):
        serve = emulator_class.serve
        clock = self

        def timed(emulator, handler, method):
            start = time.monotonic()
            try:
                return serve(emulator, handler, method)
            finally:
                with clock.lock:
                    clock.intervals.append((start, time.monotonic()))
        emulator_class.serve = timed

    def reset(self):
        with self.lock:
            self.intervals = []

    def busy(self):
        with self.lock:
            intervals = sorted(self.intervals)
        total, end = 0.0, None
        for start, stop in intervals:
            if end is None or start > end:
                total += stop - start
                end = stop
            elif stop > end:
                total += stop - end
                end = stop
        return total, len(intervals)


def group_pids(pgid):
    pids = []
    for name in os.listdir('/proc'):
        if not name.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % name) as handle:
                fields = handle.read().rsplit(')', 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            pids.append(int(name))
    return pids


def cpu_seconds(pids):
    total = 0
    for pid in pids:
        try:
            with open('/proc/%d/stat' % pid) as handle:
                fields = handle.read().rsplit(')', 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / TICK


def rss_mib(pid):
    try:
        with open('/proc/%d/status' % pid) as handle:
            for line in handle:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


def run_audit(api, strategy, parameters):
    start = time.monotonic()
    uuid = api.create_audit(goal=GOALS[strategy], strategy=strategy,
                            parameters=parameters or None)
    audit = api.wait_audit(uuid, ['SUCCEEDED'], timeout=3600)
    elapsed = time.monotonic() - start
    if audit['state'] != 'SUCCEEDED':
        raise RuntimeError('audit %s is %s' % (uuid, audit['state']))
    states = [p['state'] for p in audit['action_plans']]
    return elapsed, states


def side_a(args):
    from tests.fixtures.emulators import base
    from tests.fixtures.emulators import cloud as cloud_mod
    from tests.fixtures.watcher import environment
    from tests.fixtures.watcher import providers
    from tests.fixtures.watcher import scenarios

    clock = BusyClock()
    clock.wrap(base.Emulator)
    start = time.monotonic()
    fake = cloud_mod.generate(hypervisors=args.hypervisors,
                              servers=args.servers, seed=args.seed)
    print('cloud: %d hypervisors, %d servers, generated in %.1f s'
          % (len(fake.compute_nodes), len(fake.servers),
             time.monotonic() - start), flush=True)
    env = environment.Environment(
        providers.WatcherProvider, cloud=scenarios.Cloud(fake, {}, {}),
        metrics=None, database='sqlite')
    start = time.monotonic()
    env.setUp()
    try:
        engine = env.deployment.engines['de-1']
        print('(a) watcher: decision engine up in %.1f s'
              % (time.monotonic() - start), flush=True)
        parameters = ({'maintenance_node': 'compute-00000'}
                      if args.strategy == 'host_maintenance' else None)
        pids = group_pids(engine.process.pid)
        clock.reset()
        cpu_engine = cpu_seconds(pids)
        cpu_self = time.process_time()
        first, states = run_audit(env.deployment.api, args.strategy,
                                  parameters)
        cpu_engine = cpu_seconds(pids) - cpu_engine
        cpu_self = time.process_time() - cpu_self
        busy, requests = clock.busy()
        print('(a) watcher: first audit (%s, builds the model): %.1f s '
              'trigger_audit -> %s' % (args.strategy, first,
                                       states[-1]))
        print('    decision engine CPU %.1f s; emulators CPU %.1f s, busy '
              '%.1f s over %d requests' % (cpu_engine, cpu_self, busy,
                                           requests), flush=True)
        later = []
        for _run in range(args.audits):
            elapsed, _states = run_audit(env.deployment.api,
                                         args.strategy, parameters)
            later.append(elapsed)
        p50 = statistics.median(later)
        print('(a) watcher: later audits: p50 %.2f s (%s)' % (
            p50, ', '.join('%.2f' % t for t in later)))
        print('(a) watcher: first model build (first audit - p50 of the '
              'later ones): %.1f s' % (first - p50))
        print('(a) watcher: decision engine RSS %s MiB' % ', '.join(
            '%.0f' % rss_mib(pid) for pid in sorted(group_pids(
                engine.process.pid))), flush=True)
    finally:
        env.cleanUp()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--hypervisors', type=int, default=1000)
    parser.add_argument('--servers', type=int, default=20000)
    parser.add_argument('--audits', type=int, default=5,
                        help='audits after the first (p50 of them)')
    parser.add_argument('--strategy', default='dummy', choices=GOALS)
    parser.add_argument('--seed', type=int, default=42)
    args = parser.parse_args()
    if not os.environ.get('TACHYON_TRANSPORT_URL'):
        sys.exit('Export the settings of tools/devservices.py env first '
                 '(RabbitMQ).')
    side_a(args)


if __name__ == '__main__':
    main()
