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

"""The stamp of a notification (tie key, node date) against real Neo4j.

The tie key and the date of the instance's node are written by the
statements that write the instance, and the stored state is read in one
statement: a batch of instance changes runs no statement of its own for
them.
"""

import dataclasses

from tachyon import exception
from tachyon.graph import compute
from tachyon.graph.compute import instances as graph_instances
from tachyon.graph import events
from tachyon.graph import inspect
from tachyon.graph import tombstones
from tachyon.model import changes as ch
from tests.functional.graph import test_compute as tc


class _CountingTx(object):
    """A transaction that remembers the statements it runs."""

    def __init__(self, tx, seen):
        self._tx, self._seen = tx, seen

    def run(self, query, *args, **kwargs):
        self._seen.append(query)
        return self._tx.run(query, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._tx, name)


I4 = 'aaaaaaaa-0000-4000-8000-000000000004'


class StampsCase(tc.ComputeTestCase):

    def setUp(self):
        super().setUp()
        compute.upsert_compute_nodes(self.graph, [
            tc.node(tc.N1, hostname='host-1'),
            tc.node(tc.N2, hostname='host-2')])

    def stored(self, uuid=tc.I1):
        rows = self.graph.run_autocommit(
            'MATCH (c:Consumer {uuid: $uuid}) RETURN c.updated_at AS at, '
            'c.tie_key AS tie_key, c.placed_at AS placed_at', uuid=uuid)
        return rows[0] if rows else None

    def node_of(self, uuid=tc.I1):
        return compute.get_instance_by_uuid(self.graph, uuid).node_uuid

    def change(self, at, uuid=tc.I1, node_name='host-1', **kw):
        record = tc.instance(uuid, node_uuid=None, node_name=node_name,
                             host=node_name, **kw)
        return ch.Change(kind=ch.INSTANCE, action=ch.UPSERT, key=uuid,
                         record=record, timestamp=at,
                         keep=(ch.KEEP_NODE,) if not node_name else ())

    def apply(self, changes):
        """apply_changes, and the statements its transaction ran."""
        seen = []
        write = self.graph.write

        def counting(work, *args, **kwargs):
            def unit(tx, *a, **k):
                return work(_CountingTx(tx, seen), *a, **k)
            return write(unit, *args, **kwargs)
        self.graph.write = counting
        try:
            events.apply_changes(self.graph, changes)
        finally:
            self.graph.write = write
        return seen

    @staticmethod
    def names(seen):
        """The names of the instance statements among ``seen``."""
        return {name for name, value in vars(graph_instances).items()
                if name.isupper() and isinstance(value, str)
                and value in seen}


