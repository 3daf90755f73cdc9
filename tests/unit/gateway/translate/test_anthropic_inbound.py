"""Relève's inbound Anthropic API: Messages requests in, OpenAI answers and streams shaped back into Anthropic's."""

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
    OpenAIStreamToAnthropic,
    SSEParser,
    StreamError,
    anthropic_error_body,
    anthropic_request_to_openai,
    openai_response_to_anthropic,
)

RECORDED = Path(__file__).parent / "recorded"
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="


def test_translates_a_claude_code_style_request() -> None:
    """System blocks, images, tool_use history and tool results become the matching OpenAI messages."""
    body = {
        "model": "coding-route",
        "max_tokens": 8192,
        "system": [
            {"type": "text", "text": "You are a coding agent.", "cache_control": {"type": "ephemeral"}},
            {"type": "text", "text": "Be brief."},
        ],
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is in this screenshot, and list the files."},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Listing files."},
                    {"type": "tool_use", "id": "toolu_01", "name": "bash", "input": {"command": "ls"}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_01", "content": "a.py\nb.py", "is_error": False},
                    {"type": "text", "text": "Now open a.py", "cache_control": {"type": "ephemeral"}},
                ],
            },
        ],
        "tools": [
            {
                "name": "bash",
                "description": "Run a command.",
                "cache_control": {"type": "ephemeral"},
                "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}},
            }
        ],
        "tool_choice": {"type": "auto", "disable_parallel_tool_use": True},
        "stop_sequences": ["</done>"],
        "temperature": 0.0,
        "stream": True,
        "metadata": {"user_id": "u-1"},
    }
    assert anthropic_request_to_openai(body) == {
        "model": "coding-route",
        "messages": [
            {"role": "system", "content": "You are a coding agent."},
            {"role": "system", "content": "Be brief."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is in this screenshot, and list the files."},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                ],
            },
            {
                "role": "assistant",
                "content": "Listing files.",
                "tool_calls": [
                    {
                        "id": "toolu_01",
                        "type": "function",
                        "function": {"name": "bash", "arguments": '{"command":"ls"}'},
                    },
                ],
            },
            {"role": "tool", "tool_call_id": "toolu_01", "content": "a.py\nb.py"},
            {"role": "user", "content": [{"type": "text", "text": "Now open a.py"}]},
        ],
        "max_tokens": 8192,
        "stop": ["</done>"],
        "temperature": 0.0,
        "stream": True,
        "stream_options": {"include_usage": True},
        "user": "u-1",
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "bash",
                    "description": "Run a command.",
                    "parameters": {"type": "object", "properties": {"command": {"type": "string"}}},
                },
            }
        ],
        "tool_choice": "auto",
        "parallel_tool_calls": False,
    }


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ({"type": "any"}, "required"),
        ({"type": "none"}, "none"),
        ({"type": "tool", "name": "bash"}, {"type": "function", "function": {"name": "bash"}}),
    ],
)
def test_maps_tool_choice_back(choice: dict[str, str], expected: object) -> None:
    """Anthropic's any/none/tool become OpenAI's required/none/named function."""
    body = {
        "model": "r",
        "max_tokens": 5,
        "messages": [{"role": "user", "content": "Hi"}],
        "tool_choice": choice,
        "tools": [{"name": "bash", "input_schema": {"type": "object"}}],
    }
    assert anthropic_request_to_openai(body)["tool_choice"] == expected


def test_image_url_source_and_disabled_thinking_are_accepted() -> None:
    """URL images map to image_url, and an explicitly disabled thinking asks for nothing."""
    body = {
        "model": "r",
        "max_tokens": 5,
        "thinking": {"type": "disabled"},
        "messages": [
            {
                "role": "user",
                "content": [{"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}],
            }
        ],
    }
    assert anthropic_request_to_openai(body)["messages"] == [
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]}
    ]


