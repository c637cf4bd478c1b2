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

"""The Nova instance events of the corpus through Tachyon, on real Neo4j.

Every instance event of :mod:`tests.fixtures.notifications.catalog`, at
every Nova release and in every sequence (each ``notify_on_state_change``
mode), goes through the listener's processor (Nova handler, enricher,
graph) and the graph must then hold what the event means
(:func:`tests.fixtures.notifications.expect.expected`); an event Tachyon
ignores changes nothing; a payload broken in one field is refused whole
(:class:`tests.fixtures.notifications.tachyon_checks.TachyonCorpusChecks`).
Beyond the mixin: every field the handler reads of the move and error
events, broken in turn, is refused whole, logged once with the event type
and the field.
"""

import copy
import dataclasses
import logging

import fixtures

from tests.fixtures.notifications import catalog
from tests.fixtures.notifications import common
from tests.fixtures.notifications import tachyon_checks
from tests.functional import base

#: The events of issue #16's instance part.
EVENTS = ('instance.shelve_offload.end', 'instance.resize.end',
          'instance.resize_finish.end', 'instance.resize.error',
          'instance.rebuild.error', 'instance.reboot.error',
          'compute_task.build_instances.error',
          'compute_task.migrate_server.error',
          'compute_task.rebuild_server.error')

#: (field, a value of the wrong type or out of range) of the instance
#: payload's data, and of its flavor's data.
INSTANCE_BREAKS = (
    ('uuid', 'not-a-uuid'), ('state', 12345), ('host', ['compute-1']),
    ('display_name', 7), ('tenant_id', {}), ('node', 3.5),
    ('created_at', 1), ('image_uuid', True), ('metadata', ['role']),
    ('locked', 'yes'), ('flavor', 'm1.small'))
FLAVOR_BREAKS = (
    ('vcpus', 'many'), ('memory_mb', -1), ('root_gb', [20]),
    ('ephemeral_gb', -5), ('swap', {}), ('extra_specs', ['hw']),
    ('name', 5))
TASK_BREAKS = (('instance_uuid', 'nope'), ('state', 7))


def broken(note, field, value, flavor=False):
    payload = copy.deepcopy(note.payload)
    data = common.ovo_data(payload, 'nova')
    if flavor:
        data = common.ovo_data(data['flavor'], 'nova')
    data[field] = value
    return dataclasses.replace(note, payload=payload)


class TestInstanceEventsOnTheCorpus(tachyon_checks.TachyonCorpusChecks,
                                    base.FunctionalTestCase):
    areas = ('instance',)

    def test_each_field_broken_is_refused_whole(self):
        log = self.useFixture(fixtures.FakeLogger(
            name='tachyon.notifications.listener', level=logging.WARNING))
        examples = {}
        for note in catalog.examples():
            if note.event_type in EVENTS:
                examples.setdefault(note.event_type, note)
        self.assertEqual(set(EVENTS), set(examples))
        for event_type in EVENTS:
            note = examples[event_type]
            if event_type.startswith('compute_task.'):
                cases = [(f, v, False) for f, v in TASK_BREAKS]
            else:
                cases = ([(f, v, False) for f, v in INSTANCE_BREAKS]
                         + [(f, v, True) for f, v in FLAVOR_BREAKS])
            for field, value, in_flavor in cases:
                what = '%s %s=%r' % (event_type, field, value)
                self.neo4j.wipe()
                self.seed_compute()
                self.seed_instance(catalog.SERVER)
                before = self.generations()
                stored = self.graph_entity('instance', catalog.SERVER.uuid)
                malformed = self.processor.counts['malformed']
                seen = len(log.output)
                self.apply(broken(note, field, value, in_flavor))
                self.assertEqual(malformed + 1,
                                 self.processor.counts['malformed'], what)
                self.assertEqual(before, self.generations(), what)
                self.assertEqual(stored, self.graph_entity(
                    'instance', catalog.SERVER.uuid), what)
                lines = [line for line in log.output[seen:].splitlines()
                         if 'Dropping malformed' in line]
                self.assertEqual(1, len(lines), what)
                self.assertIn(event_type, lines[0], what)
                self.assertIn('(field %s)' % field, lines[0], what)
                # The good one still applies.
                self.apply(note)
                self.assertGraphMeans(note)
