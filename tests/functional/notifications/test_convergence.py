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

"""The graph converges whatever the order of the notifications.

The rule (doc/source/architecture.rst, "Convergence"): per entity, the
newest notification wins; at equal times a delete wins, then the greater
payload key; a delete leaves a tombstone that beats anything older or
equal; a restore after a soft delete is newer and wins.

Events are Nova's, built by the notification corpus (versioned payloads,
InstanceActionPayload / InstanceUpdatePayload / InstanceCreatePayload of
the newest release, whose instance.update names host, state and flavor),
and go over the real wire path: oslo.messaging's ``messagingv2`` driver
on Nova's exchange of the test RabbitMQ, with the message id and the
timestamp Nova's notifier gave them (a duplicate is the same message
again), into Tachyon's real listener and the real Neo4j.
"""

import dataclasses
import datetime
import itertools
import random
import time
import uuid as uuid_lib

import fixtures
import hypothesis
from hypothesis import strategies as st
from oslo_messaging.notify import messaging as notify_messaging

from tachyon import exception
from tachyon.graph import compute
from tachyon.graph import events as graph_events
from tachyon.model import records
from tachyon.notifications import base as notification_base
from tachyon.notifications import listener
from tachyon.notifications import nova as nova_handler
from tests.fixtures.notifications import common
from tests.fixtures.notifications import nova
from tests.fixtures.notifications import nova_objects
from tests.fixtures import services
from tests.functional import base

NODES = ('compute-1', 'compute-2', 'compute-3', 'compute-4')
HANDLED = frozenset(nova_handler.NovaHandler.event_types)
FLAVORS = (nova_objects.SMALL, nova_objects.MEDIUM, nova_objects.LARGE)


def _node_uuid(name):
    return str(uuid_lib.uuid5(uuid_lib.NAMESPACE_DNS, name))


def _message_id(entity, index):
    # Stable: hypothesis replays an example with the same messages.
    return common.uuid_for('message:%s:%d' % (entity, index))


@dataclasses.dataclass
class Event:
    """One notification as it goes on the wire, at its time."""

    note: common.Notification
    at: float
    message_id: str
    entity: str

    def message(self):
        moment = datetime.datetime.fromtimestamp(self.at,
                                                 datetime.timezone.utc)
        return self.note.message(self.message_id, moment)


def handled(notes):
    return [n for n in notes if n.event_type in HANDLED]


class Life(object):
    """The events of one server's life, at increasing times."""

    def __init__(self, index, start, flavor=0, host=0):
        self.srv = nova_objects.server(
            'conv-%d' % index, host=NODES[host], flavor=FLAVORS[flavor],
            node=NODES[host])
        self.at = start
        self.events = []

    def add(self, notes, gap=1.0, tie=False):
        for note in handled(notes):
            if not (tie and self.events):
                self.at += gap
            self.events.append(Event(note, self.at, _message_id(
                self.srv.uuid, len(self.events)), self.srv.uuid))

    def srv_after(self, **changes):
        self.srv = dataclasses.replace(self.srv, **changes)
        return self.srv

    # -- what Nova sends -------------------------------------------------

    def create(self, tie=False):
        """create.end, and the instance.update that follows it."""
        self.add([nova.instance('instance.create.end', self.srv)])
        self.add([nova.instance_update(self.srv)], gap=0.001, tie=tie)

    def update(self, tie=False):
        self.srv_after(metadata={'n': str(len(self.events))})
        self.add([nova.instance_update(self.srv)], tie=tie)

    def lock(self):
        self.srv_after(locked=True)
        self.add([nova.instance('instance.lock', self.srv)])
        self.srv_after(locked=False)
        self.add([nova.instance('instance.unlock', self.srv)])

    def power_cycle(self):
        self.srv_after(state='stopped', power_state='shutdown')
        self.add([nova.instance('instance.power_off.end', self.srv)])
        self.srv_after(state='active', power_state='running')
        self.add([nova.instance('instance.power_on.end', self.srv)])

    def live_migrate(self, dest):
        if NODES[dest] == self.srv.host:
            return
        notes = nova.live_migrate(self.srv, NODES[dest])
        self.add(notes)
        self.srv_after(host=NODES[dest], node=NODES[dest])

    def resize(self, dest, flavor):
        notes = nova.resize(self.srv, NODES[dest], FLAVORS[flavor])
        self.add(notes)
        self.srv_after(host=NODES[dest], node=NODES[dest],
                       flavor=FLAVORS[flavor])

    def shelve(self, dest):
        """Shelve, offload (the updates name no host), unshelve."""
        self.add(nova.shelve_offload_unshelve(self.srv, NODES[dest]))
        self.srv_after(host=NODES[dest], node=NODES[dest], state='active')

    def soft_delete_restore(self):
        self.srv_after(state='soft-delete')
        self.add([nova.instance('instance.soft_delete.end', self.srv)])
        self.srv_after(state='active')
        self.add([nova.instance('instance.restore.end', self.srv)])

    def delete(self):
        self.add(nova.delete(self.srv))