BASE = {"model": "r", "max_tokens": 10}


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"thinking": {"type": "enabled", "budget_tokens": 2048}}, "'thinking'"),
        ({"top_k": 40}, "'top_k'"),
        ({"mcp_servers": [{"type": "url", "url": "https://mcp.example.com"}]}, "'mcp_servers'"),
        ({"container": "c_1"}, "'container'"),
        ({"some_new_field": 1}, "'some_new_field'"),
        ({"tools": [{"type": "web_search_20250305", "name": "web_search"}]}, "tools[0]"),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "document",
                                "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0x"},
                            }
                        ],
                    }
                ]
            },
            "messages[0].content[0] is a 'document' block",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": "Hi"},
                    {
                        "role": "assistant",
                        "content": [{"type": "thinking", "thinking": "Let me think", "signature": "EqQB"}],
                    },
                ]
            },
            "messages[1].content[0] (thinking)",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "tool_result",
                                "tool_use_id": "t",
                                "content": [
                                    {
                                        "type": "image",
                                        "source": {"type": "base64", "media_type": "image/png", "data": PNG},
                                    }
                                ],
                            }
                        ],
                    }
                ]
            },
            "messages[0].content[0].content[0] is a 'image' block",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "image", "source": {"type": "file", "file_id": "f"}}]}
                ]
            },
            "messages[0].content[0].source is a 'file' source",
        ),
    ],
)
def test_untranslatable_requests_name_the_field(extra: dict[str, Any], named: str) -> None:
    """Anthropic-only features raise Untranslatable with a reason naming the field."""
    body = {**BASE, "messages": [{"role": "user", "content": "Hi"}], **extra}
    with pytest.raises(Untranslatable) as caught:
        anthropic_request_to_openai(body)
    assert named in caught.value.reason


def test_translates_a_recorded_openai_answer() -> None:
    """An OpenAI completion becomes a Messages API answer: msg_ id, blocks, stop_reason and usage."""
    data = orjson.loads((RECORDED / "openai_completion_tool_calls.json").read_bytes())
    assert openai_response_to_anthropic(data, "claude-via-gpt") == {
        "id": "msg_CXq9Lr1bG2tWcC3iH5lZxA0nO4qM",
        "type": "message",
        "role": "assistant",
        "model": "claude-via-gpt",
        "content": [
            {"type": "text", "text": "Let me look that up."},
            {
                "type": "tool_use",
                "id": "call_DdmO9pD3xa9XTPNJ32zg2hcA",
                "name": "get_weather",
                "input": {"location": "Boston, MA"},
            },
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 18, "output_tokens": 17, "cache_read_input_tokens": 64},
    }


@pytest.mark.parametrize(
    ("finish_reason", "stop_reason"),
    [
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("tool_calls", "tool_use"),
        ("function_call", "tool_use"),
        ("content_filter", "refusal"),
        (None, "end_turn"),
    ],
)
def test_finish_reason_table(finish_reason: str | None, stop_reason: str) -> None:
    """Each OpenAI finish_reason maps to the Anthropic stop_reason, in answers and in streams."""
    data = {
        "id": "chatcmpl-1",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "x"}, "finish_reason": finish_reason}],
    }
    assert openai_response_to_anthropic(data, "m")["stop_reason"] == stop_reason
    if finish_reason is not None:
        stream = OpenAIStreamToAnthropic("m")
        stream.feed({"id": "chatcmpl-1", "choices": [{"index": 0, "delta": {}, "finish_reason": finish_reason}]})
        assert stream.finish()[0][1]["delta"]["stop_reason"] == stop_reason


def test_a_refusal_answer_is_text_with_stop_reason_refusal() -> None:
    """OpenAI's refusal field becomes the answer's text, and stop_reason says it was a refusal."""
    data = {
        "id": "chatcmpl-1",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": None, "refusal": "I can't help with that."},
            }
        ],
    }
    out = openai_response_to_anthropic(data, "m")
    assert out["content"] == [{"type": "text", "text": "I can't help with that."}]
    assert out["stop_reason"] == "refusal"


