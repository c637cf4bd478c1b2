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

"""Typed reads of the fields of data that comes from outside Tachyon.

One reader serves the collectors (API answers), the notification handlers
(payloads) and the Watcher XML import (element attributes):

* :class:`Reader` reads a decoded JSON object: each getter checks the
  field's type and whether it may be missing or null;
* :class:`TextReader` reads fields whose values are text (XML
  attributes) and parses them into numbers, booleans, mappings and times.

A field that cannot be used makes the reader raise the error its owner
chose (``error(reason, field)``, by default
:class:`tachyon.exception.MalformedField`); the reason names the field.
The wording of each problem is a class attribute, so each source keeps
the messages its operators know.

Every value a getter returns can be stored in Neo4j: integers fit its
signed 64 bits, numbers are finite, strings are valid Unicode (no lone
surrogates, which UTF-8 cannot carry). A value beyond that is refused
here, naming its field, rather than failing in the driver or the server.
Values shown in messages are cut short (a payload can hold megabytes).
"""

import ast
import json
import math
import re
import reprlib
import uuid as uuid_lib

from oslo_utils import strutils
from oslo_utils import timeutils

from tachyon import exception


#: The integers Neo4j stores (signed 64 bits).
INT64_MIN = -2 ** 63
INT64_MAX = 2 ** 63 - 1

_REPR = reprlib.Repr()
_REPR.maxstring = 60
_REPR.maxother = 60
_REPR.maxlong = 40


def type_names(types):
    """('str', 'int') as the text 'str or int'."""
    return ' or '.join(t.__name__ for t in types)


#: How many characters of a text value an error message quotes.
QUOTE_LENGTH = 64

# "4" and "4.0": Watcher writes integers as digits; a float-typed dump
# writes "4.0".
_INTEGER_RE = re.compile(r'[0-9]+(\.0*)?\Z')
_NUMBER_RE = re.compile(r'([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?\Z')
# More digits than INT64_MAX has can only be out of range.
_MAX_DIGITS = len(str(INT64_MAX))


def shorten(value, length=QUOTE_LENGTH):
    """A value as an error message quotes it: its repr, cut short."""
    text = value if isinstance(value, str) else str(value)
    if len(text) > length:
        return '%r... (%d characters)' % (text[:length], len(text))
    return repr(text)


def short_repr(value):
    """repr(value), cut to a length fit for one log line.

    Never raises: an integer too long for repr (Python refuses more than
    4300 digits) is described by its size.
    """
    if isinstance(value, int) and not isinstance(value, bool) and (
            value.bit_length() > 128):
        return '<an integer of %d bits>' % value.bit_length()
    try:
        return _REPR.repr(value)
    except (ValueError, RecursionError):
        return '<a %s that cannot be shown>' % type(value).__name__


def short_text(text, limit=60):
    """A string cut to ``limit`` characters (with '...' when cut)."""
    return text if len(text) <= limit else text[:limit] + '...'


class _Shown(object):
    """A value formatted (%r or %s) by its :func:`short_repr`."""

    def __init__(self, value):
        self.text = short_repr(value)

    def __repr__(self):
        return self.text

    __str__ = __repr__


def out_of_range(value):
    """Why ``value`` (a number) cannot be stored in Neo4j, or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            return 'beyond the signed 64-bit integers Neo4j stores'
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return 'not a finite number'
    return None


def bad_text(value):
    """Why the string ``value`` cannot be stored in Neo4j, or None."""
    try:
        value.encode('utf-8')
    except UnicodeEncodeError:
        return 'not valid Unicode text (it holds a lone surrogate)'
    return None


class Reader(object):
    """Typed reads of one JSON object's fields.

    :param data: the object (a dict; anything else fails at once).
    :param error: ``error(reason, field)`` -> the exception to raise.
    """

    #: Message formats. Keys: key (the field), what (a description of
    #: the types, as the getter gives it), types (their names), value and
    #: type (the value found and its type's name).
    NOT_OBJECT = 'expected an object, got %(type)s'
    MISSING = 'missing field %(key)r'
    NULL = 'field %(key)r is null'
    WRONG_TYPE = 'field %(key)r must be %(what)s, got %(type)s'
    WRONG_BOOL = 'field %(key)r must be %(what)s, got %(value)r'
    NOT_UUID = 'field %(key)r is not a UUID: %(value)r'
    #: Keys: key, value and why (what makes the value unusable).
    OUT_OF_RANGE = 'field %(key)r is out of range (%(why)s): %(value)r'
    BAD_TEXT = 'field %(key)r is %(why)s: %(value)r'

    def __init__(self, data, error=None):
        self.error = error or exception.MalformedField
        if not isinstance(data, dict):
            self.fail(self.say(self.NOT_OBJECT, None, data))
        self.data = data

    def fail(self, reason, field=None):
        """Raise the owner's error for ``reason`` (about ``field``)."""
        raise self.error(reason, field)

    @staticmethod
    def say(fmt, key, value=None, types=(), what=None, why=None):
        return fmt % {'key': key, 'value': _Shown(value),
                      'type': type(value).__name__,
                      'types': type_names(types),
                      'what': what or type_names(types),
                      'why': why}

    def in_range(self, key, value):
        """``value`` (of field ``key``), if Neo4j can store it.

        Also for values computed from fields (a sum of sizes): an integer
        beyond 64 bits, NaN or an infinity fails, naming ``key``.
        """
        why = out_of_range(value)
        if why:
            self.fail(self.say(self.OUT_OF_RANGE, key, value, why=why), key)
        return value

    def text(self, key, value):
        """The string ``value`` (of field ``key``), if it is valid text."""
        why = bad_text(value)
        if why:
            self.fail(self.say(self.BAD_TEXT, key, value, why=why), key)
        return value

    def get(self, key, types, required=True, default=None, what=None,
            source=None):
        """The field ``key`` of ``source`` (default: the object read).

        Missing or null: ``default`` unless ``required``. Otherwise it must
        be an instance of ``types`` (a bool only when bool is one of them).
        """
        source = self.data if source is None else source
        value = source.get(key)
        if value is None:
            if required:
                fmt = self.NULL if key in source else self.MISSING
                self.fail(self.say(fmt, key), key)
            return default
        if isinstance(value, bool) and bool not in types:
            self.fail(self.say(self.WRONG_BOOL, key, value, types, what),
                      key)
        if not isinstance(value, types):
            self.fail(self.say(self.WRONG_TYPE, key, value, types, what),
                      key)
        return value

    def string(self, key, required=True, default=None, source=None):
        value = self.get(key, (str,), required, default, 'a string', source)
        return self.text(key, value) if isinstance(value, str) else value

    def integer(self, key, required=True, default=None, source=None):
        return self.in_range(key, self.get(key, (int,), required, default,
                                           'an integer', source))

    def number(self, key, required=True, default=None, source=None):
        return self.in_range(key, self.get(key, (int, float), required,
                                           default, 'a number', source))

    def boolean(self, key, required=True, default=None, source=None):
        return self.get(key, (bool,), required, default, 'a boolean',
                        source)

    def mapping(self, key, required=True, default=None, source=None):
        return self.get(key, (dict,), required, default, 'an object',
                        source)

    def sequence(self, key, required=True, default=None, source=None):
        return self.get(key, (list,), required, default, 'a list', source)

    def uuid(self, key, source=None):
        """A required string that is a UUID."""
        value = self.get(key, (str,), what='a UUID string', source=source)
        try:
            uuid_lib.UUID(value)
        except ValueError:
            self.fail(self.say(self.NOT_UUID, key, value), key)
        return value


