"""Gemini (generateContent) as an upstream: OpenAI requests out, answers and streams back.

Gemini's shapes (ai.google.dev/api/generate-content): `contents` alternate
`user` and `model` turns of `parts`; the system prompt is `systemInstruction`;
function results travel as `functionResponse` parts in a user turn and name
the function, not a call id. The model goes in the URL, and so does streaming
(`:streamGenerateContent?alt=sse`), so neither appears in the body.
"""

from __future__ import annotations

from typing import Any

import orjson

from releve.errors import Untranslatable

from ._common import (
    JSON,
    check_openai_fields,
    content_parts,
    dumps,
    int_field,
    merge_turn,
    openai_usage,
    parse_arguments,
    parse_data_url,
    require_str,
    safe_id,
    text_of,
)
from ._gemini_schema import gemini_schema

__all__ = ["gemini_response_to_openai", "openai_request_to_gemini"]

FAMILY = "Gemini"

# `user` and `safety_identifier` are abuse-monitoring ids for OpenAI; Gemini has
# no such field and they do not change the answer, so they are left out.
# `stream` picks the endpoint, which the transport does.
_MAPPED = frozenset(
    [
        "frequency_penalty",
        "max_completion_tokens",
        "max_tokens",
        "messages",
        "model",
        "parallel_tool_calls",
        "presence_penalty",
        "response_format",
        "safety_identifier",
        "seed",
        "stop",
        "stream",
        "temperature",
        "tool_choice",
        "tools",
        "top_p",
        "user",
    ]
)

_AUDIO_TYPES = {"wav": "audio/wav", "mp3": "audio/mp3"}

_MODES = {"auto": "AUTO", "none": "NONE", "required": "ANY"}

# Gemini finishReason -> OpenAI finish_reason. Every reason other than a natural
# stop or the token limit means Gemini cut the answer short for its own reasons
# (safety, recitation, blocklists, a malformed function call, …); OpenAI's only
# value for "the provider stopped this" is content_filter, and calling it "stop"
# would tell the client the answer is complete.
FINISH_REASONS = {"STOP": "stop", "MAX_TOKENS": "length"}


def finish_reason(reason: str, has_calls: bool) -> str:
    mapped = FINISH_REASONS.get(reason, "content_filter")
    return "tool_calls" if mapped == "stop" and has_calls else mapped


def openai_request_to_gemini(body: JSON) -> JSON:
    """The generateContent body for an OpenAI chat request; Untranslatable names what cannot be carried.

    System and developer messages are hoisted into `systemInstruction` in order.
    """
    check_openai_fields(body, FAMILY, _MAPPED)
    system: list[JSON] = []
    contents: list[JSON] = []
    names: dict[str, str] = {}  # tool-call id -> function name, for functionResponse parts
    for index, message in enumerate(body["messages"]):  # shapes and roles checked at the edge (check_chat)
        where = f"messages[{index}]"
        role = message.get("role")
        if role not in ("system", "developer", "user", "assistant", "tool"):
            raise Untranslatable(
                f"{where}.role {role!r} cannot be carried to Gemini: only system, developer, user, assistant "
                "and tool messages are translated (legacy function messages are not)."
            )
        if message.get("name") is not None:
            raise Untranslatable(f"{where}.name cannot be carried to Gemini: its turns have no participant names.")
        if role in ("system", "developer"):
            system += [
                {"text": text} for text in text_of(content_parts(message.get("content"), where), where, FAMILY) if text
            ]
        elif role == "user":
            merge_turn(contents, "user", "parts", _user_parts(message, where))
        elif role == "assistant":
            merge_turn(contents, "model", "parts", _model_parts(message, where, names))
        else:
            merge_turn(contents, "user", "parts", [_function_response(message, where, names)])
    out: JSON = {"contents": contents}
    if system:
        out["systemInstruction"] = {"parts": system}
    config = _generation_config(body)
    if config:
        out["generationConfig"] = config
    tools = body.get("tools")
    if tools:
        out["tools"] = [{"functionDeclarations": [_declaration(tool, f"tools[{i}]") for i, tool in enumerate(tools)]}]
        choice = body.get("tool_choice")
        if body.get("parallel_tool_calls") is False and choice != "none":
            raise Untranslatable(
                "'parallel_tool_calls': false cannot be carried to Gemini, which cannot limit "
                "an answer to one function call."
            )
        if choice is not None:
            out["toolConfig"] = {"functionCallingConfig": _calling_config(choice)}
    elif body.get("tool_choice") not in (None, "auto", "none"):
        raise Untranslatable("'tool_choice' asks for a tool but 'tools' is empty.")
    return out


