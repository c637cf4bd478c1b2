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

"""The notification listener of tachyon-engine.

One oslo.messaging notification listener (threading executor) listens on
the targets of every enabled handler plugin (``[notifications]/
enabled_handlers``, loaded by stevedore from ``tachyon.notification_
handlers``), in the listener pool ``[notifications]/pool``: the workers of
every engine share each queue, so each notification is handled once.

Each handler gets an endpoint whose filter (publisher id and the exact
event types the handler takes) drops every other notification before any
work. With ``[notifications]/batch_size`` above zero, oslo.messaging's
batch listener hands over up to that many notifications at once and they
are written in one transaction, as ``UNWIND`` batches.

What happens to a notification:

* its envelope is checked (message id, publisher id, event type and
  priority are strings, the priority a known one): oslo.messaging would
  requeue one it cannot dispatch, forever; it is logged once and dropped;
* parsed by its handler into changes; a malformed payload (a value out of
  range included, see :mod:`tachyon.common.fields`) is logged once (event
  type, message id, the field, what is wrong) and dropped; a timestamp
  more than ``[notifications]/max_future_skew`` seconds ahead is taken as
  now (logged once);
* completed from the APIs (:mod:`tachyon.notifications.enrich`);
* written in one transaction (:func:`tachyon.graph.events.
  apply_changes`). When Neo4j cannot be reached (the driver has retried
  already) the notification is requeued after
  ``[notifications]/requeue_delay`` seconds and nothing is lost; when
  Neo4j answered with a failure that may pass (deadlock, timeout) it is
  requeued at most ``[notifications]/max_requeues`` times, then
  dead-lettered (logged once, dropped); a change the graph refuses for
  good is logged once and dropped (in a batch, the others are written one
  by one).

:attr:`Processor.counts` counts how each notification ended, and so does
``tachyon_notifications_total`` (by handler and event type) when the
engine's metrics are on (:mod:`tachyon.common.metrics`), with the lag from
each applied notification's timestamp to its commit.
"""

import collections
import dataclasses
import re
import threading
import time

from oslo_log import log as logging
import oslo_messaging as messaging
from oslo_messaging.notify import dispatcher as notify_dispatcher
from oslo_messaging.notify import listener as notify_listener
from stevedore import named

from tachyon.common import fields
from tachyon.common import metrics
from tachyon import exception
from tachyon.graph import events
from tachyon.notifications import base
from tachyon.notifications import enrich

LOG = logging.getLogger(__name__)

NAMESPACE = 'tachyon.notification_handlers'
PRIORITIES = ('audit', 'debug', 'info', 'warn', 'error', 'critical',
              'sample')

#: What :meth:`Processor.process` answers.
ACK = 'ack'
REQUEUE = 'requeue'


def load_handlers(conf, names=None):
    """The enabled handler plugins, instantiated with ``conf``."""
    names = list(names if names is not None
                 else conf.notifications.enabled_handlers)
    manager = named.NamedExtensionManager(
        NAMESPACE, names=names, invoke_on_load=True, invoke_args=(conf,),
        name_order=True, on_missing_entrypoints_callback=_missing)
    return [ext.obj for ext in manager]


def _missing(names):
    raise exception.ConfigurationError(
        group='notifications', option='enabled_handlers',
        reason='no handler plugin named %s in the %s entry-point namespace'
        % (', '.join(sorted(names)), NAMESPACE))


