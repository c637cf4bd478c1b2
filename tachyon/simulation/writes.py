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

A commit sent with the caller's ``request_id`` (RPC API 1.7) keeps its
answer on the session, under that id: its result in the commit's own
transaction, or the refusal (Conflict, InvalidState) of a session that
stays active in a transaction of its own right after. The same commit
sent again -- its answer was lost, the engine died or froze -- takes
the session's lock as the first did, so it runs after it, and gets the
kept answer without checking or applying anything: the global graph
changes once, and the caller gets the first attempt's answer, whichever
engine serves each attempt and in whichever order. A merge sent with one
(RPC API 1.9) keeps its answer on the fork the same way: its result, or
a MergeConflict (:func:`merge_session`).
"""

import time

from oslo_log import log as logging

from tachyon import exception
from tachyon.graph import common
from tachyon.graph import sessions
from tachyon.simulation import commit
from tachyon.simulation import deltas
from tachyon.simulation import recording
from tachyon.simulation import virtual

LOG = logging.getLogger(__name__)

#: The refusals a commit keeps under its request id, by class name: what
#: a commit of a session that stays active raises (something it touches
#: changed; it is a fork, or has live forks). An expired session, or one
#: that ended, refuses every later commit the same way on its own.
KEPT_REFUSALS = {cls.__name__: cls
                 for cls in (exception.Conflict, exception.InvalidState)}

#: The refusal a merge keeps under its request id (RPC API 1.9): a delta
#: of the fork does not fit its parent as it is now; the fork stays
#: active. The others (live forks, too many deltas, an ended fork or
#: parent) are checked afresh when the merge is sent again.
MERGE_REFUSALS = {exception.MergeConflict.__name__: exception.MergeConflict}


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
        rows.append(_prepare(spec, found, sequence, rows))
        rows[-1]['request_id'] = request_id
        sequence += 1
    sessions.insert_deltas(tx, session_id, rows, now)
    return [row['sequence'] for row in rows]


def _prepare(spec, found, sequence, rows):
    row = recording.prepare(spec, found, sequence, rows)
    # Kept so that a merge checks the delta as it was asked.
    row['check_capacity'] = bool(spec.get('check_capacity', True))
    return row


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


def _commit(tx, session_id, now, request_id=None):
    session = sessions.load_session(tx, session_id, lock=True)
    kept = sessions.commit_outcome(session, request_id)
    if kept is not None:
        # The same commit sent again (its answer was lost): the session's
        # lock, taken above, orders this after the first attempt, whose
        # answer it is, whatever the session's state now.
        return dict(kept, replayed=True)
    virtual.require_active(session, now)
    if session.get('parent_id'):
        raise exception.InvalidState(
            kind='Simulation session', ident=session_id, state='a fork',
            reason='a fork is merged into its parent (%s), not committed'
            % session['parent_id'])
    sessions.refuse_live_forks(tx, session, 'committed', now)
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
    result = {'generation': generation, 'applied': len(deltas),
              'consumers': len(placements)}
    if request_id is not None:
        sessions.keep_commit_outcome(tx, session_id, request_id,
                                     {'result': result})
    return {'result': result}


def _keep_refusal(tx, session_id, request_id, refusal, now,
                  keep='keep_commit_outcome'):
    session = sessions.load_session(tx, session_id, lock=True)
    # Not on a session that has ended: a commit (or merge) sent again
    # under this id may have ended it (its result is kept), and an ended
    # or expired session refuses every commit alike.
    if session['status'] == sessions.ACTIVE and session['expires_at'] > now:
        getattr(sessions, keep)(tx, session_id, request_id, refusal)


def refusal_outcome(exc, refusals=KEPT_REFUSALS):
    """A commit's refusal as kept (JSON-safe); None: one not kept."""
    if refusals.get(type(exc).__name__) is not type(exc):
        return None
    return {'error': type(exc).__name__, 'kwargs': dict(exc.kwargs)}


def outcome_answer(outcome, refusals=KEPT_REFUSALS):
    """The answer a kept outcome stands for: a result, or raised again.

    :raises: the kept refusal, the same class with the same keyword
        arguments (so the same message).
    """
    if 'error' in outcome:
        raise refusals[outcome['error']](**outcome['kwargs'])
    return outcome['result']


def _keep(graph, session_id, request_id, exc, refusals=KEPT_REFUSALS,
          keep='keep_commit_outcome', what='commit'):
    refusal = refusal_outcome(exc, refusals)
    if refusal is None:
        return
    try:
        graph.write(_keep_refusal, session_id, request_id, refusal,
                    time.time(), keep)
    except exception.TachyonException as error:
        # The refusal stands; a call sent again is checked afresh.
        LOG.warning('Simulation session %s: the refusal of %s request '
                    '%s could not be kept (%s)', session_id, what,
                    request_id, error)


def commit_session(graph, session_id, request_id=None):
    """Apply every delta to the global graph in one transaction.

    ``request_id``: the caller's id of this commit. The answer is kept
    on the session under it, so the same commit sent again (its answer
    was lost) gets the first answer -- the same result, or the same
    refusal -- and applies nothing: see the module's documentation.
    Without one, a session that was committed refuses a later commit
    (InvalidState).

    :raises: Conflict (with the uuids) when something the session touches
        changed since it began (another commit's included); nothing is
        applied then. InvalidState for a session that is not active, a
        fork, or one with live forks; SessionExpired past its TTL;
        NotFound.
    """
    try:
        outcome = graph.write(_commit, session_id, time.time(), request_id)
    except exception.Conflict as exc:
        if request_id is not None:
            _keep(graph, session_id, request_id, exc)
        raise
    if outcome.get('replayed'):
        LOG.info('Simulation session %s: commit request %s was sent again; '
                 'answered as the first time (%s), nothing applied',
                 session_id, request_id,
                 outcome.get('error') or 'committed')
    else:
        LOG.info('Simulation session %s committed: %d deltas, global '
                 'generation %d', session_id, outcome['result']['applied'],
                 outcome['result']['generation'])
    return outcome_answer(outcome)