class TextReader(Reader):
    """Typed reads of fields whose values are text (XML attributes).

    :param data: the fields, any mapping with ``get`` and ``in`` (an
        element's ``attrib``).
    :param error: ``error(reason, field)`` -> the exception to raise; the
        reasons here do not repeat the field's name.
    """

    MISSING = 'missing'
    EMPTY = 'empty'

    def __init__(self, data, error=None):
        self.error = error or exception.MalformedField
        self.data = data

    def string(self, key, required=False, default=None):
        value = self.data.get(key)
        if value is None:
            if required:
                self.fail(self.MISSING, key)
            return default
        if required and not value.strip():
            self.fail(self.EMPTY, key)
        return value

    def integer(self, key, required=False):
        """An integer from 0 to INT64_MAX ("4" and "4.0" alike)."""
        value = self.string(key, required)
        if value is None:
            return None
        text = value.strip()
        if text.startswith('-') and _INTEGER_RE.match(text[1:]):
            self.fail('%s is negative' % shorten(value), key)
        if not _INTEGER_RE.match(text):
            self.fail('%s is not an integer' % shorten(value), key)
        digits = text.split('.')[0].lstrip('0') or '0'
        if len(digits) > _MAX_DIGITS or int(digits) > INT64_MAX:
            self.fail('%s is out of range (0 to %d)'
                      % (shorten(value), INT64_MAX), key)
        return int(digits)

    def number(self, key):
        """A finite, non-negative number."""
        value = self.string(key)
        if value is None:
            return None
        text = value.strip()
        if text.startswith('-') and _NUMBER_RE.match(text[1:]):
            self.fail('%s is not a non-negative number' % shorten(value),
                      key)
        if not _NUMBER_RE.match(text):
            self.fail('%s is not a number' % shorten(value), key)
        number = float(text)
        if not math.isfinite(number):
            self.fail('%s is out of range' % shorten(value), key)
        return number

    def boolean(self, key, default):
        value = self.string(key)
        if value is None:
            return default
        try:
            return strutils.bool_from_string(value, strict=True)
        except ValueError:
            self.fail('%s is not a boolean' % shorten(value), key)

    def literal(self, key):
        """JSON, or a Python literal; None when absent."""
        value = self.string(key)
        if value is None:
            return None
        return literal_value(value, lambda reason: self.fail(reason, key))

    def mapping(self, key, default=None):
        """A JSON object, or the Python literal Watcher's to_xml writes."""
        if self.string(key) is None:
            return default
        data = self.literal(key)
        if not isinstance(data, dict):
            self.fail('not a mapping', key)
        try:
            # Stored as JSON: refuse what JSON cannot hold.
            json.dumps(data)
        except (TypeError, ValueError):
            self.fail('holds values JSON cannot represent', key)
        return data

    def timestamp(self, key):
        """An ISO 8601 time, returned as the text given."""
        value = self.string(key)
        if value is None:
            return None
        try:
            timeutils.parse_isotime(value)
        except (ValueError, TypeError, OverflowError):
            self.fail('%s is not an ISO 8601 time' % shorten(value), key)
        return value


def literal_value(value, fail):
    """JSON or a Python literal -> the data; ``fail(reason)`` otherwise.

    Watcher's ``to_xml`` writes Python reprs where its ``from_xml`` reads
    JSON: both are read. Nesting too deep for either is refused.
    """
    try:
        return json.loads(value)
    except RecursionError:
        return fail('nested too deeply')
    except ValueError:
        pass
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError, TypeError, MemoryError,
            RecursionError):
        return fail('neither JSON nor a Python literal')
