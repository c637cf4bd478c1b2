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

"""The storage model from Cinder.

Fetches the ``cinder-volume`` services (storage nodes, with the volume
types of their backend), the pools with their capacities
(``scheduler-stats/get_pools?detail=True``) and every volume of every
project with its attachments; then upserts storage nodes, pools and
volumes and prunes those gone.
"""

from tachyon.collectors import base
from tachyon.collectors import clients
from tachyon.collectors import payloads
from tachyon.graph import storage

KIND_NODES = 'storage_nodes'
KIND_POOLS = 'pools'
KIND_VOLUMES = 'volumes'


class CinderCollector(base.BaseCollector):
    """Full sync of storage nodes, pools and volumes."""

    name = 'cinder'
    service = 'Cinder'

    def fetch(self, started_at, deadline):
        api = clients.CinderAPI(self.conf, deadline)
        nodes = base.Batch(KIND_NODES)
        pools = base.Batch(KIND_POOLS)
        volumes = base.Batch(KIND_VOLUMES)

        types = payloads.volume_types_by_backend(api.volume_types())
        for svc in api.volume_services():
            record = self.convert(nodes, payloads.storage_node, svc, types,
                                  updated_at=started_at)
            if record is not None:
                nodes.add(record, record.uuid)
        for body in api.pools():
            record = self.convert(pools, payloads.pool, body,
                                  updated_at=started_at)
            if record is not None:
                pools.add(record, record.uuid)
        for body in api.volumes():
            record = self.convert(volumes, payloads.volume, body,
                                  updated_at=started_at)
            if record is not None:
                volumes.add(record, record.uuid)
        return {KIND_NODES: nodes, KIND_POOLS: pools, KIND_VOLUMES: volumes}

    def write(self, graph, batches, report, started_at, deadline):
        nodes = batches[KIND_NODES]
        pools = batches[KIND_POOLS]
        volumes = batches[KIND_VOLUMES]
        self.upsert(graph, storage.upsert_storage_nodes, nodes, report,
                    deadline)
        self.upsert(graph, storage.upsert_pools, pools, report, deadline)
        self.upsert(graph, storage.upsert_volumes, volumes, report,
                    deadline)
        self.prune(graph, storage.prune_volumes, volumes, report,
                   started_at, deadline)
        self.prune(graph, storage.prune_pools, pools, report, started_at,
                   deadline)
        self.prune(graph, storage.prune_storage_nodes, nodes, report,
                   started_at, deadline)