def service_events(name, start, flips):
    """service.update of a node: disabled / forced down in turns."""
    events = []
    at = start
    for i, (disabled, down) in enumerate(flips):
        at += 1.5
        note = nova.service(
            'service.update', name, disabled=disabled, forced_down=down,
            disabled_reason='maintenance %d' % i if disabled else None)
        events.append(Event(note, at, _message_id(name, i),
                            'node:%s' % name))
    return events


OPERATIONS = ('update', 'update_tie', 'lock', 'power_cycle', 'live_migrate',
              'resize', 'shelve', 'soft_delete_restore')


def build_life(index, start, flavor, host, operations, end_with_delete,
               tie_create):
    life = Life(index, start, flavor, host)
    life.create(tie=tie_create)
    for op, dest, new_flavor in operations:
        if op == 'update':
            life.update()
        elif op == 'update_tie':
            life.update(tie=True)
        elif op == 'live_migrate':
            life.live_migrate(dest)
        elif op == 'resize':
            life.resize(dest, new_flavor)
        elif op == 'shelve':
            life.shelve(dest)
        else:
            getattr(life, op)()
    if end_with_delete:
        life.delete()
    return life.events


def newest_first_bursts(events, rng):
    """Each entity's events together, newest first, entities shuffled."""
    by_entity = {}
    for event in events:
        by_entity.setdefault(event.entity, []).append(event)
    groups = list(by_entity.values())
    rng.shuffle(groups)
    out = []
    for group in groups:
        out.extend(sorted(group, key=lambda e: -e.at))
    return out


def shuffled_with_duplicates(events, rng, ratio=0.2):
    out = list(events)
    out.extend(rng.sample(events, int(len(events) * ratio)))
    rng.shuffle(out)
    return out


class ConvergenceCase(base.FunctionalTestCase):

    def setUp(self):
        super().setUp()
        self.flags(group='notifications', enrich_from_apis=False,
                   requeue_delay=0.2, enabled_handlers=['nova'])
        self.handlers = listener.load_handlers(self.conf)

    def make_nodes(self):
        compute.upsert_compute_nodes(self.graph, [records.ComputeNode(
            uuid=_node_uuid(name), hostname=name, service_host=name,
            inventories={rc: records.Inventory(rc, total=10 ** 6)
                         for rc in records.COMPUTE_RESOURCE_CLASSES})
            for name in NODES])

    def fingerprint(self):
        """What Watcher sees: instances, their placement, nodes, usage."""
        instances = {
            uuid: (i.state, i.host, i.flavor_name, i.vcpus, i.memory,
                   i.disk, i.locked, i.node_uuid, dict(i.metadata))
            for uuid, i in compute.get_all_instances(self.graph).items()}
        nodes = {n.hostname: (n.status, n.state, n.disabled_reason)
                 for n in compute.get_all_compute_nodes(
                     self.graph).values()}
        usage = compute.get_all_nodes_usage(self.graph)
        return {'instances': instances, 'nodes': nodes, 'usage': usage}

    def assertSameGraph(self, expected, got, what):
        diff = []
        for kind in ('instances', 'nodes', 'usage'):
            keys = set(expected[kind]) | set(got[kind])
            for key in sorted(keys):
                if expected[kind].get(key) != got[kind].get(key):
                    diff.append('%s %s: expected %r, got %r' % (
                        kind, key, expected[kind].get(key),
                        got[kind].get(key)))
        if diff:
            self.fail('%s: %d differences:\n%s' % (
                what, len(diff), '\n'.join(diff[:20])))


