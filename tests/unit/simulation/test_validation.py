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

"""Argument checks: what is taken, what is refused and the field named."""

from tachyon import exception
from tachyon.simulation import validation
from tests import base


class TestValidation(base.TestCase):

    def refused(self, field, func, *args):
        exc = self.assertRaises(exception.InvalidParameter, func, *args)
        self.assertEqual(field, exc.kwargs['field'])
        return exc

    def test_idents(self):
        self.assertEqual('n1', validation.check_ident('uuid', 'n1'))
        self.refused('uuid', validation.check_ident, 'uuid', ' ')
        self.refused('uuid', validation.check_ident, 'uuid', 5)
        self.refused('uuid', validation.check_ident, 'uuid', 'x' * 256)
        self.assertIsNone(validation.check_optional_ident('marker', None))
        self.refused('marker', validation.check_optional_ident, 'marker', '')

    def test_amounts_flags_and_limits(self):
        self.assertEqual(0, validation.check_amount('amount', 0))
        self.refused('amount', validation.check_amount, 'amount', True)
        self.refused('amount', validation.check_amount, 'amount', -1)
        self.refused('amount', validation.check_amount, 'amount', 1.0)
        self.assertFalse(validation.check_flag('columns', False))
        self.refused('columns', validation.check_flag, 'columns', 'yes')
        self.assertEqual(5, validation.check_limit('limit', 5, 5))
        exc = self.refused('limit', validation.check_limit, 'limit', 0, 5)
        self.assertIn('must be between 1 and 5', str(exc))
        self.assertEqual(60, validation.check_ttl(60, 60))
        exc = self.refused('ttl', validation.check_ttl, 61, 60)
        self.assertIn('61 is not between 1 and the maximum 60', str(exc))

    def test_status(self):
        self.assertIsNone(validation.check_status('status', None))
        self.assertEqual('closed',
                         validation.check_status('status', 'closed'))
        self.refused('status', validation.check_status, 'status', 'done')

    def test_deltas(self):
        specs = validation.check_deltas('deltas', [
            {'type': 'MOVE', 'consumer_uuid': 'i1', 'source_uuid': 'n1',
             'destination_uuid': 'n2'},
            {'type': 'RESIZE', 'consumer_uuid': 'i1', 'source_uuid': 'n2',
             'resources': {'VCPU': 4}, 'check_capacity': False}])
        self.assertEqual(
            [{'type': 'MOVE', 'consumer_uuid': 'i1', 'source_uuid': 'n1',
              'destination_uuid': 'n2', 'check_capacity': True},
             {'type': 'RESIZE', 'consumer_uuid': 'i1', 'source_uuid': 'n2',
              'destination_uuid': None, 'check_capacity': False,
              'resources': {'VCPU': 4, 'MEMORY_MB': 0, 'DISK_GB': 0}}],
            specs)
        self.refused('deltas', validation.check_deltas, 'deltas', [])
        self.refused('deltas[0]', validation.check_deltas, 'deltas', ['x'])
        self.refused('deltas[1].destination_uuid', validation.check_deltas,
                     'deltas', [specs[0], {'type': 'ALLOCATE',
                                           'consumer_uuid': 'i2'}])
        self.refused('deltas[0].resources.GPU', validation.check_deltas,
                     'deltas', [{'type': 'MOVE', 'consumer_uuid': 'i1',
                                 'source_uuid': 'n1',
                                 'destination_uuid': 'n2',
                                 'resources': {'GPU': 1}}])

    def test_scope(self):
        self.assertEqual({}, validation.check_scope(None))
        self.assertEqual({'compute_nodes': {'h1', '2'}},
                         validation.check_scope({'compute_nodes': ['h1', 2]}))
        self.refused('scope', validation.check_scope, ['h1'])
