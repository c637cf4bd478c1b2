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

"""Benchmark: Watcher's compute model in Neo4j vs Watcher's ModelRoot.

    tools/bench/bench_compute_model.py [--clouds 1000x20000,5000x100000]
                                       [--samples 1000] [--seed 42]

For each generated cloud (nodes x instances, about 5 % of the instances
unmapped) it writes the cloud as a Watcher XML document, then:

* Watcher: builds its in-memory ``ModelRoot`` of the same cloud, from the
  dump (``ModelRoot.from_xml``) and with its element API, and times the
  same reads in memory;
* Tachyon: imports the dump into the Neo4j named by TACHYON_NEO4J_URI
  (TACHYON_NEO4J_USER / TACHYON_NEO4J_PASSWORD, as ``tools/devservices.py
  env`` exports them) through the bulk path (parse + validate, then one
  transaction of UNWIND batches), and times over Bolt ``get_node_instances``
  and ``get_node_free_resources`` of ``--samples`` random nodes (p50, p99),
  the bulk usage read of every node (``get_all_nodes_usage``), the
  grouping of every instance by node and the full export.

The graph is WIPED first: point it at a throw-away database. The 5,000 /
100,000 import is one transaction of about 1.5 GB: Neo4j needs a heap
of 4 GB for it (``TACHYON_NEO4J_HEAP=4g tools/devservices.py start``; the
default 1 GB refuses it with "dbms.memory.transaction.total.max threshold
reached", and nothing is written). Targets on 2
cores: the 5,000 / 100,000 import under 30 s; single-node reads p50 under
2 ms; bulk usage of 5,000 nodes under 1 s.
"""

import argparse
import gc
import os
import random
import statistics
import sys
import time
import uuid as uuid_lib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

# Tachyon runs on oslo.service's threading backend; Watcher's modules
# import oslo.service too.
from oslo_service import backend as _backend  # noqa: E402

_backend.init_backend(_backend.BackendType.THREADING)

#: Everything but the schema version, deleted: the edges first, so that
#: no inner transaction holds a dense node's edges with it (a compute
#: node's inventories carry every use of its instances), which the
#: default heap refuses after a large import.
WIPE = (
    """
MATCH ()-[r]->()
CALL (r) { DELETE r } IN TRANSACTIONS OF 10000 ROWS
""",
    """
MATCH (n) WHERE NOT n:TachyonSchema
CALL (n) { DELETE n } IN TRANSACTIONS OF 10000 ROWS
""",
)


def wipe(graph):
    """Empty the graph of TACHYON_NEO4J_URI (keeping its schema version)."""
    for statement in WIPE:
        graph.run_autocommit(statement)


