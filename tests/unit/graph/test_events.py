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

"""The convergence keys of tachyon.graph.events (no Neo4j)."""

import dataclasses
import hashlib
import json
import random
from unittest import mock

from tachyon.graph import events
from tachyon.model import changes as ch
from tachyon.model import records
from tests import base


def reference_key(change):
    """The tie key as it was first defined (dataclasses.asdict)."""
    what = {'action': change.action, 'fields': change.fields,
            'keep': sorted(change.keep),
            'record': (dataclasses.asdict(change.record)
                       if dataclasses.is_dataclass(change.record)
                       else change.record)}
    text = json.dumps(what, sort_keys=True, separators=(',', ':'),
                      default=str)
    return hashlib.sha1(text.encode('utf-8')).hexdigest()


def reference_winners(changes):
    """The winners as first computed: a full rank per change."""
    def rank(c):
        return (c.timestamp is None,
                c.timestamp if c.timestamp is not None else 0.0,
                c.action == ch.DELETE, reference_key(c))
    chosen = {}
    for index, change in enumerate(changes):
        current = chosen.get(change.entity)
        if current is None:
            chosen[change.entity] = (index, change, rank(change))
        elif rank(change) > current[2]:
            chosen[change.entity] = (current[0], change, rank(change))
    return [c for _, c, _ in sorted(chosen.values(), key=lambda i: i[0])]


def _node():
    return records.ComputeNode(
        uuid='n1', hostname='host-1', inventories={
            records.VCPU: records.Inventory(records.VCPU, total=8),
            records.MEMORY_MB: records.Inventory(records.MEMORY_MB,
                                                 total=1024)},
        traits=['A', 'B'], aggregates=[{'name': 'agg', 'id': 3}])


class TestTieKey(base.TestCase):

    def test_same_key_as_asdict_for_every_kind_of_record(self):
        changes = [
            ch.Change(ch.INSTANCE, ch.UPSERT, 'i1', record=records.Instance(
                uuid='i1', name='vm', state='active', vcpus=2,
                metadata={'a': [1, {'b': None}], 'c': 1.5},
                flavor_extra_specs={'hw:cpu': 'dedicated'},
                node_name='host-1', updated_at=12.5),
                keep=(ch.KEEP_NODE, 'locked'), timestamp=12.5),
            ch.Change(ch.COMPUTE_NODE, ch.UPSERT, 'n1', record=_node()),
            ch.Change(ch.COMPUTE_NODE, ch.UPDATE, 'host-1',
                      fields={'status': 'disabled', 'state': 'up'}),
            ch.Change(ch.VOLUME, ch.UPSERT, 'v1', record=records.Volume(
                uuid='v1', size=10, attachments=[
                    {'server_id': 'i1', 'attachment_id': 'a1'}],
                metadata={'k': 'v'}, host='h@b#p'),
                keep=('multiattach',), fields={'volume_type_id': 't'}),
            ch.Change(ch.POOL, ch.UPDATE, 'h@b#p', record=records.Pool(
                name='h@b#p', total_capacity_gb=5),
                fields={'free_capacity_gb': 3}),
            ch.Change(ch.INSTANCE, ch.DELETE, 'i1', timestamp=3.0),
        ]
        for change in changes:
            self.assertEqual(reference_key(change), events.tie_key(change),
                             change)

    def test_keys_differ_by_what_the_change_says(self):
        one = ch.Change(ch.INSTANCE, ch.UPSERT, 'i1',
                        record=records.Instance(uuid='i1', state='active'))
        other = dataclasses.replace(
            one, record=records.Instance(uuid='i1', state='stopped'))
        self.assertNotEqual(events.tie_key(one), events.tie_key(other))
        self.assertEqual(events.tie_key(one), events.tie_key(
            dataclasses.replace(one, message_id='again')))

    def test_tie_keys_computes_each_key_once(self):
        change = ch.Change(ch.INSTANCE, ch.DELETE, 'i1', timestamp=1.0)
        keys = events.TieKeys()
        with mock.patch.object(events, 'tie_key',
                               wraps=events.tie_key) as spy:
            self.assertEqual(reference_key(change), keys(change))
            self.assertEqual(reference_key(change), keys(change))
        self.assertEqual(1, spy.call_count)


class TestWinners(base.TestCase):

    def random_changes(self, rnd, n):
        result = []
        for index in range(n):
            key = 'i%d' % rnd.randint(0, 5)
            at = rnd.choice([None, 1.0, 2.0, 2.0, 3.0])
            if rnd.random() < 0.3:
                result.append(ch.Change(ch.INSTANCE, ch.DELETE, key,
                                        timestamp=at,
                                        message_id=str(index)))
            else:
                result.append(ch.Change(
                    ch.INSTANCE, ch.UPSERT, key, timestamp=at,
                    record=records.Instance(
                        uuid=key, state=rnd.choice(['a', 'b', 'c']))))
        return result

    def test_same_winners_as_the_full_rank(self):
        rnd = random.Random(5)
        for _ in range(300):
            changes = self.random_changes(rnd, rnd.randint(1, 12))
            self.assertEqual(reference_winners(changes),
                             events.winners(changes))

    def test_keys_only_for_ties(self):
        changes = [ch.Change(ch.INSTANCE, ch.UPSERT, 'i1', timestamp=at,
                             record=records.Instance(uuid='i1',
                                                     state=str(at)))
                   for at in (1.0, 2.0, 3.0)]
        with mock.patch.object(events, 'tie_key',
                               wraps=events.tie_key) as spy:
            self.assertEqual([changes[2]], events.winners(changes))
            self.assertEqual(0, spy.call_count)
            tied = dataclasses.replace(changes[0], timestamp=3.0)
            events.winners(changes + [tied])
            self.assertEqual(2, spy.call_count)
