"""Gemini as an upstream: OpenAI requests to generateContent, answers and streams back to OpenAI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from releve.errors import Untranslatable
from releve.gateway.translate import (
    GeminiStreamToOpenAI,
    SSEParser,
    StreamError,
    gemini_response_to_openai,
    openai_request_to_gemini,
)

RECORDED = Path(__file__).parent / "recorded"
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather.",
        "parameters": {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": {
                "location": {"type": "string", "description": "City"},
                "unit": {"type": ["string", "null"], "enum": ["celsius", "fahrenheit", None]},
                "additionalProperties": {"type": "boolean", "description": "A property with an unlucky name."},
                "tags": {
                    "type": "array",
                    "items": {"type": "object", "properties": {"k": {"type": "string"}}, "additionalProperties": False},
                },
            },
            "required": ["location"],
            "additionalProperties": False,
        },
    },
}


def test_translates_a_full_tool_conversation() -> None:
    """Roles, inline images, function calls, function responses and generation settings land where Gemini wants."""
    body = {
        "model": "route",
        "messages": [
            {"role": "system", "content": "Answer in French."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Weather in Lyon?"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                    {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
                ],
            },
            {
                "role": "assistant",
                "content": "Je vérifie.",
                "tool_calls": [
                    {
                        "id": "call_a",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"location":"Lyon"}'},
                    },
                    {"id": "call_b", "type": "function", "function": {"name": "get_time", "arguments": ""}},
                ],
            },
            {"role": "tool", "tool_call_id": "call_a", "content": '{"temp": 21}'},
            {"role": "tool", "tool_call_id": "call_b", "content": "14:02"},
        ],
        "tools": [WEATHER],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        "temperature": 1.3,
        "top_p": 0.95,
        "max_tokens": 512,
        "stop": ["FIN"],
        "presence_penalty": 0.5,
        "seed": 7,
        "response_format": {"type": "json_object"},
        "stream": True,
        "user": "u-7",
    }
    assert openai_request_to_gemini(body) == {
        "systemInstruction": {"parts": [{"text": "Answer in French."}]},
        "contents": [
            {
                "role": "user",
                "parts": [
                    {"text": "Weather in Lyon?"},
                    {"inlineData": {"mimeType": "image/png", "data": PNG}},
                    {"inlineData": {"mimeType": "audio/wav", "data": "UklGRg=="}},
                ],
            },
            {
                "role": "model",
                "parts": [
                    {"text": "Je vérifie."},
                    {"functionCall": {"name": "get_weather", "args": {"location": "Lyon"}}},
                    {"functionCall": {"name": "get_time", "args": {}}},
                ],
            },
            {
                "role": "user",
                "parts": [
                    {"functionResponse": {"name": "get_weather", "response": {"temp": 21}}},
                    {"functionResponse": {"name": "get_time", "response": {"content": "14:02"}}},
                ],
            },
        ],
        "generationConfig": {
            "temperature": 1.3,
            "topP": 0.95,
            "presencePenalty": 0.5,
            "seed": 7,
            "maxOutputTokens": 512,
            "stopSequences": ["FIN"],
            "responseMimeType": "application/json",
        },
        "tools": [
            {
                "functionDeclarations": [
                    {
                        "name": "get_weather",
                        "description": "Current weather.",
                        "parameters": {
                            "type": "object",
                            "properties": {
                                "location": {"type": "string", "description": "City"},
                                "unit": {"type": "string", "nullable": True, "enum": ["celsius", "fahrenheit", None]},
                                "additionalProperties": {
                                    "type": "boolean",
                                    "description": "A property with an unlucky name.",
                                },
                                "tags": {
                                    "type": "array",
                                    "items": {"type": "object", "properties": {"k": {"type": "string"}}},
                                },
                            },
                            "required": ["location"],
                        },
                    }
                ]
            }
        ],
        "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}},
    }


@pytest.mark.parametrize(("choice", "mode"), [("auto", "AUTO"), ("none", "NONE"), ("required", "ANY")])
def test_maps_tool_choice_modes(choice: str, mode: str) -> None:
    """auto/none/required become Gemini's AUTO/NONE/ANY function-calling modes."""
    body = {"messages": [{"role": "user", "content": "Hi"}], "tools": [WEATHER], "tool_choice": choice}
    assert openai_request_to_gemini(body)["toolConfig"] == {"functionCallingConfig": {"mode": mode}}


