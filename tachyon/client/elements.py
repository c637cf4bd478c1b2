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
nothing else. One thing is faster: equality.

Watcher's elements are equal when their ``obj_to_primitive()`` are equal,
which builds both primitives, with their change sets, on every
comparison: about 80 microseconds. Strategies compare elements in their
inner loops (basic consolidation asks ``source_node == destination_node``
for every candidate destination of every instance: 90 % of its run time).
These classes answer first what the primitives would answer anyway:

* an element is equal to itself;
* two elements whose ``uuid`` is set on both and differs are not equal,
  since ``uuid`` is part of both primitives' data.

Anything else (two distinct objects with one uuid, an element compared
with something that is not one) goes to Watcher's comparison.
"""

from oslo_versionedobjects import base as ovo_base
from watcher.decision_engine.model import element
from watcher.decision_engine.model.element import base


def _known_equal(self, other):
    """True or False when sure without the primitives, else None."""
    if self is other:
        return True
    if (isinstance(other, base.Element)
            and self.obj_attr_is_set('uuid')
            and other.obj_attr_is_set('uuid')
            and self.uuid != other.uuid):
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


def _with_fast_equality(watchers):
    """A subclass of Watcher's element class ``watchers``, of its name.

    One level below Watcher's class, not two: every field of an element
    is a property, and attribute lookups on a deeper class measured 3-8 %
    slower, which strategies reading millions of fields pay in full.
    ``__hash__`` is restated: defining ``__eq__`` would drop the inherited
    one (object identity, which Watcher's graph keys rely on).
    """
    namespace = {'__eq__': _eq, '__ne__': _ne,
                 '__hash__': watchers.__hash__, '__module__': __name__,
                 '__qualname__': watchers.__name__,
                 '__doc__': watchers.__doc__}
    return type(watchers)(watchers.__name__, (watchers,), namespace)


ComputeNode = _with_fast_equality(element.ComputeNode)
Instance = _with_fast_equality(element.Instance)
StorageNode = _with_fast_equality(element.StorageNode)
Pool = _with_fast_equality(element.Pool)
Volume = _with_fast_equality(element.Volume)
IronicNode = _with_fast_equality(element.IronicNode)
