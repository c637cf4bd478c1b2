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

"""Single entities fetched from the OpenStack APIs on demand.

The notification handlers meet compute nodes, pools and storage nodes the
graph does not have yet; :class:`ComputeNodeLookup` (Nova and Placement)
and :class:`CinderLookup` (Cinder) fetch them through the collectors' API
clients and turn them into records, as a full sync would::

    lookup = ComputeNodeLookup(conf)
    node = lookup.lookup('compute-1')     # hostname or hypervisor uuid

Both are thread-safe and keep their keystoneauth session (and its token)
between calls.
"""

import threading
import time

from oslo_log import log as logging

from tachyon.collectors import clients
from tachyon.collectors import payloads
from tachyon import exception

LOG = logging.getLogger(__name__)


class LazyAPI(object):
    """Holds one API client, built on first use, shared by threads."""

    #: The API class (NovaAPI, CinderAPI...) built from ``conf``.
    api_class = None

    def __init__(self, conf):
        self.conf = conf
        self._api = None
        self._lock = threading.Lock()

    @property
    def api(self):
        with self._lock:
            if self._api is None:
                self._api = self.api_class(self.conf)
            return self._api


class ComputeNodeLookup(LazyAPI):
    """Fetch one compute node from Nova and Placement, on demand.

    The notification handlers call :meth:`lookup` when a notification names
    a compute node the graph does not have yet::

        lookup = ComputeNodeLookup(conf)
        node = lookup.lookup('compute-1')     # hostname or hypervisor uuid

    Thread-safe; the keystoneauth session (and its token) is kept between
    calls.
    """

    api_class = clients.NovaAPI

    def _find_hypervisor(self, name_or_uuid):
        api = self.api
        if clients.is_uuid(name_or_uuid):
            return api.hypervisor(name_or_uuid)
        candidates = api.hypervisors_named(name_or_uuid)
        # The pattern is a fuzzy match: prefer the exact hypervisor name,
        # then the compute service's host.
        for key in ('hypervisor_hostname', 'service_host'):
            for hyp in candidates:
                if not isinstance(hyp, dict):
                    continue
                value = (hyp.get(key) if key == 'hypervisor_hostname'
                         else (hyp.get('service') or {}).get('host'))
                if value == name_or_uuid:
                    return hyp
        return None

    @staticmethod
    def _aggregates(bodies):
        result = []
        for body in bodies:
            try:
                result.append(payloads.aggregate(body))
            except exception.MalformedEntity as exc:
                LOG.warning('Ignoring aggregate: %s', exc)
        return result

    def lookup(self, name_or_uuid):
        """The compute node named (hostname) or identified (uuid).

        Returns a :class:`~tachyon.model.records.ComputeNode` (its
        ``updated_at`` the time of the lookup), or None when Nova does not
        know it (or it is a bare metal node). Raises
        :class:`~tachyon.exception.UpstreamError` (or its subclass
        ``UpstreamAuthFailed``) when the APIs fail.
        """
        observed_at = time.time()
        api = self.api
        hyp = self._find_hypervisor(name_or_uuid)
        if hyp is None or payloads.is_baremetal_hypervisor(hyp):
            return None
        try:
            node_uuid = hyp.get('id')
            inventories = api.inventories(node_uuid)
            traits = api.traits(node_uuid)
            service_host = (hyp.get('service') or {}).get('host')
            services = payloads.services_by_host(
                api.compute_services(service_host)) if service_host else {}
            aggregates = payloads.aggregates_by_host(
                self._aggregates(api.aggregates()))
            return payloads.compute_node(
                hyp, inventories, traits, services.get(service_host),
                aggregates.get(service_host, []), updated_at=observed_at)
        except exception.MalformedEntity as exc:
            LOG.warning('Cannot read compute node %(name)s from the APIs: '
                        '%(err)s', {'name': name_or_uuid, 'err': exc})
            return None


class CinderLookup(LazyAPI):
    """Pools, storage nodes and volume type names from the Cinder API."""

    api_class = clients.CinderAPI

    def pools(self, names):
        """{name: records.Pool} of the pools named that Cinder lists.

        One API call (``GET /scheduler-stats/get_pools?detail=True``)
        whatever the number of names. Each pool's ``updated_at`` is the
        time the call was made: what Cinder reports then, or later, so a
        notification sent after that time is never taken as older than
        this answer.

        :raises: :class:`~tachyon.exception.UpstreamError` (transient) or
            :class:`~tachyon.exception.UpstreamAuthFailed` when Cinder
            fails.
        """
        wanted = set(names)
        found = {}
        observed_at = time.time()
        for body in self.api.pools():
            if isinstance(body, dict) and body.get('name') in wanted:
                try:
                    pool = payloads.pool(body, updated_at=observed_at)
                except exception.MalformedEntity as exc:
                    LOG.warning('Ignoring pool: %s', exc)
                    continue
                found[pool.name] = pool
        return found

    def storage_nodes(self, hosts):
        """{host: records.StorageNode} of the hosts Cinder lists."""
        wanted = set(hosts)
        types = payloads.volume_types_by_backend(self.api.volume_types())
        found = {}
        for svc in self.api.volume_services():
            if isinstance(svc, dict) and svc.get('host') in wanted:
                try:
                    node = payloads.storage_node(svc, types,
                                                 updated_at=time.time())
                except exception.MalformedEntity as exc:
                    LOG.warning('Ignoring storage service: %s', exc)
                    continue
                found[node.host] = node
        return found

    def volume_types(self):
        """{type id: type name}."""
        return {t['id']: t['name'] for t in self.api.volume_types()
                if isinstance(t, dict) and isinstance(t.get('id'), str)
                and isinstance(t.get('name'), str)}
