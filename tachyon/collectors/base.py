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

"""Collector plugins: full reconciliation of the graph with the APIs.

A sync (:meth:`BaseCollector.sync`) runs in two phases:

1. **fetch** everything from the APIs and build records, all stamped
   ``updated_at = started_at`` (the time the sync began). Entities the API
   describes badly are logged with their id, skipped and counted; their
   uuids are still *kept* so that the prune below does not delete them.
2. **write**: upsert every kind in bulk, then prune what the APIs no
   longer list (``prune_*(graph, keep_uuids, before=started_at)``).

Because every record carries the sync's start time, the graph layer's
staleness rule does the rest: a notification newer than the start of the
sync that touched an entity wins over the sync's older view, and the prune
spares every entity such a notification wrote (``updated_at >= before``)
even when the APIs did not list it yet. Nothing is pruned unless the fetch
completed: a failed or timed-out sync raises and leaves the graph as its
upserts (if any) left it.

Every run, successful or not, ends in a :class:`SyncReport` that is logged
and recorded in the graph (:mod:`tachyon.graph.syncs`).
"""

import abc
import dataclasses
import time
import typing

from oslo_log import log as logging

from tachyon.collectors import clients
from tachyon import exception
from tachyon.graph import syncs

LOG = logging.getLogger(__name__)

STATUS_SUCCESS = 'success'
STATUS_FAILED = 'failed'


@dataclasses.dataclass
class SyncReport:
    """What one sync did, and how long it took."""

    collector: str
    started_at: float
    finished_at: typing.Optional[float] = None
    created: int = 0
    updated: int = 0
    deleted: int = 0
    #: Entities the APIs described badly (logged with their id, skipped).
    skipped: int = 0
    #: Records the graph did not apply: it had newer state already (a
    #: notification that came during the sync) or a newer tombstone.
    stale: int = 0
    status: str = 'running'
    error: typing.Optional[str] = None
    fetch_seconds: float = 0.0
    write_seconds: float = 0.0
    #: kind -> {'fetched', 'created', 'updated', 'deleted', 'skipped',
    #: 'stale'}
    details: dict = dataclasses.field(default_factory=dict)

    #: Called as ``observer(report, step, kind)`` whenever counts change
    #: while the sync runs (``step``: 'fetched' once the fetch ended, kind
    #: None; 'written' after each chunk of a kind is upserted, 'pruned'
    #: after a kind's prune), so a caller can show progress live. Not a
    #: field: it is neither recorded nor part of :meth:`as_dict`.
    observer = None

    def add_written(self, kind, count):
        """``count`` more records of ``kind`` upserted (not recorded)."""
        written = self.__dict__.setdefault('_written', {})
        written[kind] = written.get(kind, 0) + count

    def written(self, kind):
        """How many records of ``kind`` were upserted so far."""
        return self.__dict__.get('_written', {}).get(kind, 0)

    def progress(self, step, kind=None):
        if self.observer is not None:
            self.observer(self, step, kind)

    @property
    def seconds(self):
        if self.finished_at is None:
            return None
        return self.finished_at - self.started_at

    def kind(self, kind):
        return self.details.setdefault(kind, {
            'fetched': 0, 'created': 0, 'updated': 0, 'deleted': 0,
            'skipped': 0, 'stale': 0})

    def add_skipped(self, kind, count=1):
        self.kind(kind)['skipped'] += count
        self.skipped += count

    def add_fetched(self, kind, count):
        self.kind(kind)['fetched'] += count

    def add_counts(self, kind, counts):
        """Add the SyncCounts an upsert returned."""
        entry = self.kind(kind)
        for field, total in (('created', 'created'), ('updated', 'updated'),
                             ('deleted', 'deleted')):
            value = getattr(counts, field, 0) or 0
            entry[field] += value
            setattr(self, total, getattr(self, total) + value)
        stale = getattr(counts, 'skipped', 0) or 0
        entry['stale'] += stale
        self.stale += stale

    def add_deleted(self, kind, count):
        self.kind(kind)['deleted'] += count or 0
        self.deleted += count or 0

    def as_dict(self):
        data = dataclasses.asdict(self)
        data['seconds'] = self.seconds
        return data

    def summary(self):
        text = ('%s sync %s in %.1f s (fetch %.1f s, write %.1f s): '
                '%d created, %d updated, %d deleted, %d skipped'
                % (self.collector, self.status, self.seconds or 0.0,
                   self.fetch_seconds, self.write_seconds, self.created,
                   self.updated, self.deleted, self.skipped))
        if self.stale:
            text += ', %d superseded by newer notifications' % self.stale
        if self.error:
            text += ': %s' % self.error
        return text


