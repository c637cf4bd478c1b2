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

"""The staged replacing import against the real Neo4j: the state it
ends in, what it keeps of the rest of the graph, and what a failure
leaves."""

import dataclasses
import time

import fixtures

from tachyon import exception
from tachyon.graph import common
from tachyon.graph import compute
from tachyon.graph.compute import staging
from tachyon.graph import leases
from tachyon.graph import reservations
from tachyon.graph import storage
from tachyon.graph import tombstones
from tests.functional.graph import test_compute as base
from tests.functional.graph import test_driver
from tests.functional.graph import test_storage
from tests.fixtures import services

N1, N2, N3 = base.N1, base.N2, base.N3
N4 = '44444444-4444-4444-8444-444444444444'
I1, I2, I3 = base.I1, base.I2, base.I3
I4 = 'aaaaaaaa-0000-4000-8000-000000000004'
I9 = 'aaaaaaaa-0000-4000-8000-000000000009'
I5 = 'aaaaaaaa-0000-4000-8000-000000000005'
I6 = 'aaaaaaaa-0000-4000-8000-000000000006'
V1 = test_storage.V1
node, instance = base.node, base.instance

# A hold of 4 VCPUs on N1 for an instance not on it (so it counts).
HOLD = """
MATCH (inv:Inventory {provider_uuid: $node, resource_class: 'VCPU'})
CREATE (r:Reservation {action_plan_uuid: 'plan-1', state: 'held'})
       -[:HAS_HOLD]->(h:ReservationHold {id: 'hold-1'})
CREATE (h)-[:HOLDS {resource_class: 'VCPU', used: 4,
                    consumer_uuid: 'elsewhere', expires_at: $until}]->(inv)
"""