def check_queue_names(conf, handlers=None):
    """Refuse a listener pool whose queue another consumer reads.

    RabbitMQ names the queue of a listener pool after the pool, the queues
    of the RPC topic after the topic (TOPIC and TOPIC.HOST), and the queue
    of a notification topic's consumers without a pool TOPIC.PRIORITY.
    Two consumers of one queue take its messages in turns: each loses half
    of its own and gets half of the other's.

    :raises: ConfigurationError naming the clash.
    """
    opts = conf.notifications
    if not opts.enable_listener:
        return
    pool = opts.pool
    if not pool:
        raise exception.ConfigurationError(
            group='notifications', option='pool', reason='must be set: '
            'without a pool the listener would read the TOPIC.PRIORITY '
            'queues that the other consumers of the notifications share')
    topic = conf.engine.topic
    taken = {topic: 'the queue of the RPC topic ([engine]/topic)',
             '%s.%s' % (topic, conf.host): "the queue of this engine's "
             'RPC server ([engine]/topic.[DEFAULT]/host)'}
    for handler in handlers if handlers is not None else load_handlers(conf):
        for notification_topic, _exchange in handler.targets():
            for priority in PRIORITIES:
                name = '%s.%s' % (notification_topic, priority)
                taken[name] = ('the shared queue of the consumers of '
                               'notification topic %s' % notification_topic)
    if pool in taken:
        raise exception.ConfigurationError(
            group='notifications', option='pool', reason='%r is also the '
            'name of %s: both would consume one queue in turns and lose '
            'each other\'s messages; give the pool a name of its own'
            % (pool, taken[pool]))


def event_type_filter(handler):
    """An anchored regular expression of exactly the handler's events."""
    return '^(%s)$' % '|'.join(re.escape(e) for e in handler.event_types)


#: How many notifications' requeue counts :class:`Processor` remembers
#: (least recently requeued forgotten first).
RETRY_MEMORY = 10000

#: Errors of writing a change that say it can never be written: retrying
#: the same notification cannot succeed.
_REFUSED = (exception.TachyonException, exception.MalformedField,
            ValueError, TypeError, ArithmeticError)

#: Errors that say Neo4j cannot be used at all (unreachable, or refusing
#: the configured credentials or database): every notification would
#: fail alike, so they wait (requeued) without counting against
#: ``max_requeues``, unless Neo4j answered a GraphUnavailable.
_UNUSABLE = (exception.GraphUnavailable, exception.GraphAuthFailed,
             exception.ConfigurationError, exception.SchemaMismatch)

#: Length of an error's text in a log line.
_LOG_TEXT = 500


def _text(exc):
    text = str(exc)
    return text if len(text) <= _LOG_TEXT else text[:_LOG_TEXT] + '...'


class _Retries(object):
    """Requeues of each message id so far, in a bounded LRU.

    A message id past its limit is remembered as dead-lettered, so that a
    batch requeued for its other messages skips it when it comes back.
    """

    def __init__(self, size=RETRY_MEMORY):
        self.size = size
        self._seen = collections.OrderedDict()
        self._lock = threading.Lock()

    def __len__(self):
        return len(self._seen)

    def add(self, message_id):
        """One more requeue of ``message_id``; the count so far."""
        with self._lock:
            count = self._seen.pop(message_id, 0)
            count = count + 1 if count >= 0 else count
            self._seen[message_id] = count
            while len(self._seen) > self.size:
                self._seen.popitem(last=False)
            return count

    def bury(self, message_id):
        with self._lock:
            self._seen.pop(message_id, None)
            self._seen[message_id] = -1
            while len(self._seen) > self.size:
                self._seen.popitem(last=False)

    def buried(self, message_id):
        with self._lock:
            return self._seen.get(message_id) == -1

    def forget(self, message_id):
        with self._lock:
            if self._seen.get(message_id, 0) >= 0:
                self._seen.pop(message_id, None)


def envelope_problem(message):
    """What makes an oslo.messaging notification unreadable, or None.

    oslo.messaging's Notifier always sends a message id, a publisher id,
    an event type and a priority, all strings; a message without them is
    not a notification any handler can take.
    """
    if not isinstance(message, dict):
        return 'the message is not an object'
    for key in ('message_id', 'publisher_id', 'event_type', 'priority'):
        value = message.get(key)
        if not isinstance(value, str) or not value:
            return ('%r must be a non-empty string, got %s'
                    % (key, fields.short_repr(value)))
        if fields.bad_text(value):
            return '%r is %s' % (key, fields.bad_text(value))
    if message['priority'].lower() not in PRIORITIES:
        return ("'priority' is not one of %s: %s"
                % (', '.join(PRIORITIES),
                   fields.short_repr(message['priority'])))
    return None


