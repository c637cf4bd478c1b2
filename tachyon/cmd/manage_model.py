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

"""tachyon-manage model: Watcher XML model import and export, inspection.

    tachyon-manage model import FILE [--model KIND] [--replace]
                                [--progress|--quiet]
    tachyon-manage model export [--model compute|storage|baremetal]
                                [--output FILE]
    tachyon-manage model stats [-f table|json|value]
    tachyon-manage model show node|instance|volume ID [-f ...]

The format is Watcher's own (``ModelRoot.to_xml()`` and its storage and
baremetal siblings), so an operator can seed Tachyon from a Watcher dump
and compare the two.

Import reads at most ``[model_import]/max_document_size`` bytes (plus one,
to tell a larger document), parses and validates the whole document
within ``[model_import]`` bounds, then writes it whole: in one
transaction, or for ``--replace`` of a compute model staged in
transactions of ``[model_import]/stage_chunk_size`` records and switched
to in one short transaction (:mod:`tachyon.graph.compute.staging`). Any
failure ends the command with one line on standard error and a non-zero
exit status; an unexpected one is logged with its traceback at debug
level (``--debug``) and reported as one line too.
"""

import dataclasses
import sys
import time

from oslo_config import cfg
from oslo_log import log as logging

from tachyon.cmd import formatters
from tachyon.cmd import manage
from tachyon import exception
from tachyon.graph import compute as compute_graph
from tachyon.graph import inspect
from tachyon.graph import schema
from tachyon.model import records
from tachyon import watcher_xml
from tachyon.watcher_xml import common as xml_common


LOG = logging.getLogger(__name__)

#: The longest error line the command prints.
_MAX_MESSAGE = 500


def _staging(kind, report):
    """The staged import's settings, for a compute import."""
    if kind != xml_common.KIND_COMPUTE:
        return {}
    group = manage.CONF.model_import
    return {'chunk': group.stage_chunk_size,
            'lease_ttl': group.stage_lease_ttl, 'report': report}


def _records(parsed):
    return len(parsed.nodes) + len(parsed.instances)


def _is_staged(kind, parsed, replace):
    """Whether a compute import is staged (every other one is not)."""
    return kind == xml_common.KIND_COMPUTE and compute_graph.import_is_staged(
        _records(parsed), replace, manage.CONF.model_import.stage_chunk_size)


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


def _parsed_summary(parsed):
    """'2 nodes, 4 instances' of a parsed model (a namedtuple of lists)."""
    return ', '.join('%d %s' % (len(getattr(parsed, name)), name)
                     for name in parsed._fields) or 'nothing'


def _memory_advice(kind, parsed=None, staged=True):
    """What an operator can do about an import Neo4j had no memory for."""
    advice = 'give Neo4j a larger heap (server.memory.heap.max_size)'
    if kind == xml_common.KIND_COMPUTE and not staged:
        advice = ('set [model_import]/stage_chunk_size below its %d records '
                  '(a larger model is staged in transactions of that many) '
                  'or %s' % (_records(parsed), advice))
    return advice


