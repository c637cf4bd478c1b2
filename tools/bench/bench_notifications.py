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

"""Benchmark: sustained ingestion of Nova instance.update notifications.

    tools/bench/bench_notifications.py [--nodes 1000] [--instances 20000]
                                       [--events 20000] [--batch-size 1000]
                                       [--batch-timeout 1.0]
                                       [--executor-threads 4]

Loads a generated cloud into the Neo4j of TACHYON_NEO4J_URI (WIPED), then,
in one run:

0. a warm-up round, untimed, so that every later event changes only
   the instance's state (the first also sets the payload's flavor);
1. the ceiling: the events' changes, parsed beforehand, written straight
   to Neo4j in batches of ``--batch-size`` (tachyon.graph.events, one
   transaction per batch), as events per second;
2. ingestion: the same number of instance.update events (each a real
   change: a new state and a newer timestamp), published by an
   oslo.messaging Notifier as nova-compute publishes them on the RabbitMQ
   of TACHYON_TRANSPORT_URL, then consumed by Tachyon's listener (batch
   mode) until every one is in the graph, as events per second.

Targets: at least 2,000 events/s, and at least half of the ceiling.
"""

import argparse
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import tachyon.cmd  # noqa: E402,F401

from tools.bench import bench_compute_model as cloudgen  # noqa: E402
from tools.bench import engine as bench_engine  # noqa: E402

STATES = ('active', 'stopped', 'paused', 'suspended')


def payload(inst, state):
    """Nova's InstanceUpdatePayload (1.7) of a generated instance."""
    return {
        'nova_object.name': 'InstanceUpdatePayload',
        'nova_object.namespace': 'nova',
        'nova_object.version': '1.7',
        'nova_object.data': {
            'uuid': inst['uuid'], 'display_name': inst['name'],
            'host': inst['host'], 'node': inst['hypervisor_hostname'],
            'state': state, 'locked': False,
            'tenant_id': inst['project_id'],
            'created_at': inst['created'], 'metadata': inst['metadata'],
            'image_uuid': '155d900f-4e14-4e4c-a73d-069cbf4541e6',
            'flavor': {'nova_object.version': '1.4', 'nova_object.data': {
                'name': 'bench', 'vcpus': inst['vcpus'],
                'memory_mb': inst['memory'], 'root_gb': inst['disk'],
                'ephemeral_gb': 0, 'swap': 0, 'extra_specs': {}}},
        },
    }


def events(instances, count, round_no):
    """``count`` instance.update events, each changing its instance."""
    result = []
    for index in range(count):
        inst = instances[index % len(instances)]
        lap = index // len(instances)
        state = STATES[(round_no * 7 + lap + 1) % len(STATES)]
        result.append(payload(inst, state))
    return result


def conf_for(args, url, topic):
    from tachyon import conf as tconf
    from tachyon import rpc
    conf = tconf.CONF
    conf([], project='tachyon')
    rpc.register_transport_opts(conf)
    conf.set_override('transport_url', url)
    conf.set_override('uri', os.environ['TACHYON_NEO4J_URI'], 'neo4j')
    conf.set_override('username',
                      os.environ.get('TACHYON_NEO4J_USER', 'neo4j'), 'neo4j')
    conf.set_override('password',
                      os.environ.get('TACHYON_NEO4J_PASSWORD', ''), 'neo4j')
    conf.set_override('nova_topic', topic, 'notifications')
    conf.set_override('enabled_handlers', ['nova'], 'notifications')
    conf.set_override('batch_size', args.batch_size, 'notifications')
    conf.set_override('batch_timeout', args.batch_timeout, 'notifications')
    conf.set_override('executor_threads', args.executor_threads,
                      'notifications')
    conf.set_override('enrich_from_apis', False, 'notifications')
    return conf


def direct(conf, graph, instances, args, round_no):
    """Events/s of the parsed changes written straight to Neo4j."""
    from tachyon.graph import events as graph_events
    from tachyon.notifications import base
    from tachyon.notifications import listener
    handler = listener.load_handlers(conf, ['nova'])[0]
    start_at = time.time()
    changes = []
    for index, body in enumerate(events(instances, args.events, round_no)):
        note = base.Notification(
            'nova-compute:bench', 'instance.update', body,
            {'message_id': str(index), 'timestamp': start_at + index * 1e-5})
        changes.extend(handler.parse(note))
    started = time.perf_counter()
    for at in range(0, len(changes), args.batch_size):
        graph_events.apply_changes(graph, changes[at:at + args.batch_size])
    return args.events / (time.perf_counter() - started)


