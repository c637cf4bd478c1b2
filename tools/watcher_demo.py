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

"""Run one of Watcher's strategies on the Tachyon-backed model.

Used by ``tools/demo_strategy.py`` (the end of ``tools/tachyon-local.sh``),
outside the package because it needs Watcher's test fixtures (its fake
metrics):
a simulation session is opened, Watcher's server consolidation strategy
(``basic``) runs on the session's TachyonClusterModel with Watcher's own
fake metrics (no Gnocchi here), and its action plan is printed with each
node's utilization before and after. The session is rolled back.
"""

import uuid as uuid_lib

from watcher.decision_engine.strategy import strategies
from watcher.tests.unit.decision_engine.model import gnocchi_metrics

from tachyon.client import model as client_model


class _Config(dict):
    __getattr__ = dict.get


def _utilization(client, session_id, nodes):
    usage = client.get_all_nodes_usage(session_id=session_id)
    result = {}
    for uuid, node in nodes.items():
        cap = node.vcpu_capacity or 1
        result[uuid] = usage.get(uuid, {}).get('vcpu', 0) / cap
    return result


def run(client, out, strategy_cls=strategies.BasicConsolidation):
    # A uuid, as Watcher's audits have, so the session shows as an audit's.
    session = client.create_session(ttl=600, audit_uuid=str(uuid_lib.uuid4()))
    sid = session['id']
    try:
        model = client_model.TachyonClusterModel.load(client,
                                                      session_id=sid)
        nodes = model.get_all_compute_nodes()
        before = _utilization(client, sid, nodes)
        metrics = gnocchi_metrics.FakeGnocchiMetrics()
        strategy = strategy_cls(config=_Config(datasource='gnocchi'))
        strategy._compute_model = model
        strategy._audit_scope = []
        strategy._datasource_backend = _Config(
            get_host_cpu_usage=metrics.get_usage_compute_node_cpu,
            get_instance_cpu_usage=metrics.get_average_usage_instance_cpu)
        strategy.input_parameters = _Config(
            metrics='instance_cpu_usage', granularity=300, period=7200,
            aggregation_method=_Config(instance='mean', compute_node='mean',
                                       node='mean'))
        solution = strategy.execute()
        model.flush()
        after = _utilization(client, sid, nodes)
        out.write('Strategy %s in session %s\n' % (strategy.name, sid))
        out.write('Action plan (%d actions):\n' % len(solution.actions))
        for index, action in enumerate(solution.actions, 1):
            params = action.get('input_parameters') or {}
            out.write('  %d. %-20s %s\n' % (
                index, action.get('action_type'),
                ', '.join('%s=%s' % kv for kv in sorted(params.items())
                          if kv[0] != 'resource_name')))
        out.write('VCPU utilization   before    after\n')
        for uuid, node in sorted(nodes.items(), key=lambda i: i[1].hostname):
            out.write('  %-16s %6.1f%%  %6.1f%%\n' % (
                node.hostname, before[uuid] * 100, after[uuid] * 100))
        return solution
    finally:
        client.rollback_session(sid)
        out.write('Session rolled back: the global model is unchanged.\n')
