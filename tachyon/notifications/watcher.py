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

"""Watcher's own versioned notifications of action plans and actions.

Watcher publishes them through oslo.messaging's notifier on its control
exchange (``watcher``) and the notification topic (``notifications``
unless watcher.conf sets ``[oslo_messaging_notifications]/topics``), with
``[DEFAULT]/notification_level`` set (any level: the ones read here are
all INFO or ERROR). Their payloads are ``watcher_object`` versioned
objects: ``ActionPlan*Payload`` 1.x (uuid, state, audit_uuid,
created_at, updated_at ...) and ``Action*Payload`` 1.x (uuid,
action_type, input_parameters, state, the nested ``action_plan``
...).

Each notification becomes one change (:mod:`tachyon.model.plans`)
applied by :mod:`tachyon.graph.reservations`:

* ``action_plan.create`` (or any later notification of a plan still to be
  carried out, should the create be lost or late) makes the plan's
  reservation from the audit's session; ``action_plan.update`` to an
  ended state, ``action_plan.delete`` and the ends of its execution or
  cancellation end it;
* ``action.*`` of a ``migrate`` action that ended (SUCCEEDED, FAILED,
  CANCELLED, SKIPPED, DELETED) ends the hold of its instance.

Changes are ordered by the object's own ``updated_at`` (Watcher's time
of the state change, set when it saved the object), then its
``created_at``, then the notification's time: a redelivered or late
notification never undoes a newer state.
"""

import dataclasses

from tachyon.model import changes
from tachyon.model import plans
from tachyon.notifications import base

_PHASED = ('execution.start', 'execution.end', 'execution.error',
           'cancel.start', 'cancel.end', 'cancel.error')
PLAN_EVENTS = tuple('action_plan.%s' % e for e in
                    ('create', 'update', 'delete') + _PHASED)
ACTION_EVENTS = tuple('action.%s' % e for e in
                      ('create', 'update', 'delete') + _PHASED)


class WatcherHandler(base.NotificationHandler):
    """Watcher's action-plan and action notifications (reservations)."""

    name = 'watcher'
    #: Watcher's services publish as "<binary>:<host>"; the exchange is
    #: Watcher's own, so any publisher on it is taken.
    publisher_id = None
    event_types = PLAN_EVENTS + ACTION_EVENTS

    def targets(self):
        opts = self.conf.reservations
        return [(opts.watcher_topic, opts.watcher_exchange)]

    def parse(self, notification):
        data, _version = base.versioned(notification, 'watcher',
                                        known_majors=(1,))
        event = notification.event_type
        deleted = event.endswith('.delete')
        created = base.parse_timestamp(
            data.string('created_at', required=False))
        stamp = (base.parse_timestamp(
            data.string('updated_at', required=False)) or created
            or notification.timestamp)
        if event.startswith('action_plan.'):
            record = plans.ActionPlanState(
                uuid=data.uuid('uuid'), audit_uuid=data.uuid('audit_uuid'),
                state=data.string('state'), deleted=deleted,
                created_at=created)
            kind = changes.ACTION_PLAN
        else:
            params = base.Payload(notification, data.mapping(
                'input_parameters', required=False, default={}) or {},
                'payload data.input_parameters')
            record = plans.ActionState(
                uuid=data.uuid('uuid'),
                action_plan_uuid=self._plan_of(notification, data),
                action_type=data.string('action_type'),
                state=data.string('state'),
                resource_id=params.string('resource_id', required=False),
                deleted=deleted)
            kind = changes.WATCHER_ACTION
        change = self.change(notification, kind, changes.UPSERT,
                             record.uuid, record=record)
        return [dataclasses.replace(change, timestamp=stamp)]

    @staticmethod
    def _plan_of(notification, data):
        """The uuid of the action's plan.

        Its ``action_plan_uuid`` when set; Watcher leaves that field unset
        and always sends the nested ``action_plan`` (a
        TerseActionPlanPayload), whose uuid is then read.
        """
        if data.get('action_plan_uuid', str, required=False) is not None:
            return data.uuid('action_plan_uuid')
        nested = base.Payload(notification, data.mapping('action_plan'),
                              'payload data.action_plan')
        inner = base.Payload(notification, nested.mapping(
            'watcher_object.data'), 'payload data.action_plan data')
        return inner.uuid('uuid')
