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

"""Reservations driven by Watcher's own notifications, on real RabbitMQ.

The publisher is Watcher's side as watcher-decision-engine and
watcher-applier run it, in a process of its own: Watcher's configuration
(``watcher.common.config.parse_args``: control exchange ``watcher``, the
default notification topics, ``rpc.init``), its versioned notification
objects (``watcher.notifications.action_plan`` and ``.action``) built
from in-memory ActionPlan, Action, Audit and Strategy objects, emitted
with their own ``emit``. The listener runs Tachyon's default
``[notifications]`` and ``[reservations]`` options on a real Neo4j.
"""

import datetime
import json
import os
import subprocess
import sys
import time

from oslo_utils import uuidutils

from tachyon import exception
from tachyon.graph import compute
from tachyon.graph import reservations
from tachyon.model import records
from tachyon.rpc import manager as rpc_manager
from tachyon.simulation import manager
from tests.fixtures import services
from tests.functional import base

N1 = '11111111-1111-4111-8111-111111111111'
N2 = '22222222-2222-4222-8222-222222222222'
N3 = '33333333-3333-4333-8333-333333333333'
I1 = 'aaaaaaaa-0000-4000-8000-000000000001'
I2 = 'aaaaaaaa-0000-4000-8000-000000000002'
I3 = 'aaaaaaaa-0000-4000-8000-000000000003'
GOAL = 'bbbbbbbb-0000-4000-8000-000000000001'
STRATEGY = 'bbbbbbbb-0000-4000-8000-000000000002'

#: What Watcher's services do, in a fresh interpreter: argv[1] a
#: watcher.conf, the notes as JSON on stdin; where they went on stdout.
_WATCHER_SIDE = '''
import datetime
import json
import sys

from oslo_config import cfg

from watcher.common import config
from watcher import conf as watcher_conf  # noqa: F401 (registers opts)
from watcher.common import context as wcontext
from watcher.common import rpc
from watcher.common import service  # noqa: F401 (notification_level)
from watcher.notifications import action as action_notes
from watcher.notifications import action_plan as plan_notes
from watcher.notifications import audit as audit_notes
from watcher.notifications import base as notebase
from watcher.notifications import strategy as strategy_notes
from watcher import objects
from watcher.objects import fields as wfields

config.parse_args(['watcher-test', '--config-file', sys.argv[1]])
objects.register_all()
ctx = wcontext.make_context(is_admin=True)
INFO = wfields.NotificationPriority.INFO


def when(text):
    return None if text is None else datetime.datetime.fromisoformat(
        text).replace(tzinfo=datetime.timezone.utc)


def publisher(binary):
    return notebase.NotificationPublisher(host='watcher-host', binary=binary)


for note in json.load(sys.stdin):
    audit = objects.Audit(
        ctx, uuid=note['audit_uuid'], name='consolidation',
        audit_type='ONESHOT', state='SUCCEEDED', parameters={},
        interval=None, scope=[], auto_trigger=False, next_run_time=None,
        created_at=None, updated_at=None, deleted_at=None,
        status_message=None)
    strategy = objects.Strategy(
        ctx, uuid=note['strategy_uuid'], name='vm_workload_consolidation',
        display_name='VM Workload Consolidation', parameters_spec={},
        created_at=None, updated_at=None, deleted_at=None)
    plan = objects.ActionPlan(
        ctx, uuid=note['plan_uuid'], state=note['plan_state'],
        global_efficacy=[], status_message=None,
        created_at=when(note['plan_created_at']),
        updated_at=when(note.get('plan_updated_at')), deleted_at=None)
    event = note['event']
    if note['object'] == 'action_plan':
        audit_payload = audit_notes.TerseAuditPayload(
            audit=audit, goal_uuid=note['goal_uuid'])
        strategy_payload = strategy_notes.StrategyPayload(strategy=strategy)
        kw = dict(action_plan=plan, audit=audit_payload,
                  strategy=strategy_payload)
        if event == 'create':
            payload = plan_notes.ActionPlanCreatePayload(**kw)
            cls = plan_notes.ActionPlanCreateNotification
        elif event == 'update':
            payload = plan_notes.ActionPlanUpdatePayload(
                state_update=plan_notes.ActionPlanStateUpdatePayload(
                    old_state=note['old_state'], state=note['plan_state'],
                    status_message=None), **kw)
            cls = plan_notes.ActionPlanUpdateNotification
        elif event == 'delete':
            payload = plan_notes.ActionPlanDeletePayload(**kw)
            cls = plan_notes.ActionPlanDeleteNotification
        action = getattr(wfields.NotificationAction, event.upper())
        notification = cls(
            priority=INFO, payload=payload,
            event_type=notebase.EventType(object='action_plan',
                                          action=action),
            publisher=publisher('watcher-decision-engine'))
    else:
        act = objects.Action(
            ctx, uuid=note['action_uuid'], action_type='migrate',
            input_parameters={'resource_id': note['resource_id'],
                              'migration_type': 'live',
                              'source_node': note['source_node'],
                              'destination_node': note['destination_node'],
                              'resource_name': 'vm'},
            state=note['action_state'], parents=[], status_message=None,
            created_at=when(note['plan_created_at']),
            updated_at=when(note['action_updated_at']), deleted_at=None)
        plan_payload = plan_notes.TerseActionPlanPayload(
            action_plan=plan, audit_uuid=note['audit_uuid'],
            strategy_uuid=note['strategy_uuid'])
        if event == 'update':
            payload = action_notes.ActionUpdatePayload(
                action=act, action_plan=plan_payload,
                state_update=action_notes.ActionStateUpdatePayload(
                    old_state=note['old_state'],
                    state=note['action_state'], status_message=None))
            notification = action_notes.ActionUpdateNotification(
                priority=INFO, payload=payload,
                event_type=notebase.EventType(
                    object='action',
                    action=wfields.NotificationAction.UPDATE),
                publisher=publisher('watcher-applier'))
        else:
            phase = getattr(wfields.NotificationPhase, event.upper())
            payload = action_notes.ActionExecutionPayload(
                action=act, action_plan=plan_payload, fault=None)
            notification = action_notes.ActionExecutionNotification(
                priority=INFO, payload=payload,
                event_type=notebase.EventType(
                    object='action',
                    action=wfields.NotificationAction.EXECUTION,
                    phase=phase),
                publisher=publisher('watcher-applier'))
    notification.emit(ctx)
rpc.NOTIFICATION_TRANSPORT.cleanup()
print(json.dumps({
    'control_exchange': cfg.CONF.control_exchange,
    'topics': cfg.CONF.oslo_messaging_notifications.topics}))
'''


