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

"""Two real decision engines whose consolidation plans collide.

Two watcher-decision-engine processes (one Watcher database, Tachyon's
collectors as doc/source/watcher-integration.rst says, and
``[oslo_messaging_notifications]/driver = messagingv2`` as
doc/source/reservations.rst says) and one real tachyon-engine with its
notification listener, on a cloud made for a collision:

* ``dest`` is the most loaded node (Prometheus) and has room for exactly
  one of ``x`` (on ``src-a``) and ``y`` (on ``src-b``), not for both;
* audit A excludes ``y`` from its scope, audit B excludes ``x``: each one
  of the ``basic`` server consolidation strategy, whose unconstrained plan
  moves its instance onto ``dest``.

Audit B is created only once audit A's plan exists (in Watcher's
database, and with reservations once Tachyon holds it: its reservation is
polled over RPC), so which plan comes first is deterministic; RabbitMQ
hands the two casts to the two engines in turn.

Both plans' migrations are then applied, A's then B's, to a copy of the
cloud (each instance's flavour counted on its node against the node's
Placement capacity, ``(total - reserved) * allocation_ratio``). With
reservations (Tachyon's defaults) no node is overcommitted; with
``[reservations]/enabled = false`` ``dest`` is.
"""

import testtools
import time

from tests.fixtures.emulators import cloud as cloud_mod
from tests.fixtures.watcher import config
from tests.fixtures.watcher import environment
from tests.fixtures.watcher import plans
from tests.fixtures.watcher import scenarios
from tests.fixtures.watcher import tachyon

#: Node -> (vCPUs, RAM MB, disk GB, host CPU load %); ratios 1, nothing
#: reserved.
NODES = {'dest': (8, 16384, 400, 70),
         'src-a': (8, 16384, 400, 10),
         'src-b': (8, 16384, 400, 20)}
#: Instance -> (node, vCPUs, RAM MB, disk GB, instance CPU load %).
#: d (4) + x (3) fits dest's 8 vCPUs, d + x + y (10) does not.
INSTANCES = {'d': ('dest', 4, 4096, 40, 60),
             'x': ('src-a', 3, 2048, 20, 30),
             'y': ('src-b', 3, 2048, 20, 40)}
RESOURCES = ('vcpus', 'memory_mb', 'disk_gb')


def collision_cloud(seed=2117):
    fake = cloud_mod.FakeCloud(seed=seed)
    nodes = {}
    for host, (vcpus, ram, disk, _load) in sorted(NODES.items()):
        nodes[host] = fake.add_compute_node(
            host, vcpus=vcpus, memory_mb=ram, disk_gb=disk,
            reserved={'VCPU': 0, 'MEMORY_MB': 0, 'DISK_GB': 0},
            ratios={'VCPU': 1.0, 'MEMORY_MB': 1.0, 'DISK_GB': 1.0})
    instances = {}
    for name, (host, vcpus, ram, disk, _load) in sorted(INSTANCES.items()):
        instances[name] = fake.add_server(
            host=host, name=name, vm_state='active',
            flavor=dict(name='flavor-%s' % name, vcpus=vcpus, ram=ram,
                        disk=disk, ephemeral=0, swap=0))
    return scenarios.Cloud(fake, nodes, instances)


def fill_prometheus(stub, cloud):
    for host, spec in NODES.items():
        stub.set_host(host, host_cpu_usage=spec[3],
                      host_ram_usage=4096 * 1024)
    for name, spec in INSTANCES.items():
        stub.set_instance(cloud.instances[name], instance_cpu_usage=spec[4],
                          instance_ram_usage=512)


def consolidation(cloud, name, excluded):
    """The basic consolidation audit, ``excluded`` out of its scope."""
    return scenarios.Audit(
        name, 'server_consolidation', 'basic', prometheus=True,
        scope=[{'exclude': [{'instances': [
            {'uuid': cloud.uuid(excluded)}]}]}])


def overcommitted(cloud, forms):
    """Nodes over capacity once the plans' migrations ran, in order.

    ``{node: {resource: (used, capacity)}}`` for every resource a node
    has more of in use than it can give.
    """
    where = {name: spec[0] for name, spec in INSTANCES.items()}
    for form in forms:
        for action in form['actions']:
            if action['action_type'] != 'migrate':
                continue
            params = action['input_parameters']
            name = cloud.name_of(params['resource_id'])
            # A plan moves an instance from where it is by then.
            assert where[name] == params['source_node'], (name, params)
            where[name] = params['destination_node']
    over = {}
    for host, spec in NODES.items():
        used = [sum(INSTANCES[n][1 + i] for n, h in where.items()
                    if h == host) for i in range(len(RESOURCES))]
        for resource, taken, capacity in zip(RESOURCES, used, spec[:3]):
            if taken > capacity:
                over.setdefault(host, {})[resource] = (taken, capacity)
    return over


