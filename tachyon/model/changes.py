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

"""What one notification says changed, as plain records.

Notification handlers turn a payload into a list of :class:`Change`; the
graph layer (:mod:`tachyon.graph.events`) applies a list of them in one
transaction. A change names one entity (``kind`` and ``key``: a uuid, or a
name for the entities notifications name only by name), what happened to
it (``action``) and when (``timestamp``, seconds since the epoch, the
notification's; None applies unconditionally).

Actions:

``upsert``
    ``record`` is the entity as the notification describes it (a record of
    :mod:`tachyon.model.records`). The fields named in ``keep`` are not in
    the payload: the stored entity's values stay (Watcher's defaults for a
    new entity). ``keep`` may also hold ``'node'`` (an instance: stay on the
    node it is mapped to when the payload names no host) and ``'pool'``
    (a volume: the same for its pool). An instance record naming no node
    without ``'node'`` in ``keep`` puts the instance on no node.
``update``
    ``fields`` are set on the existing entity named by ``key`` (a compute
    node's hostname, a pool's name); a missing entity is created from
    ``record`` first when one is given, and otherwise the change is
    skipped. An instance's ``update`` (named by its uuid) sets its
    ``state`` and no other field: the instance keeps its node and the
    rest; for an instance the graph does not have the state is kept
    pending until a whole payload creates it.
``delete``
    The entity goes; a tombstone dated ``timestamp`` stops older changes
    from bringing it back.
"""

import dataclasses
import typing

UPSERT = 'upsert'
UPDATE = 'update'
DELETE = 'delete'
ACTIONS = (UPSERT, UPDATE, DELETE)

# Entity kinds.
INSTANCE = 'instance'
COMPUTE_NODE = 'compute_node'
VOLUME = 'volume'
POOL = 'pool'
STORAGE_NODE = 'storage_node'
IRONIC_NODE = 'ironic_node'
#: A Nova host aggregate, keyed by its id (as text); its ``record`` a
#: :class:`~tachyon.model.records.Aggregate`, always an ``upsert``.
AGGREGATE = 'aggregate'
#: A Watcher action plan, keyed by its uuid; its ``record`` a
#: :class:`~tachyon.model.plans.ActionPlanState`, always an ``upsert``.
ACTION_PLAN = 'action_plan'
#: A Watcher action, keyed by its uuid; its ``record`` a
#: :class:`~tachyon.model.plans.ActionState`, always an ``upsert``.
WATCHER_ACTION = 'watcher_action'
KINDS = (INSTANCE, COMPUTE_NODE, VOLUME, POOL, STORAGE_NODE, IRONIC_NODE,
         AGGREGATE, ACTION_PLAN, WATCHER_ACTION)

#: ``keep`` markers beyond record fields.
KEEP_NODE = 'node'
KEEP_POOL = 'pool'


@dataclasses.dataclass
class Change:
    """One entity's change, as a notification reports it."""

    kind: str
    action: str
    key: str
    record: typing.Any = None
    fields: dict = dataclasses.field(default_factory=dict)
    keep: typing.Tuple[str, ...] = ()
    timestamp: typing.Optional[float] = None
    # Where it came from, for logs.
    event_type: typing.Optional[str] = None
    message_id: typing.Optional[str] = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError('unknown change kind %r' % (self.kind,))
        if self.action not in ACTIONS:
            raise ValueError('unknown change action %r' % (self.action,))
        if not self.key:
            raise ValueError('a %s change needs a key' % self.kind)

    @property
    def entity(self):
        """What identifies the entity: (kind, key)."""
        return (self.kind, self.key)


def newest_per_entity(changes):
    """Of several changes to one entity, only the newest counts.

    Every payload Tachyon handles describes its entity whole (the fields
    left to ``keep`` come from the graph, not from older notifications),
    so within a batch only the newest change of each entity needs to be
    applied: older ones would be skipped by the graph anyway. Ties (and
    changes without a timestamp) go to the later one. Order of first
    appearance is kept.
    """
    chosen = {}
    for index, change in enumerate(changes):
        current = chosen.get(change.entity)
        if current is None or _not_older(change, current[1]):
            chosen[change.entity] = (current[0] if current else index,
                                     change)
    return [change for _, change in sorted(chosen.values(),
                                           key=lambda item: item[0])]


def _not_older(change, other):
    if change.timestamp is None or other.timestamp is None:
        return True
    return change.timestamp >= other.timestamp