class ModelCommands(object):
    """Watcher XML cluster models: import, export and inspection."""

    def import_file(self, file, model=None, replace=False, progress=None):
        """Import a Watcher XML model (its kind told by its elements)."""
        report = formatters.Progress('tachyon-manage model import',
                                     progress)
        try:
            kind, counts = self._import(file, model, replace, report)
        except exception.TachyonException as exc:
            # One line, however long what it quotes.
            exc.message = xml_common.one_line(exc.message, _MAX_MESSAGE)
            raise
        print('Imported the %s model from %s: %s.' % (
            kind, file, _summary(counts)))

    def _import(self, file, model, replace, report):
        step = 'reading the configuration'
        kind = model
        advice = _memory_advice(kind)
        try:
            limits = _limits()
            data = _read(file, limits.max_document_size)
            report('read %d bytes from %s', len(data), file)
            # Parse and validate before touching the graph: a bad file
            # writes nothing.
            step = 'reading the document'
            kind, parsed = watcher_xml.parse_model(data, model, limits)
            del data
            report('parsed and validated the %s model: %s', kind,
                   _parsed_summary(parsed))
            step = 'connecting to the graph'
            with manage.open_graph() as graph:
                schema.check(graph)
                report('connected to %s; schema checked', graph.safe_uri)
                step = 'writing the %s model' % kind
                started = time.monotonic()
                staged = _is_staged(kind, parsed, replace)
                advice = _memory_advice(kind, parsed, staged)
                counts = watcher_xml.write_model(
                    graph, kind, parsed, replace=replace,
                    **_staging(kind, report))
                report('wrote the %s model %s in %.2f s: %s', kind,
                       'staged, then switched to' if staged
                       else 'in one transaction',
                       time.monotonic() - started, _summary(counts))
                return kind, counts
        except exception.GraphOutOfMemory as exc:
            raise exception.TachyonException(
                'error while %s: %s; %s' % (
                    step, xml_common.one_line(exc), advice))
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

    def stats(self, format=formatters.TABLE):
        """Count the model's entities; the last full sync of each collector."""
        with manage.open_graph() as graph:
            schema.check(graph)
            stats = inspect.model_stats(graph)
        formatters.emit(stats_sections(stats), format)

    def show(self, kind, ident, format=formatters.TABLE):
        """Show a compute node, instance or volume (by uuid or name)."""
        with manage.open_graph() as graph:
            schema.check(graph)
            found = SHOW[kind][0](graph, ident)
        formatters.emit(SHOW[kind][1](found), format)


# ---------------------------------------------------------------------------
# What stats and show print
# ---------------------------------------------------------------------------

#: The sync run columns of ``model stats``: (JSON key, table header).
SYNC_COLUMNS = (('collector', 'Collector'),
                ('started_at', 'Last run (UTC)'),
                ('status', 'Status'), ('seconds', 'Seconds'),
                ('fetched', 'Fetched'), ('created', 'Created'),
                ('updated', 'Updated'), ('deleted', 'Deleted'),
                ('skipped', 'Skipped'), ('stale', 'Stale'),
                ('generation', 'Generation'),
                ('last_success_at', 'Last success (UTC)'),
                ('error', 'Error'))


def _fetched(run):
    return sum(kind.get('fetched') or 0
               for kind in (run.get('details') or {}).values())


def _run_json(run):
    if run is None:
        return None
    run = dict(run, fetched=_fetched(run))
    for key in ('started_at', 'finished_at'):
        run[key] = formatters.when(run.get(key))
    return run


def stats_sections(stats):
    """The sections ``model stats`` prints of :func:`inspect.model_stats`."""
    counts = stats['counts']
    model = formatters.Record('model', [
        ('generation', stats['generation']),
        ('compute_nodes', counts['compute_nodes']),
        ('placeholder_compute_nodes', counts['placeholder_compute_nodes']),
        ('instances', counts['instances']),
        ('unplaced_instances', counts['unplaced_instances']),
        ('storage_nodes', counts['storage_nodes']),
        ('pools', counts['pools']),
        ('volumes', counts['volumes']),
        ('unplaced_volumes', counts['unplaced_volumes']),
        ('ironic_nodes', counts['ironic_nodes']),
        ('import_leftovers', counts['import_leftovers']),
    ])
    sessions = formatters.Record('sessions', stats['sessions'].items(),
                                 title='Simulation sessions by status')
    tombstones = formatters.Record('tombstones',
                                   stats['tombstones'].items(),
                                   title='Tombstones by kind')
    rows = []
    for sync in stats['syncs']:
        last = sync['last']
        success = sync['last_success'] or {}
        row = dict(last, fetched=_fetched(last),
                   started_at=formatters.when(last.get('started_at')),
                   last_success_at=formatters.when(
                       success.get('started_at')))
        rows.append([row.get(key) for key, _h in SYNC_COLUMNS])
    syncs = formatters.Listing(
        'syncs', [k for k, _h in SYNC_COLUMNS], rows,
        headers=[h for _k, h in SYNC_COLUMNS],
        title='Last full sync of each collector',
        empty='No sync recorded.',
        data=[{'collector': sync['collector'],
               'last': _run_json(sync['last']),
               'last_success': _run_json(sync['last_success']),
               'recorded_runs': sync['recorded']}
              for sync in stats['syncs']])
    held = stats.get('reservations') or {}
    reserved = formatters.Record('reservations', [
        (key, held.get(key, 0)) for key in ('active', 'holding_moves',
                                            'conflicts', 'ended')],
        title='Reservations of pending action plans')
    return [model, sessions, tombstones, syncs, reserved]


