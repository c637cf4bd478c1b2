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

"""The graph schema: constraints, indexes and the schema version.

``tachyon-manage db sync`` calls :func:`sync`, which brings the database to
:data:`SCHEMA_VERSION` by applying every step of :data:`UPGRADES` above the
recorded version. Every statement is idempotent (``IF NOT EXISTS``), so a
second sync changes nothing. Processes that use the graph call
:func:`check` at start and refuse to run against a schema that is missing,
older than the one they know, or newer and not compatible with them.

Rolling upgrades (expand/contract): the graph records, beside its version,
the oldest code schema version that can still run on it
(:data:`MIN_CODE_VERSION` of its version). A version that only adds
(indexes, constraints old code never breaks) keeps the minimum of the one
before it: after ``tachyon-manage db sync`` the engines of the previous
release go on running, and restart, until each is upgraded. A version
that removes or changes what older code reads or writes (the "contract"
step, shipped a release after the code stopped needing it) raises the
minimum to itself.

The uniqueness constraints named ``rp_uuid``, ``consumer_uuid``, ``rc_name``
and ``session_id`` are backed by indexes of the same names: they are the
indexes the design's "Indexes Required" list asks for, and unique besides.
"""

import time

from tachyon import exception

#: The schema version this code reads and writes.
SCHEMA_VERSION = 6

#: Schema version -> the oldest code schema version that can run on a
#: graph at that version. Versions 2 to 6 only added indexes and
#: constraints: code of version 1 runs on them.
MIN_CODE_VERSION = {
    1: 1,
    2: 1,
    3: 1,
    4: 1,
    5: 1,
    6: 1,
}

# Labels, so the rest of the graph layer and the docs name them one way.
RESOURCE_PROVIDER = 'ResourceProvider'
CONSUMER = 'Consumer'
INVENTORY = 'Inventory'
RESOURCE_CLASS = 'ResourceClass'
TRAIT = 'Trait'
PROJECT = 'Project'
AVAILABILITY_ZONE = 'AvailabilityZone'
AGGREGATE = 'Aggregate'
FLAVOR = 'Flavor'
EXTRA_SPEC = 'ExtraSpec'
TOMBSTONE = 'Tombstone'
PENDING_STATE = 'PendingState'
SIMULATION_SESSION = 'SimulationSession'
SPECULATIVE_DELTA = 'SpeculativeDelta'
GLOBAL_STATE = 'GlobalState'
SCHEMA_META = 'TachyonSchema'

