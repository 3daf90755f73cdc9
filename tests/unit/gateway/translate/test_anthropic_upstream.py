"""Anthropic as an upstream: OpenAI requests out, Messages API answers and streams back in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from releve.errors import Untranslatable
from releve.gateway.translate import (
    AnthropicStreamToOpenAI,
    SSEParser,
    StreamError,
    anthropic_response_to_openai,
    openai_request_to_anthropic,
)

RECORDED = Path(__file__).parent / "recorded"
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]},
    },
}


def test_translates_a_full_tool_conversation() -> None:
    """System, images, tool calls and grouped tool results land where the Messages API documents them."""
    body = {
        "model": "support-assistant",
        "messages": [
            {"role": "system", "content": "You are terse."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Weather in Paris and Lyon? Here is a map."},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}", "detail": "high"}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/map.jpg"}},
                ],
            },
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"location":"Paris"}'},
                    },
                    {
                        "id": "call_2",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"location":"Lyon"}'},
                    },
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "18°C"},
            {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "21°C"}]},
            {"role": "user", "content": "Thanks. Which is warmer?"},
        ],
        "tools": [WEATHER_TOOL],
        "tool_choice": "required",
        "parallel_tool_calls": False,
        "max_completion_tokens": 300,
        "temperature": 0.2,
        "top_p": 0.9,
        "stop": "\n\nHuman:",
        "stream": True,
        "stream_options": {"include_usage": True},
        "user": "user-42",
        "n": 1,
    }
    assert openai_request_to_anthropic(body, "claude-sonnet-4-5") == {
        "model": "claude-sonnet-4-5",
        "system": "You are terse.",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Weather in Paris and Lyon? Here is a map."},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
                    {"type": "image", "source": {"type": "url", "url": "https://example.com/map.jpg"}},
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"location": "Paris"}},
                    {"type": "tool_use", "id": "call_2", "name": "get_weather", "input": {"location": "Lyon"}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "call_1", "content": "18°C"},
                    {"type": "tool_result", "tool_use_id": "call_2", "content": [{"type": "text", "text": "21°C"}]},
                    {"type": "text", "text": "Thanks. Which is warmer?"},
                ],
            },
        ],
        "max_tokens": 300,
        "temperature": 0.2,
        "top_p": 0.9,
        "stop_sequences": ["\n\nHuman:"],
        "stream": True,
        "tools": [
            {
                "name": "get_weather",
                "description": "Current weather for a city.",
                "input_schema": WEATHER_TOOL["function"]["parameters"],
            }
        ],
        "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
        "metadata": {"user_id": "user-42"},
    }


def test_several_system_and_developer_messages_become_text_blocks() -> None:
    """Several system or developer messages become system text blocks, in order."""
    body = {
        "messages": [
            {"role": "system", "content": "Rule one."},
            {"role": "developer", "content": [{"type": "text", "text": "Rule two."}]},
            {"role": "user", "content": "Hi"},
        ]
    }
    out = openai_request_to_anthropic(body, "claude")
    assert out["system"] == [{"type": "text", "text": "Rule one."}, {"type": "text", "text": "Rule two."}]
    assert out["messages"] == [{"role": "user", "content": "Hi"}]


def test_merges_consecutive_turns_of_one_role() -> None:
    """Two user messages in a row become one user turn, since Anthropic requires alternation."""
    body = {"messages": [{"role": "user", "content": "One."}, {"role": "user", "content": "Two."}]}
    assert openai_request_to_anthropic(body, "claude")["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "One."}, {"type": "text", "text": "Two."}]}
    ]


def test_defaults_max_tokens_and_omits_auto_tool_choice() -> None:
    """max_tokens, required by Anthropic, gets the default; tool_choice auto is Anthropic's default too."""
    body = {"messages": [{"role": "user", "content": "Hi"}], "tools": [WEATHER_TOOL], "tool_choice": "auto"}
    out = openai_request_to_anthropic(body, "claude", default_max_tokens=1024)
    assert out["max_tokens"] == 1024
    assert "tool_choice" not in out


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("none", {"type": "none"}),
        ("required", {"type": "any"}),
        ({"type": "function", "function": {"name": "get_weather"}}, {"type": "tool", "name": "get_weather"}),
    ],
)
def test_maps_tool_choice(choice: object, expected: dict[str, str]) -> None:
    """OpenAI's none/required/named function become Anthropic's none/any/tool."""
    body = {"messages": [{"role": "user", "content": "Hi"}], "tools": [WEATHER_TOOL], "tool_choice": choice}
    assert openai_request_to_anthropic(body, "claude")["tool_choice"] == expected