def _fields(record, leave_out=()):
    data = records.as_dict(record)
    return [(name, formatters.when(value) if name.endswith('updated_at')
             else value)
            for name, value in data.items() if name not in leave_out]


_NODE_SUMMARY = ('uuid', 'hostname', 'status', 'state', 'disabled_reason',
                 'availability_zone')
_USAGE_COLUMNS = (('resource', 'Resource'), ('total', 'Total'),
                  ('reserved', 'Reserved'),
                  ('allocation_ratio', 'Allocation ratio'),
                  ('capacity', 'Capacity'), ('used', 'Used'),
                  ('free', 'Free'))
_INSTANCE_COLUMNS = (('uuid', 'UUID'), ('name', 'Name'), ('state', 'State'),
                     ('vcpus', 'vCPUs'), ('memory', 'Memory (MB)'),
                     ('disk', 'Disk (GB)'))


def node_sections(found):
    """What ``model show node`` prints of :func:`inspect.show_node`."""
    usage = found['usage']
    return [
        formatters.Record('node', _fields(found['node'],
                                          ('inventories', 'watcher_unset')),
                          title='Compute node'),
        formatters.Listing(
            'usage', [k for k, _h in _USAGE_COLUMNS],
            [[key] + [usage[key][k] for k, _h in _USAGE_COLUMNS[1:]]
             for key in usage],
            headers=[h for _k, h in _USAGE_COLUMNS],
            title='Usage (capacity = (total - reserved) * allocation '
                  'ratio; free = capacity - used)',
            data=usage),
        formatters.Listing(
            'instances', [k for k, _h in _INSTANCE_COLUMNS],
            [[getattr(i, k) for k, _h in _INSTANCE_COLUMNS]
             for i in found['instances']],
            headers=[h for _k, h in _INSTANCE_COLUMNS],
            title='Instances (%d)' % len(found['instances']),
            empty='No instance.'),
    ]


def instance_sections(found):
    """What ``model show instance`` prints of inspect.show_instance."""
    node = found['node']
    return [
        formatters.Record('instance', _fields(found['instance'],
                                              ('watcher_unset',)),
                          title='Instance'),
        formatters.Record(
            'node', None if node is None else
            [(name, value) for name, value in _fields(node)
             if name in _NODE_SUMMARY],
            title='Compute node', empty='The instance is on no compute '
                                        'node.'),
    ]


def volume_sections(found):
    """What ``model show volume`` prints of :func:`inspect.show_volume`."""
    pool = found['pool']
    return [
        formatters.Record('volume', _fields(found['volume']),
                          title='Volume'),
        formatters.Record('pool', None if pool is None else _fields(pool),
                          title='Pool', empty='The volume is in no pool.'),
    ]


#: ``model show`` KIND -> (graph read, sections of what it found).
SHOW = {
    'node': (inspect.show_node, node_sections),
    'instance': (inspect.show_instance, instance_sections),
    'volume': (inspect.show_volume, volume_sections),
}

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
    ] + formatters.PROGRESS_ARGS,
    'export': [
        (('--model',), dict(dest='model', choices=_KINDS,
                            default=xml_common.KIND_COMPUTE,
                            help='Which model (default: compute).')),
        (('--output',), dict(dest='output', metavar='FILE', default=None,
                             help='Write to FILE instead of standard '
                                  'output.')),
    ],
    'stats': [formatters.FORMAT_ARG],
    'show': [
        (('kind',), dict(choices=sorted(SHOW), metavar='{%s}'
                         % ','.join(sorted(SHOW)),
                         help='What to show: a compute node, an instance '
                              'or a volume.')),
        (('ident',), dict(metavar='ID',
                          help='Its uuid, or its name when only one '
                               'entity of that kind has it.')),
        formatters.FORMAT_ARG,
    ],
})
