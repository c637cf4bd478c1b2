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

"""Base test case shared by unit and functional tests."""

import fixtures
from oslo_config import fixture as config_fixture
import testtools

from tachyon import conf as tachyon_conf


class TestCase(testtools.TestCase):
    """testtools TestCase with a private copy of Tachyon's config."""

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.Timeout(240, gentle=True))
        self.useFixture(fixtures.NestedTempfile())
        self.conf_fixture = self.useFixture(
            config_fixture.Config(tachyon_conf.CONF))
        self.conf = self.conf_fixture.conf

    def flags(self, group=None, **kw):
        """Override options for the duration of the test."""
        for name, value in kw.items():
            self.conf_fixture.config(**{name: value, 'group': group})
