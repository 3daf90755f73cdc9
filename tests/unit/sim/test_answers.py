"""Answer generation and request validation, as pure functions with no sockets."""

from __future__ import annotations

import base64
import math
import struct
from typing import Any

import orjson
import pytest

from releve.sim._answers import (
    DONE,
    MALFORMED_EVENT,
    chat_chunks,
    chat_completion,
    embedding_vector,
    embeddings,
    error_body,
    malformed,
    models,
)
from releve.sim._conversation import Finish, reply
from releve.sim._requests import UNPARSABLE, ApiError, load_body, parse_chat, parse_embeddings


def chat(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hello there"}]}
    body.update(overrides)
    return body


def events(name: str, body: dict[str, Any]) -> list[bytes]:
    return list(chat_chunks(name, parse_chat(body), 1))


def decode(event: bytes) -> dict[str, Any]:
    assert event.startswith(b"data: ") and event.endswith(b"\n\n")
    result: dict[str, Any] = orjson.loads(event[6:-2])
    return result


def test_completion_echoes_the_last_user_message_with_usage() -> None:
    """The answer is '<name> heard: <last user text>', the model is echoed, tokens are words."""
    body = chat(
        messages=[
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "first question"},
            {"role": "assistant", "content": "an answer"},
            {"role": "user", "content": "second one please"},
        ]
    )
    answer = orjson.loads(chat_completion("alpha", parse_chat(body), 7))
    assert answer["id"] == "chatcmpl-sim-7"
    assert answer["object"] == "chat.completion"
    assert answer["model"] == "gpt-4o"
    assert answer["choices"][0]["message"] == {"role": "assistant", "content": "alpha heard: second one please"}
    assert answer["choices"][0]["finish_reason"] == "stop"
    assert answer["usage"] == {"prompt_tokens": 9, "completion_tokens": 5, "total_tokens": 14}


def test_completion_is_byte_identical_for_the_same_request() -> None:
    """Two runs of the same request give the same bytes, so tests and benchmarks can compare."""
    assert chat_completion("a", parse_chat(chat()), 1) == chat_completion("a", parse_chat(chat()), 1)


def test_content_parts_are_joined_and_non_text_parts_ignored() -> None:
    """A list content contributes the text of its text parts, joined by spaces."""
    content = [
        {"type": "text", "text": "look at"},
        {"type": "image_url", "image_url": {"url": "x"}},
        {"type": "text", "text": "this"},
    ]
    conversation = parse_chat(chat(messages=[{"role": "user", "content": content}])).conversation
    assert conversation.last_user_text == "look at this"
    assert conversation.prompt_tokens == 3


def test_max_tokens_truncates_to_that_many_words() -> None:
    """max_tokens (or max_completion_tokens) keeps that many words and reports finish_reason length."""
    answer = reply("alpha", parse_chat(chat(max_tokens=3)).conversation)
    assert (answer.text, answer.finish) == ("alpha heard: hello", Finish.LENGTH)
    answer = reply("alpha", parse_chat(chat(max_completion_tokens=4, max_tokens=1)).conversation)
    assert (answer.text, answer.finish) == ("alpha heard: hello there", Finish.STOP)


@pytest.mark.parametrize("text", ["", "  spaced   out  ", "tabs\tand\nnewlines\n", "one"])
def test_stream_pieces_concatenate_to_the_exact_answer(text: str) -> None:
    """Each streamed piece keeps its leading whitespace, so joining them reproduces the text exactly."""
    body = chat(messages=[{"role": "user", "content": text}])
    full = orjson.loads(chat_completion("n", parse_chat(body), 1))["choices"][0]["message"]["content"]
    deltas = [decode(e)["choices"][0]["delta"].get("content", "") for e in events("n", body)[:-1]]
    assert "".join(deltas) == full == f"n heard: {text}"


