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

"""Tombstones: what keeps a late update from resurrecting a deleted entity.

Deleting an entity leaves ``(:Tombstone {kind, uuid, deleted_at})``. An
upsert whose ``updated_at`` is not newer than the tombstone's
``deleted_at`` is ignored. Tombstones live for
``[notifications]/tombstone_lifetime`` seconds; :func:`purge_tombstones`
removes the older ones. Tombstones are book-keeping, not part of the
cluster model: writing or purging one does not move the global
generation.

A *pending state* (``(:PendingState {kind, uuid, state, state_at,
state_key})``, :mod:`tachyon.graph.compute.instances`) is the other
piece of book-keeping of late notifications: the state a notification set
on an instance the graph does not have (yet), kept for the whole payload
that creates it. It is no instance (nothing reads it as one) and lives as
long as a tombstone: :func:`purge_tombstones` removes it too.
"""

import time

KIND_INSTANCE = 'instance'
KIND_COMPUTE_NODE = 'compute_node'
KIND_VOLUME = 'volume'
KIND_POOL = 'pool'
KIND_STORAGE_NODE = 'storage_node'
KIND_IRONIC_NODE = 'ironic_node'

# A delete never moves a tombstone back in time.
RECORD_TOMBSTONES = """
UNWIND $uuids AS uuid
MERGE (t:Tombstone {kind: $kind, uuid: uuid})
ON CREATE SET t.deleted_at = $deleted_at
ON MATCH SET t.deleted_at = CASE
    WHEN t.deleted_at IS NULL OR t.deleted_at < $deleted_at
    THEN $deleted_at ELSE t.deleted_at END
"""

GET_TOMBSTONES = """
UNWIND $uuids AS uuid
MATCH (t:Tombstone {kind: $kind, uuid: uuid})
USING INDEX SEEK t:Tombstone(kind, uuid)
RETURN t.uuid AS uuid, t.deleted_at AS deleted_at
"""

REMOVE_TOMBSTONES = """
UNWIND $uuids AS uuid
MATCH (t:Tombstone {kind: $kind, uuid: uuid})
USING INDEX SEEK t:Tombstone(kind, uuid)
DELETE t
"""

PURGE_TOMBSTONES = """
MATCH (t:Tombstone)
WHERE t.deleted_at < $older_than
DELETE t
RETURN count(*) AS purged
"""

PURGE_PENDING_STATES = """
MATCH (p:PendingState)
WHERE p.state_at < $older_than
DELETE p
RETURN count(*) AS purged
"""


def record_tombstones(tx, kind, uuids, deleted_at=None):
    """Leave (or move forward) the tombstones of ``uuids`` inside ``tx``."""
    uuids = list(uuids)
    if not uuids:
        return
    if deleted_at is None:
        deleted_at = time.time()
    tx.run(RECORD_TOMBSTONES, kind=kind, uuids=uuids,
           deleted_at=float(deleted_at)).consume()


def get_tombstones(tx, kind, uuids):
    """{uuid: deleted_at} of the tombstones among ``uuids``."""
    uuids = list(uuids)
    if not uuids:
        return {}
    return {row['uuid']: row['deleted_at']
            for row in tx.run(GET_TOMBSTONES, kind=kind, uuids=uuids)}


def remove_tombstones(tx, kind, uuids):
    """Drop the tombstones of entities that legitimately exist again."""
    uuids = list(uuids)
    if uuids:
        tx.run(REMOVE_TOMBSTONES, kind=kind, uuids=uuids).consume()


def blocks(deleted_at, updated_at):
    """Whether a tombstone deleted at ``deleted_at`` blocks an upsert.

    A record without ``updated_at`` (an import, an operator's action) is
    applied unconditionally.
    """
    return (deleted_at is not None and updated_at is not None
            and updated_at <= deleted_at)


def _purge(tx, older_than):
    return sum(tx.run(query, older_than=float(older_than)).single()['purged']
               for query in (PURGE_TOMBSTONES, PURGE_PENDING_STATES))


def purge_tombstones(graph, older_than):
    """Delete tombstones whose ``deleted_at`` is before ``older_than``.

    Pending states dated before ``older_than`` go too.

    :param older_than: epoch seconds; e.g. ``time.time() -
        CONF.notifications.tombstone_lifetime``.
    :returns: how many were purged (tombstones and pending states).
    """
    return graph.write(_purge, older_than)
