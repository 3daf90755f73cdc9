"""Anthropic Messages bodies and answers, as pure functions with no sockets."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from releve.sim._anthropic import error_body, message, message_events, parse_messages
from releve.sim._requests import ApiError

TOOLS: list[dict[str, Any]] = [{"name": "lookup", "input_schema": {"type": "object"}}, {"name": "other"}]


def body(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "model": "claude-x",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "hi there"}],
    }
    base.update(overrides)
    return base


def answer(**overrides: Any) -> dict[str, Any]:
    result: dict[str, Any] = orjson.loads(message("a", parse_messages(body(**overrides)), 3))
    return result


def events(**overrides: Any) -> list[tuple[str, dict[str, Any]]]:
    """(event name, data) pairs, checking each event's `type` matches its `event:` line."""
    out = []
    for raw in message_events("a", parse_messages(body(**overrides)), 3):
        head, data = raw.decode().removesuffix("\n\n").split("\n")
        name = head.removeprefix("event: ")
        decoded = orjson.loads(data.removeprefix("data: "))
        assert decoded["type"] == name
        out.append((name, decoded))
    return out


def test_message_has_anthropics_exact_shape() -> None:
    """A plain answer is a message object with one text block, end_turn and usage."""
    assert answer(system=[{"type": "text", "text": "be brief"}]) == {
        "id": "msg_sim_3",
        "type": "message",
        "role": "assistant",
        "model": "claude-x",
        "content": [{"type": "text", "text": "a heard: hi there"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 4, "output_tokens": 4},
    }


def test_max_tokens_and_stop_sequences_set_the_stop_reason() -> None:
    """Truncation reports max_tokens; a matched stop sequence reports stop_sequence and names it."""
    truncated = answer(max_tokens=2)
    assert (truncated["content"][0]["text"], truncated["stop_reason"]) == ("a heard:", "max_tokens")
    stopped = answer(stop_sequences=[" there"])
    assert (stopped["content"][0]["text"], stopped["stop_reason"], stopped["stop_sequence"]) == (
        "a heard: hi",
        "stop_sequence",
        " there",
    )


def test_stream_follows_anthropics_event_sequence() -> None:
    """message_start, content_block_start, ping, one text_delta per word, block stop, message_delta, message_stop."""
    stream = events()
    names = [name for name, _ in stream]
    assert names == ["message_start", "content_block_start", "ping"] + ["content_block_delta"] * 4 + [
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert stream[0][1]["message"]["id"] == "msg_sim_3" and stream[0][1]["message"]["content"] == []
    assert stream[1][1]["content_block"] == {"type": "text", "text": ""}
    assert "".join(d["delta"]["text"] for n, d in stream if n == "content_block_delta") == "a heard: hi there"
    assert stream[-2][1]["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}
    assert stream[-2][1]["usage"] == {"output_tokens": 4}


def test_tools_get_a_tool_use_block_in_both_modes() -> None:
    """A user turn with tools is answered by a toolu_sim_1 call, streamed as input_json_delta pieces."""
    plain = answer(tools=TOOLS)
    assert plain["content"] == [
        {"type": "tool_use", "id": "toolu_sim_1", "name": "lookup", "input": {"query": "hi there"}}
    ]
    assert plain["stop_reason"] == "tool_use"
    stream = events(tools=TOOLS, tool_choice={"type": "tool", "name": "other"})
    assert stream[1][1]["content_block"] == {"type": "tool_use", "id": "toolu_sim_1", "name": "other", "input": {}}
    pieces = [d["delta"]["partial_json"] for n, d in stream if n == "content_block_delta"]
    assert len(pieces) >= 2 and orjson.loads("".join(pieces)) == {"query": "hi there"}
    assert stream[-2][1]["delta"]["stop_reason"] == "tool_use"
    assert answer(tools=TOOLS, tool_choice={"type": "none"})["stop_reason"] == "end_turn"


def test_tool_result_blocks_are_answered_with_got() -> None:
    """A user message holding tool_result blocks gets '<name> got: <result>' (JSON compacted)."""
    messages = [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_sim_1", "name": "lookup", "input": {}}]},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_sim_1", "content": [{"type": "text", "text": '{"t": 1}'}]}
            ],
        },
    ]
    result = answer(messages=messages, tools=TOOLS)
    assert result["content"] == [{"type": "text", "text": 'a got: {"t":1}'}]


def test_prefill_is_continued_and_an_exhausted_one_gets_no_block() -> None:
    """A trailing assistant turn gets the remaining words; with none left, content is empty."""
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": "one two"},
        {"role": "assistant", "content": "x heard:"},
    ]
    assert answer(messages=messages)["content"] == [{"type": "text", "text": " one two"}]
    messages[-1] = {"role": "assistant", "content": [{"type": "text", "text": "x heard: one two"}]}
    done = answer(messages=messages)
    assert (done["content"], done["usage"]["output_tokens"]) == ([], 0)
    assert [n for n, _ in events(messages=messages)] == ["message_start", "ping", "message_delta", "message_stop"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"max_tokens": None}, "max_tokens: Field required"),
        ({"model": None}, "model: Field required"),
        ({"messages": []}, "messages: at least one message is required"),
        ({"messages": [{"role": "system", "content": "x"}]}, "messages.0.role"),
        ({"messages": [{"role": "user", "content": 5}]}, "messages.0.content"),
        ({"messages": [{"role": "user", "content": [{"type": "text"}]}]}, "messages.0.content.0.text"),
        ({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a "}]}, "trailing"),
        ({"system": 3}, "system"),
        ({"tools": [{"description": "x"}]}, "tools.0.name"),
        ({"tools": TOOLS, "tool_choice": {"type": "tool", "name": "nope"}}, "tool_choice.name"),
        ({"stop_sequences": "x"}, "stop_sequences"),
        ({"stream": "yes"}, "stream"),
        ({"temperature": 1.5}, "temperature"),
        ({"top_p": "high"}, "top_p"),
    ],
)
def test_invalid_bodies_raise_a_400_naming_the_field(overrides: dict[str, Any], message: str) -> None:
    """What Anthropic refuses raises ApiError 400 with a message that names the field."""
    with pytest.raises(ApiError) as caught:
        parse_messages({k: v for k, v in body(**overrides).items() if v is not None})
    assert caught.value.status == 400 and message in caught.value.message


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (429, "rate_limit_error"),
        (500, "api_error"),
        (502, "api_error"),
        (529, "overloaded_error"),
        (418, "invalid_request_error"),
    ],
)
def test_error_body_is_typed_by_status(status: int, kind: str) -> None:
    """Errors take Anthropic's shape, the type derived from the status (529 is overloaded_error)."""
    assert orjson.loads(error_body(ApiError(status, "m"))) == {"type": "error", "error": {"type": kind, "message": "m"}}
