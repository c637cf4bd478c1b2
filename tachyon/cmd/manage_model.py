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

Import reads at most ``[model_import]/max_document_size`` bytes (plus one,
to tell a larger document), parses and validates the whole document
within ``[model_import]`` bounds, then writes it in one transaction. Any
failure ends the command with one line on standard error and a non-zero
exit status; an unexpected one is logged with its traceback at debug
level (``--debug``) and reported as one line too.
"""

import dataclasses
import sys

from oslo_config import cfg
from oslo_log import log as logging

from tachyon.cmd import manage
from tachyon import exception
from tachyon.graph import schema
from tachyon import watcher_xml
from tachyon.watcher_xml import common as xml_common


LOG = logging.getLogger(__name__)

#: The longest error line the command prints.
_MAX_MESSAGE = 500


def _limits():
    group = manage.CONF.model_import
    return xml_common.Limits(
        max_document_size=group.max_document_size,
        max_attribute_length=group.max_attribute_length)


def _read(path, limit):
    """At most ``limit`` bytes of ``path`` ("-": standard input).

    One byte more is read to tell a document larger than ``limit``, which
    is refused.
    """
    try:
        if path == '-':
            data = sys.stdin.buffer.read(limit + 1)
        else:
            with open(path, 'rb') as f:
                data = f.read(limit + 1)
    except OSError as exc:
        raise exception.InvalidParameter(field='FILE',
                                         reason=xml_common.one_line(exc))
    if len(data) > limit:
        raise exception.InvalidModel(
            element='document',
            reason='larger than [model_import]/max_document_size (%d '
                   'bytes)' % limit)
    return data


def _unexpected(what, exc):
    """An error no check foresaw, as one line; its traceback at debug."""
    LOG.debug('Unexpected error while %s', what, exc_info=True)
    return exception.TachyonException(
        'unexpected error while %s: %s: %s (run with --debug for the '
        'traceback)' % (what, type(exc).__name__,
                        xml_common.one_line(exc) or '-'))


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
        try:
            kind, counts = self._import(file, model, replace)
        except exception.TachyonException as exc:
            # One line, however long what it quotes.
            exc.message = xml_common.one_line(exc.message, _MAX_MESSAGE)
            raise
        print('Imported the %s model from %s: %s.' % (
            kind, file, _summary(counts)))

    def _import(self, file, model, replace):
        step = 'reading the configuration'
        try:
            limits = _limits()
            data = _read(file, limits.max_document_size)
            # Parse and validate before touching the graph: a bad file
            # writes nothing.
            step = 'reading the document'
            kind, parsed = watcher_xml.parse_model(data, model, limits)
            del data
            step = 'connecting to the graph'
            with manage.open_graph() as graph:
                schema.check(graph)
                step = 'writing the %s model' % kind
                return kind, watcher_xml.write_model(graph, kind, parsed,
                                                     replace=replace)
        except exception.GraphRefused as exc:
            # Neo4j refused what the checks let through (a value too large
            # for its index, say): the step, and the traceback at debug.
            LOG.debug('Neo4j refused the import while %s', step,
                      exc_info=True)
            raise exception.TachyonException(
                'error while %s: %s (run with --debug for the traceback)'
                % (step, xml_common.one_line(exc)))
        except exception.TachyonException:
            raise
        except cfg.Error as exc:
            raise exception.TachyonException(
                'invalid configuration: %s' % xml_common.one_line(exc))
        except Exception as exc:
            raise _unexpected(step, exc)

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