class Processor(object):
    """Parse, complete and write notifications (the listener's work).

    Every notification ends: applied, filtered out, or dropped (logged
    once, counted) when it can never be written: a malformed envelope or
    payload, a value out of range, a change Neo4j refuses. Only a failure
    that may pass is answered with a requeue: Neo4j unreachable (not
    counted against any limit) or a failure Neo4j answered with that may
    pass (a deadlock, a timeout: at most ``[notifications]/max_requeues``
    times per message id, then the notification is dead-lettered).

    :attr:`counts` says how many notifications ended each way.
    """

    def __init__(self, conf, graph, handlers, enricher=None):
        self.conf = conf
        self.graph = graph
        self.handlers = list(handlers)
        self.enricher = enricher or enrich.Enricher(conf, graph)
        self._routes = [(h, re.compile(h.publisher_id or ''),
                         frozenset(h.event_types)) for h in self.handlers]
        self.counts = {'applied': 0, 'malformed': 0, 'filtered': 0,
                       'requeued': 0, 'dropped': 0, 'dead_lettered': 0,
                       'clamped': 0}
        self._lock = threading.Lock()
        # One batch of this process writes at a time: the others wait
        # here, parsed and completed, rather than as open transactions
        # on Neo4j's lock (the first statement of every batch).
        self._writing = threading.Lock()
        self._retries = _Retries()

    def _count(self, what, notes=None):
        """Count ``notes`` (None: one message that is no notification)."""
        with self._lock:
            self.counts[what] += 1 if notes is None else len(notes)
        metrics.count_notifications(what, [
            self._labels(n) for n in notes] if notes is not None else [
                (metrics.NONE, metrics.NONE)])

    def _labels(self, notification):
        handler = self.route(notification)
        if handler is None:
            return metrics.NONE, metrics.NONE
        return handler.name or metrics.NONE, notification.event_type

    def route(self, notification):
        for handler, publisher, types in self._routes:
            if (notification.event_type in types
                    and publisher.match(notification.publisher_id or '')):
                return handler
        return None

    def malformed_envelope(self, message, problem):
        """Count and log (once) a message no endpoint can take."""
        self._count('malformed')
        ident = (message.get('message_id')
                 if isinstance(message, dict) else None)
        LOG.warning('Dropping malformed notification %(id)s: %(err)s',
                    {'id': fields.short_repr(ident), 'err': problem})

    def clamp(self, notification, change_list, now=None, skew=None):
        """The changes, none dated later than now + the skew allowed.

        A change dated more than ``[notifications]/max_future_skew``
        seconds ahead (its notification's timestamp) is dated now, the
        time received, and the notification is logged once: kept, its
        date would make every real event about the entity look older.
        (``skew``: that option's value, read once per batch by the
        caller.)
        """
        now = time.time() if now is None else now
        if skew is None:
            skew = self.conf.notifications.max_future_skew
        latest = now + skew
        for change in change_list:
            if change.timestamp is not None and change.timestamp > latest:
                break
        else:
            return change_list
        self._count('clamped', [notification])
        LOG.warning('Notification %(id)s (%(event)s from %(publisher)s) '
                    'is dated %(sent)s, more than [notifications]/'
                    'max_future_skew (%(skew)d s) in the future: taken '
                    'as received now',
                    {'id': notification.message_id,
                     'event': notification.event_type,
                     'publisher': notification.publisher_id,
                     'sent': fields.short_repr(
                         notification.metadata.get('timestamp')),
                     'skew': self.conf.notifications.max_future_skew})
        return [dataclasses.replace(c, timestamp=now)
                if c.timestamp is not None and c.timestamp > latest else c
                for c in change_list]

    def _malformed(self, notification, exc):
        self._count('malformed', [notification])
        field = getattr(exc, 'field', None)
        LOG.warning('Dropping malformed %(event)s notification %(id)s from '
                    '%(publisher)s%(field)s: %(err)s',
                    {'event': notification.event_type,
                     'id': notification.message_id,
                     'publisher': notification.publisher_id,
                     'field': ' (field %s)' % field if field else '',
                     'err': _text(exc)})

    def parse(self, notifications):
        """[(notification, [Change])] of those that parse; logs the others.

        Notifications no handler takes are counted as filtered.
        """
        result = []
        # Received now: one time and one option read for the batch.
        now = time.time()
        skew = self.conf.notifications.max_future_skew
        for notification in notifications:
            handler = self.route(notification)
            if handler is None:
                self._count('filtered', [notification])
                continue
            try:
                result.append((notification, self.clamp(
                    notification, list(handler.parse(notification)), now,
                    skew)))
            except (exception.MalformedField, ValueError, TypeError,
                    KeyError, AttributeError, ArithmeticError,
                    RecursionError) as exc:
                # Parsing only reads the payload: whatever fails there
                # fails again on every delivery.
                self._malformed(notification, exc)
        return result

    def write(self, change_list):
        """Complete and write changes in one transaction."""
        if not change_list:
            return None
        completed = self.enricher.complete(change_list)
        with self._writing:
            return events.apply_changes(self.graph, completed)

    def process(self, notifications):
        """Handle notifications; returns ACK or REQUEUE. Never raises."""
        try:
            return self._process(notifications)
        except Exception as exc:
            # A fault of Tachyon's own: requeuing would meet it again.
            self._count('dropped', notifications)
            LOG.exception('Dropping %(n)d notification(s) (%(ids)s) after '
                          'an unexpected error: %(err)s',
                          {'n': len(notifications),
                           'ids': ', '.join(str(n.message_id)
                                            for n in notifications),
                           'err': _text(exc)})
            return ACK

    def _process(self, notifications):
        live = [n for n in notifications
                if n.message_id is None
                or not self._retries.buried(n.message_id)]
        parsed = self.parse(live)
        if not parsed:
            return ACK
        try:
            self.write([c for _n, cl in parsed for c in cl])
        except _UNUSABLE as exc:
            return self._requeue([n for n, _cl in parsed], exc)
        except _REFUSED as exc:
            if getattr(exc, 'transient', False):
                return self._requeue([n for n, _cl in parsed], exc,
                                     answered=True)
            if len(parsed) > 1:
                # One bad change must not cost the batch: one by one.
                LOG.warning('A batch of %d notifications failed (%s); '
                            'writing them one by one', len(parsed),
                            _text(exc))
                answers = [self._write_one(n, cl) for n, cl in parsed]
                return REQUEUE if REQUEUE in answers else ACK
            return self._refused(parsed[0][0], exc)
        self._applied([n for n, _cl in parsed])
        return ACK

    def _write_one(self, notification, change_list):
        try:
            self.write(change_list)
        except _UNUSABLE as exc:
            return self._requeue([notification], exc)
        except _REFUSED as exc:
            if getattr(exc, 'transient', False):
                return self._requeue([notification], exc, answered=True)
            return self._refused(notification, exc)
        self._applied([notification])
        return ACK

    def _applied(self, notifications):
        self._count('applied', notifications)
        now = time.time()
        for note in notifications:
            if note.message_id is not None:
                self._retries.forget(note.message_id)
            if note.timestamp is not None:
                metrics.observe_lag(self._labels(note)[0],
                                    now - note.timestamp)

    def _refused(self, notification, exc):
        self._count('dropped', [notification])
        LOG.error('Dropping %(event)s notification %(id)s from '
                  '%(publisher)s: it can never be written: %(err)s',
                  {'event': notification.event_type,
                   'id': notification.message_id,
                   'publisher': notification.publisher_id,
                   'err': _text(exc)})
        return ACK

    def _requeue(self, notifications, exc, answered=None):
        """REQUEUE, or ACK when every notification is past its limit.

        Only failures Neo4j answered count against ``max_requeues``: while
        it cannot be reached, nothing is given up.
        """
        if answered is None:
            answered = bool(getattr(exc, 'kwargs', {}).get('answered'))
        limit = self.conf.notifications.max_requeues
        again = []
        for note in notifications:
            if (answered and note.message_id is not None
                    and self._retries.add(note.message_id) > limit):
                self._retries.bury(note.message_id)
                self._count('dead_lettered', [note])
                LOG.error('Dead-lettering %(event)s notification %(id)s '
                          'from %(publisher)s: Neo4j failed it %(n)d '
                          'times ([notifications]/max_requeues), last: '
                          '%(err)s',
                          {'event': note.event_type, 'id': note.message_id,
                           'publisher': note.publisher_id, 'n': limit + 1,
                           'err': _text(exc)})
            else:
                again.append(note)
        if not again:
            return ACK
        self._count('requeued', again)
        LOG.warning('%(what)s (%(err)s); requeuing %(n)d '
                    'notification(s) in %(delay).1f s',
                    {'what': ('Neo4j failed a write' if answered
                              else 'Neo4j is unavailable'),
                     'err': _text(exc), 'n': len(again),
                     'delay': self.conf.notifications.requeue_delay})
        time.sleep(self.conf.notifications.requeue_delay)
        return REQUEUE


