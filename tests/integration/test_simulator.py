"""The provider simulator over real sockets: OpenAI API, admin API, and every fault kind."""

from __future__ import annotations

import asyncio
import random
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import aiohttp
import openai
import orjson
import pytest

from releve.sim import Fault, FaultKind, SimulatorThread, build_simulator_app, run_simulator

CHAT_BODY: dict[str, Any] = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hello there"}]}
STREAM_BODY: dict[str, Any] = {**CHAT_BODY, "stream": True}
SHORT_TIMEOUT = aiohttp.ClientTimeout(total=0.3)


def client(sim: SimulatorThread, api_key: str = "x") -> openai.OpenAI:
    """An SDK client without retries, so each call is one request; close it (`with`) after use."""
    return openai.OpenAI(base_url=sim.base_url, api_key=api_key, max_retries=0)


@pytest.fixture
def sdk(simulator: SimulatorThread) -> Iterator[openai.OpenAI]:
    """An SDK client for the session simulator, closed after the test so no socket leaks."""
    with client(simulator) as sdk:
        yield sdk


async def post(
    sim: SimulatorThread, path: str, body: Any, *, client_timeout: aiohttp.ClientTimeout | None = None
) -> tuple[int, dict[str, str], bytes]:
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    async with (
        aiohttp.ClientSession(timeout=client_timeout) as session,
        session.post(sim.url + path, data=data, headers={"Content-Type": "application/json"}) as resp,
    ):
        return resp.status, dict(resp.headers), await resp.read()


async def stream_events(sim: SimulatorThread, body: Any = STREAM_BODY) -> list[bytes]:
    """The SSE events of a streamed chat answer, as received, until the stream ends or breaks."""
    received = []
    async with aiohttp.ClientSession() as session, session.post(sim.url + "/v1/chat/completions", json=body) as resp:
        buffer = b""
        try:
            async for data in resp.content.iter_any():
                buffer += data
        except aiohttp.ClientPayloadError:
            received.append(b"<cut>")
    return [e + b"\n\n" for e in buffer.split(b"\n\n") if e] + received


def raw_exchange(sim: SimulatorThread, request: bytes, timeout: float = 2.0) -> tuple[bytes, OSError | None]:
    """Send raw bytes, read until the server closes; returns what arrived and how it ended."""
    received = b""
    with socket.create_connection(("127.0.0.1", sim.port), timeout=timeout) as sock:
        sock.sendall(request)
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except OSError as exc:
            return received, exc
    return received, None


def http_post(path: str, body: bytes) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


# --- OpenAI API through the official SDK ---------------------------------------------------------


def test_chat_completion_through_the_openai_sdk(sdk: openai.OpenAI) -> None:
    """The SDK gets a deterministic answer with the request's model, usage and a sim id."""
    answer = sdk.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "system", "content": "be nice"}, {"role": "user", "content": "ping me"}]
    )
    assert answer.choices[0].message.content == "sim heard: ping me"
    assert answer.choices[0].finish_reason == "stop"
    assert answer.model == "gpt-4o-mini"
    assert answer.id.startswith("chatcmpl-sim-")
    assert answer.usage is not None
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (4, 4)


def test_chat_max_tokens_truncates_through_the_sdk(sdk: openai.OpenAI) -> None:
    """max_tokens truncates the answer to that many words and finish_reason becomes length."""
    answer = sdk.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "a b c d"}], max_tokens=3
    )
    assert (answer.choices[0].message.content, answer.choices[0].finish_reason) == ("sim heard: a", "length")


