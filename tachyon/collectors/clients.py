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

"""The OpenStack API client: keystoneauth1 only.

:class:`APIClient` wraps one keystoneauth1 adapter loaded from a config
group (``[nova]``, ``[placement]``, ``[cinder]``, ``[ironic]``): the
session (TLS, timeout), the auth plugin and the adapter (service type,
region, interface, endpoint override) all come from keystoneauth's standard
options (see :mod:`tachyon.conf.clients`). On top of it:

* every request carries the group's ``api_microversion``;
* a request that fails to connect is retried the group's
  ``connect_retries`` times, one answered with one of its
  ``retriable_status_codes`` or with a body that is not JSON
  ``status_code_retries`` times: keystoneauth's own options, with their
  meaning (a fixed ``*_retry_delay``, or when it is unset a delay doubling
  from 0.5 s up to 60 s), applied here rather than by keystoneauth so that
  a sync's deadline bounds the waits (see :class:`RetryPolicy`);
* :meth:`APIClient.list` follows every page (``limit``/``marker`` and the
  ``*_links`` / ``next`` links each API returns);
* a :class:`Deadline` bounds a whole sync;
* Keystone refusing the credentials, or a service refusing the token,
  raises :class:`~tachyon.exception.UpstreamAuthFailed` naming the service.

:mod:`tachyon.collectors.lookups` builds on these clients to fetch single
entities on demand.
"""

import time
import urllib.parse
import uuid as uuid_lib

from keystoneauth1 import exceptions as ksa_exc
from keystoneauth1 import loading as ks_loading
from oslo_log import log as logging

from tachyon.collectors import payloads
from tachyon.conf import clients as clients_conf
from tachyon import exception

LOG = logging.getLogger(__name__)

#: Config group -> the name messages give the service.
SERVICE_NAMES = {
    'nova': 'Nova',
    'placement': 'Placement',
    'cinder': 'Cinder',
    'ironic': 'Ironic',
}

_JSON_HEADERS = {'Accept': 'application/json'}


class SyncTimeout(exception.UpstreamError):
    """A sync ran past ``[collectors]/sync_timeout``."""

    msg_fmt = ("%(service)s sync abandoned: it took longer than "
               "[collectors]/sync_timeout (%(timeout)s s)")


class MalformedResponse(exception.UpstreamError):
    """An API answered with something that is not the JSON expected."""

    msg_fmt = "%(service)s API answered %(request)s with %(reason)s"


class Deadline(object):
    """The point in time by which a sync must be over."""

    def __init__(self, seconds, clock=time.monotonic):
        self.seconds = seconds
        self._clock = clock
        self._expires = clock() + seconds

    def remaining(self):
        return self._expires - self._clock()

    def check(self, service):
        """Raise :class:`SyncTimeout` once the deadline has passed."""
        if self.remaining() <= 0:
            raise SyncTimeout(service=service, timeout=self.seconds)


def is_uuid(value):
    try:
        uuid_lib.UUID(str(value))
    except ValueError:
        return False
    return True


def _next_params(body, links_key=None, next_key=None):
    """The query of the ``next`` page link of a list answer, or None."""
    href = None
    if links_key:
        for link in body.get(links_key) or ():
            if isinstance(link, dict) and link.get('rel') == 'next':
                href = link.get('href')
                break
    if next_key and not href:
        href = body.get(next_key)
    if not href or not isinstance(href, str):
        return None
    query = urllib.parse.urlsplit(href).query
    return {k: v[-1] for k, v in urllib.parse.parse_qs(
        query, keep_blank_values=True).items()}


def _first_set(*values):
    return next(value for value in values if value is not None)


