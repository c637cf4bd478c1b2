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

"""Watcher's model API backed by tachyon-engine.

:class:`TachyonClusterModel` *is* a Watcher ``ModelRoot``: it is filled
from one compute snapshot call and hands out Watcher's own element objects
(:mod:`tachyon.client.elements`: Watcher's classes, with faster but
equivalent field reads, equality and construction), so strategies run
unchanged and read locally (``get_node_instances`` and
``get_node_used_resources`` are called thousands of times per audit).
Mutations go to the engine:

* with a session, ``migrate_instance`` records a MOVE delta; deltas are
  sent in batches of ``batch_size``, in order, by a sender thread while
  the strategy goes on, and :meth:`TachyonClusterModel.flush` (called
  before any server-side query and before commit) waits until the engine
  has them all. A batch the engine refuses stops the later ones; its
  error is raised by the next ``migrate_instance`` or ``flush``;
* without one, ``migrate_instance`` migrates in the global graph at once
  (optimistic: the instance's generation is checked); from RPC 1.10 the
  call is retried under one request id when its answer is lost, and a
  retry after the move applied answers it instead of a Conflict;
* ``with model.fork() as trial:`` tries alternatives: ``trial`` is a copy
  of the model bound to a fork of its session (RPC 1.5), its moves go to
  the fork only, and the fork is reverted when the block ends unless
  ``trial.merge()`` applied it to the parent (then the parent's local
  view takes the trial's moves too).

Other structural changes (``add_*``, ``remove_*``, ``map_instance`` ...),
which Watcher's audit scope handler uses to shape its view, stay local.
"""

from concurrent import futures
import contextlib
import copy
import datetime
import itertools

import networkx as nx
from oslo_context import context as oslo_context
from watcher.decision_engine.model import model_root

from tachyon.client import elements
from tachyon.common import gc_pause
from tachyon import exception
from tachyon.model import records
from tachyon.rpc import api as rpcapi
from tachyon.rpc import packing


def _inventory(node, rc):
    return (node.get('inventories') or {}).get(rc) or {}


def compute_node_element(node):
    """Watcher's ComputeNode of a snapshot's node dict."""
    # A null disabled reason is set to None, as Watcher's collector sets
    # it from Nova's service; only a model that never had one (Watcher XML
    # without it: ``watcher_unset``) leaves the field unset.
    fields = {'uuid': node['uuid'], 'hostname': node['hostname'],
              'status': node['status'], 'state': node['state'],
              'disabled_reason': node.get('disabled_reason')}
    for rc, (total, reserved, ratio) in (
            records.WATCHER_INVENTORY_FIELDS.items()):
        inv = _inventory(node, rc)
        for field, key in ((total, 'total'), (reserved, 'reserved'),
                           (ratio, 'allocation_ratio')):
            if inv.get(key) is not None:
                fields[field] = inv[key]
    for field in node.get('watcher_unset') or ():
        fields.pop(field, None)
    return elements.build(elements.ComputeNode, fields)


INSTANCE_FIELDS = ('uuid', 'name', 'state', 'vcpus', 'memory', 'disk',
                   'metadata', 'project_id', 'locked', 'watcher_exclude',
                   'host', 'hypervisor_hostname', 'pinned_az',
                   'flavor_extra_specs')


def parse_created(value):
    """An instance's ``created`` string, parsed as Watcher's field would.

    Watcher's DateTimeField parses strings with iso8601, a tenth of the
    time of loading a 20,000-instance model; Python's own parser gives
    the same UTC datetime for the "Z" and zone-less times Nova reports.
    Anything else is left to the field.
    """
    try:
        parsed = datetime.datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return value
    # iso8601 names an explicit "+00:00" zone: only "Z" and no zone at
    # all become the plain UTC zone there too.
    if parsed.tzinfo is not None and not value.endswith('Z'):
        return value
    return parsed.replace(tzinfo=datetime.timezone.utc)


