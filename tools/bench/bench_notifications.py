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

"""Benchmark: sustained ingestion of Nova and Cinder notifications.

    tools/bench/bench_notifications.py [--nodes 1000] [--instances 20000]
                                       [--events 20000] [--batch-size N]
                                       [--batch-timeout S]
                                       [--executor-threads N]
                                       [--workers N]
                                       [--mix instance.update=70,volume=20,
                                              service.update=10]

Loads a generated cloud (compute nodes, instances, and a Cinder cloud of
``--storage-hosts`` backends of two pools each with ``--volumes``
volumes) into the Neo4j of TACHYON_NEO4J_URI (WIPED), then, in one run:

0. a warm-up round, untimed, so that every later event changes only
   what it says (the first instance.update also sets the payload's
   flavor);
1. the ceiling: the events' changes, parsed beforehand, written straight
   to Neo4j in batches of ``--batch-size`` (tachyon.graph.events, one
   transaction per batch), as events per second;
2. ingestion: the same number of events, of the same mix, published by
   oslo.messaging Notifiers as nova-compute and cinder-volume publish
   them on the RabbitMQ of TACHYON_TRANSPORT_URL, then consumed by
   Tachyon's listener (batch mode) until every one is in the graph, as
   events per second.

The mix (``--mix``, weights): ``instance.update`` (a new state and a
newer timestamp per event), ``volume`` (the life of new volumes, in equal
parts: volume.create.end into a seeded pool, volume.attach.end to an
instance, volume.detach.end, volume.resize.end, volume.delete.end; the
events of one volume lie far apart in the stream, as a volume's do) and
``service.update`` (a nova-compute service disabled or enabled again).
Every event is a real change. The mix used is printed.

It also prints the CPU time Tachyon (this process, all its threads) and
Neo4j (the process devservices started, from ``$TACHYON_DEV_STATE``)
spent per 1,000 events in each phase: on a shared machine wall-clock
rates follow the load, CPU time per event much less.

Targets: at least 2,000 events/s, and at least half of the ceiling.
"""

import argparse
import os
import resource
import sys
import time
import uuid as uuid_lib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import tachyon.cmd  # noqa: E402,F401

from tools.bench import bench_compute_model as cloudgen  # noqa: E402
from tools.bench import engine as bench_engine  # noqa: E402

STATES = ('active', 'stopped', 'paused', 'suspended')
KINDS = ('instance.update', 'volume', 'service.update')
DEFAULT_MIX = 'instance.update=70,volume=20,service.update=10'
#: The events of a volume's life, in order (volume.<step>.end).
VOLUME_STEPS = ('create', 'attach', 'detach', 'resize', 'delete')
NOVA = 'nova'
CINDER = 'cinder'


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


def parse_mix(text):
    """{kind: weight} of ``--mix`` ('instance.update=70,volume=20')."""
    mix = {}
    for part in text.split(','):
        name, _sep, weight = part.strip().partition('=')
        if name not in KINDS:
            raise ValueError('unknown event kind %r (known: %s)'
                             % (name, ', '.join(KINDS)))
        try:
            mix[name] = float(weight)
        except ValueError:
            raise ValueError('the weight of %s is not a number: %r'
                             % (name, weight))
        if mix[name] < 0:
            raise ValueError('the weight of %s is negative' % name)
    if not sum(mix.values()):
        raise ValueError('the mix has no events')
    return mix


def mix_counts(mix, count):
    """Events per kind for about ``count`` events.

    Volume events come in whole lives; what rounding leaves goes to
    instance.update, or to service.update when the mix has none.
    """
    total = sum(mix.values())
    steps = len(VOLUME_STEPS)
    lives = int(count * mix.get('volume', 0) / total) // steps
    services = int(count * mix.get('service.update', 0) / total)
    counts = {'volume': lives * steps, 'service.update': services,
              'instance.update': 0}
    rest = count - counts['volume'] - services
    if mix.get('instance.update'):
        counts['instance.update'] = rest
    elif mix.get('service.update'):
        counts['service.update'] += rest
    return counts


