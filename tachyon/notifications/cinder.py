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

"""Cinder's notifications -> volume and pool changes.

Follows Watcher's Cinder endpoints (``watcher.decision_engine.model.
notification.cinder``):

* volume create, update, attach, detach and resize (``.end``) carry the
  whole volume: name (``display_name``), size, status, attachments (each
  as ``{'server_id', 'attachment_id'}`` from the attachment's
  ``instance_uuid`` and ``id``), snapshot, project (``tenant_id``),
  metadata (see below), bootable (a ``glance_metadata`` key is present),
  volume type, creation time and host; the volume lives in the pool its
  host names (``host@backend#pool``), and stays where it was when the
  host is empty;
* ``volume.delete.end`` deletes the volume;
* ``capacity.pool`` sets a pool's total, free, provisioned and allocated
  capacity and its virtual free space (creating the pool, under its
  storage node, when it is new).

Beyond Watcher:

* ``volume.retype`` and the ``.error`` variants of the volume operations
  update the volume from their payload (Cinder sends no ``.error``; they
  are kept subscribed for compatibility);
* ``volume.manage_existing.end`` (an existing backend volume now managed:
  it appears), ``volume.reset_status.end`` (an admin reset its status),
  ``volume.transfer.accept.end`` (Cinder re-reads the volume after the
  transfer: ``tenant_id`` is the new project) and ``volume.revert.end``
  (reverted to a snapshot) carry the whole volume as the others;
* ``volume.unmanage.end`` deletes the volume (it stays on the backend,
  outside Cinder);
* ``scheduler.<method>`` (priority error, publisher ``scheduler.<host>``)
  says the scheduler failed: ``scheduler.create_volume`` has ``state:
  "error"``, the others (``retype``, ``migrate_volume_to_host``,
  ``manage_existing``, ``extend_volume``) the volume's restored state as
  ``{"status": ...}``. Only the status is set, and only on a volume the
  graph has (the volume a failed create names was never placed; the next
  full sync brings it). A state without a status changes nothing.

Every volume payload is read whole, also for a delete: a payload broken
in any field is refused (logged once with the field, counted malformed)
and nothing of it is applied. The pool a volume event names is re-read
from the Cinder API afterwards (:mod:`tachyon.notifications.enrich`,
``[notifications]/refresh_pools``).

Cinder fills ``metadata`` from the volume's ``volume_metadata``: a list
of ``{"key": ..., "value": ...}`` objects, ``[]`` when the volume has
none. It is stored as the ``{key: value}`` dict the Cinder collector
stores; a dict (what a plain dict volume gives, as in python-watcher's
samples) is taken as it is.

Cinder publishes on oslo.messaging's default exchange (``openstack``):
it never sets a control exchange of its own.

Cinder names the volume type by id; the listener resolves it to its name
through the Cinder API (as Watcher does) before the change is written,
and keeps the stored type when it cannot. Pools and storage nodes the
graph lacks are looked up there too.
"""

from tachyon.model import changes
from tachyon.model import records
from tachyon.notifications import base

VOLUME_OPERATIONS = ('create', 'update', 'attach', 'detach', 'resize',
                     'retype')
VOLUME_UPDATES = tuple(
    ['volume.%s.end' % op for op in VOLUME_OPERATIONS]
    + ['volume.%s.error' % op for op in VOLUME_OPERATIONS]
    + ['volume.retype', 'volume.delete.error'])
#: Volume events beyond Watcher's that carry the whole volume.
VOLUME_ENDS = ('volume.manage_existing.end', 'volume.reset_status.end',
               'volume.transfer.accept.end', 'volume.revert.end')
VOLUME_DELETE = 'volume.delete.end'
VOLUME_DELETES = (VOLUME_DELETE, 'volume.unmanage.end')
CAPACITY_POOL = 'capacity.pool'
#: The scheduler's failures (``scheduler.<method>``).
SCHEDULER_METHODS = ('create_volume', 'retype', 'migrate_volume_to_host',
                     'manage_existing', 'extend_volume')
SCHEDULER_ERRORS = tuple('scheduler.%s' % m for m in SCHEDULER_METHODS)
#: The fields of a volume a scheduler failure leaves as stored.
STATUS_ONLY_KEEP = ('name', 'size', 'attachments', 'multiattach',
                    'snapshot_id', 'project_id', 'metadata', 'bootable',
                    'volume_type', 'created_at', 'host', 'pool_name',
                    changes.KEEP_POOL)
CAPACITY_FIELDS = {
    'total': 'total_capacity_gb',
    'free': 'free_capacity_gb',
    'provisioned': 'provisioned_capacity_gb',
    'allocated': 'allocated_capacity_gb',
    'virtual_free': 'virtual_free',
}