def test_carries_strict_tools_and_empty_arguments() -> None:
    """A strict tool stays strict, and a call with "" arguments becomes an empty input object."""
    tool = {"type": "function", "function": {"name": "now", "strict": True}}
    body = {
        "messages": [
            {"role": "user", "content": "Time?"},
            {
                "role": "assistant",
                "tool_calls": [{"id": "call_9", "type": "function", "function": {"name": "now", "arguments": ""}}],
            },
        ],
        "tools": [tool],
    }
    out = openai_request_to_anthropic(body, "claude")
    assert out["tools"] == [{"name": "now", "input_schema": {"type": "object", "properties": {}}, "strict": True}]
    assert out["messages"][1]["content"][0]["input"] == {}


def test_tool_ids_are_made_safe_for_anthropic_consistently() -> None:
    """Ids with characters Anthropic rejects are rewritten the same way in tool_use and tool_result."""
    body = {
        "messages": [
            {"role": "user", "content": "Go"},
            {
                "role": "assistant",
                "tool_calls": [
                    {"id": "functions.get:0", "type": "function", "function": {"name": "get", "arguments": "{}"}}
                ],
            },
            {"role": "tool", "tool_call_id": "functions.get:0", "content": "ok"},
        ]
    }
    out = openai_request_to_anthropic(body, "claude")
    assert out["messages"][1]["content"][0]["id"] == "functions_get_0"
    assert out["messages"][2]["content"][0]["tool_use_id"] == "functions_get_0"


USER = {"role": "user", "content": "Hi"}


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"n": 2}, "'n'"),
        ({"logprobs": True}, "'logprobs'"),
        ({"top_logprobs": 3}, "'top_logprobs'"),
        ({"response_format": {"type": "json_object"}}, "'response_format'"),
        ({"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {}}}}, "'response_format'"),
        ({"logit_bias": {"50256": -100}}, "'logit_bias'"),
        ({"presence_penalty": 0.5}, "'presence_penalty'"),
        ({"frequency_penalty": -0.2}, "'frequency_penalty'"),
        ({"functions": [{"name": "f", "parameters": {}}]}, "'functions'"),
        ({"function_call": "auto"}, "'function_call'"),
        ({"seed": 7}, "'seed'"),
        ({"reasoning_effort": "high"}, "'reasoning_effort'"),
        ({"modalities": ["text", "audio"]}, "'modalities'"),
        ({"temperature": 1.5}, "'temperature'"),
        ({"some_new_field": True}, "'some_new_field'"),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}],
                    }
                ]
            },
            "messages[0].content[0] is a 'input_audio' part",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "file", "file": {"file_id": "file-1"}}]}]},
            "messages[0].content[0] is a 'file' part",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "image_url", "image_url": {"url": "data:image/bmp;base64,Qk0="}}],
                    }
                ]
            },
            "messages[0].content[0].image_url is image/bmp",
        ),
        ({"messages": [{"role": "user", "content": "Hi", "name": "alice"}]}, "messages[0].name"),
        ({"messages": [{"role": "function", "name": "f", "content": "1"}]}, "messages[0].role 'function'"),
        (
            {
                "messages": [
                    USER,
                    {
                        "role": "assistant",
                        "tool_calls": [
                            {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{not json"}}
                        ],
                    },
                ]
            },
            "messages[1].tool_calls[0].function.arguments is not valid JSON",
        ),
        (
            {
                "messages": [
                    USER,
                    {
                        "role": "assistant",
                        "tool_calls": [
                            {"id": "c", "type": "function", "function": {"name": "f", "arguments": "[1, 2]"}}
                        ],
                    },
                ]
            },
            "messages[1].tool_calls[0].function.arguments must encode a JSON object",
        ),
        ({"messages": [USER, {"role": "assistant", "content": "", "audio": {"id": "audio_1"}}]}, "messages[1].audio"),
        ({"tools": [{"type": "custom", "custom": {"name": "grammar"}}]}, "tools[0] is a 'custom' tool"),
    ],
)
def test_untranslatable_requests_name_the_field(extra: dict[str, Any], named: str) -> None:
    """Each feature Anthropic cannot carry raises Untranslatable with a reason naming the field."""
    body = {"model": "route", "messages": [USER], **extra}
    with pytest.raises(Untranslatable) as caught:
        openai_request_to_anthropic(body, "claude")
    assert named in caught.value.reason


