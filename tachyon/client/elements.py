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

"""Watcher's model elements, as Tachyon's models hand them out.

Each class here *is* Watcher's element class (a subclass of the same
name, with the same fields, version and primitive), so strategies see
nothing else. Three things are faster, each giving the answers Watcher's
own would.

**Reading a field.** Strategies read element fields by the hundred
million (vm_workload_consolidation at 1,000 nodes: 130 million reads,
two thirds of its run). oslo.versionedobjects' getter asks ``hasattr``
then ``getattr`` of the stored value; these ask once, with a default,
and load a missing field as that getter does (elements cannot:
NotImplementedError). Setting and deleting a field are Watcher's.

**Equality.** Watcher's elements are equal when their
``obj_to_primitive()`` are equal, which builds both primitives, with
their change sets, on every comparison: about 80 microseconds.
Strategies compare elements in their inner loops (basic consolidation
asks ``source_node == destination_node`` for every candidate destination
of every instance: 90 % of its run time). These classes answer first
what the primitives would answer anyway:

* an element is equal to itself;
* two elements whose ``uuid`` is set on both and differs are not equal,
  since ``uuid`` is part of both primitives' data.

Anything else (two distinct objects with one uuid, an element compared
with something that is not one) goes to Watcher's comparison.

**Building** (:func:`build`, for loading a 20,000-instance model): the
object Watcher's constructor makes, with each value coerced by its
field, but a value the field would keep as it is (a ``str`` for a string
field, a non-negative ``int`` for a non-negative integer field ...) is
stored without the call. :func:`build_columns` builds many at once from
columns, coercing each distinct value of a dictionary-encoded column
once (for 100,000 instances: a fifth of the time of one build each).
"""

import datetime
import re

from oslo_versionedobjects import base as ovo_base
from oslo_versionedobjects import fields as ovo_fields
from watcher.decision_engine.model import element
from watcher.decision_engine.model.element import base
from watcher.objects import fields as watcher_fields

_MISSING = object()


def _attrname(name):
    """Where an oslo.versionedobjects object keeps field ``name``."""
    return '_obj_' + name


def _getter(name):
    attrname = _attrname(name)

    def get(self):
        value = getattr(self, attrname, _MISSING)
        if value is _MISSING:
            self.obj_load_attr(name)
            return getattr(self, attrname)
        return value

    get.__name__ = name
    return get


def _known_equal(self, other):
    """True or False when sure without the primitives, else None."""
    if self is other:
        return True
    if isinstance(other, base.Element):
        mine = getattr(self, '_obj_uuid', _MISSING)
        if mine is not _MISSING and 'uuid' in self.fields:
            theirs = getattr(other, '_obj_uuid', _MISSING)
            if (theirs is not _MISSING and 'uuid' in other.fields
                    and mine != theirs):
                return False
    return None


def _eq(self, other):
    known = _known_equal(self, other)
    if known is None:
        return ovo_base.ComparableVersionedObject.__eq__(self, other)
    return known


def _ne(self, other):
    known = _known_equal(self, other)
    if known is None:
        return ovo_base.ComparableVersionedObject.__ne__(self, other)
    return not known


def _tachyon_element(watchers):
    """A subclass of Watcher's element class ``watchers``, of its name.

    One level below Watcher's class: ``isinstance(obj, watchers)`` then
    costs 125 ns instead of 18 (Watcher's classes are ABCs), a cost paid
    on far fewer calls than the field reads this class makes faster.
    ``__hash__`` is restated: defining ``__eq__`` would drop the inherited
    one (object identity, which Watcher's graph keys rely on).
    """
    namespace = {'__eq__': _eq, '__ne__': _ne,
                 '__hash__': watchers.__hash__, '__module__': __name__,
                 '__qualname__': watchers.__name__,
                 '__doc__': watchers.__doc__}
    for name in watchers.fields:
        theirs = getattr(watchers, name)
        namespace[name] = property(_getter(name), theirs.fset, theirs.fdel)
    cls = type(watchers)(watchers.__name__, (watchers,), namespace)
    _PLANS[cls] = _plan(cls)
    return cls


def _non_negative(value):
    return value >= 0


_UUID = re.compile(r'[a-fA-F0-9]{8}-?[a-fA-F0-9]{4}-?[a-fA-F0-9]{4}-?'
                   r'[a-fA-F0-9]{4}-?[a-fA-F0-9]{12}')


