"""Gemini generateContent bodies and answers, as pure functions with no sockets."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from releve.sim._gemini import error_body, generate, generate_chunks, parse_generate
from releve.sim._requests import ApiError

TOOLS: list[dict[str, Any]] = [{"functionDeclarations": [{"name": "lookup"}, {"name": "other"}]}]


def body(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"contents": [{"role": "user", "parts": [{"text": "hi there"}]}]}
    base.update(overrides)
    return base


def answer(**overrides: Any) -> dict[str, Any]:
    result: dict[str, Any] = orjson.loads(generate("a", parse_generate("gemini-x", body(**overrides)), 2))
    return result


def chunks(**overrides: Any) -> list[dict[str, Any]]:
    return [orjson.loads(c) for c in generate_chunks("a", parse_generate("gemini-x", body(**overrides)), 2)]


def test_response_has_googles_shape() -> None:
    """A plain answer is one model candidate with text, STOP, usage counts and the model version."""
    assert answer(systemInstruction={"parts": [{"text": "be brief"}]}) == {
        "candidates": [
            {"content": {"role": "model", "parts": [{"text": "a heard: hi there"}]}, "index": 0, "finishReason": "STOP"}
        ],
        "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 4, "totalTokenCount": 8},
        "modelVersion": "gemini-x",
        "responseId": "sim-2",
    }


def test_snake_case_fields_are_read_like_camel_case() -> None:
    """generation_config.max_output_tokens works as generationConfig.maxOutputTokens does: MAX_TOKENS."""
    for config in ({"generationConfig": {"maxOutputTokens": 2}}, {"generation_config": {"max_output_tokens": 2}}):
        result = answer(**config)
        assert result["candidates"][0]["content"]["parts"] == [{"text": "a heard:"}]
        assert result["candidates"][0]["finishReason"] == "MAX_TOKENS"
    stopped = answer(generationConfig={"stopSequences": [" there"]})
    assert stopped["candidates"][0]["content"]["parts"] == [{"text": "a heard: hi"}]


def test_chunks_carry_one_word_each_and_cumulative_usage() -> None:
    """Each chunk has one word and the token count so far; only the last has finishReason."""
    stream = chunks()
    assert "".join(c["candidates"][0]["content"]["parts"][0]["text"] for c in stream) == "a heard: hi there"
    assert [c["usageMetadata"]["candidatesTokenCount"] for c in stream] == [1, 2, 3, 4]
    assert ["finishReason" in c["candidates"][0] for c in stream] == [False, False, False, True]


def test_function_declarations_get_one_function_call() -> None:
    """With tools and a user turn last, the answer is one functionCall part to the first function."""
    for result in (answer(tools=TOOLS), chunks(tools=TOOLS)[0]):
        candidate = result["candidates"][0]
        assert candidate["content"]["parts"] == [{"functionCall": {"name": "lookup", "args": {"query": "hi there"}}}]
        assert candidate["finishReason"] == "STOP"
    assert len(chunks(tools=TOOLS)) == 1


def test_tool_config_restricts_or_forbids_calls() -> None:
    """allowedFunctionNames picks among declared functions; mode NONE answers in text."""
    allowed = {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["other"]}}
    parts = answer(tools=TOOLS, toolConfig=allowed)["candidates"][0]["content"]["parts"]
    assert parts[0]["functionCall"]["name"] == "other"
    none = {"function_calling_config": {"mode": "NONE"}}
    assert answer(tools=TOOLS, tool_config=none)["candidates"][0]["content"]["parts"] == [{"text": "a heard: hi there"}]


def test_function_response_is_answered_with_got() -> None:
    """A trailing functionResponse part is answered '<name> got: <compact JSON response>'."""
    contents = [
        {"role": "user", "parts": [{"text": "weather?"}]},
        {"role": "model", "parts": [{"functionCall": {"name": "lookup", "args": {"query": "weather?"}}}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "lookup", "response": {"temp": 20}}}]},
    ]
    parts = answer(contents=contents, tools=TOOLS)["candidates"][0]["content"]["parts"]
    assert parts == [{"text": 'a got: {"temp":20}'}]


def test_trailing_model_content_is_continued() -> None:
    """A model turn last gets only the words after its own; an exhausted one streams one empty chunk."""
    contents: list[dict[str, Any]] = [
        {"role": "user", "parts": [{"text": "one two three"}]},
        {"role": "model", "parts": [{"text": "x heard: one"}]},
    ]
    assert answer(contents=contents)["candidates"][0]["content"]["parts"] == [{"text": " two three"}]
    contents[-1]["parts"] = [{"text": "x heard: one two three"}]
    (only,) = chunks(contents=contents)
    assert only["candidates"][0]["content"]["parts"] == [{"text": ""}]
    assert only["candidates"][0]["finishReason"] == "STOP"


def test_roles_are_optional_and_inline_data_carries_no_text() -> None:
    """A content without a role is the user's; inlineData parts are accepted and ignored."""
    contents = [{"parts": [{"inlineData": {"mimeType": "image/png", "data": "AA=="}}, {"text": "look"}]}]
    assert answer(contents=contents)["candidates"][0]["content"]["parts"] == [{"text": "a heard: look"}]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"contents": []}, "contents is not specified"),
        ({"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]}, "valid role"),
        ({"contents": [{"role": "user", "parts": []}]}, "parts must not be empty"),
        ({"generationConfig": {"maxOutputTokens": 0}}, "max_output_tokens"),
        ({"generationConfig": {"stopSequences": "x"}}, "stop_sequences"),
        ({"generationConfig": 3}, "generation_config"),
        ({"generationConfig": {"temperature": 2.5}}, "temperature"),
        ({"generation_config": {"top_p": -1}}, "topP"),
        ({"systemInstruction": "be nice"}, "system_instruction"),
        ({"tools": [{"functionDeclarations": [{}]}]}, "function_declarations"),
        ({"tools": [3]}, "tools[0]"),
    ],
)
def test_invalid_bodies_raise_invalid_argument(overrides: dict[str, Any], message: str) -> None:
    """What Google refuses raises ApiError 400 with a message naming the field."""
    with pytest.raises(ApiError) as caught:
        parse_generate("m", body(**overrides))
    assert caught.value.status == 400 and message in caught.value.message


@pytest.mark.parametrize(
    ("status", "name"),
    [
        (400, "INVALID_ARGUMENT"),
        (401, "UNAUTHENTICATED"),
        (403, "PERMISSION_DENIED"),
        (429, "RESOURCE_EXHAUSTED"),
        (500, "INTERNAL"),
        (502, "INTERNAL"),
        (503, "UNAVAILABLE"),
        (504, "DEADLINE_EXCEEDED"),
    ],
)
def test_error_body_uses_googles_status_names(status: int, name: str) -> None:
    """Errors take Google's shape with the canonical status name for the HTTP status."""
    assert orjson.loads(error_body(ApiError(status, "m"))) == {
        "error": {"code": status, "message": "m", "status": name}
    }


def test_rate_limit_error_carries_retry_info() -> None:
    """A 429 with a delay carries a RetryInfo detail, which Google's clients read."""
    error = orjson.loads(error_body(ApiError(429, "slow down", retry_after=2.5)))["error"]
    assert error["details"] == [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "2.5s"}]