# (name, statement). Constraint and index names are fixed here, never
# derived from input.
_V1_STATEMENTS = [
    ('rp_uuid',
     'CREATE CONSTRAINT rp_uuid IF NOT EXISTS '
     'FOR (rp:ResourceProvider) REQUIRE rp.uuid IS UNIQUE'),
    ('consumer_uuid',
     'CREATE CONSTRAINT consumer_uuid IF NOT EXISTS '
     'FOR (c:Consumer) REQUIRE c.uuid IS UNIQUE'),
    ('rc_name',
     'CREATE CONSTRAINT rc_name IF NOT EXISTS '
     'FOR (rc:ResourceClass) REQUIRE rc.name IS UNIQUE'),
    ('trait_name',
     'CREATE CONSTRAINT trait_name IF NOT EXISTS '
     'FOR (t:Trait) REQUIRE t.name IS UNIQUE'),
    ('project_external_id',
     'CREATE CONSTRAINT project_external_id IF NOT EXISTS '
     'FOR (p:Project) REQUIRE p.external_id IS UNIQUE'),
    ('az_name',
     'CREATE CONSTRAINT az_name IF NOT EXISTS '
     'FOR (az:AvailabilityZone) REQUIRE az.name IS UNIQUE'),
    ('session_id',
     'CREATE CONSTRAINT session_id IF NOT EXISTS '
     'FOR (s:SimulationSession) REQUIRE s.id IS UNIQUE'),
    ('aggregate_name',
     'CREATE CONSTRAINT aggregate_name IF NOT EXISTS '
     'FOR (a:Aggregate) REQUIRE a.name IS UNIQUE'),
    ('flavor_key',
     'CREATE CONSTRAINT flavor_key IF NOT EXISTS '
     'FOR (f:Flavor) REQUIRE f.key IS UNIQUE'),
    ('inventory_key',
     'CREATE CONSTRAINT inventory_key IF NOT EXISTS '
     'FOR (i:Inventory) REQUIRE (i.provider_uuid, i.resource_class) '
     'IS UNIQUE'),
    ('tombstone_key',
     'CREATE CONSTRAINT tombstone_key IF NOT EXISTS '
     'FOR (t:Tombstone) REQUIRE (t.kind, t.uuid) IS UNIQUE'),
    ('delta_sequence',
     'CREATE CONSTRAINT delta_sequence IF NOT EXISTS '
     'FOR (d:SpeculativeDelta) REQUIRE (d.session_id, d.sequence) '
     'IS UNIQUE'),
    ('global_state_id',
     'CREATE CONSTRAINT global_state_id IF NOT EXISTS '
     'FOR (g:GlobalState) REQUIRE g.id IS UNIQUE'),
    ('schema_meta_id',
     'CREATE CONSTRAINT schema_meta_id IF NOT EXISTS '
     'FOR (m:TachyonSchema) REQUIRE m.id IS UNIQUE'),
    ('rp_name',
     'CREATE INDEX rp_name IF NOT EXISTS '
     'FOR (rp:ResourceProvider) ON (rp.name)'),
    ('rp_kind',
     'CREATE INDEX rp_kind IF NOT EXISTS '
     'FOR (rp:ResourceProvider) ON (rp.kind)'),
    ('consumer_type',
     'CREATE INDEX consumer_type IF NOT EXISTS '
     'FOR (c:Consumer) ON (c.type)'),
    ('session_status',
     'CREATE INDEX session_status IF NOT EXISTS '
     'FOR (s:SimulationSession) ON (s.status)'),
    ('tombstone_deleted_at',
     'CREATE INDEX tombstone_deleted_at IF NOT EXISTS '
     'FOR (t:Tombstone) ON (t.deleted_at)'),
]

# Version 2: simulation-session overlays look deltas up by the consumer
# and the providers they touch, in proportion to those deltas only.
_V2_STATEMENTS = [
    ('delta_consumer',
     'CREATE INDEX delta_consumer IF NOT EXISTS '
     'FOR (d:SpeculativeDelta) ON (d.session_id, d.consumer_uuid)'),
    ('delta_source',
     'CREATE INDEX delta_source IF NOT EXISTS '
     'FOR (d:SpeculativeDelta) ON (d.session_id, d.source_uuid)'),
    ('delta_destination',
     'CREATE INDEX delta_destination IF NOT EXISTS '
     'FOR (d:SpeculativeDelta) ON (d.session_id, d.destination_uuid)'),
    ('session_expires_at',
     'CREATE INDEX session_expires_at IF NOT EXISTS '
     'FOR (s:SimulationSession) ON (s.expires_at)'),
    ('lease_name',
     'CREATE CONSTRAINT lease_name IF NOT EXISTS '
     'FOR (l:Lease) REQUIRE l.name IS UNIQUE'),
]

