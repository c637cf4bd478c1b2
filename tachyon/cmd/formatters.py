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

"""Output formats of tachyon-manage's listing and inspection commands.

``-f table`` (the default), ``-f json`` and ``-f value``, as
python-openstackclient names them:

* ``table``: a bordered table per section, a record as FIELD/VALUE rows;
* ``json``: one JSON document: a record as an object, a listing as a list
  of objects; several sections as one object keyed by section name. Times
  stay epoch seconds (floats), numbers stay numbers: it is for machines;
* ``value``: no header and no border: a record's values one per line, a
  listing's rows one per line, values separated by a space (what shell
  scripts read).

A command builds its answer as :class:`Record` and :class:`Listing`
sections and hands them to :func:`emit`.
"""

import datetime
import json
import sys
import time

TABLE = 'table'
JSON = 'json'
VALUE = 'value'
FORMATS = (TABLE, JSON, VALUE)

#: The ``-f/--format`` argument, as ``manage.register`` takes arguments.
FORMAT_ARG = (('-f', '--format'), dict(
    dest='format', choices=FORMATS, default=TABLE,
    help='Output format (default: table; json is machine-readable).'))


class Record(object):
    """One entity: ordered (field, value) pairs.

    ``fields`` None stands for no entity: JSON ``null``, and the text of
    ``empty`` in a table. ``data``, when given, is what JSON shows instead
    of the fields (a richer document than the table's).
    """

    def __init__(self, name, fields, title=None, empty=None, data=None):
        self.name = name
        self.fields = None if fields is None else list(fields)
        self.title = title or name.replace('_', ' ').capitalize()
        self.empty = empty or 'none'
        self.data = data


class Listing(object):
    """Rows of the same columns.

    ``columns`` are the JSON keys; ``headers`` (default: the columns) the
    table's header. ``empty`` is what a table shows instead of no rows;
    ``data`` as for :class:`Record`.
    """

    def __init__(self, name, columns, rows, headers=None, title=None,
                 empty=None, data=None):
        self.name = name
        self.columns = list(columns)
        self.headers = list(headers or columns)
        self.rows = [list(row) for row in rows]
        self.title = title or name.replace('_', ' ').capitalize()
        self.empty = empty
        self.data = data


class When(float):
    """An epoch time: UTC date and time in tables, epoch seconds in JSON."""

    def text(self):
        return datetime.datetime.fromtimestamp(
            self, datetime.timezone.utc).strftime('%Y-%m-%d %H:%M:%S')


def when(epoch):
    """``epoch`` as a :class:`When` (None stays None)."""
    return None if epoch is None else When(epoch)


def _text(value, human):
    """A value as table (``human``) or value-format text."""
    if value is None:
        return '-'
    if isinstance(value, When):
        return value.text()
    if isinstance(value, bool):
        return 'True' if value else 'False'
    if isinstance(value, float):
        if not human:
            return repr(value)
        return ('%.2f' % value).rstrip('0').rstrip('.')
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, sort_keys=True)
    return str(value)


def _table(columns, rows):
    cells = [[_text(v, True) for v in row] for row in rows]
    widths = [len(c) for c in columns]
    for row in cells:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    rule = '+' + '+'.join('-' * (w + 2) for w in widths) + '+'

    def line(values):
        cells = (v.ljust(w) for v, w in zip(values, widths))
        return '| ' + ' | '.join(cells) + ' |'
    out = [rule, line(columns), rule]
    out.extend(line(row) for row in cells)
    out.append(rule)
    return out


def _json_value(value):
    if isinstance(value, tuple):
        return [_json_value(v) for v in value]
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    if isinstance(value, When):
        return float(value)
    return value


def _as_json(section):
    if section.data is not None:
        return _json_value(section.data)
    if isinstance(section, Record):
        if section.fields is None:
            return None
        return {name: _json_value(value) for name, value in section.fields}
    return [{c: _json_value(v) for c, v in zip(section.columns, row)}
            for row in section.rows]


def _value_lines(section):
    if isinstance(section, Record):
        return [_text(v, False) for _n, v in section.fields or ()]
    return [' '.join(_text(v, False) for v in row) for row in section.rows]


def _table_lines(section):
    if isinstance(section, Record):
        if section.fields is None:
            return [section.empty]
        return _table(('Field', 'Value'), section.fields)
    if not section.rows and section.empty:
        return [section.empty]
    return _table(section.headers, section.rows)


def render(sections, fmt=TABLE):
    """The text of ``sections`` in format ``fmt`` (ends with a newline).

    One section in JSON is its own document; several are one object
    keyed by their names. Tables of several sections are titled.
    """
    sections = list(sections)
    if fmt == JSON:
        if len(sections) == 1:
            doc = _as_json(sections[0])
        else:
            doc = {s.name: _as_json(s) for s in sections}
        return json.dumps(doc, indent=2) + '\n'
    if fmt not in FORMATS:
        raise ValueError('unknown output format %r' % fmt)
    lines = []
    for section in sections:
        if fmt == VALUE:
            lines.extend(_value_lines(section))
            continue
        if len(sections) > 1:
            if lines:
                lines.append('')
            lines.append(section.title + ':')
        lines.extend(_table_lines(section))
    return ''.join(line + '\n' for line in lines)


def emit(sections, fmt=TABLE, stream=None):
    """Write ``sections`` to ``stream`` (standard output) in ``fmt``."""
    (stream or sys.stdout).write(render(sections, fmt))


# ---------------------------------------------------------------------------
# Progress on standard error
# ---------------------------------------------------------------------------

#: ``--progress`` and ``--quiet``, as ``manage.register`` takes arguments.
#: Without either, progress is shown when standard error is a terminal.
PROGRESS_ARGS = [
    (('--progress',), dict(
        dest='progress', action='store_const', const=True, default=None,
        help='Print a line per step on standard error, with its counts '
             'and the elapsed time (default: when standard error is a '
             'terminal).')),
    (('--quiet',), dict(
        dest='progress', action='store_const', const=False, default=None,
        help='Print no progress on standard error.')),
]


class Progress(object):
    """Lines of progress on standard error, each with the elapsed time.

    ``enabled`` None: when standard error is a terminal. The lines go to
    standard error so that standard output stays the command's result.
    """

    def __init__(self, prog, enabled=None, stream=None, clock=None):
        self.stream = stream or sys.stderr
        if enabled is None:
            isatty = getattr(self.stream, 'isatty', None)
            enabled = bool(isatty and isatty())
        self.enabled = enabled
        self.prog = prog
        self.clock = clock or time.monotonic
        self.start = self.clock()

    def elapsed(self):
        return self.clock() - self.start

    def __call__(self, text, *args):
        if not self.enabled:
            return
        self.stream.write('%s: [%7.2fs] %s\n' % (
            self.prog, self.elapsed(), text % args if args else text))
        self.stream.flush()
