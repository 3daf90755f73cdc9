"""The inbound Anthropic API answers every error in Anthropic's shape, and forwards nothing invalid."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson
import pytest

from releve.server import GatewayThread
from releve.sim import SimulatorThread
from support.families import KEY

HEADERS = {"x-api-key": KEY, "anthropic-version": "2023-06-01", "content-type": "application/json"}
GOOD = {"model": "via-openai", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}

CASES: dict[str, tuple[dict[str, str], bytes, int, str]] = {
    "malformed json": (HEADERS, b'{"model": ', 400, "invalid_request_error"),
    "no max_tokens": (HEADERS, orjson.dumps({**GOOD, "max_tokens": None}), 400, "invalid_request_error"),
    "bad role": (HEADERS, orjson.dumps({**GOOD, "messages": [{"role": "system", "content": "x"}]}), 400,
                 "invalid_request_error"),
    "stream not bool": (HEADERS, orjson.dumps({**GOOD, "stream": "yes"}), 400, "invalid_request_error"),
    "untranslatable": (HEADERS, orjson.dumps({**GOOD, "thinking": {"type": "enabled", "budget_tokens": 1024}}),
                       400, "invalid_request_error"),
    "missing key": ({k: v for k, v in HEADERS.items() if k != "x-api-key"}, orjson.dumps(GOOD), 401,
                    "authentication_error"),
    "unknown model": (HEADERS, orjson.dumps({**GOOD, "model": "claude-9"}), 404, "not_found_error"),
}


async def post(url: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any], Any]:
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{url}/v1/messages", data=body, headers=headers) as response:
            return response.status, dict(response.headers), orjson.loads(await response.read())


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
async def test_bad_requests_get_anthropic_errors_and_reach_no_provider(
        case: tuple[dict[str, str], bytes, int, str], gateway: GatewayThread,
        sims: dict[str, SimulatorThread]) -> None:
    """Each bad request gets its status and Anthropic's error type; no simulator sees it."""
    headers, body, status, kind = case
    got, _, payload = await post(gateway.url, headers, body)
    assert got == status
    assert payload["type"] == "error" and payload["error"]["type"] == kind and payload["error"]["message"]
    assert all(sim.stats()["requests"] == 0 for sim in sims.values())


async def test_every_target_failing_is_an_anthropic_error_with_retry_after(
        gateway: GatewayThread, sims: dict[str, SimulatorThread]) -> None:
    """With the route's only provider down, the client gets Anthropic's shape, a 5xx and Retry-After."""
    sims["primary"].set_faults({"kind": "status", "status": 503})
    status, headers, payload = await post(gateway.url, HEADERS, orjson.dumps(GOOD))
    assert status in (502, 503) and int(headers["Retry-After"]) >= 1
    assert payload["type"] == "error" and "via-openai" in payload["error"]["message"]


async def test_the_providers_verdict_on_a_bad_request_is_relayed(gateway: GatewayThread,
                                                                  sims: dict[str, SimulatorThread]) -> None:
    """A 400 from the provider reaches the client as Anthropic's invalid_request_error."""
    sims["primary"].set_faults({"kind": "status", "status": 400})
    status, _, payload = await post(gateway.url, HEADERS, orjson.dumps(GOOD))
    assert status == 400 and payload["error"]["type"] == "invalid_request_error"
