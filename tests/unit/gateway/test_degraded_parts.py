"""The parts of the degraded modes: cache keys and eviction, SSE replay, priorities, languages, headers."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from releve.gateway import (
    HIGH,
    LOW,
    NORMAL,
    ConcurrencyLimiter,
    ResponseCache,
    cache_key,
    completion_to_sse,
    negotiate_language,
    request_extras,
)
from releve.gateway.providers import Operation

BODY = {"model": "assistant", "messages": [{"role": "user", "content": "hi"}], "temperature": 0}


def test_the_key_ignores_what_does_not_change_the_answer() -> None:
    key = cache_key("assistant", Operation.CHAT, BODY)
    assert cache_key("assistant", Operation.CHAT, {**BODY, "stream": True, "user": "u1"}) == key
    assert cache_key("assistant", Operation.CHAT, dict(reversed(list(BODY.items())))) == key
    assert cache_key("assistant", Operation.CHAT, {**BODY, "temperature": 1}) != key
    assert cache_key("other", Operation.CHAT, BODY) != key
    assert cache_key("assistant", Operation.EMBEDDINGS, BODY) != key


def test_the_cache_evicts_the_least_recently_used_and_forgets_after_ttl() -> None:
    now = [0.0]
    cache = ResponseCache(max_entries=2, ttl=10.0, now=lambda: now[0])
    cache.put(b"a", b"1")
    cache.put(b"b", b"2")
    assert cache.get(b"a") == b"1"
    cache.put(b"c", b"3")  # b was used least recently
    assert cache.get(b"b") is None and cache.evictions == 1 and len(cache) == 2
    now[0] = 11.0
    assert cache.get(b"a") is None and len(cache) == 1
    assert (cache.hits, cache.misses, cache.stores) == (1, 2, 3)


def test_a_completion_is_replayed_as_a_stream() -> None:
    body = orjson.dumps({"id": "x", "created": 1, "model": "m", "usage": {"total_tokens": 3}, "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "Bonjour", "tool_calls": [{"id": "t"}]},
         "finish_reason": "tool_calls"}]})
    events = [orjson.loads(part[6:]) for part in completion_to_sse(body).split(b"\n\n") if part.startswith(b"data: {")]
    assert events[0]["choices"][0]["delta"]["content"] == "Bonjour"
    assert events[0]["choices"][0]["delta"]["tool_calls"] == [{"index": 0, "id": "t"}]
    assert events[1]["choices"][0]["finish_reason"] == "tool_calls"
    assert events[2]["usage"] == {"total_tokens": 3}
    assert completion_to_sse(body).endswith(b"data: [DONE]\n\n")


@pytest.mark.parametrize(("header", "language"), [
    (b"fr-FR,fr;q=0.9,en;q=0.8", "fr"), (b"en-US,fr;q=0.5", "en"), (b"de-DE,fr;q=0.3", "fr"),
    (b"de", "en"), (b"", "en"), (b"fr;q=0, en;q=0.1", "en"), (b"fr;q=bogus", "en"),
])
def test_language_negotiation(header: bytes, language: str) -> None:
    assert negotiate_language(header) == language


def test_request_extras_in_one_pass() -> None:
    extras = request_extras([(b"idempotency-key", b" k1 "), (b"prefer", b"Respond-Async, wait=5"),
                             (b"x-releve-callback", b"https://cb"), (b"x-releve-data", b"personal"),
                             (b"accept-language", b"fr")])
    assert (extras.idempotency_key, extras.prefer_async, extras.callback, extras.personal) == (
        "k1", True, "https://cb", True)
    assert request_extras([(b"authorization", b"Bearer x")]) is request_extras([])


async def test_slots_go_to_high_priority_first_and_waits_are_bounded() -> None:
    limiter = ConcurrencyLimiter(limit=1, timeout=1.0)
    assert await limiter.acquire(NORMAL, 0.1)
    order: list[str] = []

    async def wait(name: str, priority: int, seconds: float) -> None:
        if await limiter.acquire(priority, seconds):
            order.append(name)
            await asyncio.sleep(0.01)
            limiter.release()
        else:
            order.append(f"{name} refused")

    tasks = [asyncio.create_task(wait("low", LOW, 1.0)), asyncio.create_task(wait("high", HIGH, 1.0)),
             asyncio.create_task(wait("impatient", NORMAL, 0.05))]
    await asyncio.sleep(0.1)
    limiter.release()
    await asyncio.gather(*tasks)
    assert order == ["impatient refused", "high", "low"]
    assert limiter.in_flight == 0 and limiter.refused == 1


async def test_a_cancelled_waiter_passes_its_slot_on() -> None:
    limiter = ConcurrencyLimiter(limit=1, timeout=1.0)
    assert await limiter.acquire(NORMAL, 0.1)
    waiting = asyncio.create_task(limiter.acquire(NORMAL, 1.0))
    await asyncio.sleep(0.01)
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    limiter.release()
    assert limiter.in_flight == 0
