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

"""The server side of the RPC API: tachyon-engine's endpoint.

Each method checks its arguments (InvalidParameter naming the field,
nothing written), makes its graph or session call, and answers with
JSON-safe data: records as dicts with the field names of
:mod:`tachyon.model.records`. See :mod:`tachyon.rpc.api` for versions.
"""

import inspect
import operator

import oslo_messaging as messaging

from tachyon.common import gc_pause
from tachyon import exception
from tachyon import rpc
from tachyon.graph import baremetal
from tachyon.graph import common
from tachyon.graph import compute
from tachyon.graph import sessions
from tachyon.graph import storage
from tachyon.model import records
from tachyon.rpc import api
from tachyon.simulation import manager as sim_manager

check_ident = sim_manager.check_ident

SCOPE_KEYS = ('availability_zones', 'host_aggregates', 'compute_nodes',
              'exclude_instances', 'exclude_projects',
              'exclude_compute_nodes')


def _dict(record):
    return records.as_dict(record)


def _table(items, unset, nested=()):
    """Records as {'fields', 'rows'}, each with its ``watcher_unset``.

    The records were read for this answer alone: values go out as they
    are, but for the ``nested`` fields, which hold records.
    """
    if not items:
        return {'fields': [], 'rows': []}
    names = records.field_names(items[0])
    convert = [index for index, name in enumerate(names) if name in nested]
    values = operator.attrgetter(*names)
    rows = []
    for item in items:
        row = list(values(item))
        for index in convert:
            row[index] = records.plain(row[index])
        row.append(sorted(unset.get(item.uuid) or ()))
        rows.append(row)
    return {'fields': list(names) + ['watcher_unset'], 'rows': rows}


def check_scope(scope):
    """Watcher's audit scope, flattened: {key: [names or ids]}."""
    if scope is None:
        return {}
    if not isinstance(scope, dict):
        raise exception.InvalidParameter(field='scope',
                                         reason='must be a mapping')
    clean = {}
    for key, values in scope.items():
        if key not in SCOPE_KEYS:
            raise exception.InvalidParameter(
                field='scope.%s' % key, reason='not one of %s'
                % ', '.join(SCOPE_KEYS))
        if not isinstance(values, (list, tuple)):
            raise exception.InvalidParameter(field='scope.%s' % key,
                                             reason='must be a list')
        clean[key] = {str(v) for v in values}
    return clean


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


def _check_amount(field, value):
    return sim_manager.check_amount(field, value)


def _expected_errors(cls):
    """Mark every public endpoint method as raising Tachyon's errors.

    They are answers to the caller (NotFound, InvalidParameter, ...), not
    server faults: oslo.messaging then sends them back without logging a
    traceback on the engine.
    """
    for name, func in list(vars(cls).items()):
        if inspect.isfunction(func) and not name.startswith('_'):
            setattr(cls, name, messaging.expected_exceptions(
                exception.TachyonException)(func))
    return cls