@pytest.mark.parametrize(
    "neutral",
    [
        {"n": 1},
        {"logprobs": False},
        {"presence_penalty": 0},
        {"frequency_penalty": 0.0},
        {"logit_bias": {}},
        {"response_format": {"type": "text"}},
        {"seed": None},
        {"store": True},
        {"metadata": {"team": "a"}},
    ],
)
def test_fields_that_ask_for_nothing_are_accepted(neutral: dict[str, Any]) -> None:
    """Values equal to the default, and OpenAI-only bookkeeping fields, do not block translation."""
    assert openai_request_to_anthropic({"messages": [USER], **neutral}, "claude")["messages"] == [USER]


def test_translates_a_recorded_tool_use_answer() -> None:
    """Text blocks become content, tool_use blocks become tool_calls with compact JSON arguments."""
    data = orjson.loads((RECORDED / "anthropic_response_tool_use.json").read_bytes())
    assert anthropic_response_to_openai(data, created=1764201600) == {
        "id": "chatcmpl-01Aq9w938a90dw8q",
        "object": "chat.completion",
        "created": 1764201600,
        "model": "claude-sonnet-4-5-20250929",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "I'll check the current weather in San Francisco for you.",
                    "tool_calls": [
                        {
                            "id": "toolu_01A09q90qw90lq917835lq9",
                            "type": "function",
                            "function": {
                                "name": "get_weather",
                                "arguments": '{"location":"San Francisco, CA","unit":"fahrenheit"}',
                            },
                        }
                    ],
                },
                "logprobs": None,
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {
            "prompt_tokens": 3119,
            "completion_tokens": 503,
            "total_tokens": 3622,
            "prompt_tokens_details": {"cached_tokens": 1024},
        },
    }


@pytest.mark.parametrize(
    ("stop_reason", "finish_reason"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        ("pause_turn", "stop"),
        ("model_context_window_exceeded", "length"),
        ("a_future_reason", "stop"),
    ],
)
def test_stop_reason_table(stop_reason: str, finish_reason: str) -> None:
    """Each Anthropic stop_reason maps to the documented OpenAI finish_reason, in answers and in streams."""
    data = {
        "id": "msg_1",
        "model": "claude",
        "content": [{"type": "text", "text": "x"}],
        "stop_reason": stop_reason,
        "usage": {"input_tokens": 1, "output_tokens": 1},
    }
    assert anthropic_response_to_openai(data)["choices"][0]["finish_reason"] == finish_reason
    stream = AnthropicStreamToOpenAI()
    chunks = stream.feed("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop_reason}})
    assert chunks[0]["choices"][0]["finish_reason"] == finish_reason


def test_an_answer_with_a_thinking_block_is_untranslatable() -> None:
    """Blocks OpenAI cannot carry are refused, not dropped."""
    data = {"id": "msg_1", "content": [{"type": "thinking", "thinking": "hmm", "signature": "s"}]}
    with pytest.raises(Untranslatable, match=r"content\[0\] is a 'thinking' block"):
        anthropic_response_to_openai(data)


def feed_stream(data: bytes, cuts: list[int], translator: AnthropicStreamToOpenAI) -> list[dict[str, Any]]:
    parser = SSEParser()
    chunks: list[dict[str, Any]] = []
    start = 0
    for cut in [*sorted(cut % (len(data) + 1) for cut in cuts), len(data)]:
        for event in parser.feed(data[start:cut]):
            chunks += translator.feed(event.event or "", orjson.loads(event.data))
        start = cut
    return chunks


def collect(chunks: list[dict[str, Any]]) -> tuple[str, dict[int, list[str]]]:
    """The concatenated text and, per tool-call index, [id, name, arguments]."""
    text = ""
    calls: dict[int, list[str]] = {}
    for item in chunks:
        for choice in item["choices"]:
            delta = choice["delta"]
            text += delta.get("content") or ""
            for call in delta.get("tool_calls") or []:
                entry = calls.setdefault(call["index"], ["", "", ""])
                entry[0] += call.get("id") or ""
                entry[1] += call.get("function", {}).get("name") or ""
                entry[2] += call.get("function", {}).get("arguments") or ""
    return text, calls


# No deadline: these check what comes out, not how fast, and CI machines are shared.
@settings(deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=3000), max_size=30))
def test_any_split_of_a_recorded_stream_gives_the_same_text_and_arguments(cuts: list[int]) -> None:
    """However the bytes are cut, the chunks carry the recorded text and each tool's complete arguments."""
    data = (RECORDED / "anthropic_stream_tool_use.sse").read_bytes()
    chunks = feed_stream(data, cuts, AnthropicStreamToOpenAI())
    text, calls = collect(chunks)
    assert text == "Okay, let me check the weather in Paris for you — un instant."
    assert calls == {
        0: ["toolu_01T1x1fJ34qAmk2tNTrN7Up6", "get_weather", '{"location": "Paris, France", "unit": "celsius"}'],
        1: ["toolu_01UqhJqQ8ZdxA3kJm5sQh2Bv", "get_time", '{"timezone": "Europe/Paris"}'],
    }