def _instances(names, rows):
    """Watcher's Instances of a snapshot's instances, one per row.

    ``names`` are the columns of each row (a sequence of values).
    """
    columns = [(name, names.index(name)) for name in INSTANCE_FIELDS
               if name in names]
    created = names.index('created') if 'created' in names else None
    unset = names.index('watcher_unset') if 'watcher_unset' in names \
        else None
    build, cls = elements.build, elements.Instance
    for row in rows:
        fields = {name: row[i] for name, i in columns if row[i] is not None}
        if created is not None and row[created]:
            fields['created'] = parse_created(row[created])
        if unset is not None:
            for field in row[unset] or ():
                fields.pop(field, None)
        yield build(cls, fields)


def _column(table, name):
    """A packed table's column as :func:`elements.build_columns` reads it.

    A dictionary-encoded column stays a (values, positions) pair; a
    missing one is all None.
    """
    try:
        column = table['columns'][table['fields'].index(name)]
    except ValueError:
        return [None] * table['count']
    if packing.is_encoded(column):
        return column['values'], column['index']
    return column


def _created_column(column):
    """The ``created`` column, each string as :func:`parse_created` reads."""
    if isinstance(column, tuple):
        values, positions = column
        return [v and parse_created(v) or None for v in values], positions
    return [v and parse_created(v) or None for v in column]


def packed_instances(table):
    """Watcher's Instances of a packed (1.8) instance table, in row order.

    The same elements :func:`_instances` makes of the rows: a null value
    is a field not given, ``watcher_unset`` lists fields left unset.
    """
    count = table['count']
    columns = {name: _column(table, name) for name in INSTANCE_FIELDS}
    columns['created'] = _created_column(_column(table, 'created'))
    unset = packing.column(table, 'watcher_unset')
    if not any(unset or ()):
        unset = None
    return elements.build_columns(elements.Instance, columns, count, unset)


def instance_element(inst):
    """Watcher's Instance of a snapshot's instance dict."""
    names = list(inst)
    return next(_instances(names, [[inst[name] for name in names]]))


def _plain_dicts(graph):
    """Whether ``graph`` keeps NetworkX's own dict-of-dicts, empty."""
    cls = type(graph)
    return (not graph._node and not graph._succ and not graph._pred
            and all(getattr(cls, factory) is dict for factory in (
                'node_dict_factory', 'node_attr_dict_factory',
                'adjlist_outer_dict_factory', 'adjlist_inner_dict_factory',
                'edge_attr_dict_factory')))


def fill_graph(graph, elements, edges):
    """``add_nodes_from`` then ``add_edges_from`` of an empty DiGraph.

    ``elements`` become nodes keyed by their uuid with ``{'attr': obj}``
    (what ModelRoot's add_node and add_instance make), ``edges`` (pairs of
    uuids, both among the nodes) edges without data, what map_instance
    makes. For a graph made with NetworkX's plain dicts (ModelRoot's), its
    dicts are filled directly: the same dicts, in the same order, as the
    two calls make, without their checks and cache resets per item (half
    the time of loading a 100,000-instance model). Any other graph gets
    the two calls.
    """
    if not _plain_dicts(graph):
        nx.DiGraph.add_nodes_from(
            graph, ((obj.uuid, {'attr': obj}) for obj in elements))
        nx.DiGraph.add_edges_from(graph, edges)
        return
    node, succ, pred = graph._node, graph._succ, graph._pred
    for obj in elements:
        uuid = obj.uuid
        if uuid is None:
            raise ValueError('None cannot be a node')
        node[uuid] = {'attr': obj}
    # A node given twice kept its first place and its last element, as
    # add_nodes_from's update leaves it.
    succ.update(zip(node, map(dict, itertools.repeat(()))))
    pred.update(zip(node, map(dict, itertools.repeat(()))))
    rest = []
    for u, v in edges:
        ahead = succ.get(u)
        if ahead is None or v not in succ:
            rest.append((u, v))
            continue
        data = ahead.get(v)
        if data is None:
            data = ahead[v] = {}
        pred[v][u] = data
    if rest:
        nx.DiGraph.add_edges_from(graph, rest)


