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

"""Ironic's versioned notifications -> baremetal node changes.

Watcher has no Ironic endpoint; its baremetal model is rebuilt from the
API on every audit. Ironic's node payloads (``NodePayload`` and the
payloads derived from it) carry the same fields as a node of ``GET
/v1/nodes/detail``, so a node event is read the way the Ironic collector
reads a node (:func:`tachyon.collectors.payloads.ironic_node`): name,
power state, maintenance and its reason, extra, resource class and the
``CUSTOM_*`` inventory the node offers when it can be scheduled.
"""

from tachyon.collectors import payloads
from tachyon import exception
from tachyon.model import changes
from tachyon.notifications import base

_NODE = 'baremetal.node.'
NODE_UPDATES = tuple(_NODE + event for event in (
    'create.end',
    'update.end',
    'power_set.end',
    'power_set.error',
    'power_state_corrected.success',
    'maintenance_set.end',
    'provision_set.start',
    'provision_set.end',
    'provision_set.success',
    'provision_set.error',
))
NODE_DELETE = _NODE + 'delete.end'


class IronicHandler(base.NotificationHandler):
    """Ironic's versioned notifications (ironic_versioned_notifications)."""

    name = 'ironic'
    publisher_id = r'^ironic-'
    event_types = NODE_UPDATES + (NODE_DELETE,)

    def targets(self):
        opts = self.conf.notifications
        return [(opts.ironic_topic, opts.ironic_exchange)]

    def parse(self, notification):
        data, _version = base.versioned(notification, 'ironic',
                                        known_majors=(1,))
        # A delete's payload is the node too: read it whole, so that a
        # payload broken in any field is refused, not half believed.
        try:
            record = payloads.ironic_node(data.data)
        except exception.MalformedEntity as exc:
            data.fail(exc.reason, getattr(exc, 'field', None))
        if notification.event_type == NODE_DELETE:
            return [self.change(notification, changes.IRONIC_NODE,
                                changes.DELETE, record.uuid)]
        return [self.change(notification, changes.IRONIC_NODE,
                            changes.UPSERT, record.uuid, record=record)]
