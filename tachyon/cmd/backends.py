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

"""The back-end settings, checked before a command starts its work.

Every console script calls these so that a bad ``[neo4j]`` or
``[DEFAULT]/transport_url`` setting ends the command with one line on
stderr that names the option, and a non-zero status, never a traceback:

* :func:`check_settings` checks what can be checked without a server:
  every option's value, the syntax and scheme of ``[neo4j]/uri`` and,
  when asked, the transport URL and its driver;
* :func:`probe_transport` proves the broker takes our login;
* :func:`wait_for` retries a probe while a server is unavailable;
* :func:`message` is the line a command prints: one line, the option
  named, no password (:func:`secrets` lists what is scrubbed).

A configuration error (:data:`FATAL`) is never retried: no wait makes a
wrong password right.
"""

import functools
import threading
import time
import urllib.parse

from oslo_config import cfg
from oslo_log import log as logging
import oslo_messaging as messaging
from oslo_upgradecheck import upgradecheck

from tachyon import exception
from tachyon.graph import driver
from tachyon import rpc

LOG = logging.getLogger(__name__)

#: Errors an operator must fix in the configuration: retrying is useless.
FATAL = (exception.ConfigurationError, exception.GraphAuthFailed)

#: Errors of a server that is down (or not up yet): retrying may succeed.
UNAVAILABLE = (exception.GraphUnavailable, exception.MessagingUnavailable)

#: AMQP reply codes of a login or virtual host the broker refuses:
#: 402 invalid-path, 403 access-refused, 530 not-allowed.
_AMQP_REFUSED = {402: 'refused the virtual host',
                 403: 'refused the login',
                 530: 'refused the virtual host'}

#: Seconds a broker probe may take before the broker counts as down.
PROBE_TIMEOUT = 10.0

#: Topic of the probe message: no server listens on it, so the broker
#: drops the message (a topic exchange without a matching binding).
PROBE_TOPIC_SUFFIX = '-startup-probe'

# ---------------------------------------------------------------------------
# Messages
# ---------------------------------------------------------------------------


def transport_passwords(url):
    """The passwords in a transport URL (each host may have one)."""
    if not url:
        return []
    netloc = url.partition('://')[2].partition('/')[0]
    found = []
    for host in netloc.split(','):
        user, at, _rest = host.rpartition('@')
        if at and ':' in user:
            password = user.partition(':')[2]
            found.extend({password, urllib.parse.unquote(password)})
    return [p for p in found if p]


def secrets(conf):
    """Every password of ``conf`` a message could repeat."""
    found = []
    try:
        found.append(conf.neo4j.password)
    except (cfg.Error, AttributeError, ValueError):
        pass
    try:
        found.extend(transport_passwords(conf.transport_url))
    except (cfg.Error, AttributeError, ValueError):
        pass
    # A very short password would turn a message into noise; one of fewer
    # than 4 characters protects nothing anyway.
    return sorted({s for s in found if s and len(s) >= 4}, key=len,
                  reverse=True)


def scrub(text, conf=None, extra=()):
    """``text`` on one line, without any password of ``conf``."""
    text = driver.one_line(text)
    hidden = list(extra) + (secrets(conf) if conf is not None else [])
    for secret in hidden:
        if secret:
            text = text.replace(secret, '***')
    return text


def message(exc, conf=None, prog=None):
    """The line a command prints for ``exc``: the option named first."""
    text = str(exc)
    if isinstance(exc, exception.GraphUnavailable):
        text = '[neo4j]/uri: %s' % text
    elif isinstance(exc, exception.GraphAuthFailed):
        text = '[neo4j]/password: %s' % text
    elif isinstance(exc, exception.ConfigurationError):
        # "Invalid configuration [g]/o: why" -> "[g]/o: why"
        text = '[%s]/%s: %s' % (exc.kwargs.get('group'),
                                exc.kwargs.get('option'),
                                exc.kwargs.get('reason'))
    text = scrub(text, conf)
    return '%s: %s' % (prog, text) if prog else text


def redact_transport_url(url):
    """A transport URL fit for a message: user names kept, no password."""
    if not url:
        return '(not set: oslo.messaging tries rabbit://localhost:5672/)'
    scheme, sep, rest = url.partition('://')
    if not sep:
        return '<malformed URL>'
    netloc, slash, path = rest.partition('/')
    hosts = []
    for host in netloc.split(','):
        user, at, hostport = host.rpartition('@')
        if at:
            hostport = '%s@%s' % (user.partition(':')[0], hostport)
        hosts.append(hostport)
    return '%s://%s%s%s' % (scheme, ','.join(hosts), slash,
                            path.partition('?')[0])


# ---------------------------------------------------------------------------
# Checks without a server
# ---------------------------------------------------------------------------

def check_values(conf):
    """Read every registered option once, so that a bad value fails now.

    oslo.config checks a value from a file only when it is read; a bad
    one would otherwise surface later, as a traceback.
    """
    def read(group_name, group):
        for name in list(group):
            try:
                value = group[name]
            except cfg.NoSuchOptError:
                continue
            except (cfg.ConfigFileValueError, ValueError) as exc:
                reason = str(exc).rpartition(' is not valid: ')[2] or exc
                raise exception.ConfigurationError(
                    group=group_name or 'DEFAULT', option=name,
                    reason=scrub(reason, conf)) from None
            if isinstance(value, cfg.ConfigOpts.GroupAttr):
                read(name, value)

    read(None, conf)


def check_neo4j_uri(conf):
    """Refuse a ``[neo4j]/uri`` with a bad syntax or another scheme."""
    driver.check_uri(conf.neo4j.uri)


