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

"""Audits run by real decision engines, whatever their model's provider.

:class:`ScenarioTests` is mixed into a ``testtools.TestCase`` with
``provider`` (a :class:`~tests.fixtures.watcher.providers.ModelProvider`
class) and ``hosts`` (one decision engine per host). The class starts one
:class:`~tests.fixtures.watcher.environment.Environment` for all its
tests: the small scenario cloud behind emulated APIs, the Prometheus
stub, the provider, a Watcher database and the engines. Each test creates
audits as Watcher's API does, waits for them and reads their action plans
back from Watcher's database, then checks that

* the audit succeeded (a continuous one made ``runs`` plans, every one
  the same, before it was cancelled),
* the plan is what the strategy makes on that cloud (the scenario's
  ``expect``),
* with a ``baseline`` provider, the plan equals, action by action, the
  plan of the same audit on the baseline's own deployment,
* the provider has nothing left over (``provider.check_idle``).

A Tachyon run of the same suite::

    class TestOnTachyon(watcher_scenarios.ScenarioTests,
                        testtools.TestCase):
        provider = TachyonProvider
        baseline = providers.WatcherProvider
"""

import time

from tests.fixtures.watcher import environment
from tests.fixtures.watcher import plans
from tests.fixtures.watcher import providers
from tests.fixtures.watcher import scenarios


class AuditRun(object):
    """An audit read back from Watcher's database once it is done."""

    def __init__(self, spec, audit, deployment):
        self.spec = spec
        self.audit = audit
        self.uuid = audit['uuid']
        self.deployment = deployment
        self.plans = audit['action_plans']
        self.forms = [plans.comparable(p) for p in self.plans]

    @property
    def form(self):
        """The canonical form of the audit's (last) action plan."""
        return self.forms[-1]


