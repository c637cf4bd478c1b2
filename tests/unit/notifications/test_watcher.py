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

"""The Watcher handler: payload -> change, and the reservation rules.

The payloads here have the shape of Watcher's ``obj_to_primitive`` (the
functional test tests/functional/notifications/test_watcher_reservations
builds them with Watcher's own notification objects and sends them over
RabbitMQ; Watcher's objects register Watcher's options, which cannot
share this process's configuration).
"""

import datetime

from tachyon import exception
from tachyon.graph import reservations
from tachyon.model import changes
from tachyon.model import plans
from tachyon.model import records
from tachyon.notifications import base as nbase
from tachyon.notifications import listener
from tests import base

PLAN = 'cccccccc-0000-4000-8000-000000000001'
AUDIT = 'cccccccc-0000-4000-8000-000000000002'
ACTION = 'cccccccc-0000-4000-8000-000000000003'
INST = 'cccccccc-0000-4000-8000-000000000004'
STRATEGY = 'cccccccc-0000-4000-8000-000000000005'
WHEN = datetime.datetime(2026, 12, 3, 6, 0, 0, tzinfo=datetime.timezone.utc)


def _obj(name, version, data):
    return {'watcher_object.name': name, 'watcher_object.namespace':
            'watcher', 'watcher_object.version': version,
            'watcher_object.data': data}


def _iso(moment):
    return None if moment is None else moment.strftime('%Y-%m-%dT%H:%M:%SZ')


def _plan_data(state, updated):
    return {'uuid': PLAN, 'state': state, 'global_efficacy': [],
            'status_message': None, 'created_at': _iso(WHEN),
            'updated_at': _iso(updated), 'deleted_at': None}


def plan_payload(state='RECOMMENDED', updated=None):
    data = dict(_plan_data(state, updated), audit_uuid=AUDIT,
                strategy_uuid=STRATEGY,
                audit=_obj('TerseAuditPayload', '1.3', {'uuid': AUDIT}),
                strategy=_obj('StrategyPayload', '1.0', {'uuid': STRATEGY}))
    return _obj('ActionPlanCreatePayload', '1.2', data)


def action_payload(state, updated):
    # Watcher leaves action_plan_uuid unset: the nested plan names it.
    data = {'uuid': ACTION, 'action_type': 'migrate',
            'input_parameters': {'resource_id': INST,
                                 'migration_type': 'live'},
            'state': state, 'parents': [], 'status_message': None,
            'created_at': _iso(WHEN), 'updated_at': _iso(updated),
            'deleted_at': None,
            'action_plan': _obj('TerseActionPlanPayload', '1.2', dict(
                _plan_data('ONGOING', None), audit_uuid=AUDIT,
                strategy_uuid=STRATEGY)),
            'state_update': _obj('ActionStateUpdatePayload', '1.1', {
                'old_state': 'ONGOING', 'state': state,
                'status_message': None})}
    return _obj('ActionUpdatePayload', '1.1', data)


def note(event_type, payload):
    return nbase.Notification('watcher-applier:host', event_type, payload,
                              {'message_id': 'm', 'timestamp': None})


class TestWatcherHandler(base.TestCase):

    def setUp(self):
        super().setUp()
        [self.handler] = listener.load_handlers(self.conf, ['watcher'])

    def test_where_it_listens(self):
        self.assertEqual([('notifications', 'watcher')],
                         self.handler.targets())
        self.flags(group='reservations', watcher_topic='wn',
                   watcher_exchange='wx')
        self.assertEqual([('wn', 'wx')], self.handler.targets())
        self.assertIn('action_plan.create', self.handler.event_types)
        self.assertIn('action.execution.end', self.handler.event_types)

    def test_action_plan_create(self):
        [change] = self.handler.parse(note('action_plan.create',
                                           plan_payload()))
        self.assertEqual((changes.ACTION_PLAN, changes.UPSERT, PLAN),
                         (change.kind, change.action, change.key))
        self.assertEqual(plans.ActionPlanState(
            uuid=PLAN, audit_uuid=AUDIT, state='RECOMMENDED',
            created_at=WHEN.timestamp()), change.record)
        # Ordered by the plan's own times (no updated_at: its creation).
        self.assertEqual(WHEN.timestamp(), change.timestamp)

    def test_action_plan_delete(self):
        later = WHEN + datetime.timedelta(seconds=30)
        [change] = self.handler.parse(note('action_plan.delete',
                                           plan_payload('SUCCEEDED', later)))
        self.assertTrue(change.record.deleted)
        self.assertEqual(later.timestamp(), change.timestamp)

    def test_action_update_names_its_plan_and_instance(self):
        later = WHEN + datetime.timedelta(seconds=9)
        [change] = self.handler.parse(note(
            'action.update', action_payload('SUCCEEDED', later)))
        self.assertEqual(plans.ActionState(
            uuid=ACTION, action_plan_uuid=PLAN, action_type='migrate',
            state='SUCCEEDED', resource_id=INST), change.record)
        self.assertEqual(later.timestamp(), change.timestamp)

    def test_malformed_payload_names_the_field(self):
        payload = plan_payload()
        del payload['watcher_object.data']['audit_uuid']
        exc = self.assertRaises(exception.MalformedPayload,
                                self.handler.parse,
                                note('action_plan.create', payload))
        self.assertIn('audit_uuid', str(exc))
        payload = plan_payload()
        payload['watcher_object.version'] = '2.0'
        self.assertRaises(exception.MalformedPayload, self.handler.parse,
                          note('action_plan.create', payload))


class TestRules(base.TestCase):

    def test_final_moves(self):
        self.assertEqual({'a': 'n3', 'c': 'n1'}, reservations.final_moves([
            ['MOVE', 'a', 'n2'], ['MOVE', 'b', 'n2'], ['MOVE', 'a', 'n3'],
            ['DEALLOCATE', 'b', None], ['RESIZE', 'a', None],
            ['ALLOCATE', 'c', 'n1']]))

    def test_withhold_rounds_up_over_the_ratio(self):
        node = records.ComputeNode(uuid='n1', hostname='h', inventories={
            records.VCPU: records.Inventory(records.VCPU, total=16,
                                            reserved=1, allocation_ratio=4.0),
            records.MEMORY_MB: records.Inventory(records.MEMORY_MB,
                                                 total=1000)})
        reservations.withhold([node], {'n1': {records.VCPU: 6,
                                              records.MEMORY_MB: 300,
                                              records.DISK_GB: 5}})
        vcpu = node.inventories[records.VCPU]
        self.assertEqual(1 + 2, vcpu.reserved)
        self.assertLessEqual(vcpu.capacity, (16 - 1) * 4.0 - 6)
        self.assertEqual(300, node.inventories[records.MEMORY_MB].reserved)

    def test_short_of(self):
        rows = [{'node_uuid': 'n1', 'rc': 'VCPU', 'total': 4, 'reserved': 0,
                 'allocation_ratio': 1.0, 'used': 2, 'held': 2},
                {'node_uuid': 'n2', 'rc': 'VCPU', 'total': 4, 'reserved': 0,
                 'allocation_ratio': 1.0, 'used': 3, 'held': 2}]
        self.assertEqual([{'node_uuid': 'n2', 'resource_class': 'VCPU',
                           'capacity': 4.0, 'taken': 5}],
                         reservations.short_of(rows))
