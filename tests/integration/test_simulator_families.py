"""The simulator's other families over real sockets: Anthropic, Gemini and Azure OpenAI, with faults.

Anthropic is driven with the official `anthropic` SDK and Azure with the
openai SDK's `AzureOpenAI`; Gemini, which has no client in the test extras,
with raw HTTP. The last section checks the promise that makes failover
testable: a stream cut on one simulator is finished by another, in any family.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import aiohttp
import anthropic
import openai
import orjson
import pytest

from releve.sim import SimulatorThread

VERSION = {"anthropic-version": "2023-06-01"}
MESSAGES_BODY: dict[str, Any] = {
    "model": "claude-x",
    "max_tokens": 100,
    "messages": [{"role": "user", "content": "hi"}],
}
GEMINI_BODY: dict[str, Any] = {"contents": [{"role": "user", "parts": [{"text": "hello there"}]}]}
GENERATE = "/v1beta/models/gemini-x:generateContent"
STREAM_GENERATE = "/v1beta/models/gemini-x:streamGenerateContent"
AZURE_CHAT = "/openai/deployments/dep-1/chat/completions"
AZURE_VERSION = "2024-10-21"
TOOL: Any = {"name": "lookup", "description": "Look something up.", "input_schema": {"type": "object"}}
GEMINI_TOOLS = [{"functionDeclarations": [{"name": "lookup", "parameters": {"type": "object"}}]}]


async def call(
    sim: SimulatorThread, path: str, body: Any, headers: dict[str, str] | None = None, method: str = "POST"
) -> tuple[int, dict[str, str], bytes]:
    """One raw request; returns status, headers and body bytes."""
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, sim.url + path, data=data, headers=headers) as resp,
    ):
        return resp.status, dict(resp.headers), await resp.read()


async def raw_events(
    sim: SimulatorThread, path: str, body: Any, separator: bytes, headers: dict[str, str] | None = None
) -> list[bytes]:
    """A stream's events split on `separator`, plus b"<cut>" when the body broke off."""
    buffer, tail = b"", []
    async with aiohttp.ClientSession() as session, session.post(sim.url + path, json=body, headers=headers) as resp:
        assert resp.status == 200
        try:
            async for data in resp.content.iter_any():
                buffer += data
        except aiohttp.ClientPayloadError:
            tail.append(b"<cut>")
    return [e for e in buffer.split(separator) if e] + tail


def data_of(event: bytes) -> Any:
    """The JSON of an event's `data:` line."""
    line = next(x for x in event.split(b"\n") if x.startswith(b"data: "))
    return orjson.loads(line[6:])


def gemini_text(response: dict[str, Any]) -> str:
    return "".join(p.get("text", "") for p in response["candidates"][0]["content"]["parts"])


@pytest.fixture
def claude(simulator: SimulatorThread) -> Iterator[anthropic.Anthropic]:
    """An Anthropic SDK client without retries for the session simulator, closed after the test."""
    with anthropic.Anthropic(base_url=simulator.url, api_key="k", max_retries=0) as client:
        yield client


@pytest.fixture
def azure(simulator: SimulatorThread) -> Iterator[openai.AzureOpenAI]:
    """An AzureOpenAI client without retries for the session simulator, closed after the test."""
    with openai.AzureOpenAI(
        azure_endpoint=simulator.url, api_key="k", api_version=AZURE_VERSION, max_retries=0
    ) as client:
        yield client


# --- Anthropic Messages API through the official SDK --------------------------------------------


def test_anthropic_sdk_gets_a_deterministic_message(claude: anthropic.Anthropic) -> None:
    """The SDK parses the message: one text block, end_turn, usage, a msg_ id and the request's model."""
    message = claude.messages.create(
        model="claude-x", max_tokens=100, system="be brief", messages=[{"role": "user", "content": "ping me"}]
    )
    assert [b.type for b in message.content] == ["text"]
    assert message.content[0].text == "sim heard: ping me"  # type: ignore[union-attr]
    assert (message.stop_reason, message.model) == ("end_turn", "claude-x")
    assert message.id.startswith("msg_") and (message.usage.input_tokens, message.usage.output_tokens) == (4, 4)


