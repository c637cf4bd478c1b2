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

"""An ``nx.DiGraph`` view of a Tachyon-backed compute model.

For strategies that walk the graph directly: nodes are the uuids of
compute nodes and instances (``attr`` holds Watcher's element, as in
Watcher's ModelRoot), an edge ``instance -> node`` places an instance. In
simulation mode (the model has a session), removing an edge records a
DEALLOCATE delta and adding one an ALLOCATE delta with the instance's
amounts, sent with the model's other deltas.
"""

import networkx as nx
from watcher.decision_engine.model import element

from tachyon.model import records


class TachyonNetworkXAdapter(nx.DiGraph):

    def __init__(self, model=None, **attr):
        super().__init__(**attr)
        self.model = model

    @classmethod
    def from_model(cls, model):
        view = cls(model)
        for uuid, data in model.nodes(data=True):
            nx.DiGraph.add_node(view, uuid, **data)
        for u, v in model.edges():
            nx.DiGraph.add_edge(view, u, v)
        return view

    def _simulating(self):
        return (self.model is not None
                and self.model.session_id is not None)

    def _element(self, uuid):
        return self.nodes[uuid].get('attr') if uuid in self else None

    def _placement(self, u, v):
        inst, node = self._element(u), self._element(v)
        if (isinstance(inst, element.Instance)
                and isinstance(node, element.ComputeNode)):
            return inst, node
        return None, None

    def remove_edge(self, u, v):
        super().remove_edge(u, v)
        inst, node = self._placement(u, v)
        if inst is not None and self._simulating():
            self.model.add_pending_delta({
                'type': 'DEALLOCATE', 'consumer_uuid': inst.uuid,
                'source_uuid': node.uuid})

    def add_edge(self, u, v, **attr):
        super().add_edge(u, v, **attr)
        inst, node = self._placement(u, v)
        if inst is not None and self._simulating():
            self.model.add_pending_delta({
                'type': 'ALLOCATE', 'consumer_uuid': inst.uuid,
                'destination_uuid': node.uuid, 'check_capacity': False,
                'resources': {records.VCPU: inst.vcpus,
                              records.MEMORY_MB: inst.memory,
                              records.DISK_GB: inst.disk}})

    def flush(self):
        self.model.flush()