def _valid_uuid(value):
    # A subset of what uuid.UUID() reads: the field would not warn.
    return _UUID.fullmatch(value) is not None


# Field class -> (the type of the values its coerce() returns unchanged,
# the further test those values must pass, if any). A value of exactly
# that type passing the test is stored as it is; anything else goes to
# the field's coerce(), as it would in Watcher.
_KEPT = {
    ovo_fields.StringField: (str, None),
    ovo_fields.UUIDField: (str, _valid_uuid),
    ovo_fields.IntegerField: (int, None),
    ovo_fields.NonNegativeIntegerField: (int, _non_negative),
    ovo_fields.FloatField: (float, None),
    ovo_fields.NonNegativeFloatField: (float, _non_negative),
    ovo_fields.BooleanField: (bool, None),
    # Watcher's: empty is null, else oslo's UUID; JSON text is parsed.
    watcher_fields.UUIDField: (str, _valid_uuid),
    watcher_fields.JsonField: (dict, None),
}

_PLANS = {}


def _plan(cls):
    """How :func:`build` sets each field of ``cls``, and its defaults."""
    if any(field.read_only for field in cls.fields.values()):
        return None  # a read-only field's setter has its own rules
    setters = {}
    for name, field in cls.fields.items():
        kept, test = _KEPT.get(type(field), (None, None))
        setters[name] = (_attrname(name), field, kept, test)
    # What Watcher's Element.__init__ fills in when not given: the
    # coerced default, kept when coerce() hands the default itself back
    # (Watcher's objects then share it too), else coerced every time.
    defaults = []
    for name, field in cls.fields.items():
        if field.nullable or field.default == ovo_fields.UnspecifiedDefault:
            continue
        try:
            value = field.coerce(None, name, field.default)
        except Exception:
            value = _MISSING  # wants its object: coerced at each build
        defaults.append((name, setters[name][0], field,
                         value if value is field.default else _MISSING))
    return setters, defaults


def build(cls, values):
    """``cls(**values)``, as Watcher's constructor makes it, faster.

    ``cls`` is one of this module's classes. The same stored values (each
    coerced by its field, or kept when the field would keep it), the same
    defaults and the same change set; a value the field refuses raises
    the field's error.
    """
    plan = _PLANS.get(cls)
    if plan is None:
        return cls(**values)
    setters, defaults = plan
    obj = cls.__new__(cls)
    changed = set()
    obj._changed_fields = changed
    obj._context = None
    stored = obj.__dict__
    for name, value in values.items():
        setter = setters.get(name)
        if setter is None:
            setattr(obj, name, value)  # not a field: as Watcher's would
            continue
        attrname, field, kept, test = setter
        if type(value) is not kept or (test is not None and
                                       not test(value)):
            value = field.coerce(obj, name, value)
        stored[attrname] = value
        changed.add(name)
    for name, attrname, field, value in defaults:
        if name not in values:
            if value is _MISSING:
                value = field.coerce(obj, name, field.default)
            stored[attrname] = value
            changed.add(name)
    return obj


#: Types whose values may be shared by several elements: no strategy can
#: change one in place.
_IMMUTABLE = frozenset([str, int, float, bool, type(None),
                        datetime.datetime])

#: A field left unset (the key not given, no default).
_ABSENT = object()


def _rows(columns, count, unset):
    """The values dict of each row, as :func:`build_columns` reads them."""
    plain = {name: (column if not isinstance(column, tuple) else
                    list(map(column[0].__getitem__, column[1])))
             for name, column in columns.items()}
    for index in range(count):
        values = {name: column[index] for name, column in plain.items()
                  if column[index] is not None}
        for name in (unset[index] if unset is not None else ()) or ():
            values.pop(name, None)
        yield values


def build_columns(cls, columns, count, unset=None):
    """``[build(cls, values) for each row]``, built column by column.

    ``columns`` maps field names to columns of ``count`` values each:
    a list, or a ``(distinct values, positions)`` pair (row ``i`` has
    ``values[positions[i]]``). A None value is a field not given (its
    default applies, as when ``build`` is not given the key), and so are
    the names in ``unset[i]`` for row ``i``. Each distinct value of a pair
    is coerced once, and shared by its rows when immutable; anything a
    field would refuse, or a value that is not a field of ``cls``, takes
    :func:`build` row by row (and so raises the field's own error).
    """
    plan = _PLANS.get(cls)
    if plan is None or any(name not in plan[0] for name in columns):
        return [build(cls, values) for values in _rows(columns, count, unset)]
    try:
        return _build_columns(cls, plan, columns, count, unset)
    except Exception:
        return [build(cls, values) for values in _rows(columns, count, unset)]