class RetryPolicy(object):
    """How often, and after how long, a failed request is tried again.

    Two budgets, as keystoneauth has: ``connect`` (connection errors and
    timeouts) and ``status`` (retriable status codes, bodies that are not
    JSON). Each reads the API group's keystoneauth option; the deprecated
    ``[collectors]/api_retries`` and ``api_retry_delay`` apply where the
    group's option is unset.
    """

    #: budget -> (group's retries option, group's delay option)
    OPTIONS = {
        'connect': ('connect_retries', 'connect_retry_delay'),
        'status': ('status_code_retries', 'status_code_retry_delay'),
    }
    FIRST_DELAY = 0.5
    MAX_DELAY = 60.0

    def __init__(self, conf, group):
        opts = conf[group]
        self.retriable_status_codes = frozenset(
            opts.retriable_status_codes or ())
        self.retries = {}
        self._delays = {}
        legacy = conf.collectors
        for budget, (retries, delay) in self.OPTIONS.items():
            self.retries[budget] = _first_set(
                getattr(opts, retries), legacy.api_retries,
                clients_conf.DEFAULT_RETRIES)
            fixed = getattr(opts, delay)
            if fixed is not None:
                self._delays[budget] = (fixed, False)
            else:
                self._delays[budget] = (_first_set(
                    legacy.api_retry_delay, self.FIRST_DELAY), True)

    def delay(self, budget, attempt):
        """Seconds to wait before retry number ``attempt + 1``."""
        first, exponential = self._delays[budget]
        if not exponential:
            return first
        return min(first * (2 ** attempt), self.MAX_DELAY)