def test_anthropic_sdk_stream_reproduces_the_plain_text(claude: anthropic.Anthropic) -> None:
    """The SDK's streaming helper assembles the same text and stop reason as the plain call."""
    kwargs: dict[str, Any] = {"model": "claude-x", "max_tokens": 3, "messages": [{"role": "user", "content": "a b c"}]}
    plain = claude.messages.create(**kwargs)
    with claude.messages.stream(**kwargs) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == plain.content[0].text == "sim heard: a"
    assert final.stop_reason == plain.stop_reason == "max_tokens" and final.usage.output_tokens == 3


def test_anthropic_sdk_tool_use_then_tool_result(claude: anthropic.Anthropic) -> None:
    """Tools get a toolu_sim_1 call, plain and streamed; sending its result back gets 'sim got: ...'."""
    messages: list[Any] = [{"role": "user", "content": "weather in paris"}]
    call = claude.messages.create(model="claude-x", max_tokens=100, messages=messages, tools=[TOOL])
    with claude.messages.stream(model="claude-x", max_tokens=100, messages=messages, tools=[TOOL]) as stream:
        streamed = stream.get_final_message()
    for message in (call, streamed):
        (block,) = message.content
        assert block.type == "tool_use" and message.stop_reason == "tool_use"
        assert (block.id, block.name, block.input) == ("toolu_sim_1", "lookup", {"query": "weather in paris"})
    messages += [
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in call.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_sim_1", "content": "sunny, 21"}]},
    ]
    result = claude.messages.create(model="claude-x", max_tokens=100, messages=messages, tools=[TOOL])
    assert result.content[0].text == "sim got: sunny, 21" and result.stop_reason == "end_turn"  # type: ignore[union-attr]


def test_anthropic_sdk_errors_have_anthropics_shape() -> None:
    """A wrong key is an AuthenticationError whose body is {"type": "error", "error": {...}}."""
    with SimulatorThread("keyed", api_key="s3cret") as sim:
        with anthropic.Anthropic(base_url=sim.url, api_key="wrong", max_retries=0) as client:
            with pytest.raises(anthropic.AuthenticationError) as caught:
                client.messages.create(**MESSAGES_BODY)
        assert caught.value.body == {
            "type": "error",
            "error": {"type": "authentication_error", "message": "invalid x-api-key"},
        }
        with anthropic.Anthropic(base_url=sim.url, api_key="s3cret", max_retries=0) as client:
            assert client.messages.create(**MESSAGES_BODY).content[0].text == "keyed heard: hi"


async def test_anthropic_key_header_and_version_are_checked() -> None:
    """x-api-key is checked when the simulator has a key, and a missing anthropic-version is a 400."""
    with SimulatorThread("keyed", api_key="s3cret") as sim:
        status, _, raw = await call(sim, "/v1/messages", MESSAGES_BODY, {**VERSION, "x-api-key": "s3cret"})
        assert status == 200 and orjson.loads(raw)["type"] == "message"
        status, _, raw = await call(sim, "/v1/messages", MESSAGES_BODY, VERSION)
        assert status == 401 and orjson.loads(raw)["error"]["message"] == "x-api-key header is required"
        status, _, raw = await call(sim, "/v1/messages", MESSAGES_BODY, {"x-api-key": "s3cret"})
        assert (status, orjson.loads(raw)) == (
            400,
            {
                "type": "error",
                "error": {"type": "invalid_request_error", "message": "anthropic-version: header is required"},
            },
        )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"model": "claude-x", "messages": [{"role": "user", "content": "x"}]}, "max_tokens: Field required"),
        (b"{nope", "not valid JSON"),
        (
            {**MESSAGES_BODY, "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a "}]},
            "trailing",
        ),
    ],
)
async def test_anthropic_bad_bodies_get_invalid_request_error(
    simulator: SimulatorThread, body: Any, message: str
) -> None:
    """Missing max_tokens, invalid JSON and a prefill ending in whitespace are 400 invalid_request_error."""
    status, _, raw = await call(simulator, "/v1/messages", body, VERSION)
    error = orjson.loads(raw)
    assert status == 400 and error["type"] == "error"
    assert error["error"]["type"] == "invalid_request_error" and message in error["error"]["message"]


