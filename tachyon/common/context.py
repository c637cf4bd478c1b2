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

"""Request contexts on tachyon-engine's RPC.

A caller's request ids travel with each call, as they do between Nova's
services: the client sends the ``request_id`` and ``global_request_id`` of
its current context (in a Watcher decision engine, the ones Watcher's own
log lines of that audit show), and the engine makes them the current
context of the thread serving the call, so that oslo.log prints them in
the engine's log lines too and the two logs can be joined.

Only identifiers cross the wire, never credentials (no token, no roles).
"""

from oslo_context import context as oslo_context
import oslo_messaging as messaging

#: Keys of a caller's context sent with each call.
WIRE_KEYS = ('request_id', 'global_request_id', 'user_id', 'project_id')
#: Longest value of one of them the engine takes.
MAX_LENGTH = 255

# oslo.context's to_dict() spells two of them differently.
_ALIASES = {'user_id': 'user', 'project_id': 'project'}


def to_wire(ctxt=None):
    """The identifiers of ``ctxt`` (or of the current context), as a dict.

    ``ctxt`` may be an oslo.context RequestContext (Watcher's is one), a
    dict of the same keys, or None for the thread's current context.
    """
    if ctxt is None:
        ctxt = oslo_context.get_current()
    if ctxt is None:
        return {}
    values = ctxt if isinstance(ctxt, dict) else ctxt.to_dict()
    wire = {}
    for key in WIRE_KEYS:
        value = values.get(key)
        if value is None:
            value = values.get(_ALIASES.get(key, key))
        if isinstance(value, str) and value:
            wire[key] = value
    return wire


def from_wire(values):
    """The current context of a thread serving a call with ``values``.

    Anything but short strings under the known keys is left out: a caller
    cannot make the engine log what it likes. A missing ``request_id`` is
    generated, as oslo.context does.
    """
    kwargs = {}
    if isinstance(values, dict):
        for key in WIRE_KEYS:
            value = values.get(key)
            if isinstance(value, str) and 0 < len(value) <= MAX_LENGTH:
                kwargs[key] = value
    return oslo_context.RequestContext(overwrite=True, **kwargs)


class ContextSerializer(messaging.NoOpSerializer):
    """The context half of an RPC serializer; entities go as they are."""

    def serialize_context(self, ctxt):
        return to_wire(ctxt)

    def deserialize_context(self, ctxt):
        return from_wire(ctxt)