def _attachments(data):
    result = []
    for index, att in enumerate(data.sequence('volume_attachment', False,
                                              [])):
        if not isinstance(att, dict):
            data.fail('volume_attachment[%d] is not an object' % index,
                      'volume_attachment')
        # Watcher keeps the server and the attachment ids only, renamed.
        entry = {}
        if 'instance_uuid' in att:
            entry['server_id'] = att['instance_uuid']
        if 'id' in att:
            entry['attachment_id'] = att['id']
        result.append(entry)
    return result


def _metadata(data):
    value = data.get('metadata', (list, dict), False, {})
    if isinstance(value, dict):
        return dict(value)
    result = {}
    for index, item in enumerate(value):
        if not isinstance(item, dict) or not isinstance(item.get('key'),
                                                        str):
            data.fail('metadata[%d] is not an object with a string '
                      "'key': %r" % (index, item), 'metadata')
        result[item['key']] = item.get('value')
    return result


def volume_record(data):
    """A volume payload -> (records.Volume, fields to keep, type id)."""
    size = data.integer('size')
    if size < 0:
        data.fail("'size' is negative: %r" % size, 'size')
    host = data.string('host', False, '') or ''
    keep = ['multiattach', 'volume_type']
    if not host:
        keep.append(changes.KEEP_POOL)
    type_id = data.string('volume_type', False, '') or ''
    record = records.Volume(
        uuid=data.uuid('volume_id'),
        name=data.string('display_name', False, '') or '',
        size=size,
        status=data.string('status'),
        attachments=_attachments(data),
        snapshot_id=data.string('snapshot_id', False, '') or '',
        project_id=data.string('tenant_id', False),
        metadata=_metadata(data),
        bootable='glance_metadata' in data.data,
        volume_type=None,
        created_at=data.string('created_at', False),
        host=host,
        pool_name=host or None)
    return record, tuple(keep), type_id


def pool_of(host):
    """The pool a volume's host names (``host@backend#pool``), or None."""
    return host if host and '#' in host else None


class CinderHandler(base.NotificationHandler):
    """Cinder's notifications (topic notifications, exchange openstack)."""

    name = 'cinder'
    publisher_id = r'^(volume|capacity|scheduler)\.'
    event_types = (VOLUME_UPDATES + VOLUME_ENDS + VOLUME_DELETES
                   + (CAPACITY_POOL,) + SCHEDULER_ERRORS)

    def targets(self):
        opts = self.conf.notifications
        return [(opts.cinder_topic, opts.cinder_exchange)]

    def parse(self, notification):
        data = base.Payload(notification, notification.payload)
        event = notification.event_type
        if event == CAPACITY_POOL:
            return [self._capacity(notification, data)]
        if event in SCHEDULER_ERRORS:
            return self._scheduler(notification, data)
        record, keep, type_id = volume_record(data)
        if event in VOLUME_DELETES:
            # The whole payload was read: a broken one is refused whole.
            # The pool is named so that its counters are re-read.
            return [self.change(notification, changes.VOLUME,
                                changes.DELETE, record.uuid,
                                fields={'pool_name': pool_of(record.host)})]
        return [self.change(notification, changes.VOLUME, changes.UPSERT,
                            record.uuid, record=record, keep=keep,
                            fields={'volume_type_id': type_id})]

    def _scheduler(self, notification, data):
        uuid = data.uuid('volume_id')
        state = data.get('state', (str, dict), False, None)
        if isinstance(state, dict):
            status = data.child('state').string('status', False, None)
        elif state is not None:
            status = data.string('state')
        else:
            status = None
        if status is None:
            # Nothing said of the volume's state: nothing changes.
            return []
        if not status:
            data.fail("'state' names an empty status", 'state')
        record = records.Volume(uuid=uuid, status=status, pool_name=None)
        # Only the status, and only on a volume the graph has
        # (the enricher drops the change otherwise).
        return [self.change(notification, changes.VOLUME, changes.UPSERT,
                            uuid, record=record, keep=STATUS_ONLY_KEEP,
                            fields={'if_known': True})]

    def _capacity(self, notification, data):
        name = data.string('name_to_id')
        if '#' not in name:
            data.fail("'name_to_id' is not a pool name (host@backend#pool):"
                      " %r" % name, 'name_to_id')
        fields = {}
        for key, field in CAPACITY_FIELDS.items():
            # Finite and within 64 bits: int() of it cannot fail.
            value = data.number(key)
            if value < 0:
                data.fail('%r is negative: %r' % (key, value), key)
            fields[field] = int(value)
        # A new pool is created from the notification alone.
        record = records.Pool(name=name, **fields)
        return self.change(notification, changes.POOL, changes.UPDATE, name,
                           record=record, fields=fields)
