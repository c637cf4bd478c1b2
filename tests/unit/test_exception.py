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

from tachyon import exception
from tachyon import rpc
from tests import base


class TestExceptions(base.TestCase):

    def test_message_names_what_was_wrong(self):
        exc = exception.NotFound(kind='instance', ident='abc')
        self.assertEqual('instance abc could not be found.', str(exc))
        self.assertEqual(404, exc.code)

    def test_invalid_parameter_keeps_field(self):
        exc = exception.InvalidParameter(field='ttl', reason='too long')
        self.assertEqual('ttl', exc.kwargs['field'])
        self.assertIn('ttl', str(exc))

    def test_missing_kwargs_do_not_raise(self):
        exc = exception.NotFound()
        self.assertEqual(exception.NotFound.msg_fmt, str(exc))

    def test_conflict_lists_uuids(self):
        exc = exception.Conflict(reason='moved', conflicts=['a', 'b'])
        self.assertEqual(['a', 'b'], exc.conflicts)

    def test_invalid_model_is_invalid_parameter(self):
        exc = exception.InvalidModel(element='ComputeNode[2]', reason='x')
        self.assertIsInstance(exc, exception.InvalidParameter)
        self.assertEqual('ComputeNode[2]', exc.kwargs['field'])

    def test_wire_exceptions_come_back_typed(self):
        # oslo.messaging rebuilds a remote error only from a module the
        # client allows; every TachyonException must live in one.
        wire = [cls for cls in vars(exception).values()
                if isinstance(cls, type)
                and issubclass(cls, exception.TachyonException)]
        self.assertIn(exception.SessionExpired, wire)
        for cls in wire:
            self.assertIn(cls.__module__, rpc.ALLOWED_EXMODS, cls.__name__)

    def test_transient_flag(self):
        self.assertTrue(exception.GraphUnavailable.transient)
        self.assertFalse(exception.InvalidParameter.transient)
