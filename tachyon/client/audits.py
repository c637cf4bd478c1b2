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

"""The audit a decision-engine thread is running, and what it opened.

Watcher runs each audit's strategy in one thread (a worker of the audit
endpoint for oneshot audits, a job of the continuous handler for the
others) and hands collectors nothing of the audit. :func:`bound` (entered
by :mod:`tachyon.client.watcher_hooks` around Watcher's
``StrategyContext.execute_strategy``) records the audit in a thread-local
:class:`AuditRun`; the collectors read it to tag the session they open
with the audit's uuid, and register the models they hand out. When the
strategy returns, or raises, every session the run opened is settled:

* the strategy ended: the moves it recorded still held locally are sent
  (:meth:`TachyonClusterModel.flush`), then the session is closed
  (``closed``: not applied to the global model, its deltas kept until the
  reaper purges it);
* the strategy raised: the session is rolled back.

Either way the model's content is dropped afterwards and its memory given
back (:mod:`tachyon.common.memory`).

So no session outlives the strategy run of its audit, whatever the
outcome; a decision engine that dies mid-audit leaves its session to the
session TTL.

The audit scope a strategy gives ``get_audit_scope_handler`` is kept per
thread too (:func:`keep_scope` / :func:`take_scope`): concurrent audits of
one decision engine never see each other's scope.
"""

import contextlib
import threading

from oslo_context import context as oslo_context
from oslo_log import log as logging

from tachyon.common import memory

LOG = logging.getLogger(__name__)

_local = threading.local()


class AuditRun(object):
    """One strategy run of one audit, in the thread that runs it."""

    def __init__(self, audit_uuid, request_context=None):
        self.audit_uuid = audit_uuid
        self.request_context = request_context
        self._opened = []

    def opened(self, model):
        """Settle ``model``'s session when the run ends."""
        self._opened.append(model)

    @property
    def models(self):
        return list(self._opened)

    def end(self, failed):
        """Send what is pending, then close (or roll back) each session.

        The models' content is then dropped (Watcher's planner works from
        the strategy's solution, never from the model) and the memory it
        took handed back to the system: a decision engine keeps no model
        between audits.
        """
        opened, self._opened = self._opened, []
        for model in opened:
            _settle(model, self.audit_uuid, failed)
            model.release()
        if opened:
            memory.release()


def _settle(model, audit_uuid, failed):
    if model.client is None or model.session_id is None:
        return
    # Under the request id the session was opened with; then the thread's
    # own context again.
    previous = oslo_context.get_current()
    if model.request_context is not None:
        model.request_context.update_store()
    try:
        _send_and_close(model, audit_uuid, failed)
    finally:
        if previous is not None:
            previous.update_store()


def _send_and_close(model, audit_uuid, failed):
    client, session_id = model.client, model.session_id
    if not failed:
        try:
            model.flush()
        except Exception as exc:
            # The strategy's solution stands (Watcher plans from it, not
            # from the session); the session only lacks the refused tail.
            LOG.warning('Audit %(audit)s: the engine refused moves of '
                        'session %(session)s: %(err)s',
                        {'audit': audit_uuid, 'session': session_id,
                         'err': exc})
    else:
        model.discard_pending()
    try:
        if failed:
            client.rollback_session(session_id)
        else:
            client.close_session(session_id)
    except Exception as exc:
        LOG.warning('Audit %(audit)s: session %(session)s could not be '
                    '%(what)s (%(err)s); its TTL will end it',
                    {'audit': audit_uuid, 'session': session_id,
                     'what': 'rolled back' if failed else 'closed',
                     'err': exc})
    else:
        LOG.debug('Audit %(audit)s: session %(session)s %(what)s',
                  {'audit': audit_uuid, 'session': session_id,
                   'what': 'rolled back' if failed else 'closed'})


def current():
    """The AuditRun of this thread, or None outside a strategy run."""
    return getattr(_local, 'run', None)


@contextlib.contextmanager
def bound(audit_uuid, request_context=None):
    """Run the block as the strategy run of ``audit_uuid``."""
    run = AuditRun(audit_uuid, request_context)
    previous = current()
    _local.run = run
    _local.scopes = {}
    failed = True
    try:
        yield run
        failed = False
    finally:
        _local.run = previous
        _local.scopes = {}
        run.end(failed)


def keep_scope(model_kind, scope):
    """Remember the audit scope the next model of this thread is for."""
    scopes = getattr(_local, 'scopes', None)
    if scopes is None:
        scopes = _local.scopes = {}
    scopes[model_kind] = scope


def take_scope(model_kind):
    """The scope :func:`keep_scope` left for this thread (once), or None."""
    scopes = getattr(_local, 'scopes', None) or {}
    return scopes.pop(model_kind, None)