def test_stream_events_have_the_openai_order() -> None:
    """Role first, one chunk per word, then finish, then usage if asked, then [DONE]."""
    stream = events("alpha", chat(stream=True, stream_options={"include_usage": True}))
    assert stream[-1] == DONE
    first, *words, finish, usage = (decode(e) for e in stream[:-1])
    assert first["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert [w["choices"][0]["delta"]["content"] for w in words] == ["alpha", " heard:", " hello", " there"]
    assert finish["choices"][0] == {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}
    assert usage["choices"] == [] and usage["usage"]["completion_tokens"] == 4
    assert {e["object"] for e in (first, finish, usage)} == {"chat.completion.chunk"}


def test_stream_without_include_usage_has_no_usage_chunk() -> None:
    """Usage is streamed only when stream_options.include_usage is true."""
    stream = events("alpha", chat(stream=True))
    assert all("usage" not in decode(e) for e in stream[:-1])


def test_embedding_vectors_are_deterministic_unit_vectors() -> None:
    """Equal texts give equal unit vectors of the requested size; different texts differ."""
    a = embedding_vector("hello", 8)
    assert a == embedding_vector("hello", 8)
    assert a != embedding_vector("hellp", 8)
    assert len(embedding_vector("hello", 100)) == 100
    assert math.isclose(sum(v * v for v in embedding_vector("hello", 100)), 1.0)


def test_embeddings_base64_decodes_to_the_float_vector() -> None:
    """The base64 form is the same vector as little-endian float32."""
    request = parse_embeddings({"model": "m", "input": ["a b", "c"], "encoding_format": "base64"})
    body = orjson.loads(embeddings(request))
    raw = base64.b64decode(body["data"][1]["embedding"])
    assert struct.unpack("<8f", raw) == pytest.approx(embedding_vector("c", 8), rel=1e-6)
    assert body["usage"] == {"prompt_tokens": 3, "total_tokens": 3}
    assert [d["index"] for d in body["data"]] == [0, 1]


def test_models_list_has_the_openai_shape() -> None:
    """GET /v1/models returns a list object of model objects owned by the simulator."""
    body = orjson.loads(models("alpha"))
    assert body["object"] == "list"
    assert {m["object"] for m in body["data"]} == {"model"}
    assert {m["owned_by"] for m in body["data"]} == {"alpha"}


def test_error_body_and_malformed_bodies() -> None:
    """Error bodies use OpenAI's shape; malformed bodies and events never parse as JSON."""
    assert orjson.loads(error_body("m", "t", "c")) == {
        "error": {"message": "m", "type": "t", "param": None, "code": "c"}
    }
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(malformed(chat_completion("a", parse_chat(chat()), 1)))
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(MALFORMED_EVENT[6:])


def test_load_body_distinguishes_empty_and_invalid() -> None:
    """An empty body is None, an invalid one is the UNPARSABLE marker."""
    assert load_body(b"") is None
    assert load_body(b"{") is UNPARSABLE
    assert load_body(b'{"a": 1}') == {"a": 1}


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (UNPARSABLE, None),
        ([1, 2], None),
        (chat(model=None), "model"),
        (chat(messages=None), "messages"),
        (chat(messages=[]), "messages"),
        (chat(messages={"role": "user"}), "messages"),
        (chat(messages=["hi"]), "messages[0]"),
        (chat(messages=[{"role": "user", "content": 5}]), "messages[0].content"),
        (chat(messages=[{"role": "user", "content": ["x"]}]), "messages[0].content"),
        (chat(messages=[{"role": "user", "content": [{"type": "text"}]}]), "messages[0].content"),
        (chat(stream="yes"), "stream"),
        (chat(max_tokens=0), "max_tokens"),
        (chat(max_tokens=True), "max_tokens"),
    ],
)
def test_invalid_chat_requests_raise_a_400_naming_the_param(body: Any, param: str | None) -> None:
    """Bodies OpenAI would reject raise ApiError 400 with the offending param."""
    with pytest.raises(ApiError) as caught:
        parse_chat(body)
    assert (caught.value.status, caught.value.param) == (400, param)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "m"}, "input"),
        ({"model": "m", "input": []}, "input"),
        ({"model": "m", "input": [1, 2]}, "input"),
        ({"model": "m", "input": "x", "dimensions": 0}, "dimensions"),
        ({"model": "m", "input": "x", "encoding_format": "hex"}, "encoding_format"),
        ({"input": "x"}, "model"),
    ],
)
def test_invalid_embeddings_requests_raise_a_400_naming_the_param(body: Any, param: str) -> None:
    """Embeddings bodies OpenAI would reject raise ApiError 400 with the offending param."""
    with pytest.raises(ApiError) as caught:
        parse_embeddings(body)
    assert (caught.value.status, caught.value.param) == (400, param)


TOOLS: list[dict[str, Any]] = [
    {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}},
    {"type": "function", "function": {"name": "other"}},
]