def test_chat_stream_through_the_sdk_reproduces_the_plain_answer(sdk: openai.OpenAI) -> None:
    """Streamed deltas join to the plain answer, with a finish reason and a final usage chunk."""
    messages: Any = [{"role": "user", "content": [{"type": "text", "text": "stream  this please"}]}]
    plain = sdk.chat.completions.create(model="gpt-4o", messages=messages)
    chunks = list(
        sdk.chat.completions.create(
            model="gpt-4o", messages=messages, stream=True, stream_options={"include_usage": True}
        )
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == plain.choices[0].message.content == "sim heard: stream  this please"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage == plain.usage


async def test_stream_is_server_sent_events_ending_with_done(simulator: SimulatorThread) -> None:
    """The stream has the SSE content type, one data line per event, and ends with [DONE]."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(simulator.url + "/v1/chat/completions", json=STREAM_BODY) as resp,
    ):
        assert resp.headers["Content-Type"] == "text/event-stream"
        body = await resp.read()
    events = body.split(b"\n\n")
    assert events[-2:] == [b"data: [DONE]", b""]
    assert all(e.startswith(b"data: ") for e in events[:-1])
    assert len(events) == 1 + 1 + 4 + 1 + 1  # role, 4 words, finish, [DONE], trailing empty


def test_embeddings_through_the_sdk(sdk: openai.OpenAI) -> None:
    """The SDK (which asks for base64) gets deterministic unit vectors, one per input."""
    first = sdk.embeddings.create(model="text-embedding-3-small", input=["alpha", "beta"])
    again = sdk.embeddings.create(model="text-embedding-3-small", input="alpha")
    assert len(first.data) == 2 and len(first.data[0].embedding) == 8
    assert first.data[0].embedding == again.data[0].embedding
    assert sum(v * v for v in first.data[1].embedding) == pytest.approx(1.0, rel=1e-5)
    assert first.usage.prompt_tokens == 2
    wide = sdk.embeddings.create(model="text-embedding-3-small", input="alpha", dimensions=64)
    assert len(wide.data[0].embedding) == 64


def test_models_through_the_sdk(sdk: openai.OpenAI) -> None:
    """The model list has a few fixed ids."""
    ids = [m.id for m in sdk.models.list()]
    assert "gpt-4o" in ids and "text-embedding-3-small" in ids


def test_api_key_is_required_when_configured() -> None:
    """With an api_key, a missing or wrong bearer gets a 401 in OpenAI's shape; the right one passes."""
    with SimulatorThread("keyed", api_key="s3cret") as sim:
        with client(sim) as wrong, pytest.raises(openai.AuthenticationError) as caught:
            wrong.models.list()
        assert caught.value.code == "invalid_api_key"
        with client(sim, api_key="s3cret") as right:
            assert right.models.list().data
        received = sim.stats()["received"]
        assert [r["authorization_present"] for r in received] == [True, True]
        assert sim.stats()["by_status"] == {"200": 1, "401": 1}


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (b"{not json", None),
        ({"model": "gpt-4o"}, "messages"),
        ({"model": "gpt-4o", "messages": []}, "messages"),
        ({"model": "gpt-4o", "messages": "hello"}, "messages"),
    ],
)
async def test_bad_chat_bodies_get_a_400_in_openai_shape(
    simulator: SimulatorThread, body: Any, param: str | None
) -> None:
    """Malformed JSON and missing, empty or non-list messages are refused with a 400 error object."""
    status, _, raw = await post(simulator, "/v1/chat/completions", body)
    error = orjson.loads(raw)["error"]
    assert status == 400
    assert error["type"] == "invalid_request_error" and error["param"] == param and error["message"]


async def test_unknown_path_and_wrong_method_get_openai_errors(simulator: SimulatorThread) -> None:
    """An unknown path is a 404 and a known path with the wrong method a 405, both in OpenAI's shape."""
    status, _, raw = await post(simulator, "/v1/nothing", {})
    assert status == 404 and orjson.loads(raw)["error"]["code"] == "unknown_url"
    async with aiohttp.ClientSession() as session, session.get(simulator.url + "/v1/chat/completions") as resp:
        assert resp.status == 405 and (await resp.json())["error"]["type"] == "invalid_request_error"


# --- Admin API -------------------------------------------------------------------------------------


def test_admin_lists_replaces_and_clears_faults(simulator: SimulatorThread) -> None:
    """POST replaces the set, GET lists it, DELETE clears it."""
    listed = simulator.set_faults(Fault(FaultKind.STATUS, status=502), {"kind": "latency", "ms": 5})
    assert [f["kind"] for f in listed] == ["status", "latency"]
    assert simulator.set_faults({"kind": "malformed", "count": 2}) == [
        {"kind": "malformed", "count": 2, "remaining": 2}
    ]
    assert simulator.faults() == [{"kind": "malformed", "count": 2, "remaining": 2}]
    simulator.clear_faults()
    assert simulator.faults() == []


def test_admin_refuses_an_invalid_fault_naming_the_field(simulator: SimulatorThread) -> None:
    """A bad fault is a 400 whose message names the field, and the active set is unchanged."""
    simulator.set_faults({"kind": "status"})
    request = urllib.request.Request(simulator.url + "/_faults", method="POST", data=b'[{"kind": "latency", "ms": -3}]')
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=5)
    with caught.value as error:
        assert error.code == 400
        assert "'ms'" in orjson.loads(error.read())["error"]["message"]
    assert simulator.faults() == [{"kind": "status", "status": 500}]
    with pytest.raises(ValueError, match="'bytes'"):
        simulator.set_faults({"kind": "limit_data"})