def generate(n_nodes, n_instances, seed):
    """A cloud as plain dicts: (nodes, instances); deterministic."""
    rnd = random.Random(seed)

    def uid():
        return str(uuid_lib.UUID(int=rnd.getrandbits(128), version=4))

    nodes = []
    for index in range(n_nodes):
        nodes.append({
            'uuid': uid(), 'hostname': 'compute-%05d' % index,
            'status': 'enabled' if rnd.random() > 0.05 else 'disabled',
            'state': 'up', 'vcpus': rnd.choice([32, 48, 64, 96]),
            'vcpu_reserved': 0, 'vcpu_ratio': 4.0,
            'memory': rnd.choice([131072, 262144, 524288]),
            'memory_mb_reserved': 512, 'memory_ratio': 1.5,
            'disk': rnd.choice([1000, 2000, 4000]), 'disk_gb_reserved': 0,
            'disk_ratio': 1.0})
    projects = [uid() for _ in range(max(1, n_instances // 50))]
    flavors = [(1, 2048, 20), (2, 4096, 40), (4, 8192, 80),
               (8, 16384, 160)]
    instances = []
    for index in range(n_instances):
        vcpus, memory, disk = rnd.choice(flavors)
        node = rnd.choice(nodes) if rnd.random() > 0.05 else None
        host = node['hostname'] if node else 'gone-%d' % rnd.randint(0, 9)
        instances.append({
            'uuid': uid(), 'name': 'vm-%06d' % index,
            'state': rnd.choice(['active'] * 8 + ['stopped', 'paused']),
            'vcpus': vcpus, 'memory': memory, 'disk': disk,
            'metadata': {'optimize': rnd.random() > 0.5},
            'project_id': rnd.choice(projects),
            'host': host, 'hypervisor_hostname': host,
            'created': '2026-01-%02dT10:00:00Z' % rnd.randint(1, 28),
            'watcher_exclude': False,
            'node': node['uuid'] if node else None})
    return nodes, instances


def document(nodes, instances):
    """The cloud as a Watcher XML model both sides can read.

    As the scenario files are written (JSON metadata), since what
    ``to_xml()`` writes does not survive Watcher's ``from_xml()``.
    """
    import json

    from lxml import etree
    root = etree.Element('ModelRoot')
    node_els = {}
    for n in nodes:
        node_els[n['uuid']] = etree.SubElement(
            root, 'ComputeNode', {k: str(v) for k, v in n.items()})
    for i in instances:
        attrs = {k: (json.dumps(v) if k == 'metadata' else str(v))
                 for k, v in i.items() if k != 'node'}
        parent = node_els[i['node']] if i['node'] else root
        etree.SubElement(parent, 'Instance', attrs)
    return etree.tostring(root, pretty_print=True).decode('utf-8')


def watcher_build(nodes, instances):
    """Watcher's ModelRoot of the cloud, built with its element API."""
    from watcher.decision_engine.model import element
    from watcher.decision_engine.model import model_root
    model = model_root.ModelRoot()
    by_uuid = {}
    for n in nodes:
        node = element.ComputeNode(**n)
        model.add_node(node)
        by_uuid[n['uuid']] = node
    for i in instances:
        attrs = dict(i)
        node_uuid = attrs.pop('node')
        inst = element.Instance(**attrs)
        model.add_instance(inst)
        if node_uuid:
            model.map_instance(inst, by_uuid[node_uuid])
    return model


def _percentiles(samples):
    samples = sorted(samples)
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
    return statistics.median(samples) * 1000.0, p99 * 1000.0


def _time_calls(func, args):
    durations = []
    for arg in args:
        start = time.perf_counter()
        func(arg)
        durations.append(time.perf_counter() - start)
    return _percentiles(durations)


def _best_of(func, repeat=3):
    best = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
    return best, result


def _graph(retry_time=None):
    from tachyon.graph import driver
    from tachyon.graph import schema
    uri = os.environ.get('TACHYON_NEO4J_URI')
    if not uri:
        sys.exit('Export TACHYON_NEO4J_URI (tools/devservices.py env).')
    graph = driver.Graph(
        uri, username=os.environ.get('TACHYON_NEO4J_USER', 'neo4j'),
        password=os.environ.get('TACHYON_NEO4J_PASSWORD', ''),
        transaction_timeout=3600.0, batch_size=5000,
        **({} if retry_time is None
           else {'max_transaction_retry_time': retry_time}))
    schema.sync(graph)
    return graph


def run(graph, n_nodes, n_instances, args):
    from watcher.decision_engine.model import model_root

    from tachyon.graph import compute
    from tachyon import watcher_xml

    print('== Cloud: %d nodes, %d instances' % (n_nodes, n_instances))
    nodes, instances = generate(n_nodes, n_instances, args.seed)

    start = time.perf_counter()
    model = watcher_build(nodes, instances)
    w_build = time.perf_counter() - start
    dump = document(nodes, instances)
    start = time.perf_counter()
    model_root.ModelRoot.from_xml(dump)
    w_from_xml = time.perf_counter() - start
    print('Watcher ModelRoot build (element API)   %8.2f s' % w_build)
    print('Watcher ModelRoot.from_xml(dump)        %8.2f s   (%.1f MB)'
          % (w_from_xml, len(dump) / 1e6))

    rnd = random.Random(args.seed + 1)
    sample = [rnd.choice(nodes)['uuid'] for _ in range(args.samples)]
    w_nodes = [model.get_node_by_uuid(u) for u in sample]
    p50, p99 = _time_calls(model.get_node_instances, w_nodes)
    print('Watcher get_node_instances              p50 %7.3f ms  p99 %7.3f '
          'ms' % (p50, p99))
    model.invalidate_resource_cache()
    p50, p99 = _time_calls(model.get_node_free_resources, w_nodes)
    print('Watcher get_node_free_resources         p50 %7.3f ms  p99 %7.3f '
          'ms  (first calls, cache cold)' % (p50, p99))
    all_nodes = list(model.get_all_compute_nodes().values())

    def w_usage():
        model.invalidate_resource_cache()
        return {n.uuid: model.get_node_used_resources(n) for n in all_nodes}
    seconds, w_used = _best_of(w_usage)
    print('Watcher used resources of every node    %8.3f s' % seconds)

    wipe(graph)
    start = time.perf_counter()
    _kind, parsed = watcher_xml.parse_model(dump)
    parse_seconds = time.perf_counter() - start
    start = time.perf_counter()
    counts = compute.import_compute_model(graph, parsed.nodes,
                                          parsed.instances)
    write_seconds = time.perf_counter() - start
    print('Tachyon import (parse+validate / write) %8.2f s   (%.2f s / '
          '%.2f s; %d created)' % (parse_seconds + write_seconds,
                                   parse_seconds, write_seconds,
                                   counts.created))

    # Let Neo4j finish digesting the big transaction (checkpoint, GC)
    # before timing single reads. This process holds Watcher's model and
    # the parsed dump (millions of objects): keep them out of Python's
    # cyclic collector, whose full passes would otherwise land in
    # Tachyon's timings.
    gc.collect()
    gc.freeze()
    time.sleep(args.settle)
    for func in (compute.get_node_instances,
                 compute.get_node_free_resources):
        # Warm the driver's connection pool and Neo4j's plan cache.
        for uuid in sample[:100]:
            func(graph, uuid)
        p50, p99 = _time_calls(lambda u, f=func: f(graph, u), sample)
        print('Tachyon %-31s p50 %7.3f ms  p99 %7.3f ms  (Bolt)' % (
            func.__name__, p50, p99))
    seconds, usage = _best_of(lambda: compute.get_all_nodes_usage(graph))
    print('Tachyon get_all_nodes_usage (%5d)     %8.3f s' % (
        len(usage), seconds))
    if usage != w_used:
        print('!! usage differs from Watcher\'s')
    seconds, _ = _best_of(lambda: compute.get_instances_by_node(graph))
    print('Tachyon get_instances_by_node           %8.3f s' % seconds)
    seconds, _ = _best_of(lambda: compute.find_nodes_with_capacity(
        graph, 'VCPU', 8))
    print('Tachyon find_nodes_with_capacity        %8.3f s' % seconds)
    seconds, text = _best_of(lambda: watcher_xml.export_model(graph), 1)
    print('Tachyon export (XML, whole model)       %8.2f s' % seconds)
    start = time.perf_counter()
    counts = compute.import_compute_model(graph, parsed.nodes,
                                          parsed.instances)
    print('Tachyon re-import (nothing changed)     %8.2f s   (%d unchanged)'
          % (time.perf_counter() - start, counts.unchanged))
    if args.check:
        same = model_root.ModelRoot.is_isomorphic(
            model, model_root.ModelRoot.from_xml(text))
        print('Export isomorphic to Watcher\'s model:   %s' % same)
    gc.unfreeze()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--clouds', default='1000x20000,5000x100000',
                        help='NODESxINSTANCES[,...]')
    parser.add_argument('--samples', type=int, default=1000)
    parser.add_argument('--seed', type=int, default=42)
    parser.add_argument('--settle', type=float, default=5.0,
                        help='Seconds to wait after the import before '
                             'timing reads.')
    parser.add_argument('--check', action='store_true',
                        help='Also check the export with Watcher\'s '
                             'is_isomorphic (slow on big clouds).')
    args = parser.parse_args()
    import logging
    logging.getLogger('neo4j').setLevel(logging.ERROR)
    with _graph() as graph:
        for spec in args.clouds.split(','):
            n_nodes, n_instances = (int(x) for x in spec.split('x'))
            run(graph, n_nodes, n_instances, args)
    return 0


if __name__ == '__main__':
    sys.exit(main())