def _generation_config(body: JSON) -> JSON:
    config: JSON = {}
    for source, target in (
        ("temperature", "temperature"),
        ("top_p", "topP"),
        ("presence_penalty", "presencePenalty"),
        ("frequency_penalty", "frequencyPenalty"),
        ("seed", "seed"),
    ):
        if body.get(source) is not None:
            config[target] = body[source]
    for key in ("max_completion_tokens", "max_tokens"):
        if body.get(key) is not None:
            config["maxOutputTokens"] = body[key]
            break
    stop = body.get("stop")
    if stop:
        config["stopSequences"] = [stop] if isinstance(stop, str) else list(stop)
    response_format = body.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type") == "json_object":
        config["responseMimeType"] = "application/json"
    elif isinstance(response_format, dict) and response_format.get("type") == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema")
        if not isinstance(schema, dict):
            raise Untranslatable("'response_format.json_schema.schema' must be an object.")
        # responseJsonSchema takes JSON Schema as is (unlike responseSchema's OpenAPI subset).
        config["responseMimeType"] = "application/json"
        config["responseJsonSchema"] = schema
    elif response_format not in (None, {"type": "text"}):
        raise Untranslatable(f"'response_format' {response_format!r} cannot be carried to Gemini.")
    return config


def _media(media_type: str, data: str) -> JSON:
    return {"inlineData": {"mimeType": media_type, "data": data}}


def _user_parts(message: JSON, where: str) -> list[JSON]:
    parts: list[JSON] = []
    for index, part in enumerate(content_parts(message.get("content"), where)):
        here = f"{where}.content[{index}]"
        kind = part.get("type")
        if kind == "text":
            if part.get("text"):
                parts.append({"text": require_str(part, "text", here)})
        elif kind == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            data_url = parse_data_url(url, f"{here}.image_url.url", FAMILY) if isinstance(url, str) else None
            if data_url is None:
                # Gemini's fileData takes Files API URIs (and needs a MIME type we
                # do not know); it does not fetch arbitrary web URLs.
                raise Untranslatable(
                    f"{here}.image_url must be a base64 data URL for Gemini, which does not "
                    "fetch image URLs; inline the image."
                )
            parts.append(_media(*data_url))
        elif kind == "input_audio":
            audio = part.get("input_audio") or {}
            media_type = _AUDIO_TYPES.get(audio.get("format", ""))
            if media_type is None:
                raise Untranslatable(f"{here}.input_audio.format must be wav or mp3 for Gemini.")
            parts.append(_media(media_type, require_str(audio, "data", f"{here}.input_audio")))
        elif kind == "file":
            file = part.get("file") or {}
            data_url = parse_data_url(file.get("file_data") or "", f"{here}.file.file_data", FAMILY)
            if data_url is None:
                raise Untranslatable(f"{here}.file must carry file_data; an OpenAI file_id means nothing to Gemini.")
            parts.append(_media(*data_url))
        else:
            raise Untranslatable(f"{here} is a {kind!r} part, which Gemini cannot carry.")
    return parts


def _model_parts(message: JSON, where: str, names: dict[str, str]) -> list[JSON]:
    for key in ("audio", "function_call"):
        if message.get(key) is not None:
            raise Untranslatable(f"{where}.{key} cannot be carried to Gemini.")
    texts = text_of(content_parts(message.get("content"), where), where, FAMILY, allow_refusal=True)
    if isinstance(message.get("refusal"), str):
        texts.append(message["refusal"])
    parts: list[JSON] = [{"text": text} for text in texts if text]
    for index, call in enumerate(message.get("tool_calls") or []):
        here = f"{where}.tool_calls[{index}]"
        if not isinstance(call, dict) or call.get("type", "function") != "function":
            raise Untranslatable(f"{here} is not a function call; Gemini carries function calls only.")
        function = call.get("function") or {}
        name = require_str(function, "name", f"{here}.function")
        names[require_str(call, "id", here)] = name
        args = parse_arguments(function.get("arguments"), f"{here}.function.arguments", FAMILY)
        parts.append({"functionCall": {"name": name, "args": args}})
    return parts