@pytest.mark.parametrize(
    ("status", "exception", "kind"),
    [
        (529, anthropic.OverloadedError, "overloaded_error"),
        (500, anthropic.InternalServerError, "api_error"),
        (503, anthropic.InternalServerError, "api_error"),
    ],
)
def test_anthropic_status_fault_uses_anthropics_error_shape(
    simulator: SimulatorThread,
    claude: anthropic.Anthropic,
    status: int,
    exception: type[anthropic.APIStatusError],
    kind: str,
) -> None:
    """A status fault on /v1/messages answers that status with {"type": "error"} of the matching type."""
    simulator.set_faults({"kind": "status", "status": status, "paths": ["/v1/messages"]})
    with pytest.raises(exception) as caught:
        claude.messages.create(**MESSAGES_BODY)
    assert caught.value.status_code == status
    assert caught.value.body["error"]["type"] == kind  # type: ignore[index]


def test_anthropic_rate_limit_fault_sends_retry_after(simulator: SimulatorThread, claude: anthropic.Anthropic) -> None:
    """rate_limit gives the SDK a RateLimitError with Retry-After and a rate_limit_error body."""
    simulator.set_faults({"kind": "rate_limit", "retry_after": 3})
    with pytest.raises(anthropic.RateLimitError) as caught:
        claude.messages.create(**MESSAGES_BODY)
    assert caught.value.response.headers["retry-after"] == "3"
    assert caught.value.body["error"]["type"] == "rate_limit_error"  # type: ignore[index]


async def test_anthropic_stream_cut_stops_after_n_events_without_message_stop(simulator: SimulatorThread) -> None:
    """A cut Anthropic stream delivers exactly N events, never message_stop, then breaks."""
    simulator.set_faults({"kind": "stream_cut", "after_chunks": 4})
    events = await raw_events(simulator, "/v1/messages", {**MESSAGES_BODY, "stream": True}, b"\n\n", VERSION)
    assert events[-1] == b"<cut>" and len(events) == 5
    assert [data_of(e)["type"] for e in events[:-1]] == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
    ]
    assert all(e.startswith(b"event: ") for e in events[:-1])


async def test_anthropic_malformed_fault_breaks_json_in_both_modes(simulator: SimulatorThread) -> None:
    """malformed: a plain message is not JSON; a stream carries one data line that is not JSON."""
    simulator.set_faults({"kind": "malformed"})
    status, _, raw = await call(simulator, "/v1/messages", MESSAGES_BODY, VERSION)
    assert status == 200
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(raw)
    events = await raw_events(simulator, "/v1/messages", {**MESSAGES_BODY, "stream": True}, b"\n\n", VERSION)
    bad = []
    for event in events:
        try:
            data_of(event)
        except orjson.JSONDecodeError:
            bad.append(event)
    assert len(bad) == 1 and bad[0].startswith(b"event: content_block_delta\ndata: ")
    assert data_of(events[-1])["type"] == "message_stop"


# --- Gemini -------------------------------------------------------------------------------------


async def test_gemini_generate_content_answers_with_a_candidate(simulator: SimulatorThread) -> None:
    """generateContent answers one model candidate with STOP, usage and the URL's model."""
    status, headers, raw = await call(simulator, GENERATE, GEMINI_BODY, {"x-goog-api-key": "k"})
    response = orjson.loads(raw)
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    assert gemini_text(response) == "sim heard: hello there"
    assert response["candidates"][0]["finishReason"] == "STOP" and response["modelVersion"] == "gemini-x"
    assert response["usageMetadata"] == {"promptTokenCount": 2, "candidatesTokenCount": 4, "totalTokenCount": 6}


