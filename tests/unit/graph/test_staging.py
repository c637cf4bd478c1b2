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

"""The staged import's statements: the live writes', labels swapped."""

import ast
import os
import re

from tachyon import graph
from tachyon.graph.compute import instances
from tachyon.graph.compute import nodes
from tachyon.graph.compute import staging
from tachyon.graph import schema
from tachyon.graph import upsert
from tests import base

_LABELS = re.compile(r':([A-Z][A-Za-z]*)\b')


def _statements():
    for module in (nodes, instances, upsert):
        for name, value in sorted(vars(module).items()):
            if isinstance(value, str) and 'MATCH' in value.upper():
                yield '%s.%s' % (module.__name__, name), value


class TestStagedQuery(base.TestCase):

    def test_only_entity_labels_change(self):
        query = instances.CLASSIFY_INSTANCES
        staged = staging.staged_query(query)
        self.assertIn('(c:StagedConsumer {uuid: row[0]})', staged)
        self.assertIn('USING INDEX SEEK c:StagedConsumer(uuid)', staged)
        self.assertIn('USING INDEX SEEK t:StagedTombstone(kind, uuid)', staged)
        # Relationship types, properties and parameters are untouched.
        self.assertIn('[:CONSUMES {resource_class: ', staged)
        self.assertIn(':Project)', staged)
        self.assertEqual(query.replace(':Consumer', ':StagedConsumer')
                         .replace(':ResourceProvider',
                                  ':StagedResourceProvider')
                         .replace(':Inventory', ':StagedInventory')
                         .replace(':Tombstone', ':StagedTombstone')
                         .replace(':PendingState', ':StagedPendingState'),
                         staged)

    def test_no_live_entity_label_is_left(self):
        for name, query in _statements():
            staged = staging.staged_query(query)
            left = set(_LABELS.findall(staged)) & set(staging.STAGED)
            self.assertEqual(set(), left, name)

    def test_every_staged_lookup_has_its_index(self):
        # A USING INDEX hint on a label without that index fails the
        # statement: the schema must give the staging labels theirs.
        hinted = set()
        for _name, query in _statements():
            hinted.update(re.findall(
                r'USING INDEX SEEK \w+:(Staged\w+)\(([\w, ]+)\)',
                staging.staged_query(query)))
        self.assertTrue(hinted)
        indexed = set()
        for _name, statement in schema.UPGRADES[6]:
            match = re.search(r'FOR \(\w+:(\w+)\) (?:REQUIRE|ON) \(?'
                              r'([\w., ]+?)\)? ?(?:IS UNIQUE)?$', statement)
            label, props = match.groups()
            indexed.add((label, ', '.join(
                p.strip().split('.')[-1] for p in props.split(','))))
        self.assertEqual(set(), hinted - indexed)


# A pattern that reaches the instances using an inventory, with what it
# says of them.
_USERS = re.compile(r'<-\[(\w*):CONSUMES\b[^\]]*\]-\(([^)]*)\)')


def _graph_constants():
    """Every string constant of the graph layer's modules."""
    root = os.path.dirname(os.path.abspath(graph.__file__))
    for folder, _dirs, files in os.walk(root):
        for name in sorted(files):
            if not name.endswith('.py'):
                continue
            path = os.path.join(folder, name)
            with open(path) as f:
                tree = ast.parse(f.read(), path)
            for node in ast.walk(tree):
                if (isinstance(node, ast.Constant)
                        and isinstance(node.value, str)):
                    yield os.path.relpath(path, root), node.value


class TestUsersOfAnInventory(base.TestCase):

    def test_every_statement_names_the_consumer_label(self):
        # While an import stages, and until its purge, an inventory may
        # have CONSUMES edges from staged or retired instances
        # (COPY_USES_TO_KEPT, the retired instances of a kept node): a
        # statement that reaches an inventory's users must match them as
        # Consumer (or, in the staging module, as StagedConsumer) to
        # see only the live ones.
        # The one exception: the purge of an inventory's uses, which
        # deletes every edge it matches and reads nothing of its user.
        seen = 0
        for path, text in _graph_constants():
            for edge, users in _USERS.findall(text):
                if not users and edge and re.search(
                        r'\bDELETE %s\b' % edge, text):
                    continue
                seen += 1
                self.assertRegex(users, r'^\w*:(Consumer|StagedConsumer)$',
                                 '%s: %r' % (path, text[:200]))
        self.assertGreater(seen, 5)
