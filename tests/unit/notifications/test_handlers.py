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

"""Handlers (payload -> changes) and the processor's failure handling."""

import re
import threading
import time

import fixtures

from tachyon import exception
from tachyon.model import changes
from tachyon.notifications import base as nbase
from tachyon.notifications import listener
from tachyon.notifications import nova
from tests import base
from tests import notification_payloads as p

U1 = '11111111-1111-4111-8111-111111111111'


class FakeEnricher(object):
    def complete(self, change_list):
        return change_list


class TestHandlers(base.TestCase):

    def setUp(self):
        super().setUp()
        self.handlers = {h.name: h for h in listener.load_handlers(
            self.conf)}

    def parse(self, handler, event, payload):
        return self.handlers[handler].parse(p.note(event, payload, at=1.0))

    def test_entry_points_and_filters(self):
        self.assertEqual(['nova', 'cinder', 'ironic', 'watcher'],
                         [h.name for h in listener.load_handlers(self.conf)])
        rule = re.compile(listener.event_type_filter(self.handlers['nova']))
        self.assertTrue(rule.match('instance.update'))
        self.assertTrue(rule.match('instance.evacuate'))
        self.assertFalse(rule.match('instance.update.x'))
        self.assertFalse(rule.match('instanceXupdate'))
        self.assertFalse(rule.match('instance.exists'))

    def test_unknown_handler_is_a_configuration_error(self):
        self.assertRaises(exception.ConfigurationError,
                          listener.load_handlers, self.conf, ['nova', 'nope'])

    def test_version_1_0_keeps_locked_and_extra_specs(self):
        [change] = self.parse('nova', 'instance.update', p.nova_instance(
            U1, version='1.0', swap=1025))
        self.assertIn('locked', change.keep)
        self.assertIn('flavor_extra_specs', change.keep)
        self.assertEqual(20 + 2, change.record.disk)
        self.assertEqual(1.0, change.timestamp)

    def test_no_host_unmaps(self):
        # Shelved offloaded: on no host, not "where it was".
        for event in ('instance.update', 'instance.shelve_offload.end'):
            [change] = self.parse('nova', event, p.nova_instance(
                U1, host=None, state='shelved_offloaded'))
            self.assertNotIn(changes.KEEP_NODE, change.keep)
            self.assertEqual((None, None, None), (
                change.record.host, change.record.node_name,
                change.record.node_uuid))
            self.assertEqual('shelved_offloaded', change.record.state)

    def test_resize_and_error_events_carry_the_whole_instance(self):
        for event in ('instance.resize.end', 'instance.resize_finish.end',
                      'instance.resize.error', 'instance.rebuild.error',
                      'instance.reboot.error'):
            [change] = self.parse('nova', event, p.nova_instance(
                U1, host='compute-2', state='resized', vcpus=4))
            self.assertEqual((changes.UPSERT, 'compute-2', 4, 'resized'), (
                change.action, change.record.node_name, change.record.vcpus,
                change.record.state), event)

    def test_rebuild_end_goes_to_the_publisher(self):
        # An evacuation: the payload still names the failed source.
        payload = p.nova_instance(U1, host='compute-1')
        [change] = self.handlers['nova'].parse(p.note(
            'instance.rebuild.end', payload, at=1.0,
            publisher_id='nova-compute:compute-2'))
        self.assertEqual(('compute-2', 'compute-2', None), (
            change.record.host, change.record.node_name,
            change.record.hypervisor_hostname))
        # A rebuild in place stays.
        [change] = self.parse('nova', 'instance.rebuild.end', payload)
        self.assertEqual(('compute-1', 'compute-1'), (
            change.record.node_name, change.record.hypervisor_hostname))

    def test_compute_task_error_sets_the_state_only(self):
        payload = {'nova_object.name': 'ComputeTaskPayload',
                   'nova_object.namespace': 'nova',
                   'nova_object.version': '1.0',
                   'nova_object.data': {'instance_uuid': U1,
                                        'state': 'error',
                                        'request_spec': None,
                                        'reason': None}}
        [change] = self.handlers['nova'].parse(p.note(
            'compute_task.rebuild_server.error', payload, at=1.0,
            publisher_id='nova-conductor:controller'))
        self.assertEqual((changes.INSTANCE, changes.UPDATE, U1,
                          {'state': 'error'}, None),
                         (change.kind, change.action, change.key,
                          change.fields, change.record))
        payload['nova_object.data']['state'] = 12345
        exc = self.assertRaises(
            exception.MalformedPayload, self.handlers['nova'].parse,
            p.note('compute_task.migrate_server.error', payload,
                   publisher_id='nova-conductor:controller'))
        self.assertEqual(('compute_task.migrate_server.error', 'state'),
                         (exc.event_type, exc.field))

    def test_malformed_payloads(self):
        cases = []
        missing = p.nova_instance(U1)
        del missing['nova_object.data']['state']
        cases.append((missing, "has no 'state'"))
        wrong = p.nova_instance(U1)
        wrong['nova_object.data']['flavor']['nova_object.data'][
            'vcpus'] = 'many'
        cases.append((wrong, "'vcpus' must be an integer"))
        not_uuid = p.nova_instance('nope')
        cases.append((not_uuid, "'uuid' is not a uuid"))
        cases.append((p.nova_instance(U1, version='9.1'),
                      'unknown payload version 9.1'))
        cases.append(([], 'payload is not an object'))
        for payload, message in cases:
            exc = self.assertRaises(exception.MalformedPayload, self.parse,
                                    'nova', 'instance.update', payload)
            self.assertIn(message, str(exc))
            self.assertEqual('instance.update', exc.event_type)

    def test_service_of_another_binary_is_ignored(self):
        payload = p.nova_service('c', binary='nova-api')
        self.assertEqual([], self.parse('nova', 'service.update', payload))

    def test_cinder_volume_and_capacity(self):
        [vol] = self.parse('cinder', 'volume.retype', p.cinder_volume(
            U1, size='7', type_id='t-1', attachments=[('s', 'a')]))
        self.assertEqual((7, [{'server_id': 's', 'attachment_id': 'a'}]),
                         (vol.record.size, vol.record.attachments))
        self.assertEqual('t-1', vol.fields['volume_type_id'])
        self.assertIn('volume_type', vol.keep)
        exc = self.assertRaises(exception.MalformedPayload, self.parse,
                                'cinder', 'capacity.pool',
                                p.cinder_capacity('no-hash'))
        self.assertIn('not a pool name', str(exc))

    def test_ironic_reads_like_the_collector(self):
        [change] = self.parse('ironic', 'baremetal.node.provision_set.end',
                              p.ironic_node(U1, provision_state='active'))
        self.assertEqual('active', change.record.provision_state)
        inv = change.record.inventories['CUSTOM_BAREMETAL']
        self.assertEqual((1, 0), (inv.total, inv.reserved))
        [change] = self.parse('ironic', 'baremetal.node.maintenance_set.end',
                              p.ironic_node(U1, maintenance=True))
        inv = change.record.inventories['CUSTOM_BAREMETAL']
        self.assertEqual((1, 1), (inv.total, inv.reserved))

    def test_newest_per_entity(self):
        older = self.parse('nova', 'instance.update',
                           p.nova_instance(U1))[0]
        newer = nbase.Notification('nova-compute:x', 'instance.delete.end',
                                   p.nova_instance(U1), {'timestamp': 5.0})
        [delete] = self.handlers['nova'].parse(newer)
        self.assertEqual([delete],
                         changes.newest_per_entity([delete, older]))
        self.assertEqual([delete],
                         changes.newest_per_entity([older, delete]))

    def test_timestamps(self):
        self.assertEqual(0.5, nbase.parse_timestamp(
            '1970-01-01 00:00:00.500000'))
        self.assertEqual(60.0, nbase.parse_timestamp('1970-01-01T00:01:00Z'))
        self.assertIsNone(nbase.parse_timestamp('yesterday'))


