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

"""The corpus checks of the compute node events (aggregates, services,
Ironic) on the real Neo4j: each event means in the graph what the corpus
says it means, an ignored one changes nothing, a broken one is refused
whole.
"""

from tests.fixtures.notifications import tachyon_checks
from tests.functional import base


class TestNodeEventsOnTheCorpus(tachyon_checks.TachyonCorpusChecks,
                                base.FunctionalTestCase):

    areas = ('aggregate', 'service', 'ironic')
