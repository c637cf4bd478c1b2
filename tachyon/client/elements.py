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

from watcher.decision_engine.model import element
from watcher.decision_engine.model.element import base


class _Equality(object):

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

    def __eq__(self, other):
        known = self._known_equal(other)
        return super().__eq__(other) if known is None else known

    def __ne__(self, other):
        known = self._known_equal(other)
        return super().__ne__(other) if known is None else not known

    # Defining __eq__ would drop the inherited hash (object identity,
    # which Watcher's graph keys rely on): keep it.
    __hash__ = base.Element.__hash__


class ComputeNode(_Equality, element.ComputeNode):
    pass


class Instance(_Equality, element.Instance):
    pass


class StorageNode(_Equality, element.StorageNode):
    pass


class Pool(_Equality, element.Pool):
    pass


class Volume(_Equality, element.Volume):
    pass


class IronicNode(_Equality, element.IronicNode):
    pass
