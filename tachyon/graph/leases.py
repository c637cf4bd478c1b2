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

"""Leases: what makes a periodic task run once across every engine.

Each periodic task of tachyon-engine (a collector's full sync, the session
reaper, the tombstone purge) has one node::

    (:Lease {name, holder, acquired_at, expires_at, released_at})

Every worker of every engine calls :func:`acquire` when the task is due.
The attempt is one write transaction that first takes the write lock of
the schema node, so attempts are serialised and exactly one of them wins:
the first that finds the lease free (never taken, or its ``expires_at``
passed). The winner holds it for ``ttl`` seconds; it may :func:`renew` it
while it works. A holder that dies simply stops renewing.

A holder may also stop without dying: paused (SIGSTOP, a VM frozen by
its hypervisor, a long GC) past ``expires_at``, it wakes up to find the
lease taken by another worker, and whatever its run does after that
overlaps the new holder's run. A task whose writes must never overlap
calls :func:`fence` inside each of its write transactions: the write
commits only while the caller still holds the lease, and it takes the
lease node's write lock, so a worker taking the lease waits until that
write is committed (or finds it refused). Every fenced write of one run
therefore happens before the next run's acquire.

Leases are book-keeping, not part of the cluster model: taking or
releasing one does not move the global generation.
"""

import functools
import time

from tachyon import exception

# Lease attempts serialise on the schema node, which every synced graph
# has exactly one of (uniqueness constraint ``schema_meta_id``), so two
# concurrent first attempts cannot both MERGE a new lease node.
LOCK_LEASES = """
MATCH (m:TachyonSchema {id: 'schema'})
SET m.lease_lock = true REMOVE m.lease_lock
RETURN count(m) AS locked
"""

TAKE_LEASE = """
MERGE (l:Lease {name: $name})
WITH l, coalesce(l.expires_at, 0.0) <= $now AS free
SET l.holder = CASE WHEN free THEN $holder ELSE l.holder END,
    l.acquired_at = CASE WHEN free THEN $now ELSE l.acquired_at END,
    l.expires_at = CASE WHEN free THEN $expires_at ELSE l.expires_at END
RETURN free
"""

RENEW_LEASE = """
MATCH (l:Lease {name: $name})
WHERE l.holder = $holder AND l.expires_at > $now
SET l.expires_at = $expires_at
RETURN count(l) AS renewed
"""

RELEASE_LEASE = """
MATCH (l:Lease {name: $name})
WHERE l.holder = $holder
SET l.expires_at = CASE WHEN $keep_until IS NULL THEN $now
                        ELSE $keep_until END,
    l.released_at = $now
RETURN count(l) AS released
"""

# SET takes the lease node's write lock: TAKE_LEASE, which writes the
# same node, waits for this transaction to end.
FENCE_LEASE = """
MATCH (l:Lease {name: $name})
SET l.fenced_at = CASE WHEN l.holder = $holder AND l.expires_at > $now
                       THEN $now ELSE l.fenced_at END
RETURN l.holder = $holder AND l.expires_at > $now AS held
"""

# The holder's lease, extended from inside a transaction that fenced it
# (and so holds its lock since: no one took it meanwhile).
EXTEND_FENCED_LEASE = """
MATCH (l:Lease {name: $name})
WHERE l.holder = $holder
SET l.expires_at = $expires_at
RETURN count(l) AS extended
"""

GET_LEASES = """
MATCH (l:Lease)
WHERE $name IS NULL OR l.name = $name
RETURN l {.*} AS lease
ORDER BY l.name
"""

_FIELDS = ('name', 'holder', 'acquired_at', 'expires_at', 'released_at')


def _acquire(tx, name, holder, now, expires_at):
    if tx.run(LOCK_LEASES).single()['locked'] != 1:
        raise exception.SchemaMismatch(
            reason='The graph has no Tachyon schema; run "tachyon-manage '
                   'db sync" first.')
    return tx.run(TAKE_LEASE, name=name, holder=holder, now=now,
                  expires_at=expires_at).single()['free']


def acquire(graph, name, holder, ttl, now=None):
    """Take the lease ``name`` for ``ttl`` seconds if it is free.

    :param holder: who takes it (unique per worker).
    :returns: True when ``holder`` now holds it, False when someone else
        holds a lease that has not run out.
    """
    now = time.time() if now is None else float(now)
    return graph.write(_acquire, name, holder, now, now + float(ttl))


