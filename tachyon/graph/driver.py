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

"""Neo4j driver lifecycle and units of work.

This package (``tachyon.graph``) is the only one that imports ``neo4j`` or
speaks Cypher. Everything else hands it plain records.

:class:`Graph` wraps one ``neo4j.Driver``. Work runs as managed transactions
(``execute_read`` / ``execute_write``): the driver retries a unit of work
that failed for a transient reason (deadlock, leader switch, lost
connection) for up to ``[neo4j]/max_transaction_retry_time`` seconds, and
reads go through ``execute_read`` so a cluster routes them to followers.
Errors that survive the retries leave as Tachyon's typed errors.

A read of one statement (the hot queries of the RPC API: a node's usage,
an instance) may go through :meth:`Graph.read_one` instead, as an
auto-commit transaction: one round trip instead of two.
"""

import contextlib
import contextvars
import functools
import re
import threading
import urllib.parse

import neo4j
from neo4j import exceptions as neo4j_exc
from oslo_log import log as logging

from tachyon.common import metrics
from tachyon import exception

LOG = logging.getLogger(__name__)


def _redact(uri):
    """The URI without any user:password part, fit for a message."""
    try:
        parts = urllib.parse.urlsplit(uri)
    except ValueError:
        return '<malformed URI>'
    netloc = parts.hostname or ''
    try:
        port = parts.port
    except ValueError:
        # Not a number: keep what follows the last colon, never a
        # user:password part (that is before the '@').
        port = parts.netloc.rpartition('@')[2].rpartition(':')[2]
    if port not in (None, ''):
        netloc = '%s:%s' % (netloc, port)
    return urllib.parse.urlunsplit(
        (parts.scheme, netloc, parts.path, '', ''))


#: Status codes of ClientErrors and DatabaseErrors that say the
#: transaction ran out of time or was stopped, not that its content is
#: wrong: retrying it later may succeed.
_RETRYABLE_REFUSALS = ('Transaction.TransactionTimedOut',
                       'Transaction.Terminated',
                       'Transaction.LockClientStopped')

#: Neo4j's memory refusals, and the setting each comes from when its
#: message does not name one: the pool of all transactions (a transient
#: error, which the driver would retry) and one transaction's own limit.
_OUT_OF_MEMORY = {
    'General.MemoryPoolOutOfMemoryError': 'dbms.memory.transaction.total.max',
    'General.TransactionOutOfMemoryError': 'db.memory.transaction.max',
}

_SETTING = re.compile(r'\b((?:db|dbms|server)(?:\.\w+)+)\b')


#: The URI schemes of Neo4j's Bolt driver: bolt for one server, neo4j for
#: a cluster (routed), +s for TLS with a verified certificate, +ssc for TLS
#: with a self-signed one.
SCHEMES = ('bolt', 'bolt+s', 'bolt+ssc', 'neo4j', 'neo4j+s', 'neo4j+ssc')


def check_uri(uri):
    """Refuse a ``[neo4j]/uri`` the driver cannot use, before connecting.

    Raises :class:`~tachyon.exception.ConfigurationError` naming the option
    and what is wrong; the message never holds a password (a URI with a
    user:password part is refused without repeating it).
    """
    def refuse(reason):
        return exception.ConfigurationError(group='neo4j', option='uri',
                                            reason=reason)

    if not uri or not isinstance(uri, str):
        raise refuse('not set; expected bolt://HOST:7687 (one server) or '
                     'neo4j://HOST:7687 (a cluster)')
    try:
        parts = urllib.parse.urlsplit(uri.strip())
    except ValueError as exc:
        raise refuse('not a URI (%s)' % exc) from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise refuse(
            '%s is not a Bolt URI scheme: use one of %s, e.g. '
            'bolt://HOST:7687 (one server) or neo4j://HOST:7687 (a '
            "cluster); Neo4j's HTTP port (7474) does not speak Bolt"
            % (repr(scheme) if scheme else 'no scheme', ', '.join(SCHEMES)))
    if '@' in parts.netloc:
        raise refuse('%s holds a user name or password; put them in '
                     '[neo4j]/username and [neo4j]/password instead'
                     % _redact(uri))
    if not parts.hostname:
        raise refuse('%s names no host' % _redact(uri))
    try:
        port = parts.port
    except ValueError:
        bad = parts.netloc.rpartition(':')[2]
        raise refuse('%s: port %r is not a number from 1 to 65535'
                     % (_redact(uri), bad)) from None
    if port == 0:
        raise refuse('%s: port 0 is not a port' % _redact(uri))


