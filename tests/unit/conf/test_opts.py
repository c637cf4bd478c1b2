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

import io
import socket

from oslo_config import generator

from tachyon import conf as tachyon_conf
from tachyon.conf import opts
from tachyon import exception
from tachyon.graph import driver
from tests import base


class TestOptions(base.TestCase):

    def test_list_opts_covers_every_group(self):
        groups = {getattr(g, 'name', g) for g, _o in opts.list_opts()}
        for name in ('DEFAULT', 'neo4j', 'engine', 'simulation',
                     'notifications', 'collectors'):
            self.assertIn(name, groups)

    def test_every_option_is_documented(self):
        for group, group_opts in opts.list_opts():
            for opt in group_opts:
                self.assertTrue(
                    opt.help, 'option %s/%s has no help' % (group, opt.name))

    def test_password_is_secret(self):
        self.assertTrue(tachyon_conf.CONF.neo4j._group._opts['password']
                        ['opt'].secret)

    def test_uri_rejects_unknown_scheme(self):
        # Checked by Tachyon before anything starts, naming the option.
        self.flags(group='neo4j', uri='http://127.0.0.1:7474')
        exc = self.assertRaises(exception.ConfigurationError,
                                driver.check_uri, self.conf.neo4j.uri)
        self.assertIn('[neo4j]/uri', str(exc))

    def test_uri_accepts_cluster_and_tls_schemes(self):
        for uri in ('bolt://h:7687', 'neo4j://h:7687', 'neo4j+s://h:7687',
                    'bolt+ssc://h:7687'):
            self.flags(group='neo4j', uri=uri)
            self.assertEqual(uri, self.conf.neo4j.uri)

    def test_sample_generation_documents_neo4j_group(self):
        out = io.StringIO()
        gconf = generator.cfg.ConfigOpts()
        generator.register_cli_opts(gconf)
        gconf(['--namespace', 'tachyon'])
        generator.generate(gconf, output_file=out)
        text = out.getvalue()
        self.assertIn('[neo4j]', text)
        self.assertIn('#uri = bolt://127.0.0.1:7687', text)
        self.assertIn('#password =', text)
        self.assertIn('[simulation]', text)

    def test_host_default_is_hostname(self):
        self.assertEqual(socket.gethostname(), self.conf.host)