@_expected_errors
class EngineManager(object):
    """Endpoint of topic ``[engine]/topic``."""

    target = messaging.Target(version=api.RPC_API_VERSION)

    def __init__(self, conf, graph, host=None):
        self.conf = conf
        self.graph = graph
        self.host = host or conf.host
        self.sessions = sim_manager.SessionManager(conf, graph)

    # Basics -------------------------------------------------------------

    def ping(self, ctxt, payload=None):
        """Echo ``payload`` with the answering engine's host name."""
        return {'payload': payload, 'host': self.host}

    def get_generation(self, ctxt):
        return self.graph.read_one(common.global_generation)

    # Compute ------------------------------------------------------------

    def list_compute_nodes(self, ctxt, session_id=None):
        return [_dict(n) for n in sorted(
            compute.get_all_compute_nodes(self.graph).values(),
            key=lambda n: n.uuid)]

    def get_compute_node(self, ctxt, uuid):
        return _dict(compute.get_node_by_uuid(self.graph,
                                              check_ident('uuid', uuid)))

    def get_compute_node_by_name(self, ctxt, hostname):
        return _dict(compute.get_node_by_name(
            self.graph, check_ident('hostname', hostname)))

    def get_instance(self, ctxt, uuid):
        return _dict(compute.get_instance_by_uuid(self.graph,
                                                  check_ident('uuid', uuid)))

    def list_instances(self, ctxt, marker=None, limit=None):
        maximum = self.conf.engine.max_page_size
        limit = maximum if limit is None else _check_amount('limit', limit)
        if not 1 <= limit <= maximum:
            raise exception.InvalidParameter(
                field='limit', reason='must be between 1 and %d' % maximum)
        if marker is not None:
            check_ident('marker', marker)
        uuids = sorted(compute.get_all_instances(self.graph).items())
        start = 0
        if marker is not None:
            keys = [u for u, _i in uuids]
            if marker not in keys:
                raise exception.NotFound(kind='instance (marker)',
                                         ident=marker)
            start = keys.index(marker) + 1
        page = [_dict(i) for _u, i in uuids[start:start + limit]]
        more = start + limit < len(uuids)
        return {'instances': page,
                'next_marker': page[-1]['uuid'] if more and page else None}

    def get_node_by_instance(self, ctxt, instance_uuid, session_id=None):
        instance_uuid = check_ident('instance_uuid', instance_uuid)
        if session_id is None:
            return _dict(compute.get_node_by_instance_uuid(self.graph,
                                                           instance_uuid))
        node_uuid = self.sessions.get_consumer_location(session_id,
                                                        instance_uuid)
        if node_uuid is None:
            raise exception.NotFound(kind='node of instance',
                                     ident=instance_uuid)
        return _dict(compute.get_node_by_uuid(self.graph, node_uuid))

    def get_node_instances(self, ctxt, node_uuid, session_id=None):
        return self.sessions.get_node_instances(node_uuid, session_id)

    def get_node_used_resources(self, ctxt, node_uuid, session_id=None):
        return self.sessions.get_node_used_resources(node_uuid, session_id)

    def get_node_free_resources(self, ctxt, node_uuid, session_id=None):
        return self.sessions.get_node_free_resources(node_uuid, session_id)

    def get_all_nodes_usage(self, ctxt, session_id=None):
        return self.sessions.get_all_nodes_usage(session_id)

    def find_nodes_with_capacity(self, ctxt, resource_class, amount):
        sim_manager.check_resource_class('resource_class', resource_class)
        _check_amount('amount', amount)
        return [[uuid, available] for uuid, available in
                compute.find_nodes_with_capacity(self.graph, resource_class,
                                                 amount)]

    def migrate_instance(self, ctxt, instance_uuid, source_node_uuid,
                         destination_node_uuid, session_id=None,
                         expected_generation=None, check_capacity=True):
        sim_manager.check_flag('check_capacity', check_capacity)
        if session_id is not None:
            sequence = self.sessions.migrate_instance(
                session_id, instance_uuid, source_node_uuid,
                destination_node_uuid, check_capacity=check_capacity)
            return {'sequence': sequence}
        check_ident('instance_uuid', instance_uuid)
        check_ident('source_node_uuid', source_node_uuid)
        check_ident('destination_node_uuid', destination_node_uuid)
        if expected_generation is not None:
            _check_amount('expected_generation', expected_generation)
        return {'generation': compute.migrate_instance(
            self.graph, instance_uuid, source_node_uuid,
            destination_node_uuid, expected_generation=expected_generation,
            check_capacity=check_capacity)}

    def get_compute_snapshot(self, ctxt, scope=None, session_id=None,
                             columns=False):
        """The whole (scoped) compute model in one answer.

        ``nodes`` and ``instances`` are lists of dicts, ``mapping`` maps
        instance uuid to node uuid; with a session, its deltas are
        applied (placements and amounts). With ``columns`` (1.2), each of
        ``nodes`` and ``instances`` is ``{'fields': [names], 'rows':
        [[values]]}`` instead: the same data at half the size, the keys
        not repeated for every record.
        """
        sim_manager.check_flag('columns', columns)
        scope = check_scope(scope)
        if session_id is not None:
            check_ident('session_id', session_id)
        # Some 400,000 acyclic containers for 20,000 instances.
        with gc_pause.paused():
            return self._compute_snapshot(scope, session_id, columns)

    def _compute_snapshot(self, scope, session_id, columns):
        if session_id is not None:
            deltas = self.sessions.get_deltas(session_id)
        model = compute.get_compute_model(self.graph)
        if session_id is not None and deltas:
            by_uuid = {i.uuid: i for i in model['instances']}
            for delta in deltas:
                inst = by_uuid.get(delta['consumer_uuid'])
                if inst is None:
                    continue
                state = {'node_uuid': model['mapping'].get(inst.uuid),
                         'resources': {}}
                sessions._apply_to_consumer(state, delta)
                if state['node_uuid'] is None:
                    model['mapping'].pop(inst.uuid, None)
                else:
                    model['mapping'][inst.uuid] = state['node_uuid']
                res = state['resources']
                if res:
                    inst.vcpus = res.get(records.VCPU, inst.vcpus)
                    inst.memory = res.get(records.MEMORY_MB, inst.memory)
                    inst.disk = res.get(records.DISK_GB, inst.disk)
        model = apply_scope(model, scope)
        nodes = _table(model['nodes'],
                       model.get('watcher_unset_nodes') or {},
                       nested=('inventories',))
        instances = _table(model['instances'],
                           model.get('watcher_unset') or {})
        if not columns:
            nodes = rpc.table_to_dicts(nodes)
            instances = rpc.table_to_dicts(instances)
        return {'generation': model['generation'], 'nodes': nodes,
                'instances': instances, 'mapping': model['mapping']}

    # Storage and baremetal -----------------------------------------------

    def get_storage_node(self, ctxt, host):
        return _dict(storage.get_node_by_name(self.graph,
                                              check_ident('host', host)))

    def get_pool(self, ctxt, name):
        return _dict(storage.get_pool_by_pool_name(
            self.graph, check_ident('name', name)))

    def get_volume(self, ctxt, uuid):
        return _dict(storage.get_volume_by_uuid(self.graph,
                                                check_ident('uuid', uuid)))

    def get_pool_volumes(self, ctxt, pool_name):
        return [_dict(v) for v in storage.get_pool_volumes(
            self.graph, check_ident('pool_name', pool_name))]

    def get_ironic_node(self, ctxt, uuid):
        return _dict(baremetal.get_node_by_uuid(self.graph,
                                                check_ident('uuid', uuid)))

    def get_storage_snapshot(self, ctxt):
        """(1.1) The storage model: nodes, pools, volumes and links."""
        with gc_pause.paused():  # as the compute snapshot
            model = storage.get_storage_model(self.graph)
            return dict(model, nodes=[_dict(n) for n in model['nodes']],
                        pools=[_dict(p) for p in model['pools']],
                        volumes=[_dict(v) for v in model['volumes']])

    def get_baremetal_snapshot(self, ctxt):
        """(1.1) Every Ironic node."""
        model = baremetal.get_baremetal_model(self.graph)
        return dict(model, nodes=[_dict(n) for n in model['nodes']])

    # Sessions -----------------------------------------------------------

    def create_session(self, ctxt, ttl=None, audit_uuid=None):
        return self.sessions.create_session(ttl=ttl, audit_uuid=audit_uuid)

    def get_session(self, ctxt, session_id):
        return self.sessions.get_session(session_id)

    def list_sessions(self, ctxt, status=None):
        return self.sessions.list_sessions(status)

    def record_deltas(self, ctxt, session_id, deltas):
        return self.sessions.record_deltas(session_id, deltas)

    def get_consumer_location(self, ctxt, session_id, consumer_uuid):
        return self.sessions.get_consumer_location(session_id,
                                                   consumer_uuid)

    def get_utilization(self, ctxt, resource_class, session_id=None):
        return self.sessions.get_utilization(resource_class, session_id)

    def get_balance_score(self, ctxt, resource_class, session_id=None):
        return self.sessions.get_balance_score(resource_class, session_id)

    def find_destinations(self, ctxt, instance_uuid, session_id=None,
                          limit=10):
        return self.sessions.find_destinations(instance_uuid, session_id,
                                               limit)

    def commit_session(self, ctxt, session_id):
        return self.sessions.commit_session(session_id)

    def rollback_session(self, ctxt, session_id):
        return self.sessions.rollback_session(session_id)

    def expire_session(self, ctxt, session_id):
        return self.sessions.expire_session(session_id)

    def close_session(self, ctxt, session_id):
        """(1.3) End an active session unapplied; its deltas are kept."""
        return self.sessions.close_session(session_id)

    def get_session_deltas(self, ctxt, session_id):
        """(1.3) The session's deltas, in order (any status)."""
        return self.sessions.get_deltas(session_id)