#: The causal chain of the RPC call this thread (or task) serves, if any.
_CHAIN = contextvars.ContextVar('tachyon_causal_chain', default=None)


class CausalChain(object):
    """The bookmarks one RPC call's transactions start from and leave.

    Every session the :class:`Graph` opens while the chain is current
    (:func:`causal`) starts from its bookmarks, so a read sees every
    write the caller's earlier calls committed, whichever engine (and
    whichever cluster member) ran them; each session's own last bookmarks
    then replace them. :meth:`raw` is what goes back to the caller.
    """

    def __init__(self, bookmarks=()):
        self._lock = threading.Lock()
        self.bookmarks = neo4j.Bookmarks.from_raw_values(bookmarks or ())

    def advance(self, session):
        """Take ``session``'s last bookmarks (they follow the earlier)."""
        last = session.last_bookmarks()
        if last.raw_values:
            with self._lock:
                self.bookmarks = last

    def raw(self):
        """The bookmarks as strings, sorted: the reply's ``bookmarks``."""
        return sorted(self.bookmarks.raw_values)


@contextlib.contextmanager
def causal(bookmarks=()):
    """Make the transactions of this block a causal chain.

    ``bookmarks``: those a caller sent (strings from an earlier answer);
    yields the :class:`CausalChain`, whose :meth:`CausalChain.raw` after
    the block are the bookmarks to hand back.
    """
    chain = CausalChain(bookmarks)
    token = _CHAIN.set(chain)
    try:
        yield chain
    finally:
        _CHAIN.reset(token)


def one_line(text):
    """``text`` on one line: newlines and runs of blanks become one space."""
    return ' '.join(str(text).split())


class _Retry(Exception):
    """A one-statement read failed for a reason worth another try."""


class _OneStatement(object):
    """The transaction a one-statement read's unit of work sees."""

    def __init__(self, session, timeout):
        self._session = session
        self._timeout = timeout
        self._ran = False

    def run(self, query, parameters=None, **kwparameters):
        if self._ran:
            raise RuntimeError('a unit of work given to Graph.read_one ran '
                               'a second statement; use Graph.read')
        self._ran = True
        return self._session.run(neo4j.Query(query, timeout=self._timeout),
                                 parameters, **kwparameters)


def out_of_memory(exc):
    """The GraphOutOfMemory of a Neo4j memory refusal, or None."""
    code = getattr(exc, 'code', None) or ''
    for part, setting in _OUT_OF_MEMORY.items():
        if part in code:
            reason = one_line(getattr(exc, 'message', None) or str(exc))
            named = _SETTING.search(reason)
            return exception.GraphOutOfMemory(
                neo4j_code=code, reason=reason,
                limit=named.group(1) if named else setting)
    return None


def _memory_is_final(work):
    """``work``, its memory refusals raised as GraphOutOfMemory.

    Raised from inside the transaction function, the typed error is not
    one the driver retries: it rolls back and lets it through.
    """
    @functools.wraps(work)
    def unit(tx, *args, **kwargs):
        try:
            return work(tx, *args, **kwargs)
        except neo4j_exc.TransientError as exc:
            memory = out_of_memory(exc)
            if memory is None:
                raise
            raise memory from exc
    return unit