def ingestion(conf, graph, instances, url, args):
    """Events/s from RabbitMQ into Neo4j through the listener."""
    from oslo_config import cfg
    import oslo_messaging as messaging

    from tachyon.notifications import listener

    nova_conf = cfg.ConfigOpts()
    nova_conf([], project='nova-bench')
    messaging.TransportURL(nova_conf)
    nova_conf.set_override('control_exchange', 'nova')
    transport = messaging.get_notification_transport(nova_conf, url=url)
    notifier = messaging.Notifier(
        transport, publisher_id='nova-compute:bench', driver='messagingv2',
        topics=[conf.notifications.nova_topic])
    lst = listener.build(conf, graph)
    # Declare the queues, then publish everything, then consume: the
    # rate measured is the listener's, not the publisher's.
    lst.start()
    lst.stop()
    lst.wait()
    published = time.perf_counter()
    for body in events(instances, args.events, 2):
        notifier.info({}, 'instance.update', body)
    published = time.perf_counter() - published
    try:
        if args.workers > 1:
            elapsed, counts = _in_workers(args, url,
                                          conf.notifications.nova_topic)
        else:
            elapsed, counts = _in_process(conf, graph, args)
    finally:
        transport.cleanup()
    return args.events / elapsed, args.events / published, counts


def _wait_applied(applied, args, started):
    while applied() < args.events:
        if time.perf_counter() - started > args.timeout:
            sys.exit('Timed out: %d of %d events applied'
                     % (applied(), args.events))
        time.sleep(0.01)
    return time.perf_counter() - started


def _in_process(conf, graph, args):
    from tachyon.notifications import listener
    lst = listener.build(conf, graph)
    started = time.perf_counter()
    lst.start()
    try:
        elapsed = _wait_applied(lambda: lst.processor.counts['applied'],
                                args, started)
    finally:
        lst.stop()
        lst.wait()
    return elapsed, dict(lst.processor.counts)


def _worker(args, url, topic, go, stop, applied):
    """One listener process of the pool, as a tachyon-engine worker."""
    from tachyon.notifications import listener
    conf = conf_for(args, url, topic)
    graph = cloudgen._graph()
    lst = listener.build(conf, graph)
    go.wait()
    lst.start()
    seen = 0
    while not stop.is_set():
        now = lst.processor.counts['applied']
        with applied.get_lock():
            applied.value += now - seen
        seen = now
        time.sleep(0.005)
    lst.stop()
    lst.wait()
    graph.close()


def _in_workers(args, url, topic):
    import multiprocessing
    ctx = multiprocessing.get_context('spawn')
    go, stop = ctx.Event(), ctx.Event()
    applied = ctx.Value('l', 0)
    procs = [ctx.Process(target=_worker,
                         args=(args, url, topic, go, stop, applied))
             for _ in range(args.workers)]
    for proc in procs:
        proc.start()
    time.sleep(5)  # imports and connections, before the clock starts
    started = time.perf_counter()
    go.set()
    try:
        elapsed = _wait_applied(lambda: applied.value, args, started)
    finally:
        stop.set()
        for proc in procs:
            proc.join(60)
    return elapsed, {'applied': applied.value, 'workers': args.workers}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--nodes', type=int, default=1000)
    parser.add_argument('--instances', type=int, default=20000)
    parser.add_argument('--events', type=int, default=20000)
    parser.add_argument('--batch-size', type=int, default=1000)
    parser.add_argument('--batch-timeout', type=float, default=1.0,
                        help='[notifications]/batch_timeout (its default)')
    parser.add_argument('--executor-threads', type=int, default=4,
                        help='[notifications]/executor_threads (its '
                             'default)')
    parser.add_argument('--workers', type=int, default=1,
                        help='listener processes sharing the pool, as '
                             'tachyon-engine --workers runs them')
    parser.add_argument('--timeout', type=float, default=600)
    args = parser.parse_args()
    url = bench_engine.transport_url()
    _nodes, instances = bench_engine.load_cloud(args.nodes, args.instances,
                                                17)
    instances = [i for i in instances if i['node']]
    conf = conf_for(args, url,
                    'bench_versioned_notifications_%d' % os.getpid())
    graph = cloudgen._graph()
    try:
        # The first events of the generated cloud also set what the
        # import left out (the payload's flavor): apply one untimed round
        # so that the ceiling and the ingestion measure the same work,
        # a state change per event.
        direct(conf, graph, instances, args, 0)
        raw = direct(conf, graph, instances, args, 1)
        rate, publish_rate, counts = ingestion(conf, graph, instances,
                                               url, args)
    finally:
        graph.close()
    print('cloud %d nodes / %d instances; %d instance.update events, '
          'batches of %d' % (args.nodes, args.instances, args.events,
                             args.batch_size))
    print('  raw Neo4j write of the same batches (ceiling) %8.0f events/s'
          % raw)
    print('  RabbitMQ -> listener -> Neo4j               %8.0f events/s'
          '  (%.0f%% of the ceiling; targets >= 2000/s and >= 50%%)'
          % (rate, 100.0 * rate / raw))
    print('  (%d listener process(es); publishing took %.0f events/s; '
          'counts %s)' % (args.workers, publish_rate, counts))


if __name__ == '__main__':
    main()
