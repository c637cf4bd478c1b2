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
* The pools volume events touch (the pool a volume is in after the event,
  the pool a deleted or unmanaged volume was in, and the pool the graph
  held a volume in before an event that names another one: a retype or a
  migration to another backend) are re-read from Cinder
  (``[notifications]/refresh_pools``), as Watcher does, since
  ``capacity.pool`` carries no ``total_volumes`` and comes on the
  scheduler's schedule. :class:`PoolRefresher` rate-limits it: the first
  event of a pool refreshes it in the notification's own transaction; the
  events within ``[notifications]/pool_refresh_interval`` seconds after
  that are coalesced into one refresh at the end of the interval, done
  by a background thread in a transaction of its own. All the pools due
  at one moment share one API call. A refresh is dated when the API call
  started: the graph's staleness rule (``updated_at``, see
  :mod:`tachyon.graph.events`) refuses it where a newer state is stored
  (a ``capacity.pool`` notification sent after the call). It sets
  ``total_volumes`` and the total, free, provisioned and allocated
  capacity; the virtual free capacity (not in the API) stays.
* A scheduler failure sets the status of a volume the graph has only;
  the enricher drops its change for any other volume.

A failed lookup is remembered for ``[notifications]/lookup_retry_interval``
seconds, so a flood of events about one unknown host costs one API call.
A pool refresh that failed transiently is retried after
``[notifications]/pool_refresh_retry_interval`` seconds by the background
thread; one refused for good (credentials rejected) is given up, logged.
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
from tachyon.graph import storage
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


#: The counters a pool refresh sets from the Cinder API (which reports
#: no virtual free capacity: the stored one, from capacity.pool, stays).
REFRESHED_FIELDS = ('total_volumes', 'total_capacity_gb', 'free_capacity_gb',
                    'provisioned_capacity_gb', 'allocated_capacity_gb')

#: Errors of a pool refresh (the API call or the write of its result).
_REFRESH_ERRORS = (exception.TachyonException, exception.MalformedEntity,
                   OSError)


def transient(exc):
    """Whether a failure of the API (or of Neo4j) may pass."""
    if isinstance(exc, OSError):
        return True
    return bool(getattr(exc, 'transient', False))


def _keep_newest(stamps, name, stamp):
    """Record ``name`` in ``stamps`` with the newest event time seen.

    An event without a time never replaces a known time.
    """
    known = stamps.get(name)
    if name not in stamps or (
            stamp is not None and (known is None or stamp > known)):
        stamps[name] = stamp


