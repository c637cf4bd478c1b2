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

"""The packed table of RPC 1.7: columns, repeated values sent once.

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

Only columns whose values are all ``str``, all ``int`` or all ``bool``
(``None`` among any of them), or all lists of strings, are encoded:
values of one exact type are equal only when they are the same value, so
the encoding never merges ``1`` with ``True`` or ``1.0`` (floats, whose
``0.0`` equals ``-0.0``, stay plain). Lists come back as one new list per
row. A column goes plain when encoding would not shrink it (more than
half its values distinct).

Nothing here talks to the transport: the tables are plain JSON data.
"""

import operator

_SCALARS = (frozenset([str]), frozenset([int]), frozenset([bool]),
            frozenset())


def _encodable(values):
    kinds = set(map(type, values))
    kinds.discard(type(None))
    if frozenset(kinds) in _SCALARS:
        return 'scalar'
    if kinds == {list} and all(type(item) is str for value in values
                               if value is not None for item in value):
        return 'list'
    return None


def pack_column(values):
    """One column (a list of values): dictionary-encoded or as it is."""
    kind = _encodable(values)
    if kind is None:
        return values
    keys = values if kind == 'scalar' else [
        None if value is None else tuple(value) for value in values]
    distinct = dict.fromkeys(keys)
    if len(distinct) * 2 > len(keys):
        return values
    position = {key: index for index, key in enumerate(distinct)}
    return {'values': [key if kind == 'scalar' or key is None else list(key)
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


def pack(fields, columns):
    """A packed table of ``columns`` (lists of equal length) named ``fields``.
    """
    fields = list(fields)
    if len(fields) != len(columns):
        raise ValueError('%d fields for %d columns'
                         % (len(fields), len(columns)))
    count = len(columns[0]) if columns else 0
    if any(len(column) != count for column in columns):
        raise ValueError('columns of unequal lengths')
    return {'fields': fields, 'count': count,
            'columns': [pack_column(list(column)) for column in columns]}


def pack_records(items, names, extra=()):
    """A packed table of records: one column per attribute in ``names``.

    ``extra`` adds ``(name, values)`` columns computed by the caller (one
    value per item, in order).
    """
    columns = [list(map(operator.attrgetter(name), items)) for name in names]
    names = list(names)
    for name, values in extra:
        names.append(name)
        columns.append(list(values))
    return pack(names, columns)


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