def describe(counts):
    """The mix as printed: events of each type."""
    lives = counts['volume'] // len(VOLUME_STEPS)
    parts = ['%d instance.update' % counts['instance.update']]
    parts += ['%d volume.%s.end' % (lives, step) for step in VOLUME_STEPS]
    parts.append('%d service.update' % counts['service.update'])
    return ', '.join(parts)


class Stream(object):
    """The events of each round: (service, publisher, event, payload).

    Each event changes what it names: the state of an instance, a step
    of a volume's life, a service's disabled flag (the flags are followed
    from round to round).
    """

    def __init__(self, nodes, instances, pools, mix, count):
        from tests.fixtures.notifications import cinder as cinder_fx
        from tests.fixtures.notifications import nova_objects
        self._cinder = cinder_fx
        self._nova = nova_objects
        self.instances = instances
        self.nodes = sorted(n['hostname'] for n in nodes)
        self.disabled = {n['hostname']: n['status'] == 'disabled'
                         for n in nodes}
        self.pools = pools
        self.counts = mix_counts(mix, count)
        self.total = sum(self.counts.values())

    def _instance_events(self, count, round_no):
        result = []
        for index in range(count):
            inst = self.instances[index % len(self.instances)]
            lap = index // len(self.instances)
            state = STATES[(round_no * 7 + lap + 1) % len(STATES)]
            result.append((NOVA, 'nova-compute:%s' % inst['host'],
                           'instance.update', payload(inst, state)))
        return result

    def _volume_events(self, count, round_no):
        fx = self._cinder
        lives = count // len(VOLUME_STEPS)
        vols = []
        for index in range(lives):
            pool = self.pools[index % len(self.pools)]
            server = self.instances[(round_no * 7919 + index * 31)
                                    % len(self.instances)]['uuid']
            uuid = str(uuid_lib.uuid5(uuid_lib.NAMESPACE_URL,
                                      'bench-volume:%d:%d'
                                      % (round_no, index)))
            vol = fx.Volume(uuid=uuid, host=pool, name='bench-%d-%d'
                            % (round_no, index), size=10,
                            volume_type='bench', project_id=server[:8])
            attached = fx.Attached(server_id=server, attachment_id=str(
                uuid_lib.uuid5(uuid_lib.NAMESPACE_URL, 'att:' + uuid)))
            vols.append({
                'create': vol,
                'attach': fx.dataclasses.replace(
                    vol, status='in-use', attachments=(attached,)),
                'detach': vol,
                'resize': fx.dataclasses.replace(vol, size=20),
                'delete': fx.dataclasses.replace(vol, size=20,
                                                 status='deleting'),
            })
        result = []
        # Step by step: the events of one volume are ``lives`` volume
        # events apart.
        for step in VOLUME_STEPS:
            for states in vols:
                vol = states[step]
                note = fx.volume_event('volume.%s.end' % step, vol)
                result.append((CINDER, note.publisher_id, note.event_type,
                               note.payload))
        return result

    def _service_events(self, count, round_no):
        result = []
        for index in range(count):
            host = self.nodes[(round_no * count + index) % len(self.nodes)]
            disabled = not self.disabled[host]
            self.disabled[host] = disabled
            body = self._nova.service_payload(
                host, disabled=disabled,
                disabled_reason='bench maintenance' if disabled else None)
            result.append((NOVA, 'nova-compute:%s' % host, 'service.update',
                           body))
        return result

    def round(self, round_no):
        """The events of round ``round_no``, the kinds interleaved."""
        parts = [
            self._instance_events(self.counts['instance.update'], round_no),
            self._volume_events(self.counts['volume'], round_no),
            self._service_events(self.counts['service.update'], round_no),
        ]
        placed = []
        for kind, events in enumerate(parts):
            for index, event in enumerate(events):
                placed.append(((index + 0.5) / len(events), kind, index,
                               event))
        placed.sort(key=lambda item: item[:3])
        return [item[3] for item in placed]