def iso(epoch):
    return datetime.datetime.fromtimestamp(
        epoch, datetime.timezone.utc).replace(tzinfo=None).isoformat()


def node(uuid, vcpus=8, memory=8192, disk=100):
    invs = {records.VCPU: records.Inventory(records.VCPU, total=vcpus),
            records.MEMORY_MB: records.Inventory(records.MEMORY_MB,
                                                 total=memory),
            records.DISK_GB: records.Inventory(records.DISK_GB, total=disk)}
    return records.ComputeNode(uuid=uuid, hostname='h-' + uuid[:2],
                               inventories=invs)


def instance(uuid, node_uuid, vcpus=2, memory=1024, disk=10):
    return records.Instance(uuid=uuid, name='vm', vcpus=vcpus,
                            memory=memory, disk=disk, node_uuid=node_uuid)


class Plan(object):
    """One action plan of one audit, and the notes Watcher sends of it."""

    def __init__(self, audit_uuid, created_at):
        self.uuid = uuidutils.generate_uuid()
        self.audit_uuid = audit_uuid
        self.created_at = created_at
        self.actions = {}

    def _base(self, **kw):
        return dict(audit_uuid=self.audit_uuid, plan_uuid=self.uuid,
                    goal_uuid=GOAL, strategy_uuid=STRATEGY,
                    plan_created_at=iso(self.created_at), **kw)

    def create(self):
        return self._base(object='action_plan', event='create',
                          plan_state='RECOMMENDED')

    def update(self, old, new, at):
        return self._base(object='action_plan', event='update',
                          plan_state=new, old_state=old,
                          plan_updated_at=iso(at))

    def delete(self, state, at):
        return self._base(object='action_plan', event='delete',
                          plan_state=state, plan_updated_at=iso(at))

    def action(self, resource_id, source, destination, old, new, at,
               event='update'):
        uuid = self.actions.setdefault(resource_id,
                                       uuidutils.generate_uuid())
        return self._base(object='action', event=event, action_uuid=uuid,
                          resource_id=resource_id, source_node=source,
                          destination_node=destination, old_state=old,
                          action_state=new, plan_state='ONGOING',
                          action_updated_at=iso(at))


