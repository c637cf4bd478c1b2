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

"""The compute model from Nova and Placement.

Fetches the ``nova-compute`` services (availability zones), the host
aggregates, every hypervisor (but Ironic's, which Watcher leaves out of the
compute model too) with its Placement inventories and traits, and every
server of every project with its embedded flavor; then upserts compute
nodes and instances and prunes those gone.
"""

from concurrent import futures

from oslo_log import log as logging

from tachyon.collectors import base
from tachyon.collectors import clients
from tachyon.collectors import payloads
from tachyon import exception
from tachyon.graph import compute

LOG = logging.getLogger(__name__)

KIND_NODES = 'compute_nodes'
KIND_INSTANCES = 'instances'
KIND_AGGREGATES = 'aggregates'


class NovaCollector(base.BaseCollector):
    """Full sync of compute nodes and instances."""

    name = 'nova'
    service = 'Nova'

    def _wait(self, future, deadline):
        try:
            return future.result(timeout=max(deadline.remaining(), 0))
        except futures.TimeoutError:
            raise clients.SyncTimeout(service=self.service,
                                      timeout=deadline.seconds)

    @staticmethod
    def _provider(api, node_uuid):
        return api.inventories(node_uuid), api.traits(node_uuid)

    def fetch(self, started_at, deadline):
        api = clients.NovaAPI(self.conf, deadline)
        nodes = base.Batch(KIND_NODES)
        instances = base.Batch(KIND_INSTANCES)
        aggregates = base.Batch(KIND_AGGREGATES)
        pool = futures.ThreadPoolExecutor(
            max_workers=self.conf.placement.sync_concurrency + 1,
            thread_name_prefix='tachyon-nova-sync')
        try:
            servers_future = pool.submit(api.servers)
            services = payloads.services_by_host(api.compute_services())
            for agg in api.aggregates():
                record = self.convert(aggregates, payloads.aggregate, agg)
                if record is not None:
                    aggregates.add(record, record['id'])
            aggs = aggregates.records
            by_host = payloads.aggregates_by_host(aggs)

            hypervisors = {}
            uuid_by_name = {}
            baremetal = set()
            for hyp in api.hypervisors():
                if payloads.is_baremetal_hypervisor(hyp):
                    baremetal.add(hyp.get('hypervisor_hostname'))
                    continue
                ident = payloads.ident(hyp)
                if not (ident and clients.is_uuid(ident)):
                    nodes.skip(exception.MalformedEntity(
                        'hypervisor', ident,
                        'no uuid id (compute microversion 2.53 or later '
                        'needed)'))
                    continue
                hypervisors[ident] = hyp
                name = hyp.get('hypervisor_hostname')
                if isinstance(name, str):
                    uuid_by_name[name] = ident

            providers = {uuid: pool.submit(self._provider, api, uuid)
                         for uuid in hypervisors}
            for node_uuid, hyp in hypervisors.items():
                try:
                    inventories, traits = self._wait(providers[node_uuid],
                                                     deadline)
                except exception.MalformedEntity as exc:
                    nodes.skip(exc, node_uuid)
                    continue
                svc = hyp.get('service')
                host = ((svc.get('host') if isinstance(svc, dict) else None)
                        or hyp.get('hypervisor_hostname'))
                record = self.convert(
                    nodes, payloads.compute_node, hyp, inventories, traits,
                    services.get(host), by_host.get(host, []),
                    updated_at=started_at)
                if record is not None:
                    nodes.add(record, record.uuid)
                else:
                    nodes.keep.add(node_uuid)

            excluded = 0
            for server in self._wait(servers_future, deadline):
                if payloads.server_is_deleted(server):
                    continue
                if baremetal and isinstance(server, dict) and server.get(
                        'OS-EXT-SRV-ATTR:hypervisor_hostname') in baremetal:
                    # Watcher's compute model has no bare metal instances.
                    excluded += 1
                    continue
                node_uuid = None
                if isinstance(server, dict):
                    node_uuid = uuid_by_name.get(
                        server.get('OS-EXT-SRV-ATTR:hypervisor_hostname'))
                record = self.convert(
                    instances, payloads.instance, server, node_uuid,
                    updated_at=started_at, microversion=api.microversion)
                if record is not None:
                    instances.add(record, record.uuid)
            if excluded:
                LOG.debug('Left out %d instances on bare metal nodes',
                          excluded)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return {KIND_NODES: nodes, KIND_INSTANCES: instances,
                KIND_AGGREGATES: aggregates}

    def write(self, graph, batches, report, started_at, deadline):
        nodes = batches[KIND_NODES]
        instances = batches[KIND_INSTANCES]
        self.upsert(graph, compute.upsert_compute_nodes, nodes, report,
                    deadline)
        self.upsert(graph, compute.upsert_instances, instances, report,
                    deadline)
        # Instances first: a node is pruned with nothing left on it.
        self.prune(graph, compute.prune_instances, instances, report,
                   started_at, deadline)
        self.prune(graph, compute.prune_compute_nodes, nodes, report,
                   started_at, deadline)
