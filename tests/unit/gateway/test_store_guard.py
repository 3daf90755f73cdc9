"""The degraded modes' guard around the store: StoreError becomes a 503 the client can act on, nothing else changes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from releve.config import config_from_mapping
from releve.errors import InvalidRequest, StoreError
from releve.gateway import CapturedResponse, DeferredJob, DegradedModes, StoreUnavailable
from releve.gateway.providers import Operation

CONFIG = config_from_mapping({
    "auth": "none",
    "providers": {"p": {"kind": "openai-compatible", "base_url": "http://127.0.0.1:9/v1"}},
    "routes": {"assistant": {"targets": [{"provider": "p", "model": "m"}], "degraded": {"defer": True}}},
})
JOB = DeferredJob(id="job_1", status="queued", created_at=datetime(2025, 1, 1, tzinfo=UTC), location="/v1/jobs/job_1")
ANSWER = CapturedResponse(200, (), b"{}")


class Deferrer:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error

    async def defer(self, *, route: str, operation: Operation, body: dict[str, Any], client: str | None,
                    callback_url: str | None, subject: str | None = None) -> DeferredJob:
        if self.error is not None:
            raise self.error
        return JOB


class Guard:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.produced = 0

    async def run(self, *, client: str | None, key: str, body: bytes,
                  produce: Callable[[], Awaitable[CapturedResponse]], subject: str | None = None) -> CapturedResponse:
        if self.error is not None:
            raise self.error
        self.produced += 1
        return await produce()


async def produce() -> CapturedResponse:
    return ANSWER


async def defer(modes: DegradedModes) -> DeferredJob:
    assert modes.deferrer is not None
    return await modes.deferrer.defer(route="assistant", operation=Operation.CHAT, body={}, client=None,
                                      callback_url=None)


async def test_a_deferral_the_store_cannot_keep_is_a_503_with_retry_after() -> None:
    modes = DegradedModes(CONFIG, deferrer=Deferrer(StoreError("postgresql://db: connection refused")))
    with pytest.raises(StoreUnavailable) as raised:
        await defer(modes)
    refusal = raised.value
    assert (refusal.status, refusal.code, refusal.kind, refusal.retry_after) == (
        503, "store_unavailable", "server_error", 5.0)
    assert "nothing was kept" in refusal.message and "postgresql" not in refusal.message  # no internals
    assert isinstance(refusal.__cause__, StoreError)


async def test_a_deferral_that_works_and_other_errors_pass_through_untouched() -> None:
    assert await defer(DegradedModes(CONFIG, deferrer=Deferrer())) is JOB
    with pytest.raises(InvalidRequest):
        await defer(DegradedModes(CONFIG, deferrer=Deferrer(InvalidRequest("no"))))


async def test_an_idempotency_key_the_store_cannot_take_is_refused_before_the_request_runs() -> None:
    modes = DegradedModes(CONFIG, idempotency=Guard(StoreError("down")))
    assert modes.idempotency is not None
    with pytest.raises(StoreUnavailable, match="Idempotency-Key") as raised:
        await modes.idempotency.run(client=None, key="k", body=b"{}", produce=produce)
    assert raised.value.status == 503


async def test_an_idempotency_guard_that_works_passes_its_answer_and_a_refused_deferral_through() -> None:
    working = Guard()
    modes = DegradedModes(CONFIG, idempotency=working)
    assert modes.idempotency is not None
    assert await modes.idempotency.run(client=None, key="k", body=b"{}", produce=produce) is ANSWER
    assert working.produced == 1
    refused = StoreUnavailable("deferral refused")  # by the deferrer, inside the request the key guards
    refusing = DegradedModes(CONFIG, idempotency=Guard(refused)).idempotency
    assert refusing is not None
    with pytest.raises(StoreUnavailable) as raised:
        await refusing.run(client=None, key="k", body=b"{}", produce=produce)
    assert raised.value is refused


def test_without_a_store_there_is_nothing_to_guard() -> None:
    modes = DegradedModes(CONFIG)
    assert modes.deferrer is None and modes.idempotency is None
    assert not modes.policies["assistant"].defer