def _neo4j_pid():
    """The pid of the Neo4j devservices started (None: unknown)."""
    state = os.environ.get('TACHYON_DEV_STATE')
    try:
        with open(os.path.join(state or '', 'neo4j', 'pid')) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def _cpu(pid=None):
    """CPU seconds (user + system) of this process, or of ``pid``."""
    if pid is None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    try:
        with open('/proc/%d/stat' % pid) as f:
            fields = f.read().rsplit(')', 1)[1].split()
    except OSError:
        return float('nan')
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


class CpuMeter(object):
    """CPU seconds of Tachyon (this process) and Neo4j over a phase.

    Wall-clock rates on a shared machine move with its load; CPU time
    per event moves much less, and says where the time goes.
    """

    def __init__(self):
        self.neo4j_pid = _neo4j_pid()
        self.start = (_cpu(), _cpu(self.neo4j_pid) if self.neo4j_pid
                      else float('nan'))

    def stop(self):
        end = (_cpu(), _cpu(self.neo4j_pid) if self.neo4j_pid
               else float('nan'))
        return end[0] - self.start[0], end[1] - self.start[1]


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
    conf.set_override('nova_topic', 'bench_versioned_' + topic,
                      'notifications')
    conf.set_override('cinder_topic', 'bench_' + topic, 'notifications')
    conf.set_override('enabled_handlers', [NOVA, CINDER], 'notifications')
    conf.set_override('batch_size', args.batch_size, 'notifications')
    conf.set_override('batch_timeout', args.batch_timeout, 'notifications')
    conf.set_override('executor_threads', args.executor_threads,
                      'notifications')
    conf.set_override('enrich_from_apis', False, 'notifications')
    return conf


def direct(conf, graph, stream, args, round_no):
    """Events/s of the parsed changes written straight to Neo4j."""
    from tachyon.graph import events as graph_events
    from tachyon.notifications import base
    from tachyon.notifications import listener
    processor = listener.Processor(
        conf, graph, listener.load_handlers(conf, [NOVA, CINDER]))
    start_at = time.time()
    changes = []
    for index, (_service, publisher, event, body) in enumerate(
            stream.round(round_no)):
        note = base.Notification(
            publisher, event, body,
            {'message_id': str(index), 'timestamp': start_at + index * 1e-5})
        changes.extend(processor.route(note).parse(note))
    meter = CpuMeter()
    started = time.perf_counter()
    # Batch size 0 (the listener's one-at-a-time mode): a transaction
    # per change.
    step = args.batch_size or 1
    for at in range(0, len(changes), step):
        graph_events.apply_changes(graph, changes[at:at + step])
    elapsed = time.perf_counter() - started
    return stream.total / elapsed, meter.stop()


def _notifier(url, exchange, topic):
    from oslo_config import cfg
    import oslo_messaging as messaging

    service_conf = cfg.ConfigOpts()
    service_conf([], project='%s-bench' % exchange)
    messaging.TransportURL(service_conf)
    service_conf.set_override('control_exchange', exchange)
    transport = messaging.get_notification_transport(service_conf, url=url)
    return transport, messaging.Notifier(
        transport, publisher_id='bench', driver='messagingv2',
        topics=[topic])