class TestProcessor(base.TestCase):

    def setUp(self):
        super().setUp()
        self.flags(group='notifications', requeue_delay=0)
        self.written = []
        self.processor = listener.Processor(
            self.conf, None, listener.load_handlers(self.conf),
            FakeEnricher())
        self.processor.write = self.write
        self.fail_with = None

    def write(self, change_list):
        if self.fail_with is not None:
            failure = self.fail_with(change_list)
            if failure is not None:
                raise failure
        self.written.append(change_list)

    def test_graph_unavailable_requeues(self):
        self.fail_with = lambda _c: exception.GraphUnavailable(
            uri='bolt://x', reason='down')
        answer = self.processor.process([p.note(
            'instance.update', p.nova_instance(U1), at=1)])
        self.assertEqual(listener.REQUEUE, answer)
        self.assertEqual(1, self.processor.counts['requeued'])
        self.assertEqual([], self.written)

    def test_refused_change_in_a_batch_costs_only_itself(self):
        def refuse_u1(change_list):
            if len(change_list) > 1 or change_list[0].key == U1:
                return exception.InvalidParameter(field='size',
                                                  reason='bad')
        self.fail_with = refuse_u1
        other = '22222222-2222-4222-8222-222222222222'
        answer = self.processor.process([
            p.note('instance.update', p.nova_instance(U1), at=1),
            p.note('instance.update', p.nova_instance(other), at=1)])
        self.assertEqual(listener.ACK, answer)
        self.assertEqual([[other]], [[c.key for c in w]
                                     for w in self.written])
        self.assertEqual(1, self.processor.counts['dropped'])

    def test_routes_by_publisher(self):
        note = p.note('instance.update', p.nova_instance(U1), at=1,
                      publisher_id='volume.host@b#p')
        self.assertIsNone(self.processor.route(note))
        self.assertIs(nova.NovaHandler, type(self.processor.route(
            p.note('instance.update', p.nova_instance(U1)))))


class TestProcessorWrites(base.TestCase):
    """The batches of one process write one at a time."""

    def test_one_batch_of_a_process_writes_at_a_time(self):
        state = {'writing': 0, 'most': 0}
        lock = threading.Lock()

        def apply_changes(graph, change_list):
            with lock:
                state['writing'] += 1
                state['most'] = max(state['most'], state['writing'])
            time.sleep(0.05)
            with lock:
                state['writing'] -= 1

        self.useFixture(fixtures.MonkeyPatch(
            'tachyon.graph.events.apply_changes', apply_changes))
        processor = listener.Processor(
            self.conf, None, listener.load_handlers(self.conf),
            FakeEnricher())
        threads = [threading.Thread(target=processor.write,
                                    args=(['change %d' % n],))
                   for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual(1, state['most'])
