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

"""Nova's aggregate notifications -> aggregate changes, and the zone rule.

The graph writes are tested on Neo4j (tests/functional/notifications/
test_node_convergence.py and test_corpus_nodes.py).
"""

import copy

from tachyon import exception
from tachyon.graph.compute import aggregates
from tachyon.model import changes
from tachyon.model import records
from tachyon.notifications import base as nbase
from tachyon.notifications import nova as nova_handler
from tests import base
from tests.fixtures.notifications import common
from tests.fixtures.notifications import nova


def _note(event='aggregate.add_host.end', hosts=('compute-1',),
          metadata=None, name='rack-12'):
    note = nova.aggregate(event, name, list(hosts),
                          metadata or {'availability_zone': 'az-1'},
                          agg_id=7)
    return nbase.Notification(note.publisher_id, note.event_type,
                              copy.deepcopy(note.payload),
                              {'timestamp': 1.7e9})


class TestAggregateHandler(base.TestCase):

    def setUp(self):
        super().setUp()
        self.handler = nova_handler.NovaHandler(self.conf)

    def test_every_end_event_is_one_aggregate_change(self):
        for event in nova_handler.AGGREGATE_UPDATES:
            self.assertIn(event, self.handler.event_types)
            [change] = self.handler.parse(_note(event, hosts=('b', 'a')))
            self.assertEqual((changes.AGGREGATE, changes.UPSERT, '7'),
                             (change.kind, change.action, change.key))
            self.assertEqual(['a', 'b'], change.record.hosts)
            self.assertEqual('az-1', change.record.availability_zone)
            self.assertEqual('nova', change.record.default_zone)
            self.assertEqual(1.7e9, change.timestamp)

    def test_delete_end_is_an_aggregate_delete(self):
        self.assertIn(nova_handler.AGGREGATE_DELETE,
                      self.handler.event_types)
        [change] = self.handler.parse(_note('aggregate.delete.end',
                                            hosts=()))
        self.assertEqual((changes.AGGREGATE, changes.DELETE, '7'),
                         (change.kind, change.action, change.key))
        self.assertEqual(1.7e9, change.timestamp)
        # Read whole, as the others: a broken field is refused.
        note = _note('aggregate.delete.end')
        common.ovo_data(note.payload, 'nova')['hosts'] = 'compute-1'
        exc = self.assertRaises(exception.MalformedPayload,
                                self.handler.parse, note)
        self.assertEqual('hosts', exc.field)

    def test_no_zone_and_the_operators_default(self):
        self.flags(group='notifications',
                   nova_default_availability_zone='internal')
        [change] = self.handler.parse(_note(metadata={'ssd': 'true'}))
        self.assertIsNone(change.record.availability_zone)
        self.assertEqual('internal', change.record.default_zone)

    def test_malformed_fields_are_named(self):
        for field, value in (('hosts', 'compute-1'), ('hosts', [3]),
                             ('id', 'seven'), ('name', None),
                             ('metadata', {'availability_zone': 5})):
            note = _note()
            common.ovo_data(note.payload, 'nova')[field] = value
            exc = self.assertRaises(exception.MalformedPayload,
                                    self.handler.parse, note)
            self.assertEqual(field, exc.field, field)
            self.assertIn('aggregate.add_host.end', str(exc))


def _node(zone, aggs):
    return records.ComputeNode(uuid='u', hostname='h', service_host='h',
                               availability_zone=zone,
                               aggregates=[{'id': i, 'name': n}
                                           for i, n in aggs])


def _agg(hosts, zone, agg_id=7, name='rack'):
    return records.Aggregate(id=agg_id, name=name, hosts=list(hosts),
                             availability_zone=zone)


class TestNodeAfter(base.TestCase):

    def test_zone_is_novas(self):
        self.assertEqual('nova', aggregates.host_zone([None], 'nova'))
        self.assertEqual('a,b', aggregates.host_zone(['b', 'a', 'b'], 'x'))

    def test_removed_falls_back_to_the_other_zoned_aggregate(self):
        node = aggregates._node_after(
            _node('az-1,az-2', [(7, 'rack'), (8, 'other')]),
            {'7': _agg([], 'az-1')}, {'7': 'az-1', '8': 'az-2'},
            {'7': 'az-1'})
        self.assertEqual('az-2', node.availability_zone)
        self.assertEqual([{'id': 8, 'name': 'other'}], node.aggregates)
        self.assertIsNone(node.updated_at)

    def test_aggregate_only_a_sync_wrote_keeps_its_zone(self):
        # Aggregate 8 came from a sync: its zone is what the node's zone
        # holds beyond the known ones.
        node = aggregates._node_after(
            _node('az-1,az-3', [(7, 'rack'), (8, 'other')]),
            {'7': _agg([], 'az-1')}, {'7': 'az-1'}, {'7': 'az-1'})
        self.assertEqual('az-3', node.availability_zone)

    def test_joined_and_renamed(self):
        renamed = {'7': _agg(['h'], None, name='new')}
        node = aggregates._node_after(_node('nova', [(7, 'old')]), renamed,
                                      {'7': None}, {})
        self.assertEqual([{'id': 7, 'name': 'new'}], node.aggregates)
        self.assertEqual('nova', node.availability_zone)
