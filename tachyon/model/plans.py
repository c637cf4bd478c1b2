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

"""What Watcher's notifications say of its action plans and actions.

The Watcher notification handler (:mod:`tachyon.notifications.watcher`)
turns each ``action_plan.*`` and ``action.*`` notification into one of
these records, carried by a :class:`tachyon.model.changes.Change` of kind
``action_plan`` or ``watcher_action``; :mod:`tachyon.graph.reservations`
applies them.
"""

import dataclasses
import typing

# Watcher's action plan states (watcher.objects.action_plan.State).
RECOMMENDED = 'RECOMMENDED'
PENDING = 'PENDING'
ONGOING = 'ONGOING'
FAILED = 'FAILED'
SUCCEEDED = 'SUCCEEDED'
DELETED = 'DELETED'
CANCELLED = 'CANCELLED'
SUPERSEDED = 'SUPERSEDED'
CANCELLING = 'CANCELLING'
#: Watcher's action state a plan's does not have.
SKIPPED = 'SKIPPED'

#: A plan in one of these states will still be carried out: it holds.
PLAN_HOLDING = (RECOMMENDED, PENDING, ONGOING)
#: A plan in one of these has ended (CANCELLING too: nothing more of it
#: starts). A plan's reservation never holds again once ended.
PLAN_ENDED = (FAILED, SUCCEEDED, DELETED, CANCELLED, SUPERSEDED, CANCELLING)
#: An action in one of these has ended: its move holds no more.
ACTION_ENDED = (FAILED, SUCCEEDED, DELETED, CANCELLED, SKIPPED, CANCELLING)

#: The action type whose moves a reservation holds.
MIGRATE = 'migrate'


@dataclasses.dataclass
class ActionPlanState:
    """One action plan as a notification describes it."""

    uuid: str
    audit_uuid: str
    state: str
    #: When Watcher created the plan (epoch seconds), if it says.
    created_at: typing.Optional[float] = None
    #: True for action_plan.delete (whatever ``state`` says).
    deleted: bool = False


@dataclasses.dataclass
class ActionState:
    """One action as a notification describes it."""

    uuid: str
    action_plan_uuid: str
    action_type: str
    state: str
    #: The instance a migrate moves (its input parameter resource_id).
    resource_id: typing.Optional[str] = None
    deleted: bool = False
