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

"""How each kind of failure ends: dropped once, requeued, dead-lettered."""

import logging
import time

import fixtures

from tachyon.common import fields
from tachyon import exception
from tachyon.notifications import base as nbase
from tachyon.notifications import listener
from tests import base
from tests import notification_payloads as p

U1 = '11111111-1111-4111-8111-111111111111'
U2 = '22222222-2222-4222-8222-222222222222'


class FakeEnricher(object):
    def complete(self, change_list):
        return change_list


def _unavailable(answered):
    return exception.GraphUnavailable(uri='bolt://x', reason='down',
                                      answered=answered)


class TestFieldRanges(base.TestCase):

    def reader(self, **data):
        return fields.Reader(data)

    def test_integers_beyond_64_bits_name_the_field(self):
        for value in (2 ** 63, -2 ** 63 - 1, 2 ** 64, 10 ** 4000):
            exc = self.assertRaises(exception.MalformedField,
                                    self.reader(size=value).integer, 'size')
            self.assertEqual('size', exc.field)
            self.assertIn('64-bit', str(exc))
            self.assertLess(len(str(exc)), 200)
        self.assertEqual(2 ** 63 - 1,
                         self.reader(size=2 ** 63 - 1).integer('size'))
        self.assertEqual(-2 ** 63, self.reader(size=-2 ** 63).integer('size'))

    def test_numbers_must_be_finite(self):
        for value in (float('nan'), float('inf'), float('-inf'), 2 ** 64):
            exc = self.assertRaises(exception.MalformedField,
                                    self.reader(free=value).number, 'free')
            self.assertEqual('free', exc.field)
        self.assertEqual(1.5, self.reader(free=1.5).number('free'))

    def test_strings_must_be_valid_unicode(self):
        exc = self.assertRaises(exception.MalformedField,
                                self.reader(host='a\ud800').string, 'host')
        self.assertEqual('host', exc.field)
        self.assertEqual('\u4e2d\U0001f600',
                         self.reader(host='\u4e2d\U0001f600').string('host'))

    def test_messages_cut_long_values(self):
        exc = self.assertRaises(exception.MalformedField,
                                self.reader(n='x' * 10 ** 6).integer, 'n')
        self.assertLess(len(str(exc)), 200)
        self.assertIn('bits', fields.short_repr(10 ** 5000))

    def test_payload_integer_strings_are_range_checked(self):
        note = p.note('volume.update.end', {})
        for text in ('9' * 30, '1' * 5000, '12.5'):
            payload = nbase.Payload(note, {'size': text})
            exc = self.assertRaises(exception.MalformedPayload,
                                    payload.integer, 'size')
            self.assertEqual('size', exc.field)
        self.assertEqual(40, nbase.Payload(note, {'size': '40'}).integer(
            'size'))

    def test_text_reader_integer_range(self):
        exc = self.assertRaises(exception.MalformedField,
                                fields.TextReader({'n': '1e300'}).integer,
                                'n')
        self.assertEqual('n', exc.field)


class TestTimestamps(base.TestCase):

    def test_unreadable_times_are_none(self):
        for value in (float('nan'), float('inf'), -float('inf'), 2 ** 64,
                      10 ** 400, 1e300, '99999-01-01', 'x' * 10 ** 5,
                      [], {}, True):
            self.assertIsNone(nbase.parse_timestamp(value), repr(value)[:40])
        self.assertEqual(12.5, nbase.parse_timestamp(12.5))


class ProcessorTestCase(base.TestCase):

    def setUp(self):
        super().setUp()
        self.flags(group='notifications', requeue_delay=0, max_requeues=2)
        self.written = []
        self.processor = listener.Processor(
            self.conf, None, listener.load_handlers(self.conf),
            FakeEnricher())
        self.processor.write = self.write
        self.fail_with = None
        self.log = self.useFixture(fixtures.FakeLogger(
            level=logging.WARNING, format='%(message)s'))

    def write(self, change_list):
        if self.fail_with is not None:
            failure = self.fail_with(change_list)
            if failure is not None:
                raise failure
        self.written.append(change_list)

    def note(self, uuid=U1, ident='msg-1', at=1, **kwargs):
        return p.note('instance.update', p.nova_instance(uuid, **kwargs),
                      at=at, message_id=ident)