class TestWatcherReservations(base.FunctionalTestCase):

    def setUp(self):
        super().setUp()
        self.transport = self.useFixture(
            services.RealTransportFixture(self.conf))
        self.flags(group='notifications', enrich_from_apis=False)
        self.manager = manager.SessionManager(self.conf, self.graph)
        compute.upsert_compute_nodes(self.graph, [
            node(N1), node(N2), node(N3, vcpus=3)])
        compute.upsert_instances(self.graph, [
            instance(I1, N1), instance(I2, N1), instance(I3, N2)])
        self.conf_file = os.path.join(self.useFixture(
            services.fixtures.TempDir()).path, 'watcher.conf')
        with open(self.conf_file, 'w') as f:
            # As devstack's Watcher plugin configures it: notifications
            # need a driver, [DEFAULT]/notification_level is Watcher's
            # default (info).
            f.write('[DEFAULT]\ntransport_url = %s\n'
                    '[oslo_messaging_notifications]\n'
                    'driver = messagingv2\n' % self.transport.url)
        self.now = time.time()

    def audit(self, moves):
        """An audit's session as Tachyon's plugins leave it: closed."""
        audit_uuid = uuidutils.generate_uuid()
        sid = self.manager.create_session(audit_uuid=audit_uuid)['id']
        for consumer, source, dest in moves:
            self.manager.migrate_instance(sid, consumer, source, dest)
        self.manager.close_session(sid)
        return audit_uuid

    def publish_as_watcher(self, *notes):
        done = subprocess.run(
            [sys.executable, '-c', _WATCHER_SIDE, self.conf_file],
            input=json.dumps(list(notes)), capture_output=True, text=True,
            timeout=120)
        self.assertEqual(0, done.returncode, done.stderr)
        where = json.loads(done.stdout.strip().splitlines()[-1])
        # Where Watcher publishes, and where Tachyon listens by default.
        self.assertEqual({'control_exchange': 'watcher',
                          'topics': ['notifications']}, where)
        self.assertEqual(
            ('watcher', 'notifications'),
            (self.conf.reservations.watcher_exchange,
             self.conf.reservations.watcher_topic))

    def wait_for(self, read, what, timeout=60):
        found = services.wait_until(read, timeout,
                                    tolerate=(exception.NotFound,))
        if not found:
            self.fail('Timed out waiting for %s' % what)
        return found

    def reservation(self, plan):
        return reservations.get_reservation(self.graph, plan.uuid)

    def wait_reservation(self, plan, test, what):
        return self.wait_for(
            lambda: (lambda r: r if test(r) else None)(
                self.reservation(plan)), what)

    def wait_processed(self, lst, count):
        self.wait_for(lambda: lst.processor.counts['applied'] >= count
                      or None, '%d notifications applied' % count)

    def used(self, node_uuid):
        return self.manager.get_node_used_resources(node_uuid)

    def snapshot_capacity(self):
        model = self.manager.get_compute_model()
        return {n.uuid: n.inventories[records.VCPU].capacity
                for n in model['nodes']}

    def holding(self, reservation):
        return sorted(h['consumer_uuid'] for h in reservation['holds']
                      if h['state'] == reservations.HELD)

    def test_lifecycle_in_order(self):
        audit = self.audit([(I1, N1, N2), (I2, N1, N3)])
        plan = Plan(audit, self.now)
        lst = self.start_listener()
        before = {n: self.used(n)['vcpu'] for n in (N1, N2, N3)}
        self.assertEqual({N1: 4, N2: 2, N3: 0}, before)

        self.publish_as_watcher(plan.create())
        res = self.wait_reservation(plan, lambda r: r['state'] == 'active',
                                    'the reservation')
        self.assertEqual(audit, res['audit_uuid'])
        self.assertEqual([I1, I2], self.holding(res))
        self.assertEqual([], res['overcommitted'])
        # Destinations taken, the source not freed: every usage read and
        # the snapshot's capacity.
        self.assertEqual({N1: 4, N2: 4, N3: 2},
                         {n: self.used(n)['vcpu'] for n in (N1, N2, N3)})
        self.assertEqual({N1: 8.0, N2: 6.0, N3: 1.0},
                         self.snapshot_capacity())
        self.assertEqual(
            {N1: {'vcpu': 4, 'memory': 2048, 'disk': 20},
             N2: {'vcpu': 4, 'memory': 2048, 'disk': 20},
             N3: {'vcpu': 2, 'memory': 1024, 'disk': 10}},
            self.manager.get_all_nodes_usage())
        self.assertNotIn(N3, [u for u, _ in compute.find_nodes_with_capacity(
            self.graph, records.VCPU, 3)])
        # A later audit's session sees the held capacity too: I3 (2
        # VCPU) no longer fits on N3, which has 2 of 3 held.
        later = self.manager.create_session()['id']
        self.assertRaises(exception.Conflict, self.manager.migrate_instance,
                          later, I3, N2, N3)
        self.assertEqual({'vcpu': 1, 'memory': 1024 * 7, 'disk': 90},
                         self.manager.get_node_free_resources(N3, later))
        self.manager.rollback_session(later)

        self.publish_as_watcher(
            plan.update('RECOMMENDED', 'PENDING', self.now + 1),
            plan.update('PENDING', 'ONGOING', self.now + 2),
            plan.action(I1, 'h-11', 'h-22', 'PENDING', 'ONGOING',
                        self.now + 3),
            plan.action(I1, 'h-11', 'h-22', 'ONGOING', 'SUCCEEDED',
                        self.now + 4))
        res = self.wait_reservation(plan, lambda r: self.holding(r) == [I2],
                                    "the end of I1's hold")
        self.assertEqual('ONGOING', res['plan_state'])
        self.assertEqual('active', res['state'])
        self.assertEqual(2, self.used(N2)['vcpu'])
        self.assertEqual(2, self.used(N3)['vcpu'])

        self.publish_as_watcher(
            plan.update('ONGOING', 'SUCCEEDED', self.now + 5))
        res = self.wait_reservation(plan, lambda r: r['state'] == 'ended',
                                    'the end of the reservation')
        self.assertEqual('SUCCEEDED', res['plan_state'])
        self.assertEqual('action plan SUCCEEDED', res['end_reason'])
        self.assertEqual([], self.holding(res))
        self.assertEqual(before,
                         {n: self.used(n)['vcpu'] for n in (N1, N2, N3)})
        self.assertEqual({N1: 8.0, N2: 8.0, N3: 3.0},
                         self.snapshot_capacity())
        self.assertEqual(0, lst.processor.counts['malformed'])

    def test_out_of_order_and_duplicated(self):
        audit = self.audit([(I1, N1, N2), (I2, N1, N3)])
        plan = Plan(audit, self.now)
        lst = self.start_listener()
        # The applier's news of I1 before the plan's create, the create
        # twice, an older update after a newer one.
        self.publish_as_watcher(
            plan.action(I1, 'h-11', 'h-22', 'ONGOING', 'SUCCEEDED',
                        self.now + 4),
            plan.update('PENDING', 'ONGOING', self.now + 2),
            plan.create(), plan.create(),
            plan.update('RECOMMENDED', 'PENDING', self.now + 1),
            plan.action(I1, 'h-11', 'h-22', 'PENDING', 'ONGOING',
                        self.now + 3))
        self.wait_processed(lst, 6)
        res = self.reservation(plan)
        self.assertEqual('active', res['state'])
        self.assertEqual('ONGOING', res['plan_state'])
        self.assertEqual([I2], self.holding(res))
        self.assertEqual(2, self.used(N2)['vcpu'])
        self.assertEqual(2, self.used(N3)['vcpu'])

        # Its end, then older news again: the reservation stays ended.
        self.publish_as_watcher(
            plan.update('ONGOING', 'CANCELLED', self.now + 6),
            plan.update('PENDING', 'ONGOING', self.now + 2),
            plan.create(),
            plan.update('ONGOING', 'CANCELLED', self.now + 6))
        self.wait_processed(lst, 10)
        res = self.reservation(plan)
        self.assertEqual('ended', res['state'])
        self.assertEqual('CANCELLED', res['plan_state'])
        self.assertEqual([], self.holding(res))
        self.assertEqual(0, self.used(N3)['vcpu'])
        self.assertEqual(0, lst.processor.counts['malformed'])

    def test_end_before_create_holds_nothing(self):
        audit = self.audit([(I1, N1, N2)])
        plan = Plan(audit, self.now)
        lst = self.start_listener()
        self.publish_as_watcher(plan.delete('SUPERSEDED', self.now + 9),
                                plan.create(),
                                plan.update('RECOMMENDED', 'PENDING',
                                            self.now + 1))
        self.wait_processed(lst, 3)
        res = self.reservation(plan)
        self.assertEqual('ended', res['state'])
        self.assertEqual('DELETED', res['plan_state'])
        # The listener may apply the create first (its batch is not
        # ordered): a hold made then ends with the delete.
        self.assertEqual([], self.holding(res))
        self.assertEqual(2, self.used(N2)['vcpu'])

    def test_a_move_that_happened_holds_no_more(self):
        audit = self.audit([(I1, N1, N2), (I2, N1, N3)])
        plan = Plan(audit, self.now)
        self.start_listener()
        self.publish_as_watcher(plan.create())
        self.wait_reservation(plan, lambda r: r['state'] == 'active',
                              'the reservation')
        self.assertEqual(4, self.used(N2)['vcpu'])
        # Nova moved I1 (its notification or a sync), before Watcher's
        # action notification: N2 counts I1 once.
        compute.upsert_instances(self.graph, [
            instance(I1, N2)])
        self.assertEqual(4, self.used(N2)['vcpu'])
        self.assertEqual(2, self.used(N1)['vcpu'])
        self.assertEqual({N1: 8.0, N2: 8.0, N3: 1.0},
                         self.snapshot_capacity())

    def test_ttl_ends_a_reservation(self):
        self.flags(group='reservations', ttl=60)
        audit = self.audit([(I1, N1, N2)])
        # A plan created two minutes ago whose end Tachyon never heard.
        plan = Plan(audit, self.now - 120)
        lst = self.start_listener()
        self.publish_as_watcher(plan.create())
        self.wait_processed(lst, 1)
        res = self.reservation(plan)
        self.assertEqual('ended', res['state'])
        self.assertEqual('expired', res['end_reason'])
        self.assertEqual(2, self.used(N2)['vcpu'])

    def test_disabled_reserves_nothing(self):
        self.flags(group='reservations', enabled=False)
        audit = self.audit([(I1, N1, N2)])
        plan = Plan(audit, self.now)
        lst = self.start_listener()
        self.publish_as_watcher(plan.create())
        self.wait_processed(lst, 1)
        self.assertRaises(exception.NotFound, self.reservation, plan)
        self.assertEqual(2, self.used(N2)['vcpu'])

    def test_destination_filled_meanwhile_is_reported(self):
        audit = self.audit([(I1, N1, N3)])
        plan = Plan(audit, self.now)
        # After the audit, Nova boots a 2-VCPU instance on N3 (3 VCPU).
        compute.upsert_instances(self.graph, [
            instance('aaaaaaaa-0000-4000-8000-000000000009', N3)])
        self.start_listener()
        with self.assertLogs('tachyon.graph.reservations', 'WARNING') as log:
            self.publish_as_watcher(plan.create())
            res = self.wait_reservation(
                plan, lambda r: r['state'] == 'active', 'the reservation')
        self.assertEqual(['%s:VCPU' % N3], res['conflicts'])
        self.assertEqual([{'node_uuid': N3, 'resource_class': 'VCPU',
                           'capacity': 3.0, 'taken': 4}],
                         res['overcommitted'])
        self.assertIn('overcommitted', log.output[0])
        # The caller's report: RPC 1.6, through the engine's endpoint.
        endpoint = rpc_manager.EngineManager(self.conf, self.graph)
        shown = endpoint.get_reservation({}, action_plan_uuid=plan.uuid)
        self.assertEqual(res['overcommitted'], shown['overcommitted'])
        [listed] = endpoint.list_reservations({}, state='active')
        self.assertEqual((plan.uuid, ['%s:VCPU' % N3], 1),
                         (listed['action_plan_uuid'], listed['conflicts'],
                          listed['holding']))
        # Releasing it (tachyon-manage reservation release) frees N3.
        self.assertEqual(1, reservations.release(self.graph, plan.uuid))
        self.assertEqual(2, self.used(N3)['vcpu'])
        self.assertEqual('ended', self.reservation(plan)['state'])
