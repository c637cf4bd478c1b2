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

"""Compute nodes converge whatever the order of their notifications.

``service.update`` events of one node with the same timestamp and
different contents, and aggregate events, go through Tachyon's listener
processor (parsed as they come off the wire) into the real Neo4j in every
order; the node ends the same each time.
"""

import copy
import dataclasses
import itertools
import uuid as uuid_lib

from tachyon.graph import compute
from tachyon.graph.compute import aggregates
from tachyon.model import records
from tachyon.notifications import base as notification_base
from tachyon.notifications import listener
from tests.fixtures.notifications import common
from tests.fixtures.notifications import nova
from tests.functional import base

HOST = 'compute-1'
OTHER = 'compute-2'
AT = 1.7e9


def _node(name, updated_at=1.0, zone='nova', aggregates=()):
    return records.ComputeNode(
        uuid=str(uuid_lib.uuid5(uuid_lib.NAMESPACE_DNS, name)),
        hostname=name, service_host=name, availability_zone=zone,
        aggregates=list(aggregates), updated_at=updated_at,
        inventories={rc: records.Inventory(rc, total=100)
                     for rc in records.COMPUTE_RESOURCE_CLASSES})


class NodeConvergenceCase(base.FunctionalTestCase):

    def setUp(self):
        super().setUp()
        self.flags(group='notifications', enrich_from_apis=False,
                   enabled_handlers=['nova'])
        self.processor = listener.Processor(
            self.conf, self.graph, listener.load_handlers(self.conf))

    def reset(self):
        self.neo4j.wipe()
        compute.upsert_compute_nodes(self.graph,
                                     [_node(HOST), _node(OTHER)])

    def deliver(self, events, batch=1):
        notes = [notification_base.Notification(
            note.publisher_id, note.event_type, copy.deepcopy(note.payload),
            {'message_id': common.uuid_for('m:%s:%s' % (at, index)),
             'timestamp': at}, note.priority)
            for index, (note, at) in enumerate(events)]
        for start in range(0, len(notes), batch):
            self.assertEqual(listener.ACK, self.processor.process(
                notes[start:start + batch]))
        self.assertEqual(0, self.processor.counts['malformed'])
        self.assertEqual(0, self.processor.counts['dropped'])

    def node_state(self, name=HOST):
        node = compute.get_node_by_name(self.graph, name)
        return (node.state, node.status, node.disabled_reason,
                node.availability_zone,
                tuple((a['id'], a['name']) for a in node.aggregates))

    def final_states(self, events, batch=1):
        """{final state: [orders giving it]} over every order."""
        finals = {}
        for order in itertools.permutations(range(len(events))):
            self.reset()
            self.deliver([events[i] for i in order], batch)
            finals.setdefault(self.node_state(), []).append(order)
        return finals


class TestServiceUpdateTies(NodeConvergenceCase):

    def same_time_updates(self):
        return [
            (nova.service('service.update', HOST, disabled=True,
                          disabled_reason='maintenance'), AT),
            (nova.service('service.update', HOST, forced_down=True), AT),
            (nova.service('service.update', HOST, disabled=True,
                          forced_down=True, disabled_reason='broken'), AT),
        ]

    def test_same_time_updates_converge_in_every_order(self):
        finals = self.final_states(self.same_time_updates())
        self.assertEqual(1, len(finals), finals)

    def test_same_time_updates_converge_across_batches(self):
        events = self.same_time_updates()
        one_by_one = self.final_states(events)
        in_pairs = self.final_states(events, batch=2)
        self.assertEqual(1, len(in_pairs), in_pairs)
        self.assertEqual(set(one_by_one), set(in_pairs))

    def test_newer_update_still_wins_over_same_time_ones(self):
        events = self.same_time_updates() + [
            (nova.service('service.update', HOST), AT + 1)]
        finals = self.final_states(events)
        self.assertEqual([('up', 'enabled', None, 'nova', ())],
                         list(finals))

    def test_redelivery_changes_nothing(self):
        events = self.same_time_updates()
        self.reset()
        self.deliver(events)
        state = self.node_state()
        generation = compute.get_node_by_name(self.graph, HOST).generation
        self.deliver(list(reversed(events)))
        self.assertEqual(state, self.node_state())
        self.assertEqual(generation, compute.get_node_by_name(
            self.graph, HOST).generation)