def _function_response(message: JSON, where: str, names: dict[str, str]) -> JSON:
    ident = require_str(message, "tool_call_id", where)
    if ident not in names:
        raise Untranslatable(
            f"{where}.tool_call_id {ident!r} matches no earlier tool call, and Gemini needs the function's name."
        )
    content = message.get("content")
    text = content if isinstance(content, str) else "".join(text_of(content_parts(content, where), where, FAMILY))
    # Gemini wants an object: a tool's JSON object answer is passed as is, any other answer is wrapped.
    response = _json_object(text)
    return {"functionResponse": {"name": names[ident], "response": {"content": text} if response is None else response}}


def _json_object(text: str) -> JSON | None:
    if not text.startswith("{"):
        return None
    try:
        parsed = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _declaration(tool: object, where: str) -> JSON:
    if not isinstance(tool, dict) or tool.get("type") != "function" or not isinstance(tool.get("function"), dict):
        raise Untranslatable(f"{where} is not a function tool; Gemini carries function declarations only.")
    function = tool["function"]
    if function.get("strict"):
        raise Untranslatable(f"{where}.function.strict: Gemini cannot guarantee arguments match the schema.")
    out: JSON = {"name": require_str(function, "name", f"{where}.function")}
    if function.get("description"):
        out["description"] = function["description"]
    parameters = function.get("parameters")
    if parameters is not None:
        schema = gemini_schema(parameters, f"{where}.function.parameters")
        # Gemini rejects an OBJECT with no properties; a function without parameters omits them.
        if schema.get("properties") or schema.get("type") not in ("object", "OBJECT"):
            out["parameters"] = schema
    return out


def _calling_config(choice: object) -> JSON:
    if isinstance(choice, str) and choice in _MODES:
        return {"mode": _MODES[choice]}
    if isinstance(choice, dict) and choice.get("type") == "function" and isinstance(choice.get("function"), dict):
        name = require_str(choice["function"], "name", "tool_choice.function")
        return {"mode": "ANY", "allowedFunctionNames": [name]}
    raise Untranslatable(f"'tool_choice' {choice!r} cannot be carried to Gemini (auto, none, required or a function).")


def gemini_usage_to_openai(usage: object) -> JSON:
    """Thinking tokens are output tokens to OpenAI (its reasoning_tokens), so they join the completion."""
    thoughts = int_field(usage, "thoughtsTokenCount")
    return openai_usage(
        int_field(usage, "promptTokenCount"),
        int_field(usage, "candidatesTokenCount") + thoughts,
        cached=int_field(usage, "cachedContentTokenCount"),
        reasoning=thoughts,
    )


def call_id(response_id: str, position: int) -> str:
    """Deterministic, and unique across a conversation when Gemini gives a responseId."""
    return f"call_{safe_id(response_id)}_{position}" if response_id else f"call_{position}"


def candidate_parts(candidate: JSON, where: str) -> list[tuple[str, Any]]:
    """("text", str) and ("call", functionCall) pairs; thought summaries are skipped (never requested)."""
    out: list[tuple[str, Any]] = []
    for index, part in enumerate((candidate.get("content") or {}).get("parts") or []):
        if part.get("thought"):
            continue
        if "text" in part:
            out.append(("text", part["text"]))
        elif "functionCall" in part:
            out.append(("call", part["functionCall"]))
        else:
            keys = ", ".join(sorted(key for key in part if key != "thoughtSignature"))
            raise Untranslatable(f"{where}.parts[{index}] ({keys}) cannot be carried in an OpenAI answer.")
    return out


def tool_call(call: JSON, ident: str) -> JSON:
    return {
        "id": ident,
        "type": "function",
        "function": {"name": call.get("name", ""), "arguments": dumps(call.get("args") or {})},
    }


def gemini_response_to_openai(data: JSON, model: str, *, created: int = 0) -> JSON:
    """The `chat.completion` for a generateContent answer (its first candidate; Relève asks for one).

    A prompt blocked before generation (no candidates) reads as content_filter.
    """
    response_id = str(data.get("responseId") or "")
    candidates = data.get("candidates") or []
    texts: list[str] = []
    calls: list[JSON] = []
    reason = "content_filter"
    if candidates:
        for kind, value in candidate_parts(candidates[0], "candidates[0].content"):
            if kind == "text":
                texts.append(value)
            else:
                calls.append(tool_call(value, call_id(response_id, len(calls))))
        reason = finish_reason(candidates[0].get("finishReason") or "STOP", bool(calls))
    message: JSON = {"role": "assistant", "content": "".join(texts) if texts else None}
    if calls:
        message["tool_calls"] = calls
    return {
        "id": f"chatcmpl-{response_id}",
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": reason}],
        "usage": gemini_usage_to_openai(data.get("usageMetadata")),
    }
