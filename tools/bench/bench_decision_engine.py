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

Side (b), Tachyon: the same cloud synced by Tachyon's collectors from
the same emulated APIs (``tachyon-manage sync run``, timed: the first
model build), a real ``tachyon-engine`` on the Neo4j of
``tools/devservices.py env``, and the same audits on a decision engine
configured as doc/source/watcher-integration.rst says.

The targets (issue #15), printed at the end when both sides ran: the
first audit on Tachyon takes at most half of Watcher's, later audits are
no slower, and the decision engine's resident memory (every process of
it) is at most half.
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


def pss_mib(pid):
    """Proportional set size: shared pages divided among their users.

    A decision engine is a master and its forked workers sharing most of
    their pages: the sum of their RSS counts those pages once per
    process, the sum of their PSS once in all.
    """
    try:
        with open('/proc/%d/smaps_rollup' % pid) as handle:
            for line in handle:
                if line.startswith('Pss:'):
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


#: How long the emulators were busy (both sides: one process).
CLOCK = BusyClock()


def run_side(args, fake, label, provider_class):
    """One side: its decision engine on the generated cloud; its figures."""
    from tests.fixtures.watcher import environment
    from tests.fixtures.watcher import scenarios

    clock = CLOCK
    env = environment.Environment(
        provider_class, cloud=scenarios.Cloud(fake, {}, {}),
        metrics=None, database='sqlite')
    start = time.monotonic()
    env.setUp()
    figures = {}
    try:
        engine = env.deployment.engines['de-1']
        up = time.monotonic() - start
        sync = getattr(env.provider, 'sync_seconds', None)
        print('(%s) decision engine up in %.1f s%s' % (
            label, up, '' if sync is None else
            ' (Tachyon\'s full sync of the cloud: %.1f s)' % sync),
            flush=True)
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
        print('(%s) first audit (%s): %.1f s trigger_audit -> %s' % (
            label, args.strategy, first, states[-1]))
        print('    decision engine CPU %.1f s; this process (emulators) '
              'CPU %.1f s, emulators busy %.1f s over %d requests' % (
                  cpu_engine, cpu_self, busy, requests), flush=True)
        later = []
        for _run in range(args.audits):
            elapsed, _states = run_audit(env.deployment.api,
                                         args.strategy, parameters)
            later.append(elapsed)
        p50 = statistics.median(later)
        print('(%s) later audits: p50 %.2f s (%s)' % (
            label, p50, ', '.join('%.2f' % t for t in later)))
        group = sorted(group_pids(engine.process.pid))
        rss = [rss_mib(pid) for pid in group]
        pss = [pss_mib(pid) for pid in group]
        print('(%s) decision engine RSS: %s MiB (sum %.0f); PSS: %s MiB '
              '(sum %.0f)' % (label, ', '.join('%.0f' % r for r in rss),
                              sum(rss), ', '.join('%.0f' % p for p in pss),
                              sum(pss)), flush=True)
        figures = {'first': first, 'p50': p50, 'rss': sum(rss),
                   'pss': sum(pss),
                   'build': sync if sync is not None else first - p50}
    finally:
        env.cleanUp()
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--hypervisors', type=int, default=1000)
    parser.add_argument('--servers', type=int, default=20000)
    parser.add_argument('--audits', type=int, default=5,
                        help='audits after the first (p50 of them)')
    parser.add_argument('--strategy', default='dummy', choices=GOALS)
    parser.add_argument('--seed', type=int, default=42)
    parser.add_argument('--side', choices=('both', 'watcher', 'tachyon'),
                        default='both')
    args = parser.parse_args()
    if not os.environ.get('TACHYON_TRANSPORT_URL'):
        sys.exit('Export the settings of tools/devservices.py env first '
                 '(RabbitMQ, and Neo4j for Tachyon).')
    from tests.fixtures.emulators import base
    from tests.fixtures.emulators import cloud as cloud_mod
    from tests.fixtures.watcher import providers
    from tests.fixtures.watcher import tachyon

    CLOCK.wrap(base.Emulator)
    start = time.monotonic()
    fake = cloud_mod.generate(hypervisors=args.hypervisors,
                              servers=args.servers, seed=args.seed)
    print('cloud: %d hypervisors, %d servers, generated in %.1f s'
          % (len(fake.compute_nodes), len(fake.servers),
             time.monotonic() - start), flush=True)
    results = {}
    if args.side in ('both', 'watcher'):
        results['a'] = run_side(args, fake, 'a: watcher',
                                providers.WatcherProvider)
    if args.side in ('both', 'tachyon'):
        results['b'] = run_side(args, fake, 'b: tachyon',
                                tachyon.TachyonProvider)
    if len(results) == 2:
        a, b = results['a'], results['b']
        print()
        print('first model build: Watcher\'s first Nova collection %.1f s '
              '(first audit - later p50) vs Tachyon\'s full sync %.1f s'
              % (a['build'], b['build']))
        for what, key, target, word in (
                ('first audit', 'first', 0.5, 'at most'),
                ('later audits p50', 'p50', 1.0, 'at most'),
                ('decision engine RSS', 'rss', 0.5, 'at most'),
                ('decision engine PSS', 'pss', 0.5, 'at most')):
            ratio = b[key] / a[key]
            print('%-20s tachyon/watcher %.2f (target %s %.1f): %s' % (
                what, ratio, word, target,
                'met' if ratio <= target else 'NOT met'))


if __name__ == '__main__':
    main()
