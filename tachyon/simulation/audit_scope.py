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

"""Watcher's audit scope over a compute model: a pure filter.

A scope is ``{key: set of names or ids}`` with the keys of
:data:`SCOPE_KEYS` (:func:`tachyon.simulation.validation.check_scope`
builds it from what a caller sent); a compute model is the dict of
``nodes``, ``instances`` and ``mapping`` (instance uuid to node uuid) a
snapshot answers with.
"""

SCOPE_KEYS = ('availability_zones', 'host_aggregates', 'compute_nodes',
              'exclude_instances', 'exclude_projects',
              'exclude_compute_nodes')


def apply_scope(model, scope):
    """Filter a compute model as Watcher's compute scope handler does.

    Nodes are kept when they are in one of the zones, one of the
    aggregates (by name or id; ``*`` is every one) or the named hosts (each
    filter given narrows the set), minus the excluded hosts; the instances
    of removed nodes go with them. Excluded instances, and the instances of
    excluded projects, stay in the model with ``watcher_exclude`` set, as
    Watcher leaves them.
    """
    if not scope:
        return model
    nodes = model['nodes']
    zones = scope.get('availability_zones')
    if zones is not None and '*' not in zones:
        nodes = [n for n in nodes if n.availability_zone in zones]
    aggregates = scope.get('host_aggregates')
    if aggregates is not None and '*' not in aggregates:
        nodes = [n for n in nodes if any(
            str(a.get('name')) in aggregates or str(a.get('id')) in aggregates
            for a in n.aggregates or ())]
    if 'compute_nodes' in scope:
        nodes = [n for n in nodes if n.hostname in scope['compute_nodes']]
    nodes = [n for n in nodes
             if n.hostname not in scope.get('exclude_compute_nodes', ())]
    kept = {n.uuid for n in nodes}
    excluded = scope.get('exclude_instances', set())
    projects = scope.get('exclude_projects', set())
    mapping = {i: n for i, n in model['mapping'].items() if n in kept}
    instances = []
    for inst in model['instances']:
        if inst.uuid in model['mapping'] and inst.uuid not in mapping:
            continue
        if inst.uuid in excluded or (inst.project_id or '') in projects:
            inst.watcher_exclude = True
        instances.append(inst)
    return dict(model, nodes=nodes, instances=instances, mapping=mapping)