async def test_gemini_sse_stream_reproduces_the_plain_text(simulator: SimulatorThread) -> None:
    """With alt=sse, data events (CRLF-separated, no [DONE]) join to the plain text; the last has STOP."""
    events = await raw_events(simulator, STREAM_GENERATE + "?alt=sse", GEMINI_BODY, b"\r\n\r\n")
    chunks = [data_of(e) for e in events]
    assert "".join(gemini_text(c) for c in chunks) == "sim heard: hello there"
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"
    assert chunks[-1]["usageMetadata"]["candidatesTokenCount"] == 4
    assert all(e.startswith(b"data: ") for e in events)


async def test_gemini_stream_without_alt_is_a_json_array(simulator: SimulatorThread) -> None:
    """Without alt=sse, streamGenerateContent sends one JSON array of responses."""
    status, headers, raw = await call(simulator, STREAM_GENERATE, GEMINI_BODY)
    chunks = orjson.loads(raw)
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    assert "".join(gemini_text(c) for c in chunks) == "sim heard: hello there"


async def test_gemini_function_call_then_function_response(simulator: SimulatorThread) -> None:
    """Declared functions get a functionCall part; a functionResponse sent back gets 'sim got: ...'."""
    body: dict[str, Any] = {**GEMINI_BODY, "tools": GEMINI_TOOLS}
    _, _, raw = await call(simulator, GENERATE, body)
    (part,) = orjson.loads(raw)["candidates"][0]["content"]["parts"]
    assert part == {"functionCall": {"name": "lookup", "args": {"query": "hello there"}}}
    events = await raw_events(simulator, STREAM_GENERATE + "?alt=sse", body, b"\r\n\r\n")
    assert [data_of(e)["candidates"][0]["content"]["parts"] for e in events] == [[part]]
    body["contents"] = [
        *GEMINI_BODY["contents"],
        {"role": "model", "parts": [part]},
        {"role": "user", "parts": [{"functionResponse": {"name": "lookup", "response": {"temp": 21}}}]},
    ]
    _, _, raw = await call(simulator, GENERATE, body)
    assert gemini_text(orjson.loads(raw)) == 'sim got: {"temp":21}'


async def test_gemini_key_is_read_from_header_or_query() -> None:
    """x-goog-api-key or ?key= passes; no key is 403 PERMISSION_DENIED, a wrong one 400 INVALID_ARGUMENT."""
    with SimulatorThread("keyed", api_key="s3cret") as sim:
        assert (await call(sim, GENERATE, GEMINI_BODY, {"x-goog-api-key": "s3cret"}))[0] == 200
        assert (await call(sim, GENERATE + "?key=s3cret", GEMINI_BODY))[0] == 200
        status, _, raw = await call(sim, GENERATE, GEMINI_BODY)
        assert (status, orjson.loads(raw)["error"]["status"]) == (403, "PERMISSION_DENIED")
        status, _, raw = await call(sim, GENERATE + "?key=nope", GEMINI_BODY)
        error = orjson.loads(raw)["error"]
        assert (status, error["code"], error["status"]) == (400, 400, "INVALID_ARGUMENT")
        assert "API key not valid" in error["message"]


async def test_gemini_errors_use_googles_shape(simulator: SimulatorThread) -> None:
    """A body without contents, an unknown method and a wrong HTTP method all answer {"error": {code, status}}."""
    status, _, raw = await call(simulator, GENERATE, {"contents": []})
    assert (status, orjson.loads(raw)["error"]["status"]) == (400, "INVALID_ARGUMENT")
    status, _, raw = await call(simulator, "/v1beta/models/gemini-x:countTokens", GEMINI_BODY)
    assert (status, orjson.loads(raw)["error"]) == (
        404,
        {"code": 404, "message": "Invalid URL (POST /v1beta/models/gemini-x:countTokens)", "status": "NOT_FOUND"},
    )
    status, _, raw = await call(simulator, GENERATE, b"", method="GET")
    assert status == 405 and orjson.loads(raw)["error"]["code"] == 405


