"""The simulator honours `Idempotency-Key` on completion endpoints: executed once, replayed after."""

from __future__ import annotations

import secrets
from typing import Any

import aiohttp
import orjson

from releve.sim import SimulatorThread

CHAT: dict[str, Any] = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hello there"}]}
MESSAGES: dict[str, Any] = {"model": "claude-x", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}


async def post(
    sim: SimulatorThread, body: dict[str, Any], key: str | None, path: str = "/v1/chat/completions"
) -> tuple[int, dict[str, str], bytes]:
    headers = {"anthropic-version": "2023-06-01"}
    if key is not None:
        headers["Idempotency-Key"] = key
    async with aiohttp.ClientSession() as session, session.post(sim.url + path, json=body, headers=headers) as resp:
        try:
            data = await resp.read()
        except aiohttp.ClientPayloadError:
            data = b"<cut>"
        return resp.status, dict(resp.headers), data


def _key() -> str:
    return f"test-{secrets.token_hex(6)}"


async def test_a_repeated_key_is_replayed_without_executing_again(simulator: SimulatorThread) -> None:
    key, other_key = _key(), _key()
    first = await post(simulator, CHAT, key)
    again = await post(simulator, CHAT, key)
    unkeyed = [await post(simulator, CHAT, None) for _ in range(2)]
    other = await post(simulator, CHAT, other_key)

    assert first[0] == again[0] == 200
    assert again[2] == first[2]  # the same completion, id included
    assert again[1].get("Idempotent-Replayed") == "true" and "Idempotent-Replayed" not in first[1]
    assert len({first[2], *(body for _, _, body in unkeyed), other[2]}) == 4  # each of those executed
    stats = simulator.stats()
    assert (stats["executions"], stats["idempotent_replays"]) == (4, 1)
    assert stats["by_model"] == {"gpt-4o": {"executions": 4, "idempotent_replays": 1}}
    assert [r["idempotency_key"] for r in stats["received"]] == [key, key, None, None, other_key]


async def test_a_request_refused_by_a_fault_executed_nothing_so_its_retry_runs(simulator: SimulatorThread) -> None:
    key = _key()
    simulator.set_faults({"kind": "status", "status": 503, "count": 1})
    refused = await post(simulator, CHAT, key)
    retried = await post(simulator, CHAT, key)
    replayed = await post(simulator, CHAT, key)
    assert (refused[0], retried[0], replayed[0]) == (503, 200, 200)
    assert replayed[2] == retried[2]
    stats = simulator.stats()
    assert (stats["executions"], stats["idempotent_replays"]) == (1, 1)


async def test_an_answer_lost_on_the_way_back_is_replayed_whole(simulator: SimulatorThread) -> None:
    """The answer was generated, then the connection broke (as when the caller's process dies): kept anyway."""
    key = _key()
    simulator.set_faults({"kind": "stream_cut", "count": 1})
    lost = await post(simulator, CHAT, key)
    again = await post(simulator, CHAT, key)
    assert lost[2] == b"<cut>" or not lost[2].endswith(b"}")
    assert again[0] == 200 and orjson.loads(again[2])["object"] == "chat.completion"
    assert (simulator.stats()["executions"], simulator.stats()["idempotent_replays"]) == (1, 1)


async def test_a_stream_is_replayed_event_for_event(simulator: SimulatorThread) -> None:
    key = _key()
    body = {**CHAT, "stream": True}
    first = await post(simulator, body, key)
    again = await post(simulator, body, key)
    assert first[0] == again[0] == 200 and first[2] == again[2] and first[2].endswith(b"data: [DONE]\n\n")
    assert (simulator.stats()["executions"], simulator.stats()["idempotent_replays"]) == (1, 1)


async def test_a_key_is_scoped_to_the_model_and_the_family(simulator: SimulatorThread) -> None:
    key = _key()
    await post(simulator, CHAT, key)
    other_model = await post(simulator, {**CHAT, "model": "gpt-4o-mini"}, key)
    anthropic = [await post(simulator, MESSAGES, key, "/v1/messages") for _ in range(2)]
    assert other_model[0] == 200 and "Idempotent-Replayed" not in other_model[1]
    assert anthropic[0][2] == anthropic[1][2] and orjson.loads(anthropic[1][2])["type"] == "message"
    stats = simulator.stats()
    assert stats["by_model"] == {
        "gpt-4o": {"executions": 1, "idempotent_replays": 0},
        "gpt-4o-mini": {"executions": 1, "idempotent_replays": 0},
        "claude-x": {"executions": 1, "idempotent_replays": 1},
    }


async def test_a_refused_request_is_neither_executed_nor_kept(simulator: SimulatorThread) -> None:
    key = _key()
    bad = await post(simulator, {"model": "gpt-4o", "messages": []}, key)
    good = await post(simulator, CHAT, key)
    assert (bad[0], good[0]) == (400, 200) and "Idempotent-Replayed" not in good[1]
    assert (simulator.stats()["executions"], simulator.stats()["idempotent_replays"]) == (1, 0)
