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

"""The notification handler plugin interface.

A handler is a class registered in the ``tachyon.notification_handlers``
entry-point namespace and named in ``[notifications]/enabled_handlers``.
It says where its notifications come from (:meth:`NotificationHandler.
targets`, :attr:`~NotificationHandler.publisher_id`), which event types it
takes (:attr:`~NotificationHandler.event_types`; the listener drops the
others before any work), and turns one notification into plain changes
(:meth:`~NotificationHandler.parse`); it never touches the graph. A third
party adds a handler with an entry point alone::

    [entry_points]
    tachyon.notification_handlers =
        mycloud = mycloud.tachyon:MyHandler

    class MyHandler(base.NotificationHandler):
        name = 'mycloud'
        publisher_id = r'^mycloud-'
        event_types = ('instance.moved',)

        def targets(self):
            return [('mycloud_notifications', 'mycloud')]

        def parse(self, notification):
            data = base.Payload(notification, notification.payload)
            ...
            return [changes.Change(...)]
"""

import abc
import dataclasses
import datetime
import math
import typing

from tachyon.common import fields
from tachyon import exception
from tachyon.model import changes


@dataclasses.dataclass
class Notification:
    """One notification as oslo.messaging hands it over."""

    publisher_id: str
    event_type: str
    payload: typing.Any
    metadata: dict = dataclasses.field(default_factory=dict)
    priority: str = 'info'

    @property
    def message_id(self):
        return (self.metadata or {}).get('message_id')

    @property
    def timestamp(self):
        """When the notification was emitted (epoch seconds) or None."""
        return parse_timestamp((self.metadata or {}).get('timestamp'))


def parse_timestamp(value):
    """oslo.messaging's timestamp ('2026-11-25 10:11:12.123456', UTC).

    Epoch seconds are taken too. Anything that is not a time (NaN, an
    infinity, a number or a date beyond what a datetime holds, text that
    is no ISO 8601 time) gives None: the notification has no usable time.
    Never raises.
    """
    if value is None or value == '':
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            seconds = float(value)
        except OverflowError:
            return None
        if not math.isfinite(seconds):
            return None
        try:
            # Within what a datetime can hold, as a time parsed from text.
            datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None
        return seconds
    if not isinstance(value, str) or len(value) > 64:
        return None
    text = value.strip().replace('Z', '+00:00')
    try:
        moment = datetime.datetime.fromisoformat(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=datetime.timezone.utc)
        return moment.timestamp()
    except (ValueError, OverflowError, OSError):
        return None


class Payload(fields.Reader):
    """Typed access to a payload's fields, raising MalformedPayload.

    ``where`` names the part of the notification read ("payload",
    "payload data", ...) in messages.
    """

    NOT_OBJECT = 'is not an object'
    MISSING = 'has no %(key)r'
    NULL = '%(key)r is null'
    WRONG_TYPE = '%(key)r must be %(types)s, got %(value)r'
    WRONG_BOOL = WRONG_TYPE
    NOT_UUID = '%(key)r is not a uuid: %(value)r'

    def __init__(self, notification, data, where='payload'):
        self.event_type = notification.event_type
        self.where = where
        super().__init__(data, self._malformed)

    def _malformed(self, reason, field=None):
        return exception.MalformedPayload(
            self.event_type, '%s %s' % (self.where, reason), field)

    def integer(self, key, required=True, default=None):
        value = self.get(key, (int, str), required, default)
        if isinstance(value, str):
            # Cinder sends sizes as strings ("40").
            try:
                value = int(value)
            except ValueError:
                # Also a string of more digits than int() reads.
                self.fail('%r must be an integer, got %s'
                          % (key, fields.short_repr(value)), key)
        return self.in_range(key, value)

    def child(self, key, where=None):
        """The payload of the object field ``key``."""
        return Payload(self, self.mapping(key),
                       where or '%s.%s' % (self.where, key))


def versioned(notification, namespace, known_majors=(1, 2)):
    """The data of an oslo.versionedobjects payload, and its version.

    Nova's and Ironic's versioned notifications wrap their payload as
    ``{'<ns>_object.name', '<ns>_object.version', '<ns>_object.data'}``.
    A major version this code does not know is refused: its fields may
    mean something else.
    """
    outer = Payload(notification, notification.payload)
    version = outer.string('%s_object.version' % namespace)
    try:
        parts = tuple(int(p) for p in version.split('.'))
    except ValueError:
        outer.fail('has an unreadable version %r'
                   % fields.short_text(version), '%s_object.version'
                   % namespace)
    if not parts or parts[0] not in known_majors:
        outer.fail('has an unknown payload version %s (%s knows %s.x)'
                   % (fields.short_text(version), namespace,
                      '.x, '.join(str(m) for m in known_majors)),
                   '%s_object.version' % namespace)
    data = Payload(notification, outer.mapping('%s_object.data' % namespace),
                   'payload data')
    return data, parts


class NotificationHandler(object, metaclass=abc.ABCMeta):
    """Base class of notification handler plugins."""

    #: The plugin's name (its entry point's).
    name = None
    #: Regular expression the publisher_id must match (None: any).
    publisher_id = None
    #: Event types taken; all others are filtered out before any work.
    event_types = ()

    def __init__(self, conf):
        self.conf = conf

    @abc.abstractmethod
    def targets(self):
        """[(topic, exchange)] to listen on."""

    @abc.abstractmethod
    def parse(self, notification):
        """The changes one :class:`Notification` reports.

        :returns: a list of :class:`tachyon.model.changes.Change`.
        :raises: :class:`tachyon.exception.MalformedPayload`.
        """

    def change(self, notification, kind, action, key, **kwargs):
        """A Change stamped with the notification's time and ids."""
        return changes.Change(kind=kind, action=action, key=key,
                              timestamp=notification.timestamp,
                              event_type=notification.event_type,
                              message_id=notification.message_id, **kwargs)
