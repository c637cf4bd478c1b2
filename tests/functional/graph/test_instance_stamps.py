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

from tachyon.graph import compute
from tachyon.graph.compute import instances as graph_instances
from tachyon.graph import events
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


class TestInstanceStamps(tc.ComputeTestCase):

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