class TestInstanceStamps(StampsCase):

    def test_stamp_is_written_with_the_instance(self):
        first = self.change(100.0, state='active')
        seen = self.apply([first])
        self.assertEqual({'at': 100.0, 'tie_key': events.tie_key(first),
                          'placed_at': 100.0}, self.stored())
        update = self.change(200.0, state='stopped')
        seen = self.apply([update])
        self.assertEqual({'at': 200.0, 'tie_key': events.tie_key(update),
                          'placed_at': 200.0}, self.stored())
        # One read of the stored state; no statement of its own for the
        # tie key or the node's date.
        for statement in (graph_instances.SET_TIE_KEYS,
                          graph_instances.SET_PLACED_AT,
                          graph_instances.GET_TIE_KEYS):
            self.assertNotIn(statement, seen)
        self.assertEqual(1, seen.count(
            graph_instances.GET_NOTIFICATION_STATE))

    def test_new_state_of_an_owned_instance_takes_the_light_update(self):
        # An instance with a project, a zone and a flavor that keeps
        # them and its node: only its properties and amounts change, in
        # UPDATE_INSTANCES. (The classification once read every project
        # as none, so that every update took WRITE_INSTANCES.)
        owned = dict(project_id='p-1', pinned_az='az-1',
                     flavor_name='m1.small')
        self.apply([self.change(100.0, state='active', **owned)])
        ran = self.names(self.apply([self.change(200.0, state='stopped',
                                                 **owned)]))
        self.assertIn('UPDATE_INSTANCES', ran)
        self.assertNotIn('WRITE_INSTANCES', ran)
        stored = compute.get_instance_by_uuid(self.graph, tc.I1)
        self.assertEqual(('stopped', 'p-1', 'az-1', tc.N1),
                         (stored.state, stored.project_id,
                          stored.pinned_az, stored.node_uuid))
        # A new project is a write of the edges.
        ran = self.names(self.apply([self.change(
            300.0, state='stopped', **dict(owned, project_id='p-2'))]))
        self.assertIn('WRITE_INSTANCES', ran)
        self.assertEqual('p-2', compute.get_instance_by_uuid(
            self.graph, tc.I1).project_id)

    def test_newer_equal_record_moves_time_and_stamp(self):
        self.apply([self.change(100.0, state='active')])
        again = self.change(300.0, state='active')
        self.apply([again])
        self.assertEqual({'at': 300.0, 'tie_key': events.tie_key(again),
                          'placed_at': 300.0}, self.stored())

    def test_update_without_host_keeps_the_node_date(self):
        self.apply([self.change(100.0, state='active')])
        hostless = self.change(200.0, node_name=None, state='stopped')
        self.apply([hostless])
        self.assertEqual({'at': 200.0, 'tie_key': events.tie_key(hostless),
                          'placed_at': 100.0}, self.stored())
        self.assertEqual(tc.N1, self.node_of())
        # An older change naming a node still moves the instance (its
        # node is newer than the node's date) and dates the node; the
        # instance keeps its time and tie key.
        moved = self.change(150.0, node_name='host-2', state='active')
        self.apply([moved])
        self.assertEqual({'at': 200.0, 'tie_key': events.tie_key(hostless),
                          'placed_at': 150.0}, self.stored())
        self.assertEqual(tc.N2, self.node_of())
        self.assertEqual('stopped', compute.get_instance_by_uuid(
            self.graph, tc.I1).state)

    def test_tie_against_the_stored_key(self):
        a = self.change(100.0, state='active')
        b = self.change(100.0, state='stopped')
        low, high = sorted([a, b], key=events.tie_key)
        self.apply([high])
        self.apply([low])
        self.assertEqual(events.tie_key(high), self.stored()['tie_key'])
        self.assertEqual(high.record.state, compute.get_instance_by_uuid(
            self.graph, tc.I1).state)
        self.graph.run_autocommit('MATCH (c:Consumer) DETACH DELETE c')
        self.apply([low])
        self.apply([high])
        self.assertEqual(events.tie_key(high), self.stored()['tie_key'])
        self.assertEqual(high.record.state, compute.get_instance_by_uuid(
            self.graph, tc.I1).state)

    def test_sync_keeps_the_tie_key_and_forgets_the_node_date(self):
        first = self.change(100.0, state='active')
        self.apply([first])
        compute.upsert_instances(self.graph, [dataclasses.replace(
            first.record, node_uuid=tc.N1, state='paused',
            updated_at=150.0)])
        self.assertEqual({'at': 150.0, 'tie_key': events.tie_key(first),
                          'placed_at': None}, self.stored())

    def test_row_without_time_takes_no_stamp(self):
        self.graph.write(lambda tx: compute.write_instances(
            tx, self.graph, [tc.instance(updated_at=None)],
            placed_by_caller=True, stamps={tc.I1: ('k', 5.0)}))
        self.assertEqual({'at': None, 'tie_key': None, 'placed_at': None},
                         self.stored())
        self.graph.write(lambda tx: compute.write_instances(
            tx, self.graph, [tc.instance(updated_at=10.0)],
            placed_by_caller=True, stamps={tc.I1: ('k', 5.0)}))
        self.assertEqual({'at': 10.0, 'tie_key': 'k', 'placed_at': 5.0},
                         self.stored())
        # Equal to the stored instance and newer: the touch stamps it.
        self.graph.write(lambda tx: compute.write_instances(
            tx, self.graph, [tc.instance(updated_at=20.0)],
            placed_by_caller=True, stamps={tc.I1: (None, 7.0)}))
        self.assertEqual({'at': 20.0, 'tie_key': 'k', 'placed_at': 7.0},
                         self.stored())

    def test_notification_state_reads_what_the_three_reads_did(self):
        self.apply([self.change(100.0, state='active'),
                    self.change(100.0, uuid=tc.I2, node_name='host-2')])
        compute.delete_instances(self.graph, [tc.I2], deleted_at=150.0)
        uuids = [tc.I1, tc.I2, tc.I3]

        def read(tx):
            return (graph_instances.notification_state(tx, uuids),
                    compute.instances_by_uuid(tx, uuids),
                    graph_instances.instance_ties(tx, uuids),
                    tombstones.get_tombstones(
                        tx, tombstones.KIND_INSTANCE, uuids))
        (stored, ties, tombs), old_stored, old_ties, old_tombs = (
            self.graph.read(read))
        self.assertEqual(old_stored, stored)
        self.assertEqual(old_ties, ties)
        self.assertEqual(old_tombs, tombs)
        self.assertEqual({tc.I1}, set(stored))
        self.assertEqual({tc.I2: 150.0}, tombs)