# Version 3: the per-aggregate state of Nova's aggregate notifications and
# the engine workers' heartbeats, each found by its id.
_V3_STATEMENTS = [
    ('aggregate_state_id',
     'CREATE CONSTRAINT aggregate_state_id IF NOT EXISTS '
     'FOR (s:AggregateState) REQUIRE s.id IS UNIQUE'),
    ('engine_worker_id',
     'CREATE CONSTRAINT engine_worker_id IF NOT EXISTS '
     'FOR (w:EngineWorker) REQUIRE w.id IS UNIQUE'),
    # The reservations of pending Watcher action plans
    # (tachyon.graph.reservations), created again by any "db sync".
    ('reservation_plan',
     'CREATE CONSTRAINT reservation_plan IF NOT EXISTS '
     'FOR (r:Reservation) REQUIRE r.action_plan_uuid IS UNIQUE'),
    ('reservation_hold_id',
     'CREATE CONSTRAINT reservation_hold_id IF NOT EXISTS '
     'FOR (h:ReservationHold) REQUIRE h.id IS UNIQUE'),
    ('watcher_action_uuid',
     'CREATE CONSTRAINT watcher_action_uuid IF NOT EXISTS '
     'FOR (a:WatcherAction) REQUIRE a.uuid IS UNIQUE'),
]

# Version 4: the state a notification set on an instance the graph does
# not have (yet), found by its kind and uuid, purged by its date
# (tachyon.graph.tombstones).
_V4_STATEMENTS = [
    ('pending_state_key',
     'CREATE CONSTRAINT pending_state_key IF NOT EXISTS '
     'FOR (p:PendingState) REQUIRE (p.kind, p.uuid) IS UNIQUE'),
    ('pending_state_at',
     'CREATE INDEX pending_state_at IF NOT EXISTS '
     'FOR (p:PendingState) ON (p.state_at)'),
]

# Version 5: a session created or forked under a caller's request id
# (RPC API 1.9) is looked up by it, under the GlobalState lock, each time
# a session is created or forked: an index lookup, not a scan of every
# session the retention keeps.
_V5_STATEMENTS = [
    ('session_create_request_id',
     'CREATE INDEX session_create_request_id IF NOT EXISTS '
     'FOR (s:SimulationSession) ON (s.create_request_id)'),
]

# Version 6: a replacing import stages the model under labels of its own
# (tachyon.graph.compute.staging) with the lookups of the live ones, so
# that its statements, the live writes' with the labels swapped, find
# what they wrote by index.
_V6_STATEMENTS = [
    ('staged_rp_uuid',
     'CREATE CONSTRAINT staged_rp_uuid IF NOT EXISTS '
     'FOR (rp:StagedResourceProvider) REQUIRE rp.uuid IS UNIQUE'),
    ('staged_rp_name',
     'CREATE INDEX staged_rp_name IF NOT EXISTS '
     'FOR (rp:StagedResourceProvider) ON (rp.name)'),
    ('staged_consumer_uuid',
     'CREATE CONSTRAINT staged_consumer_uuid IF NOT EXISTS '
     'FOR (c:StagedConsumer) REQUIRE c.uuid IS UNIQUE'),
    ('staged_inventory_key',
     'CREATE CONSTRAINT staged_inventory_key IF NOT EXISTS '
     'FOR (i:StagedInventory) REQUIRE (i.provider_uuid, i.resource_class) '
     'IS UNIQUE'),
    ('staged_tombstone_key',
     'CREATE INDEX staged_tombstone_key IF NOT EXISTS '
     'FOR (t:StagedTombstone) ON (t.kind, t.uuid)'),
    ('staged_pending_state_key',
     'CREATE INDEX staged_pending_state_key IF NOT EXISTS '
     'FOR (p:StagedPendingState) ON (p.kind, p.uuid)'),
]

#: version -> the statements that bring the schema from version - 1 to it.
UPGRADES = {
    1: _V1_STATEMENTS,
    2: _V2_STATEMENTS,
    3: _V3_STATEMENTS,
    4: _V4_STATEMENTS,
    5: _V5_STATEMENTS,
    6: _V6_STATEMENTS,
}

#: Every constraint and index name the current schema has.
CONSTRAINT_NAMES = tuple(
    name for version in sorted(UPGRADES) for name, stmt in UPGRADES[version]
    if stmt.startswith('CREATE CONSTRAINT'))
INDEX_NAMES = tuple(
    name for version in sorted(UPGRADES) for name, stmt in UPGRADES[version]
    if stmt.startswith('CREATE INDEX'))

