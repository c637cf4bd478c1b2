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

"""What notifications do not say, from the APIs, before changes are written.

* A compute node a change names (by hostname) that the graph does not
  have is looked up in Nova and Placement (the collectors' API client);
  when the APIs cannot describe it, a placeholder stands for it (empty
  inventories) until the next full sync completes it.
* Pools and storage nodes the graph lacks are looked up in Cinder; a
  storage node Cinder cannot describe is created from its host name.
* Cinder names a volume's type by id: the name comes from Cinder's type
  list (cached); when it cannot be resolved the stored type stays.

A failed lookup is remembered for ``[notifications]/lookup_retry_interval``
seconds, so a flood of events about one unknown host costs one API call.
API errors never fail a notification: the change goes on with what the
notification says.
"""

import dataclasses
import threading
import time

from oslo_log import log as logging

from tachyon.collectors import lookups
from tachyon import exception
from tachyon.graph import events
from tachyon.model import changes as ch
from tachyon.model import records

LOG = logging.getLogger(__name__)


class _Memo(object):
    """Results of lookups, failures kept for ``retry`` seconds."""

    def __init__(self, retry):
        self.retry = retry
        self._failed = {}
        self._lock = threading.Lock()

    def failed_recently(self, key):
        with self._lock:
            at = self._failed.get(key)
            return at is not None and time.monotonic() - at < self.retry

    def failed(self, key):
        with self._lock:
            self._failed[key] = time.monotonic()


class Enricher(object):
    """Complete a list of changes from the APIs (see the module doc)."""

    def __init__(self, conf, graph, compute_lookup=None, cinder_lookup=None):
        self.conf = conf
        self.graph = graph
        opts = conf.notifications
        self.enabled = opts.enrich_from_apis
        self.compute = compute_lookup or lookups.ComputeNodeLookup(conf)
        self.cinder = cinder_lookup or lookups.CinderLookup(conf)
        self._memo = _Memo(opts.lookup_retry_interval)
        self._types = {}
        self._types_lock = threading.Lock()

    def _try(self, what, key, func, *args):
        """func(*args), or None when it failed (remembered for a while)."""
        if not self.enabled or self._memo.failed_recently((what, key)):
            return None
        try:
            return func(*args)
        except (exception.TachyonException, exception.MalformedEntity,
                OSError) as exc:
            self._memo.failed((what, key))
            LOG.warning('Cannot look up %(what)s %(key)s in the APIs: '
                        '%(err)s', {'what': what, 'key': key, 'err': exc})
            return None

    # -- compute -----------------------------------------------------------

    def _compute_nodes(self, change_list):
        names = set()
        for change in change_list:
            if change.kind == ch.INSTANCE and change.action == ch.UPSERT:
                if change.record.node_name:
                    names.add(change.record.node_name)
            elif change.kind == ch.COMPUTE_NODE and change.action == ch.UPDATE:
                names.add(change.key)
        added = []
        for name in events.missing_compute_nodes(self.graph, names):
            node = self._try('compute node', name, self.compute.lookup, name)
            if node is not None and node.hostname != name:
                # The API knows it under another name: the change names
                # what Nova's notifications call it, keep that.
                node = dataclasses.replace(node, hostname=name)
            if node is None:
                LOG.info('Compute node %s is not known yet; a placeholder '
                         'stands for it until the next full sync', name)
                node = records.ComputeNode(
                    uuid=records.placeholder_node_uuid(name), hostname=name,
                    service_host=name, placeholder=True)
            added.append(ch.Change(
                kind=ch.COMPUTE_NODE, action=ch.UPSERT, key=node.uuid,
                record=node, timestamp=node.updated_at))
        return added

    # -- storage -----------------------------------------------------------

    def _pools(self, change_list):
        """Pools the graph lacks, from Cinder.

        The pools volumes name are added; a capacity change of a new pool
        starts from what Cinder says of it (total_volumes, which the
        notification lacks).
        """
        capacity = {c.key for c in change_list
                    if c.kind == ch.POOL and c.action == ch.UPDATE}
        wanted = capacity | {c.record.pool_name for c in change_list
                             if c.kind == ch.VOLUME
                             and c.action == ch.UPSERT
                             and c.record.pool_name}
        missing = events.missing_pools(self.graph, wanted)
        found = {}
        if missing:
            found = self._try('pools', ','.join(missing), self.cinder.pools,
                              missing) or {}
        result = []
        for change in change_list:
            if change.kind == ch.POOL and change.key in found:
                change = dataclasses.replace(change,
                                             record=found[change.key])
            result.append(change)
        added = [ch.Change(kind=ch.POOL, action=ch.UPDATE, key=pool.name,
                           record=pool, timestamp=pool.updated_at)
                 for name, pool in sorted(found.items())
                 if name not in capacity]
        return added, result

    def _storage_nodes(self, change_list):
        hosts = {c.record.node_host for c in change_list
                 if c.kind == ch.POOL and c.record is not None
                 and c.record.node_host}
        missing = events.missing_storage_nodes(self.graph, hosts)
        if not missing:
            return []
        found = self._try('storage nodes', ','.join(missing),
                          self.cinder.storage_nodes, missing) or {}
        added = []
        for host in missing:
            node = found.get(host) or records.StorageNode(host=host)
            added.append(ch.Change(kind=ch.STORAGE_NODE, action=ch.UPSERT,
                                   key=node.uuid, record=node,
                                   timestamp=node.updated_at))
        return added

    def _type_name(self, type_id):
        with self._types_lock:
            name = self._types.get(type_id)
        if name is not None or not type_id:
            return name
        types = self._try('volume type', type_id, self.cinder.volume_types)
        if types:
            with self._types_lock:
                self._types = dict(types)
            return types.get(type_id)
        return None

    def _volume_types(self, change_list):
        result = []
        for change in change_list:
            type_id = change.fields.get('volume_type_id') if (
                change.kind == ch.VOLUME) else None
            name = self._type_name(type_id) if type_id else None
            if name is not None:
                change = dataclasses.replace(
                    change,
                    record=dataclasses.replace(change.record,
                                               volume_type=name),
                    keep=tuple(k for k in change.keep
                               if k != 'volume_type'))
            result.append(change)
        return result

    def complete(self, change_list):
        """The changes, preceded by the entities they need created."""
        change_list = self._volume_types(list(change_list))
        added = self._compute_nodes(change_list)
        pools, change_list = self._pools(change_list)
        added += pools
        added += self._storage_nodes(change_list + pools)
        return added + change_list
