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

"""The Cinder handler on volume payloads shaped as Cinder sends them."""

import copy
import dataclasses

from tachyon import exception
from tachyon.model import changes
from tachyon.notifications import base as nbase
from tachyon.notifications import listener
from tests import base
from tests.fixtures.notifications import catalog
from tests.fixtures.notifications import cinder
from tests.fixtures.notifications import common


def as_received(note):
    """A corpus notification as the listener hands it to a handler."""
    return nbase.Notification(
        note.publisher_id, note.event_type, copy.deepcopy(note.payload),
        {'message_id': common.uuid_for('m:%s' % note.event_type),
         'timestamp': 1.0}, note.priority)


class TestCinderVolumePayloads(base.TestCase):

    def setUp(self):
        super().setUp()
        [self.handler] = listener.load_handlers(self.conf, ['cinder'])

    def parse(self, note):
        return self.handler.parse(as_received(note))

    def lifecycle_event(self, event_type, form='list'):
        for note, _pools in cinder.lifecycle(
                catalog.VOLUME, catalog.SERVER.uuid, metadata_form=form):
            if note.event_type == event_type:
                return note
        self.fail('no %s in the lifecycle' % event_type)

    def test_create_end_with_list_metadata(self):
        note = self.lifecycle_event('volume.create.end')
        self.assertEqual([{'key': 'purpose', 'value': 'db'},
                          {'key': 'tier', 'value': 'gold'}],
                         note.payload['metadata'])
        [change] = self.parse(note)
        self.assertEqual((changes.VOLUME, changes.UPSERT,
                          catalog.VOLUME.uuid),
                         (change.kind, change.action, change.key))
        vol = change.record
        self.assertEqual({'purpose': 'db', 'tier': 'gold'}, vol.metadata)
        self.assertEqual(('available', 20, catalog.POOL, True, []),
                         (vol.status, vol.size, vol.pool_name,
                          vol.bootable, vol.attachments))

    def test_attach_end_with_list_metadata(self):
        note = self.lifecycle_event('volume.attach.end')
        [change] = self.parse(note)
        vol = change.record
        self.assertEqual({'purpose': 'db', 'tier': 'gold'}, vol.metadata)
        self.assertEqual('in-use', vol.status)
        self.assertEqual(
            [{'server_id': catalog.SERVER.uuid,
              'attachment_id': note.payload['volume_attachment'][0]['id']}],
            vol.attachments)

    def test_every_volume_event_of_the_corpus_is_read(self):
        for form in ('list', 'dict'):
            for note in catalog.cinder_examples(form):
                if note.event_type not in cinder_volume_events(self.handler):
                    continue
                [change] = self.parse(note)
                if change.action == changes.DELETE:
                    continue
                expected = {}
                if form == 'list':
                    for item in note.payload['metadata']:
                        expected[item['key']] = item['value']
                else:
                    expected = note.payload['metadata']
                self.assertEqual(expected, change.record.metadata,
                                 '%s (%s)' % (note.event_type, form))

    def test_empty_list_is_no_metadata(self):
        bare = dataclasses.replace(catalog.VOLUME, metadata={})
        note = cinder.volume_event('volume.create.end', bare)
        self.assertEqual([], note.payload['metadata'])
        [change] = self.parse(note)
        self.assertEqual({}, change.record.metadata)

    def test_null_or_missing_metadata_is_no_metadata(self):
        note = self.lifecycle_event('volume.create.end')
        for payload in (dict(note.payload, metadata=None),
                        {k: v for k, v in note.payload.items()
                         if k != 'metadata'}):
            [change] = self.parse(dataclasses.replace(note,
                                                      payload=payload))
            self.assertEqual({}, change.record.metadata)

    def test_dict_metadata_still_works(self):
        note = self.lifecycle_event('volume.create.end', form='dict')
        self.assertEqual({'purpose': 'db', 'tier': 'gold'},
                         note.payload['metadata'])
        [change] = self.parse(note)
        self.assertEqual({'purpose': 'db', 'tier': 'gold'},
                         change.record.metadata)

    def test_malformed_metadata_is_refused_naming_the_field(self):
        note = self.lifecycle_event('volume.attach.end')
        good = {'key': 'purpose', 'value': 'db'}
        for metadata in ([good, 'tier=gold'], [good, {'value': 'gold'}],
                         [{'key': 7, 'value': 'gold'}], [None],
                         [['tier', 'gold']], 'purpose=db', 12):
            broken = dataclasses.replace(
                note, payload=dict(note.payload, metadata=metadata))
            exc = self.assertRaises(exception.MalformedPayload, self.parse,
                                    broken)
            self.assertEqual('volume.attach.end', exc.event_type)
            self.assertIn('metadata', str(exc), metadata)
            self.assertEqual('metadata', exc.field, metadata)


def cinder_volume_events(handler):
    return [e for e in handler.event_types if e.startswith('volume.')]


class TestCinderExchange(base.TestCase):

    def test_default_is_the_exchange_cinder_publishes_on(self):
        [handler] = listener.load_handlers(self.conf, ['cinder'])
        self.assertEqual('openstack', self.conf.notifications.cinder_exchange)
        self.assertEqual([('notifications', 'openstack')], handler.targets())
        self.assertEqual(common.TARGETS['cinder'],
                         handler.targets()[0][::-1])

    def test_an_explicit_exchange_is_kept(self):
        self.flags(group='notifications', cinder_exchange='cinder')
        [handler] = listener.load_handlers(self.conf, ['cinder'])
        self.assertEqual([('notifications', 'cinder')], handler.targets())