class _Scenarios(object):
    """One environment per class, and the audit helpers."""

    provider = providers.WatcherProvider
    baseline = None
    hosts = ('de-1',)
    baseline_hosts = ('ref-1',)
    #: Seconds a oneshot audit may take; a continuous run as much per run.
    audit_timeout = 90
    continuous_interval = 2

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = environment.Environment(
            cls.provider, cls.hosts, baseline_class=cls.baseline,
            baseline_hosts=cls.baseline_hosts)
        cls.env.setUp()
        cls.cloud = cls.env.cloud
        cls.audits = scenarios.audits(cls.cloud)
        cls._baseline_forms = {}

    @classmethod
    def tearDownClass(cls):
        cls.env.cleanUp()
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.deployment = self.env.deployment
        self.api = self.deployment.api
        self.addCleanup(self._check_after)

    def _check_after(self):
        for deployment in (self.env.deployment, self.env.baseline):
            if deployment is not None:
                deployment.check_alive()
                deployment.provider.check_idle(self, deployment)

    # -- running audits --------------------------------------------------

    def scenario(self, name, audit_type='ONESHOT'):
        spec = self.audits[name]
        if audit_type == 'CONTINUOUS':
            spec = spec.with_type('CONTINUOUS', self.continuous_interval)
        return spec

    def start_audit(self, spec, deployment=None):
        """Create the audit (and its template) as Watcher's API does."""
        api = (deployment or self.deployment).api
        kwargs = {'audit_type': spec.audit_type,
                  'parameters': spec.parameters or None}
        if spec.continuous:
            kwargs['interval'] = spec.interval
        if spec.scope or spec.default_parameters:
            kwargs['audit_template'] = api.create_audit_template(
                '%s-%s' % (spec.name, time.monotonic_ns()), spec.goal,
                spec.strategy, scope=spec.scope,
                default_parameters=spec.default_parameters)
        else:
            kwargs.update(goal=spec.goal, strategy=spec.strategy)
        return api.create_audit(**kwargs)

    def _failure(self, spec, audit, deployment, why):
        """A failed audit, with the log tail of its engine (or all)."""
        engines = list(deployment.engines.values())
        if audit.get('hostname') in deployment.engines:
            engines = [deployment.engines[audit['hostname']]]
        tails = ''.join('\nLast lines of %s:\n%s' % (
            engine.log_path, engine.process.tail()) for engine in engines)
        return '%s audit %s (%s) %s: %s%s' % (
            spec.name, audit['uuid'], deployment.name, why,
            audit.get('status_message'), tails)

    def finish_audit(self, spec, uuid, deployment=None):
        """Wait for the audit, check it succeeded; its :class:`AuditRun`.

        A continuous audit is cancelled (as a user would, through the
        API) once it has made ``spec.runs`` plans.
        """
        deployment = deployment or self.deployment
        api = deployment.api
        if spec.continuous:
            timeout = self.audit_timeout + spec.runs * spec.interval * 3
            audit = api.wait_audit(uuid, ['ONGOING'], timeout=timeout,
                                   plans=spec.runs)
            if audit['state'] != 'ONGOING':
                self.fail(self._failure(spec, audit, deployment,
                                        'is %s' % audit['state']))
            api.set_audit_state(uuid, 'CANCELLED')
            audit = self._settled(api, uuid)
            self.assertGreaterEqual(len(audit['action_plans']), spec.runs)
        else:
            audit = api.wait_audit(uuid, ['SUCCEEDED'],
                                   timeout=self.audit_timeout)
            if audit['state'] != 'SUCCEEDED':
                self.fail(self._failure(spec, audit, deployment,
                                        'is %s' % audit['state']))
            self.assertEqual(1, len(audit['action_plans']),
                             self._failure(spec, audit, deployment,
                                           'made several plans'))
        self.assertIn(audit['hostname'], deployment.engines)
        run = AuditRun(spec, audit, deployment)
        states = [p['state'] for p in run.plans]
        # The last plan is the one to apply (an empty plan has nothing to
        # do: the planner marks it SUCCEEDED); a continuous audit
        # cancels the plan of its previous run each time.
        final = 'SUCCEEDED' if not run.form['actions'] else 'RECOMMENDED'
        # Each run of a continuous audit cancels the plan of the last one.
        self.assertEqual(['CANCELLED'] * (len(states) - 1) + [final],
                         states)
        for form in run.forms[1:]:
            self.assertEqual(run.forms[0], form,
                             'a continuous audit changed its plan:\n%s\n%s'
                             % (plans.describe(run.forms[0]),
                                plans.describe(form)))
        return run

    @staticmethod
    def _settled(api, uuid, quiet=1.5, timeout=20.0):
        """The cancelled continuous audit once its plans stop changing.

        A run that started before the cancellation still ends with its
        plan; the continuous handler drops the audit's job at its next
        look (every second).
        """
        deadline = time.monotonic() + timeout
        last, since = None, time.monotonic()
        while True:
            audit = api.wait_audit(uuid, ['CANCELLED'])
            key = [(p['uuid'], p['state']) for p in audit['action_plans']]
            now = time.monotonic()
            if key != last:
                last, since = key, now
            elif now - since >= quiet or now > deadline:
                return audit
            time.sleep(0.3)

    def run_audit(self, spec, deployment=None):
        return self.finish_audit(spec, self.start_audit(spec, deployment),
                                 deployment)

    def baseline_form(self, spec):
        """The plan of the same (oneshot) audit on the baseline."""
        key = (spec.goal, spec.strategy, repr(spec.parameters),
               repr(spec.default_parameters), repr(spec.scope))
        if key not in self._baseline_forms:
            oneshot = scenarios.dataclasses.replace(
                spec, audit_type='ONESHOT', interval=None)
            self._baseline_forms[key] = self.run_audit(
                oneshot, self.env.baseline).form
        return self._baseline_forms[key]

    def check_plan(self, run):
        spec = run.spec
        if spec.expect is not None:
            spec.expect(self, self.cloud, run.form)
        if self.env.baseline is not None:
            expected = self.baseline_form(spec)
            self.assertEqual(
                expected, run.form,
                '%s: the plan on %s differs from the plan on %s:\n%s\n'
                'versus\n%s' % (spec.name, self.env.provider.name,
                                self.env.baseline.provider.name,
                                plans.describe(run.form),
                                plans.describe(expected)))
        if spec.prometheus:
            self.assertTrue(self.env.prometheus.queries_of(
                'host_cpu_usage'))

    def run_scenario(self, name, audit_type='ONESHOT'):
        run = self.run_audit(self.scenario(name, audit_type))
        self.check_plan(run)
        return run