def _answer(result):
    return messaging.NotificationResult.REQUEUE if result == REQUEUE else (
        messaging.NotificationResult.HANDLED)


class _Dispatcher(notify_dispatcher.NotificationDispatcher):
    """oslo.messaging's dispatcher, refusing unreadable envelopes.

    oslo.messaging requeues a message whose envelope it cannot read (a
    priority that is not a string, say) and meets it again at once,
    forever. Such a message is logged once and acknowledged instead.
    """

    def __init__(self, endpoints, processor):
        super().__init__(endpoints, None)
        self.processor = processor

    def readable(self, incoming):
        problem = envelope_problem(incoming.message)
        if problem is None:
            return True
        self.processor.malformed_envelope(incoming.message, problem)
        return False

    def dispatch(self, incoming):
        if not self.readable(incoming):
            return messaging.NotificationResult.HANDLED
        return super().dispatch(incoming)


class _BatchDispatcher(notify_dispatcher.BatchNotificationDispatcher):
    """The batch dispatcher: one write for a whole batch.

    It refuses unreadable envelopes (see above), and hands every
    notification of a batch that an endpoint's filter takes to the
    processor in ONE call, whatever its priority and handler: one
    transaction per batch received. (oslo.messaging's calls each
    endpoint, per priority, with its share of the batch: a batch mixing
    Nova's and Cinder's notifications would be written in two
    transactions of half the size.) A REQUEUE answer requeues the
    notifications handed over; those no filter takes are acknowledged.
    """

    def __init__(self, endpoints, processor):
        super().__init__(endpoints, None)
        self.processor = processor
        self._screens = [getattr(e, 'filter_rule', None) for e in endpoints]

    readable = _Dispatcher.readable

    def _taken(self, ctxt, publisher_id, event_type, metadata, payload):
        for screen in self._screens:
            if screen is None or screen.match(ctxt, publisher_id,
                                              event_type, metadata,
                                              payload):
                return True
        return False

    def dispatch(self, incoming):
        taken, notes = [], []
        for raw in incoming:
            if not self.readable(raw):
                continue
            message = raw.message
            publisher_id = message['publisher_id']
            event_type = message['event_type']
            payload = message.get('payload')
            # What oslo.messaging's dispatcher hands an endpoint (its
            # serializer is the no-op one).
            metadata = {'message_id': message.get('message_id'),
                        'timestamp': message.get('timestamp')}
            if not self._taken(raw.ctxt, publisher_id, event_type,
                               metadata, payload):
                continue
            taken.append(raw)
            notes.append(base.Notification(
                publisher_id, event_type, payload, metadata,
                message['priority'].lower()))
        if not notes:
            return set()
        if self.processor.process(notes) == REQUEUE:
            return set(taken)
        return set()