async def test_admin_routes_are_never_faulted_or_counted(simulator: SimulatorThread) -> None:
    """With every API request hanging, health, stats and faults still answer and count nothing."""
    simulator.set_faults({"kind": "hang"})
    async with aiohttp.ClientSession() as session:
        for path in ("/_health", "/_stats", "/_faults"):
            async with session.get(simulator.url + path) as resp:
                assert resp.status == 200
        async with session.get(simulator.url + "/_health") as resp:
            assert await resp.json() == {"status": "ok"}
    assert simulator.stats()["requests"] == 0


def test_stats_record_what_was_received(simulator: SimulatorThread, sdk: openai.OpenAI) -> None:
    """Stats count requests by path and status and keep the parsed bodies of recent requests."""
    sdk.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
    list(sdk.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "y"}], stream=True))
    sdk.models.list()
    stats = simulator.stats()
    assert stats["name"] == "sim" and stats["requests"] == 3
    assert stats["by_path"] == {"/v1/chat/completions": 2, "/v1/models": 1}
    assert stats["by_status"] == {"200": 3}
    first, second, third = stats["received"]
    assert (first["model"], first["stream"], second["model"], second["stream"]) == (
        "gpt-4o",
        False,
        "gpt-4o-mini",
        True,
    )
    assert second["body"]["messages"] == [{"role": "user", "content": "y"}]
    assert third["path"] == "/v1/models" and third["body"] is None
    assert first["authorization_present"] and abs(first["t"] - time.time()) < 60
    simulator.reset_stats()
    assert simulator.stats()["requests"] == 0 and simulator.stats()["received"] == []


# --- Faults ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 529])
def test_status_fault_answers_that_status_in_openai_shape(
    simulator: SimulatorThread, sdk: openai.OpenAI, status: int
) -> None:
    """A status fault returns that status with an OpenAI error body, and counts it."""
    simulator.set_faults({"kind": "status", "status": status})
    with pytest.raises(openai.APIStatusError) as caught:
        sdk.chat.completions.create(**CHAT_BODY)
    assert caught.value.status_code == status
    assert caught.value.body["type"] == "server_error"  # type: ignore[index]
    stats = simulator.stats()
    assert stats["by_status"] == {str(status): 1} and stats["faults_applied"] == {"status": 1}


async def test_rate_limit_fault_sends_429_with_retry_after(simulator: SimulatorThread) -> None:
    """A rate_limit fault answers 429 with Retry-After in seconds and retry-after-ms."""
    simulator.set_faults({"kind": "rate_limit", "retry_after": 2})
    status, headers, raw = await post(simulator, "/v1/chat/completions", CHAT_BODY)
    assert status == 429
    assert (headers["Retry-After"], headers["retry-after-ms"]) == ("2", "2000")
    assert orjson.loads(raw)["error"]["code"] == "rate_limit_exceeded"


async def test_latency_fault_delays_then_answers(simulator: SimulatorThread) -> None:
    """A latency fault delays the answer by its ms, then answers normally; it composes with status."""
    simulator.set_faults({"kind": "latency", "ms": 150})
    started = time.monotonic()
    status, _, _ = await post(simulator, "/v1/chat/completions", CHAT_BODY)
    assert status == 200 and time.monotonic() - started >= 0.15
    simulator.set_faults({"kind": "latency", "ms": 100}, {"kind": "status", "status": 503})
    started = time.monotonic()
    status, _, _ = await post(simulator, "/v1/chat/completions", CHAT_BODY)
    assert status == 503 and time.monotonic() - started >= 0.1


@pytest.mark.parametrize("kind", ["hang", "blackhole"])
async def test_hang_and_blackhole_never_answer(simulator: SimulatorThread, kind: str) -> None:
    """The request is read and recorded, but no answer comes before the client gives up."""
    simulator.set_faults({"kind": kind})
    with pytest.raises(asyncio.TimeoutError):
        await post(simulator, "/v1/chat/completions", CHAT_BODY, client_timeout=SHORT_TIMEOUT)
    assert simulator.stats()["received"][0]["model"] == "gpt-4o"