def _renew(tx, name, holder, now, expires_at):
    return tx.run(RENEW_LEASE, name=name, holder=holder, now=now,
                  expires_at=expires_at).single()['renewed'] == 1


def renew(graph, name, holder, ttl, now=None):
    """Extend the holder's lease by ``ttl`` from now.

    :returns: False when ``holder`` no longer holds it.
    """
    now = time.time() if now is None else float(now)
    return graph.write(_renew, name, holder, now, now + float(ttl))


def _release(tx, name, holder, now, keep_until):
    return tx.run(RELEASE_LEASE, name=name, holder=holder, now=now,
                  keep_until=keep_until).single()['released'] == 1


def release(graph, name, holder, keep_until=None, now=None):
    """Hand the lease back (free at once, or only at ``keep_until``).

    :returns: False when ``holder`` did not hold it.
    """
    now = time.time() if now is None else float(now)
    return graph.write(_release, name, holder, now,
                       None if keep_until is None else float(keep_until))


def fence(tx, name, holder, now=None):
    """Refuse ``tx`` unless ``holder`` holds the lease ``name`` now.

    Call it inside a write transaction (``graph.write``'s work), before
    its writes: raising rolls the whole transaction back.

    :raises: InvalidState (the lease is lost: expired, or taken by
        another worker).
    """
    now = time.time() if now is None else float(now)
    row = tx.run(FENCE_LEASE, name=name, holder=holder, now=now).single()
    if row is None or not row['held']:
        raise exception.InvalidState(
            kind='lease', ident=name, state='lost',
            reason='%s no longer holds it (it ran out or another worker '
                   'took it); this write is refused' % holder)


def extend_fenced(tx, name, holder, ttl):
    """Extend by ``ttl`` from now the lease ``tx`` was fenced with.

    For a long transaction: :func:`fence` locked the lease while it was
    held, so it is still the holder's however long ``tx`` ran, and a
    commit after its expiry keeps it rather than losing it.
    """
    tx.run(EXTEND_FENCED_LEASE, name=name, holder=holder,
           expires_at=time.time() + float(ttl)).consume()


def _get(tx, name):
    leases = []
    for row in tx.run(GET_LEASES, name=name):
        # Neo4j keeps no null properties: put the absent ones back.
        lease = dict.fromkeys(_FIELDS)
        lease.update(row['lease'])
        leases.append(lease)
    return leases


def get_leases(graph, name=None):
    """Every lease (or the one named), as dicts sorted by name."""
    return graph.read(_get, name)


def _held(tx):
    """Nothing: what :meth:`FencedGraph.run_autocommit` fences."""


def _fenced(name, holder, work):
    # Named after ``work``: the graph's metrics label a unit by its name.
    @functools.wraps(work)
    def fenced_work(tx, *args, **kwargs):
        fence(tx, name, holder)
        return work(tx, *args, **kwargs)
    return fenced_work


class FencedGraph(object):
    """A :class:`tachyon.graph.driver.Graph` whose writes are all fenced.

    What a leased task writes goes through this: each ``write`` runs
    :func:`fence` first, in the same transaction as the task's own
    statements, so a write of a holder that lost the lease (paused past
    ``expires_at``, or the lease taken by another worker) is refused as a
    whole, and a write that commits happens before the next holder's
    acquire. Reads and everything else are the graph's own.

    ``run_autocommit`` (schema administration, ``CALL {} IN
    TRANSACTIONS``) runs outside any transaction of ours, so it cannot be
    fenced in one: it is checked first (a fenced empty write) and refused
    when the lease is lost, but a lease lost between the check and the
    statement is not seen. Prefer ``write`` in leased tasks.
    """

    def __init__(self, graph, name, holder):
        self.graph = graph
        self.lease = name
        self.holder = holder

    def write(self, work, *args, **kwargs):
        return self.graph.write(_fenced(self.lease, self.holder, work),
                                *args, **kwargs)

    def run_autocommit(self, query, **params):
        self.write(_held)
        return self.graph.run_autocommit(query, **params)

    def __getattr__(self, attr):
        return getattr(self.graph, attr)
