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

"""Nova's versioned notifications -> instance and compute node changes.

Follows Watcher's own endpoint (``watcher.decision_engine.model.
notification.nova.VersionedNotification``) field by field:

* every instance event carries the whole instance; its resources come
  from the flavor in the payload (the root disk only for an image-backed
  server, ephemeral and swap always, swap rounded up to whole GB);
  ``locked`` is read from payload version 1.1 on and the flavor's extra
  specs from 1.2 on (before that the stored values stay); an
  ``instance.update`` of a server still ``building`` is ignored;
* the instance is mapped onto the compute node its ``host`` names; an
  instance whose payload names no host is on none (unmapped, see below);
* ``instance.delete.end`` and ``instance.soft_delete.end`` delete it;
* ``service.create`` / ``service.update`` of a ``nova-compute`` service
  set its node's state (``forced_down``: down), status (``disabled``) and
  disabled reason; ``service.delete`` deletes the node (its instances
  stay, unmapped).

Beyond Watcher, ``aggregate.add_host.end``, ``aggregate.remove_host.end``,
``aggregate.update_metadata.end`` and ``aggregate.update_prop.end`` carry
the whole aggregate after the change (its hosts, its metadata): each
member host, and each node the graph holds in it that the payload no
longer lists, gets its aggregates and availability zone as Nova computes
them (the sorted zones of its zoned aggregates joined with ``,``, or
``[notifications]/nova_default_availability_zone``).
``aggregate.delete.end`` takes the aggregate out of every node the graph
holds in it and forgets it (see :mod:`tachyon.graph.compute.aggregates`).

Beyond Watcher: ``instance.resize_revert.end`` and
``instance.live_migration_rollback.end`` (the instance is back on its
source) are handled as updates too, and services of other binaries
(conductor, scheduler) are ignored instead of being looked up as compute
nodes. ``instance.evacuate`` is applied as an update as well, but nova-api
sends it before the rebuild starts: its payload names the failed SOURCE
host (task ``rebuilding``), so it sets the state and the rest of the
instance and leaves it on the source; the move is reported by the
destination (``instance.rebuild.end``, below, and the ``instance.update``
that follows it).

Instance events beyond Watcher's list (:data:`INSTANCE_MOVES`,
:data:`INSTANCE_ERRORS`, :data:`COMPUTE_TASK_ERRORS`):

* a payload whose ``host`` is null puts the instance on no node: it is
  unmapped (``instance.shelve_offload.end`` and the updates after it,
  state ``shelved_offloaded``; a server never scheduled);
* ``instance.resize.end`` (sent by the source) names the destination host
  with the OLD flavor: the instance moves there with its old resources;
  ``instance.resize_finish.end`` (the destination) gives it the NEW
  flavor's resources, state ``resized``; until the confirm (or revert)
  the destination's usage counts the instance and the source's does not;
* ``instance.rebuild.end`` of an evacuation comes from the destination
  while its payload still names the source host and node (Nova moves the
  instance after the event): the instance goes to the publisher's host
  (``nova-compute:<host>``), its hypervisor name unknown (None) until an
  update names it;
* ``instance.resize.error``, ``instance.rebuild.error`` and
  ``instance.reboot.error`` carry the whole instance as Nova left it (the
  state it set, the host it is on) and are applied as updates;
* ``compute_task.build_instances.error``, ``.migrate_server.error`` and
  ``.rebuild_server.error`` (the conductor's ``ComputeTaskPayload``: an
  ``instance_uuid``, a ``state``, no host) set the state of the
  instance, which stays where it is; an instance the graph does not
  have is not created, its state is kept for the whole payload that
  creates it (see :mod:`tachyon.graph.events`).

Fields Nova's payloads do not carry (``watcher_exclude``, ``pinned_az``,
the flavor's name when absent) keep their stored values. A compute node
the graph does not know yet is looked up in the Nova and Placement APIs by
the listener before the changes are written (see
:mod:`tachyon.notifications.listener`).
"""

import dataclasses
import math

from tachyon.common import fields
from tachyon.model import changes
from tachyon.model import records
from tachyon.notifications import base