class TestStagedImport(base.ComputeTestCase):

    def staged_labels(self):
        return {label: self.labels(label) for label in (
            list(staging.STAGED.values())
            + ['RetiredResourceProvider', 'RetiredInventory',
               'RetiredConsumer'])}

    def first_model(self):
        compute.import_compute_model(self.graph, [
            node(N1), node(N2), node(N3), node(N4)], [
            instance(I1, N1), instance(I2, N1), instance(I3, N2),
            instance(I4, N4)])
        compute.delete_instances(self.graph, [I9], deleted_at=time.time())
        storage.upsert_volumes(self.graph, [test_storage.volume(
            attachments=[{'server_id': I1, 'attachment_id': 'a1'}])])
        self.graph.run_autocommit(HOLD, node=N1, until=time.time() + 3600)

    def second_model(self):
        # N1 the same, N2 changed, N3 gone, N4 the same; I1, I3, I4 the
        # same, I2 gone, I9 back from its tombstone.
        return ([node(N1), node(N2, vcpus=32), node(N4)],
                [instance(I1, N1), instance(I3, N2), instance(I4, N4),
                 instance(I9, N2)])

    def assertSecondModel(self, counts):
        """The second model imported over the first: counts, instances."""
        self.assertEqual(common.SyncCounts(created=1, updated=1, deleted=2,
                                           unchanged=5), counts)
        self.assertEqual({I1, I3, I4, I9}, {
            i.uuid for i in compute.get_compute_model(
                self.graph)['instances']})

    def test_end_state_and_what_the_rest_of_the_graph_keeps(self):
        self.first_model()
        held = self.graph.read(reservations.all_held)
        self.assertEqual({N1: {'VCPU': 4}}, held)
        # I1 and I2, 2 VCPUs each, and the hold's 4.
        self.assertEqual(8, compute.get_node_used_resources(
            self.graph, N1)['vcpu'])
        before = {u: self.entity_generation(u) for u in (N1, N2, N4, I1, I4)}
        generation = self.generation()

        nodes, instances = self.second_model()
        counts = compute.import_compute_model(self.graph, nodes, instances,
                                              replace=True)

        self.assertEqual(common.SyncCounts(created=1, updated=1, deleted=2,
                                           unchanged=5), counts)
        model = compute.get_compute_model(self.graph)
        self.assertEqual({N1, N2, N4}, {n.uuid for n in model['nodes']})
        self.assertEqual({I1, I3, I4, I9},
                         {i.uuid for i in model['instances']})
        self.assertEqual(32, compute.get_node_by_uuid(
            self.graph, N2).inventories['VCPU'].total)
        self.assertEqual(N2, compute.get_node_by_instance_uuid(
            self.graph, I9).uuid)
        # Usage is the new model's (I2 left N1), the hold's 4 still in.
        self.assertEqual(6, compute.get_node_used_resources(
            self.graph, N1)['vcpu'])
        # The volume stays attached to the instance the model keeps, and
        # the hold still holds N1's VCPUs.
        self.assertEqual(1, self.count(
            'MATCH (:Consumer {uuid: $v})-[:ATTACHED_TO]->'
            '(:Consumer {uuid: $s}) RETURN count(*) AS n', v=V1, s=I1))
        self.assertEqual(held, self.graph.read(reservations.all_held))
        # Unchanged entities keep their generation; N1 (its usage moved)
        # and N2 (its inventory) move theirs; the global one moves.
        self.assertEqual(before[N4], self.entity_generation(N4))
        self.assertEqual(before[I1], self.entity_generation(I1))
        self.assertEqual(before[I4], self.entity_generation(I4))
        self.assertGreater(self.entity_generation(N1), before[N1])
        self.assertGreater(self.entity_generation(N2), before[N2])
        self.assertGreater(self.generation(), generation)
        # The deleted are tombstoned, the revived no longer.
        found = self.graph.read(tombstones.get_tombstones,
                                tombstones.KIND_INSTANCE, [I2, I9])
        self.assertEqual({I2}, set(found))
        self.assertEqual({N3}, set(self.graph.read(
            tombstones.get_tombstones, tombstones.KIND_COMPUTE_NODE, [N3])))
        # Nothing staged or retired is left, and no orphan: N3's
        # inventories went with it.
        self.assertEqual(0, staging.leftovers(self.graph))
        self.assertEqual(set([0]), set(self.staged_labels().values()))
        self.assertEqual(9, self.labels('Inventory'))

    def test_changes_on_nodes_the_import_keeps(self):
        # Every node the same, so each stays live through the switch: I1
        # changes on N1, I2 moves from N1 to N4, I3 and I4 stay.
        self.first_model()
        before = {u: self.entity_generation(u)
                  for u in (N1, N2, N3, N4, I1, I2, I3)}
        counts = compute.import_compute_model(self.graph, [
            node(N1), node(N2), node(N3), node(N4)], [
            instance(I1, N1, vcpus=3), instance(I2, N4), instance(I3, N2),
            instance(I4, N4)], replace=True)

        self.assertEqual(common.SyncCounts(updated=2, unchanged=6), counts)
        # I1's 3 VCPUs and the hold's 4 on N1; I2's 2 and I4's 2 on N4.
        self.assertEqual(7, compute.get_node_used_resources(
            self.graph, N1)['vcpu'])
        self.assertEqual(4, compute.get_node_used_resources(
            self.graph, N4)['vcpu'])
        self.assertEqual(N4, compute.get_node_by_instance_uuid(
            self.graph, I2).uuid)
        # Each instance uses its node's three inventories, and only live
        # instances use live inventories.
        self.assertEqual(12, self.count(
            'MATCH (:Consumer {type: "instance"})-[r:CONSUMES]->'
            '(:Inventory) RETURN count(r) AS n'))
        self.assertEqual(0, self.count(
            'MATCH (c)-[r:CONSUMES]->(:Inventory) WHERE NOT c:Consumer '
            'RETURN count(r) AS n'))
        # The volume follows the replaced I1.
        self.assertEqual(1, self.count(
            'MATCH (:Consumer {uuid: $v})-[:ATTACHED_TO]->'
            '(:Consumer {uuid: $s}) RETURN count(*) AS n', v=V1, s=I1))
        # The nodes whose usage moved move their generation; the others,
        # and the unchanged instances, keep theirs.
        self.assertGreater(self.entity_generation(N1), before[N1])
        self.assertGreater(self.entity_generation(N4), before[N4])
        self.assertEqual(before[N2], self.entity_generation(N2))
        self.assertEqual(before[N3], self.entity_generation(N3))
        self.assertGreater(self.entity_generation(I1), before[I1])
        self.assertGreater(self.entity_generation(I2), before[I2])
        self.assertEqual(before[I3], self.entity_generation(I3))
        self.assertEqual(0, staging.leftovers(self.graph))
        self.assertEqual(12, self.labels('Inventory'))

    def test_a_write_while_staging_loses_to_the_import(self):
        # I3 and I4 are found unchanged, then a writer deletes I3 and
        # moves I4 before the switch: the import wins, as it would had
        # it run in one transaction after that writer.
        self.first_model()
        real = staging._stage_nodes
        now = time.time()

        def meanwhile(tx, *args):
            if not meanwhile.done:
                meanwhile.done = True
                compute.delete_instances(self.graph, [I3], deleted_at=now)
                compute.upsert_instances(self.graph, [
                    instance(I4, N1, updated_at=now)])
            return real(tx, *args)

        meanwhile.done = False
        self.useFixture(fixtures.MonkeyPatch(
            'tachyon.graph.compute.staging._stage_nodes', meanwhile))
        counts = compute.import_compute_model(self.graph, [
            node(N1), node(N2), node(N3), node(N4)], [
            instance(I1, N1), instance(I2, N1), instance(I3, N2),
            instance(I4, N4)], replace=True)

        self.assertTrue(meanwhile.done)
        self.assertEqual(common.SyncCounts(created=1, updated=1,
                                           unchanged=6), counts)
        self.assertEqual(N2, compute.get_node_by_instance_uuid(
            self.graph, I3).uuid)
        self.assertEqual(N4, compute.get_node_by_instance_uuid(
            self.graph, I4).uuid)
        self.assertEqual({}, self.graph.read(
            tombstones.get_tombstones, tombstones.KIND_INSTANCE, [I3]))
        # I1, I2 and the hold on N1; I4 is back on N4.
        self.assertEqual(8, compute.get_node_used_resources(
            self.graph, N1)['vcpu'])
        self.assertEqual(2, compute.get_node_used_resources(
            self.graph, N4)['vcpu'])
        self.assertEqual(0, staging.leftovers(self.graph))

    def test_nodes_a_writer_changes_before_the_switch(self):
        # N1 and N2 are the import's; their staged instances' uses are
        # copied onto N1 (the same then) and not onto N2 (changed then).
        # Before the switch a writer changes N1 and puts N2 back: the
        # import replaces N1 and keeps N2 after all.
        self.first_model()
        real = staging._copy_uses
        now = time.time()

        def meanwhile(run, *args):
            compute.upsert_compute_nodes(self.graph, [
                node(N2, vcpus=32, updated_at=now)])
            copied = real(run, *args)
            compute.upsert_compute_nodes(self.graph, [
                node(N1, vcpus=24, updated_at=now),
                node(N2, updated_at=now + 1)])
            return copied

        self.useFixture(fixtures.MonkeyPatch(
            'tachyon.graph.compute.staging._copy_uses', meanwhile))
        compute.import_compute_model(self.graph, [
            node(N1), node(N2), node(N3), node(N4)], [
            instance(I1, N1, vcpus=3), instance(I2, N1),
            instance(I3, N2, vcpus=1), instance(I4, N4)], replace=True)

        for uuid in (N1, N2):
            self.assertEqual(16, compute.get_node_by_uuid(
                self.graph, uuid).inventories['VCPU'].total)
        # I1's 3, I2's 2 and the hold's 4 on N1; I3's 1 on N2.
        self.assertEqual(9, compute.get_node_used_resources(
            self.graph, N1)['vcpu'])
        self.assertEqual(1, compute.get_node_used_resources(
            self.graph, N2)['vcpu'])
        self.assertEqual(12, self.count(
            'MATCH (:Consumer {type: "instance"})-[r:CONSUMES]->(i) '
            'RETURN count(r) AS n'))
        self.assertEqual(12, self.count(
            'MATCH (:Consumer {type: "instance"})-[r:CONSUMES]->'
            '(:Inventory) RETURN count(r) AS n'))
        self.assertEqual(0, staging.leftovers(self.graph))

    def test_same_model_again_changes_nothing(self):
        self.first_model()
        nodes, instances = self.second_model()
        # And an instance on no node.
        instances.append(instance(I2, None, host='gone'))
        compute.import_compute_model(self.graph, nodes, instances,
                                     replace=True)
        generation = self.generation()
        before = {u: self.entity_generation(u) for u in (N1, N2, I1, I2)}
        reports = []
        counts = compute.import_compute_model(
            self.graph, nodes, instances, replace=True,
            report=lambda message, *args: reports.append(message % args))
        self.assertEqual(common.SyncCounts(unchanged=8), counts)
        self.assertEqual(generation, self.generation())
        self.assertEqual(before, {u: self.entity_generation(u)
                                  for u in (N1, N2, I1, I2)})
        # No instance was staged: each stayed live as it was.
        self.assertIn('staged 3 nodes and 0 instances (5 left as they '
                      'are)', reports[0])
        self.assertRaises(exception.NotFound,
                          compute.get_node_by_instance_uuid, self.graph, I2)
        self.assertEqual(0, staging.leftovers(self.graph))

    def test_failure_while_staging_leaves_the_old_model_whole(self):
        self.first_model()
        old = compute.get_compute_model(self.graph)
        real = staging._stage_instances

        def fail(tx, *args):
            # The nodes are staged by now; the instances are not.
            raise exception.GraphRefused(neo4j_code='Test.Failure',
                                         reason='staging failed')

        self.useFixture(fixtures.MonkeyPatch(
            'tachyon.graph.compute.staging._stage_instances', fail))
        nodes, instances = self.second_model()
        self.assertRaises(exception.GraphRefused,
                          compute.import_compute_model, self.graph, nodes,
                          instances, replace=True, chunk=1)
        self.assertEqual(old, compute.get_compute_model(self.graph))
        # What was staged stays, invisible, until the next import.
        self.assertGreater(staging.leftovers(self.graph), 0)
        self.useFixture(fixtures.MonkeyPatch(
            'tachyon.graph.compute.staging._stage_instances', real))
        compute.import_compute_model(self.graph, nodes, instances,
                                     replace=True, chunk=1)
        self.assertEqual({I1, I3, I4, I9}, {
            i.uuid for i in compute.get_compute_model(
                self.graph)['instances']})
        self.assertEqual(0, staging.leftovers(self.graph))

    def test_a_switch_that_outlasts_its_lease_keeps_it(self):
        # The switch holds the lease's lock from its fence on, so no one
        # can take it; committing after its expiry must not lose it (the
        # purge that follows needs it).
        self.first_model()
        real = staging.compute_instances.drop_pending_states

        def slow(tx, before):
            time.sleep(3.0)
            return real(tx, before)

        self.useFixture(fixtures.MonkeyPatch(
            'tachyon.graph.compute.instances.drop_pending_states', slow))
        nodes, instances = self.second_model()
        counts = compute.import_compute_model(
            self.graph, nodes, instances, replace=True, lease_ttl=2.0)
        self.assertSecondModel(counts)
        self.assertEqual(0, staging.leftovers(self.graph))

    def test_a_switch_refused_for_memory_is_not_retried(self):
        # Neo4j's refusal is transient to the driver; retrying the switch
        # would need as much memory, and would find the lease run out.
        self.first_model()
        old = compute.get_compute_model(self.graph)
        limit = test_driver.pool_limit(self.graph)
        real = staging.compute_instances.drop_pending_states
        calls = []

        def hungry(tx, before):
            calls.append(1)
            test_driver.exhaust_memory(tx, limit)
            return real(tx, before)

        self.useFixture(fixtures.MonkeyPatch(
            'tachyon.graph.compute.instances.drop_pending_states', hungry))
        nodes, instances = self.second_model()
        exc = self.assertRaises(exception.GraphOutOfMemory,
                                compute.import_compute_model, self.graph,
                                nodes, instances, replace=True)
        self.assertEqual(1, len(calls))
        self.assertIn('dbms.memory.transaction.total.max', str(exc))
        self.assertIn('switch to the staged model was refused', str(exc))
        self.assertEqual(old, compute.get_compute_model(self.graph))
        self.assertGreater(staging.leftovers(self.graph), 0)
        # The lease was released: the next import runs, and purges.
        self.useFixture(fixtures.MonkeyPatch(
            'tachyon.graph.compute.instances.drop_pending_states', real))
        compute.import_compute_model(self.graph, nodes, instances,
                                     replace=True)
        self.assertEqual({I1, I3, I4, I9}, {
            i.uuid for i in compute.get_compute_model(
                self.graph)['instances']})
        self.assertEqual(0, staging.leftovers(self.graph))

    def test_the_purge_deletes_a_kept_nodes_uses_in_chunks(self):
        # Every node the same, so their staged copies are purged after
        # the switch with the uses the staged instances gave them: those
        # go a chunk of edges at a time, not with their inventory.
        self.first_model()
        real = staging._purge_chunk
        done = []

        def recorded(tx, query, limit, holder):
            n = real(tx, query, limit, holder)
            done.append((query, n))
            return n

        self.useFixture(fixtures.MonkeyPatch(
            'tachyon.graph.compute.staging._purge_chunk', recorded))
        compute.import_compute_model(self.graph, [
            node(N1), node(N2), node(N3), node(N4)], [
            instance(I1, N1, vcpus=3), instance(I2, N4), instance(I3, N2),
            instance(I4, N4)], replace=True, chunk=2)
        uses = staging._PURGE_USES % 'StagedInventory'
        # I1 and I2 were staged: three uses each, of kept N1 and N4.
        self.assertEqual(6, sum(n for query, n in done if query == uses))
        self.assertTrue(all(n <= 2 for _query, n in done), done)
        self.assertEqual(0, staging.leftovers(self.graph))
        self.assertEqual(12, self.count(
            'MATCH ()-[r:CONSUMES]->() RETURN count(r) AS n'))

    def test_a_purge_failing_after_the_switch_keeps_the_import(self):
        # The switch is the import's commit: a purge that fails after it
        # is logged, and the next import purges what is left.
        self.first_model()
        real_switch, real_purge = staging._switch, staging._purge_chunk
        switched = []

        def switch(*args):
            answer = real_switch(*args)
            switched.append(True)
            return answer

        def purge(tx, query, limit, holder):
            if switched:
                raise exception.GraphUnavailable(uri='bolt://test',
                                                 reason='gone')
            return real_purge(tx, query, limit, holder)

        self.useFixture(fixtures.MonkeyPatch(
            'tachyon.graph.compute.staging._switch', switch))
        self.useFixture(fixtures.MonkeyPatch(
            'tachyon.graph.compute.staging._purge_chunk', purge))
        log = self.useFixture(fixtures.FakeLogger(
            name='tachyon.graph.compute.staging'))
        nodes, instances = self.second_model()
        counts = compute.import_compute_model(self.graph, nodes, instances,
                                              replace=True)
        self.assertSecondModel(counts)
        self.assertGreater(staging.leftovers(self.graph), 0)
        self.assertIn('purging the old one failed', log.output)
        self.assertIn('gone', log.output)
        # The lease was released; the next import purges the rest.
        self.useFixture(fixtures.MonkeyPatch(
            'tachyon.graph.compute.staging._purge_chunk', real_purge))
        compute.import_compute_model(self.graph, nodes, instances,
                                     replace=True)
        self.assertEqual(0, staging.leftovers(self.graph))

    def release_fails(self):
        def release(graph, name, holder, keep_until=None, now=None):
            raise exception.GraphUnavailable(uri='bolt://test',
                                             reason='gone at the end')

        self.useFixture(fixtures.MonkeyPatch(
            'tachyon.graph.leases.release', release))
        return self.useFixture(fixtures.FakeLogger(
            name='tachyon.graph.compute.staging'))

    def test_a_lease_not_released_does_not_fail_the_import(self):
        # Neo4j gone after the purge: the import committed, and says so;
        # its lease runs out and the next import runs.
        self.first_model()
        log = self.release_fails()
        nodes, instances = self.second_model()
        counts = compute.import_compute_model(
            self.graph, nodes, instances, replace=True, lease_ttl=1.0)
        self.assertSecondModel(counts)
        self.assertIn('Could not release the lease %s' % staging.LEASE,
                      log.output)
        self.assertIn('gone at the end', log.output)
        # Still held until it runs out.
        self.assertRaises(exception.InvalidState,
                          compute.import_compute_model, self.graph, nodes,
                          instances, replace=True)
        time.sleep(1.2)
        compute.import_compute_model(self.graph, nodes, instances,
                                     replace=True)
        self.assertEqual(0, staging.leftovers(self.graph))

    def test_a_lease_not_released_leaves_the_imports_own_error(self):
        self.first_model()
        old = compute.get_compute_model(self.graph)
        self.release_fails()

        def refuse(tx, graph, rows, holder):
            raise exception.GraphRefused(neo4j_code='Neo.ClientError.Test',
                                         reason='refused while staging')

        self.useFixture(fixtures.MonkeyPatch(
            'tachyon.graph.compute.staging._stage_instances', refuse))
        nodes, instances = self.second_model()
        exc = self.assertRaises(exception.GraphRefused,
                                compute.import_compute_model, self.graph,
                                nodes, instances, replace=True)
        self.assertIn('refused while staging', str(exc))
        self.assertEqual(old, compute.get_compute_model(self.graph))

    def test_one_import_at_a_time(self):
        self.assertTrue(leases.acquire(self.graph, staging.LEASE, 'other',
                                       60))
        exc = self.assertRaises(exception.InvalidState,
                                compute.import_compute_model, self.graph,
                                [node(N1)], [], replace=True)
        self.assertIn(staging.LEASE, str(exc))
        self.assertIn('another staged import', str(exc))
        self.assertEqual(0, self.labels('ResourceProvider'))


