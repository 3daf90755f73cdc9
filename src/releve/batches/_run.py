"""One claimed batch, worked on until it ends (completed, cancelled, expired) or its runner closes.

Lines are taken from the store in file order and run at most `concurrency` at once (a semaphore shared by
every batch of the runner). Each outcome is committed as it comes, so the store always says which lines
are left: a batch taken up again after a restart simply carries on with them. The cost is "at least
once": a line whose answer arrived but was not yet written when the process died runs again (with the
same upstream `Idempotency-Key`, `releve-batch-<batch id>-<line no>`, so a provider that honours it does not
execute it twice).

An outage is not a failure. A line that no target can answer goes back to the front of the queue and the
batch pauses for `outage_pause`; then one line at a time probes until one succeeds, and the batch runs at
full pace again. One route's outage pauses the whole batch (OpenAI's batches name a single model), and a
line is tried again for as long as the batch's completion window lasts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from releve.errors import NoTargetAvailable, StoreError
from releve.gateway import Router, batch_line_key, upstream_idempotency_key
from releve.store import BatchLine, BatchRecord, Store

from ._lines import Outcome, execute, operation_for
from ._wire import output_line, unrun_line

__all__ = ["BatchRun", "Pace"]

logger = logging.getLogger("releve.batches")

_PAGE = 200  # lines read from the store at a time
_UNRUN = {
    "expired": ("batch_expired", "This request could not be executed before the completion window expired."),
    "cancelled": ("batch_cancelled", "This request was not executed: the batch was cancelled first."),
}
_INTERNAL = {"error": {"message": "Relève failed to run this request (see its log).", "type": "server_error",
                       "code": "internal_error", "param": None}}


@dataclass(frozen=True, slots=True)
class _End:
    final: str | None


@dataclass(frozen=True, slots=True)
class Pace:
    """What every batch of one runner shares."""

    store: Store
    router: Router
    wall: Callable[[], datetime]
    slots: asyncio.Semaphore
    concurrency: int
    poll_every: float
    outage_pause: float
    lease_seconds: float
    closing: Callable[[], bool]


class BatchRun:
    def __init__(self, pace: Pace, batch: BatchRecord) -> None:
        self._pace = pace
        self._store = pace.store
        self._batch = batch
        self.batch_id = batch.id
        self._operation = operation_for(batch.endpoint)
        self._queue: deque[BatchLine] = deque()
        self._known: set[int] = set()          # line numbers queued or running
        self._running: set[asyncio.Task[None]] = set()
        self._exhausted = False                # every pending line of the store is known
        self._changed = asyncio.Event()
        self._stale = True                     # read the batch again (its status may have changed)
        self._checked = 0.0
        self._paused_until = 0.0
        self._probing = False
        self._pauses = 0                       # a line started before the latest pause proves nothing

    def poke(self) -> None:
        """Something may have changed (a cancel): look at the batch again now."""
        self._stale = True
        self._changed.set()

    async def run(self) -> None:
        """Work until the batch ends, or the runner closes (the lease is then let go for the next claim)."""
        renewing = asyncio.create_task(self._renew(), name=f"releve-batch-lease-{self.batch_id}")
        ended = False
        try:
            final = await self._work()
            if final is not None:
                await self._end(final)
                ended = True
        finally:
            renewing.cancel()
            for task in self._running:
                task.cancel()
            await asyncio.gather(renewing, *self._running, return_exceptions=True)
            if not ended:
                with contextlib.suppress(StoreError):
                    await asyncio.to_thread(self._store.update_batch, self.batch_id, lease_until=None)

    async def _work(self) -> str | None:
        """Run lines; the status to end with ("completed", "cancelled", "expired"), or None to stop here."""
        while True:
            self._changed.clear()
            try:
                step = await self._step()
            except StoreError as exc:
                # Running lines go on; the store is asked again at the next poll.
                logger.warning("batch %s: store unavailable (%s); trying again in %g s", self.batch_id, exc,
                               self._pace.poll_every)
                step = self._pace.poll_every
            if isinstance(step, _End):
                return step.final
            if step > 0:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(step):
                        await self._changed.wait()

    async def _step(self) -> float | _End:
        """Start a line if the batch may; how long to wait before the next step (0: at once), or the end."""
        now = asyncio.get_running_loop().time()
        if self._stale or now - self._checked >= self._pace.poll_every:
            batch = await asyncio.to_thread(self._store.batch, self.batch_id)
            if batch is None:
                return _End(None)
            self._batch, self._stale, self._checked = batch, False, now
        status = self._batch.status
        if status == "finalizing":
            return _End("completed")
        if status != "in_progress":
            return _End(await self._stop("cancelled" if status == "cancelling" else None))
        if self._pace.wall() >= self._batch.expires_at:
            return _End(await self._stop("expired"))
        if self._pace.closing():
            return _End(await self._stop(None))
        if now < self._paused_until:
            return min(self._pace.poll_every, self._paused_until - now)
        if len(self._running) >= (1 if self._probing else self._pace.concurrency):
            return self._pace.poll_every
        line = await self._next_line()
        if line is None:
            if self._running:
                return self._pace.poll_every
            self._batch = await asyncio.to_thread(self._store.update_batch, self.batch_id, status="finalizing",
                                                  finalizing_at=self._pace.wall())
            return _End("completed")
        await self._pace.slots.acquire()  # other batches may hold every slot for a while
        if self._stale or self._pace.closing():
            self._pace.slots.release()
            self._queue.appendleft(line)
        else:
            self._start(line)
        return 0.0

    async def _stop(self, final: str | None) -> str | None:
        """Take no more lines; let the running ones finish (their outcomes count)."""
        while self._running:
            await asyncio.wait(set(self._running))
        if final == "expired" and not await asyncio.to_thread(self._store.pending_lines, self.batch_id, limit=1):
            final = "completed"  # the last lines finished in time after all
        return final

    async def _next_line(self) -> BatchLine | None:
        if not self._queue and not self._exhausted:
            limit = len(self._known) + _PAGE
            page = await asyncio.to_thread(self._store.pending_lines, self.batch_id, limit=limit)
            self._exhausted = len(page) < limit
            for line in page:
                if line.line_no not in self._known:
                    self._known.add(line.line_no)
                    self._queue.append(line)
        return self._queue.popleft() if self._queue else None

    def _start(self, line: BatchLine) -> None:
        task = asyncio.create_task(self._line(line, self._pauses),
                                   name=f"releve-batch-line-{self.batch_id}-{line.line_no}")
        self._running.add(task)

        def done(finished: asyncio.Task[None]) -> None:
            self._running.discard(finished)
            self._changed.set()

        task.add_done_callback(done)

    async def _line(self, line: BatchLine, pauses: int) -> None:
        """Run one line and commit its outcome; an outage puts it back. Never raises but for cancellation."""
        try:
            try:
                # Same key for every run of this line: a provider that honours it executes the line once.
                with upstream_idempotency_key(batch_line_key(self.batch_id, line.line_no)):
                    outcome = await execute(self._pace.router, self._operation, line.body)
            finally:
                self._pace.slots.release()
        except NoTargetAvailable as exc:
            self._back(line, f"no target could answer: {exc.message}")
            return
        except Exception:
            logger.exception("batch %s: line %d (%s) failed in Relève", self.batch_id, line.line_no, line.custom_id)
            outcome = Outcome(False, 500, _INTERNAL)
        try:
            await asyncio.to_thread(
                self._store.finish_line, self.batch_id, line.line_no, ok=outcome.ok, response_status=outcome.status,
                response_body=outcome.body, error=None, request_id="req_" + secrets.token_hex(16),
                at=self._pace.wall())
        except StoreError as exc:
            self._back(line, f"its outcome could not be stored ({exc}); it will run again")
            return
        self._known.discard(line.line_no)
        if outcome.ok and self._probing and pauses == self._pauses:
            self._probing = False
            logger.info("batch %s: running again", self.batch_id)

    def _back(self, line: BatchLine, why: str) -> None:
        """Put the line back first in the queue, and pause the batch."""
        self._queue.appendleft(line)
        if not self._probing:
            logger.warning("batch %s paused for %g s: line %d (%s): %s", self.batch_id, self._pace.outage_pause,
                           line.line_no, line.custom_id, why)
        self._probing = True
        self._pauses += 1
        self._paused_until = asyncio.get_running_loop().time() + self._pace.outage_pause

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(self._pace.lease_seconds / 3)
            try:
                await asyncio.to_thread(self._store.renew_batch, self.batch_id, self._pace.wall(),
                                        lease_seconds=self._pace.lease_seconds)
            except StoreError as exc:
                logger.warning("batch %s: lease not renewed: %s", self.batch_id, exc)

    async def _end(self, final: str) -> None:
        """Write the output and error files, then the final status with their ids, and let the lease go."""
        at = self._pace.wall()
        output_id, error_id = await asyncio.to_thread(self._write_files, final, at)
        batch = await asyncio.to_thread(self._store.update_batch, self.batch_id, status=final,
                                        output_file_id=output_id, error_file_id=error_id, lease_until=None,
                                        **{f"{final}_at": at})
        logger.info("batch %s %s: %d of %d lines answered", self.batch_id, final, batch.completed, batch.total)

    def _write_files(self, final: str, at: datetime) -> tuple[str | None, str | None]:
        answered: list[bytes] = []
        failed: list[bytes] = []
        unrun = _UNRUN.get(final)
        for line in self._store.batch_lines(self.batch_id):
            if line.state == "done":
                answered.append(output_line(line))
            elif line.state == "error":
                failed.append(output_line(line))
            elif unrun is not None:
                failed.append(unrun_line(line, *unrun))
        output_id = error_id = None
        if answered:
            output_id = self._store.create_file(purpose="batch_output", filename=f"{self.batch_id}_output.jsonl",
                                                content=b"".join(answered), at=at).id
        if failed:
            error_id = self._store.create_file(purpose="batch_output", filename=f"{self.batch_id}_error.jsonl",
                                               content=b"".join(failed), at=at).id
        return output_id, error_id
