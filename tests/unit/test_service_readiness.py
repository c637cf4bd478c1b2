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

"""The engine's readiness probe and start-time option check, no broker."""

import socket

from oslo_config import cfg
from oslo_config import fixture as config_fixture

from tachyon.conf import simulation as simulation_conf
from tachyon import exception
from tachyon import rpc
from tachyon import service
from tests import base


def _closed_port():
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


class TestConsumerProbe(base.TestCase):

    def setUp(self):
        super().setUp()
        rpc.register_transport_opts(self.conf)
        self.flags(host='h1')
        self.flags(topic='t', group='engine')
        self.flags(pool='p', group='notifications')

    def test_queues_of_rpc_and_listener(self):
        self.flags(transport_url='rabbit://u:pw@b:5672/')
        self.flags(enable_listener=False, group='notifications')
        self.assertEqual([('rabbit://u:pw@b:5672/', 't.h1')],
                         service.consumer_queues(self.conf))
        self.flags(enable_listener=True, group='notifications')
        self.flags(transport_url='rabbit://n@c/', group='notifications')
        self.assertEqual([('rabbit://u:pw@b:5672/', 't.h1'),
                          ('rabbit://n@c/', 'p')],
                         service.consumer_queues(self.conf))

    def test_other_drivers_are_not_counted(self):
        self.assertIsNone(service.queue_consumers(
            self.conf, 'kafka://k:9092/', 'p'))

    def test_unreachable_broker_is_not_ready(self):
        url = 'rabbit://u:secret@127.0.0.1:%d/' % _closed_port()
        exc = self.assertRaises(exception.MessagingUnavailable,
                                service.queue_consumers, self.conf, url, 'q')
        self.assertIn('queue q', str(exc))
        self.assertNotIn('secret', str(exc))
        self.flags(transport_url=url)
        self.flags(enable_listener=False, group='notifications')
        self.assertFalse(service.consumer_probe(self.conf, 1)())


class TestCheckOptions(base.TestCase):

    def setUp(self):
        super().setUp()
        # A configuration of its own: the process-wide one may hold
        # options other tests registered (keystoneauth's, for instance).
        self.own = cfg.ConfigOpts()
        simulation_conf.register_opts(self.own)
        self.own_fixture = self.useFixture(config_fixture.Config(self.own))

    def test_a_value_its_type_refuses_is_a_config_error(self):
        service.check_options(self.own)
        # As a file reread on SIGHUP would give it.
        self.own_fixture.load_raw_values(group='simulation', max_ttl='ten')
        self.assertRaises(service.FATAL_CONFIG_ERRORS,
                          service.check_options, self.own)