async def test_hang_with_seconds_closes_without_an_answer(simulator: SimulatorThread) -> None:
    """After `seconds`, a hung request's connection is closed with no response at all."""
    simulator.set_faults({"kind": "hang", "seconds": 0.2})
    started = time.monotonic()
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await post(simulator, "/v1/chat/completions", CHAT_BODY)
    assert time.monotonic() - started >= 0.2


async def test_stream_cut_stops_after_n_chunks_without_done(simulator: SimulatorThread) -> None:
    """A cut stream delivers exactly N events, never [DONE], and ends in a broken body."""
    simulator.set_faults({"kind": "stream_cut", "after_chunks": 3})
    events = await stream_events(simulator)
    assert events[-1] == b"<cut>" and len(events) == 4
    assert all(orjson.loads(e[6:]) for e in events[:-1])


async def test_stream_cut_cuts_a_plain_answer_mid_body(simulator: SimulatorThread) -> None:
    """A non-streaming answer under stream_cut stops halfway through its declared length."""
    simulator.set_faults({"kind": "stream_cut"})
    with pytest.raises(aiohttp.ClientPayloadError):
        await post(simulator, "/v1/chat/completions", CHAT_BODY)


async def test_chunk_delay_slows_the_stream_but_keeps_it_whole(simulator: SimulatorThread) -> None:
    """Each event after the first waits `ms`, and the stream still ends with [DONE]."""
    simulator.set_faults({"kind": "chunk_delay", "ms": 40})
    started = time.monotonic()
    events = await stream_events(simulator)
    assert events[-1] == b"data: [DONE]\n\n" and len(events) == 7
    assert time.monotonic() - started >= 6 * 0.04


async def test_malformed_fault_breaks_json_in_both_modes(simulator: SimulatorThread) -> None:
    """A plain answer is 200 with invalid JSON; a stream carries one data line that is not JSON."""
    simulator.set_faults({"kind": "malformed"})
    status, _, raw = await post(simulator, "/v1/chat/completions", CHAT_BODY)
    assert status == 200
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(raw)
    events = await stream_events(simulator)
    bad = []
    for event in events[:-1]:
        try:
            orjson.loads(event[6:])
        except orjson.JSONDecodeError:
            bad.append(event)
    assert len(bad) == 1 and events[-1] == b"data: [DONE]\n\n"


def test_reset_peer_resets_the_connection(simulator: SimulatorThread, sdk: openai.OpenAI) -> None:
    """reset_peer aborts with an RST: the client sees a connection reset and no bytes."""
    simulator.set_faults({"kind": "reset_peer"})
    received, error = raw_exchange(simulator, http_post("/v1/chat/completions", orjson.dumps(CHAT_BODY)))
    assert received == b"" and isinstance(error, ConnectionResetError)
    with pytest.raises(openai.APIConnectionError):
        sdk.chat.completions.create(**CHAT_BODY)


async def test_bandwidth_fault_throttles_the_body(simulator: SimulatorThread) -> None:
    """A bandwidth limit stretches the transfer to about size / rate, with the body intact."""
    async with aiohttp.ClientSession() as session:
        async with session.get(simulator.url + "/v1/models") as resp:
            expected = await resp.read()
        simulator.set_faults({"kind": "bandwidth", "bytes_per_second": 2000})
        started = time.monotonic()
        async with session.get(simulator.url + "/v1/models") as resp:
            assert await resp.read() == expected
    assert time.monotonic() - started >= 0.8 * len(expected) / 2000