class PoolRefresher(object):
    """When each pool touched by volume events is re-read from the API.

    :meth:`claim` answers the pools to refresh at once (those not
    refreshed in the last ``interval`` seconds); the others are *pending*:
    a background thread (started when there is something to wait for)
    calls ``refresh({name: stamp})`` with every pending pool whose time
    has come (``stamp``: the newest timestamp of the events it covers),
    at the end of its interval, or ``retry_interval`` seconds after a
    failed refresh (:meth:`failed`). So one pool costs at most one
    refresh at the start of a burst of events and one at the end of each
    interval, whatever the number of events; pools due together are
    refreshed together.

    ``refresh`` never raises (it reports its failures to :meth:`failed`).
    Thread-safe.
    """

    def __init__(self, interval, retry_interval, refresh,
                 clock=time.monotonic):
        self.interval = interval
        self.retry_interval = retry_interval
        self._refresh = refresh
        self._clock = clock
        self._last = {}       # pool name -> when last refreshed (clock)
        self._pending = {}    # pool name -> when due (clock)
        self._stamps = {}     # pending pool name -> newest event time
        self._cond = threading.Condition()
        self._thread = None
        self._stopped = False

    @property
    def pending(self):
        """{pool name: when due} (a copy)."""
        with self._cond:
            return dict(self._pending)

    def _stamp(self, name, stamp):
        # With self._cond held: the newest event time a refresh covers.
        old = self._stamps.get(name)
        self._stamps[name] = stamp if old is None or (
            stamp is not None and stamp > old) else old

    def claim(self, touched):
        """Of the pools ``touched`` ({name: event time}), those due now.

        The others are left pending until the end of their interval;
        a pool already pending stays so: its coming refresh covers the
        event (and is dated by the newest event it covers).
        """
        now = self._clock()
        due = []
        with self._cond:
            for name in sorted(touched):
                if name in self._pending:
                    self._stamp(name, touched[name])
                    continue
                last = self._last.get(name)
                if last is None or now - last >= self.interval:
                    self._last[name] = now
                    due.append(name)
                else:
                    self._pending[name] = last + self.interval
                    self._stamp(name, touched[name])
            if self._pending:
                self._wake()
        return due

    def failed(self, stamps, exc):
        """A refresh failed ({name: event time}): retried if transient."""
        names = sorted(stamps)
        if not names:
            return
        if not transient(exc):
            LOG.warning('Giving up the refresh of pool(s) %(names)s from '
                        'the Cinder API: %(err)s; the next full sync '
                        'corrects them', {'names': ', '.join(names),
                                          'err': exc})
            return
        LOG.warning('Cannot refresh pool(s) %(names)s from the Cinder API '
                    '(%(err)s); trying again in %(delay)d s',
                    {'names': ', '.join(names), 'err': exc,
                     'delay': self.retry_interval})
        at = self._clock() + self.retry_interval
        with self._cond:
            for name in names:
                self._pending[name] = min(self._pending.get(name, at), at)
                self._stamp(name, stamps[name])
            self._wake()

    def take_due(self):
        """{name: event time} of the pending pools due (now taken)."""
        now = self._clock()
        with self._cond:
            due = {n: self._stamps.pop(n, None)
                   for n, at in self._pending.items() if at <= now}
            for name in due:
                del self._pending[name]
                self._last[name] = now
        return due

    def run_due(self):
        """Refresh the pending pools whose time has come; their names."""
        due = self.take_due()
        if due:
            self._refresh(due)
        return sorted(due)

    def _wake(self):
        # Called with self._cond held.
        if self._stopped:
            return
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name='tachyon-pool-refresh', daemon=True)
            self._thread.start()
        self._cond.notify_all()

    def _next_wait(self):
        # With self._cond held: seconds to wait, None when idle.
        if not self._pending:
            return None
        return min(self._pending.values()) - self._clock()

    def _run(self):
        while True:
            with self._cond:
                wait = self._next_wait()
                while not self._stopped and wait is not None and wait > 0:
                    self._cond.wait(wait)
                    wait = self._next_wait()
                if self._stopped or wait is None:
                    self._thread = None
                    return
            try:
                self.run_due()
            except Exception:
                # Never let the thread die: what is pending stays so.
                LOG.exception('Unexpected error refreshing pools')

    def stop(self):
        """Stop the background thread (pending refreshes are dropped)."""
        with self._cond:
            self._stopped = True
            thread = self._thread
            self._cond.notify_all()
        if thread is not None and thread is not threading.current_thread():
            thread.join(5)


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
        self.refresh_pools = self.enabled and opts.refresh_pools
        self.refresher = PoolRefresher(opts.pool_refresh_interval,
                                       opts.pool_refresh_retry_interval,
                                       self._refresh_later)

    def stop(self):
        """Stop the background refreshes of pools."""
        self.refresher.stop()

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

    @staticmethod
    def _node_names(change_list):
        """The compute hostnames the changes need to exist."""
        names = set()
        for change in change_list:
            if change.kind == ch.INSTANCE and change.action == ch.UPSERT:
                if change.record.node_name:
                    names.add(change.record.node_name)
            elif change.kind == ch.COMPUTE_NODE and change.action == ch.UPDATE:
                names.add(change.key)
        return names

    def _compute_nodes(self, change_list, missing=None):
        """Changes adding the compute nodes the graph lacks.

        ``missing``: those nodes' names, when the caller read them.
        """
        if missing is None:
            missing = events.missing_compute_nodes(
                self.graph, self._node_names(change_list))
        added = []
        for name in missing:
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

    @staticmethod
    def _touched_pools(change_list):
        """{pool: newest event time} of the pools volume changes alter."""
        names = {}
        for change in change_list:
            if change.kind != ch.VOLUME or change.fields.get('if_known'):
                continue
            if change.action == ch.UPSERT:
                name = change.record.pool_name
            elif change.action == ch.DELETE:
                name = change.fields.get('pool_name')
            else:
                continue
            if name and '#' in name:
                _keep_newest(names, name, change.timestamp)
        return names

    def _left_pools(self, change_list):
        """{pool: newest event time} of the pools volumes moved out of.

        A volume event naming another pool than the one the graph holds
        the volume in (a retype or a migration to another backend) changed
        the counters of both: the old pool is refreshed as the new one.
        """
        moved = {}
        for change in change_list:
            if (change.kind == ch.VOLUME and change.action == ch.UPSERT
                    and not change.fields.get('if_known')
                    and change.record.pool_name
                    and '#' in change.record.pool_name):
                moved.setdefault(change.key, []).append(change)
        if not moved:
            return {}
        stored = self.graph.read(storage.volumes_by_uuid, sorted(moved))
        left = {}
        for volume in stored:
            old = volume.pool_name
            if not old or '#' not in old:
                continue
            for change in moved.get(volume.uuid, ()):
                if change.record.pool_name != old:
                    _keep_newest(left, old, change.timestamp)
        return left

    def _fetch_pools(self, names):
        """({name: Pool}, error or None) of ONE Cinder API call."""
        try:
            return self.cinder.pools(names), None
        except _REFRESH_ERRORS as exc:
            return {}, exc

    @staticmethod
    def _refresh_changes(found, stamps):
        """Pool changes of what the API said, dated by their events.

        A refresh says what the pool holds after the events it follows:
        it is dated by the newest of them (the time of the API call when
        they have none), so what is stored from a later notification
        (``capacity.pool``) is never overwritten by it.
        """
        result = []
        for name, pool in sorted(found.items()):
            stamp = stamps.get(name)
            if stamp is None:
                stamp = pool.updated_at
            result.append(ch.Change(
                kind=ch.POOL, action=ch.UPDATE, key=name,
                record=dataclasses.replace(pool, updated_at=stamp),
                timestamp=stamp, event_type='pool refresh',
                fields={f: getattr(pool, f) for f in REFRESHED_FIELDS}))
        return result

    @staticmethod
    def _merge_capacity(refreshed, change_list):
        """One change per pool where a batch has a refresh and capacity.

        The newer of the two wins; it takes what only the other knows
        (total_volumes from the API, virtual_free from the notification).
        """
        mine = {c.key: c for c in refreshed}
        result = []
        for change in change_list:
            refresh = mine.get(change.key) if change.kind == ch.POOL else None
            if refresh is None:
                result.append(change)
                continue
            if (change.timestamp is None or (
                    refresh.timestamp is not None
                    and change.timestamp >= refresh.timestamp)):
                fields = dict(change.fields,
                              total_volumes=refresh.fields['total_volumes'])
                result.append(dataclasses.replace(change, fields=fields))
                mine.pop(change.key)
            elif 'virtual_free' in change.fields:
                fields = dict(mine[change.key].fields,
                              virtual_free=change.fields['virtual_free'])
                mine[change.key] = dataclasses.replace(mine[change.key],
                                                       fields=fields)
        kept = [mine[c.key] for c in refreshed if c.key in mine]
        return kept, result

    def _refresh_later(self, stamps):
        """The background refresh of ``stamps`` ({pool: event time})."""
        names = sorted(stamps)
        found, exc = self._fetch_pools(names)
        if exc is not None:
            self.refresher.failed(stamps, exc)
            return
        change_list = self._refresh_changes(found, stamps)
        if not change_list:
            return
        try:
            change_list = self._storage_nodes(change_list) + change_list
            events.apply_changes(self.graph, change_list)
        except _REFRESH_ERRORS as exc:
            self.refresher.failed(stamps, exc)
            return
        LOG.debug('Refreshed pool(s) %s from the Cinder API',
                  ', '.join(sorted(found)))

    @classmethod
    def _pool_names(cls, change_list):
        """(capacity, touched, wanted) pool names of the changes.

        Pools with a capacity change; {pool: newest event time} of those
        volume changes alter (:meth:`_touched_pools`); and the pools the
        changes need to exist (capacity changes, volumes placed in them).
        """
        capacity = {c.key for c in change_list
                    if c.kind == ch.POOL and c.action == ch.UPDATE}
        touched = cls._touched_pools(change_list)
        wanted = capacity | {c.record.pool_name for c in change_list
                             if c.kind == ch.VOLUME
                             and c.action == ch.UPSERT
                             and not c.fields.get('if_known')
                             and c.record.pool_name}
        return capacity, touched, wanted

    def _pools(self, change_list, missing=None):
        """Pools the graph lacks, and the pools to refresh, from Cinder.

        The pools volumes name are added; a capacity change of a new pool
        starts from what Cinder says of it (total_volumes, which the
        notification lacks). The known pools volume changes touch are
        refreshed when :class:`PoolRefresher` says so; all of it in one
        API call. ``missing``: the names of the wanted and touched pools
        the graph lacks, when the caller read them.
        """
        capacity, touched, wanted = self._pool_names(change_list)
        if self.refresh_pools:
            # The pools volumes left (known to the graph, since it held
            # the volumes there) are refreshed as the ones they went to.
            for name, stamp in self._left_pools(change_list).items():
                if name not in touched or (
                        stamp is not None and (touched[name] is None
                                               or stamp > touched[name])):
                    touched[name] = stamp
        if missing is None:
            missing = events.missing_pools(self.graph,
                                           wanted | set(touched))
        refresh = []
        if self.refresh_pools:
            refresh = self.refresher.claim(
                {n: t for n, t in touched.items() if n not in missing})
        missing = [n for n in missing if n in wanted]
        memo_key = ('pools', ','.join(missing))
        ask = list(missing) if (
            missing and self.enabled
            and not self._memo.failed_recently(memo_key)) else []
        found = {}
        if ask or refresh:
            found, exc = self._fetch_pools(sorted(set(ask) | set(refresh)))
            if exc is not None:
                if ask:
                    self._memo.failed(memo_key)
                    LOG.warning('Cannot look up pools %(key)s in the APIs: '
                                '%(err)s', {'key': memo_key[1], 'err': exc})
                self.refresher.failed({n: touched[n] for n in refresh},
                                      exc)
        new = {n: p for n, p in found.items() if n in missing}
        result = []
        for change in change_list:
            if change.kind == ch.POOL and change.key in new:
                change = dataclasses.replace(change, record=new[change.key])
            result.append(change)
        added = [ch.Change(kind=ch.POOL, action=ch.UPDATE, key=pool.name,
                           record=pool, timestamp=pool.updated_at)
                 for name, pool in sorted(new.items())
                 if name not in capacity]
        refreshed, result = self._merge_capacity(self._refresh_changes(
            {n: p for n, p in found.items() if n in refresh}, touched),
            result)
        return added + refreshed, result

    def _known_volumes_only(self, change_list):
        """Without the ``if_known`` volume changes of unknown volumes."""
        asked = {c.key for c in change_list
                 if c.kind == ch.VOLUME and c.fields.get('if_known')}
        if not asked:
            return change_list
        known = storage.known_volumes(self.graph, asked)
        known |= {c.key for c in change_list
                  if c.kind == ch.VOLUME and c.action == ch.UPSERT
                  and not c.fields.get('if_known')}
        result = []
        for change in change_list:
            if (change.kind == ch.VOLUME and change.fields.get('if_known')
                    and change.key not in known):
                LOG.debug('%(event)s names volume %(uuid)s, which the '
                          'graph does not have: nothing to change',
                          {'event': change.event_type, 'uuid': change.key})
                continue
            result.append(change)
        return result

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
        change_list = self._known_volumes_only(change_list)
        # The nodes and pools the graph lacks, in one read.
        _capacity, touched, wanted = self._pool_names(change_list)
        missing_nodes, missing_pools = events.missing_nodes_and_pools(
            self.graph, self._node_names(change_list),
            wanted | set(touched))
        added = self._compute_nodes(change_list, missing_nodes)
        pools, change_list = self._pools(change_list, missing_pools)
        added += pools
        added += self._storage_nodes(change_list + pools)
        return added + change_list
