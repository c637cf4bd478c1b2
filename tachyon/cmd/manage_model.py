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

"""tachyon-manage model: Watcher XML model import and export.

    tachyon-manage model import FILE [--model KIND] [--replace]
    tachyon-manage model export [--model compute|storage|baremetal]
                                [--output FILE]

The format is Watcher's own (``ModelRoot.to_xml()`` and its storage and
baremetal siblings), so an operator can seed Tachyon from a Watcher dump
and compare the two.
"""

import dataclasses
import sys

from tachyon.cmd import manage
from tachyon import exception
from tachyon.graph import schema
from tachyon import watcher_xml
from tachyon.watcher_xml import common as xml_common


def _read(path):
    if path == '-':
        return sys.stdin.buffer.read()
    try:
        with open(path, 'rb') as f:
            return f.read()
    except OSError as exc:
        raise exception.InvalidParameter(field='FILE', reason=str(exc))


def _summary(counts):
    if dataclasses.is_dataclass(counts):
        counts = dataclasses.asdict(counts)
    if isinstance(counts, dict):
        return ', '.join('%s %s' % (value, name)
                         for name, value in counts.items())
    return str(counts)


class ModelCommands(object):
    """Watcher XML cluster models: import and export."""

    def import_file(self, file, model=None, replace=False):
        """Import a Watcher XML model (its kind told by its elements)."""
        data = _read(file)
        # Parse and validate before touching the graph: a bad file writes
        # nothing.
        watcher_xml.parse_model(data, model)
        with manage.open_graph() as graph:
            schema.check(graph)
            kind, counts = watcher_xml.import_model(graph, data, kind=model,
                                                    replace=replace)
        print('Imported the %s model from %s: %s.' % (
            kind, file, _summary(counts)))

    def export(self, model='compute', output=None):
        """Export a model in Watcher's XML format."""
        with manage.open_graph() as graph:
            schema.check(graph)
            text = watcher_xml.export_model(graph, model)
        if output in (None, '-'):
            sys.stdout.write(text)
            return
        try:
            with open(output, 'w', encoding='utf-8') as f:
                f.write(text)
        except OSError as exc:
            raise exception.InvalidParameter(field='--output',
                                             reason=str(exc))
        print('Exported the %s model to %s.' % (model, output))


# "import" is a keyword: the action is bound under its name here.
setattr(ModelCommands, 'import', ModelCommands.import_file)

_KINDS = list(xml_common.KINDS)

manage.register('model', ModelCommands, {
    'import': [
        (('file',), dict(metavar='FILE',
                         help='The XML file ("-": standard input).')),
        (('--model',), dict(dest='model', choices=_KINDS, default=None,
                            help='The model kind the file must hold '
                                 '(default: told by its elements).')),
        (('--replace',), dict(dest='replace', action='store_true',
                              default=False,
                              help='Also delete what the graph holds of '
                                   'that model and the file does not.')),
    ],
    'export': [
        (('--model',), dict(dest='model', choices=_KINDS,
                            default=xml_common.KIND_COMPUTE,
                            help='Which model (default: compute).')),
        (('--output',), dict(dest='output', metavar='FILE', default=None,
                             help='Write to FILE instead of standard '
                                  'output.')),
    ],
})
