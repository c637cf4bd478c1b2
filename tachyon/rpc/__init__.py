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

"""Tachyon's RPC: transport setup shared by the server and the client.

Typed errors cross the wire: tachyon.exception is the one module whose
exceptions oslo.messaging rebuilds on the calling side (with the same
class and keyword arguments), so a caller catches NotFound, Conflict,
InvalidParameter, SessionExpired or LimitExceeded, never a RemoteError.
The engine's endpoint turns any other exception into InternalError (see
:mod:`tachyon.rpc.manager`), so no bare Python error crosses either.
"""

import oslo_messaging as messaging

#: Modules whose exceptions are re-raised as themselves by the caller.
ALLOWED_EXMODS = ['tachyon.exception']


def register_transport_opts(conf):
    """Register [DEFAULT]/transport_url and its siblings ahead of use.

    oslo.messaging registers them only when it builds a transport; code
    that reads or overrides them first calls this.
    """
    # Building a TransportURL registers oslo.messaging's own option
    # objects (copies would clash with them later).
    messaging.TransportURL(conf)


def get_transport(conf):
    """The RPC transport of ``[DEFAULT]/transport_url``."""
    messaging.set_transport_defaults('tachyon')
    return messaging.get_rpc_transport(
        conf, allowed_remote_exmods=ALLOWED_EXMODS)


def table_to_dicts(table):
    """{'fields', 'rows'} (a 1.2 columns answer) -> [dict] as in 1.0."""
    fields = table['fields']
    return [dict(zip(fields, row)) for row in table['rows']]