def test_broken_tool_arguments_in_an_answer_are_untranslatable() -> None:
    """Arguments that are not a JSON object cannot become tool_use input, so the answer is refused."""
    data = {
        "id": "chatcmpl-1",
        "choices": [
            {
                "index": 0,
                "finish_reason": "length",
                "message": {
                    "role": "assistant",
                    "tool_calls": [
                        {"id": "c", "type": "function", "function": {"name": "f", "arguments": '{"cut": "of'}}
                    ],
                },
            }
        ],
    }
    with pytest.raises(Untranslatable, match=r"tool_calls\[0\]\.function\.arguments is not valid JSON"):
        openai_response_to_anthropic(data, "m")


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (402, "billing_error"),
        (403, "permission_error"),
        (404, "not_found_error"),
        (413, "request_too_large"),
        (422, "invalid_request_error"),
        (429, "rate_limit_error"),
        (500, "api_error"),
        (502, "api_error"),
        (503, "overloaded_error"),
        (504, "api_error"),
        (529, "overloaded_error"),
        (599, "api_error"),
    ],
)
def test_error_body_table(status: int, kind: str) -> None:
    """Each HTTP status maps to Anthropic's documented error type, in Anthropic's error shape."""
    assert anthropic_error_body(status, "Try again.") == {
        "type": "error",
        "error": {"type": kind, "message": "Try again."},
    }


def stream_events(data: bytes, cuts: list[int]) -> list[tuple[str, dict[str, Any]]]:
    """Parse a recorded OpenAI stream cut at `cuts` and translate it, closing at [DONE]."""
    parser = SSEParser()
    translator = OpenAIStreamToAnthropic("claude-via-gpt")
    events: list[tuple[str, dict[str, Any]]] = []
    start = 0
    for cut in [*sorted(cut % (len(data) + 1) for cut in cuts), len(data)]:
        for event in parser.feed(data[start:cut]):
            if event.data == "[DONE]":
                events += translator.finish()
            else:
                events += translator.feed(orjson.loads(event.data))
        start = cut
    return events


def test_stream_follows_anthropics_exact_event_sequence() -> None:
    """message_start, one start/deltas/stop run per block, message_delta with usage, then message_stop."""
    events = stream_events((RECORDED / "openai_stream_tool_calls.sse").read_bytes(), [])
    assert [name for name, _ in events] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert all(data["type"] == name for name, data in events)
    assert events[0][1]["message"] == {
        "id": "msg_CXq7Jt0aF1sVbB2hG4kYwZ9mN3pL",
        "type": "message",
        "role": "assistant",
        "model": "claude-via-gpt",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 0, "output_tokens": 0},
    }
    assert events[1][1] == {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
    assert events[5][1] == {
        "type": "content_block_start",
        "index": 1,
        "content_block": {
            "type": "tool_use",
            "id": "call_DdmO9pD3xa9XTPNJ32zg2hcA",
            "name": "get_weather",
            "input": {},
        },
    }
    assert events[6][1] == {
        "type": "content_block_delta",
        "index": 1,
        "delta": {"type": "input_json_delta", "partial_json": '{"lo'},
    }
    assert events[-2][1] == {
        "type": "message_delta",
        "delta": {"stop_reason": "tool_use", "stop_sequence": None},
        "usage": {"input_tokens": 56, "output_tokens": 57, "cache_read_input_tokens": 256},
    }


# No deadline: these check what comes out, not how fast, and CI machines are shared.
@settings(deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=4000), max_size=30))
def test_any_split_of_a_recorded_stream_gives_the_same_text_and_inputs(cuts: list[int]) -> None:
    """However the bytes are cut, the text deltas and each tool's input JSON add up to the recorded ones."""
    events = stream_events((RECORDED / "openai_stream_tool_calls.sse").read_bytes(), cuts)
    text = "".join(d["delta"]["text"] for n, d in events if n == "content_block_delta" and "text" in d["delta"])
    inputs: dict[int, str] = {}
    for name, data in events:
        if name == "content_block_delta" and data["delta"]["type"] == "input_json_delta":
            inputs[data["index"]] = inputs.get(data["index"], "") + data["delta"]["partial_json"]
    assert text == "Je regarde la météo."
    assert {index: orjson.loads(value) for index, value in inputs.items()} == {
        1: {"location": "Paris, France"},
        2: {"timezone": "Europe/Paris"},
    }


