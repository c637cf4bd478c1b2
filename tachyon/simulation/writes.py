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

"""Recording deltas and committing a session: one write transaction each.

Both first take the session's write lock, so writers on one session are
serialised; the rules they apply are the pure ones of
:mod:`tachyon.simulation.recording` and :mod:`tachyon.simulation.commit`,
and :mod:`tachyon.graph.sessions` loads and stores. The arguments are
taken as validated (:mod:`tachyon.simulation.validation`).

A commit then takes the write locks of the consumers and providers its
deltas touch (consumers, then providers, each in uuid order) before it
reads or checks any of them. Commits touching a common entity are thus
serialised with each other and with the notifications and migrations
that write it: of two commits moving one instance exactly one wins (the
other finds the instance changed: Conflict), and a change that committed
before the locks were taken is seen by the conflict check, never
overwritten.
"""

import time

from tachyon import exception
from tachyon.graph import common
from tachyon.graph import sessions
from tachyon.simulation import commit
from tachyon.simulation import recording
from tachyon.simulation import virtual


def _record(tx, session_id, specs, max_deltas, now, request_id=None):
    session = sessions.load_session(tx, session_id, lock=True)
    virtual.require_active(session, now)
    if request_id is not None:
        # A batch sent again (its answer was lost): the session's lock,
        # taken above, orders this after the first, which is answered.
        done = sessions.batch_sequences(tx, session_id, request_id)
        if done:
            return done
    if session['delta_count'] + len(specs) > max_deltas:
        raise exception.LimitExceeded(
            limit='deltas per simulation session', maximum=max_deltas,
            reason='session %s holds %d' % (
                session_id, session['delta_count']))
    rows = []
    sequence = session['next_sequence']
    context = sessions.delta_context(tx, session_id,
                                     recording.context_wanted(specs))
    for spec, found in zip(specs, context):
        rows.append(recording.prepare(spec, found, sequence, rows))
        rows[-1]['request_id'] = request_id
        sequence += 1
    sessions.insert_deltas(tx, session_id, rows, now)
    return [row['sequence'] for row in rows]


def record_deltas(graph, session_id, specs, max_deltas=10000,
                  request_id=None):
    """Check and record deltas in order, all or none.

    ``request_id``: the caller's id of this batch. A batch whose id the
    session already holds is not recorded again: the answer is the
    sequences it was given the first time (a client retrying a call
    whose answer was lost records each delta once).

    ``specs``: dicts with ``type``, ``consumer_uuid``, ``source_uuid``,
    ``destination_uuid``, ``resources`` ({resource class: amount}, for
    ALLOCATE and RESIZE) and ``check_capacity`` (default true).

    :returns: the sequence numbers given to the deltas.
    """
    return graph.write(_record, session_id, list(specs), max_deltas,
                       time.time(), request_id)


def _commit(tx, session_id, now):
    session = sessions.load_session(tx, session_id, lock=True)
    virtual.require_active(session, now)
    deltas = sessions.session_deltas(tx, session_id)
    # Lock what the commit touches before reading any of it: a writer of
    # one of those entities (a notification, a migration, another
    # commit) has either committed, and is seen below, or waits for this
    # commit to end. Without the locks two commits could both find
    # nothing changed, or a notification land between the check and the
    # writes and be overwritten with what was read before it.
    sessions.lock_entities(tx, *commit.touched(deltas))
    if (deltas and common.global_generation(tx)
            != session['base_generation']):
        first = commit.first_generations(deltas)
        conflicts = commit.conflicts(
            first, sessions.current_state(tx, sorted(first)),
            session['created_at'])
        if conflicts:
            raise exception.Conflict(
                reason='simulation session %s: %d consumers or providers '
                       'changed since it began' % (session_id,
                                                   len(conflicts)),
                conflicts=conflicts)
    initial = {uuid: sessions.consumer_state(tx, uuid)
               for uuid in commit.consumers(deltas)}
    final, providers = commit.final_states(deltas, initial)
    placements = commit.placements(
        final, sessions.consumer_records(tx, sorted(final)))
    generation = sessions.store_commit(tx, session_id, placements,
                                       providers, now)
    return {'generation': generation, 'applied': len(deltas),
            'consumers': len(placements)}


def commit_session(graph, session_id):
    """Apply every delta to the global graph in one transaction.

    :raises: Conflict (with the uuids) when something the session touches
        changed since it began (another commit's included); nothing is
        applied then.
    """
    return graph.write(_commit, session_id, time.time())