class APIClient(object):
    """One OpenStack API, reached through a keystoneauth1 adapter."""

    def __init__(self, conf, group, deadline=None):
        self.conf = conf
        self.group = group
        self.service = SERVICE_NAMES.get(group, group)
        self.deadline = deadline
        opts = conf[group]
        self.microversion = opts.api_microversion
        self._check_microversion()
        self.retry = RetryPolicy(conf, group)
        self.page_size = conf.collectors.page_size
        self.request_timeout = opts.timeout
        try:
            auth = ks_loading.load_auth_from_conf_options(conf, group)
        except ksa_exc.ClientException as exc:
            raise exception.ConfigurationError(
                group=group, option='auth_type',
                reason='cannot load the auth plugin for the %s API: %s'
                       % (self.service, exc)) from exc
        if auth is None:
            raise exception.ConfigurationError(
                group=group, option='auth_type',
                reason='no auth plugin configured for the %s API'
                       % self.service)
        session = ks_loading.load_session_from_conf_options(
            conf, group, auth=auth)
        # keystoneauth's own retries stay off: RetryPolicy applies them.
        self.adapter = ks_loading.load_adapter_from_conf_options(
            conf, group, session=session, auth=auth, connect_retries=0,
            status_code_retries=0)

    def _check_microversion(self):
        minimum = clients_conf.SERVICES.get(self.group, (None,) * 4)[3]
        try:
            version = payloads.parse_microversion(self.microversion)
        except ValueError:
            raise exception.ConfigurationError(
                group=self.group, option='api_microversion',
                reason='%r is not a microversion (X.Y)' % self.microversion)
        if minimum and version < payloads.parse_microversion(minimum):
            raise exception.ConfigurationError(
                group=self.group, option='api_microversion',
                reason='Tachyon needs %s or later, not %s' % (
                    minimum, self.microversion))

    # -- errors ------------------------------------------------------------

    def _auth_failed(self, reason):
        return exception.UpstreamAuthFailed(
            service=self.service, group=self.group, reason=reason)

    def _error(self, reason):
        return exception.UpstreamError(service=self.service, reason=reason)

    def _timeout(self):
        """The timeout of the next request (the deadline bounds it)."""
        timeout = self.request_timeout
        if self.deadline is not None:
            self.deadline.check(self.service)
            remaining = max(self.deadline.remaining(), 0.001)
            timeout = remaining if timeout is None else min(timeout,
                                                            remaining)
        return timeout

    def _sleep_before_retry(self, budget, attempt, what):
        delay = self.retry.delay(budget, attempt)
        if (self.deadline is not None
                and self.deadline.remaining() < delay):
            raise SyncTimeout(service=self.service,
                              timeout=self.deadline.seconds)
        LOG.warning('%(service)s API: %(what)s; retry %(n)d of %(max)d in '
                    '%(delay).2f s', {'service': self.service, 'what': what,
                                      'n': attempt + 1,
                                      'max': self.retry.retries[budget],
                                      'delay': delay})
        time.sleep(delay)

    # -- requests ----------------------------------------------------------

    def _send(self, path, params):
        """One GET; returns the response or raises a Tachyon error.

        Returns ``(response, None, 'status')``; retriable failures come
        back as ``(None, reason, budget)``: connection errors on the
        ``connect`` budget, Keystone's 5xx answers on the ``status`` one.
        """
        try:
            resp = self.adapter.get(path, params=params,
                                    microversion=self.microversion,
                                    raise_exc=False, headers=_JSON_HEADERS,
                                    timeout=self._timeout())
        except ksa_exc.Unauthorized as exc:
            raise self._auth_failed(
                'Keystone refused the credentials (%s)' % exc) from exc
        except (ksa_exc.MissingAuthPlugin, ksa_exc.AuthPluginException,
                ksa_exc.AuthorizationFailure) as exc:
            raise self._auth_failed(str(exc)) from exc
        except ksa_exc.EndpointNotFound as exc:
            raise exception.ConfigurationError(
                group=self.group, option='service_type',
                reason='no %s endpoint in the Keystone catalog matches '
                       'service_type, region_name and valid_interfaces: '
                       '%s' % (self.service, exc)) from exc
        except ksa_exc.HttpError as exc:
            # Keystone's own answer while getting a token.
            if (exc.http_status or 0) >= 500:
                return None, 'Keystone answered %s' % exc.http_status, 'status'
            raise self._auth_failed(
                'Keystone refused the token request (%s)' % exc) from exc
        except ksa_exc.SSLError as exc:
            raise self._error('TLS error: %s' % exc) from exc
        except (ksa_exc.ConnectionError,
                ksa_exc.RetriableConnectionFailure) as exc:
            return None, 'connection error: %s' % exc, 'connect'
        except ksa_exc.DiscoveryFailure as exc:
            raise self._error('version discovery failed: %s' % exc) from exc
        return resp, None, 'status'

    def get(self, path, params=None, allow_404=False):
        """GET ``path`` (relative to the endpoint) and decode its JSON.

        Returns None on 404 when ``allow_404``.
        """
        attempts = {'connect': 0, 'status': 0}
        request = 'GET %s' % path
        while True:
            resp, retry_reason, budget = self._send(path, params)
            if resp is not None:
                status = resp.status_code
                if 200 <= status < 300:
                    try:
                        return resp.json()
                    except ValueError:
                        retry_reason = 'malformed JSON'
                        if attempts[budget] >= self.retry.retries[budget]:
                            raise MalformedResponse(
                                service=self.service, request=request,
                                reason='malformed JSON')
                elif status == 401:
                    raise self._auth_failed(
                        'the %s API rejected the token (HTTP 401)'
                        % self.service)
                elif status == 403:
                    raise self._auth_failed(
                        '%s refused access to %s (HTTP 403); the user needs '
                        'the admin role' % (self.service, path))
                elif status == 404 and allow_404:
                    return None
                elif status in self.retry.retriable_status_codes:
                    retry_reason = 'HTTP %d' % status
                else:
                    raise self._error('%s answered HTTP %d: %s' % (
                        request, status, resp.text[:200]))
            attempt = attempts[budget]
            if attempt >= self.retry.retries[budget]:
                raise self._error('%s failed after %d attempts (%s)' % (
                    request, sum(attempts.values()) + 1, retry_reason))
            self._sleep_before_retry(
                budget, attempt, '%s: %s' % (request, retry_reason))
            attempts[budget] += 1

    def list(self, path, key, params=None, links_key=None, next_key=None,
             paged=True):
        """Every entity of a (paginated) list call, all pages followed.

        :param key: the answer's key holding the list (``servers``).
        :param links_key: key of the ``[{"rel": "next", "href": ..}]``
            links (Nova, Cinder: ``servers_links``, ``volumes_links``).
        :param next_key: key of a bare next-page URL (Ironic: ``next``).
        :param paged: send ``limit`` (``[collectors]/page_size``); the
            next page's query (``marker``, ...) comes from the next link.
        """
        params = dict(params or {})
        if paged:
            params.setdefault('limit', self.page_size)
        markers = set()
        entities = []
        pages = 0
        while True:
            body = self.get(path, params)
            pages += 1
            if not isinstance(body, dict) or not isinstance(
                    body.get(key), list):
                raise MalformedResponse(
                    service=self.service, request='GET %s' % path,
                    reason='no %r list in the answer' % key)
            items = body[key]
            entities.extend(items)
            nxt = _next_params(body, links_key, next_key)
            if nxt is None:
                break
            marker = nxt.get('marker')
            if not items or marker is None or marker in markers:
                raise MalformedResponse(
                    service=self.service, request='GET %s' % path,
                    reason='a next-page link that does not move on '
                           '(marker %r)' % marker)
            markers.add(marker)
            params = dict(params)
            params.update(nxt)
        LOG.debug('%s API: GET %s gave %d %s in %d page(s)',
                  self.service, path, len(entities), key, pages)
        return entities