class Graph(object):
    """Tachyon's handle on Neo4j: one driver, many short sessions."""

    def __init__(self, uri, username='neo4j', password='', database='neo4j',
                 max_connection_pool_size=50, connection_timeout=10.0,
                 connection_acquisition_timeout=30.0,
                 transaction_timeout=60.0, max_transaction_retry_time=30.0,
                 batch_size=1000):
        self.uri = uri
        self.safe_uri = _redact(uri)
        self.username = username
        self.database = database
        self.transaction_timeout = transaction_timeout
        self.batch_size = batch_size
        check_uri(uri)
        try:
            self._driver = neo4j.GraphDatabase.driver(
                uri,
                auth=(username, password),
                max_connection_pool_size=max_connection_pool_size,
                connection_timeout=connection_timeout,
                connection_acquisition_timeout=connection_acquisition_timeout,
                max_transaction_retry_time=max_transaction_retry_time,
                # Informational server notices ("index already exists")
                # are not worth an operator's log line; warnings are.
                notifications_min_severity='WARNING',
                # "Unknown label or relationship type" on a fresh graph.
                notifications_disabled_categories=['UNRECOGNIZED'],
                user_agent='tachyon')
        except (neo4j_exc.ConfigurationError, ValueError) as exc:
            # The driver's words may quote the URI as given: say it again
            # without any user:password part.
            reason = one_line(str(exc).replace(uri, self.safe_uri))
            if password:
                reason = reason.replace(password, '***')
            raise exception.ConfigurationError(
                group='neo4j', option='uri',
                reason='%s (%s)' % (reason, self.safe_uri)) from None

    @classmethod
    def from_conf(cls, conf):
        """A Graph built from the ``[neo4j]`` options of ``conf``."""
        opts = conf.neo4j
        return cls(opts.uri,
                   username=opts.username,
                   password=opts.password,
                   database=opts.database,
                   max_connection_pool_size=opts.max_connection_pool_size,
                   connection_timeout=opts.connection_timeout,
                   connection_acquisition_timeout=(
                       opts.connection_acquisition_timeout),
                   transaction_timeout=opts.transaction_timeout,
                   max_transaction_retry_time=(
                       opts.max_transaction_retry_time),
                   batch_size=opts.batch_size)

    @contextlib.contextmanager
    def translate_errors(self):
        """Turn driver errors into Tachyon's typed errors."""
        try:
            yield
        except exception.TachyonException:
            raise
        except neo4j_exc.AuthError as exc:
            raise exception.GraphAuthFailed(uri=self.safe_uri,
                                            user=self.username) from exc
        except neo4j_exc.ConstraintError as exc:
            raise exception.Conflict(reason=exc.message or str(exc)) from exc
        except neo4j_exc.TransientError as exc:
            # Neo4j answered: a deadlock, a leader switch, memory pressure.
            raise exception.GraphUnavailable(
                uri=self.safe_uri, reason=exc.message or str(exc),
                answered=True) from exc
        except (neo4j_exc.ServiceUnavailable, neo4j_exc.SessionExpired,
                neo4j_exc.IncompleteCommit, OSError) as exc:
            raise exception.GraphUnavailable(
                uri=self.safe_uri,
                reason=one_line((isinstance(exc, neo4j_exc.Neo4jError)
                                 and exc.message) or str(exc)),
                answered=False) from exc
        except neo4j_exc.ClientError as exc:
            if exc.code and 'Database.DatabaseNotFound' in exc.code:
                raise exception.ConfigurationError(
                    group='neo4j', option='database',
                    reason='no database %r on %s' % (
                        self.database, self.safe_uri)) from exc
            if exc.code and 'Transaction.InvalidBookmark' in exc.code:
                # A bookmark a caller sent back (tachyon.rpc), which this
                # database never gave.
                raise exception.InvalidParameter(
                    field='bookmarks',
                    reason=one_line(exc.message or str(exc))) from exc
            raise self._refused(exc) from exc
        except neo4j_exc.DatabaseError as exc:
            raise self._refused(exc) from exc
        except neo4j_exc.ResultFailedError as exc:
            # A result read after its statement failed: the failure is
            # the cause (a Neo4jError) when the driver kept it.
            cause = exc.__cause__
            if isinstance(cause, neo4j_exc.TransientError):
                raise exception.GraphUnavailable(
                    uri=self.safe_uri, reason=cause.message or str(cause),
                    answered=True) from exc
            raise self._refused(cause if isinstance(
                cause, neo4j_exc.Neo4jError) else exc) from exc

    def _refused(self, exc):
        """The typed error of a statement Neo4j answered with a failure.

        A transaction Neo4j timed out or terminated may succeed later
        (GraphUnavailable, answered); anything else it refused will not
        (GraphRefused).
        """
        code = getattr(exc, 'code', None) or None
        reason = getattr(exc, 'message', None) or str(exc)
        memory = out_of_memory(exc)
        if memory is not None:
            return memory
        if code and any(part in code for part in _RETRYABLE_REFUSALS):
            return exception.GraphUnavailable(uri=self.safe_uri,
                                              reason=reason, answered=True)
        return exception.GraphRefused(neo4j_code=code, reason=reason)

    def _timed(self, work):
        timeout = self.transaction_timeout

        @neo4j.unit_of_work(timeout=timeout)
        @functools.wraps(work)
        def unit(tx, *args, **kwargs):
            return work(tx, *args, **kwargs)
        return unit

    @contextlib.contextmanager
    def _session(self, **kwargs):
        """A driver session, chained to the current :func:`causal` block.

        Without one (periodic tasks, the listener, tools) a session starts
        from no bookmarks, as before.
        """
        chain = _CHAIN.get()
        if chain is not None:
            kwargs['bookmarks'] = chain.bookmarks
        with self._driver.session(database=self.database,
                                  **kwargs) as session:
            yield session
            if chain is not None:
                chain.advance(session)

    def _execute(self, write, work, args, kwargs):
        with self.translate_errors():
            with self._session() as session:
                run = session.execute_write if write else session.execute_read
                # Send BEGIN with the first statement rather than on its
                # own: one round trip less per transaction, which is most
                # of a single-node read. The driver does this for its own
                # execute_query; sessions only expose it as this flag, so
                # without it (another driver version) BEGIN goes alone.
                pipelined = getattr(session, '_pipelined_begin', None)
                if pipelined is None:  # falsy until entered: test None
                    pipelined = contextlib.nullcontext()
                with pipelined:
                    return run(self._timed(work), *args, **kwargs)

    @metrics.graph_work('read')
    def read(self, work, *args, **kwargs):
        """Run ``work(tx, *args, **kwargs)`` in a managed read transaction."""
        return self._execute(False, work, args, kwargs)

    @metrics.graph_work('read_one')
    def read_one(self, work, *args, **kwargs):
        """Run ``work(tx, *args, **kwargs)``, a one-statement read.

        The statement runs as an auto-commit transaction: BEGIN, the
        statement and COMMIT are one round trip instead of two, which is a
        third of a small read (the hot queries of the RPC API). ``work``
        may run only one statement: a second one raises RuntimeError, as
        the two would not be read from one snapshot. A failure the driver
        would retry (lost connection, leader switch) is retried as a
        managed transaction.
        """
        try:
            with self.translate_errors(), self._retry_signal():
                with self._session(
                        default_access_mode=neo4j.READ_ACCESS) as session:
                    answer = work(_OneStatement(session,
                                                self.transaction_timeout),
                                  *args, **kwargs)
                return answer
        except _Retry:
            return self.read(work, *args, **kwargs)

    @staticmethod
    @contextlib.contextmanager
    def _retry_signal():
        try:
            yield
        except (neo4j_exc.DriverError, neo4j_exc.Neo4jError) as exc:
            if exc.is_retryable():
                raise _Retry() from exc
            raise

    @metrics.graph_work('write')
    def write(self, work, *args, **kwargs):
        """Run ``work(tx, *args, **kwargs)`` in a managed write transaction.

        One call is one transaction: everything ``work`` does commits
        together or not at all.
        """
        return self._execute(True, work, args, kwargs)

    @metrics.graph_work('write')
    def write_whole(self, work, *args, **kwargs):
        """:meth:`write` for a transaction whose size is the caller's.

        An import, or the switch of a staged one: a memory refusal is not
        retried (the same transaction would need the same memory again,
        and a retry only spends the time the first attempt took) but
        raised at once, as GraphOutOfMemory naming Neo4j's limit. Every
        other transient failure is retried as :meth:`write` does.
        """
        return self._execute(True, _memory_is_final(work), args, kwargs)

    def run_autocommit(self, query, **params):
        """Run one statement outside a managed transaction.

        Only for statements Neo4j refuses inside explicit transactions
        (schema administration); returns the records as dicts.
        """
        with self.translate_errors():
            with self._session() as session:
                result = session.run(query, params)
                rows = [r.data() for r in result]
            return rows

    def verify(self):
        """Check the server answers and accepts our credentials."""
        with self.translate_errors():
            self._driver.verify_connectivity()
            with self._driver.session(database=self.database) as session:
                session.run('RETURN 1').consume()

    def batches(self, rows):
        """Split ``rows`` into lists of at most ``batch_size``."""
        rows = list(rows)
        for start in range(0, len(rows), self.batch_size):
            yield rows[start:start + self.batch_size]

    def close(self):
        self._driver.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
