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

"""What a delta means: pure rules over plain dicts, no graph.

A delta is a dict with ``type`` (one of :data:`DELTA_TYPES`),
``consumer_uuid``, ``source_uuid``, ``destination_uuid``, ``resources``
and ``old_resources`` ({resource class: amount}) and the
``*_generation`` fields the touched entities had when it was recorded.

A consumer's state is ``{'node_uuid', 'resources', 'generation'}``: the
node it runs on (None: none) and the amounts it asks for.

* A MOVE takes ``resources`` off its source and puts them on its
  destination; the consumer now runs on the destination.
* An ALLOCATE adds ``resources`` to its destination, where the consumer
  now runs with those amounts.
* A DEALLOCATE takes ``resources`` off its source; the consumer runs
  nowhere.
* A RESIZE adds ``resources - old_resources`` where the consumer sits,
  which now asks for ``resources``.

:mod:`tachyon.simulation.recording` checks a delta before it is
recorded; :mod:`tachyon.simulation.commit` holds the rules of a commit.
"""

from tachyon.model import records

MOVE = 'MOVE'
ALLOCATE = 'ALLOCATE'
DEALLOCATE = 'DEALLOCATE'
RESIZE = 'RESIZE'
DELTA_TYPES = (MOVE, ALLOCATE, DEALLOCATE, RESIZE)
RESOURCE_CLASSES = records.COMPUTE_RESOURCE_CLASSES

#: (uuid field, generation field) of the entities a delta touches.
TOUCHED_FIELDS = (('consumer_uuid', 'consumer_generation'),
                  ('source_uuid', 'source_generation'),
                  ('destination_uuid', 'destination_generation'))


def apply_to_consumer(state, delta):
    """Apply ``delta`` to a consumer's ``state`` (changed and returned)."""
    kind = delta['type']
    if kind in (MOVE, ALLOCATE):
        state['node_uuid'] = delta['destination_uuid']
    if kind == ALLOCATE or kind == RESIZE:
        state['resources'] = dict(delta['resources'])
    if kind == DEALLOCATE:
        state['node_uuid'] = None
    return state


def effect(delta, node_uuid):
    """{resource class: change} a delta makes to one node's usage."""
    kind, res = delta['type'], delta['resources']
    change = dict.fromkeys(RESOURCE_CLASSES, 0)
    if kind == MOVE:
        sign = ((delta['destination_uuid'] == node_uuid)
                - (delta['source_uuid'] == node_uuid))
        for rc in RESOURCE_CLASSES:
            change[rc] += sign * res.get(rc, 0)
    elif kind == ALLOCATE and delta['destination_uuid'] == node_uuid:
        for rc in RESOURCE_CLASSES:
            change[rc] += res.get(rc, 0)
    elif kind == DEALLOCATE and delta['source_uuid'] == node_uuid:
        for rc in RESOURCE_CLASSES:
            change[rc] -= res.get(rc, 0)
    elif kind == RESIZE and delta['source_uuid'] == node_uuid:
        for rc in RESOURCE_CLASSES:
            change[rc] += res.get(rc, 0) - delta['old_resources'].get(rc, 0)
    return change