class TestConvergenceOverRabbitMQ(ConvergenceCase):
    """The real listener on the real RabbitMQ (threads, batches)."""

    def setUp(self):
        super().setUp()
        transport = self.useFixture(services.RealTransportFixture(self.conf))
        self.topic = 'versioned_notifications_%s' % uuid_lib.uuid4().hex[:8]
        self.flags(group='notifications', nova_topic=self.topic)
        # nova-compute's side: its own configuration, exchange "nova".
        nova = self.useFixture(services.ServiceNotificationTransport(
            transport.url, 'nova'))
        self.nova_transport = nova.transport
        nova_conf = nova.conf
        # The driver Nova's Notifier (driver messagingv2) calls, given the
        # message Nova's Notifier built: its id and timestamp are kept.
        self.driver = notify_messaging.MessagingV2Driver(
            nova_conf, topics=[self.topic], transport=self.nova_transport)
        self.make_nodes()

    def send(self, events):
        for event in events:
            self.driver.notify({}, event.message(), event.note.priority,
                               retry=-1)

    def settle(self, lst, count, timeout=120):
        """Wait until the listener has handled ``count`` notifications."""
        counts = lst.processor.counts
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = (counts['applied'] + counts['malformed']
                    + counts['dropped'] + counts['filtered'])
            if done >= count:
                break
            time.sleep(0.1)
        self.assertEqual(count, counts['applied'],
                         'notifications not all applied: %s' % counts)

    def test_create_then_update_keeps_every_placement(self):
        # Nova's boot: create.end and an instance.update back to back,
        # for many servers, handled by the listener's threads at once.
        lst = self.start_listener()
        lives, events = [], []
        for i in range(200):
            life = Life(i, 1795000000.0 + i, flavor=i % 3, host=i % 4)
            life.create(tie=i % 2 == 0)
            lives.append(life)
            events.extend(life.events)
        self.send(events)
        self.settle(lst, len(events))
        found = compute.get_all_instances(self.graph)
        usage = compute.get_all_nodes_usage(self.graph)
        self.assertEqual(200, len(found))
        unplaced = sorted(u for u, inst in found.items()
                          if inst.node_uuid is None)
        self.assertEqual([], unplaced, '%d of 200 servers have no '
                         'CONSUMES edges' % len(unplaced))
        want = {}
        for life in lives:
            inst = found[life.srv.uuid]
            self.assertEqual(life.srv.host, inst.host)
            self.assertEqual(_node_uuid(life.srv.host), inst.node_uuid)
            used = want.setdefault(_node_uuid(life.srv.host),
                                   {'vcpu': 0, 'memory': 0, 'disk': 0})
            used['vcpu'] += life.srv.flavor.vcpus
            used['memory'] += life.srv.flavor.memory_mb
            used['disk'] += life.srv.flavor.root_gb
        self.assertEqual(want, usage)

    def test_reordered_and_duplicated_streams_converge(self):
        self.flags(group='notifications', batch_size=25, batch_timeout=0.2)
        rng = random.Random(1789)
        events = []
        for i in range(40):
            ops = [(rng.choice(OPERATIONS), rng.randrange(4),
                    rng.randrange(3)) for _ in range(rng.randrange(1, 5))]
            events.extend(build_life(
                i, 1795000000.0 + 3 * i, rng.randrange(3), rng.randrange(4),
                ops, rng.random() < 0.25, rng.random() < 0.5))
        for name in NODES:
            events.extend(service_events(
                name, 1795000000.0 + rng.random(),
                [(rng.random() < 0.5, rng.random() < 0.3)
                 for _ in range(rng.randrange(1, 5))]))
        in_order = sorted(events, key=lambda e: e.at)
        lst = self.start_listener()
        self.send(in_order)
        self.settle(lst, len(in_order))
        expected = self.fingerprint()
        self.assertGreater(len(expected['instances']), 20)
        for label, stream in (
                ('shuffled with 20% duplicates',
                 shuffled_with_duplicates(events, rng)),
                ('newest-first bursts per entity',
                 newest_first_bursts(events, rng))):
            lst.processor.counts.update(applied=0, malformed=0,
                                        dropped=0, filtered=0)
            self.neo4j.wipe()
            self.make_nodes()
            self.send(stream)
            self.settle(lst, len(stream))
            self.assertSameGraph(expected, self.fingerprint(), label)


