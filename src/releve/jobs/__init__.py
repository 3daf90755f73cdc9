"""Work kept through outages: deferred requests (`Prefer: respond-async`) and idempotent retries.

A request no target could answer becomes a job in the store (`StoreDeferrer`) that the `JobRunner` runs
once a target is healthy again, with the route's failover, and whose answer the client fetches
(`JobsApi`) or is sent (a signed callback). `StoreIdempotency` gives a retried `Idempotency-Key` the first
answer. Other packages import from here only.
"""

from ._api import JobsApi
from ._deferrer import StoreDeferrer
from ._idempotency import StoreIdempotency
from ._payload import job_payload
from ._runner import JobRunner

__all__ = ["JobRunner", "JobsApi", "StoreDeferrer", "StoreIdempotency", "job_payload"]
