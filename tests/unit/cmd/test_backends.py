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

"""The checks of the back-end settings (servers: tests/functional/cmd)."""

import time
from unittest import mock

from amqp import exceptions as amqp_exc
import fixtures
from kombu import exceptions as kombu_exc
from oslo_config import cfg

from tachyon.cmd import backends
from tachyon.conf import neo4j as neo4j_conf
from tachyon import exception
from tachyon.graph import driver
from tests import base

SECRET = 'Very-Secret-42'


class TestCheckUri(base.TestCase):

    def refused(self, uri):
        exc = self.assertRaises(exception.ConfigurationError,
                                driver.check_uri, uri)
        self.assertIn('[neo4j]/uri', str(exc))
        self.assertNotIn(SECRET, str(exc))
        self.assertNotIn('\n', str(exc))
        return str(exc)

    def test_bolt_and_neo4j_schemes_pass(self):
        for uri in ('bolt://db:7687', 'neo4j://db', 'bolt+s://db:7687',
                    'neo4j+ssc://10.0.0.1:7687', 'bolt://[::1]:7687'):
            driver.check_uri(uri)

    def test_http_scheme_is_named(self):
        self.assertIn("'http' is not a Bolt URI scheme",
                      self.refused('http://db:7474'))

    def test_bad_port(self):
        self.assertIn("port 'x' is not a number",
                      self.refused('bolt://db:x'))
        self.refused('bolt://db:70000')

    def test_no_host_and_unset(self):
        self.assertIn('names no host', self.refused('bolt://:7687'))
        self.assertIn('not set', self.refused(''))

    def test_password_in_uri_is_refused_without_repeating_it(self):
        text = self.refused('bolt://neo4j:%s@db:notaport' % SECRET)
        self.assertIn('[neo4j]/username and [neo4j]/password', text)

    def test_graph_refuses_before_building_a_driver(self):
        self.assertRaises(exception.ConfigurationError, driver.Graph,
                          'http://db:7474', password=SECRET)


class TestMessages(base.TestCase):

    def test_transport_passwords_of_every_host(self):
        url = 'rabbit://a:p%%40ss1@h1:5672,b:%s@h2:5672/vh' % SECRET
        self.assertEqual({'p%40ss1', 'p@ss1', SECRET},
                         set(backends.transport_passwords(url)))
        self.assertEqual([], backends.transport_passwords('rabbit://h/'))
        self.assertEqual([], backends.transport_passwords(None))

    def test_redacted_url_keeps_users_and_hosts(self):
        self.assertEqual(
            'rabbit://a@h1:5672,b@h2:5672/vh',
            backends.redact_transport_url(
                'rabbit://a:x@h1:5672,b:%s@h2:5672/vh?ssl=1' % SECRET))
        self.assertEqual('<malformed URL>',
                         backends.redact_transport_url('garbage'))

    def test_scrub_removes_configured_passwords_and_newlines(self):
        self.flags(group='neo4j', password=SECRET)
        self.assertEqual('a *** b',
                         backends.scrub('a %s\n  b' % SECRET, self.conf))

    def test_message_names_the_option(self):
        exc = exception.GraphUnavailable(uri='bolt://db:7687',
                                         reason='refused')
        self.assertEqual('p: [neo4j]/uri: Neo4j at bolt://db:7687 is '
                         'unavailable: refused',
                         backends.message(exc, prog='p'))
        exc = exception.ConfigurationError(group='neo4j', option='uri',
                                           reason='bad')
        self.assertEqual('[neo4j]/uri: bad', backends.message(exc))

    def test_bad_option_value_is_named(self):
        path = self.useFixture(fixtures.TempDir()).join('t.conf')
        with open(path, 'w') as out:
            out.write('[neo4j]\nconnection_timeout = soon\n'
                      'password = %s\n' % SECRET)
        conf = cfg.ConfigOpts()
        neo4j_conf.register_opts(conf)
        conf(['--config-file', path])
        exc = self.assertRaises(exception.ConfigurationError,
                                backends.check_values, conf)
        self.assertIn('[neo4j]/connection_timeout', str(exc))
        self.assertNotIn(SECRET, str(exc))


class TestTransport(base.TestCase):

    def refused(self, url):
        self.flags(transport_url=url)
        exc = self.assertRaises(exception.ConfigurationError,
                                backends.check_transport_url, self.conf)
        self.assertIn('[DEFAULT]/transport_url', str(exc))
        self.assertNotIn(SECRET, str(exc))
        return str(exc)

    def setUp(self):
        super().setUp()
        from tachyon import rpc
        rpc.register_transport_opts(self.conf)

    def test_malformed_url(self):
        self.assertIn('not a transport URL',
                      self.refused('rabbit://u:%s@h:notaport/' % SECRET))
        self.assertIn('not a transport URL', self.refused('garbage'))

    def test_unknown_scheme(self):
        self.assertIn("scheme 'nosuch'",
                      self.refused('nosuch://u:%s@h/' % SECRET))

    def probe_failing_with(self, error, timeout=5):
        self.flags(transport_url='rabbit://u:%s@h:5672/' % SECRET)
        client = mock.Mock()
        client.cast.side_effect = error
        with mock.patch('oslo_messaging.get_rpc_client',
                        return_value=client):
            return backends.probe_transport(self.conf, mock.Mock(),
                                            timeout=timeout)

    def test_refused_login_is_a_configuration_error(self):
        exc = self.assertRaises(
            exception.ConfigurationError, self.probe_failing_with,
            amqp_exc.AccessRefused('ACCESS_REFUSED'))
        self.assertIn('refused the login of user u', str(exc))
        self.assertNotIn(SECRET, str(exc))

    def test_unreachable_broker_is_unavailable(self):
        exc = self.assertRaises(
            exception.MessagingUnavailable, self.probe_failing_with,
            kombu_exc.OperationalError('[Errno 111] refused %s' % SECRET))
        self.assertIn('[DEFAULT]/transport_url', str(exc))
        self.assertNotIn(SECRET, str(exc))

    def test_probe_is_bounded(self):
        exc = self.assertRaises(
            exception.MessagingUnavailable, self.probe_failing_with,
            lambda *a, **k: time.sleep(3), timeout=0.5)
        self.assertIn('no answer within', str(exc))


class TestWaitFor(base.TestCase):

    def test_unavailable_is_retried_until_it_answers(self):
        answers = [exception.GraphUnavailable(uri='u', reason='down'),
                   'up']

        def probe():
            answer = answers.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer

        with mock.patch.object(time, 'sleep') as sleep:
            self.assertEqual('up', backends.wait_for(
                probe, time.monotonic() + 60))
        sleep.assert_called_once_with(1.0)

    def test_fatal_is_not_retried(self):
        probe = mock.Mock(side_effect=exception.GraphAuthFailed(
            uri='u', user='neo4j'))
        self.assertRaises(exception.GraphAuthFailed, backends.wait_for,
                          probe, time.monotonic() + 60)
        self.assertEqual(1, probe.call_count)

    def test_deadline_ends_the_wait(self):
        probe = mock.Mock(side_effect=exception.MessagingUnavailable(
            group='DEFAULT', option='transport_url', url='u', reason='x'))
        self.assertRaises(exception.MessagingUnavailable, backends.wait_for,
                          probe, time.monotonic() - 1)
        self.assertEqual(1, probe.call_count)
