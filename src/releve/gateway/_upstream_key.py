"""The `Idempotency-Key` Relève sends upstream for work it may run twice: a deferred job, a batch line.

A job or batch line whose replica dies mid-request (SIGKILL, a lost machine) is run again by another
replica once its lease runs out; without a key the provider would execute it twice. The runners set the
key around their router call and the HTTP transports add the header when it is set. A context variable
keeps the router's signatures as they are; every other request pays one `ContextVar.get`.

The key names the work, not the attempt: every attempt of a job (after a crash, after an outage) sends
the same one, so a provider that honours it executes the job once and replays its answer after. The
transport adds the model (`releve-job-<id>:<model>`): a failover to another model of the same provider
is another request, which must not reuse the first one's key.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["UPSTREAM_IDEMPOTENCY_KEY", "batch_line_key", "job_key", "upstream_idempotency_key"]

UPSTREAM_IDEMPOTENCY_KEY: ContextVar[str | None] = ContextVar("releve_upstream_idempotency_key", default=None)


def job_key(job_id: str) -> str:
    return f"releve-job-{job_id}"


def batch_line_key(batch_id: str, line_no: int) -> str:
    return f"releve-batch-{batch_id}-{line_no}"


@contextmanager
def upstream_idempotency_key(key: str) -> Iterator[None]:
    """Upstream requests made inside the block (and tasks it starts, such as hedges) carry `key`."""
    token = UPSTREAM_IDEMPOTENCY_KEY.set(key)
    try:
        yield
    finally:
        UPSTREAM_IDEMPOTENCY_KEY.reset(token)
