"""The batch runner: claims batches from the store and works on them, through outages and restarts.

A batch is worked on by the process that holds its lease (renewed while it runs, let go when the runner
closes), so several gateway processes sharing a store share the batches without running one twice, and a
restarted gateway takes its batches up again where the store says they are.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from releve.gateway import Router
from releve.store import BatchRecord, Store, poll_store

from ._run import BatchRun, Pace

__all__ = ["BatchRunner"]

logger = logging.getLogger("releve.batches")


class BatchRunner:
    """Runs the Batch API's batches: at most `concurrency` lines at once over all batches.

    `poll_every`: how often the store is asked for new batches (and each batch for a cancel), unless woken.
    `outage_pause`: how long a batch rests when no target could answer a line. `lease_seconds`: how long a
    claim lasts if this process stops renewing it (it died). `grace`: how long `close()` lets running
    lines finish before abandoning them (they stay pending and run again after the next claim).
    `wall` gives aware UTC datetimes: leases and expiry are stored dates.
    """

    def __init__(self, store: Store, router: Router, *, wall: Callable[[], datetime], concurrency: int = 4,
                 poll_every: float = 1.0, outage_pause: float = 1.0, lease_seconds: float = 60.0,
                 grace: float = 10.0) -> None:
        self._store = store
        self._concurrency = max(1, concurrency)
        self._poll_every = poll_every
        self._lease = lease_seconds
        self._grace = grace
        self._closing = False
        self._pace = Pace(store=store, router=router, wall=wall, slots=asyncio.Semaphore(self._concurrency),
                          concurrency=self._concurrency, poll_every=poll_every, outage_pause=outage_pause,
                          lease_seconds=lease_seconds, closing=lambda: self._closing)
        self._wall = wall
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._runs: dict[str, tuple[BatchRun, asyncio.Task[None]]] = {}

    async def start(self) -> None:
        """Start the background loop (inside the server's event loop)."""
        if self._task is None:
            self._closing = False
            self._task = asyncio.create_task(self._loop(), name="releve-batches")

    async def close(self) -> None:
        """Stop claiming; let running lines finish for up to `grace` seconds, then abandon the rest.

        Every batch's lease is let go, so the next runner (this gateway restarted, or another worker)
        takes it up at once; abandoned lines are still pending there.
        """
        self._closing = True
        self._wakeup.set()
        task, self._task = self._task, None
        if task is not None:
            await asyncio.wait({task})
        for run, _ in self._runs.values():
            run.poke()
        running = {task for _, task in self._runs.values()}
        if running:
            _, late = await asyncio.wait(running, timeout=self._grace)
            for stuck in late:
                stuck.cancel()
            if late:
                await asyncio.wait(late)

    def wake(self) -> None:
        """Look now rather than at the next poll: a batch was created or cancelled."""
        self._wakeup.set()
        for run, _ in self._runs.values():
            run.poke()

    async def run_once(self) -> int:
        """Claim every batch that can be claimed now and work on each until it ends; how many were taken.

        For tests and tools (no background loop needed).
        """
        tasks = [task for _, task in await self._claim()]
        await asyncio.gather(*tasks)
        return len(tasks)

    async def _loop(self) -> None:
        await poll_store(self._claim, wake=self._wakeup, every=self._poll_every, stopping=lambda: self._closing,
                         what="batch store", logger=logger)

    async def _claim(self) -> list[tuple[BatchRun, asyncio.Task[None]]]:
        """Claim batches while this runner has room (as many batches as line slots)."""
        started = []
        while not self._closing and len(self._runs) < self._concurrency:
            batch = await asyncio.to_thread(self._store.claim_batch, self._wall(), lease_seconds=self._lease)
            if batch is None:
                break
            started.append(self._spawn(batch))
        return started

    def _spawn(self, batch: BatchRecord) -> tuple[BatchRun, asyncio.Task[None]]:
        run = BatchRun(self._pace, batch)
        task = asyncio.create_task(self._guarded(run), name=f"releve-batch-{batch.id}")
        self._runs[batch.id] = (run, task)

        def done(_: asyncio.Task[None]) -> None:
            self._runs.pop(batch.id, None)
            self._wakeup.set()  # room for another batch

        task.add_done_callback(done)
        logger.info("batch %s taken up: %d of %d lines left", batch.id, batch.total - batch.completed - batch.failed,
                    batch.total)
        return run, task

    async def _guarded(self, run: BatchRun) -> None:
        try:
            await run.run()
        except Exception:
            # The store failed under it: the lease is let go (or runs out), and the batch is claimed again.
            logger.exception("batch %s stopped; it will be taken up again", run.batch_id)
            await asyncio.sleep(self._poll_every)  # not at once: whatever failed would fail again
