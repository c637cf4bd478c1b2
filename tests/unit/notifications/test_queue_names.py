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

"""The listener's pool never shares a queue with another consumer."""

from tachyon import exception
from tachyon.notifications import listener
from tests import base


class TestQueueNames(base.TestCase):

    def refused(self, pool, **flags):
        self.flags(group='notifications', pool=pool)
        for group, values in flags.items():
            self.flags(group=group, **values)
        exc = self.assertRaises(exception.ConfigurationError,
                                listener.check_queue_names, self.conf)
        self.assertIn('[notifications]/pool', str(exc))
        return str(exc)

    def test_the_shipped_defaults_are_accepted(self):
        listener.check_queue_names(self.conf)
        self.assertNotEqual(self.conf.engine.topic,
                            self.conf.notifications.pool)

    def test_a_pool_named_as_the_rpc_topic(self):
        self.assertIn('[engine]/topic', self.refused('tachyon-engine'))
        self.assertIn('[engine]/topic',
                      self.refused('rpc', engine={'topic': 'rpc'}))

    def test_a_pool_named_as_the_rpc_server_queue(self):
        self.flags(host='engine-1')
        self.assertIn('RPC server', self.refused('tachyon-engine.engine-1'))

    def test_a_pool_named_as_a_shared_notification_queue(self):
        message = self.refused('versioned_notifications.info')
        self.assertIn('versioned_notifications', message)
        self.refused('notifications.error')
        self.refused('ironic_versioned_notifications.info')

    def test_no_pool(self):
        self.assertIn('must be set', self.refused(''))

    def test_only_the_enabled_handlers_count_and_only_with_a_listener(self):
        self.flags(group='notifications', enabled_handlers=['nova'])
        self.flags(group='notifications',
                   pool='ironic_versioned_notifications.info')
        listener.check_queue_names(self.conf)
        self.flags(group='notifications', enable_listener=False,
                   pool='tachyon-engine')
        listener.check_queue_names(self.conf)
