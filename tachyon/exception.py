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

"""Tachyon's typed errors, shared by the graph layer, the RPC API and the
client.

Every error carries a ``code`` (HTTP-like, for operators reading logs) and a
message built from ``msg_fmt`` and keyword arguments. The RPC server
declares them as expected exceptions and clients allow this module's
exceptions back (:data:`tachyon.rpc.ALLOWED_EXMODS`), so oslo.messaging
raises the same class again on the client side.

:class:`MalformedField` and its subclasses are the errors of
:mod:`tachyon.common.fields`, the reader of data from outside Tachyon (API
answers, notifications); they are ValueErrors, caught where the data
is read, and never cross the RPC border.
"""


class TachyonException(Exception):
    """Base of every error Tachyon raises on purpose."""

    msg_fmt = "An unknown error occurred."
    code = 500
    #: Whether retrying the same operation later may succeed.
    transient = False

    def __init__(self, message=None, **kwargs):
        self.kwargs = kwargs
        if message is None:
            try:
                message = self.msg_fmt % kwargs
            except (KeyError, TypeError, ValueError):
                # A bad format string must never hide the original problem.
                message = self.msg_fmt
        self.message = message
        super().__init__(message)

    def __str__(self):
        return self.message


class NotFound(TachyonException):
    """An entity named by the caller does not exist.

    Keyword arguments: ``kind`` (what was looked for: "compute node",
    "instance", "session", ...) and ``ident`` (the uuid or name given).
    """

    msg_fmt = "%(kind)s %(ident)s could not be found."
    code = 404


class Conflict(TachyonException):
    """The change is not possible in the state the graph is in.

    ``conflicts`` (optional keyword) lists the uuids that conflicted.
    """

    msg_fmt = "Conflict: %(reason)s"
    code = 409

    @property
    def conflicts(self):
        return list(self.kwargs.get('conflicts') or [])


class InvalidState(Conflict):
    """An operation was asked of an entity in a state that forbids it."""

    msg_fmt = "%(kind)s %(ident)s is %(state)s: %(reason)s"


class InvalidParameter(TachyonException):
    """A caller-supplied value is malformed or out of range.

    Keyword arguments: ``field`` (the parameter's name) and ``reason``.
    """

    msg_fmt = "Invalid value for %(field)s: %(reason)s"
    code = 400


class InvalidModel(InvalidParameter):
    """A model document (Watcher XML) cannot be imported.

    Keyword arguments: ``element`` (which element is at fault) and
    ``reason``.
    """

    msg_fmt = "Invalid model at %(element)s: %(reason)s"

    def __init__(self, message=None, **kwargs):
        kwargs.setdefault('field', kwargs.get('element'))
        super().__init__(message, **kwargs)


class SessionExpired(TachyonException):
    """A simulation session is past its TTL."""

    msg_fmt = "Simulation session %(session_id)s has expired."
    code = 410


class LimitExceeded(TachyonException):
    """A configured limit would be exceeded.

    Keyword arguments: ``limit`` (the option's name), ``maximum``.
    """

    msg_fmt = "Limit %(limit)s (%(maximum)s) reached: %(reason)s"
    code = 429


class GraphUnavailable(TachyonException):
    """Neo4j cannot be reached or refused us; retrying later may succeed."""

    msg_fmt = "Neo4j at %(uri)s is unavailable: %(reason)s"
    code = 503
    transient = True


class GraphAuthFailed(TachyonException):
    """Neo4j rejected the configured credentials."""

    msg_fmt = ("Neo4j at %(uri)s rejected the credentials of user "
               "%(user)s; check [neo4j]/username and [neo4j]/password.")
    code = 503


class SchemaMismatch(TachyonException):
    """The graph schema is not the one this code needs."""

    msg_fmt = "%(reason)s"
    code = 503


class ConfigurationError(TachyonException):
    """An option has a value Tachyon cannot use."""

    msg_fmt = "Invalid configuration [%(group)s]/%(option)s: %(reason)s"


class UpstreamError(TachyonException):
    """An OpenStack API (Nova, Placement, Cinder, Ironic) failed us."""

    msg_fmt = "%(service)s API error: %(reason)s"
    code = 502
    transient = True


class UpstreamAuthFailed(UpstreamError):
    """Keystone refused the credentials configured for a service."""

    msg_fmt = ("Authentication for the %(service)s API failed: %(reason)s; "
               "check the [%(group)s] credentials.")
    transient = False


class MalformedField(ValueError):
    """A field of data read from outside Tachyon cannot be used.

    ``field`` names the field (None when the whole value is at fault) and
    ``reason`` says what is wrong.
    """

    def __init__(self, reason, field=None, message=None):
        self.reason = reason
        self.field = field
        super().__init__(reason if message is None else message)


class MalformedEntity(MalformedField):
    """One entity of an API answer cannot be turned into a record.

    ``kind`` and ``ident`` name the entity (``ident`` None when it has no
    readable id); the collectors log it, skip it and count it.
    """

    def __init__(self, kind, ident, reason, field=None):
        self.kind = kind
        self.ident = ident
        super().__init__(reason, field, '%s %s: %s' % (
            kind, ident or '<no id>', reason))


class MalformedPayload(MalformedField):
    """A notification cannot be read.

    Missing keys, wrong types, an unknown payload version. Never
    transient: the notification is dropped.
    """

    def __init__(self, event_type, reason, field=None):
        self.event_type = event_type
        super().__init__(reason, field, '%s: %s' % (event_type, reason))


class InternalError(TachyonException):
    """An RPC call failed on a fault of the engine, not of the caller.

    The engine logs the traceback; the caller gets this instead of the
    fault's own exception. Keyword arguments: ``method`` (the RPC method)
    and ``error`` (the fault's class name).
    """

    msg_fmt = ("Internal error in %(method)s (%(error)s); tachyon-engine's "
               "log has the details.")
    code = 500


class GraphRefused(TachyonException):
    """Neo4j answered and refused the statement for good.

    A ClientError or DatabaseError the driver does not retry (a value
    Neo4j cannot store or index, a statement it cannot run). Retrying the
    same change cannot succeed. ``neo4j_code`` is the server's status code
    (None when unknown).
    """

    msg_fmt = "Neo4j refused the change (%(neo4j_code)s): %(reason)s"
    code = 422


class GraphOutOfMemory(GraphRefused):
    """Neo4j refused a transaction for the memory it needed.

    Raised for the writes whose size is the caller's (an import, the
    switch of a staged import): the same transaction would need the same
    memory again, so it is not retried. ``limit`` names the Neo4j setting
    the refusal came from, ``neo4j_code`` the server's status code.
    """

    msg_fmt = "Neo4j refused the change for memory (%(limit)s): %(reason)s"
    code = 507


class MessagingUnavailable(TachyonException):
    """The message broker of a transport URL cannot be reached."""

    msg_fmt = ("[%(group)s]/%(option)s: the message broker at %(url)s is "
               "unavailable: %(reason)s")
    code = 503
    transient = True


class MergeConflict(Conflict):
    """A fork's delta does not fit its parent's current virtual state.

    Keyword arguments: ``session_id`` (the fork), ``parent_id``,
    ``sequence`` (the fork's delta that does not fit), ``delta`` (what it
    does), ``reason`` and ``conflicts`` (the uuids at fault).
    """

    msg_fmt = ("Simulation session %(session_id)s cannot be merged into "
               "%(parent_id)s: its delta %(sequence)s (%(delta)s) does not "
               "fit the parent: %(reason)s")