def ingestion(conf, graph, stream, url, args, topic):
    """Events/s from RabbitMQ into Neo4j through the listener."""
    from tachyon.notifications import listener

    opts = conf.notifications
    # Nova publishes on its control exchange; Cinder on oslo.messaging's
    # default one (it sets none).
    notifiers = {NOVA: _notifier(url, opts.nova_exchange, opts.nova_topic),
                 CINDER: _notifier(url, opts.cinder_exchange,
                                   opts.cinder_topic)}
    lst = listener.build(conf, graph)
    # Declare the queues, then publish everything, then consume: the
    # rate measured is the listener's, not the publisher's.
    lst.start()
    lst.stop()
    lst.wait()
    prepared = {}
    published = time.perf_counter()
    for service, publisher, event, body in stream.round(2):
        notifier = prepared.get((service, publisher))
        if notifier is None:
            notifier = prepared[service, publisher] = (
                notifiers[service][1].prepare(publisher_id=publisher))
        notifier.info({}, event, body)
    published = time.perf_counter() - published
    meter = CpuMeter()
    try:
        if args.workers > 1:
            elapsed, counts = _in_workers(args, url, topic, stream.total)
        else:
            elapsed, counts = _in_process(conf, graph, args, stream.total)
    finally:
        for transport, _notifier_ in notifiers.values():
            transport.cleanup()
    cpu = meter.stop()
    if args.workers > 1:
        # The listeners are other processes: their time is not ours.
        cpu = (float('nan'), cpu[1])
    return stream.total / elapsed, stream.total / published, counts, cpu


def _wait_applied(applied, total, args, started):
    while applied() < total:
        if time.perf_counter() - started > args.timeout:
            sys.exit('Timed out: %d of %d events applied'
                     % (applied(), total))
        time.sleep(0.01)
    return time.perf_counter() - started


def _in_process(conf, graph, args, total):
    from tachyon.notifications import listener
    lst = listener.build(conf, graph)
    started = time.perf_counter()
    lst.start()
    try:
        elapsed = _wait_applied(lambda: lst.processor.counts['applied'],
                                total, args, started)
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


def _in_workers(args, url, topic, total):
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
        elapsed = _wait_applied(lambda: applied.value, total, args, started)
    finally:
        stop.set()
        for proc in procs:
            proc.join(60)
    return elapsed, {'applied': applied.value, 'workers': args.workers}


def seed_storage(instances, args, seed=7):
    """Write a Cinder cloud into the graph; the names of its pools.

    ``--storage-hosts`` backends of two pools each, ``--volumes`` volumes
    spread over them, 60 % of them attached to an instance.
    """
    import random

    from tachyon.graph import storage
    from tachyon.model import records

    rnd = random.Random(seed)
    hosts = ['storage-%03d@lvm' % index for index in range(args.storage_hosts)]
    names = ['%s#pool_%d' % (host, p) for host in hosts for p in range(2)]
    volumes, used = [], dict.fromkeys(names, 0)
    for index in range(args.volumes):
        pool = rnd.choice(names)
        size = rnd.choice([10, 20, 40, 80, 160])
        used[pool] += size
        server = rnd.choice(instances)['uuid'] if rnd.random() < 0.6 else None
        volumes.append(records.Volume(
            uuid=str(uuid_lib.UUID(int=rnd.getrandbits(128), version=4)),
            name='volume-%06d' % index, size=size,
            status='in-use' if server else 'available',
            attachments=([{'server_id': server,
                           'attachment_id': 'att-%06d' % index}]
                         if server else []),
            project_id=server[:8] if server else None, volume_type='bench',
            created_at='2026-02-01T10:00:00', host=pool))
    graph = cloudgen._graph()
    try:
        storage.upsert_storage_nodes(graph, [
            records.StorageNode(host=host, zone='nova',
                                volume_type=['bench']) for host in hosts])
        storage.upsert_pools(graph, [records.Pool(
            name=name, total_volumes=0, total_capacity_gb=100000,
            free_capacity_gb=100000 - used[name],
            provisioned_capacity_gb=used[name],
            allocated_capacity_gb=used[name],
            virtual_free=100000 - used[name]) for name in names])
        storage.upsert_volumes(graph, volumes)
    finally:
        graph.close()
    return names