class _Endpoint(object):
    """One handler's endpoint: one notification at a time."""

    def __init__(self, processor, handler):
        self.processor = processor
        self.filter_rule = messaging.NotificationFilter(
            publisher_id=handler.publisher_id,
            event_type=event_type_filter(handler))

    def _handle(self, priority, publisher_id, event_type, payload,
                metadata):
        note = base.Notification(publisher_id, event_type, payload,
                                 dict(metadata or {}), priority)
        return _answer(self.processor.process([note]))


class _BatchEndpoint(_Endpoint):
    """One handler's endpoint in batch mode: lists of notifications."""

    def _handle_batch(self, priority, messages):
        notes = [base.Notification(m.get('publisher_id'),
                                   m.get('event_type'), m.get('payload'),
                                   dict(m.get('metadata') or {}), priority)
                 for m in messages]
        return _answer(self.processor.process(notes))


def _single(priority):
    def method(self, ctxt, publisher_id, event_type, payload, metadata):
        return self._handle(priority, publisher_id, event_type, payload,
                            metadata)
    method.__name__ = priority
    return method


def _batch(priority):
    def method(self, messages):
        return self._handle_batch(priority, messages)
    method.__name__ = priority
    return method


for _priority in PRIORITIES:
    setattr(_Endpoint, _priority, _single(_priority))
    setattr(_BatchEndpoint, _priority, _batch(_priority))