class Batch(object):
    """The records of one kind a fetch produced."""

    def __init__(self, kind):
        self.kind = kind
        self.records = []
        #: Identities the prune must spare: every entity listed, even
        #: those skipped as malformed.
        self.keep = set()
        self.skipped = 0

    def add(self, record, key):
        self.records.append(record)
        self.keep.add(key)

    def skip(self, error, key=None):
        LOG.warning('Skipping %(kind)s %(id)s: %(reason)s',
                    {'kind': getattr(error, 'kind', self.kind),
                     'id': getattr(error, 'ident', None) or key
                     or '<no id>',
                     'reason': getattr(error, 'reason', error)})
        self.skipped += 1
        if key:
            self.keep.add(key)


class BaseCollector(object, metaclass=abc.ABCMeta):
    """A collector plugin (entry-point namespace ``tachyon.collectors``)."""

    #: The plugin's name (its entry point), also the API group in messages.
    name = None
    #: Service named in SyncTimeout messages.
    service = None

    def __init__(self, conf):
        self.conf = conf

    @abc.abstractmethod
    def fetch(self, started_at, deadline):
        """Fetch everything; return {kind: Batch}.

        Records are stamped ``updated_at=started_at``.
        """

    @abc.abstractmethod
    def write(self, graph, batches, report, started_at, deadline):
        """Upsert the batches and prune what is gone (see module doc)."""

    # -- helpers for subclasses -------------------------------------------

    @staticmethod
    def convert(batch, build, entity, *args, **kwargs):
        """``build(entity, ...)`` into ``batch``, or skip it if malformed.

        Returns the record, or None when skipped.
        """
        try:
            record = build(entity, *args, **kwargs)
        except exception.MalformedEntity as exc:
            batch.skip(exc, exc.ident)
            return None
        return record

    def check_deadline(self, deadline):
        deadline.check(self.service or self.name)

    @staticmethod
    def chunks(records, size):
        for start in range(0, len(records), size):
            yield records[start:start + size]

    def upsert(self, graph, func, batch, report, deadline, chunk=5000):
        """Upsert a batch in chunks; adds the counts to the report."""
        for part in self.chunks(batch.records, chunk):
            self.check_deadline(deadline)
            report.add_counts(batch.kind, func(graph, part))
            report.add_written(batch.kind, len(part))
            report.progress('written', batch.kind)

    def prune(self, graph, func, batch, report, started_at, deadline):
        self.check_deadline(deadline)
        report.add_deleted(batch.kind,
                           func(graph, sorted(batch.keep), started_at))
        report.progress('pruned', batch.kind)

    # -- the sync ---------------------------------------------------------

    def sync(self, graph, observer=None):
        """One full reconciliation; returns the :class:`SyncReport`.

        ``observer``: see :attr:`SyncReport.observer`.

        Raises the error that failed the sync (UpstreamError,
        UpstreamAuthFailed, SyncTimeout, GraphUnavailable, ...) after
        logging and recording the failed run.
        """
        started_at = time.time()
        clock = time.monotonic()
        report = SyncReport(collector=self.name, started_at=started_at)
        report.observer = observer
        deadline = clients.Deadline(self.conf.collectors.sync_timeout)
        LOG.info('Starting the %s sync', self.name)
        try:
            batches = self.fetch(started_at, deadline)
            for kind, batch in batches.items():
                report.add_fetched(kind, len(batch.records))
                if batch.skipped:
                    report.add_skipped(kind, batch.skipped)
            report.fetch_seconds = time.monotonic() - clock
            report.progress('fetched')
            write_clock = time.monotonic()
            try:
                self.write(graph, batches, report, started_at, deadline)
            finally:
                report.write_seconds = time.monotonic() - write_clock
        except BaseException as exc:
            report.status = STATUS_FAILED
            report.error = str(exc) or type(exc).__name__
            report.finished_at = time.time()
            if isinstance(exc, exception.TachyonException):
                LOG.error('%s', report.summary())
            else:
                LOG.exception('%s', report.summary())
            self._record(graph, report)
            raise
        report.status = STATUS_SUCCESS
        report.finished_at = time.time()
        LOG.info('%s', report.summary())
        self._record(graph, report)
        return report

    @staticmethod
    def _record(graph, report):
        try:
            syncs.record_sync_run(graph, report)
        except exception.TachyonException as exc:
            LOG.warning('Could not record the %(name)s sync run in the '
                        'graph: %(err)s', {'name': report.collector,
                                           'err': exc})
