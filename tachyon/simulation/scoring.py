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

"""How balanced the nodes are and where an instance fits: pure functions.

``capacity`` and ``used`` are {node_uuid: {'vcpu', 'memory', 'disk'}}
(Watcher's keys), a session's deltas already applied to ``used``.
"""

import math

from tachyon.model import records

RESOURCE_CLASSES = records.COMPUTE_RESOURCE_CLASSES
KEYS = records.WATCHER_RESOURCE_KEYS


def utilization(capacity, used, resource_class):
    """{node_uuid: used / capacity} of one resource class.

    A node without capacity of the class counts as 0.0.
    """
    key = KEYS[resource_class]
    return {uuid: (used[uuid][key] / capacity[uuid][key]
                   if capacity.get(uuid, {}).get(key) else 0.0)
            for uuid in used}


def balance_score(values):
    """Mean and (population) standard deviation of utilization values."""
    values = list(values)
    if not values:
        return {'mean': 0.0, 'stddev': 0.0, 'nodes': 0}
    mean = sum(values) / len(values)
    var = sum((v - mean) ** 2 for v in values) / len(values)
    return {'mean': mean, 'stddev': math.sqrt(var), 'nodes': len(values)}


def rank_destinations(capacity, used, state, limit):
    """Nodes with room for an instance, best first, at most ``limit``.

    ``state``: the instance's state (``node_uuid``, ``resources``); its own
    node is never a destination. Most free VCPU left after the move ranks
    first, then most free memory, then the node uuid.

    :returns: [{'node_uuid', 'free': {'vcpu', 'memory', 'disk'}}], ``free``
        being the node's room before the move.
    """
    need = {KEYS[rc]: state['resources'][rc] for rc in RESOURCE_CLASSES}
    ranked = []
    for node, caps in capacity.items():
        if node == state['node_uuid']:
            continue
        free = {key: caps[key] - used[node][key] for key in caps}
        if all(free[key] >= need[key] for key in need):
            ranked.append((-(free['vcpu'] - need['vcpu']),
                           -(free['memory'] - need['memory']), node, free))
    ranked.sort()
    return [{'node_uuid': node, 'free': free}
            for _v, _m, node, free in ranked[:limit]]