#: Instance events that carry the whole instance (Watcher's list, and the
#: three it lacks).
INSTANCE_UPDATES = (
    'instance.update',
    'instance.lock',
    'instance.unlock',
    'instance.pause.end',
    'instance.unpause.end',
    'instance.power_on.end',
    'instance.power_off.end',
    'instance.suspend.end',
    'instance.resume.end',
    'instance.shelve.end',
    'instance.unshelve.end',
    'instance.rescue.end',
    'instance.unrescue.end',
    'instance.rebuild.end',
    'instance.restore.end',
    'instance.shutdown.end',
    'instance.resize_confirm.end',
    'instance.live_migration_post_dest.end',
    'instance.live_migration_force_complete.end',
    # Not in Watcher:
    'instance.resize_revert.end',
    'instance.live_migration_rollback.end',
    'instance.evacuate',
)
INSTANCE_CREATE = 'instance.create.end'
INSTANCE_DELETES = ('instance.delete.end', 'instance.soft_delete.end')
#: Instance events that move or resize it, beyond Watcher's list.
INSTANCE_MOVES = (
    'instance.shelve_offload.end',
    'instance.resize.end',
    'instance.resize_finish.end',
)
#: Failed instance actions: the whole instance as Nova left it.
INSTANCE_ERRORS = (
    'instance.resize.error',
    'instance.rebuild.error',
    'instance.reboot.error',
)
#: The conductor's failures (ComputeTaskPayload): the state only.
COMPUTE_TASK_ERRORS = (
    'compute_task.build_instances.error',
    'compute_task.migrate_server.error',
    'compute_task.rebuild_server.error',
)
#: Its payload names the source of an evacuation; the publisher is the
#: destination.
INSTANCE_REBUILD_END = 'instance.rebuild.end'
SERVICE_UPDATES = ('service.create', 'service.update')
SERVICE_DELETE = 'service.delete'
COMPUTE_BINARY = 'nova-compute'
#: Aggregate events whose payload is the whole aggregate after a change
#: of its hosts, metadata or name.
AGGREGATE_UPDATES = (
    'aggregate.add_host.end',
    'aggregate.remove_host.end',
    'aggregate.update_metadata.end',
    'aggregate.update_prop.end',
)
#: The aggregate is gone (Nova deletes only an aggregate without hosts).
AGGREGATE_DELETE = 'aggregate.delete.end'
AGGREGATE_ZONE_KEY = 'availability_zone'

#: Instance fields no Nova payload carries: the stored values stay.
ALWAYS_KEPT = ('watcher_exclude', 'pinned_az')


def _flavor(data):
    flavor = data.child('flavor')
    # FlavorPayload is itself a versioned object.
    return flavor.child('nova_object.data', 'payload flavor data')


def _disk_gb(data, flavor):
    """Watcher's local disk of an instance, in GB."""
    root = flavor.integer('root_gb') if data.string(
        'image_uuid', False) else 0
    ephemeral = flavor.integer('ephemeral_gb', False, 0)
    swap_mb = flavor.integer('swap', False, 0)
    for key, value in (('root_gb', root), ('ephemeral_gb', ephemeral),
                       ('swap', swap_mb)):
        if value < 0:
            flavor.fail('%r is negative: %d' % (key, value), key)
    # Each size fits 64 bits; their sum must too.
    return data.in_range('flavor disk sizes', root + ephemeral
                         + int(math.ceil(swap_mb / 1024)))


def instance_record(data, version):
    """An instance payload's data -> (records.Instance, fields to keep)."""
    flavor = _flavor(data)
    keep = list(ALWAYS_KEPT)
    memory = flavor.integer('memory_mb')
    vcpus = flavor.integer('vcpus')
    for key, value in (('memory_mb', memory), ('vcpus', vcpus)):
        if value < 0:
            flavor.fail('%r is negative: %d' % (key, value), key)
    metadata = data.mapping('metadata', False, {})
    locked = False
    if version > (1, 0):
        locked = data.boolean('locked')
    else:
        keep.append('locked')
    extra_specs = {}
    if version > (1, 1):
        extra_specs = flavor.mapping('extra_specs', False, {})
    else:
        keep.append('flavor_extra_specs')
    flavor_name = flavor.string('name', False)
    if flavor_name is None:
        keep.append('flavor_name')
    # A null host: on no host (shelved offloaded, never scheduled); the
    # record names no node and the instance is unmapped.
    host = data.string('host', False) or None
    record = records.Instance(
        uuid=data.uuid('uuid'),
        name=data.string('display_name', False, '') or '',
        state=data.string('state'),
        vcpus=vcpus,
        memory=memory,
        disk=_disk_gb(data, flavor),
        metadata=dict(metadata),
        project_id=data.string('tenant_id', False),
        locked=locked,
        host=host,
        # Nova's InstancePayload names the hypervisor in "node".
        hypervisor_hostname=data.string('node', False),
        created=data.string('created_at', False),
        flavor_extra_specs=dict(extra_specs),
        flavor_name=flavor_name,
        node_name=host or None)
    return record, tuple(keep)


def publisher_host(notification):
    """The host of a Nova publisher id (``<source>:<host>``), or None."""
    _source, sep, host = (notification.publisher_id or '').partition(':')
    return host if sep and host else None


