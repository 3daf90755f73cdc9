"""What the inbound APIs ask of the parts that keep work through outages, which live outside the gateway.

The gateway cannot import the store; `app.py` hands it objects with these
shapes: a `Deferrer` that turns a request into a durable job (`Prefer:
respond-async`), and an `IdempotencyGuard` that answers a retried
`Idempotency-Key` with the first answer.

Both need the store. When it cannot be reached they raise `StoreError`, which
`guard_deferrer` / `guard_idempotency` turn into `StoreUnavailable`: a clear
503 in the client's API shape, never a 202 that promises what was not kept,
and never a 500.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from releve.errors import GatewayError, StoreError

from .providers import Operation

__all__ = ["CapturedResponse", "DeferredJob", "Deferrer", "IdempotencyGuard", "StoreUnavailable", "guard_deferrer",
           "guard_idempotency"]

logger = logging.getLogger("releve.gateway")

# How soon a refused client should try again: long enough for a database failover or restart to be noticed.
STORE_RETRY_AFTER = 5.0
_LOG_EVERY = 10.0  # seconds between two warnings about the store, however many requests it refuses
_NOT_DEFERRED = ("Relève cannot store this request for later right now (its database is unreachable); "
                 "nothing was kept. Retry later.")
_NOT_IDEMPOTENT = ("Relève cannot keep the answer of this Idempotency-Key right now (its database is unreachable), "
                   "so the request was not run: a retry could otherwise run it twice. Retry later, or send it "
                   "without Idempotency-Key.")


@dataclass(frozen=True, slots=True)
class CapturedResponse:
    """A whole response, kept so that it can be sent again byte for byte."""

    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes


@dataclass(frozen=True, slots=True)
class DeferredJob:
    id: str
    status: str          # queued
    created_at: datetime
    location: str        # the path to GET for the result, e.g. /v1/jobs/job_…


class Deferrer(Protocol):
    async def defer(self, *, route: str, operation: Operation, body: dict[str, Any], client: str | None,
                    callback_url: str | None, subject: str | None = None) -> DeferredJob:
        """Write the job durably (committed) and return it; raises StoreError when it cannot be kept."""
        ...


class IdempotencyGuard(Protocol):
    async def run(self, *, client: str | None, key: str, body: bytes,
                  produce: Callable[[], Awaitable[CapturedResponse]], subject: str | None = None) -> CapturedResponse:
        """The response for (client, key): the stored one for a repeated body, `produce()`'s for a new key.

        A different body under a known key gets a 422 response (in OpenAI's error shape); a duplicate that
        arrives while the first is running waits for the first's answer. Answers with status 429 or 5xx are
        not kept (a retry through an outage must run again); 2xx and 4xx are, for 24 h.
        """
        ...


class StoreUnavailable(GatewayError):
    """The store that keeps jobs and idempotency records is out of reach: the request was refused, nothing kept."""

    status = 503
    code = "store_unavailable"
    kind = "server_error"

    def __init__(self, message: str) -> None:
        super().__init__(message, retry_after=STORE_RETRY_AFTER)


class _Warnings:
    """At most one warning per `_LOG_EVERY` seconds: a store outage under load refuses thousands of requests."""

    def __init__(self) -> None:
        self._next = 0.0
        self._quiet = 0

    def warn(self, what: str, exc: StoreError) -> None:
        now = time.monotonic()
        if now < self._next:
            self._quiet += 1
            return
        logger.warning("%s refused: the store is unavailable (%s)%s", what, exc,
                       f"; {self._quiet} more refused since the last warning" if self._quiet else "")
        self._next, self._quiet = now + _LOG_EVERY, 0


class _GuardedDeferrer:
    __slots__ = ("_inner", "_warnings")

    def __init__(self, inner: Deferrer) -> None:
        self._inner = inner
        self._warnings = _Warnings()

    async def defer(self, *, route: str, operation: Operation, body: dict[str, Any], client: str | None,
                    callback_url: str | None, subject: str | None = None) -> DeferredJob:
        try:
            return await self._inner.defer(route=route, operation=operation, body=body, client=client,
                                           callback_url=callback_url, subject=subject)
        except StoreError as exc:
            self._warnings.warn("deferred job", exc)
            raise StoreUnavailable(_NOT_DEFERRED) from exc


class _GuardedIdempotency:
    __slots__ = ("_inner", "_warnings")

    def __init__(self, inner: IdempotencyGuard) -> None:
        self._inner = inner
        self._warnings = _Warnings()

    async def run(self, *, client: str | None, key: str, body: bytes,
                  produce: Callable[[], Awaitable[CapturedResponse]], subject: str | None = None) -> CapturedResponse:
        # A StoreError gets here only from taking the key, before `produce` runs: answers that could not be
        # kept afterwards are still sent (the guard logs them). A deferral refused inside `produce` arrives
        # as StoreUnavailable already, and passes through.
        try:
            return await self._inner.run(client=client, key=key, body=body, produce=produce, subject=subject)
        except StoreError as exc:
            self._warnings.warn("request with Idempotency-Key", exc)
            raise StoreUnavailable(_NOT_IDEMPOTENT) from exc


def guard_deferrer(deferrer: Deferrer) -> Deferrer:
    """`deferrer`, with `StoreError` turned into `StoreUnavailable` (503, Retry-After)."""
    return _GuardedDeferrer(deferrer)


def guard_idempotency(guard: IdempotencyGuard) -> IdempotencyGuard:
    """`guard`, refusing with `StoreUnavailable` (503) when the key cannot be taken: the replay promise needs it."""
    return _GuardedIdempotency(guard)
