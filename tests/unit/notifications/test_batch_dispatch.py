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

"""The batch dispatcher hands a whole received batch over at once.

oslo.messaging's batch dispatcher calls each endpoint with its share of
a batch; the listener's writes a batch mixing Nova's and Cinder's
notifications (and priorities) in one call of the processor, so in one
transaction. The real RabbitMQ path is in tests/functional/notifications/
test_listener.py.
"""

from tachyon.notifications import listener
from tests import base
from tests import notification_payloads as p

INSTANCE = '6a2c3d1e-8c5f-4f7e-9a5b-0c1d2e3f4a5b'
VOLUME = '0b6f7e55-1c2d-4e3f-8a9b-6c5d4e3f2a1b'


class _Incoming(object):
    """What oslo.messaging's driver hands the dispatcher: .ctxt, .message."""

    def __init__(self, note, priority='info'):
        self.ctxt = {}
        self.message = {
            'message_id': note.message_id, 'publisher_id': note.publisher_id,
            'event_type': note.event_type, 'priority': priority.upper(),
            'payload': note.payload,
            'timestamp': note.metadata.get('timestamp')}


class _Processor(listener.Processor):
    """The real processor, recording each call instead of writing."""

    def __init__(self, conf, handlers, answer=listener.ACK):
        super().__init__(conf, None, handlers, enricher=object())
        self.calls, self.answer = [], answer

    def process(self, notifications):
        self.calls.append(list(notifications))
        return self.answer


class TestBatchDispatch(base.TestCase):

    def dispatcher(self, answer=listener.ACK):
        handlers = listener.load_handlers(self.conf, ['nova', 'cinder'])
        processor = _Processor(self.conf, handlers, answer)
        return listener._BatchDispatcher(
            [listener._BatchEndpoint(processor, h) for h in handlers],
            processor), processor

    def batch(self):
        batch = [
            _Incoming(p.note('instance.update', p.nova_instance(INSTANCE),
                             at=100, message_id='m-1')),
            _Incoming(p.note('volume.create.end', p.cinder_volume(VOLUME),
                             at=101, message_id='m-2')),
            _Incoming(p.note('service.update', p.nova_service('compute-1'),
                             at=102, message_id='m-3'), priority='warn'),
            # No endpoint's filter takes it: acknowledged, not handed over.
            _Incoming(p.note('instance.update', p.nova_instance(INSTANCE),
                             at=103, message_id='m-4',
                             publisher_id='glance-api:host-1')),
        ]
        # An unreadable envelope: logged and dropped by the dispatcher.
        unreadable = _Incoming(p.note('volume.delete.end',
                                      p.cinder_volume(VOLUME), at=104,
                                      message_id='m-5'))
        unreadable.message['priority'] = 42
        return batch + [unreadable]

    def test_one_call_for_every_handler_and_priority(self):
        dispatcher, processor = self.dispatcher()
        self.assertEqual(set(), dispatcher.dispatch(self.batch()))
        self.assertEqual(1, len(processor.calls))
        notes = processor.calls[0]
        self.assertEqual(['m-1', 'm-2', 'm-3'],
                         [n.message_id for n in notes])
        self.assertEqual(['info', 'info', 'warn'],
                         [n.priority for n in notes])
        self.assertEqual('volume.storage-1@lvm#pool1', notes[1].publisher_id)
        self.assertEqual(p.timestamp(101), notes[1].metadata['timestamp'])
        self.assertEqual(101.0, notes[1].timestamp)
        self.assertEqual(VOLUME, notes[1].payload['volume_id'])
        self.assertEqual(1, processor.counts['malformed'])

    def test_a_requeue_requeues_what_was_handed_over(self):
        dispatcher, processor = self.dispatcher(answer=listener.REQUEUE)
        batch = self.batch()
        self.assertEqual(set(batch[:3]), dispatcher.dispatch(batch))
        self.assertEqual(1, len(processor.calls))

    def test_nothing_taken_nothing_called(self):
        dispatcher, processor = self.dispatcher()
        self.assertEqual(set(), dispatcher.dispatch(self.batch()[3:]))
        self.assertEqual([], processor.calls)
