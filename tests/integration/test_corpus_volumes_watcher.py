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

"""Tachyon's Cinder handler against Watcher's Cinder endpoints.

A volume's life (create, attach, retype, detach, delete, with the
``capacity.pool`` reports that follow) goes through Tachyon (real Neo4j)
and through Watcher 17's own endpoints on its in-memory storage model;
after each event Watcher handles, both hold the same volume and the same
pool counters, the Cinder API (the corpus' cloud) reporting the pool's
numbers after the event to both. The other checks of the volume area run
too (:class:`~tests.fixtures.notifications.tachyon_checks.
TachyonCorpusChecks`).
"""

# Watcher's configuration must be loaded before Tachyon's.
from tests.fixtures.notifications import watcher_replay  # noqa

from tests.fixtures.notifications import tachyon_checks  # noqa
from tests.functional import base as functional
from tests.functional.notifications import test_corpus_volumes


class TestVolumesAgainstWatcher(tachyon_checks.AgainstWatcherChecks,
                                functional.FunctionalTestCase):

    areas = ('volume',)

    def setUp(self):
        super().setUp()
        # Watcher re-reads the pool on every volume event: so does
        # Tachyon with no interval.
        test_corpus_volumes.use_enricher(self, self.processor,
                                         pool_refresh_interval=0)

    # The checks of Tachyon alone (minutes of them) are the functional
    # suite's (test_corpus_volumes): not collected here a second time.
    test_every_event_alone_at_every_release = None
    test_a_broken_field_is_refused_whole = None
