"""The lead role: one process, across every replica and worker, runs the work that must happen once.

Probes, status-feed polling, incident decisions, notifications, scheduled backups and drills and
retention purges run in the lead only, so three replicas give one incident and one notification,
not three. The role is a lease in the store (`Store.acquire_lease`), renewed every 2 s (or every
fifth of its length, if shorter); a lead that dies is replaced once its lease runs out, one that
stops cleanly hands over at once.

Two guards keep a stale lead from acting beside a new one:

- locally, the role ends a margin before the lease could have expired in the store (timed on this
  process's monotonic clock from the moment the renewal was *sent*), even when the store cannot be
  reached to say so: `leading` turns False and the work is stopped;
- in the store, incident writes carry the lease's fencing token (`fence`), and are refused if the
  lease has changed hands meanwhile (a process paused for longer than its lease).

A store outage shorter than the lease (15 s by default) does not move the role: the lead keeps
monitoring and spools what it cannot write.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable
from datetime import datetime

from releve.clock import MONOTONIC, Clock
from releve.errors import StoreError
from releve.store import Fenced, Store

__all__ = ["LEAD_LEASE", "Leadership", "replica_id"]

logger = logging.getLogger("releve.cluster.lead")
LEAD_LEASE = "lead"
# The role ends this long before the lease could expire in the store: room for clock skew between replicas
# and for a renewal that was sent but not yet answered.
_MARGIN = 1.0
# Renewals come at least this often (and every fifth of the lease): one short UPDATE, and the more recent the
# last success, the longer a lead rides out a store outage (15 s lease: up to 12 s).
_RENEW_AT_MOST_EVERY = 2.0


def replica_id() -> str:
    """This process's name among replicas: host, pid and a random part (a restarted pid is a new holder)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class Leadership:
    """Competes for the lead lease; calls `on_gain` when this process becomes the lead, `on_loss` when it stops.

    `candidate=False` never competes (a process that only serves).
    """

    def __init__(self, store: Store, *, ttl: float, wall: Callable[[], datetime],
                 on_gain: Callable[[], Awaitable[None]], on_loss: Callable[[], Awaitable[None]],
                 clock: Clock = MONOTONIC, holder: str | None = None, candidate: bool = True) -> None:
        self.holder = holder or replica_id()
        self._store = store
        self._ttl = ttl
        self._every = min(ttl / 5, _RENEW_AT_MOST_EVERY)
        self._wall = wall
        self._clock = clock
        self._on_gain = on_gain
        self._on_loss = on_loss
        self._candidate = candidate
        self._token: int | None = None
        self._valid_until = -1.0
        self._acting = False        # on_gain ran and on_loss has not
        self._task: asyncio.Task[None] | None = None
        self.changes = 0            # how many times the role was gained (metrics, tests)

    @property
    def leading(self) -> bool:
        return self._token is not None and self._clock.now() < self._valid_until

    @property
    def token(self) -> tuple[str, int] | None:
        """(lease name, fencing token) to pass with writes made as the lead; None when not the lead."""
        return (LEAD_LEASE, self._token) if self.leading and self._token is not None else None

    def fence(self) -> tuple[str, int]:
        """The fencing token, or `Fenced` when this process is not (or no longer) the lead."""
        token = self.token
        if token is None:
            raise Fenced(f"{self.holder} is not the lead (its lease ran out or passed to another replica)")
        return token

    async def start(self) -> None:
        if self._candidate:
            await self.renew()  # a lone process leads from its first moment, not a renewal period later
            self._task = asyncio.create_task(self._loop(), name="releve-lead-lease")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._acting:
            await self._stop_acting("shutting down")
        if self._token is not None:
            self._token = None
            with contextlib.suppress(StoreError):
                await asyncio.to_thread(self._store.release_lease, LEAD_LEASE, self.holder)

    async def _loop(self) -> None:
        while True:
            wait = self._every
            if self._acting:
                wait = max(0.05, min(wait, self._valid_until - self._clock.now()))
            await asyncio.sleep(wait)
            await self.renew()

    async def renew(self) -> None:
        """One attempt to take or renew the lease (the loop calls it every fifth of the lease; tests too)."""
        sent = self._clock.now()
        try:
            token = await asyncio.to_thread(self._store.acquire_lease, LEAD_LEASE, self.holder, at=self._wall(),
                                            ttl=self._ttl)
        except StoreError as exc:
            if self._acting and not self.leading:
                await self._stop_acting(f"the store is unreachable and the lease may have run out ({exc})")
            elif self._acting:
                logger.warning("cannot renew the lead lease (%s); still the lead for %.1f s",
                               exc, self._valid_until - self._clock.now())
            return
        if token is None:
            self._token = None
            if self._acting:
                await self._stop_acting("another replica holds the lease")
            return
        if token != self._token and self._acting:
            await self._stop_acting("the lease changed hands while this process was paused")
        self._token = token
        self._valid_until = sent + self._ttl - _MARGIN
        if not self._acting:
            self._acting = True
            self.changes += 1
            logger.info("%s is the lead (token %d): running probes, incidents, notifications and schedules",
                        self.holder, token)
            try:
                await self._on_gain()
            except Exception:
                # Typically the store went away at that very moment: undo, and try again at the next renewal.
                logger.exception("starting the lead's work failed; trying again in %.0f s", self._every)
                await self._stop_acting("its work could not start")

    async def _stop_acting(self, why: str) -> None:
        self._acting = False
        logger.warning("%s is no longer the lead: %s", self.holder, why)
        try:
            await self._on_loss()
        except Exception:
            logger.exception("stopping the lead's work failed")