def test_declared_tools_get_one_tool_call_to_the_first() -> None:
    """With tools and a user turn last, the message carries one call_sim_1 call and finish_reason tool_calls."""
    answer = orjson.loads(chat_completion("a", parse_chat(chat(tools=TOOLS)), 1))
    choice = answer["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_sim_1",
                "type": "function",
                "function": {"name": "lookup", "arguments": '{"query":"hello there"}'},
            }
        ],
    }


def test_tool_choice_names_the_tool_or_forbids_calls() -> None:
    """tool_choice picks a named function, and "none" answers in text."""
    named = {"type": "function", "function": {"name": "other"}}
    call = orjson.loads(chat_completion("a", parse_chat(chat(tools=TOOLS, tool_choice=named)), 1))
    assert call["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "other"
    text = orjson.loads(chat_completion("a", parse_chat(chat(tools=TOOLS, tool_choice="none")), 1))
    assert text["choices"][0]["message"]["content"] == "a heard: hello there"


def test_streamed_tool_call_splits_arguments_over_several_chunks() -> None:
    """The first chunk names the call, the arguments follow in two or more pieces, then finish tool_calls."""
    stream = [decode(e) for e in events("a", chat(tools=TOOLS, stream=True))[:-1]]
    first, *pieces, finish = stream
    start = first["choices"][0]["delta"]["tool_calls"][0]
    assert (start["id"], start["function"]) == ("call_sim_1", {"name": "lookup", "arguments": ""})
    arguments = [p["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"] for p in pieces]
    assert len(arguments) >= 2 and orjson.loads("".join(arguments)) == {"query": "hello there"}
    assert finish["choices"][0]["finish_reason"] == "tool_calls"


def test_tool_message_last_is_answered_with_got() -> None:
    """A trailing role "tool" message is answered '<name> got: <content>', even with tools declared."""
    messages = [
        {"role": "user", "content": "weather?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "call_sim_1", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "call_sim_1", "content": '{"temp": 20}'},
    ]
    answer = orjson.loads(chat_completion("a", parse_chat(chat(messages=messages, tools=TOOLS)), 1))
    assert answer["choices"][0]["message"]["content"] == 'a got: {"temp":20}'
    assert answer["choices"][0]["finish_reason"] == "stop"


def test_trailing_assistant_message_is_continued() -> None:
    """An assistant message last gets only the words after its own, in both modes."""
    messages = [{"role": "user", "content": "one two three"}, {"role": "assistant", "content": "other heard: one"}]
    body = chat(messages=messages)
    plain = orjson.loads(chat_completion("sim", parse_chat(body), 1))
    assert plain["choices"][0]["message"]["content"] == " two three"
    deltas = [decode(e)["choices"][0]["delta"].get("content") or "" for e in events("sim", body)[:-1]]
    assert "".join(deltas) == " two three"


def test_stop_strings_end_the_answer_with_finish_stop() -> None:
    """OpenAI's `stop` cuts the text before the match and reports finish_reason stop."""
    answer = orjson.loads(chat_completion("a", parse_chat(chat(stop=[" there"])), 1))
    assert answer["choices"][0]["message"]["content"] == "a heard: hello"
    assert answer["choices"][0]["finish_reason"] == "stop"


@pytest.mark.parametrize(
    ("overrides", "param"),
    [
        ({"tools": "lookup"}, "tools"),
        ({"tools": [{"type": "function", "function": {}}]}, "tools"),
        ({"tools": TOOLS, "tool_choice": {"type": "function", "function": {"name": "nope"}}}, "tool_choice"),
        ({"stop": 3}, "stop"),
    ],
)
def test_invalid_tools_and_stop_raise_a_400_naming_the_param(overrides: dict[str, Any], param: str) -> None:
    """Malformed tools, an undeclared tool_choice and a non-string stop are refused."""
    with pytest.raises(ApiError) as caught:
        parse_chat(chat(**overrides))
    assert (caught.value.status, caught.value.param) == (400, param)


def test_a_model_override_makes_the_body_model_optional() -> None:
    """Azure passes the deployment as the model; the body's model is then not needed."""
    body = chat()
    del body["model"]
    assert parse_chat(body, model="my-deployment").model == "my-deployment"
    assert parse_embeddings({"input": "x"}, model="emb").model == "emb"