def _default(name, group='notifications'):
    """The shipped default of ``[group]/name``."""
    from tachyon.conf import engine
    from tachyon.conf import notifications
    module = {'engine': engine, 'notifications': notifications}[group]
    for opt in module.opts:
        if opt.name == name:
            return opt.default
    raise KeyError('[%s]/%s' % (group, name))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--nodes', type=int, default=1000)
    parser.add_argument('--instances', type=int, default=20000)
    parser.add_argument('--events', type=int, default=20000)
    parser.add_argument('--mix', default=DEFAULT_MIX,
                        help='weights of the event kinds, of: %s '
                             '(default %s)' % (', '.join(KINDS),
                                               DEFAULT_MIX))
    parser.add_argument('--storage-hosts', type=int, default=20,
                        help='Cinder backends (two pools each) seeded')
    parser.add_argument('--volumes', type=int, default=2000,
                        help='Cinder volumes seeded in their pools')
    # By default the shipped defaults: the figure is what an operator
    # who changed nothing gets.
    parser.add_argument('--batch-size', type=int, default=None,
                        help='[notifications]/batch_size (default: its '
                             'default, %d)' % _default('batch_size'))
    parser.add_argument('--batch-timeout', type=float, default=None,
                        help='[notifications]/batch_timeout (default: its '
                             'default, %s)' % _default('batch_timeout'))
    parser.add_argument('--executor-threads', type=int, default=None,
                        help='[notifications]/executor_threads (default: '
                             'its default, %d)'
                             % _default('executor_threads'))
    parser.add_argument('--workers', type=int, default=None,
                        help='listener processes sharing the pool, as '
                             'tachyon-engine runs [engine]/workers of them '
                             '(default: its default, %d)'
                             % _default('workers', 'engine'))
    parser.add_argument('--timeout', type=float, default=600)
    args = parser.parse_args()
    for name, group in (('batch_size', 'notifications'),
                        ('batch_timeout', 'notifications'),
                        ('executor_threads', 'notifications'),
                        ('workers', 'engine')):
        if getattr(args, name) is None:
            setattr(args, name, _default(name, group))
    try:
        mix = parse_mix(args.mix)
    except ValueError as exc:
        parser.error('--mix: %s' % exc)
    url = bench_engine.transport_url()
    nodes, instances = bench_engine.load_cloud(args.nodes, args.instances,
                                               17)
    instances = [i for i in instances if i['node']]
    pools = seed_storage(instances, args)
    stream = Stream(nodes, instances, pools, mix, args.events)
    topic = 'notifications_%d' % os.getpid()
    conf = conf_for(args, url, topic)
    graph = cloudgen._graph()
    try:
        # The first events of the generated cloud also set what the
        # import left out (the payload's flavor): apply one untimed round
        # so that the ceiling and the ingestion measure the same work,
        # a change per event.
        direct(conf, graph, stream, args, 0)
        raw, raw_cpu = direct(conf, graph, stream, args, 1)
        rate, publish_rate, counts, cpu = ingestion(conf, graph, stream,
                                                    url, args, topic)
    finally:
        graph.close()
    print('cloud %d nodes / %d instances / %d pools / %d volumes; %d '
          'events, batches of %d' % (args.nodes, args.instances,
                                     len(pools), args.volumes, stream.total,
                                     args.batch_size))
    print('  mix (%s): %s' % (args.mix, describe(stream.counts)))
    print('  raw Neo4j write of the same batches (ceiling) %8.0f events/s'
          % raw)
    print('  RabbitMQ -> listener -> Neo4j               %8.0f events/s'
          '  (%.0f%% of the ceiling; targets >= 2000/s and >= 50%%)'
          % (rate, 100.0 * rate / raw))
    print('  CPU ms per 1000 events, Tachyon / Neo4j: ceiling %.0f / %.0f,'
          ' ingestion %.0f / %.0f' % tuple(
              1e6 * v / stream.total for v in raw_cpu + cpu))
    print('  (%d listener process(es); publishing took %.0f events/s; '
          'counts %s)' % (args.workers, publish_rate, counts))
    print('  (tachyon from %s)' % os.path.dirname(os.path.dirname(
        os.path.abspath(tachyon.cmd.__file__))))


if __name__ == '__main__':
    main()
