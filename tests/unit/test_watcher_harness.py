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

"""The pure parts of the Watcher integration harness.

How plans are compared decides what the decision-engine suite can see:
two runs of a strategy give the same DAG with other uuids, created in an
order that may differ where the planner's order does not matter.
"""

import random

import testtools

from tests.fixtures.watcher import config
from tests.fixtures.watcher import plans


def _action(uuid, kind, parents=(), **params):
    return {'uuid': uuid, 'action_type': kind, 'input_parameters': params,
            'parents': list(parents)}


def _plan():
    # disable -> (m1, m2) -> m3 -> enable, as the weight planner chains.
    return [
        _action('d', 'change_nova_service_state', state='disabled'),
        _action('m1', 'migrate', ['d'], resource_id='i1'),
        _action('m2', 'migrate', ['d'], resource_id='i2'),
        _action('m3', 'migrate', ['m1', 'm2'], resource_id='i3'),
        _action('e', 'change_nova_service_state', ['m3'], state='enabled'),
    ]


def _renamed(actions, prefix):
    return [dict(a, uuid=prefix + a['uuid'],
                 parents=[prefix + p for p in a['parents']])
            for a in actions]


class TestCanonicalPlans(testtools.TestCase):

    def test_uuids_and_order_do_not_matter(self):
        expected = plans.canonical(_plan())
        shuffled = _renamed(_plan(), 'x-')
        random.Random(7).shuffle(shuffled)
        self.assertEqual(expected, plans.canonical(shuffled))

    def test_parents_by_position(self):
        form = plans.canonical(_plan())
        self.assertEqual(
            [('change_nova_service_state', []), ('migrate', [0]),
             ('migrate', [0]), ('migrate', [1, 2]),
             ('change_nova_service_state', [3])],
            [(a['action_type'], a['parents']) for a in form])
        self.assertEqual({'resource_id': 'i1'},
                         form[1]['input_parameters'])
        self.assertEqual({0, 1, 2, 3}, plans.ancestors(form, 4))

    def test_another_dag_is_another_plan(self):
        chained = _plan()
        chained[2]['parents'] = ['m1']   # m2 after m1, not beside it
        self.assertNotEqual(plans.canonical(_plan()),
                            plans.canonical(chained))

    def test_other_parameters_are_another_plan(self):
        other = _plan()
        other[1]['input_parameters'] = {'resource_id': 'i9'}
        self.assertNotEqual(plans.canonical(_plan()),
                            plans.canonical(other))

    def test_bad_plans_are_refused(self):
        outside = _plan() + [_action('z', 'nop', ['nowhere'])]
        self.assertRaises(ValueError, plans.canonical, outside)
        cycle = [_action('a', 'nop', ['b']), _action('b', 'nop', ['a'])]
        self.assertRaises(ValueError, plans.canonical, cycle)

    def test_comparable_keeps_strategy_and_efficacy(self):
        plan = {'uuid': 'p', 'strategy': 'basic', 'actions': _plan(),
                'global_efficacy': [{'name': 'b', 'value': 2},
                                    {'name': 'a', 'value': 1}]}
        form = plans.comparable(plan)
        self.assertEqual('basic', form['strategy'])
        self.assertEqual(['a', 'b'],
                         [e['name'] for e in form['global_efficacy']])
        self.assertIn('0. change_nova_service_state', plans.describe(plan))


class TestConfigFiles(testtools.TestCase):

    def test_render(self):
        text = config.render({
            'nova': {'api_version': '2.96', 'interfaces': ['a', 'b']},
            'DEFAULT': {'debug': False, 'host': 'de-1', 'gone': None},
            'weights': {'w': {'migrate': 30, 'nop': 70}},
            'empty': {'only': None}})
        self.assertEqual(
            '[DEFAULT]\ndebug = false\nhost = de-1\n\n'
            '[nova]\napi_version = 2.96\ninterfaces = a,b\n\n'
            '[weights]\nw = migrate:30,nop:70\n', text)

    def test_merge_later_layers_win(self):
        merged = config.merge({'a': {'x': 1, 'y': 2}}, None,
                              {'a': {'y': 3}, 'b': {'z': 4}})
        self.assertEqual({'a': {'x': 1, 'y': 3}, 'b': {'z': 4}}, merged)

    def test_multi_line_values_are_refused(self):
        self.assertRaises(ValueError, config.render,
                          {'a': {'x': 'one\ntwo'}})