class TestConvergenceProperty(ConvergenceCase):
    """Random lives and orders, through the listener's processor.

    The processor is what the listener's endpoints call with each
    notification (or batch of them), parsed from the message as it comes
    off the wire; the graph is the real Neo4j.
    """

    def setUp(self):
        super().setUp()
        self.processor = listener.Processor(self.conf, self.graph,
                                            self.handlers)

    def notes(self, stream):
        """The stream as the listener's endpoints hand it over."""
        notes = []
        for event in stream:
            msg = event.message()
            notes.append(notification_base.Notification(
                msg['publisher_id'], msg['event_type'], msg['payload'],
                {'message_id': msg['message_id'],
                 'timestamp': msg['timestamp']},
                event.note.priority))
        return notes

    def deliver(self, stream, batches):
        """Hand the stream over in batches of the given sizes."""
        notes = self.notes(stream)
        start = 0
        sizes = iter(batches)
        while start < len(notes):
            size = next(sizes, 1)
            answer = self.processor.process(notes[start:start + size])
            self.assertEqual(listener.ACK, answer)
            start += size
        self.assertEqual(0, self.processor.counts['dropped'])
        self.assertEqual(0, self.processor.counts['malformed'])

    def run_stream(self, stream, batches=()):
        try:
            self.neo4j.wipe()
        except exception.GraphUnavailable:
            self.neo4j.wipe()
        self.make_nodes()
        self.deliver(stream, batches)
        return self.fingerprint()

    operation = st.tuples(st.sampled_from(OPERATIONS),
                          st.integers(0, len(NODES) - 1),
                          st.integers(0, len(FLAVORS) - 1))
    life = st.tuples(st.integers(0, len(FLAVORS) - 1),
                     st.integers(0, len(NODES) - 1),
                     st.lists(operation, max_size=4),
                     st.booleans(), st.booleans())
    flips = st.lists(st.tuples(st.booleans(), st.booleans()), min_size=1,
                     max_size=4)

    @hypothesis.settings(max_examples=15, deadline=None, derandomize=True,
                         suppress_health_check=list(
                             hypothesis.HealthCheck))
    @hypothesis.given(lives=st.lists(life, min_size=1, max_size=6),
                      nodes=st.lists(flips, min_size=0,
                                     max_size=len(NODES)),
                      seed=st.integers(0, 2 ** 32 - 1),
                      batches=st.lists(st.integers(1, 12), max_size=20))
    def test_any_order_converges(self, lives, nodes, seed, batches):
        events = []
        for i, (flavor, host, ops, delete, tie) in enumerate(lives):
            events.extend(build_life(i, 1795000000.0 + 2 * i, flavor, host,
                                     ops, delete, tie))
        for name, flips in zip(NODES, nodes):
            events.extend(service_events(name, 1795000000.25, flips))
        rng = random.Random(seed)
        expected = self.run_stream(sorted(events, key=lambda e: e.at))
        self.assertSameGraph(
            expected, self.run_stream(shuffled_with_duplicates(events, rng),
                                      batches),
            'shuffled with duplicates')
        self.assertSameGraph(
            expected, self.run_stream(newest_first_bursts(events, rng),
                                      batches),
            'newest-first bursts')
        self.assertSameGraph(
            expected, self.run_stream(sorted(events, key=lambda e: e.at),
                                      batches),
            'in order, in batches')

    def test_update_without_host_unmaps_in_any_order(self):
        # Shelve offload: the update naming no host puts the instance on
        # no node; the older updates naming one, arriving after it, do
        # not map it back.
        life = Life(0, 1795000000.0, host=2)
        life.create()
        offloaded = dataclasses.replace(life.srv, host=None, node=None,
                                        state='shelved_offloaded')
        life.add([nova.instance_update(offloaded)])
        expected = self.run_stream(life.events)
        self.assertEqual((None, 'shelved_offloaded'), (
            expected['instances'][life.srv.uuid][7],
            expected['instances'][life.srv.uuid][0]))
        self.assertSameGraph(expected, self.run_stream(life.events[::-1]),
                             'newest first')
        self.assertSameGraph(expected,
                             self.run_stream(life.events[::-1], [3]),
                             'newest first, one batch')

    def test_state_only_change_keeps_the_placement(self):
        # compute_task.*.error names no host: the instance stays on its
        # node with the state the conductor set, in any order: before the
        # instance is known its state is kept for the create.
        life = Life(0, 1795000000.0, host=2)
        life.create()
        life.add([nova.compute_task_error('migrate_server', life.srv,
                                          'error')])
        expected = self.run_stream(life.events)
        self.assertEqual((_node_uuid(NODES[2]), 'error'), (
            expected['instances'][life.srv.uuid][7],
            expected['instances'][life.srv.uuid][0]))
        self.assertSameGraph(expected,
                             self.run_stream(life.events[::-1], [3]),
                             'newest first, one batch')
        self.assertSameGraph(expected, self.run_stream(life.events, [3]),
                             'in order, one batch')
        self.assertSameGraph(expected, self.run_stream(life.events[::-1]),
                             'newest first, one by one')