def _spec(delta):
    """The request that recorded ``delta``, to record it again."""
    spec = {'type': delta['type'], 'consumer_uuid': delta['consumer_uuid'],
            'source_uuid': delta['source_uuid'],
            'destination_uuid': delta['destination_uuid'],
            'check_capacity': delta['check_capacity']}
    if delta['type'] in (deltas.ALLOCATE, deltas.RESIZE):
        spec['resources'] = dict(delta['resources'])
    return spec


def _describe(delta):
    return '%s of instance %s from %s to %s' % (
        delta['type'], delta['consumer_uuid'],
        delta['source_uuid'] or 'no node',
        delta['destination_uuid'] or 'no node')


def _merge(tx, session_id, max_deltas, now, request_id=None):
    # Locks ancestor first, then fork, as forking and reverting take them.
    fork = sessions.load_session(tx, session_id)
    parent_id = fork.get('parent_id')
    if not parent_id:
        # A root that has ended or lapsed is refused as such first.
        virtual.require_active(fork, now)
        raise exception.InvalidState(
            kind='Simulation session', ident=session_id, state='a root',
            reason='only a fork can be merged; commit a root session')
    parent = sessions.load_session(tx, parent_id, lock=True)
    session = sessions.load_session(tx, session_id, lock=True)
    kept = sessions.merge_outcome(session, request_id)
    if kept is not None:
        # The same merge sent again (its answer was lost): the locks,
        # taken above, order it after the first attempt, whose answer it
        # is, whatever the fork and its parent are now.
        return dict(kept, replayed=True)
    virtual.require_active(parent, now)
    virtual.require_active(session, now)
    sessions.refuse_live_forks(tx, session, 'merged', now)
    own = sessions.own_deltas(tx, session_id)
    if parent['delta_count'] + len(own) > max_deltas:
        raise exception.LimitExceeded(
            limit='deltas per simulation session', maximum=max_deltas,
            reason='session %s holds %d, its fork %s %d more' % (
                parent_id, parent['delta_count'], session_id, len(own)))
    specs = [_spec(delta) for delta in own]
    rows = []
    sequence = parent['next_sequence']
    # Checked against the parent as it is now: its deltas recorded since
    # the fork included, so a fork whose parent moved on merges only
    # where its deltas still fit.
    context = sessions.delta_context(tx, parent_id,
                                     recording.context_wanted(specs))
    for delta, spec, found in zip(own, specs, context):
        try:
            rows.append(_prepare(spec, found, sequence, rows))
        except (exception.Conflict, exception.NotFound) as exc:
            conflicts = getattr(exc, 'conflicts', None) or [
                exc.kwargs.get('ident')]
            raise exception.MergeConflict(
                session_id=session_id, parent_id=parent_id,
                sequence=delta['sequence'], delta=_describe(delta),
                reason=exc.kwargs.get('reason') or exc.message,
                conflicts=conflicts)
        sequence += 1
    if rows:
        sessions.insert_deltas(tx, parent_id, rows, now)
    sessions.end_session(tx, session_id, sessions.MERGED, now)
    result = {'session_id': parent_id, 'merged': session_id,
              'sequences': [row['sequence'] for row in rows]}
    if request_id is not None:
        sessions.keep_merge_outcome(tx, session_id, request_id,
                                    {'result': result})
    return {'result': result}


def merge_session(graph, session_id, max_deltas=10000, request_id=None):
    """Apply a fork's deltas to its parent, in order, all or none.

    Each is checked against the parent's virtual state as it is now (the
    parent may have moved on since the fork) and recorded there after the
    parent's own; the fork ends ``merged``. One transaction.

    ``request_id``: the caller's id of this merge. Its answer is kept on
    the fork under it, as a commit's on its session: its result in the
    merge's transaction, a MergeConflict in a transaction right after
    while the fork stays active. The same merge sent again (its answer
    was lost) applies nothing and gets that answer -- the result, with
    ``replayed`` true, even once the fork has ended merged; the same
    MergeConflict, even if its deltas would fit the parent now. Another
    refusal keeps nothing: sent again, the merge is checked afresh.

    :raises: MergeConflict naming the first delta that does not fit;
        InvalidState for a root or a fork with live forks of its own.
    """
    try:
        outcome = graph.write(_merge, session_id, max_deltas, time.time(),
                              request_id)
    except exception.MergeConflict as exc:
        if request_id is not None:
            _keep(graph, session_id, request_id, exc, MERGE_REFUSALS,
                  'keep_merge_outcome', 'merge')
        raise
    replayed = outcome.pop('replayed', False)
    if replayed and 'error' in outcome:
        LOG.info('Simulation session %s: merge request %s was sent again; '
                 'answered as the first time (%s), nothing written',
                 session_id, request_id, outcome['error'])
    answer = outcome_answer(outcome, MERGE_REFUSALS)
    return dict(answer, replayed=True) if replayed else answer
