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

"""The rules of a commit: pure functions over deltas and plain dicts.

A commit applies every delta of a session to the global graph, unless
something the session touched changed since it began: an entity
conflicts when it is gone, its generation moved since the session first
touched it, or it was updated after the session was created. The commit
looks for conflicts only once it holds the write locks of everything
:func:`touched` names (:mod:`tachyon.simulation.writes`).
"""

from tachyon.model import records
from tachyon.simulation import deltas


def first_generations(session_deltas):
    """{uuid: generation} each touched entity had when first touched."""
    first = {}
    for delta in session_deltas:
        for field, gen_field in deltas.TOUCHED_FIELDS:
            uuid = delta[field]
            if uuid is not None and uuid not in first:
                first[uuid] = delta[gen_field]
    return first


def touched(session_deltas):
    """(consumers, providers): the uuids the deltas touch, each sorted.

    What a commit locks before it checks for conflicts.
    """
    consumers, providers = set(), set()
    for delta in session_deltas:
        for field, _ in deltas.TOUCHED_FIELDS:
            uuid = delta[field]
            if uuid is not None:
                (consumers if field == 'consumer_uuid'
                 else providers).add(uuid)
    return sorted(consumers), sorted(providers)


def conflicts(first, current, created_at):
    """Touched uuids changed since the session saw them, sorted.

    ``first``: as :func:`first_generations`; ``current``: the entities'
    state now ({'uuid', 'exists', 'generation', 'updated_at'}). An entity
    conflicts when it is gone, its generation moved, or it was updated
    after the session was created.
    """
    found = []
    for row in current:
        changed_after = (row['updated_at'] is not None
                         and row['updated_at'] > created_at)
        if (not row['exists'] or row['generation'] != first[row['uuid']]
                or changed_after):
            found.append(row['uuid'])
    return sorted(found)


def consumers(session_deltas):
    """The consumers the deltas touch, in the order first touched."""
    return list(dict.fromkeys(d['consumer_uuid'] for d in session_deltas))


def final_states(session_deltas, initial):
    """Apply every delta to its consumer's global state.

    ``initial``: {uuid: global state} of each of :func:`consumers` (the
    dicts are changed). Returns ({uuid: final state}, the providers whose
    generation the commit moves: each consumer's first node and every
    delta's source and destination).
    """
    final, providers = {}, set()
    for delta in session_deltas:
        uuid = delta['consumer_uuid']
        if uuid not in final:
            final[uuid] = initial[uuid]
            providers.add(final[uuid]['node_uuid'])
        deltas.apply_to_consumer(final[uuid], delta)
        providers.update((delta['source_uuid'], delta['destination_uuid']))
    return final, providers


def placements(final, stored_records):
    """What a commit writes for each consumer, sorted by uuid.

    ``final``: {uuid: the consumer's state once every delta is applied};
    ``stored_records``: {uuid: its stored record dict}. Each placement has
    ``uuid``, ``node_uuid``, ``resources`` and ``record`` (a copy of the
    stored record with its ``vcpus``, ``memory`` and ``disk`` updated).
    """
    result = []
    for uuid, state in sorted(final.items()):
        res = state['resources']
        record = dict(stored_records.get(uuid) or {})
        record.update({'vcpus': res[records.VCPU],
                       'memory': res[records.MEMORY_MB],
                       'disk': res[records.DISK_GB]})
        result.append({'uuid': uuid, 'node_uuid': state['node_uuid'],
                       'resources': res, 'record': record})
    return result