class NoReservationsProvider(tachyon.TachyonProvider):
    """Tachyon as documented, reservations turned off."""

    def write_conf(self):
        super().write_conf()
        with open(self.conf_path, 'a') as handle:
            handle.write('\n' + config.render(
                {'reservations': {'enabled': False}}))


class _CollidingPlans(object):

    provider = tachyon.TachyonProvider
    hosts = ('de-1', 'de-2')
    audit_timeout = 90
    reservation_timeout = 30

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = environment.Environment(
            cls.provider, cls.hosts, cloud=collision_cloud(),
            metrics=fill_prometheus, sections={
                'oslo_messaging_notifications': {'driver': 'messagingv2'}})
        cls.env.setUp()
        cls.cloud = cls.env.cloud

    @classmethod
    def tearDownClass(cls):
        cls.env.cleanUp()
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        # Each audit's session closed, none left active, every one tagged.
        self.addCleanup(self.env.provider.check_idle, self,
                        self.env.deployment)
        self.addCleanup(self.env.deployment.check_alive)

    def run_audit(self, spec):
        api = self.env.deployment.api
        template = api.create_audit_template(
            '%s-%s' % (spec.name, time.monotonic_ns()), spec.goal,
            spec.strategy, scope=spec.scope)
        uuid = api.create_audit(audit_type='ONESHOT',
                                audit_template=template)
        audit = api.wait_audit(uuid, ['SUCCEEDED'],
                               timeout=self.audit_timeout)
        self.assertEqual('SUCCEEDED', audit['state'],
                         audit.get('status_message'))
        self.assertIn(audit['hostname'], self.env.deployment.engines)
        [plan] = audit['action_plans']
        return audit, plan

    def wait_reservation(self, plan_uuid):
        client = self.env.provider.client
        deadline = time.monotonic() + self.reservation_timeout
        while time.monotonic() < deadline:
            found = [r for r in client.list_reservations(state='active')
                     if r['action_plan_uuid'] == plan_uuid]
            if found:
                return client.get_reservation(plan_uuid)
            time.sleep(0.2)
        self.fail('no reservation of action plan %s after %ss' % (
            plan_uuid, self.reservation_timeout))

    def migrations(self, form):
        return sorted((self.cloud.name_of(a['input_parameters'][
            'resource_id']), a['input_parameters']['source_node'],
            a['input_parameters']['destination_node'])
            for a in form['actions'] if a['action_type'] == 'migrate')

    def run_both(self):
        """Audit A, then (its plan made) audit B; both plans' forms."""
        audit_a, plan_a = self.run_audit(
            consolidation(self.cloud, 'consolidate-a', excluded='y'))
        form_a = plans.comparable(plan_a)
        # Alone, audit A moves x onto the most loaded node.
        self.assertEqual([('x', 'src-a', 'dest')], self.migrations(form_a),
                         plans.describe(form_a))
        if self.reserving:
            held = self.wait_reservation(plan_a['uuid'])
            self.assertEqual(audit_a['uuid'], held['audit_uuid'])
            self.assertEqual(
                [self.cloud.uuid('x')],
                [h['consumer_uuid'] for h in held['holds']])
        audit_b, plan_b = self.run_audit(
            consolidation(self.cloud, 'consolidate-b', excluded='x'))
        # Two engines, one audit each (RabbitMQ's turns).
        self.assertEqual(set(self.hosts),
                         {audit_a['hostname'], audit_b['hostname']})
        return form_a, plans.comparable(plan_b)


class TestWithReservations(_CollidingPlans, testtools.TestCase):
    reserving = True

    def test_no_node_is_overcommitted(self):
        form_a, form_b = self.run_both()
        self.assertEqual({}, overcommitted(self.cloud, [form_a, form_b]),
                         '%s\n%s' % (plans.describe(form_a),
                                     plans.describe(form_b)))
        # B saw dest's room held by A's plan: y stays where it is (src-a,
        # the least loaded node, is released first and leaves the
        # candidates).
        self.assertEqual([], self.migrations(form_b),
                         plans.describe(form_b))


class TestWithoutReservations(_CollidingPlans, testtools.TestCase):
    provider = NoReservationsProvider
    reserving = False

    def test_a_node_is_overcommitted(self):
        form_a, form_b = self.run_both()
        # Unconstrained, B plans y onto dest too.
        self.assertEqual([('y', 'src-b', 'dest')], self.migrations(form_b),
                         plans.describe(form_b))
        self.assertEqual({'dest': {'vcpus': (10, 8)}},
                         overcommitted(self.cloud, [form_a, form_b]))
        self.assertEqual([], self.env.provider.client.list_reservations())