def test_stream_round_trips_through_both_stream_translators() -> None:
    """OpenAI chunks to Anthropic events and back to OpenAI chunks keep the text, tool calls and usage."""
    events = stream_events((RECORDED / "openai_stream_tool_calls.sse").read_bytes(), [])
    back = AnthropicStreamToOpenAI(include_usage=True)
    chunks = [item for name, data in events for item in back.feed(name, data)]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    arguments = [
        "".join(
            call["function"].get("arguments", "")
            for c in chunks
            if c["choices"]
            for call in c["choices"][0]["delta"].get("tool_calls") or []
            if call["index"] == index
        )
        for index in (0, 1)
    ]
    assert text == "Je regarde la météo."
    assert arguments == ['{"location": "Paris, France"}', '{"timezone": "Europe/Paris"}']
    assert chunks[-1]["usage"] == {
        "prompt_tokens": 312,
        "completion_tokens": 57,
        "total_tokens": 369,
        "prompt_tokens_details": {"cached_tokens": 256},
    }


def test_finish_before_a_finish_reason_raises_stream_error() -> None:
    """A stream that ends early is not dressed up as complete: finish() raises StreamError."""
    stream = OpenAIStreamToAnthropic("m")
    stream.feed({"id": "chatcmpl-1", "choices": [{"index": 0, "delta": {"content": "Half an ans"}}]})
    with pytest.raises(StreamError, match="ended before its finish_reason"):
        stream.finish()


def test_finish_is_idempotent() -> None:
    """A second finish() sends nothing more."""
    stream = OpenAIStreamToAnthropic("m")
    stream.feed({"id": "chatcmpl-1", "choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": "stop"}]})
    assert [name for name, _ in stream.finish()] == ["message_delta", "message_stop"]
    assert stream.finish() == []


def test_an_error_chunk_raises_stream_error_and_error_event_has_anthropics_shape() -> None:
    """An in-band OpenAI error chunk raises StreamError; error_event builds Anthropic's error event."""
    stream = OpenAIStreamToAnthropic("m")
    with pytest.raises(StreamError, match="Rate limit reached"):
        stream.feed({"error": {"message": "Rate limit reached", "type": "rate_limit_error"}})
    assert OpenAIStreamToAnthropic.error_event("Overloaded", "overloaded_error") == (
        "error",
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
    )


def test_interleaved_tool_arguments_are_untranslatable() -> None:
    """Arguments for a tool call whose block already closed cannot be carried: Anthropic blocks never reopen."""
    stream = OpenAIStreamToAnthropic("m")
    call = {"index": 0, "id": "call_a", "type": "function", "function": {"name": "f", "arguments": "{"}}
    stream.feed({"id": "x", "choices": [{"index": 0, "delta": {"tool_calls": [call]}}]})
    stream.feed(
        {
            "id": "x",
            "choices": [
                {
                    "index": 0,
                    "delta": {
                        "tool_calls": [
                            {
                                "index": 1,
                                "id": "call_b",
                                "type": "function",
                                "function": {"name": "g", "arguments": "{}"},
                            }
                        ]
                    },
                }
            ],
        }
    )
    with pytest.raises(Untranslatable, match="tool call 0 resumed"):
        stream.feed(
            {
                "id": "x",
                "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "}"}}]}}],
            }
        )


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"messages": [{"role": "system", "content": "Hi"}]}, "messages[0].role must be user or assistant"),
        ({"messages": [{"role": "user", "content": 3}]}, "messages[0].content must be a string or an array"),
        ({"messages": [{"role": "assistant", "content": 3}]}, "messages[0].content must be a string or an array"),
        (
            {"messages": [{"role": "assistant", "content": [{"type": "text", "text": "x", "citations": [{"x": 1}]}]}]},
            "messages[0].content[0][0].citations",
        ),
        (
            {
                "messages": [
                    {
                        "role": "assistant",
                        "content": [{"type": "server_tool_use", "id": "s", "name": "web_search", "input": {}}],
                    }
                ]
            },
            "messages[0].content[0] is a 'server_tool_use' block",
        ),
        ({"system": [{"type": "image"}]}, "system[0] is a 'image' block"),
        ({"tools": [{"name": "f", "input_schema": {}, "input_examples": [{}]}]}, "'tools[0].input_examples'"),
        ({"tool_choice": {"type": "anything"}}, "'tool_choice' {'type': 'anything'}"),
    ],
)
def test_malformed_or_unknown_shapes_name_the_field(extra: dict[str, Any], named: str) -> None:
    """Shapes OpenAI cannot express fail with a reason naming the field."""
    body = {**BASE, "messages": [{"role": "user", "content": "Hi"}], **extra}
    with pytest.raises(Untranslatable) as caught:
        anthropic_request_to_openai(body)
    assert named in caught.value.reason


