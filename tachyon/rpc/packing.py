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

"""The packed table of RPC 1.8: columns, repeated values sent once.

A packed table is ``{'fields': [names], 'count': n, 'columns': [...]}``
with one column per field, each either

* a plain list of the ``n`` values, or
* ``{'values': [distinct values], 'index': [n positions]}``: the value of
  row ``i`` is ``values[index[i]]`` (dictionary encoding).

A compute snapshot repeats most of its values: 100,000 instances name
5,000 nodes (uuid, host, hypervisor), a few thousand projects, a handful
of states and flavors. Sent once each, the answer is a third of the 1.2
rows' bytes, and JSON encodes and decodes small integers faster than the
strings they stand for. A reader can also work on each distinct value once
(coerce it, parse it) instead of once per row.

Only columns of strings (``None`` among them) and of lists of strings are
encoded: numbers and flags are about as short as the positions that would
stand for them, and a string is equal only to a string, so the encoding
never merges values JSON tells apart (``1``, ``true`` and ``1.0`` are
equal keys of a Python dict). Lists come back as one new list per row. A
column goes plain when encoding would not shrink it (more than half its
values distinct), and the caller may name columns it knows distinct.

Nothing here talks to the transport: the tables are plain JSON data.
"""

import operator

_STRINGS = frozenset([str, type(None)])


def pack_column(values):
    """One column (a list of values): dictionary-encoded or as it is.

    Only columns of strings (None among them) and of lists of strings are
    encoded: numbers and flags are as short as their positions would be.
    """
    first = next((value for value in values if value is not None), None)
    if type(first) is str:
        try:
            distinct = dict.fromkeys(values)
        except TypeError:  # a list or dict among the strings
            return values
        # A string equals only a string: one type among the distinct
        # values is one type among all of them.
        if (len(distinct) * 2 > len(values)
                or not _STRINGS.issuperset(map(type, distinct))):
            return values
        keys = values
    elif type(first) is list:
        if not all(value is None or (type(value) is list and all(
                type(item) is str for item in value)) for value in values):
            return values
        keys = [None if value is None else tuple(value) for value in values]
        distinct = dict.fromkeys(keys)
        if len(distinct) * 2 > len(values):
            return values
    else:
        return values
    position = {key: index for index, key in enumerate(distinct)}
    return {'values': [key if type(key) is not tuple else list(key)
                       for key in distinct],
            'index': list(map(position.__getitem__, keys))}


def is_encoded(column):
    """Whether a packed column is dictionary-encoded (else a plain list)."""
    return isinstance(column, dict)


def unpack_column(column):
    """The list of values of a packed column (a new list per list value)."""
    if not is_encoded(column):
        return column
    values = column['values']
    rows = list(map(values.__getitem__, column['index']))
    if any(type(value) is list for value in values):
        rows = [list(value) if type(value) is list else value
                for value in rows]
    return rows


def pack(fields, columns, plain=()):
    """A packed table of ``columns`` (lists of equal length) named ``fields``.

    The fields named in ``plain`` are not even tried (the caller knows
    their values distinct: uuids, names). The lists become the table's
    plain columns: not to be changed after.
    """
    fields = list(fields)
    if len(fields) != len(columns):
        raise ValueError('%d fields for %d columns'
                         % (len(fields), len(columns)))
    count = len(columns[0]) if columns else 0
    if any(len(column) != count for column in columns):
        raise ValueError('columns of unequal lengths')
    return {'fields': fields, 'count': count,
            'columns': [column if name in plain else pack_column(column)
                        for name, column in zip(fields, columns)]}


def pack_records(items, names, extra=(), plain=()):
    """A packed table of records: one column per attribute in ``names``.

    ``extra`` adds ``(name, values)`` columns computed by the caller (one
    value per item, in order); ``plain`` as for :func:`pack`.
    """
    names = list(names)
    columns = [list(map(operator.attrgetter(name), items)) for name in names]
    for name, values in extra:
        names.append(name)
        columns.append(list(values))
    return pack(names, columns, plain=plain)


def column(table, name):
    """The values of one field of a packed table (None if it has none)."""
    if name not in table['fields']:
        return None
    return unpack_column(table['columns'][table['fields'].index(name)])


def columns_of(table):
    """{field: list of values} of a packed table."""
    return {name: unpack_column(column)
            for name, column in zip(table['fields'], table['columns'])}


def to_table(table):
    """A packed table as the 1.2 ``{'fields', 'rows'}`` table."""
    if not table['fields']:
        return {'fields': [], 'rows': []}
    columns = [unpack_column(column) for column in table['columns']]
    return {'fields': list(table['fields']),
            'rows': [list(row) for row in zip(*columns)]}