class TestStagedMerge(base.ComputeTestCase):
    """A merge larger than a chunk is staged, and ends as one of it would.

    Each scenario runs both ways on the same first model.
    """

    first_model = TestStagedImport.first_model

    def pending(self, uuid, state, at):
        self.graph.write(compute.instances.write_states, self.graph, [
            compute.instances.StateChange(uuid=uuid, state=state, at=at,
                                          key=None)])

    def outcome(self, merge):
        """The state a merge leaves, run one way, from the first model."""
        self.graph.run_autocommit(services.WIPE)
        self.first_model()
        self.pending(I5, 'stopped', 100.0)
        self.pending(I6, 'paused', 100.0)
        generations = {u: self.entity_generation(u)
                       for u in (N1, N2, N3, N4, I1, I2, I3, I4)}
        counts = merge()
        model = compute.get_compute_model(self.graph)
        return {
            'counts': counts,
            # How far a generation moves may differ; whether it moves
            # not (below).
            'nodes': sorted((dataclasses.replace(n, generation=None)
                             for n in model['nodes']),
                            key=lambda n: n.uuid),
            'instances': sorted(((i.uuid, i.state, i.vcpus) for i in
                                 model['instances'])),
            'placed': {i.uuid: compute.get_node_by_instance_uuid(
                self.graph, i.uuid).uuid for i in model['instances']
                if i.uuid != I6},
            'used': {u: compute.get_node_used_resources(self.graph, u)
                     for u in (N1, N2, N3, N4)},
            'moved': {u: self.entity_generation(u) != g
                      for u, g in generations.items()},
            'tombstones': set(self.graph.read(
                tombstones.get_tombstones, tombstones.KIND_INSTANCE,
                [I2, I5, I9])),
            'pending': sorted(r['uuid'] for r in self.graph.run_autocommit(
                'MATCH (p:PendingState) RETURN p.uuid AS uuid')),
            'attached': self.count(
                'MATCH (:Consumer {uuid: $v})-[:ATTACHED_TO]->'
                '(:Consumer {uuid: $s}) RETURN count(*) AS n', v=V1, s=I1),
            'held': self.graph.read(reservations.all_held),
            'leftovers': staging.leftovers(self.graph),
        }

    def both_ways(self, nodes, instances):
        staged = []
        real = staging.import_rows

        def recorded(*args, **kwargs):
            staged.append(kwargs.get('merge'))
            return real(*args, **kwargs)

        self.useFixture(fixtures.MonkeyPatch(
            'tachyon.graph.compute.staging.import_rows', recorded))
        one = self.outcome(lambda: compute.bulk.import_in_one_transaction(
            self.graph, [compute.rows.node_row(n) for n in nodes],
            [compute.rows.instance_row(i) for i in instances]))
        self.assertEqual([], staged)
        two = self.outcome(lambda: compute.import_compute_model(
            self.graph, nodes, instances, chunk=1))
        self.assertEqual([True], staged)
        for key in one:
            self.assertEqual(one[key], two[key], key)
        return two

    def test_a_merge_keeps_what_the_file_does_not_name(self):
        # N2 changed; I1 moved onto N3 and I5 created on N4, neither
        # node in the file; I3 the same; I9 back from its tombstone.
        # N1, N3, N4, I2, I4 and I6's pending state are not named.
        found = self.both_ways([node(N2, vcpus=32)], [
            instance(I1, N3), instance(I3, N2), instance(I5, N4),
            instance(I9, N2)])
        self.assertEqual(common.SyncCounts(created=2, updated=2,
                                           unchanged=1), found['counts'])
        self.assertEqual([N1, N2, N3, N4],
                         [n.uuid for n in found['nodes']])
        self.assertEqual({I1: N3, I2: N1, I3: N2, I4: N4, I5: N4, I9: N2},
                         found['placed'])
        # I5's pending state went with its creation; I6's stays.
        self.assertEqual([I6], found['pending'])
        self.assertEqual({'VCPU': 4}, found['held'][N1])
        self.assertEqual(1, found['attached'])
        self.assertEqual(set(), found['tombstones'] & {I9})
        self.assertEqual(0, found['leftovers'])

    def test_a_merge_of_nodes_only_moves_no_instance(self):
        # Every node the same but N4, whose instance stays on it.
        found = self.both_ways([node(N1), node(N2), node(N4, vcpus=8)], [])
        self.assertEqual({I1: N1, I2: N1, I3: N2, I4: N4},
                         found['placed'])
        self.assertEqual(8, found['nodes'][3].inventories['VCPU'].total)
        self.assertEqual(sorted([I5, I6]), found['pending'])

    def test_a_merge_naming_a_node_only_by_name(self):
        # I5 names its node by hostname only: the live N3 of that name.
        name = node(N3).hostname
        found = self.both_ways([node(N2)], [
            instance(I5, None, host=name, node_name=name)])
        self.assertEqual(N3, found['placed'][I5])