class TestClassification(ProcessorTestCase):

    def test_malformed_is_dropped_once_naming_the_field(self):
        note = self.note(vcpus=2 ** 64, ident='msg-big')
        self.assertEqual(listener.ACK, self.processor.process([note]))
        self.assertEqual(1, self.processor.counts['malformed'])
        self.assertEqual(1, self.log.output.count('msg-big'))
        self.assertIn('(field vcpus)', self.log.output)
        self.assertEqual([], self.written)

    def test_unexpected_parse_errors_are_malformed_not_requeued(self):
        for exc in (OverflowError('too big'), TypeError('bad'),
                    KeyError('k'), AttributeError('a')):
            def boom(notification, exc=exc):
                raise exc
            self.processor.handlers[0].parse = boom
            self.processor._routes[0] = (
                self.processor.handlers[0],) + self.processor._routes[0][1:]
            self.assertEqual(listener.ACK,
                             self.processor.process([self.note()]))
        self.assertEqual(4, self.processor.counts['malformed'])

    def test_graph_refused_is_dropped_once(self):
        self.fail_with = lambda _c: exception.GraphRefused(
            neo4j_code='Neo.ClientError.Statement.ArgumentError',
            reason='no')
        self.assertEqual(listener.ACK, self.processor.process([self.note()]))
        self.assertEqual(1, self.processor.counts['dropped'])
        self.assertEqual(0, self.processor.counts['requeued'])
        self.assertEqual(1, self.log.output.count('msg-1'))

    def test_driver_value_errors_are_dropped(self):
        for exc in (OverflowError('int64'), ValueError('x'),
                    TypeError('y')):
            self.fail_with = lambda _c, exc=exc: exc
            self.assertEqual(listener.ACK,
                             self.processor.process([self.note()]))
        self.assertEqual(3, self.processor.counts['dropped'])

    def test_an_unexpected_error_is_dropped_not_raised(self):
        self.fail_with = lambda _c: RuntimeError('bug')
        self.assertEqual(listener.ACK, self.processor.process([self.note()]))
        self.assertEqual(1, self.processor.counts['dropped'])

    def test_unreachable_neo4j_requeues_without_limit(self):
        self.fail_with = lambda _c: _unavailable(False)
        for _ in range(20):
            self.assertEqual(listener.REQUEUE,
                             self.processor.process([self.note()]))
        self.assertEqual(20, self.processor.counts['requeued'])
        self.assertEqual(0, self.processor.counts['dead_lettered'])

    def test_answered_failures_are_retried_then_dead_lettered(self):
        self.fail_with = lambda _c: _unavailable(True)
        answers = [self.processor.process([self.note()]) for _ in range(3)]
        self.assertEqual([listener.REQUEUE] * 2 + [listener.ACK], answers)
        self.assertEqual(2, self.processor.counts['requeued'])
        self.assertEqual(1, self.processor.counts['dead_lettered'])
        self.assertEqual(1, self.log.output.count('Dead-lettering'))
        # Another message has its own budget.
        self.assertEqual(listener.REQUEUE, self.processor.process(
            [self.note(ident='msg-2')]))

    def test_success_resets_the_budget(self):
        self.fail_with = lambda _c: _unavailable(True)
        self.processor.process([self.note()])
        self.processor.process([self.note()])
        self.fail_with = None
        self.assertEqual(listener.ACK, self.processor.process([self.note()]))
        self.fail_with = lambda _c: _unavailable(True)
        self.assertEqual(listener.REQUEUE,
                         self.processor.process([self.note()]))

    def test_a_batch_skips_its_dead_lettered_message(self):
        self.fail_with = lambda _c: _unavailable(True)
        for _ in range(3):
            self.processor.process([self.note()])
        self.assertEqual(1, self.processor.counts['dead_lettered'])
        self.fail_with = None
        batch = [self.note(), self.note(U2, ident='msg-2')]
        self.assertEqual(listener.ACK, self.processor.process(batch))
        self.assertEqual([[U2]], [[c.key for c in w] for w in self.written])
        self.assertEqual(1, self.log.output.count('Dead-lettering'))

    def test_batch_parse_failures_are_logged_once(self):
        self.fail_with = lambda c: exception.GraphRefused(
            neo4j_code=None, reason='no') if len(c) > 1 or (
                c[0].key == U1) else None
        batch = [self.note(), self.note(U2, ident='msg-2'),
                 self.note(ident='msg-bad', vcpus='x')]
        self.assertEqual(listener.ACK, self.processor.process(batch))
        self.assertEqual(1, self.log.output.count('msg-bad'))
        self.assertEqual(1, self.log.output.count('msg-1'))
        self.assertEqual([[U2]], [[c.key for c in w] for w in self.written])

    def test_retry_memory_is_bounded(self):
        retries = listener._Retries(size=3)
        for i in range(10):
            retries.add('m%d' % i)
        self.assertEqual(3, len(retries))


class TestFutureTimestamps(ProcessorTestCase):

    def test_far_future_is_clamped_to_now_and_logged_once(self):
        before = time.time()
        note = self.note(at=3326400000.0, ident='msg-2076')   # 2075
        self.assertEqual(listener.ACK, self.processor.process([note]))
        [[change]] = self.written
        self.assertGreaterEqual(change.timestamp, before)
        self.assertLessEqual(change.timestamp, time.time())
        self.assertEqual(1, self.processor.counts['clamped'])
        self.assertEqual(1, self.log.output.count('msg-2076'))

    def test_within_the_skew_is_kept(self):
        at = time.time() + 100
        self.processor.process([self.note(at=at)])
        [[change]] = self.written
        self.assertAlmostEqual(at, change.timestamp, places=3)
        self.assertEqual(0, self.processor.counts['clamped'])

    def test_a_malformed_future_message_is_logged_once(self):
        self.processor.process([self.note(at=3326400000.0, vcpus='x',
                                          ident='msg-x')])
        self.assertEqual(1, self.log.output.count('msg-x'))


class TestEnvelopes(base.TestCase):

    def message(self, **changes):
        message = {'message_id': 'm', 'publisher_id': 'nova-compute:c',
                   'event_type': 'instance.update', 'priority': 'INFO',
                   'payload': {}, 'timestamp': 'x'}
        message.update(changes)
        return message

    def test_readable(self):
        self.assertIsNone(listener.envelope_problem(self.message()))
        self.assertIsNone(listener.envelope_problem(
            self.message(priority='sample')))

    def test_unreadable(self):
        for key, value in [('priority', 5), ('priority', None),
                           ('priority', 'bogus'), ('event_type', []),
                           ('event_type', ''), ('publisher_id', 5),
                           ('message_id', None), ('message_id', 'a\ud800')]:
            problem = listener.envelope_problem(self.message(**{key: value}))
            self.assertIn(key, problem)
        self.assertIsNotNone(listener.envelope_problem([1]))