class TestServiceUpdateWrite(NodeConvergenceCase):
    """A service.update sets the service fields and leaves the rest.

    The write skips the node's inventories, zone and aggregates (the
    node read in the same transaction): what it leaves must be what was
    stored, and the fingerprint it stores must be that of the node now
    stored (a later full sync of the same node is only a touch).
    """

    def traits(self):
        node = compute.get_node_by_name(self.graph, HOST)
        return [t['name'] for t in self.graph.run_autocommit(
            'MATCH (:ResourceProvider {uuid: $u})-[:HAS_TRAIT]->(t) '
            'RETURN t.name AS name ORDER BY name', u=node.uuid)]

    def setUp(self):
        super().setUp()
        self.neo4j.wipe()
        compute.upsert_compute_nodes(self.graph, [_node(
            HOST, zone='az-1', aggregates=[{'id': 7, 'name': 'rack-12'}])])
        self.node = compute.get_node_by_name(self.graph, HOST)
        compute.upsert_instances(self.graph, [records.Instance(
            uuid=str(uuid_lib.uuid5(uuid_lib.NAMESPACE_DNS, 'vm-1')),
            name='vm-1', state='active', vcpus=2, memory=512, disk=10,
            node_uuid=self.node.uuid, updated_at=1.0)])
        # As it is before the event (the instance moved its generation).
        self.node = compute.get_node_by_name(self.graph, HOST)
        self.used = compute.get_node_used_resources(self.graph,
                                                    self.node.uuid)

    def test_sets_the_service_fields_and_keeps_the_rest(self):
        self.deliver([(nova.service('service.update', HOST, disabled=True,
                                    forced_down=True,
                                    disabled_reason='broken'), AT)])
        node = compute.get_node_by_name(self.graph, HOST)
        self.assertEqual(('down', 'disabled', 'broken', 'az-1',
                          ((7, 'rack-12'),)), self.node_state())
        self.assertEqual(['COMPUTE_HYPERVISOR', 'COMPUTE_STATUS_DOWN'],
                         self.traits())
        self.assertEqual(self.node.inventories, node.inventories)
        self.assertEqual(self.used, compute.get_node_used_resources(
            self.graph, node.uuid))
        self.assertEqual(self.node.generation + 1, node.generation)
        self.assertEqual(AT, node.updated_at)

        self.deliver([(nova.service('service.update', HOST), AT + 1)])
        self.assertEqual(('up', 'enabled', None, 'az-1',
                          ((7, 'rack-12'),)), self.node_state())
        self.assertEqual(['COMPUTE_HYPERVISOR', 'COMPUTE_STATUS_UP'],
                         self.traits())

    def test_the_stored_fingerprint_is_the_nodes(self):
        self.deliver([(nova.service('service.update', HOST, disabled=True,
                                    disabled_reason='maintenance'), AT)])
        node = compute.get_node_by_name(self.graph, HOST)
        # The node as stored, seen again by a later full sync: equal, so
        # only its time moves.
        counts = compute.upsert_compute_nodes(self.graph, [
            dataclasses.replace(node, updated_at=AT + 10)])
        self.assertEqual((0, 1), (counts.updated, counts.unchanged))
        self.assertEqual(node.generation, compute.get_node_by_name(
            self.graph, HOST).generation)


def _agg(action, hosts, metadata, name='rack-12', agg_id=7):
    return nova.aggregate('aggregate.%s.end' % action, name, hosts,
                          metadata, agg_id=agg_id)


