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

"""Benchmark: a whole Watcher audit on Tachyon vs Watcher's in-memory path.

    tools/bench/bench_audit.py [--nodes 1000] [--instances 20000]
                               [--strategies dummy,basic]

One generated cloud, loaded into the Neo4j of TACHYON_NEO4J_URI (WIPED) and
served by a tachyon-engine started on TACHYON_TRANSPORT_URL. For each
strategy, in the same run:

* Watcher: ``copy.deepcopy`` of its ModelRoot (what
  ``get_latest_cluster_data_model`` does) + the strategy;
* Tachyon: open a session + load the model in one snapshot call + the
  strategy + flush its deltas.

Both models hold the cloud in the same order (by uuid, as the snapshot
serves it). Metrics come from a deterministic stub (no Gnocchi here).
Target: Tachyon's audit no slower than Watcher's (ratio <= 1).
"""

import argparse
import copy
import gc
import os
import random
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import tachyon.cmd  # noqa: E402,F401
import watcher.conf  # noqa: E402,F401 - Watcher's options first

from tools.bench import bench_compute_model as cloudgen  # noqa: E402
from tools.bench import engine as bench_engine  # noqa: E402


class _Struct(dict):
    __getattr__ = dict.get


def _metrics(seed):
    def usage(resource, *args, **kwargs):
        # A value per resource, whatever order the strategy asks in.
        uuid = getattr(resource, 'uuid', str(resource))
        return random.Random('%s-%s' % (seed, uuid)).uniform(5, 60)
    return _Struct(get_host_cpu_usage=usage, get_instance_cpu_usage=usage)


def run_strategy(strategy_cls, model, seed):
    strategy = strategy_cls(config=_Struct(datasource='gnocchi'))
    strategy._compute_model = model
    strategy._audit_scope = []
    strategy._datasource_backend = _metrics(seed)
    strategy.input_parameters = _Struct(
        metrics='instance_cpu_usage', granularity=300, period=7200,
        aggregation_method=_Struct(instance='mean', compute_node='mean',
                                   node='mean'))
    return strategy.execute()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--nodes', type=int, default=1000)
    parser.add_argument('--instances', type=int, default=20000)
    parser.add_argument('--strategies', default='dummy,basic',
                        help='comma-separated: dummy, basic (basic '
                             'consolidation is quadratic in the nodes: '
                             'hours at the default cloud)')
    args = parser.parse_args()
    url = bench_engine.transport_url()

    from watcher.decision_engine.strategy import strategies

    from tachyon.client import model as client_model

    nodes, instances = bench_engine.load_cloud(args.nodes, args.instances,
                                               5)
    # Watcher's model is built in the order Tachyon's snapshot serves
    # (by uuid): strategies break ties by iteration order, and a different
    # order makes them examine a different number of candidates for the
    # same plan, which would measure luck rather than the model.
    watcher_model = cloudgen.watcher_build(
        sorted(nodes, key=lambda n: n['uuid']),
        sorted(instances, key=lambda i: i['uuid']))
    with bench_engine.running_engine(url, timeout=300) as client:
        # A long-running engine and decision engine are warm: one untimed
        # load first, as Watcher's side has its model in memory.
        client_model.TachyonClusterModel.load(client)
        print('cloud %d nodes / %d instances' % (args.nodes,
                                                 args.instances))
        known = {'dummy': strategies.DummyStrategy,
                 'basic': strategies.BasicConsolidation}
        for name in args.strategies.split(','):
            cls = known[name]
            start = time.perf_counter()
            copied = copy.deepcopy(watcher_model)
            w_model = time.perf_counter() - start
            w_solution = run_strategy(cls, copied, 1)
            w_total = time.perf_counter() - start
            # Each side runs with only its own model alive: the cyclic
            # garbage collector's passes grow with every live object.
            del copied
            gc.collect()

            start = time.perf_counter()
            session = client.create_session(ttl=3600)
            t_model = client_model.TachyonClusterModel.load(
                client, session_id=session['id'])
            t_load = time.perf_counter() - start
            t_solution = run_strategy(cls, t_model, 1)
            t_model.flush()
            t_total = time.perf_counter() - start
            client.rollback_session(session['id'])
            del t_model
            gc.collect()
            same = ([a.get('action_type') for a in w_solution.actions]
                    == [a.get('action_type') for a in t_solution.actions])
            print('  %-6s Watcher %6.2f s (deepcopy %5.2f s)   Tachyon '
                  '%6.2f s (session+snapshot %5.2f s)   ratio %.2f   '
                  '%d actions, same plan: %s' % (
                      name, w_total, w_model, t_total, t_load,
                      t_total / w_total, len(w_solution.actions), same))


if __name__ == '__main__':
    main()