def test_stream_chunks_have_openai_shape_and_a_usage_chunk_when_asked() -> None:
    """The first chunk carries the role, the last the finish_reason, then a usage-only chunk if asked."""
    data = (RECORDED / "anthropic_stream_tool_use.sse").read_bytes()
    chunks = feed_stream(data, [], AnthropicStreamToOpenAI(include_usage=True, created=1764201600))
    first, finish, usage = chunks[0], chunks[-2], chunks[-1]
    assert first == {
        "id": "chatcmpl-014p7gG3wDgGV9EUtLvnow3U",
        "object": "chat.completion.chunk",
        "created": 1764201600,
        "model": "claude-sonnet-4-5-20250929",
        "usage": None,
        "choices": [
            {"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": None, "finish_reason": None}
        ],
    }
    assert finish["choices"][0] == {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "tool_calls"}
    assert usage["choices"] == []
    assert usage["usage"] == {"prompt_tokens": 472, "completion_tokens": 89, "total_tokens": 561}
    assert all(item["id"] == first["id"] for item in chunks)


def test_stream_without_include_usage_has_no_usage_fields() -> None:
    """Without include_usage, chunks carry no usage key and no usage chunk is sent, as with OpenAI."""
    data = (RECORDED / "anthropic_stream_tool_use.sse").read_bytes()
    chunks = feed_stream(data, [], AnthropicStreamToOpenAI())
    assert all("usage" not in item for item in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_stream_error_event_raises_stream_error() -> None:
    """Anthropic's in-stream error event becomes a StreamError carrying its message and type."""
    stream = AnthropicStreamToOpenAI()
    with pytest.raises(StreamError) as caught:
        stream.feed("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    assert caught.value.message == "Overloaded"
    assert caught.value.error_type == "overloaded_error"


def test_stream_ignores_pings_and_unknown_events() -> None:
    """ping and event types added later produce no chunks."""
    stream = AnthropicStreamToOpenAI()
    assert stream.feed("ping", {"type": "ping"}) == []
    assert stream.feed("brand_new_event", {"type": "brand_new_event"}) == []


def call(arguments: object = "{}", **fields: Any) -> dict[str, Any]:
    return {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": arguments}, **fields}


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"tool_choice": "required"}, "'tool_choice' asks for a tool but 'tools' is empty"),
        (
            {"tools": [WEATHER_TOOL], "tool_choice": {"type": "allowed_tools"}},
            "'tool_choice' {'type': 'allowed_tools'}",
        ),
        ({"tools": [{"type": "function", "function": "f"}]}, "tools[0].function must be an object"),
        (
            {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": 7}}]}]},
            "messages[0].content[0].image_url.url must be a string",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": "ftp://x/a.png"}]}]},
            "must be a data URL or an http(s) URL",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": "data:image/png,AAAA"}]}]},
            "is a data URL that is not base64",
        ),
        ({"messages": [{"role": "user", "content": 42}]}, "messages[0].content must be a string or an array"),
        (
            {"messages": [{"role": "system", "content": [{"type": "text", "text": 1}]}]},
            "messages[0].content[0].text must be a string",
        ),
        (
            {"messages": [USER, {"role": "assistant", "tool_calls": [{"id": "c", "type": "custom", "custom": {}}]}]},
            "messages[1].tool_calls[0] is not a function call",
        ),
        (
            {"messages": [USER, {"role": "assistant", "tool_calls": [{"id": "c", "type": "function"}]}]},
            "messages[1].tool_calls[0].function must be an object",
        ),
        (
            {"messages": [USER, {"role": "assistant", "tool_calls": [call(id="")]}]},
            "messages[1].tool_calls[0].id must be a non-empty string",
        ),
        (
            {"messages": [USER, {"role": "assistant", "tool_calls": [call(arguments={"a": 1})]}]},
            "messages[1].tool_calls[0].function.arguments must be a JSON string",
        ),
    ],
)
def test_malformed_shapes_name_the_field(extra: dict[str, Any], named: str) -> None:
    """Shapes the edge does not check still fail with a reason naming the field, never a KeyError."""
    with pytest.raises(Untranslatable) as caught:
        openai_request_to_anthropic({"messages": [USER], **extra}, "claude")
    assert named in caught.value.reason