GET_VERSION = """
OPTIONAL MATCH (m:TachyonSchema {id: 'schema'})
RETURN m.version AS version, m.min_code_version AS min_code_version
"""

SET_VERSION = """
MERGE (m:TachyonSchema {id: 'schema'})
SET m.version = $version, m.min_code_version = $min_code_version,
    m.updated_at = $now
MERGE (g:GlobalState {id: 'global'})
ON CREATE SET g.generation = 0
"""


def _get_version(tx):
    return tx.run(GET_VERSION).single()['version']


def _get_versions(tx):
    row = tx.run(GET_VERSION).single()
    return row['version'], row['min_code_version']


def _set_version(tx, version, min_code_version=None):
    if min_code_version is None:
        min_code_version = MIN_CODE_VERSION.get(version, version)
    tx.run(SET_VERSION, version=version, min_code_version=min_code_version,
           now=time.time())


def current_version(graph):
    """The schema version recorded in the graph, or None if never synced."""
    return graph.read(_get_version)


def versions(graph):
    """(schema version, oldest code schema version that can run on it).

    (None, None) on a graph never synced. A graph synced before minimums
    were recorded gives its own version as the minimum.
    """
    version, minimum = graph.read(_get_versions)
    if version is not None and minimum is None:
        minimum = version
    return version, minimum


def sync(graph):
    """Create or upgrade the schema; returns (old_version, new_version).

    Idempotent: on an up-to-date database nothing changes.
    """
    old = current_version(graph)
    if old is not None and old > SCHEMA_VERSION:
        raise exception.SchemaMismatch(
            reason='The graph schema is version %s, newer than the %s this '
                   'Tachyon knows; upgrade Tachyon instead.' % (
                       old, SCHEMA_VERSION))
    start = old or 0
    for version in range(start + 1, SCHEMA_VERSION + 1):
        for _name, statement in UPGRADES[version]:
            # Schema statements cannot share a transaction with writes.
            graph.run_autocommit(statement)
        graph.write(_set_version, version)
    if start == SCHEMA_VERSION:
        # Recreate anything an operator dropped by hand; still a no-op on
        # an intact schema.
        for version in sorted(UPGRADES):
            for _name, statement in UPGRADES[version]:
                graph.run_autocommit(statement)
        if graph.read(_get_versions)[1] is None:
            # Synced before minimums were recorded: record this one.
            graph.write(_set_version, SCHEMA_VERSION)
    return old, SCHEMA_VERSION


def check(graph):
    """The graph's schema version, if this code can run on it.

    It can when the graph is at :data:`SCHEMA_VERSION`, or newer but
    recorded as runnable by code of this version (see the module's
    docstring); else SchemaMismatch says what to do.
    """
    version, minimum = versions(graph)
    if version is None:
        raise exception.SchemaMismatch(
            reason='The graph at %s has no Tachyon schema; run '
                   '"tachyon-manage db sync" first.' % graph.safe_uri)
    if version < SCHEMA_VERSION:
        raise exception.SchemaMismatch(
            reason='The graph schema is version %s but this Tachyon needs '
                   '%s; run "tachyon-manage db sync".' % (
                       version, SCHEMA_VERSION))
    if SCHEMA_VERSION < minimum:
        raise exception.SchemaMismatch(
            reason='The graph schema is version %s, newer than the %s this '
                   'Tachyon knows, and needs Tachyon code of schema version '
                   '%s or newer; upgrade Tachyon on this host.' % (
                       version, SCHEMA_VERSION, minimum))
    return version


def describe(graph):
    """The constraints and indexes Neo4j reports, by name."""
    constraints = graph.run_autocommit(
        'SHOW CONSTRAINTS YIELD name RETURN name')
    indexes = graph.run_autocommit('SHOW INDEXES YIELD name RETURN name')
    return ({r['name'] for r in constraints}, {r['name'] for r in indexes})
