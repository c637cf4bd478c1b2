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

"""Notification payloads as Nova, Cinder and Ironic emit them, for tests."""

import datetime

from tachyon.notifications import base

PROJECT = '6f70656e737461636b20342065766572'


def nova_instance(uuid, host='compute-1', state='active', vcpus=2,
                  memory_mb=2048, root_gb=20, ephemeral_gb=0, swap=0,
                  image=True, locked=False, name='server', version='1.7',
                  extra_specs=None, flavor_name='m1.small', metadata=None):
    """A Nova InstanceActionPayload / InstanceUpdatePayload."""
    return {
        'nova_object.name': 'InstanceActionPayload',
        'nova_object.namespace': 'nova',
        'nova_object.version': version,
        'nova_object.data': {
            'uuid': uuid,
            'display_name': name,
            'host': host,
            'node': host,
            'host_name': name,
            'state': state,
            'locked': locked,
            'tenant_id': PROJECT,
            'created_at': '2026-11-20T10:00:00Z',
            'image_uuid': ('155d900f-4e14-4e4c-a73d-069cbf4541e6'
                           if image else ''),
            'metadata': dict(metadata or {}),
            'flavor': {
                'nova_object.name': 'FlavorPayload',
                'nova_object.namespace': 'nova',
                'nova_object.version': '1.4',
                'nova_object.data': {
                    'name': flavor_name,
                    'vcpus': vcpus,
                    'memory_mb': memory_mb,
                    'root_gb': root_gb,
                    'ephemeral_gb': ephemeral_gb,
                    'swap': swap,
                    'extra_specs': dict(extra_specs or {}),
                },
            },
        },
    }


def nova_service(host, disabled=False, forced_down=False, reason=None,
                 binary='nova-compute'):
    return {
        'nova_object.name': 'ServiceStatusPayload',
        'nova_object.namespace': 'nova',
        'nova_object.version': '1.1',
        'nova_object.data': {
            'host': host, 'binary': binary, 'disabled': disabled,
            'disabled_reason': reason, 'forced_down': forced_down,
            'topic': 'compute', 'version': 66,
            'uuid': '1b4e28ba-2fa1-11d2-883f-0016d3cca427',
        },
    }


def cinder_volume(uuid, host='storage-1@lvm#pool1', size=10,
                  status='available', attachments=(), type_id='',
                  bootable=False, name='vol'):
    payload = {
        'volume_id': uuid, 'host': host, 'display_name': name,
        'size': size, 'status': status,
        'volume_attachment': [{'instance_uuid': server, 'id': att}
                              for server, att in attachments],
        'snapshot_id': None, 'tenant_id': PROJECT, 'metadata': {},
        'volume_type': type_id, 'created_at': '2026-11-20T10:00:00',
    }
    if bootable:
        payload['glance_metadata'] = {'image_id': 'x'}
    return payload


def cinder_capacity(pool, total=1000, free=900, allocated=100,
                    provisioned=100, virtual_free=900):
    return {'name_to_id': pool, 'total': total, 'free': free,
            'allocated': allocated, 'provisioned': provisioned,
            'virtual_free': virtual_free,
            'reported_at': '2026-11-20T10:00:00Z'}


def ironic_node(uuid, name='bm-1', power_state='power on',
                provision_state='available', maintenance=False,
                resource_class='baremetal', reason=None):
    return {
        'ironic_object.name': 'NodePayload',
        'ironic_object.namespace': 'ironic',
        'ironic_object.version': '1.15',
        'ironic_object.data': {
            'uuid': uuid, 'name': name, 'power_state': power_state,
            'provision_state': provision_state,
            'maintenance': maintenance, 'maintenance_reason': reason,
            'resource_class': resource_class, 'extra': {'rack': 'r1'},
            'instance_uuid': None, 'driver': 'ipmi',
        },
    }


def timestamp(seconds):
    """oslo.messaging's timestamp text of an epoch time."""
    return str(datetime.datetime.fromtimestamp(
        seconds, datetime.timezone.utc).replace(tzinfo=None))


def note(event_type, payload, at=None, publisher_id=None, message_id=None):
    """A :class:`tachyon.notifications.base.Notification`."""
    if publisher_id is None:
        publisher_id = {'instance': 'nova-compute:compute-1',
                        'service': 'nova-compute:compute-1',
                        'volume': 'volume.storage-1@lvm#pool1',
                        'capacity': 'capacity.storage-1@lvm#pool1',
                        'baremetal': 'ironic-conductor.host-1'}[
                            event_type.split('.')[0]]
    metadata = {'message_id': message_id or 'msg-%s' % event_type,
                'timestamp': timestamp(at) if at is not None else None}
    return base.Notification(publisher_id, event_type, payload, metadata)
