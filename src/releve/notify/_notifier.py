"""The notifier: delivers the store's notification outbox, with retries, off the request path.

The store writes outbox rows in the same transaction as the incident they announce, so a
crash between "incident opened" and "message sent" loses nothing: whatever is pending is
claimed (leased, so that several processes never send the same row) and sent on the next
pass. Delivery is at least once; webhook receivers drop duplicates by `X-Releve-Delivery`.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

import aiohttp

from releve.store import Incident, OutboxItem, Store, poll_store

from ._channels import Channels
from ._delivery import Delivery, DeliveryError

__all__ = ["Notifier"]

logger = logging.getLogger("releve.notify")


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _kind(channel: str) -> str:
    return channel.partition(":")[0]


class Notifier:
    """Claims due outbox items, sends each through its channel, and records the outcome.

    Items of one channel and incident are sent in order (open before resolve); everything else
    runs concurrently, so a slow or failing channel never holds the others back. A failure is
    retried after a full-jitter exponential backoff (`backoff_base` × 2ⁿ, at most `backoff_cap`)
    until `max_attempts`; a permanent one (a 4xx, an unknown channel) is given up at once.
    Retries are not ordered: a receiver orders by `update.created_at`.

    `clock` gives the wall time (aware UTC): due dates are stored, so they are dates, not
    monotonic seconds.
    """

    def __init__(self, store: Store, channels: Channels, *, clock: Callable[[], datetime] = _utc_now,
                 poll_every: float = 1.0, max_attempts: int = 8, backoff_base: float = 2.0,
                 backoff_cap: float = 600.0, rng: random.Random | None = None, lease_seconds: float = 60.0,
                 batch: int = 20, grace: float = 15.0) -> None:
        self._store = store
        self._channels = channels
        self._clock = clock
        self._poll_every = poll_every
        self._max_attempts = max(1, max_attempts)
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._rng = rng if rng is not None else random.Random()
        self._lease_seconds = lease_seconds
        self._batch = batch
        self._grace = grace
        self._closing = False
        self._wake = asyncio.Event()
        self._http: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self, *, background: bool = True) -> None:
        """Open the HTTP session; with `background`, also start the polling loop.

        The CLI and tests pass `background=False` and call `drain_once()` themselves.
        """
        if self._http is None:
            self._http = aiohttp.ClientSession()
        if background and self._task is None:
            self._task = asyncio.create_task(self._run(), name="releve-notifier")

    async def close(self) -> None:
        """Stop the loop, letting a pass in progress finish for up to `grace` seconds, and close the session.

        A pass cut short leaves its items leased: they are sent again once the lease runs out.
        """
        task, self._task = self._task, None
        if task is not None:
            self._closing = True
            self._wake.set()
            # wait() rather than `await task`: neither a timeout nor the task's CancelledError is ours to raise.
            await asyncio.wait({task}, timeout=self._grace)
            if not task.done():
                task.cancel()
                await asyncio.wait({task})
            self._closing = False
        http, self._http = self._http, None
        if http is not None:
            await http.close()

    def wake(self) -> None:
        """Run a pass now rather than at the next poll: the monitor calls this after writing an incident."""
        self._wake.set()

    async def drain_once(self) -> int:
        """Send everything due now; return how many items were handled (delivered, retried or given up)."""
        if self._http is None:
            raise RuntimeError("Notifier.start() was not called")
        http = self._http
        handled = 0
        while True:
            items = await asyncio.to_thread(self._store.claim_notifications, self._clock(),
                                            lease_seconds=self._lease_seconds, limit=self._batch)
            if not items:
                break
            await self._deliver(items, http)
            handled += len(items)
            if len(items) < self._batch:
                break
        return handled

    async def _run(self) -> None:
        await poll_store(self.drain_once, wake=self._wake, every=self._poll_every, stopping=lambda: self._closing,
                         what="notification outbox", logger=logger)

    async def _deliver(self, items: Sequence[OutboxItem], http: aiohttp.ClientSession) -> None:
        incident_ids = sorted({item.incident_id for item in items})
        loaded = await asyncio.gather(*(asyncio.to_thread(self._store.incident, i) for i in incident_ids))
        incidents = dict(zip(incident_ids, loaded, strict=True))
        chains: dict[tuple[str, str], list[OutboxItem]] = {}
        for item in sorted(items, key=lambda item: item.id):
            chains.setdefault((item.channel, item.incident_id), []).append(item)
        await asyncio.gather(*(self._chain(chain, incidents, http) for chain in chains.values()))

    async def _chain(self, chain: list[OutboxItem], incidents: dict[str, Incident | None],
                     http: aiohttp.ClientSession) -> None:
        for item in chain:
            try:
                await self._one(item, incidents.get(item.incident_id), http)
            except Exception:
                # Recording the outcome failed (the store): the lease runs out and the item comes back.
                logger.exception("notification %d: could not record the outcome", item.id)

    async def _one(self, item: OutboxItem, incident: Incident | None, http: aiohttp.ClientSession) -> None:
        sender = self._channels.get(item.channel)
        if sender is None:
            await self._give_up(item, f"channel {item.channel} is no longer configured")
            return
        update = next((u for u in incident.updates if u.id == item.update_id), None) if incident else None
        if incident is None or update is None:
            await self._give_up(item, f"update {item.update_id} of incident {item.incident_id} no longer exists")
            return
        delivery = Delivery(id=item.id, event=item.event, incident=incident, update=update, at=self._clock())
        try:
            await sender.send(delivery, http)
        except DeliveryError as exc:
            error = exc
        except Exception as exc:
            # A bug in a sender must not stop the others; it is retried like a transient failure.
            logger.exception("notification %d on %s: unexpected error", item.id, item.channel)
            error = DeliveryError(f"unexpected {type(exc).__name__}")
        else:
            await asyncio.to_thread(self._store.notification_sent, item.id, self._clock())
            return
        attempt = item.attempts  # the claim counted this one
        if error.permanent or attempt >= self._max_attempts:
            await self._give_up(item, error.message)
            return
        delay = self.backoff(attempt)
        if error.retry_after is not None:
            delay = max(delay, min(error.retry_after, self._backoff_cap))
        retry_at = self._clock() + timedelta(seconds=delay)
        logger.info("notification %d (%s) on %s failed (attempt %d): %s; next try in %.1f s",
                    item.id, item.event.value, item.channel, attempt, error.message, delay)
        await asyncio.to_thread(self._store.notification_failed, item.id, error.message, retry_at=retry_at)

    def backoff(self, attempt: int) -> float:
        """Seconds before the next try after failed attempt number `attempt` (1 for the first).

        Full jitter (AWS's "Exponential Backoff and Jitter"): after a receiver's outage, the
        retries of many items do not all land at the same instant.
        """
        ceiling = min(self._backoff_cap, self._backoff_base * 2.0 ** (attempt - 1))
        return self._rng.uniform(0.0, ceiling)

    async def _give_up(self, item: OutboxItem, error: str) -> None:
        attempts = f" after {item.attempts} attempt{'s' if item.attempts != 1 else ''}"
        # The channel id names the kind and a hash of the URL, never the URL (it may hold a token).
        logger.warning("notification %d (%s, incident %s) to %s channel %s given up%s: %s", item.id,
                       item.event.value, item.incident_id, _kind(item.channel), item.channel, attempts, error)
        await asyncio.to_thread(self._store.notification_failed, item.id, error, retry_at=None)