@pytest.mark.parametrize(("status", "name"), [(503, "UNAVAILABLE"), (500, "INTERNAL"), (403, "PERMISSION_DENIED")])
async def test_gemini_status_fault_uses_googles_error_shape(simulator: SimulatorThread, status: int, name: str) -> None:
    """A status fault on a Gemini path answers that status with Google's status name."""
    simulator.set_faults({"kind": "status", "status": status})
    got, _, raw = await call(simulator, GENERATE, GEMINI_BODY)
    error = orjson.loads(raw)["error"]
    assert (got, error["code"], error["status"]) == (status, status, name)


async def test_gemini_rate_limit_fault_is_resource_exhausted_with_retry_info(simulator: SimulatorThread) -> None:
    """rate_limit answers 429 RESOURCE_EXHAUSTED, with Retry-After and a RetryInfo detail."""
    simulator.set_faults({"kind": "rate_limit", "retry_after": 2})
    status, headers, raw = await call(simulator, GENERATE, GEMINI_BODY)
    error = orjson.loads(raw)["error"]
    assert (status, headers["Retry-After"], error["status"]) == (429, "2", "RESOURCE_EXHAUSTED")
    assert error["details"][0]["retryDelay"] == "2s"


async def test_gemini_stream_cut_with_a_glob_path_filter(simulator: SimulatorThread) -> None:
    """A stream_cut limited to '/v1beta/models/*:streamGenerateContent' cuts streams after N and spares plain calls."""
    simulator.set_faults({"kind": "stream_cut", "after_chunks": 2, "paths": ["/v1beta/models/*:streamGenerateContent"]})
    assert (await call(simulator, GENERATE, GEMINI_BODY))[0] == 200
    events = await raw_events(simulator, STREAM_GENERATE + "?alt=sse", GEMINI_BODY, b"\r\n\r\n")
    assert events[-1] == b"<cut>" and len(events) == 3
    assert all("finishReason" not in data_of(e)["candidates"][0] for e in events[:-1])
    assert simulator.stats()["faults_applied"] == {"stream_cut": 1}


# --- Azure OpenAI -------------------------------------------------------------------------------