# --------------------------------------------------------------------------
# Calls the collectors and the lookup share
# --------------------------------------------------------------------------

class NovaAPI(object):
    """What Tachyon asks of the Nova and Placement APIs."""

    def __init__(self, conf, deadline=None):
        self.nova = APIClient(conf, 'nova', deadline)
        self.placement = APIClient(conf, 'placement', deadline)
        self.microversion = payloads.parse_microversion(
            self.nova.microversion)

    def compute_services(self, host=None):
        params = {'binary': 'nova-compute'}
        if host:
            params['host'] = host
        return self.nova.list('/os-services', 'services', params,
                              paged=False)

    def aggregates(self):
        return self.nova.list('/os-aggregates', 'aggregates', paged=False)

    def hypervisors(self):
        return self.nova.list('/os-hypervisors/detail', 'hypervisors',
                              links_key='hypervisors_links')

    def hypervisor(self, hypervisor_uuid):
        body = self.nova.get('/os-hypervisors/%s' % hypervisor_uuid,
                             allow_404=True)
        if body is None:
            return None
        if not isinstance(body, dict) or 'hypervisor' not in body:
            raise MalformedResponse(service='Nova',
                                    request='GET /os-hypervisors/<uuid>',
                                    reason="no 'hypervisor' in the answer")
        return body['hypervisor']

    def hypervisors_named(self, name):
        body = self.nova.get('/os-hypervisors/detail',
                             {'hypervisor_hostname_pattern': name},
                             allow_404=True)
        if body is None:
            return []
        if not isinstance(body, dict) or not isinstance(
                body.get('hypervisors'), list):
            raise MalformedResponse(service='Nova',
                                    request='GET /os-hypervisors/detail',
                                    reason="no 'hypervisors' list")
        return body['hypervisors']

    def servers(self):
        return self.nova.list('/servers/detail', 'servers',
                              {'all_tenants': 'True'},
                              links_key='servers_links')

    def inventories(self, provider_uuid):
        """{rc: Inventory}, or None when Placement has no such provider.

        Raises MalformedEntity when the answer cannot be read.
        """
        try:
            body = self.placement.get(
                '/resource_providers/%s/inventories' % provider_uuid,
                allow_404=True)
        except MalformedResponse as exc:
            raise exception.MalformedEntity('resource provider',
                                            provider_uuid, str(exc))
        if body is None:
            return None
        return payloads.inventories_from_placement(body, provider_uuid)

    def traits(self, provider_uuid):
        try:
            body = self.placement.get(
                '/resource_providers/%s/traits' % provider_uuid,
                allow_404=True)
        except MalformedResponse as exc:
            raise exception.MalformedEntity('resource provider',
                                            provider_uuid, str(exc))
        if body is None:
            return []
        return payloads.traits_from_placement(body, provider_uuid)


class CinderAPI(object):
    """What Tachyon asks of the Cinder API."""

    def __init__(self, conf, deadline=None):
        self.cinder = APIClient(conf, 'cinder', deadline)

    def volume_services(self):
        return self.cinder.list('/os-services', 'services',
                                {'binary': 'cinder-volume'}, paged=False)

    def volume_types(self):
        return self.cinder.list('/types', 'volume_types',
                                {'is_public': 'None'},
                                links_key='volume_types_links', paged=False)

    def pools(self):
        return self.cinder.list('/scheduler-stats/get_pools', 'pools',
                                {'detail': 'True'}, paged=False)

    def volumes(self):
        return self.cinder.list('/volumes/detail', 'volumes',
                                {'all_tenants': 'True'},
                                links_key='volumes_links')


class IronicAPI(object):
    """What Tachyon asks of the Ironic API."""

    def __init__(self, conf, deadline=None):
        self.ironic = APIClient(conf, 'ironic', deadline)

    def nodes(self):
        return self.ironic.list('/v1/nodes/detail', 'nodes',
                                next_key='next')
