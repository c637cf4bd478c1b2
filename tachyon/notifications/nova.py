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
  instance whose payload names no host stays where it was;
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

Beyond Watcher: ``instance.resize_revert.end``,
``instance.live_migration_rollback.end`` (the instance is back on its
source) and ``instance.evacuate`` (it is on the destination) are handled as
updates too, and services of other binaries (conductor, scheduler) are
ignored instead of being looked up as compute nodes.

Fields Nova's payloads do not carry (``watcher_exclude``, ``pinned_az``,
the flavor's name when absent) keep their stored values. A compute node
the graph does not know yet is looked up in the Nova and Placement APIs by
the listener before the changes are written (see
:mod:`tachyon.notifications.listener`).
"""

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
    if min(root, ephemeral, swap_mb) < 0:
        data.fail('the flavor has a negative disk size')
    # Each size fits 64 bits; their sum must too.
    return data.in_range('flavor disk sizes', root + ephemeral
                         + int(math.ceil(swap_mb / 1024)))


def instance_record(data, version):
    """An instance payload's data -> (records.Instance, fields to keep)."""
    flavor = _flavor(data)
    keep = list(ALWAYS_KEPT)
    memory = flavor.integer('memory_mb')
    vcpus = flavor.integer('vcpus')
    if memory < 0 or vcpus < 0:
        data.fail('the flavor has negative vcpus or memory_mb')
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
    host = data.string('host', False)
    if not host:
        keep.append(changes.KEEP_NODE)
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


class NovaHandler(base.NotificationHandler):
    """Nova's versioned notifications (topic versioned_notifications)."""

    name = 'nova'
    publisher_id = r'^nova-'
    event_types = (INSTANCE_UPDATES + (INSTANCE_CREATE,) + INSTANCE_DELETES
                   + SERVICE_UPDATES + (SERVICE_DELETE,)
                   + AGGREGATE_UPDATES)

    def targets(self):
        opts = self.conf.notifications
        return [(opts.nova_topic, opts.nova_exchange)]

    def parse(self, notification):
        event = notification.event_type
        data, version = base.versioned(notification, 'nova')
        if event in SERVICE_UPDATES or event == SERVICE_DELETE:
            return self._service(notification, data, event)
        if event in AGGREGATE_UPDATES:
            return self._aggregate(notification, data)
        uuid = data.uuid('uuid')
        if event in INSTANCE_DELETES:
            return [self.change(notification, changes.INSTANCE,
                                changes.DELETE, uuid)]
        state = data.string('state')
        if event != INSTANCE_CREATE and state == 'building':
            # As Watcher: nothing to model before the server is built.
            return []
        record, keep = instance_record(data, version)
        return [self.change(notification, changes.INSTANCE, changes.UPSERT,
                            uuid, record=record, keep=keep)]

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

    def _aggregate(self, notification, data):
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
        return [self.change(notification, changes.AGGREGATE, changes.UPSERT,
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
