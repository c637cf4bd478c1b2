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

"""``.. tachyon-schema::``: the constraints and indexes, from the code.

The directive renders the statements of ``tachyon.graph.schema`` (the ones
``tachyon-manage db sync`` runs) as a table, so the documented schema is
the one the code creates.
"""

from docutils import nodes
from docutils.parsers.rst import Directive

from tachyon.graph import schema


def _row(cells):
    row = nodes.row()
    for cell in cells:
        entry = nodes.entry()
        entry += nodes.paragraph(text=cell)
        row += entry
    return row


class SchemaDirective(Directive):

    has_content = False

    def run(self):
        table = nodes.table()
        group = nodes.tgroup(cols=3)
        table += group
        for width in (20, 15, 65):
            group += nodes.colspec(colwidth=width)
        head = nodes.thead()
        head += _row(['Name', 'Kind', 'Statement'])
        group += head
        body = nodes.tbody()
        for version in sorted(schema.UPGRADES):
            for name, statement in schema.UPGRADES[version]:
                kind = ('constraint' if 'CONSTRAINT' in statement
                        else 'index')
                body += _row([name, '%s (v%d)' % (kind, version),
                              ' '.join(statement.split())])
        group += body
        version = nodes.paragraph(
            text='Schema version of this code: %d.' % schema.SCHEMA_VERSION)
        return [version, table]


def setup(app):
    app.add_directive('tachyon-schema', SchemaDirective)
    return {'parallel_read_safe': True, 'parallel_write_safe': True}
