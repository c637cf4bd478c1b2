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

* parsed by its handler into changes; a malformed payload is logged once
  (event type, message id, what is wrong) and dropped;
* completed from the APIs (:mod:`tachyon.notifications.enrich`);
* written in one transaction (:func:`tachyon.graph.events.
  apply_changes`); when Neo4j is unavailable (server down, leader change,
  deadlock; the driver has retried already) the notification is requeued
  after ``[notifications]/requeue_delay`` seconds and nothing is lost;
  a change the graph refuses for good is logged and dropped (in a batch,
  the others are written one by one).
"""

import re
import threading
import time

from oslo_log import log as logging
import oslo_messaging as messaging
from stevedore import named

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


class Processor(object):
    """Parse, complete and write notifications (the listener's work)."""

    def __init__(self, conf, graph, handlers, enricher=None):
        self.conf = conf
        self.graph = graph
        self.handlers = list(handlers)
        self.enricher = enricher or enrich.Enricher(conf, graph)
        self._routes = [(h, re.compile(h.publisher_id or ''),
                         frozenset(h.event_types)) for h in self.handlers]
        self.counts = {'applied': 0, 'malformed': 0, 'filtered': 0,
                       'requeued': 0, 'dropped': 0}
        self._lock = threading.Lock()

    def _count(self, what, n=1):
        with self._lock:
            self.counts[what] += n

    def route(self, notification):
        for handler, publisher, types in self._routes:
            if (notification.event_type in types
                    and publisher.match(notification.publisher_id or '')):
                return handler
        return None

    def parse(self, notifications):
        """[Change] of the notifications that parse; logs the others."""
        result = []
        for notification in notifications:
            handler = self.route(notification)
            if handler is None:
                self._count('filtered')
                continue
            try:
                result.extend(handler.parse(notification))
            except (exception.MalformedPayload, ValueError) as exc:
                self._count('malformed')
                LOG.warning('Dropping malformed %(event)s notification '
                            '%(id)s from %(publisher)s: %(err)s',
                            {'event': notification.event_type,
                             'id': notification.message_id,
                             'publisher': notification.publisher_id,
                             'err': exc})
        return result

    def write(self, change_list):
        """Complete and write changes in one transaction."""
        if not change_list:
            return None
        return events.apply_changes(self.graph,
                                    self.enricher.complete(change_list))

    def process(self, notifications):
        """Handle notifications; returns ACK or REQUEUE."""
        change_list = self.parse(notifications)
        try:
            self.write(change_list)
        except exception.GraphUnavailable as exc:
            return self._requeue(notifications, exc)
        except (exception.TachyonException, ValueError, TypeError) as exc:
            if len(notifications) > 1:
                # One bad change must not cost the batch: one by one.
                LOG.warning('A batch of %d notifications failed (%s); '
                            'writing them one by one', len(notifications),
                            exc)
                answers = [self.process([n]) for n in notifications]
                return REQUEUE if REQUEUE in answers else ACK
            self._count('dropped')
            note = notifications[0]
            LOG.error('Dropping %(event)s notification %(id)s: the graph '
                      'refused it: %(err)s',
                      {'event': note.event_type, 'id': note.message_id,
                       'err': exc})
            return ACK
        self._count('applied', len(notifications))
        return ACK

    def _requeue(self, notifications, exc):
        self._count('requeued', len(notifications))
        LOG.warning('Neo4j is unavailable (%(err)s); requeuing %(n)d '
                    'notification(s) in %(delay).1f s',
                    {'err': exc, 'n': len(notifications),
                     'delay': self.conf.notifications.requeue_delay})
        time.sleep(self.conf.notifications.requeue_delay)
        return REQUEUE


def _answer(result):
    return messaging.NotificationResult.REQUEUE if result == REQUEUE else (
        messaging.NotificationResult.HANDLED)


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
            endpoints = [_BatchEndpoint(self.processor, h)
                         for h in self.handlers]
            self._listener = messaging.get_batch_notification_listener(
                self.transport, targets, endpoints,
                pool=opts.pool, batch_size=opts.batch_size,
                batch_timeout=opts.batch_timeout, allow_requeue=True)
        else:
            endpoints = [_Endpoint(self.processor, h)
                         for h in self.handlers]
            self._listener = messaging.get_notification_listener(
                self.transport, targets, endpoints,
                pool=opts.pool, allow_requeue=True)
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


def build(conf, graph):
    """The listener tachyon-engine runs (see tachyon.service)."""
    return Listener(conf, graph)
