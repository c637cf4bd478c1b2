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

"""Benchmark: the staged replacing import against the one-transaction one.

    tools/bench/bench_import.py [--clouds 5000x100000,10000x200000]
                                [--chunk 5000] [--seed 42] [--no-baseline]

For each generated cloud (the clouds of ``bench_compute_model.py``) it
parses the Watcher XML dump once, then into the Neo4j named by
TACHYON_NEO4J_URI (as ``tools/devservices.py env`` exports it; the graph
is WIPED, point it at a throw-away database) times:

* the staged replacing import (``tachyon-manage model import --replace``)
  into an empty graph, again with nothing changed, again with a tenth
  of the instances moved to other nodes and a tenth replaced by new
  ones, and last with every instance's state changed (the switch's
  worst case: no instance stays live through it);
* the staged merge (``tachyon-manage model import`` of a model larger
  than a chunk) into an empty graph, again with nothing changed, and
  again with a tenth moved and a tenth new (the tenth the file lacks
  stays);
* first, in the same run, as the baseline, the one-transaction import of
  the same cloud into an empty graph (what ``--replace`` did before),
  with no retry: on Neo4j's default 1 GB heap it is refused from about 5,000
  nodes / 100,000 instances, and the line says so.

Both paths import a small cloud first, so that neither pays for the
warm-up of Neo4j's JVM and plan cache.

Run it against the default heap (``tools/devservices.py start`` without
TACHYON_NEO4J_HEAP): the target is that the staged import runs there at
every size, the 5,000 / 100,000 one in under 30 s, its time growing
linearly with the cloud.
"""

import argparse
import os
import random
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import bench_compute_model as cloud  # noqa: E402


def _changed(nodes, instances, seed):
    """The cloud, a tenth of its instances moved, a tenth replaced."""
    rnd = random.Random(seed)
    changed = []
    for index, inst in enumerate(instances):
        if index % 10 == 2:
            continue
        inst = dict(inst)
        if index % 10 == 1 and inst['node']:
            target = rnd.choice(nodes)
            inst.update(node=target['uuid'], host=target['hostname'],
                        hypervisor_hostname=target['hostname'])
        changed.append(inst)
    _, extra = cloud.generate(1, len(instances) // 10, seed + 9)
    for inst in extra:
        target = rnd.choice(nodes)
        inst.update(node=target['uuid'], host=target['hostname'],
                    hypervisor_hostname=target['hostname'])
        changed.append(inst)
    return changed


def _all_changed(instances):
    """The cloud with every instance's state flipped: nothing kept."""
    return [dict(inst, state='stopped' if inst['state'] == 'active'
                 else 'active') for inst in instances]


def one_transaction(graph, model):
    """The baseline: the model merged in one transaction."""
    from tachyon.graph.compute import bulk
    from tachyon.graph.compute import rows
    return bulk.import_in_one_transaction(
        graph, [rows.node_row(n) for n in model.nodes],
        [rows.instance_row(i) for i in model.instances])


def _phase(message, *args):
    print('    ' + message % args)


def _timed(label, func):
    start = time.perf_counter()
    try:
        counts = func()
    except Exception as exc:  # the baseline's refusal, reported
        print('%-44s refused after %6.2f s: %s' % (
            label, time.perf_counter() - start,
            str(exc).splitlines()[0][:150]))
        return None
    seconds = time.perf_counter() - start
    print('%-44s %8.2f s   (%d created, %d updated, %d unchanged, '
          '%d deleted)' % (label, seconds, counts.created, counts.updated,
                           counts.unchanged, counts.deleted))
    return seconds


def run(graph, once, n_nodes, n_instances, args):
    from tachyon.graph import compute
    from tachyon.graph.compute import staging
    from tachyon import watcher_xml
    from tachyon.watcher_xml import common as xml_common

    print('== Cloud: %d nodes, %d instances (chunks of %d)' % (
        n_nodes, n_instances, args.chunk))
    nodes, instances = cloud.generate(n_nodes, n_instances, args.seed)
    # 10,000 / 200,000 is a document of about 70 MB: above the default
    # [model_import]/max_document_size, as an operator would raise it.
    limits = xml_common.Limits(max_document_size=1 << 30,
                               max_attribute_length=4096)
    start = time.perf_counter()
    _kind, parsed = watcher_xml.parse_model(
        cloud.document(nodes, instances), limits=limits)
    print('%-44s %8.2f s' % ('parse + validate the dump',
                             time.perf_counter() - start))
    changed = _changed(nodes, instances, args.seed)
    _kind, parsed_changed = watcher_xml.parse_model(
        cloud.document(nodes, changed), limits=limits)
    _kind, parsed_all = watcher_xml.parse_model(
        cloud.document(nodes, _all_changed(instances)), limits=limits)

    def staged(model):
        return lambda: compute.import_compute_model(
            graph, model.nodes, model.instances, replace=True,
            chunk=args.chunk, report=_phase)

    def merged(model):
        return lambda: compute.import_compute_model(
            graph, model.nodes, model.instances, chunk=args.chunk,
            report=_phase)

    if args.baseline:
        cloud.wipe(graph)
        _timed('baseline: one transaction, empty graph',
               lambda: one_transaction(once, parsed))
    cloud.wipe(graph)
    _timed('staged import, empty graph', staged(parsed))
    _timed('staged import again, nothing changed', staged(parsed))
    _timed('staged import, a tenth moved, deleted, new',
           staged(parsed_changed))
    _timed('staged import, every instance changed', staged(parsed_all))
    print('%-44s %8d' % ('staged or retired entities left',
                         staging.leftovers(graph)))
    # Without --replace: the model merged, staged as it is larger than a
    # chunk (what the baseline's one transaction was refused for).
    cloud.wipe(graph)
    _timed('staged merge, empty graph', merged(parsed))
    _timed('staged merge again, nothing changed', merged(parsed))
    _timed('staged merge, a tenth moved and new', merged(parsed_changed))
    print('%-44s %8d' % ('staged or retired entities left',
                         staging.leftovers(graph)))
    cloud.wipe(graph)


def warm_up(graph, once):
    """Both paths once on a small cloud, outside the figures."""
    from tachyon.graph import compute
    from tachyon import watcher_xml
    nodes, instances = cloud.generate(200, 4000, 1)
    _kind, parsed = watcher_xml.parse_model(cloud.document(nodes,
                                                           instances))
    cloud.wipe(graph)
    one_transaction(once, parsed)
    cloud.wipe(graph)
    compute.import_compute_model(graph, parsed.nodes, parsed.instances,
                                 replace=True)
    cloud.wipe(graph)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--clouds', default='5000x100000,10000x200000',
                        help='NODESxINSTANCES[,...]')
    parser.add_argument('--chunk', type=int, default=5000)
    parser.add_argument('--seed', type=int, default=42)
    parser.add_argument('--no-baseline', dest='baseline',
                        action='store_false')
    args = parser.parse_args()
    import logging
    logging.getLogger('neo4j').setLevel(logging.ERROR)
    with cloud._graph(30.0) as graph, cloud._graph(0.0) as once:
        warm_up(graph, once)
        for spec in args.clouds.split(','):
            n_nodes, n_instances = (int(x) for x in spec.split('x'))
            run(graph, once, n_nodes, n_instances, args)
    return 0


if __name__ == '__main__':
    sys.exit(main())