def test_a_function_without_parameters_omits_them_and_json_schema_output_is_carried() -> None:
    """Gemini rejects an empty OBJECT schema, so it is left out; json_schema becomes responseJsonSchema."""
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}, "additionalProperties": False}
    body = {
        "messages": [{"role": "user", "content": "Hi"}],
        "tools": [
            {"type": "function", "function": {"name": "now", "parameters": {"type": "object", "properties": {}}}}
        ],
        "response_format": {"type": "json_schema", "json_schema": {"name": "a", "schema": schema}},
    }
    out = openai_request_to_gemini(body)
    assert out["tools"] == [{"functionDeclarations": [{"name": "now"}]}]
    assert out["generationConfig"] == {"responseMimeType": "application/json", "responseJsonSchema": schema}


USER = {"role": "user", "content": "Hi"}


def tool_with(parameters: dict[str, Any]) -> dict[str, Any]:
    return {"type": "function", "function": {"name": "f", "parameters": parameters}}


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"n": 3}, "'n'"),
        ({"logprobs": True}, "'logprobs'"),
        ({"logit_bias": {"1": 5}}, "'logit_bias'"),
        ({"functions": [{"name": "f"}]}, "'functions'"),
        ({"reasoning_effort": "low"}, "'reasoning_effort'"),
        ({"response_format": {"type": "grammar"}}, "'response_format'"),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}],
                    }
                ]
            },
            "messages[0].content[0].image_url must be a base64 data URL",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "file", "file": {"file_id": "file-abc"}}]}]},
            "messages[0].content[0].file must carry file_data",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "input_audio", "input_audio": {"data": "x", "format": "flac"}}],
                    }
                ]
            },
            "messages[0].content[0].input_audio.format",
        ),
        (
            {"messages": [USER, {"role": "tool", "tool_call_id": "call_x", "content": "1"}]},
            "messages[1].tool_call_id 'call_x' matches no earlier tool call",
        ),
        (
            {
                "messages": [
                    USER,
                    {
                        "role": "assistant",
                        "tool_calls": [
                            {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{oops"}}
                        ],
                    },
                ]
            },
            "messages[1].tool_calls[0].function.arguments is not valid JSON",
        ),
        ({"tools": [{"type": "function", "function": {"name": "f", "strict": True}}]}, "tools[0].function.strict"),
        (
            {"tools": [tool_with({"type": "object", "properties": {"a": {"$ref": "#/$defs/A"}}})]},
            "tools[0].function.parameters.properties.a.$ref",
        ),
        (
            {"tools": [tool_with({"type": "object", "properties": {"a": {"const": "x"}}})]},
            "tools[0].function.parameters.properties.a.const",
        ),
        ({"tools": [tool_with({"type": ["string", "integer"]})]}, "tools[0].function.parameters.type"),
        ({"tools": [WEATHER], "parallel_tool_calls": False}, "'parallel_tool_calls'"),
    ],
)
def test_untranslatable_requests_name_the_field(extra: dict[str, Any], named: str) -> None:
    """Each feature Gemini cannot carry raises Untranslatable with a reason naming the field."""
    with pytest.raises(Untranslatable) as caught:
        openai_request_to_gemini({"messages": [USER], **extra})
    assert named in caught.value.reason


def test_translates_a_recorded_function_call_answer() -> None:
    """Text parts become content, functionCall parts tool_calls with deterministic ids; thinking counts as output."""
    data = orjson.loads((RECORDED / "gemini_response_function_call.json").read_bytes())
    assert gemini_response_to_openai(data, "route", created=1764201600) == {
        "id": "chatcmpl-2DPXaLu-JJbO1dkPx5ae0Qg",
        "object": "chat.completion",
        "created": 1764201600,
        "model": "route",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "Je vérifie la météo.",
                    "tool_calls": [
                        {
                            "id": "call_2DPXaLu-JJbO1dkPx5ae0Qg_0",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"location":"Lyon","unit":"celsius"}'},
                        }
                    ],
                },
                "logprobs": None,
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {
            "prompt_tokens": 70,
            "completion_tokens": 78,
            "total_tokens": 148,
            "prompt_tokens_details": {"cached_tokens": 32},
            "completion_tokens_details": {"reasoning_tokens": 60},
        },
    }


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("STOP", "stop"),
        ("MAX_TOKENS", "length"),
        ("SAFETY", "content_filter"),
        ("RECITATION", "content_filter"),
        ("BLOCKLIST", "content_filter"),
        ("PROHIBITED_CONTENT", "content_filter"),
        ("SPII", "content_filter"),
        ("IMAGE_SAFETY", "content_filter"),
        ("LANGUAGE", "content_filter"),
        ("OTHER", "content_filter"),
        ("MALFORMED_FUNCTION_CALL", "content_filter"),
        ("FINISH_REASON_UNSPECIFIED", "content_filter"),
    ],
)
def test_finish_reason_table(reason: str, expected: str) -> None:
    """Each Gemini finishReason maps to an OpenAI finish_reason, in answers and in streams."""
    data = {"candidates": [{"content": {"parts": [{"text": "x"}], "role": "model"}, "finishReason": reason}]}
    assert gemini_response_to_openai(data, "m")["choices"][0]["finish_reason"] == expected
    assert GeminiStreamToOpenAI("m").feed(data)[-1]["choices"][0]["finish_reason"] == expected