class TestAggregateEvents(NodeConvergenceCase):

    def test_any_order_ends_as_the_newest_event_says(self):
        zone = {'availability_zone': 'az-1'}
        events = [
            (_agg('add_host', [HOST], zone), AT + 1),
            (_agg('add_host', [HOST, OTHER], zone), AT + 2),
            (_agg('update_prop', [HOST, OTHER], zone, name='rack-12b'),
             AT + 3),
            (_agg('remove_host', [OTHER], zone, name='rack-12b'), AT + 4),
        ]
        finals = self.final_states(events)
        self.assertEqual([('up', 'enabled', None, 'nova', ())],
                         list(finals))
        # The host that stayed: renamed aggregate, its zone.
        self.assertEqual('az-1', compute.get_node_by_name(
            self.graph, OTHER).availability_zone)
        self.assertEqual([{'id': 7, 'name': 'rack-12b'}],
                         compute.get_node_by_name(
                             self.graph, OTHER).aggregates)

    def test_zone_of_several_aggregates(self):
        self.reset()
        self.deliver([
            (_agg('add_host', [HOST], {'availability_zone': 'az-1'}), AT),
            (_agg('add_host', [HOST], {'ssd': 'true'}, name='ssd',
                  agg_id=8), AT + 1),
            (_agg('update_metadata', [HOST], {'availability_zone': 'az-2'},
                  name='ssd', agg_id=8), AT + 2)])
        self.assertEqual('az-1,az-2', self.node_state()[3])
        self.deliver([(_agg('remove_host', [], {'availability_zone': 'az-1'}),
                       AT + 3)])
        self.assertEqual(('az-2', ((8, 'ssd'),)), self.node_state()[3:])
        self.deliver([(_agg('update_metadata', [HOST], {}, name='ssd',
                            agg_id=8), AT + 4)])
        self.assertEqual(('nova', ((8, 'ssd'),)), self.node_state()[3:])

    def test_default_zone_is_the_operators(self):
        self.flags(group='notifications',
                   nova_default_availability_zone='internal')
        self.processor = listener.Processor(
            self.conf, self.graph, listener.load_handlers(self.conf))
        self.reset()
        self.deliver([
            (_agg('add_host', [HOST], {'availability_zone': 'az-1'}), AT),
            (_agg('remove_host', [], {'availability_zone': 'az-1'}),
             AT + 1)])
        self.assertEqual(('internal', ()), self.node_state()[3:])

    def test_a_sync_older_than_the_event_keeps_its_aggregates(self):
        self.reset()
        self.deliver([(_agg('add_host', [HOST],
                            {'availability_zone': 'az-1'}), AT)])
        # A full sync that began before the event, written after it.
        compute.upsert_compute_nodes(self.graph, [_node(
            HOST, updated_at=AT - 10, zone='nova')])
        self.assertEqual(('az-1', ((7, 'rack-12'),)),
                         self.node_state()[3:])
        # One that began after it is the API's word.
        compute.upsert_compute_nodes(self.graph, [_node(
            HOST, updated_at=AT + 10, zone='nova')])
        self.assertEqual(('nova', ()), self.node_state()[3:])

    def test_aggregates_and_service_updates_do_not_undo_each_other(self):
        events = [
            (_agg('add_host', [HOST], {'availability_zone': 'az-1'}),
             AT + 2),
            (nova.service('service.update', HOST, disabled=True,
                          disabled_reason='maintenance'), AT + 1),
            (nova.service('service.update', HOST, forced_down=True),
             AT + 3),
        ]
        finals = self.final_states(events)
        self.assertEqual([('down', 'enabled', None, 'az-1',
                           ((7, 'rack-12'),))], list(finals))


class TestAggregateDelete(NodeConvergenceCase):
    """aggregate.delete.end: the aggregate leaves the graph."""

    def states(self):
        return aggregates.aggregate_state_ids(self.graph)

    def aggregate_nodes(self):
        return aggregates.aggregate_names(self.graph)

    def test_delete_forgets_the_aggregate_and_its_members(self):
        self.reset()
        zone = {'availability_zone': 'az-1'}
        self.deliver([(_agg('add_host', [HOST, OTHER], zone), AT),
                      (_agg('add_host', [HOST], {}, name='ssd', agg_id=8),
                       AT + 1)])
        self.assertEqual([7, 8], self.states())
        # Nova deletes an empty aggregate only, but the graph may still
        # hold a host in it (its remove_host lost): the delete drops it.
        self.deliver([(_agg('remove_host', [HOST], zone), AT + 2),
                      (_agg('delete', [], zone), AT + 3)])
        self.assertEqual([8], self.states())
        self.assertEqual(['ssd'], self.aggregate_nodes())
        self.assertEqual(('nova', ((8, 'ssd'),)), self.node_state()[3:])
        self.assertEqual(('nova', ()), self.node_state(OTHER)[3:])

    def test_older_events_after_the_delete_change_nothing(self):
        zone = {'availability_zone': 'az-1'}
        events = [
            (_agg('add_host', [HOST], zone), AT + 1),
            (_agg('update_prop', [HOST, OTHER], zone, name='rack-12b'),
             AT + 2),
            (_agg('delete', [], zone, name='rack-12b'), AT + 3),
        ]
        finals = {}
        for order in itertools.permutations(range(len(events))):
            self.reset()
            self.deliver([events[i] for i in order])
            final = (self.node_state(), self.node_state(OTHER),
                     tuple(self.states()), tuple(self.aggregate_nodes()))
            finals.setdefault(final, []).append(order)
        self.assertEqual([(('up', 'enabled', None, 'nova', ()),
                           ('up', 'enabled', None, 'nova', ()), (), ())],
                         list(finals))

    def test_delete_and_update_at_the_same_time_delete_wins(self):
        zone = {'availability_zone': 'az-1'}
        events = [(_agg('add_host', [HOST], zone), AT),
                  (_agg('delete', [], zone), AT)]
        finals = self.final_states(events)
        self.assertEqual([('up', 'enabled', None, 'nova', ())],
                         list(finals))
        self.assertEqual([], self.states())
