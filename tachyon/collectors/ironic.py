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

"""The baremetal model from Ironic: every node, with its power state,
maintenance, resource class and extra; upserted, and those gone pruned."""

from tachyon.collectors import base
from tachyon.collectors import clients
from tachyon.collectors import payloads
from tachyon.graph import baremetal

KIND_NODES = 'ironic_nodes'


class IronicCollector(base.BaseCollector):
    """Full sync of the Ironic nodes."""

    name = 'ironic'
    service = 'Ironic'

    def fetch(self, started_at, deadline):
        api = clients.IronicAPI(self.conf, deadline)
        nodes = base.Batch(KIND_NODES)
        for body in api.nodes():
            record = self.convert(nodes, payloads.ironic_node, body,
                                  updated_at=started_at)
            if record is not None:
                nodes.add(record, record.uuid)
        return {KIND_NODES: nodes}

    def write(self, graph, batches, report, started_at, deadline):
        nodes = batches[KIND_NODES]
        self.upsert(graph, baremetal.upsert_ironic_nodes, nodes, report,
                    deadline)
        self.prune(graph, baremetal.prune_ironic_nodes, nodes, report,
                   started_at, deadline)