class TachyonClusterModel(model_root.ModelRoot):
    """A Watcher ModelRoot whose changes go to tachyon-engine."""

    def __init__(self, client=None, session_id=None, generation=None,
                 batch_size=100, stale=False):
        super().__init__(stale=stale)
        self.client = client
        self.session_id = session_id
        self.generation = generation
        self.batch_size = batch_size
        self._pending = []
        self._sender = None
        self._sent = []
        self._send_error = None
        # Set on the model a fork() block hands out: the model it forked
        # from, and the moves made through it (applied to the parent's
        # local view on merge).
        self.fork_parent = None
        self.fork_moves = []
        self._merged = False
        # The request context of the thread that made the model (the
        # audit's, in a decision engine): the sender thread makes its
        # calls under it, so the engine logs them under its request id.
        self.request_context = oslo_context.get_current()

    # Loading --------------------------------------------------------------

    @classmethod
    def from_snapshot(cls, snapshot, client=None, session_id=None,
                      **kwargs):
        model = cls(client=client, session_id=session_id,
                    generation=snapshot.get('generation'), **kwargs)
        nodes = {node['uuid']: compute_node_element(node)
                 for node in snapshot['nodes']}
        instances = snapshot['instances']
        form = rpcapi.snapshot_form(snapshot)
        if form == 'packed':
            # The 1.8 packed form: its mapping is a column beside it.
            uuids = packing.column(instances, 'uuid') or []
            placed = packing.unpack_column(snapshot['mapping'])
            instances = packed_instances(instances)
            edges = [(uuid, node) for uuid, node in zip(uuids, placed)
                     if node in nodes]
        else:
            mapping = snapshot.get('mapping') or {}
            if form == 'columns':
                # The 1.2 columns form, read without a dict per instance.
                instances = list(_instances(instances['fields'],
                                            instances['rows']))
            else:
                instances = [instance_element(inst) for inst in instances]
            edges = []
            for obj in instances:
                node = nodes.get(mapping.get(obj.uuid))
                if node is not None:
                    edges.append((obj.uuid, node.uuid))
        # What ModelRoot's add_node, add_instance and map_instance make of
        # them, in that order, in bulk (the used-resources cache they keep
        # up to date fills lazily: it is empty yet).
        fill_graph(model, itertools.chain(nodes.values(), instances), edges)
        return model

    @classmethod
    def load(cls, client, scope=None, session_id=None, detached=False,
             **kwargs):
        """One snapshot call: the (scoped) model, as the session sees it.

        ``detached``: a read view; its changes stay local (no session, and
        the global model is never changed through it).
        """
        # The answer decoded, then the model built: some 500,000 acyclic
        # containers for 20,000 instances.
        with gc_pause.paused():
            snapshot = client.get_compute_snapshot(scope=scope,
                                                   session_id=session_id,
                                                   columns=True, packed=True)
            return cls.from_snapshot(
                snapshot, client=None if detached else client,
                session_id=None if detached else session_id, **kwargs)

    # Mutations -------------------------------------------------------------

    def migrate_instance(self, instance, source_node, destination_node):
        moved = super().migrate_instance(instance, source_node,
                                         destination_node)
        if not moved or self.client is None:
            return moved
        if self.session_id is None:
            self.client.migrate_instance(instance.uuid, source_node.uuid,
                                         destination_node.uuid,
                                         check_capacity=False)
            return moved
        if self.fork_parent is not None:
            self.fork_moves.append((instance.uuid, source_node.uuid,
                                    destination_node.uuid))
        self._pending.append({
            'type': 'MOVE', 'consumer_uuid': instance.uuid,
            'source_uuid': source_node.uuid,
            'destination_uuid': destination_node.uuid,
            # The strategy decided; the local view already checked what
            # the strategy wanted checked.
            'check_capacity': False})
        if len(self._pending) >= self.batch_size:
            self._send_pending()
        if self._send_error is not None:
            self.flush()
        return moved

    def _record(self, deltas):
        # On the sender thread, one batch at a time in order. After a
        # refused batch the later ones are not sent: the session keeps a
        # prefix of what the strategy did, never a sequence with a hole.
        if self._send_error is not None:
            return
        if self.request_context is not None:
            self.request_context.update_store()
        try:
            self.client.record_deltas(self.session_id, deltas)
        except Exception as exc:
            self._send_error = exc
            raise

    def _send_pending(self):
        if not self._pending or self.client is None:
            return
        deltas, self._pending = self._pending, []
        if self._sender is None:
            self._sender = futures.ThreadPoolExecutor(
                max_workers=1, thread_name_prefix='tachyon-deltas')
        self._sent.append(self._sender.submit(self._record, deltas))

    def _wait(self):
        sent, self._sent = self._sent, []
        futures.wait(sent)
        if self._sender is not None:
            self._sender.shutdown(wait=True)
            self._sender = None
        error, self._send_error = self._send_error, None
        return error

    def flush(self):
        """Send the deltas recorded locally; return once the engine has them.

        :raises: the error of a batch the engine refused (the batches
            after it were not sent).
        """
        self._send_pending()
        error = self._wait()
        if error is not None:
            raise error

    @property
    def pending_deltas(self):
        return list(self._pending)

    def add_pending_delta(self, delta):
        """Keep one session delta locally; the next batch or flush sends it."""
        self._pending.append(delta)

    # Server-side queries (they see every delta: flush first) -------------

    def get_utilization(self, resource_class):
        self.flush()
        return self.client.get_utilization(resource_class,
                                           session_id=self.session_id)

    def get_balance_score(self, resource_class):
        self.flush()
        return self.client.get_balance_score(resource_class,
                                             session_id=self.session_id)

    def find_destinations(self, instance, limit=10):
        self.flush()
        return self.client.find_destinations(
            instance.uuid, session_id=self.session_id, limit=limit)

    def commit(self):
        """Apply the session to the global model (flushes first)."""
        self.flush()
        return self.client.commit_session(self.session_id)

    def release(self):
        """Drop the model's content once its strategy has run.

        The model is empty afterwards (nodes, instances, the used-resources
        cache); its session, if any, is left as it is.
        """
        self.discard_pending()
        nx.DiGraph.clear(self)
        self._node_resource_cache = {}

    def discard_pending(self):
        """Forget the deltas not sent yet; wait for those in flight."""
        self._pending = []
        self._wait()

    def rollback(self):
        # A batch in flight must not land after the rollback.
        self.discard_pending()
        return self.client.rollback_session(self.session_id)

    # Forks -----------------------------------------------------------------

    @contextlib.contextmanager
    def fork(self, ttl=None):
        """A trial model on a fork of this model's session.

        The deltas not sent yet are sent first, so the fork sees every
        move made so far. The trial is a copy of the local model bound to
        the fork; when the block ends the fork is reverted (its pending
        deltas forgotten) unless :meth:`merge` was called. Forks nest.

        :raises: InvalidState when the model has no session.
        """
        if self.client is None or self.session_id is None:
            raise exception.InvalidState(
                kind='Cluster model', ident='fork', state='detached',
                reason='only a model bound to a session can fork')
        self.flush()
        session = self.client.fork_session(self.session_id, ttl=ttl)
        trial = copy.deepcopy(self)
        trial.client = self.client
        trial.session_id = session['id']
        trial.fork_parent = self
        try:
            yield trial
        finally:
            if not trial._merged:
                trial.discard_pending()
                self.client.revert_session(session['id'])

    def merge(self):
        """Apply this trial's fork to its parent session, all or nothing.

        Flushes first; the engine checks the moves against the parent as
        it is now (MergeConflict names the first that does not fit, and
        the fork is left to be reverted). The parent model's local view
        then makes the same moves.
        """
        if self.fork_parent is None:
            raise exception.InvalidState(
                kind='Cluster model', ident=self.session_id, state='a root',
                reason='only the model of a fork() block can merge')
        if self._merged:
            raise exception.InvalidState(
                kind='Cluster model', ident=self.session_id,
                state='merged', reason='it was already merged')
        self.flush()
        result = self.client.merge_session(self.session_id)
        self._merged = True
        parent = self.fork_parent
        for inst, source, dest in self.fork_moves:
            model_root.ModelRoot.migrate_instance(
                parent, parent.get_instance_by_uuid(inst),
                parent.get_node_by_uuid(source),
                parent.get_node_by_uuid(dest))
        if parent.fork_parent is not None:
            parent.fork_moves.extend(self.fork_moves)
        return result

    # Copies ----------------------------------------------------------------

    def __deepcopy__(self, memo):
        # The element graph is copied; the engine client is shared and
        # the copy is detached from the session (its moves stay local).
        clone = TachyonClusterModel(client=None, session_id=None,
                                    generation=self.generation,
                                    batch_size=self.batch_size)
        memo[id(self)] = clone
        for uuid, data in self.nodes(data=True):
            nx.DiGraph.add_node(clone, uuid, **copy.deepcopy(data, memo))
        for u, v, data in self.edges(data=True):
            nx.DiGraph.add_edge(clone, u, v, **copy.deepcopy(data, memo))
        clone._node_resource_cache = copy.deepcopy(
            self._node_resource_cache, memo)
        return clone