async def test_slicer_fault_sends_small_delayed_writes(simulator: SimulatorThread) -> None:
    """A slicer writes the body in `size`-byte pieces with `delay_ms` between them."""
    simulator.set_faults({"kind": "slicer", "size": 128, "delay_ms": 30})
    pieces = []
    started = time.monotonic()
    async with aiohttp.ClientSession() as session, session.get(simulator.url + "/v1/models") as resp:
        async for piece in resp.content.iter_any():
            pieces.append(piece)
    body = b"".join(pieces)
    assert orjson.loads(body)["object"] == "list"
    assert len(pieces) >= 2
    assert time.monotonic() - started >= (len(body) // 128) * 0.03


def test_limit_data_closes_after_n_body_bytes(simulator: SimulatorThread) -> None:
    """limit_data sends exactly N bytes of body, then closes the connection."""
    simulator.set_faults({"kind": "limit_data", "bytes": 25})
    received, _ = raw_exchange(simulator, http_post("/v1/chat/completions", orjson.dumps(CHAT_BODY)))
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and len(body) == 25


async def test_limit_data_breaks_a_stream(simulator: SimulatorThread) -> None:
    """A stream under limit_data stops mid-way, without [DONE]."""
    simulator.set_faults({"kind": "limit_data", "bytes": 300})
    events = await stream_events(simulator)
    assert events[-1] == b"<cut>" and b"data: [DONE]\n\n" not in events


async def test_slow_close_delays_the_end_of_the_response(simulator: SimulatorThread) -> None:
    """slow_close holds the end of the body for `ms`, then closes the connection."""
    simulator.set_faults({"kind": "slow_close", "ms": 200})
    started = time.monotonic()
    status, headers, raw = await post(simulator, "/v1/chat/completions", CHAT_BODY)
    assert status == 200 and orjson.loads(raw)["object"] == "chat.completion"
    assert headers["Connection"].lower() == "close" and time.monotonic() - started >= 0.2


def test_probability_with_a_seed_gives_a_deterministic_count(simulator: SimulatorThread, sdk: openai.OpenAI) -> None:
    """With seed 42 and probability 0.3, exactly the requests random.Random(42) picks fail."""
    rng = random.Random(42)
    expected = [rng.random() < 0.3 for _ in range(100)]
    for _ in range(2):
        simulator.reset_stats()
        simulator.set_faults({"kind": "status", "status": 503, "probability": 0.3}, seed=42)
        outcomes = []
        for _ in range(100):
            try:
                sdk.models.list()
                outcomes.append(False)
            except openai.InternalServerError:
                outcomes.append(True)
        assert outcomes == expected
        assert simulator.stats()["by_status"] == {"200": 64, "503": 36}  # sum(expected) == 36


def test_count_applies_a_fault_n_times(simulator: SimulatorThread, sdk: openai.OpenAI) -> None:
    """A fault with count 3 fails the next three matching requests, then disappears."""
    simulator.set_faults({"kind": "status", "status": 502, "count": 3, "paths": ["/v1/chat/completions"]})
    sdk.models.list()  # another path: not counted against the fault
    outcomes = []
    for _ in range(5):
        try:
            sdk.chat.completions.create(**CHAT_BODY)
            outcomes.append(200)
        except openai.APIStatusError as exc:
            outcomes.append(exc.status_code)
    assert outcomes == [502, 502, 502, 200, 200]
    assert simulator.faults() == []
    assert simulator.stats()["faults_applied"] == {"status": 3}


# --- Running ---------------------------------------------------------------------------------------


@pytest.fixture
def spare() -> Iterator[SimulatorThread]:
    sim = SimulatorThread("spare", faults=[Fault(FaultKind.HANG)])
    yield sim.start()
    sim.stop()


def test_stop_is_prompt_with_a_request_hanging_and_then_refuses(spare: SimulatorThread) -> None:
    """Stopping does not wait for hung requests, and afterwards connections are refused."""
    assert spare.url == f"http://127.0.0.1:{spare.port}" and spare.base_url == spare.url + "/v1"
    with socket.create_connection(("127.0.0.1", spare.port)) as sock:
        sock.sendall(http_post("/v1/chat/completions", orjson.dumps(CHAT_BODY)))
        time.sleep(0.05)
        started = time.monotonic()
        spare.stop()
        assert time.monotonic() - started < 1.0
        assert sock.recv(100) == b""
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", spare.port), timeout=1).close()


def test_simulator_thread_requires_start_before_port() -> None:
    """The port is known only once the socket is bound by start()."""
    with pytest.raises(RuntimeError, match="start"):
        _ = SimulatorThread("idle").port


async def test_run_simulator_serves_until_cancelled() -> None:
    """run_simulator reports its bound port through `ready` and stops cleanly when cancelled."""
    ports: asyncio.Queue[int] = asyncio.Queue()
    task = asyncio.create_task(
        run_simulator(
            "cli", port=0, seed=1, ready=ports.put_nowait, faults=[Fault(FaultKind.STATUS, status=503, count=1)]
        )
    )
    port = await asyncio.wait_for(ports.get(), 5)
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{port}/v1/models") as resp:
            assert resp.status == 503
        async with session.get(f"http://127.0.0.1:{port}/v1/models") as resp:
            assert (await resp.json())["data"][0]["owned_by"] == "cli"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_building_the_app_rejects_an_empty_name() -> None:
    """A simulator needs a name: it appears in every answer."""
    with pytest.raises(ValueError, match="name"):
        build_simulator_app("")
