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
"""

import ast
import json
import uuid as uuid_lib

from oslo_utils import strutils
from oslo_utils import timeutils

from tachyon import exception


def type_names(types):
    """('str', 'int') as the text 'str or int'."""
    return ' or '.join(t.__name__ for t in types)


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

    def __init__(self, data, error=None):
        self.error = error or exception.MalformedField
        if not isinstance(data, dict):
            self.fail(self.say(self.NOT_OBJECT, None, data))
        self.data = data

    def fail(self, reason, field=None):
        """Raise the owner's error for ``reason`` (about ``field``)."""
        raise self.error(reason, field)

    @staticmethod
    def say(fmt, key, value=None, types=(), what=None):
        return fmt % {'key': key, 'value': value,
                      'type': type(value).__name__,
                      'types': type_names(types),
                      'what': what or type_names(types)}

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
        return self.get(key, (str,), required, default, 'a string', source)

    def integer(self, key, required=True, default=None, source=None):
        return self.get(key, (int,), required, default, 'an integer',
                        source)

    def number(self, key, required=True, default=None, source=None):
        return self.get(key, (int, float), required, default, 'a number',
                        source)

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
        """A non-negative integer ("4" and "4.0" alike)."""
        value = self.string(key, required)
        if value is None:
            return None
        try:
            number = float(value)
            if not number.is_integer():
                raise ValueError(value)
            number = int(number)
        except (TypeError, ValueError, OverflowError):
            self.fail('%r is not an integer' % value, key)
        if number < 0:
            self.fail('%r is negative' % value, key)
        return number

    def number(self, key):
        """A finite, non-negative number."""
        value = self.string(key)
        if value is None:
            return None
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail('%r is not a number' % value, key)
        if number != number or number < 0 or number == float('inf'):
            self.fail('%r is not a non-negative number' % value, key)
        return number

    def boolean(self, key, default):
        value = self.string(key)
        if value is None:
            return default
        try:
            return strutils.bool_from_string(value, strict=True)
        except ValueError:
            self.fail('%r is not a boolean' % value, key)

    def literal(self, key):
        """JSON, or a Python literal; None when absent."""
        value = self.string(key)
        if value is None:
            return None
        try:
            return json.loads(value)
        except ValueError:
            try:
                return ast.literal_eval(value)
            except (ValueError, SyntaxError, TypeError, MemoryError,
                    RecursionError):
                self.fail('neither JSON nor a Python literal', key)

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
        except ValueError:
            self.fail('%r is not an ISO 8601 time' % value, key)
        return value