def test_empty_texts_are_left_out_and_refusals_kept() -> None:
    """Empty text parts and tool results carry nothing, while a past refusal stays in the conversation."""
    body = {
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": ""}, {"type": "text", "text": "Go"}]},
            {"role": "assistant", "content": None, "refusal": "I can't.", "tool_calls": [call()]},
            {"role": "tool", "tool_call_id": "call_1", "content": ""},
            {"role": "tool", "tool_call_id": "call_1", "content": [{"type": "text", "text": ""}]},
            {"role": "assistant", "content": ""},
        ]
    }
    assert openai_request_to_anthropic(body, "claude")["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Go"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "I can't."},
                {"type": "tool_use", "id": "call_1", "name": "f", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "call_1"},
                {"type": "tool_result", "tool_use_id": "call_1"},
            ],
        },
    ]


def test_a_parameterless_tool_call_streams_empty_object_arguments() -> None:
    """A tool_use that streams no input JSON still ends with "{}" arguments, which OpenAI clients can parse."""
    stream = AnthropicStreamToOpenAI()
    stream.feed("message_start", {"type": "message_start", "message": {"id": "msg_1", "model": "claude"}})
    started = stream.feed(
        "content_block_start",
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "tool_use", "id": "toolu_1", "name": "now", "input": {}},
        },
    )
    stopped = stream.feed("content_block_stop", {"type": "content_block_stop", "index": 0})
    assert started[0]["choices"][0]["delta"]["tool_calls"][0]["function"] == {"name": "now", "arguments": ""}
    assert stopped[0]["choices"][0]["delta"] == {"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]}


def test_stream_carries_a_tool_input_given_whole_at_block_start() -> None:
    """An input already present at content_block_start is sent as the arguments, with no "{}" added at the stop."""
    stream = AnthropicStreamToOpenAI()
    started = stream.feed(
        "content_block_start",
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"a": 1}},
        },
    )
    assert started[0]["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"] == '{"a":1}'
    assert stream.feed("content_block_stop", {"type": "content_block_stop", "index": 0}) == []


@pytest.mark.parametrize(
    ("event", "data", "named"),
    [
        (
            "content_block_start",
            {"index": 0, "content_block": {"type": "thinking", "thinking": ""}},
            "content block 0 is a 'thinking' block",
        ),
        (
            "content_block_delta",
            {"index": 0, "delta": {"type": "thinking_delta", "thinking": "hm"}},
            "a 'thinking_delta' delta (block 0)",
        ),
        (
            "content_block_delta",
            {"index": 3, "delta": {"type": "input_json_delta", "partial_json": "{"}},
            "content block 3, which is not a tool_use block",
        ),
    ],
)
def test_stream_blocks_openai_cannot_carry_are_untranslatable(event: str, data: dict[str, Any], named: str) -> None:
    """Thinking blocks and deltas for unknown blocks are refused, not dropped."""
    with pytest.raises(Untranslatable) as caught:
        AnthropicStreamToOpenAI().feed(event, {"type": event, **data})
    assert named in caught.value.reason


def test_stream_text_in_a_block_start_and_empty_deltas() -> None:
    """Text already present at block start is sent; empty text and JSON deltas send nothing."""
    stream = AnthropicStreamToOpenAI()
    started = stream.feed(
        "content_block_start",
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": "Hi"}},
    )
    assert started[0]["choices"][0]["delta"] == {"content": "Hi"}
    assert (
        stream.feed(
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": ""}},
        )
        == []
    )
