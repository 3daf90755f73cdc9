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
    answer_pieces,
    chat_chunks,
    chat_completion,
    embedding_vector,
    embeddings,
    error_body,
    malformed,
    models,
)
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
    request = parse_chat(chat(messages=[{"role": "user", "content": content}]))
    assert request.last_user_text == "look at this"
    assert request.prompt_tokens == 3


def test_max_tokens_truncates_to_that_many_words() -> None:
    """max_tokens (or max_completion_tokens) keeps that many words and reports finish_reason length."""
    pieces, reason = answer_pieces("alpha", parse_chat(chat(max_tokens=3)))
    assert ("".join(pieces), reason) == ("alpha heard: hello", "length")
    pieces, reason = answer_pieces("alpha", parse_chat(chat(max_completion_tokens=4, max_tokens=1)))
    assert ("".join(pieces), reason) == ("alpha heard: hello there", "stop")


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