def _whole(event):
    """Whether an event carries the whole instance (not compute_task)."""
    return not event.note.event_type.startswith('compute_task.')


class TestComputeTaskErrorsInEveryOrder(ConvergenceCase):
    """compute_task.*.error among the instance's own events, every order.

    The rule (doc/source/notifications.rst): an instance's state is dated
    apart from the rest of it. For the state the newest of the instance's
    whole payloads and state-only changes wins, at the same time the
    greater tie key; for the other fields the newest whole payload; the
    state-only change never moves the instance (its node follows the
    newest event naming one). A state-only change of an instance the
    graph does not have yet is kept, out of the model, for the whole
    payload that creates it.

    The events: the server's create.end; the end of a resize to another
    host and flavor (resize_confirm.end, from the source); a conductor
    failure (migrate_server) with the instance.update it sends at the
    same moment (what Nova sends with ``notify_on_state_change`` set);
    a later failure of another task at the same time as another
    state-only change. Every order of the six, the state-only changes
    first included (the instance still unknown) and the whole payloads
    after the newer state-only changes, one by one and in one batch.

    Each order is the life of a server of its own, all on one graph: the
    n-th events of every order are handed over together (each server
    still gets one notification per transaction), and so are all the
    events of an order in the batched run. The tie keys are digests of
    the payloads, whose uuids differ: each server's in-order stream
    (handed over the same way, on a fresh graph) says what it must end
    as.
    """

    def setUp(self):
        super().setUp()
        self.processor = listener.Processor(self.conf, self.graph,
                                            self.handlers)
        self.handler, = self.handlers

    notes = TestConvergenceProperty.notes
    deliver = TestConvergenceProperty.deliver

    def life(self, index):
        """The six events of server ``index``, in order of time."""
        srv = nova_objects.server('task-errors-%d' % index, host=NODES[1],
                                  flavor=FLAVORS[0], node=NODES[1])
        resized = dataclasses.replace(srv, host=NODES[2], node=NODES[2],
                                      flavor=FLAVORS[1])
        error = dataclasses.replace(resized, state='error')
        at = 1795000000.0 + index
        notes = [
            (nova.instance('instance.create.end', srv), at),
            (nova.instance('instance.resize_confirm.end', resized,
                           host=NODES[1]), at + 1),
            (nova.compute_task_error('migrate_server', resized, 'error'),
             at + 2),
            (nova.instance_update(error), at + 2),
            (nova.compute_task_error('rebuild_server', resized, 'stopped'),
             at + 3),
            (nova.compute_task_error('migrate_server', resized, 'active'),
             at + 3),
        ]
        return srv, [Event(note, when, _message_id(srv.uuid, i), srv.uuid)
                     for i, (note, when) in enumerate(notes)]

    def pending(self):
        return {r['uuid'] for r in self.graph.run_autocommit(
            'MATCH (p:PendingState) RETURN p.uuid AS uuid')}

    def fresh(self):
        try:
            self.neo4j.wipe()
        except exception.GraphUnavailable:
            self.neo4j.wipe()
        self.make_nodes()

    def one_by_one(self, streams, check=None):
        """The n-th event of every stream together, n = 0, 1, ..."""
        self.fresh()
        for n in range(len(streams[0])):
            self.deliver([stream[n] for stream in streams],
                         [len(streams)])
            if check:
                check(n)
        return self.fingerprint()

    def batched(self, streams, per_batch=50):
        """Each stream in one batch (``per_batch`` streams a batch)."""
        self.fresh()
        for start in range(0, len(streams), per_batch):
            group = [e for stream in streams[start:start + per_batch]
                     for e in stream]
            self.deliver(group, [len(group)])
        return self.fingerprint()

    def assertSameInstances(self, expected, got, what):
        diff = ['%s: expected %r, got %r' % (uuid, expected['instances'].get(
            uuid), got['instances'].get(uuid)) for uuid in sorted(
                set(expected['instances']) | set(got['instances']))
            if expected['instances'].get(uuid) != got['instances'].get(uuid)]
        if diff:
            self.fail('%s: %d of %d servers differ:\n%s' % (
                what, len(diff), len(expected['instances']),
                '\n'.join(diff[:10])))
        self.assertSameGraph(expected, got, what)

    def test_every_order_ends_as_the_in_order_stream(self):
        self.useFixture(fixtures.Timeout(1800, gentle=True))
        orders = list(itertools.permutations(range(6)))
        lives = [self.life(i) for i in range(len(orders))]
        in_order = [events for _srv, events in lives]
        expected = self.one_by_one(in_order)
        self.assertEqual(len(orders), len(expected['instances']))
        for srv, events in lives:
            # The +3 tie between two state-only changes: the greater tie
            # key wins; the rest is the resize's (the newest whole
            # payload, the instance.update at +2).
            tied = [change for event in events[4:]
                    for change in self.handler.parse(
                        self.notes([event])[0])]
            state = max(tied, key=graph_events.tie_key).fields['state']
            self.assertEqual(
                (state, NODES[2], FLAVORS[1].name, FLAVORS[1].vcpus,
                 FLAVORS[1].memory_mb),
                expected['instances'][srv.uuid][:5])
            self.assertEqual(_node_uuid(NODES[2]),
                             expected['instances'][srv.uuid][7])
        self.assertEqual(set(), self.pending())

        permuted = [[events[i] for i in order]
                    for order, (_srv, events) in zip(orders, lives)]

        def check(n):
            # A server is in the model once a whole payload of it came;
            # before that its state-only changes are kept out of it.
            seen = [stream[:n + 1] for stream in permuted]
            visible = {s[0].entity for s in seen if any(map(_whole, s))}
            self.assertEqual(visible, set(compute.get_all_instances(
                self.graph)), n)
            self.assertEqual({s[0].entity for s in seen
                              if not any(map(_whole, s))}, self.pending(), n)
            model = compute.get_compute_model(self.graph)
            self.assertEqual(visible, {i.uuid for i in model['instances']})
        self.assertSameInstances(expected, self.one_by_one(permuted, check),
                                 'one by one')
        self.assertEqual(set(), self.pending())
        self.assertSameInstances(expected, self.batched(permuted),
                                 'in one batch')
        self.assertEqual(set(), self.pending())