def test_azure_sdk_chat_answers_with_the_deployment_as_model(azure: openai.AzureOpenAI) -> None:
    """AzureOpenAI reaches /openai/deployments/{model}/chat/completions; the answer names the deployment."""
    answer = azure.chat.completions.create(model="dep-1", messages=[{"role": "user", "content": "hi azure"}])
    assert answer.choices[0].message.content == "sim heard: hi azure" and answer.model == "dep-1"
    chunks = list(
        azure.chat.completions.create(model="dep-1", messages=[{"role": "user", "content": "hi"}], stream=True)
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "sim heard: hi"
    assert {c.model for c in chunks} == {"dep-1"}


def test_azure_sdk_tool_calls_and_embeddings(azure: openai.AzureOpenAI) -> None:
    """Azure answers tool calls (streamed arguments too) and embeddings under its deployment paths."""
    tools: Any = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
    messages: Any = [{"role": "user", "content": "find x"}]
    answer = azure.chat.completions.create(model="dep-1", messages=messages, tools=tools)
    (call,) = answer.choices[0].message.tool_calls or []
    assert (call.id, call.function.name, call.function.arguments) == ("call_sim_1", "lookup", '{"query":"find x"}')  # type: ignore[union-attr]
    chunks = list(azure.chat.completions.create(model="dep-1", messages=messages, tools=tools, stream=True))
    deltas = [c.choices[0].delta.tool_calls for c in chunks if c.choices and c.choices[0].delta.tool_calls]
    pieces = [d[0].function.arguments if d and d[0].function else None for d in deltas]
    assert len(pieces) >= 3 and "".join(p or "" for p in pieces) == '{"query":"find x"}'
    embedded = azure.embeddings.create(model="emb-dep", input="alpha")
    assert embedded.model == "emb-dep" and len(embedded.data[0].embedding) == 8


async def test_azure_requires_api_version_and_checks_api_key() -> None:
    """No api-version is a 400; the key is read from `api-key` (a wrong one is 401) or a bearer token."""
    body = {"messages": [{"role": "user", "content": "x"}]}
    with SimulatorThread("keyed", api_key="s3cret") as sim:
        status, _, raw = await call(sim, AZURE_CHAT, body, {"api-key": "s3cret"})
        assert (status, orjson.loads(raw)["error"]["code"]) == (400, "MissingApiVersionParameter")
        query = f"?api-version={AZURE_VERSION}"
        assert (await call(sim, AZURE_CHAT + query, body, {"api-key": "s3cret"}))[0] == 200
        assert (await call(sim, AZURE_CHAT + query, body, {"Authorization": "Bearer s3cret"}))[0] == 200
        with openai.AzureOpenAI(
            azure_endpoint=sim.url, api_key="nope", api_version=AZURE_VERSION, max_retries=0
        ) as client:
            with pytest.raises(openai.AuthenticationError) as caught:
                client.chat.completions.create(model="dep-1", messages=body["messages"])  # type: ignore[arg-type]
        assert caught.value.code == "401"


def test_azure_status_fault_uses_openais_error_shape(simulator: SimulatorThread, azure: openai.AzureOpenAI) -> None:
    """A status fault on an Azure path answers with OpenAI's error object, as Azure does."""
    simulator.set_faults({"kind": "status", "status": 502, "paths": ["/openai/deployments/*"]})
    with pytest.raises(openai.APIStatusError) as caught:
        azure.chat.completions.create(model="dep-1", messages=[{"role": "user", "content": "x"}])
    assert caught.value.status_code == 502 and caught.value.body["type"] == "server_error"  # type: ignore[index]


async def test_azure_stream_cut_stops_after_n_chunks(simulator: SimulatorThread) -> None:
    """A cut Azure stream delivers exactly N chunks and never [DONE]."""
    simulator.set_faults({"kind": "stream_cut", "after_chunks": 2})
    body = {"messages": [{"role": "user", "content": "x y"}], "stream": True}
    events = await raw_events(simulator, f"{AZURE_CHAT}?api-version={AZURE_VERSION}", body, b"\n\n")
    assert events[-1] == b"<cut>" and len(events) == 3 and b"data: [DONE]" not in events


# --- Every family: stats, and finishing another simulator's broken stream -----------------------


async def test_stats_record_family_model_and_stream_per_path(simulator: SimulatorThread) -> None:
    """Each received entry names its family, the model (from the URL where the URL has it) and streaming."""
    await call(simulator, "/v1/messages", {**MESSAGES_BODY, "stream": True}, VERSION)
    await call(simulator, STREAM_GENERATE + "?alt=sse", GEMINI_BODY)
    await call(simulator, f"{AZURE_CHAT}?api-version={AZURE_VERSION}", {"messages": [{"role": "user", "content": "x"}]})
    await call(simulator, "/v1/chat/completions", {"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]})
    stats = simulator.stats()
    seen = [(r["family"], r["path"], r["model"], r["stream"]) for r in stats["received"]]
    assert seen == [
        ("anthropic", "/v1/messages", "claude-x", True),
        ("gemini", STREAM_GENERATE, "gemini-x", True),
        ("azure", AZURE_CHAT, "dep-1", False),
        ("openai", "/v1/chat/completions", "gpt-4o", False),
    ]
    assert stats["received"][1]["body"] == GEMINI_BODY
    assert stats["in_flight"] == 0 and stats["by_status"] == {"200": 4}


async def test_unknown_paths_answer_in_the_family_shape_their_prefix_implies(simulator: SimulatorThread) -> None:
    """404s and 405s use Anthropic's shape under /v1/messages and OpenAI's under /openai/."""
    status, _, raw = await call(simulator, "/v1/messages", b"", method="GET")
    assert status == 405 and orjson.loads(raw)["type"] == "error"
    status, _, raw = await call(simulator, "/v1/messages/batches", MESSAGES_BODY)
    assert status == 404 and orjson.loads(raw)["error"]["type"] == "not_found_error"
    status, _, raw = await call(simulator, "/openai/deployments/d/completions", {})
    assert status == 404 and orjson.loads(raw)["error"]["code"] == "unknown_url"


@pytest.fixture(scope="module")
def primary() -> Iterator[SimulatorThread]:
    """A second simulator, 'primary', whose streams get cut so that 'sim' can finish them."""
    with SimulatorThread("primary") as sim:
        yield sim


def continuation(family: str, user: str, prefix: str) -> tuple[str, dict[str, Any], dict[str, str]]:
    """The path, body and headers that resend `user` with `prefix` as the last assistant turn, in `family`."""
    if family == "anthropic":
        body = {
            "model": "claude-x",
            "max_tokens": 100,
            "messages": [{"role": "user", "content": user}, {"role": "assistant", "content": prefix}],
        }
        return "/v1/messages", body, VERSION
    if family == "gemini":
        contents = [{"role": "user", "parts": [{"text": user}]}, {"role": "model", "parts": [{"text": prefix}]}]
        return GENERATE, {"contents": contents}, {}
    messages = [{"role": "user", "content": user}, {"role": "assistant", "content": prefix}]
    if family == "azure":
        return f"{AZURE_CHAT}?api-version={AZURE_VERSION}", {"messages": messages}, {}
    return "/v1/chat/completions", {"model": "gpt-4o", "messages": messages}, {}


def answer_text(family: str, raw: bytes) -> str:
    body = orjson.loads(raw)
    if family == "anthropic":
        return "".join(block["text"] for block in body["content"])
    if family == "gemini":
        return gemini_text(body)
    text: str = body["choices"][0]["message"]["content"]
    return text


@pytest.mark.parametrize("family", ["openai", "anthropic", "gemini", "azure"])
async def test_a_cut_stream_is_finished_by_another_simulator(
    primary: SimulatorThread, simulator: SimulatorThread, family: str
) -> None:
    """Primary streams 'primary heard: one two' then breaks; 'sim', given that prefix, returns ' three four five'."""
    user = "one two three four five"
    primary.set_faults({"kind": "stream_cut", "after_chunks": 5})
    try:
        body = {"model": "gpt-4o", "messages": [{"role": "user", "content": user}], "stream": True}
        events = await raw_events(primary, "/v1/chat/completions", body, b"\n\n")
    finally:
        primary.clear_faults()
    assert events[-1] == b"<cut>"
    prefix = "".join(data_of(e)["choices"][0]["delta"].get("content") or "" for e in events[:-1])
    assert prefix == "primary heard: one two"
    path, request, headers = continuation(family, user, prefix)
    status, _, raw = await call(simulator, path, request, headers)
    assert status == 200
    rest = answer_text(family, raw)
    assert rest == " three four five"
    assert prefix + rest == "primary heard: one two three four five"


def test_anthropic_sdk_continues_a_prefill_with_max_tokens(claude: anthropic.Anthropic) -> None:
    """Through the SDK, a prefill gets the remaining words, and max_tokens counts only those."""
    messages: Any = [{"role": "user", "content": "one two three"}, {"role": "assistant", "content": "other heard:"}]
    message = claude.messages.create(model="claude-x", max_tokens=2, messages=messages)
    assert message.content[0].text == " one two" and message.stop_reason == "max_tokens"  # type: ignore[union-attr]