class TestInstanceStates(StampsCase):
    """The state of an instance, dated apart from the rest of it.

    A state-only change (an instance ``update``: a conductor's
    ``compute_task.*.error``) moves the state and its date alone; a whole
    payload sets the fields it is the newest for; a state-only change of
    an instance the graph does not have is kept pending, out of every
    read, for the whole payload that creates the instance.
    """

    def state(self, at, state='error', uuid=tc.I1):
        return ch.Change(kind=ch.INSTANCE, action=ch.UPDATE, key=uuid,
                         fields={'state': state}, timestamp=at)

    def delete(self, at, uuid=tc.I1):
        return ch.Change(kind=ch.INSTANCE, action=ch.DELETE, key=uuid,
                         timestamp=at)

    def registers(self, uuid=tc.I1):
        rows = self.graph.run_autocommit(
            'MATCH (c:Consumer {uuid: $uuid}) RETURN c.updated_at AS at, '
            'c.state AS state, c.state_at AS state_at, '
            'c.state_key AS state_key', uuid=uuid)
        return rows[0] if rows else None

    def pending(self, uuid=tc.I1):
        rows = self.graph.run_autocommit(
            'MATCH (p:PendingState {uuid: $uuid}) RETURN p.kind AS kind, '
            'p.state AS state, p.state_at AS state_at, '
            'p.state_key AS state_key', uuid=uuid)
        return rows[0] if rows else None

    def instance(self, uuid=tc.I1):
        return compute.get_instance_by_uuid(self.graph, uuid)

    def assertInvisible(self, uuid=tc.I1):
        """Nothing reads the instance: no read path, no usage, no count."""
        self.assertNotIn(uuid, compute.get_all_instances(self.graph))
        model = compute.get_compute_model(self.graph)
        self.assertEqual([], [i.uuid for i in model['instances']])
        self.assertEqual({}, model['mapping'])
        self.assertEqual({tc.N1: {'vcpu': 0, 'memory': 0, 'disk': 0},
                          tc.N2: {'vcpu': 0, 'memory': 0, 'disk': 0}},
                         compute.get_all_nodes_usage(self.graph))
        counts = inspect.model_stats(self.graph)['counts']
        self.assertEqual((0, 0), (counts['instances'],
                                  counts['unplaced_instances']))
        self.assertEqual(0, self.graph.run_autocommit(
            'MATCH (c:Consumer) RETURN count(c) AS n')[0]['n'])

    def test_state_change_keeps_the_time_tie_key_and_node(self):
        first = self.change(100.0, state='active')
        self.apply([first])
        gen = self.entity_generation()
        update = self.state(200.0)
        self.apply([update])
        self.assertEqual({'at': 100.0, 'tie_key': events.tie_key(first),
                          'placed_at': 100.0}, self.stored())
        self.assertEqual({'at': 100.0, 'state': 'error', 'state_at': 200.0,
                          'state_key': events.tie_key(update)},
                         self.registers())
        self.assertEqual(('error', tc.N1), (self.instance().state,
                                            self.instance().node_uuid))
        self.assertEqual(gen + 1, self.entity_generation())
        # The same state again, later: its date moves, nothing else.
        graph_gen = self.generation()
        again = self.state(300.0)
        self.apply([again])
        self.assertEqual(300.0, self.registers()['state_at'])
        self.assertEqual(gen + 1, self.entity_generation())
        self.assertEqual(graph_gen, self.generation())
        # An older one loses.
        self.apply([self.state(250.0, 'active')])
        self.assertEqual('error', self.instance().state)

    def entity_generation(self, uuid=tc.I1):
        return self.graph.run_autocommit(
            'MATCH (c:Consumer {uuid: $uuid}) RETURN c.generation AS g',
            uuid=uuid)[0]['g']

    def generation(self):
        return self.graph.run_autocommit(
            "MATCH (g:GlobalState {id: 'global'}) "
            'RETURN g.generation AS g')[0]['g']

    def test_older_whole_payload_sets_all_but_the_state(self):
        self.apply([self.change(100.0, state='active')])
        self.apply([self.state(300.0)])
        resized = self.change(200.0, node_name='host-2', state='active',
                              vcpus=4, memory=4096, metadata={'k': 'v'})
        self.apply([resized])
        got = self.instance()
        self.assertEqual(('error', tc.N2, 4, 4096, {'k': 'v'}),
                         (got.state, got.node_uuid, got.vcpus, got.memory,
                          got.metadata))
        self.assertEqual({'vcpu': 4, 'memory': 4096, 'disk': 20},
                         compute.get_all_nodes_usage(self.graph)[tc.N2])
        self.assertEqual((200.0, 300.0), (self.registers()['at'],
                                          self.registers()['state_at']))
        # A whole payload newer than both sets the state again, and
        # dates it by its own time.
        self.apply([self.change(400.0, node_name='host-2', state='stopped',
                                vcpus=4, memory=4096)])
        self.assertEqual({'at': 400.0, 'state': 'stopped', 'state_at': None,
                          'state_key': None}, self.registers())

    def test_same_record_older_than_the_state_only_moves_its_time(self):
        self.apply([self.change(100.0, state='active')])
        self.apply([self.state(300.0)])
        # Equal to what the graph holds but for its (older) state.
        self.apply([self.change(200.0, state='active')])
        self.assertEqual({'at': 200.0, 'state': 'error', 'state_at': 300.0,
                          'state_key': events.tie_key(self.state(300.0))},
                         self.registers())
        # Newer than the state, with the state the graph holds: the state
        # now dates from the record.
        self.apply([self.change(400.0, state='error')])
        self.assertEqual({'at': 400.0, 'state': 'error', 'state_at': None,
                          'state_key': None}, self.registers())

    def test_state_tie_goes_to_the_greater_key(self):
        self.apply([self.change(100.0, state='active')])
        a, b = self.state(200.0, 'error'), self.state(200.0, 'stopped')
        whole = self.change(200.0, state='paused')
        ordered = sorted([a, b, whole], key=events.tie_key)
        for order in (ordered, ordered[::-1]):
            self.graph.run_autocommit('MATCH (c:Consumer) DETACH DELETE c')
            self.apply([self.change(100.0, state='active')])
            for change in order:
                self.apply([change])
            self.assertEqual(ordered[-1].fields.get('state') or (
                ordered[-1].record.state), self.instance().state)

    def test_unknown_instance_keeps_its_state_pending(self):
        update = self.state(200.0)
        counts = events.apply_changes(self.graph, [update])
        self.assertEqual(0, counts.changed)
        self.assertEqual({'kind': 'instance', 'state': 'error',
                          'state_at': 200.0,
                          'state_key': events.tie_key(update)},
                         self.pending())
        self.assertInvisible()
        # An older one does not replace it; a newer one does.
        self.apply([self.state(150.0, 'active')])
        self.assertEqual('error', self.pending()['state'])
        # The create, older, takes the pending state and drops it.
        create = self.change(100.0, state='building')
        self.apply([create])
        got = self.instance()
        self.assertEqual(('error', tc.N1), (got.state, got.node_uuid))
        self.assertEqual({'at': 100.0, 'state': 'error', 'state_at': 200.0,
                          'state_key': events.tie_key(update)},
                         self.registers())
        self.assertIsNone(self.pending())
        self.assertEqual({'vcpu': 2, 'memory': 2048, 'disk': 20},
                         compute.get_all_nodes_usage(self.graph)[tc.N1])

    def test_newer_create_replaces_the_pending_state(self):
        self.apply([self.state(100.0)])
        self.apply([self.change(200.0, state='active')])
        self.assertEqual({'at': 200.0, 'state': 'active', 'state_at': None,
                          'state_key': None}, self.registers())
        self.assertIsNone(self.pending())

    def test_pending_state_and_create_in_one_batch(self):
        for order in ((0, 1), (1, 0)):
            self.graph.run_autocommit('MATCH (n) WHERE n:Consumer OR '
                                      'n:PendingState DETACH DELETE n')
            both = [self.change(100.0, state='building'),
                    self.state(200.0)]
            self.apply([both[i] for i in order])
            self.assertEqual('error', self.instance().state)
            self.assertIsNone(self.pending())

    def test_delete_newer_than_the_pending_state_drops_it(self):
        for delete_at in (300.0, 200.0):
            # At the same time, the delete wins too.
            self.graph.run_autocommit('MATCH (n) WHERE n:Tombstone OR '
                                      'n:PendingState DELETE n')
            self.apply([self.state(200.0)])
            self.apply([self.delete(delete_at)])
            self.assertIsNone(self.pending(), delete_at)
            self.apply([self.change(150.0, state='active')])
            self.assertInvisible()
        # A state-only change older than the delete is not kept.
        self.apply([self.state(150.0)])
        self.assertIsNone(self.pending())
        self.apply([self.change(400.0, state='active')])
        self.assertEqual('active', self.instance().state)

    def test_delete_older_than_the_state_leaves_it_pending(self):
        # The state-only change came after the delete; it was handled
        # before it.
        self.apply([self.change(100.0, state='active')])
        update = self.state(300.0)
        self.apply([update])
        self.apply([self.delete(200.0)])
        self.assertInvisible()
        self.assertEqual({'kind': 'instance', 'state': 'error',
                          'state_at': 300.0,
                          'state_key': events.tie_key(update)},
                         self.pending())
        # Older than the tombstone: refused; newer (a restore): it comes
        # back in the state the later change set.
        self.apply([self.change(150.0, state='active')])
        self.assertInvisible()
        self.apply([self.change(250.0, state='active')])
        self.assertEqual('error', self.instance().state)
        self.assertIsNone(self.pending())

    def test_state_change_after_a_delete(self):
        self.apply([self.delete(200.0)])
        self.apply([self.state(150.0)])
        self.assertIsNone(self.pending())
        self.apply([self.state(250.0)])
        self.assertEqual(250.0, self.pending()['state_at'])
        self.assertInvisible()

    def test_delete_instances_keeps_a_newer_state_pending(self):
        self.apply([self.change(100.0, state='active'),
                    self.change(100.0, uuid=tc.I2, state='active')])
        self.apply([self.state(300.0), self.state(300.0, uuid=tc.I2)])
        self.assertEqual(1, compute.delete_instances(self.graph, [tc.I1],
                                                     deleted_at=200.0))
        self.assertEqual('error', self.pending()['state'])
        self.assertEqual(1, compute.delete_instances(self.graph, [tc.I2],
                                                     deleted_at=300.0))
        self.assertIsNone(self.pending(tc.I2))

    def test_sync_against_the_state(self):
        # A sync older than a notification's state keeps that state and
        # sets the rest; a newer one sets everything.
        self.apply([self.change(100.0, state='active')])
        self.apply([self.state(300.0)])
        compute.upsert_instances(self.graph, [tc.instance(
            node_uuid=tc.N2, vcpus=8, state='active', updated_at=200.0)])
        got = self.instance()
        self.assertEqual(('error', tc.N2, 8), (got.state, got.node_uuid,
                                               got.vcpus))
        self.assertEqual(300.0, self.registers()['state_at'])
        compute.upsert_instances(self.graph, [tc.instance(
            node_uuid=tc.N2, vcpus=8, state='active', updated_at=400.0)])
        self.assertEqual({'at': 400.0, 'state': 'active', 'state_at': None,
                          'state_key': None}, self.registers())

    def test_sync_replaces_older_pending_states(self):
        self.apply([self.state(100.0), self.state(300.0, uuid=tc.I2),
                    self.state(100.0, uuid=tc.I3)])
        # The sync began at 200 and lists I1 and I2.
        compute.upsert_instances(self.graph, [
            tc.instance(tc.I1, state='active', updated_at=200.0),
            tc.instance(tc.I2, state='active', updated_at=200.0)])
        self.assertEqual('active', self.instance(tc.I1).state)
        self.assertEqual('error', self.instance(tc.I2).state)
        self.assertEqual((None, None), (self.pending(tc.I1),
                                        self.pending(tc.I2)))
        # It does not list I3, whose pending state is older than it.
        self.apply([self.state(250.0, uuid=I4)])
        compute.prune_instances(self.graph, [tc.I1, tc.I2], before=200.0)
        self.assertIsNone(self.pending(tc.I3))
        self.assertIsNotNone(self.pending(I4))
        self.assertEqual({tc.I1, tc.I2},
                         set(compute.get_all_instances(self.graph)))

    def test_prune_spares_an_instance_whose_state_is_newer(self):
        self.apply([self.change(100.0, state='active'),
                    self.change(100.0, uuid=tc.I2, state='active')])
        self.apply([self.state(300.0)])
        self.assertEqual(1, compute.prune_instances(self.graph, [],
                                                    before=200.0))
        self.assertEqual([tc.I1], list(compute.get_all_instances(
            self.graph)))

    def test_purge_removes_old_pending_states(self):
        self.apply([self.state(100.0), self.state(300.0, uuid=tc.I2)])
        self.assertEqual(1, tombstones.purge_tombstones(self.graph, 200.0))
        self.assertIsNone(self.pending(tc.I1))
        self.assertIsNotNone(self.pending(tc.I2))

    def test_update_of_another_field_is_refused(self):
        self.apply([self.change(100.0, state='active')])
        bad = ch.Change(kind=ch.INSTANCE, action=ch.UPDATE, key=tc.I1,
                        fields={'state': 'error', 'vcpus': 9},
                        timestamp=200.0)
        self.assertRaises(exception.InvalidParameter, self.apply, [bad])
        self.assertEqual('active', self.instance().state)

    def test_state_date_older_than_the_record_is_not_the_state_s(self):
        # An engine of the previous release (during an upgrade) writes a
        # newer whole record and leaves state_at alone: the record's time
        # dates the state then.
        self.apply([self.change(100.0, state='active')])
        self.apply([self.state(200.0)])
        self.graph.run_autocommit(
            'MATCH (c:Consumer {uuid: $uuid}) SET c.updated_at = 300.0',
            uuid=tc.I1)
        self.apply([self.state(250.0, 'stopped')])
        self.assertEqual('error', self.instance().state)
        self.apply([self.state(350.0, 'stopped')])
        self.assertEqual('stopped', self.instance().state)