def test_a_blocked_prompt_reads_as_content_filter() -> None:
    """A prompt blocked before generation (no candidates) gives an empty answer with content_filter."""
    data = {"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 9, "totalTokenCount": 9}}
    choice = gemini_response_to_openai(data, "m")["choices"][0]
    assert choice["message"] == {"role": "assistant", "content": None}
    assert choice["finish_reason"] == "content_filter"
    assert GeminiStreamToOpenAI("m").feed(data)[-1]["choices"][0]["finish_reason"] == "content_filter"


def test_parts_openai_cannot_carry_are_untranslatable() -> None:
    """Executable code or generated images are refused, not dropped; thought summaries are skipped."""
    data = {
        "candidates": [
            {
                "content": {
                    "parts": [
                        {"text": "plan", "thought": True},
                        {"executableCode": {"language": "PYTHON", "code": "1"}},
                    ]
                }
            }
        ]
    }
    with pytest.raises(Untranslatable, match=r"parts\[1\] \(executableCode\)"):
        gemini_response_to_openai(data, "m")


def translate_stream(data: bytes, cuts: list[int], translator: GeminiStreamToOpenAI) -> list[dict[str, Any]]:
    parser = SSEParser()
    chunks: list[dict[str, Any]] = []
    start = 0
    for cut in [*sorted(cut % (len(data) + 1) for cut in cuts), len(data)]:
        for event in parser.feed(data[start:cut]):
            chunks += translator.feed(orjson.loads(event.data))
        start = cut
    return chunks


# No deadline: these check what comes out, not how fast, and CI machines are shared.
@settings(deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=30))
def test_any_split_of_a_recorded_stream_gives_the_same_text_and_calls(cuts: list[int]) -> None:
    """However the bytes are cut, the chunks carry the recorded text and each complete function call."""
    data = (RECORDED / "gemini_stream_function_calls.sse").read_bytes()
    chunks = translate_stream(data, cuts, GeminiStreamToOpenAI("route"))
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    calls = [call for c in chunks for call in c["choices"][0]["delta"].get("tool_calls") or []]
    assert text == "Il fait beau à Paris ; je vérifie"
    assert calls == [
        {
            "index": 0,
            "id": "call_mBzXaPbRGK3e1dkP5L2p0Qo_0",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"location":"Paris, France","unit":"celsius"}'},
        },
        {
            "index": 1,
            "id": "call_mBzXaPbRGK3e1dkP5L2p0Qo_1",
            "type": "function",
            "function": {"name": "get_time", "arguments": '{"timezone":"Europe/Paris"}'},
        },
    ]
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_stream_sends_role_first_and_usage_last_when_asked() -> None:
    """The first chunk carries the role; with include_usage, a usage-only chunk follows the finish chunk."""
    data = (RECORDED / "gemini_stream_function_calls.sse").read_bytes()
    chunks = translate_stream(data, [], GeminiStreamToOpenAI("route", include_usage=True, created=5))
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert chunks[0]["usage"] is None
    assert chunks[-1] == {
        "id": "chatcmpl-mBzXaPbRGK3e1dkP5L2p0Qo",
        "object": "chat.completion.chunk",
        "created": 5,
        "model": "route",
        "choices": [],
        "usage": {
            "prompt_tokens": 41,
            "completion_tokens": 68,
            "total_tokens": 109,
            "completion_tokens_details": {"reasoning_tokens": 37},
        },
    }