def check_transport_url(conf, url=None, group='DEFAULT',
                        option='transport_url'):
    """Refuse a transport URL oslo.messaging cannot use.

    ``url`` defaults to ``[DEFAULT]/transport_url``; ``group`` and
    ``option`` say where it was set. Returns the RPC transport it builds
    (no connection is made yet); the caller cleans it up.
    """
    rpc.register_transport_opts(conf)
    own = url is None
    url = url or conf.transport_url
    shown = redact_transport_url(url)
    hidden = transport_passwords(url)

    def refuse(reason):
        return exception.ConfigurationError(
            group=group, option=option,
            reason=scrub('%s: %s' % (shown, reason), conf, hidden))

    try:
        messaging.TransportURL.parse(conf, url)
    except messaging.InvalidTransportURL as exc:
        raise refuse('not a transport URL (%s); expected e.g. '
                     'rabbit://USER:PASSWORD@HOST:5672/' % exc) from None
    except ValueError as exc:
        raise refuse('not a transport URL (%s)' % exc) from None
    try:
        if own:
            return rpc.get_transport(conf)
        return messaging.get_rpc_transport(
            conf, url=url, allowed_remote_exmods=rpc.ALLOWED_EXMODS)
    except messaging.DriverLoadFailure:
        scheme = (url or 'rabbit://').partition('://')[0]
        raise refuse('no oslo.messaging driver for the scheme %r (rabbit:// '
                     'for RabbitMQ)' % scheme) from None
    except (messaging.InvalidTransportURL, ValueError) as exc:
        raise refuse('not a transport URL (%s)' % exc) from None


def check_settings(conf, transport=False):
    """All the checks that need no server; a transport when asked for."""
    check_values(conf)
    check_neo4j_uri(conf)
    if transport:
        return check_transport_url(conf)
    return None


# ---------------------------------------------------------------------------
# Probes
# ---------------------------------------------------------------------------

def _refusal(exc):
    """The AMQP refusal in ``exc`` or its causes, or None."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        code = getattr(exc, 'code', None)
        if (type(exc).__module__.split('.')[0] in ('amqp', 'kombu')
                and code in _AMQP_REFUSED):
            return code
        exc = exc.__cause__ or exc.__context__
    return None


def probe_transport(conf, transport, url=None, exchange=None, topic=None,
                    group='DEFAULT', option='transport_url',
                    timeout=PROBE_TIMEOUT):
    """Prove the broker of ``transport`` takes our login, within ``timeout``.

    Sends one cast, without retries, on a topic nobody listens to
    (``topic`` + :data:`PROBE_TOPIC_SUFFIX` on ``exchange``; by default
    the engine's): the broker accepts and drops it. ``url`` (default
    ``[DEFAULT]/transport_url``), ``group`` and ``option`` are for the
    message. Raises :class:`~tachyon.exception.ConfigurationError` when
    the broker refuses the login or the virtual host, and
    :class:`~tachyon.exception.MessagingUnavailable` when it cannot be
    reached.
    """
    url = url or conf.transport_url
    shown = redact_transport_url(url)
    hidden = transport_passwords(url)
    target = messaging.Target(
        exchange=exchange or conf.engine.exchange,
        topic=(topic or conf.engine.topic) + PROBE_TOPIC_SUFFIX)
    client = messaging.get_rpc_client(transport, target, retry=0)
    outcome = {}

    def cast():
        try:
            client.cast({}, 'startup_probe')
        except Exception as exc:
            outcome['error'] = exc
        else:
            outcome['ok'] = True

    # The driver's own connection timeouts depend on its options (and a
    # black-holed address may take long): bound the probe here.
    thread = threading.Thread(target=cast, name='transport-probe',
                              daemon=True)
    thread.start()
    thread.join(timeout)
    if outcome.get('ok'):
        return
    exc = outcome.get('error')
    if exc is None:
        raise exception.MessagingUnavailable(
            group=group, option=option, url=shown,
            reason='no answer within %gs' % timeout)
    code = _refusal(exc)
    if code is not None:
        users = sorted({host.username for host in messaging.TransportURL.parse(
            conf, url).hosts if host.username})
        who = ' of user %s' % ', '.join(users) if users and code == 403 else ''
        raise exception.ConfigurationError(
            group=group, option=option,
            reason=scrub('the broker at %s %s%s (AMQP %d: %s); check the '
                         'user name, password and virtual host' % (
                             shown, _AMQP_REFUSED[code], who, code,
                             type(exc).__name__), conf, hidden))
    raise exception.MessagingUnavailable(
        group=group, option=option, url=shown,
        reason=scrub('%s: %s' % (type(exc).__name__, exc), conf, hidden))


def wait_for(probe, deadline, conf=None, what='back end'):
    """Call ``probe()`` until it succeeds, a fatal error or ``deadline``.

    An :data:`UNAVAILABLE` error is retried with exponential backoff (1 s
    doubling to 15 s) until the monotonic ``deadline``, then raised; any
    other error is raised at once.
    """
    delay = 1.0
    while True:
        try:
            return probe()
        except UNAVAILABLE as exc:
            left = deadline - time.monotonic()
            if left <= 0:
                raise
            line = message(exc, conf)
        pause = min(delay, left)
        # Logged outside the handler: the line alone, no traceback.
        LOG.warning('%s; retrying in %.0fs (%.0fs left)', line, pause, left)
        time.sleep(pause)
        delay = min(delay * 2, 15.0)


def recorded(check):
    """An upgrade check whose failure its command keeps for a summary.

    The check's class gives ``record_failure(details)``; the command
    repeats the first failure as one line on stderr after the table.
    """
    @functools.wraps(check)
    def run(self):
        result = check(self)
        if result.code == upgradecheck.Code.FAILURE:
            self.record_failure(result.details)
        return result
    return run
