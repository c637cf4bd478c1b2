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

"""Tachyon's graph against Watcher 17's endpoints, for the instance events.

Each Nova operation of the corpus (boot, resize, shelve offload,
migrations, evacuations, rebuild, delete) is applied both to Tachyon (on
real Neo4j) and to Watcher's own notification endpoints on its in-memory
model; after every event Watcher handles, and where spec documents no
departure of Watcher's, both hold the same instance on the same node
(:class:`tests.fixtures.notifications.tachyon_checks.AgainstWatcherChecks`,
which also runs every check of the functional corpus module).
"""

# Watcher's configuration must be loaded before Tachyon's.
from tests.fixtures.notifications import watcher_replay  # noqa: F401,I100

from tests.fixtures.notifications import tachyon_checks
from tests.functional import base as functional


class TestInstanceEventsAgainstWatcher(tachyon_checks.AgainstWatcherChecks,
                                       functional.FunctionalTestCase):
    areas = ('instance',)
