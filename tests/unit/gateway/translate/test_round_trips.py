"""OpenAI ↔ Anthropic round trips keep what both families express: messages, system, tools, tool calls, usage."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from releve.gateway.translate import (
    anthropic_request_to_openai,
    anthropic_response_to_openai,
    openai_request_to_anthropic,
    openai_response_to_anthropic,
)

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="

texts = st.text(min_size=1, max_size=30)
names = st.from_regex(r"[a-z][a-z0-9_]{0,15}", fullmatch=True)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
arguments = st.dictionaries(st.text(max_size=8), json_values, max_size=4)
parts = st.one_of(
    texts.map(lambda text: {"type": "text", "text": text}),
    st.just({"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}),
    st.just({"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}}),
)
user_content = texts | st.lists(parts, min_size=1, max_size=3)


@st.composite
def conversations(draw: st.DrawFn) -> dict[str, Any]:
    messages: list[dict[str, Any]] = []
    for text in draw(st.lists(texts, max_size=2)):
        messages.append({"role": "system", "content": text})
    tool_names = draw(st.lists(names, min_size=1, max_size=3, unique=True))
    for turn in range(draw(st.integers(min_value=1, max_value=4))):
        for _ in range(draw(st.integers(min_value=1, max_value=2))):
            messages.append({"role": "user", "content": draw(user_content)})
        calls = [
            {
                "id": f"call_{turn}_{index}",
                "type": "function",
                "function": {
                    "name": draw(st.sampled_from(tool_names)),
                    "arguments": orjson.dumps(draw(arguments)).decode(),
                },
            }
            for index in range(draw(st.integers(min_value=0, max_value=2)))
        ]
        reply: dict[str, Any] = {"role": "assistant", "content": draw(texts) if not calls else draw(st.none() | texts)}
        if calls:
            reply["tool_calls"] = calls
        messages.append(reply)
        for call in calls:
            messages.append({"role": "tool", "tool_call_id": call["id"], "content": draw(texts)})
    tools = [
        {
            "type": "function",
            "function": {"name": name, "description": draw(texts), "parameters": {"type": "object", "properties": {}}},
        }
        for name in tool_names
    ]
    return {
        "model": "route",
        "messages": messages,
        "tools": tools,
        "max_tokens": draw(st.integers(1, 8192)),
        "tool_choice": draw(
            st.sampled_from(["none", "required", {"type": "function", "function": {"name": tool_names[0]}}])
        ),
    }


def normalised(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What a conversation says, regardless of shape: user turns merged, content as parts, no empty fields."""
    out: list[dict[str, Any]] = []
    for message in messages:
        message = dict(message)
        content = message.get("content")
        if message["role"] == "user":
            message["content"] = [{"type": "text", "text": content}] if isinstance(content, str) else content
            if out and out[-1]["role"] == "user":
                out[-1]["content"] = out[-1]["content"] + message["content"]
                continue
        if message["role"] == "assistant" and not message.get("tool_calls"):
            message.pop("tool_calls", None)
        out.append(message)
    return out


# No deadline: these check what comes out, not how fast, and CI machines are shared.
@settings(deadline=None)
@given(body=conversations())
def test_openai_request_survives_a_trip_through_anthropic(body: dict[str, Any]) -> None:
    """OpenAI → Anthropic → OpenAI keeps every message, the system prompt, tool calls, tool results and tools."""
    anthropic = openai_request_to_anthropic(body, "route")
    roles = [turn["role"] for turn in anthropic["messages"]]
    assert all(first != second for first, second in zip(roles, roles[1:], strict=False)), roles
    back = anthropic_request_to_openai(anthropic)
    assert normalised(back["messages"]) == normalised(body["messages"])
    assert back["tools"] == body["tools"]
    assert back["tool_choice"] == body["tool_choice"]
    assert back["max_tokens"] == body["max_tokens"]


blocks = st.tuples(
    st.none() | texts,
    st.lists(st.tuples(names, arguments), max_size=3),
)


@settings(deadline=None)
@given(
    content=blocks,
    stop_reason=st.sampled_from(["end_turn", "max_tokens", "tool_use"]),
    usage=st.fixed_dictionaries(
        {"input_tokens": st.integers(0, 10**6), "output_tokens": st.integers(0, 10**6)},
        optional={"cache_read_input_tokens": st.integers(1, 10**6)},
    ),
)
def test_anthropic_answer_survives_a_trip_through_openai(
    content: tuple[str | None, list[tuple[str, dict[str, Any]]]], stop_reason: str, usage: dict[str, int]
) -> None:
    """Anthropic → OpenAI → Anthropic keeps the text, each tool_use (id, name, input), stop_reason and usage."""
    text, calls = content
    answer = {
        "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
        "type": "message",
        "role": "assistant",
        "model": "claude",
        "content": ([{"type": "text", "text": text}] if text else [])
        + [
            {"type": "tool_use", "id": f"toolu_{index}", "name": name, "input": args}
            for index, (name, args) in enumerate(calls)
        ],
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": usage,
    }
    back = openai_response_to_anthropic(anthropic_response_to_openai(answer), "claude")
    assert back == answer