def get_transport(conf):
    """The notification transport.

    ``[notifications]/transport_url``, else oslo.messaging's notification
    transport URL, else the RPC one.
    """
    messaging.set_transport_defaults('tachyon')
    return messaging.get_notification_transport(
        conf, url=conf.notifications.transport_url or None)


class Listener(object):
    """The oslo.messaging listener over every enabled handler."""

    def __init__(self, conf, graph, handlers=None, transport=None,
                 processor=None):
        self.conf = conf
        opts = conf.notifications
        self.handlers = (handlers if handlers is not None
                         else load_handlers(conf))
        check_queue_names(conf, self.handlers)
        self.processor = processor or Processor(conf, graph, self.handlers)
        targets = []
        for handler in self.handlers:
            for topic, exchange in handler.targets():
                target = messaging.Target(topic=topic, exchange=exchange)
                if target not in targets:
                    targets.append(target)
        self.targets = targets
        self.transport = transport or get_transport(conf)
        if opts.batch_size > 0:
            # As get_batch_notification_listener, with the dispatcher
            # that refuses unreadable envelopes.
            endpoints = [_BatchEndpoint(self.processor, h)
                         for h in self.handlers]
            self._listener = notify_listener.BatchNotificationServer(
                self.transport, targets,
                _BatchDispatcher(endpoints, self.processor), 'threading',
                allow_requeue=True, pool=opts.pool,
                batch_size=opts.batch_size,
                batch_timeout=opts.batch_timeout)
        else:
            endpoints = [_Endpoint(self.processor, h)
                         for h in self.handlers]
            self._listener = notify_listener.NotificationServer(
                self.transport, targets,
                _Dispatcher(endpoints, self.processor), 'threading',
                allow_requeue=True, pool=opts.pool)
        LOG.info('Notification listener (pool %(pool)s, %(mode)s) on %(t)s',
                 {'pool': opts.pool,
                  'mode': ('batches of %d' % opts.batch_size
                           if opts.batch_size > 0 else 'one at a time'),
                  't': ', '.join('%s/%s' % (t.exchange, t.topic)
                                 for t in targets)})

    def start(self):
        self._listener.start(
            override_pool_size=self.conf.notifications.executor_threads)

    def stop(self):
        self._listener.stop()

    def wait(self):
        self._listener.wait()
        # No notification is in flight any more: the pool refreshes they
        # scheduled are dropped (the next volume event or sync redoes them).
        self.processor.enricher.stop()


def build(conf, graph):
    """The listener tachyon-engine runs (see tachyon.service)."""
    return Listener(conf, graph)