def _stored(setter, value, obj, name):
    """What build stores of a given ``value``."""
    attrname, field, kept, test = setter
    if type(value) is not kept or (test is not None and not test(value)):
        value = field.coerce(obj, name, value)
    return value


def _build_columns(cls, plan, columns, count, unset):
    setters, defaults = plan
    objs = [cls.__new__(cls) for _ in range(count)]
    # A default that wants its object (_MISSING) is coerced per object.
    default_of = {name: value for name, _attrname, _field, value in defaults}
    default_field = {name: field for name, _attrname, field, _v in defaults}

    def absent(name, obj):
        value = default_of.get(name, _ABSENT)
        if value is _MISSING:
            value = default_field[name].coerce(obj, name,
                                               default_field[name].default)
        return value

    names, stored = [], []
    # Rows where a column's field is not given (None, or named unset):
    # their change sets list it with the defaults, as build adds them.
    not_given = {}
    for name, column in columns.items():
        setter = setters[name]
        if isinstance(column, tuple):
            values, positions = column
            shared, per_row = [], False
            for value in values:
                value = (absent(name, None) if value is None
                         else _stored(setter, value, None, name))
                if value is _MISSING or type(value) not in _IMMUTABLE:
                    per_row = True
                shared.append(value)
            if not per_row:
                out = list(map(shared.__getitem__, positions))
            else:
                out = [absent(name, obj) if values[p] is None else
                       _stored(setter, values[p], obj, name)
                       for obj, p in zip(objs, positions)]
            if None in values:
                none = values.index(None)
                not_given[name] = {row for row, p in enumerate(positions)
                                   if p == none}
        else:
            _attrname, field, kept, test = setter
            if test is None:
                out = [value if type(value) is kept else
                       absent(name, obj) if value is None else
                       field.coerce(obj, name, value)
                       for obj, value in zip(objs, column)]
            else:
                out = [value if type(value) is kept and test(value) else
                       absent(name, obj) if value is None else
                       field.coerce(obj, name, value)
                       for obj, value in zip(objs, column)]
            if None in column:
                not_given[name] = {row for row, value in enumerate(column)
                                   if value is None}
        names.append(name)
        stored.append(out)
    given = list(names)
    for name, _attrname, field, value in defaults:
        if name in columns:
            continue
        if value is _MISSING:
            out = [field.coerce(obj, name, field.default) for obj in objs]
        else:
            out = [value] * count
        names.append(name)
        stored.append(out)
    if unset is not None:
        position = {name: index for index, name in enumerate(names)}
        for index, gone in enumerate(unset):
            for name in gone or ():
                if name in columns:
                    stored[position[name]][index] = absent(name, objs[index])
                    not_given.setdefault(name, set()).add(index)
    # The change set of each object, its names added in build's order:
    # those given, then the defaults (a set's order of iteration, which
    # obj_to_primitive lists and Watcher's equality compares, follows
    # the order of insertion).
    default_order = [name for name, _a, _f, _v in defaults]
    everyone = given + [name for name in default_order
                        if name not in columns]
    changed = [everyone] * count
    for row in set().union(*not_given.values()) if not_given else ():
        missing = {name for name, rows in not_given.items() if row in rows}
        changed[row] = ([name for name in given if name not in missing]
                        + [name for name in default_order
                           if name in missing or name not in columns])
    keys = [setters[name][0] for name in names]
    attrnames = list(keys)
    keys += ['_changed_fields', '_context']
    stored += [list(map(set, changed)), [None] * count]
    for obj, row in zip(objs, zip(*stored)):
        obj.__dict__.update(zip(keys, row))
    for out, name, attrname in zip(stored, names, attrnames):
        if _ABSENT in out:
            for obj, value in zip(objs, out):
                if value is _ABSENT:
                    del obj.__dict__[attrname]
                    obj._changed_fields.discard(name)
    return objs


ComputeNode = _tachyon_element(element.ComputeNode)
Instance = _tachyon_element(element.Instance)
StorageNode = _tachyon_element(element.StorageNode)
Pool = _tachyon_element(element.Pool)
Volume = _tachyon_element(element.Volume)
IronicNode = _tachyon_element(element.IronicNode)