class ScenarioTests(_Scenarios):
    """Every scenario, one audit at a time; mix into a TestCase."""

    def test_dummy(self):
        self.run_scenario('dummy')

    def test_dummy_continuous(self):
        self.run_scenario('dummy', 'CONTINUOUS')

    def test_dummy_template_parameters(self):
        run = self.run_scenario('dummy-parameters')
        self.assertEqual({'para1': 1.5, 'para2': 'bye'},
                         run.audit['parameters'])

    def test_node_resource_consolidation(self):
        self.run_scenario('node-resource-consolidation')

    def test_node_resource_consolidation_continuous(self):
        self.run_scenario('node-resource-consolidation', 'CONTINUOUS')

    def test_node_resource_consolidation_scoped(self):
        self.run_scenario('node-resource-consolidation-scoped')

    def test_basic(self):
        self.run_scenario('basic')

    def test_basic_continuous(self):
        self.run_scenario('basic', 'CONTINUOUS')

    def test_basic_scoped(self):
        self.run_scenario('basic-scoped')

    def test_host_maintenance(self):
        self.run_scenario('host-maintenance')

    def test_host_maintenance_continuous(self):
        self.run_scenario('host-maintenance', 'CONTINUOUS')

    def test_host_maintenance_backup_node(self):
        self.run_scenario('host-maintenance-backup')

    def test_host_maintenance_empty_node(self):
        self.run_scenario('host-maintenance-empty-node')

    def test_host_maintenance_scoped(self):
        self.run_scenario('host-maintenance-scoped')


class InterleavedTests(_Scenarios):
    """Continuous and oneshot audits at once, on every engine.

    With two hosts, the oneshot audits' casts are shared by the engines
    (RabbitMQ hands a topic's messages round the consumers) and each
    continuous audit is taken by whichever engine's continuous handler
    claims it first. Scoped audits are left out: Watcher's own compute
    collector keeps one scope per engine, so concurrent audits with
    different scopes on one Watcher engine can see each other's.
    """

    hosts = ('de-1', 'de-2')
    continuous_scenarios = ('dummy', 'node-resource-consolidation', 'basic',
                            'host-maintenance')
    oneshot_scenarios = ('dummy', 'node-resource-consolidation', 'basic',
                         'host-maintenance', 'host-maintenance-backup')
    oneshot_rounds = 2

    def test_interleaved_audits(self):
        continuous = [self.scenario(n, 'CONTINUOUS')
                      for n in self.continuous_scenarios]
        started = [(spec, self.start_audit(spec)) for spec in continuous]
        for _round in range(self.oneshot_rounds):
            for name in self.oneshot_scenarios:
                spec = self.scenario(name)
                started.append((spec, self.start_audit(spec)))
        runs = []
        # The oneshot audits first: the continuous ones go on meanwhile.
        for spec, uuid in sorted(started, key=lambda s: s[0].continuous):
            runs.append(self.finish_audit(spec, uuid))
        for run in runs:
            self.check_plan(run)
        oneshot_hosts = {run.audit['hostname'] for run in runs
                         if not run.spec.continuous}
        self.assertEqual(set(self.hosts), oneshot_hosts)
