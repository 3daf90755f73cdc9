"""Bad input gets a clear error in OpenAI's shape and reaches no provider."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson
import pytest

from releve.server import GatewayThread
from releve.sim import SimulatorThread
from support.gateway import CLIENT_KEY

AUTH = {"Authorization": f"Bearer {CLIENT_KEY}", "Content-Type": "application/json"}
GOOD = {"model": "assistant", "messages": [{"role": "user", "content": "hi"}]}

CASES: dict[str, tuple[str, dict[str, str], bytes, int, str]] = {
    "malformed json": ("/v1/chat/completions", AUTH, b'{"model": "assistant", "messages": [', 400, "invalid_json"),
    "not an object": ("/v1/chat/completions", AUTH, b"[1, 2]", 400, "invalid_json"),
    "empty body": ("/v1/chat/completions", AUTH, b"", 400, "invalid_json"),
    "no messages": ("/v1/chat/completions", AUTH, b'{"model": "assistant"}', 400, "invalid_request"),
    "bad role": ("/v1/chat/completions", AUTH,
                 b'{"model": "assistant", "messages": [{"role": "robot", "content": "x"}]}', 400, "invalid_request"),
    "stream not bool": ("/v1/chat/completions", AUTH, orjson.dumps({**GOOD, "stream": "yes"}), 400,
                        "invalid_request"),
    "bad max_tokens": ("/v1/chat/completions", AUTH, orjson.dumps({**GOOD, "max_tokens": -5}), 400,
                       "invalid_request"),
    "no input": ("/v1/embeddings", AUTH, b'{"model": "assistant"}', 400, "invalid_request"),
    "missing key": ("/v1/chat/completions", {"Content-Type": "application/json"}, orjson.dumps(GOOD), 401,
                    "invalid_api_key"),
    "wrong key": ("/v1/chat/completions", {**AUTH, "Authorization": "Bearer nope"}, orjson.dumps(GOOD), 401,
                  "invalid_api_key"),
    "unknown model": ("/v1/chat/completions", AUTH, orjson.dumps({**GOOD, "model": "gpt-5"}), 404,
                      "model_not_found"),
    "too large": ("/v1/chat/completions", AUTH,
                  orjson.dumps({**GOOD, "messages": [{"role": "user", "content": "x" * 70_000}]}), 413,
                  "request_too_large"),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
async def test_bad_input_is_refused_and_forwarded_nowhere(
        case: tuple[str, dict[str, str], bytes, int, str], gateway: GatewayThread,
        primary: SimulatorThread, fallback: SimulatorThread) -> None:
    """Each bad request gets its status and code in OpenAI's shape; no simulator sees it."""
    path, headers, body, status, code = case
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{gateway.url}{path}", data=body, headers=headers) as response:
            payload: dict[str, Any] = orjson.loads(await response.read())
            assert response.status == status
    assert set(payload) == {"error"}
    assert payload["error"]["code"] == code
    assert isinstance(payload["error"]["message"], str) and payload["error"]["message"]
    assert primary.stats()["requests"] == 0 and fallback.stats()["requests"] == 0


async def test_unknown_model_lists_the_routes(gateway: GatewayThread) -> None:
    """The 404 for an unknown model tells the client which routes exist."""
    async with aiohttp.ClientSession(headers=AUTH) as session, session.post(f"{gateway.url}/v1/chat/completions",
                            data=orjson.dumps({**GOOD, "model": "gpt-5"})) as response:
        message = orjson.loads(await response.read())["error"]["message"]
    assert "gpt-5" in message and "assistant" in message and "solo" in message


async def test_chunked_body_over_the_limit_is_413(gateway: GatewayThread, primary: SimulatorThread) -> None:
    """A body sent without Content-Length is still cut off at the limit."""
    async def chunks():  # type: ignore[no-untyped-def]
        yield b'{"model": "assistant", "messages": [{"role": "user", "content": "'
        for _ in range(20):
            yield b"x" * 4096
        yield b'"}]}'

    async with aiohttp.ClientSession(headers=AUTH) as session:
        async with session.post(f"{gateway.url}/v1/chat/completions", data=chunks()) as response:
            assert response.status == 413
    assert primary.stats()["requests"] == 0


async def test_the_providers_verdict_on_a_bad_request_is_relayed(gateway: GatewayThread,
                                                                  primary: SimulatorThread,
                                                                  fallback: SimulatorThread) -> None:
    """A 400 from the provider is the client's mistake: relayed in OpenAI's shape, not retried elsewhere."""
    primary.set_faults({"kind": "status", "status": 400})
    async with aiohttp.ClientSession(headers=AUTH) as session:
        async with session.post(f"{gateway.url}/v1/chat/completions", data=orjson.dumps(GOOD)) as response:
            payload = orjson.loads(await response.read())
            assert response.status == 400
    assert set(payload["error"]) == {"message", "type", "code", "param"}
    assert fallback.stats()["requests"] == 0


@pytest.mark.parametrize(("method", "path", "status"), [("GET", "/v1/chat/completions", 405),
                                                         ("POST", "/v2/whatever", 404)])
async def test_wrong_method_or_path_in_openai_shape(gateway: GatewayThread, method: str, path: str,
                                                    status: int) -> None:
    """Unknown paths and methods are answered in the same error shape."""
    async with aiohttp.ClientSession(headers=AUTH) as session:
        async with session.request(method, f"{gateway.url}{path}") as response:
            payload = orjson.loads(await response.read())
            assert response.status == status
    assert "message" in payload["error"]