STORAGE_POOL_FIELDS = ('total_volumes', 'total_capacity_gb',
                       'free_capacity_gb', 'provisioned_capacity_gb',
                       'allocated_capacity_gb', 'virtual_free')
VOLUME_FIELDS = ('uuid', 'size', 'status', 'attachments', 'name',
                 'multiattach', 'snapshot_id', 'project_id', 'metadata',
                 'bootable', 'volume_type', 'created_at', 'host')


class TachyonStorageModel(model_root.StorageModelRoot):
    """Watcher's StorageModelRoot filled from one storage snapshot.

    Storage strategies read the model and act through Cinder; changes to
    this model stay local.
    """

    def __init__(self, generation=None, stale=False):
        super().__init__(stale=stale)
        self.generation = generation

    @classmethod
    def from_snapshot(cls, snapshot):
        model = cls(generation=snapshot.get('generation'))
        nodes, pools = {}, {}
        for node in snapshot['nodes']:
            nodes[node['host']] = elements.build(elements.StorageNode, dict(
                host=node['host'], zone=node.get('zone') or '',
                status=node['status'], state=node['state'],
                volume_type=list(node.get('volume_type') or [])))
            model.add_node(nodes[node['host']])
        for pool in snapshot['pools']:
            fields = {f: pool[f] for f in STORAGE_POOL_FIELDS
                      if pool.get(f) is not None}
            fields['name'] = pool['name']
            pools[pool['name']] = elements.build(elements.Pool, fields)
            model.add_pool(pools[pool['name']])
        for host, names in (snapshot.get('node_pools') or {}).items():
            for name in names:
                if host in nodes and name in pools:
                    model.map_pool(pools[name], nodes[host])
        by_pool = {}
        for pool_name, uuids in (snapshot.get('pool_volumes') or {}).items():
            for uuid in uuids:
                by_pool[uuid] = pool_name
        for vol in snapshot['volumes']:
            fields = {f: vol[f] for f in VOLUME_FIELDS
                      if vol.get(f) is not None}
            obj = elements.build(elements.Volume, fields)
            model.add_volume(obj)
            if by_pool.get(vol['uuid']) in pools:
                model.map_volume(obj, pools[by_pool[vol['uuid']]])
        return model

    @classmethod
    def load(cls, client):
        with gc_pause.paused():  # as TachyonClusterModel.load
            return cls.from_snapshot(client.get_storage_snapshot())