def test_stream_error_object_raises_stream_error() -> None:
    """An error object in Gemini's stream raises StreamError with its status as the error type."""
    with pytest.raises(StreamError) as caught:
        GeminiStreamToOpenAI("m").feed(
            {"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}
        )
    assert caught.value.error_type == "UNAVAILABLE"


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"messages": [{"role": "function", "name": "f", "content": "1"}]}, "messages[0].role 'function'"),
        ({"messages": [{"role": "user", "content": "Hi", "name": "bob"}]}, "messages[0].name"),
        (
            {"messages": [{"role": "system", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]},
            "messages[0].content[0] is a 'image_url' part, which Gemini cannot carry here",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "video_url", "video_url": "x"}]}]},
            "messages[0].content[0] is a 'video_url' part",
        ),
        (
            {"messages": [USER, {"role": "assistant", "content": None, "function_call": {"name": "f"}}]},
            "messages[1].function_call",
        ),
        (
            {"messages": [USER, {"role": "assistant", "tool_calls": [{"id": "c", "type": "custom"}]}]},
            "messages[1].tool_calls[0] is not a function call",
        ),
        ({"tool_choice": "required"}, "'tool_choice' asks for a tool but 'tools' is empty"),
        ({"tools": [WEATHER], "tool_choice": {"type": "allowed_tools"}}, "'tool_choice' {'type': 'allowed_tools'}"),
        ({"tools": [{"type": "code_interpreter"}]}, "tools[0] is not a function tool"),
        (
            {"tools": [tool_with({"type": "object", "properties": {"a": "string"}})]},
            "tools[0].function.parameters.properties.a must be a JSON Schema object",
        ),
        (
            {"response_format": {"type": "json_schema", "json_schema": {"name": "x"}}},
            "'response_format.json_schema.schema' must be an object",
        ),
    ],
)
def test_malformed_or_unknown_shapes_name_the_field(extra: dict[str, Any], named: str) -> None:
    """Shapes Gemini cannot express fail with a reason naming the field."""
    with pytest.raises(Untranslatable) as caught:
        openai_request_to_gemini({"messages": [USER], **extra})
    assert named in caught.value.reason


def test_files_refusals_any_of_and_non_object_tool_answers() -> None:
    """PDF file data, past refusals, anyOf schemas and non-object tool answers all carry over exactly."""
    body = {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": ""},
                    {
                        "type": "file",
                        "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBERi0x"},
                    },
                ],
            },
            {
                "role": "assistant",
                "content": None,
                "refusal": "No.",
                "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
            },
            {"role": "tool", "tool_call_id": "c1", "content": [{"type": "text", "text": "[1, 2]"}]},
            {"role": "tool", "tool_call_id": "c1", "content": "{broken"},
        ],
        "tools": [
            tool_with({"anyOf": [{"type": "string"}, {"type": "null"}]}),
            {"type": "function", "function": {"name": "g"}},
        ],
        "tool_choice": "none",
        "parallel_tool_calls": False,
    }
    out = openai_request_to_gemini(body)
    assert out["contents"] == [
        {"role": "user", "parts": [{"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0x"}}]},
        {"role": "model", "parts": [{"text": "No."}, {"functionCall": {"name": "f", "args": {}}}]},
        {
            "role": "user",
            "parts": [
                {"functionResponse": {"name": "f", "response": {"content": "[1, 2]"}}},
                {"functionResponse": {"name": "f", "response": {"content": "{broken"}}},
            ],
        },
    ]
    assert out["tools"] == [
        {
            "functionDeclarations": [
                {"name": "f", "parameters": {"anyOf": [{"type": "string"}, {"type": "null"}]}},
                {"name": "g"},
            ]
        }
    ]
    assert out["toolConfig"] == {"functionCallingConfig": {"mode": "NONE"}}


def test_stream_ignores_chunks_after_the_finish_and_splits_text_around_calls() -> None:
    """Text before a call in one chunk comes first; nothing after the finish chunk is sent."""
    stream = GeminiStreamToOpenAI("m")
    chunks = stream.feed(
        {
            "responseId": "r",
            "candidates": [
                {
                    "content": {"parts": [{"text": "Checking"}, {"functionCall": {"name": "f", "args": {}}}]},
                    "finishReason": "STOP",
                }
            ],
        }
    )
    assert [list(c["choices"][0]["delta"]) for c in chunks] == [["role", "content"], ["content"], ["tool_calls"], []]
    assert stream.feed({"candidates": [{"content": {"parts": [{"text": "late"}]}}]}) == []


def test_a_single_type_list_and_a_tool_choice_without_tools() -> None:
    """`type: [X]` is just X, and tool_choice auto with no tools asks for nothing."""
    body = {"messages": [USER], "tools": [tool_with({"type": ["string"]})]}
    assert openai_request_to_gemini(body)["tools"][0]["functionDeclarations"][0]["parameters"] == {"type": "string"}
    assert "toolConfig" not in openai_request_to_gemini({"messages": [USER], "tool_choice": "auto"})
