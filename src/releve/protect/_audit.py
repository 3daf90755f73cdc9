"""The audit log's writer: who did what, appended to the store's hash chain off the request path.

`append()` only checks the entry and buffers it; a background task writes the buffer every
`flush_every` seconds (200 ms) or as soon as `batch` (100) entries wait, in one transaction per
write, so a request never waits on the database. A write that fails keeps its entries buffered, in
order, for the next try: an audit entry is never dropped quietly. Past `max_pending` entries
waiting, they move to a spool file on local disk (`AuditSpool`), written to the store first when it
answers again, and by the next process to start if this one dies first: a long database outage under
load costs disk, not memory. The CLI, which has no loop running, uses `append_now()`.

Entries say what was decided, never what was said: a `request` entry carries routing facts only
(see `request_record`), and `append()` refuses any other field in one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

import orjson
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from releve.store import AuditEntry, Store

from ._audit_spool import AuditSpool

__all__ = ["AUDIT_KEY_ENV", "REQUEST_FIELDS", "AuditKind", "AuditLog", "audit_key", "request_record"]

logger = logging.getLogger("releve.protect.audit")

AUDIT_KEY_ENV = "RELEVE_AUDIT_KEY"
# What a `request` entry may say about a request: its routing, never its content.
REQUEST_FIELDS = frozenset({"client", "client_name", "route", "targets", "regions", "data_class", "pii", "outcome",
                            "status", "request_id"})
# One transaction writes at most this many entries, so appenders in other processes are not held back long.
_WRITE_AT_MOST = 1000
# After the spool could not be written (disk full, read-only), the next try waits this long: no log flood.
_SPILL_RETRY = 5.0


class AuditKind(StrEnum):
    """What an entry records."""

    REQUEST = "request"            # a request's routing decision (request_record)
    POLICY_SKIP = "policy_skip"    # a target skipped because the data policy forbids it
    INCIDENT = "incident"          # opened, updated or resolved, by a person or the monitor
    FAULT = "fault"                # faults injected by a drill
    CONFIG = "config"              # configuration loaded or reloaded (a hash of the file)
    ERASURE = "erasure"            # personal data erased on request
    BACKUP = "backup"              # a backup taken or restored


def audit_key(environ: Mapping[str, str]) -> bytes | None:
    """The HMAC key that signs the chain's head, from `RELEVE_AUDIT_KEY` (its UTF-8 bytes); None when unset."""
    value = environ.get(AUDIT_KEY_ENV, "")
    return value.encode() if value else None


def request_record(*, route: str, outcome: str, client: str | None = None, client_name: str | None = None,
                   targets: Sequence[str] = (), regions: Sequence[str] = (), data_class: str | None = None,
                   pii: Mapping[str, int] | None = None, status: int | None = None,
                   request_id: str | None = None) -> dict[str, Any]:
    """A `request` entry's data: which client key (id, name), which route, the targets tried in order and
    their regions, the data class, PII found counted by type, the outcome (and HTTP status)."""
    return {"client": client, "client_name": client_name, "route": route, "targets": list(targets),
            "regions": list(regions), "data_class": data_class, "pii": dict(pii or {}), "outcome": outcome,
            "status": status, "request_id": request_id}