def _rebuilt_on_publisher(notification, record):
    """An instance.rebuild.end record, on the host that rebuilt it.

    After an evacuation the payload still names the failed source host
    and its node (Nova's ResourceTracker.finish_evacuation moves the
    instance after the event); the publisher is the destination. Its
    hypervisor's name is not in the payload: None until an update says.
    """
    host = publisher_host(notification)
    if not host or not record.host or host == record.host:
        return record
    return dataclasses.replace(record, host=host, node_name=host,
                               hypervisor_hostname=None)


class NovaHandler(base.NotificationHandler):
    """Nova's versioned notifications (topic versioned_notifications)."""

    name = 'nova'
    publisher_id = r'^nova-'
    event_types = (INSTANCE_UPDATES + (INSTANCE_CREATE,) + INSTANCE_DELETES
                   + SERVICE_UPDATES + (SERVICE_DELETE,)
                   + AGGREGATE_UPDATES + (AGGREGATE_DELETE,)
                   + INSTANCE_MOVES + INSTANCE_ERRORS + COMPUTE_TASK_ERRORS)

    def targets(self):
        opts = self.conf.notifications
        return [(opts.nova_topic, opts.nova_exchange)]

    def parse(self, notification):
        event = notification.event_type
        data, version = base.versioned(notification, 'nova')
        if event in SERVICE_UPDATES or event == SERVICE_DELETE:
            return self._service(notification, data, event)
        if event in AGGREGATE_UPDATES or event == AGGREGATE_DELETE:
            return self._aggregate(notification, data, event)
        if event in COMPUTE_TASK_ERRORS:
            return self._compute_task_error(notification, data)
        uuid = data.uuid('uuid')
        state = data.string('state')
        if event in INSTANCE_DELETES:
            # Only the uuid counts, but a payload whose state or host is
            # not what Nova sends is refused whole, as for the others.
            data.string('host', False)
            return [self.change(notification, changes.INSTANCE,
                                changes.DELETE, uuid)]
        if event != INSTANCE_CREATE and state == 'building':
            # As Watcher: nothing to model before the server is built.
            return []
        record, keep = instance_record(data, version)
        if event == INSTANCE_REBUILD_END:
            record = _rebuilt_on_publisher(notification, record)
        return [self.change(notification, changes.INSTANCE, changes.UPSERT,
                            uuid, record=record, keep=keep)]

    def _compute_task_error(self, notification, data):
        """compute_task.*.error: the instance's state, nothing else."""
        uuid = data.uuid('instance_uuid')
        state = data.string('state')
        return [self.change(notification, changes.INSTANCE, changes.UPDATE,
                            uuid, fields={'state': state})]

    def _service(self, notification, data, event):
        binary = data.string('binary')
        host = data.string('host')
        if binary != COMPUTE_BINARY:
            return []
        if event == SERVICE_DELETE:
            return [self.change(notification, changes.COMPUTE_NODE,
                                changes.DELETE, host)]
        disabled = data.boolean('disabled')
        fields = {
            'hostname': host,
            'state': 'down' if data.boolean('forced_down') else 'up',
            'status': 'disabled' if disabled else 'enabled',
            'disabled_reason': (data.string('disabled_reason', False)
                                if disabled else None),
        }
        return [self.change(notification, changes.COMPUTE_NODE,
                            changes.UPDATE, host, fields=fields)]

    def _aggregate(self, notification, data, event):
        """An aggregate.*.end payload -> one aggregate change."""
        agg_id = data.integer('id')
        name = data.string('name')
        hosts = data.sequence('hosts', False, []) or []
        for host in hosts:
            if not isinstance(host, str) or not host:
                data.fail('hosts must be host names, got %s'
                          % fields.short_repr(host), 'hosts')
        metadata = data.mapping('metadata', False, {}) or {}
        zone = metadata.get(AGGREGATE_ZONE_KEY)
        if zone is not None and not isinstance(zone, str):
            data.fail('metadata availability_zone must be a string, got %s'
                      % fields.short_repr(zone), 'metadata')
        record = records.Aggregate(
            id=agg_id, name=name, hosts=sorted(set(hosts)),
            availability_zone=zone or None,
            default_zone=(
                self.conf.notifications.nova_default_availability_zone),
            uuid=data.string('uuid', False))
        action = (changes.DELETE if event == AGGREGATE_DELETE
                  else changes.UPSERT)
        return [self.change(notification, changes.AGGREGATE, action,
                            str(agg_id), record=record)]

    @staticmethod
    def hosts(change_list):
        """The compute hostnames a list of changes needs to exist."""
        names = set()
        for change in change_list:
            if change.kind == changes.INSTANCE and change.action in (
                    changes.UPSERT,):
                if change.record.node_name:
                    names.add(change.record.node_name)
            elif (change.kind == changes.COMPUTE_NODE
                  and change.action == changes.UPDATE):
                names.add(change.key)
        return names