def test_text_before_a_tool_result_keeps_its_place() -> None:
    """User text before a tool result becomes its own user message, ahead of the tool message."""
    body = {
        **BASE,
        "system": "",
        "messages": [
            {"role": "assistant", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "note"},
                    {"type": "tool_result", "tool_use_id": "t1", "content": [{"type": "text", "text": "done"}]},
                    {"type": "tool_result", "tool_use_id": "t2"},
                ],
            },
        ],
        "tools": [{"name": "f", "input_schema": {"type": "object"}, "strict": True}],
    }
    out = anthropic_request_to_openai(body)
    assert out["messages"] == [
        {"role": "assistant", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
        {"role": "user", "content": [{"type": "text", "text": "note"}]},
        {"role": "tool", "tool_call_id": "t1", "content": [{"type": "text", "text": "done"}]},
        {"role": "tool", "tool_call_id": "t2", "content": ""},
    ]
    assert out["tools"][0]["function"]["strict"] is True


@pytest.mark.parametrize(
    ("message", "named"),
    [
        ({"role": "assistant", "content": None, "audio": {"id": "a"}}, "choices[0].message.audio"),
        ({"role": "assistant", "content": "x", "annotations": [{"type": "url_citation"}]}, "annotations"),
    ],
)
def test_answers_anthropic_cannot_carry_are_untranslatable(message: dict[str, Any], named: str) -> None:
    """Audio and citations in an OpenAI answer are refused, not dropped."""
    with pytest.raises(Untranslatable) as caught:
        openai_response_to_anthropic({"id": "x", "choices": [{"index": 0, "message": message}]}, "m")
    assert named in caught.value.reason


def test_an_answer_without_choices_is_untranslatable() -> None:
    """An OpenAI answer with no choice has nothing to carry."""
    with pytest.raises(Untranslatable, match="no choices"):
        openai_response_to_anthropic({"id": "x", "choices": []}, "m")


def test_content_parts_in_an_answer_are_joined() -> None:
    """An answer whose content is a list of text parts becomes one text block."""
    data = {
        "id": "x",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {
                    "role": "assistant",
                    "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
                },
            }
        ],
    }
    assert openai_response_to_anthropic(data, "m")["content"] == [{"type": "text", "text": "ab"}]


@pytest.mark.parametrize(
    ("delta", "named"),
    [
        ({"audio": {"id": "a"}}, "delta.audio"),
        ({"tool_calls": [{"index": 0, "id": "c", "function": {"arguments": "{}"}}]}, "tool call 0 starts without"),
    ],
)
def test_stream_deltas_anthropic_cannot_carry_are_untranslatable(delta: dict[str, Any], named: str) -> None:
    """Audio deltas and tool calls without a name are refused, not dropped."""
    with pytest.raises(Untranslatable, match=named):
        OpenAIStreamToAnthropic("m").feed({"id": "x", "choices": [{"index": 0, "delta": delta}]})


def test_stream_second_choice_is_untranslatable() -> None:
    """A stream with n > 1 choices cannot be carried: Anthropic streams one message."""
    with pytest.raises(Untranslatable, match="second choice"):
        OpenAIStreamToAnthropic("m").feed({"id": "x", "choices": [{"index": 1, "delta": {"content": "b"}}]})


def test_a_streamed_refusal_is_text_with_stop_reason_refusal() -> None:
    """Refusal deltas arrive as text, and the message ends with stop_reason refusal."""
    stream = OpenAIStreamToAnthropic("m")
    events = stream.feed({"id": "x", "choices": [{"index": 0, "delta": {"refusal": "No."}, "finish_reason": "stop"}]})
    assert events[2][1]["delta"] == {"type": "text_delta", "text": "No."}
    assert stream.finish()[-2][1]["delta"]["stop_reason"] == "refusal"


def test_a_request_without_max_tokens_leaves_it_out() -> None:
    """max_tokens is copied only when present (the inbound API requires it)."""
    assert "max_tokens" not in anthropic_request_to_openai({"model": "r", "messages": []})