class AuditLog:
    """Appends entries to the store's audit chain; `key` signs the head (pass `audit_key(os.environ)`).

    `wall` gives the aware UTC time each entry is stamped with when appended (not when written).
    `max_pending`: once that many entries wait in memory (the store is refusing writes), they move to
    `spool`. Without a spool, `append()` then waits for a write itself and raises the store's error if it
    fails (`record()`, which cannot wait, keeps buffering).
    """

    def __init__(self, store: Store, *, key: bytes | None, wall: Callable[[], datetime], flush_every: float = 0.2,
                 batch: int = 100, max_pending: int = 10_000, spool: AuditSpool | None = None) -> None:
        self._store = store
        self._key = key
        self._wall = wall
        self._flush_every = flush_every
        self._batch = max(1, batch)
        self._max_pending = max(self._batch, max_pending)
        self._pending: list[tuple[datetime, str, str, dict[str, Any]]] = []
        self._spool = spool
        self._degraded = False        # the last write failed: memory goes through the spool until it is drained
        self._inflight_memory = False  # a chunk of `_pending` is being written: it must not be spilled under it
        self._spill_again_at = 0.0
        self._spill_failing = False
        self._writing = asyncio.Lock()
        self._wake = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None

    @property
    def pending(self) -> int:
        """Entries appended but not yet written (in memory and in the spool)."""
        return len(self._pending) + (self._spool.waiting if self._spool is not None else 0)

    @property
    def spooled(self) -> int:
        """Entries waiting in the spool file(s)."""
        return self._spool.waiting if self._spool is not None else 0

    @property
    def unreadable(self) -> int:
        """Spooled lines that could not be read back (a machine crash's torn tail): missing from the chain."""
        return self._spool.unreadable if self._spool is not None else 0

    def collector(self) -> Collector:
        """`releve_audit_pending{where}`: entries the store has not taken yet, in memory and on disk."""
        return _AuditMetrics(self)

    async def start(self) -> None:
        """Start the background writer (once), after adopting the spools of processes that died with entries."""
        if self._task is None:
            if self._spool is not None:
                await asyncio.to_thread(self._spool.adopt)
            self._closing = False
            self._task = asyncio.create_task(self._run(), name="releve-audit")

    async def close(self) -> None:
        """Stop the background writer, then write what is still buffered (raising if the store refuses it)."""
        task, self._task = self._task, None
        if task is not None:
            self._closing = True
            self._wake.set()
            await asyncio.wait({task})
        try:
            await self.flush()
        except Exception:
            if self._spool is None:
                raise
            # The store is still away: what memory holds goes to disk, for the next start to write.
            self._spill_again_at = 0.0
            self._spill()
            if self._pending:
                logger.error("stopping with %d audit entries neither the store nor the spool could take: lost",
                             len(self._pending))
            logger.warning("stopping with %d audit entries the store has not taken, kept in %s",
                           self._spool.waiting, self._spool.directory)
        finally:
            if self._spool is not None:
                self._spool.close()

    async def append(self, kind: AuditKind | str, actor: str, data: Mapping[str, Any]) -> None:
        """Buffer one entry, stamped now; it is written within `flush_every` seconds (sooner in a full batch).

        Raises `ValueError` at once for an unknown kind, an empty actor, data that is not a JSON object, or a
        `request` entry with a field outside `REQUEST_FIELDS`.
        """
        self._pending.append(self._entry(kind, actor, data))
        if len(self._pending) >= self._batch:
            self._wake.set()
        if len(self._pending) >= self._max_pending:
            if self._spool is not None:
                self._spill()
            else:
                await self.flush()

    def record(self, kind: AuditKind | str, actor: str, data: Mapping[str, Any]) -> None:
        """`append` for synchronous code on the event loop (event handlers): buffered, written the same way."""
        self._pending.append(self._entry(kind, actor, data))
        if len(self._pending) >= self._batch:
            self._wake.set()
        if len(self._pending) >= self._max_pending and self._spool is not None:
            self._spill()

    def append_now(self, kind: AuditKind | str, actor: str, data: Mapping[str, Any]) -> AuditEntry:
        """Write one entry now, in the calling thread (the CLI; never on the event loop)."""
        return self._store.append_audit([self._entry(kind, actor, data)], key=self._key)[0]

    async def flush(self) -> int:
        """Write everything buffered so far, in order; return how many entries were written.

        On a store error the entries not written stay buffered, ahead of newer ones, and the error is raised.
        """
        written = 0
        async with self._writing:
            spool = self._spool
            try:
                if spool is not None and (self._degraded or spool.waiting):
                    # After a failed write, memory goes through the spool until the spool is drained: only spool
                    # chunks are in flight then, so `record()` may spill beside them at any time (a hung write
                    # cannot hold memory past its bound), and the spool's older entries always go first.
                    if self._degraded:
                        self._spill()
                    written += await self._drain(spool)
                    self._degraded = False
                while self._pending:
                    chunk = self._pending[:_WRITE_AT_MOST]
                    self._inflight_memory = True
                    try:
                        await asyncio.to_thread(self._store.append_audit, chunk, key=self._key)
                    finally:
                        self._inflight_memory = False
                    # Appends made meanwhile went to the end: the chunk is still the list's start.
                    del self._pending[:len(chunk)]
                    written += len(chunk)
            except Exception:
                self._degraded = spool is not None
                raise
        return written

    async def _drain(self, spool: AuditSpool) -> int:
        written = 0
        while (chunk := await asyncio.to_thread(spool.next_chunk, _WRITE_AT_MOST)) is not None:
            if chunk.entries:  # a chunk of unreadable lines only has nothing to write, only to pass
                await asyncio.to_thread(self._store.append_audit, chunk.entries, key=self._key)
            spool.written(chunk)
            written += len(chunk.entries)
        return written

    def _spill(self) -> None:
        """Moves what memory holds to the spool, in order. Not while a chunk of memory is being written (until
        the store's own timeouts end that write, memory may pass its bound), nor soon after the spool failed."""
        spool = self._spool
        if spool is None or self._inflight_memory or not self._pending or time.monotonic() < self._spill_again_at:
            return
        # On the event loop, on purpose: a spill must not interleave with another, and it is short (about 2 µs
        # per entry, measured on 10,000) and happens only while the store refuses writes.
        try:
            spool.spill(self._pending)
        except OSError as exc:
            self._spill_again_at = time.monotonic() + _SPILL_RETRY
            if not self._spill_failing:
                logger.error("cannot spool audit entries to %s (%s): %d kept in memory; trying again every %g s",
                             spool.directory, exc, len(self._pending), _SPILL_RETRY)
            self._spill_failing = True
            return
        if self._spill_failing:
            logger.info("audit spool %s writable again", spool.directory)
            self._spill_failing = False
        self._pending.clear()

    def _entry(self, kind: AuditKind | str, actor: str, data: Mapping[str, Any]) -> tuple[datetime, str, str,
                                                                                          dict[str, Any]]:
        try:
            checked = AuditKind(kind)
        except ValueError:
            raise ValueError(f"unknown audit kind {kind!r}: one of {', '.join(AuditKind)}") from None
        if not isinstance(actor, str) or not actor:
            raise ValueError("an audit entry needs an actor (who did it)")
        if not isinstance(data, Mapping):
            raise ValueError(f"audit data must be a mapping, not {type(data).__name__}")
        if checked is AuditKind.REQUEST:
            extra = sorted(str(name) for name in data if name not in REQUEST_FIELDS)
            if extra:
                raise ValueError(f"a request entry records routing only, never content: unexpected field(s) "
                                 f"{', '.join(extra)}")
        try:
            # Checked here, at the caller, rather than in the background write where it would fail a whole batch.
            normal = orjson.loads(orjson.dumps(dict(data)))
        except orjson.JSONEncodeError as exc:
            raise ValueError(f"audit data must be JSON: {exc}") from exc
        at = self._wall()
        if at.utcoffset() is None:
            raise ValueError("the audit log's wall clock must give timezone-aware datetimes")
        return at, checked.value, actor, normal

    async def _run(self) -> None:
        failing = False
        while not self._closing:
            try:
                async with asyncio.timeout(self._flush_every):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                await self.flush()
            except Exception:
                # The store is unreachable: say it once, keep the entries, and keep trying.
                if not failing:
                    logger.exception("audit log not written; %d entries kept, retrying every %g s",
                                     self.pending, self._flush_every)
                failing = True
            else:
                if failing:
                    logger.info("audit log written again")
                failing = False


class _AuditMetrics(Collector):
    def __init__(self, log: AuditLog) -> None:
        self._log = log

    def collect(self) -> Iterator[Metric]:
        pending = GaugeMetricFamily("releve_audit_pending", "Audit entries not yet written to the store (it is "
                                    "refusing writes), in memory and in the local spool", labels=["where"])
        spooled = self._log.spooled
        pending.add_metric(["memory"], float(self._log.pending - spooled))
        pending.add_metric(["spool"], float(spooled))
        yield pending
        unreadable = CounterMetricFamily("releve_audit_spool_unreadable", "Spooled audit lines that could not be "
                                         "read back (set aside in a .bad file beside the spool)")
        unreadable.add_metric([], float(self._log.unreadable))
        yield unreadable
