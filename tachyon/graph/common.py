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

"""Helpers shared by the graph modules: generations and JSON properties.

Neo4j properties cannot hold maps, so dict-valued fields (instance metadata,
Ironic ``extra``, volume attachments) are stored as JSON strings and turned
back into dicts on the way out.
"""

import dataclasses
import json

# The one GlobalState node. Its generation moves on every committed change,
# so a simulation session can tell whether the world moved since it began.
BUMP_GLOBAL_GENERATION = """
MERGE (g:GlobalState {id: 'global'})
ON CREATE SET g.generation = 0
SET g.generation = g.generation + 1
RETURN g.generation AS generation
"""

GET_GLOBAL_GENERATION = """
OPTIONAL MATCH (g:GlobalState {id: 'global'})
RETURN coalesce(g.generation, 0) AS generation
"""


def bump_global_generation(tx):
    """Advance the global generation inside ``tx``; returns the new one."""
    return tx.run(BUMP_GLOBAL_GENERATION).single()['generation']


def global_generation(tx):
    return tx.run(GET_GLOBAL_GENERATION).single()['generation']


def read_all(tx, query, convert, **params):
    """``convert`` of each record ``query`` answers inside ``tx``."""
    return [convert(row) for row in tx.run(query, **params)]


def dicts(result):
    """A result's records as plain dicts.

    Bulk code that reads several fields of each record: a Record looks a
    key up on every access, a dict once.
    """
    keys = result.keys()
    return [dict(zip(keys, record)) for record in result]


def collected(query, keys):
    """``query`` answering ONE record: its rows, as lists, in ``rows``.

    ``query`` is a statement of this package ending in ``RETURN`` of the
    ``keys`` (in that order); the answer is read back with
    :func:`collected_dicts`. A bulk read of a batch answers a record per
    entity, and the driver's work per record (a message, a Record, its
    callbacks) costs more than the values it carries: one record holding
    a list of them costs a fraction of that.
    """
    return 'CALL () {\n%s\n}\nRETURN collect([%s]) AS rows' % (
        query.strip(), ', '.join(keys))


def collected_dicts(tx, query, keys, **params):
    """The rows of a :func:`collected` ``query``, as dicts of ``keys``."""
    record = tx.run(query, **params).single()
    return [dict(zip(keys, row)) for row in record['rows']]


def to_json(value):
    """A dict or list as a JSON string property (None stays None)."""
    if value is None:
        return None
    return json.dumps(value, sort_keys=True, separators=(',', ':'))


def from_json(value, default=None):
    """A JSON string property back as a dict or list."""
    if value is None or value == '':
        return {} if default is None else default
    return json.loads(value)


@dataclasses.dataclass
class SyncCounts:
    """What a bulk write did, entity by entity.

    ``skipped`` counts records not applied because the graph holds newer
    state (a newer ``updated_at``) or a tombstone at least as new;
    ``unchanged`` counts records that matched the stored state (at most
    their ``updated_at`` moved; no generation bump).
    """

    created: int = 0
    updated: int = 0
    deleted: int = 0
    skipped: int = 0
    unchanged: int = 0

    @property
    def changed(self):
        """How many entities the write actually modified."""
        return self.created + self.updated + self.deleted

    def add(self, other):
        """Add another SyncCounts into this one; returns self."""
        for field in dataclasses.fields(self):
            setattr(self, field.name,
                    getattr(self, field.name) + getattr(other, field.name))
        return self

    def __add__(self, other):
        return SyncCounts().add(self).add(other)
