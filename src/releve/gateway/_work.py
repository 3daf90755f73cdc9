"""What the inbound APIs ask of the parts that keep work through outages, which live outside the gateway.

The gateway cannot import the store; `app.py` hands it objects with these
shapes: a `Deferrer` that turns a request into a durable job (`Prefer:
respond-async`), and an `IdempotencyGuard` that answers a retried
`Idempotency-Key` with the first answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from .providers import Operation

__all__ = ["CapturedResponse", "DeferredJob", "Deferrer", "IdempotencyGuard"]


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
