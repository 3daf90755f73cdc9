"""Relève's inbound Anthropic API: Messages requests in, OpenAI-shaped answers back out.

The inverse of `_anthropic_upstream`: an Anthropic client's request becomes the
internal OpenAI request, and whatever target answered is shaped back into the
Messages API (`msg_…` ids, `stop_reason`, Anthropic's usage and error shapes).
Streams are `_anthropic_stream`'s concern.
"""

from __future__ import annotations

from typing import Any

from releve.errors import Untranslatable

from ._common import JSON, dumps, int_field, parse_arguments, require_str

__all__ = ["anthropic_error_body", "anthropic_request_to_openai", "openai_response_to_anthropic"]

FAMILY = "OpenAI"

# `cache_control` marks a prompt-caching breakpoint: an optimisation hint with no
# OpenAI equivalent (OpenAI caches prefixes on its own), so it is dropped
# wherever it appears: system blocks, content blocks, tools.
_MAPPED = frozenset(
    [
        "max_tokens",
        "messages",
        "metadata",
        "model",
        "stop_sequences",
        "stream",
        "system",
        "temperature",
        "thinking",
        "tool_choice",
        "tools",
        "top_p",
    ]
)
# `service_tier` picks Anthropic's capacity pool (billing and latency), not the answer.
_IGNORED = frozenset({"service_tier"})
_WHY = {
    "top_k": "OpenAI has no top-k sampling",
    "container": "code-execution containers are Anthropic server tools",
    "mcp_servers": "remote MCP servers are run by Anthropic itself",
    "context_management": "OpenAI has no server-side context editing",
    "output_format": "structured output is not translated to OpenAI's response_format",
}

# The keys of a custom tool that OpenAI function tools can express (cache_control is dropped, see above).
_TOOL_KEYS = frozenset({"cache_control", "description", "input_schema", "name", "strict", "type"})

FINISH_TO_STOP = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "overloaded_error",
    504: "api_error",
    529: "overloaded_error",
}


def anthropic_error_body(status: int, message: str) -> JSON:
    """Anthropic's error shape for an HTTP status (other 4xx read as invalid_request_error, as its docs say)."""
    kind = _ERROR_TYPES.get(status, "invalid_request_error" if 400 <= status < 500 else "api_error")
    return {"type": "error", "error": {"type": kind, "message": message}}


def _refuse(key: str, why: str) -> Untranslatable:
    return Untranslatable(
        f"'{key}' cannot be carried to OpenAI-compatible targets: {why}. Route this request to an Anthropic target."
    )


def anthropic_request_to_openai(body: JSON) -> JSON:
    """The internal (OpenAI) request for a Messages API request; `model` is kept as given (a route name)."""
    for key, value in body.items():
        if key not in _MAPPED and key not in _IGNORED and value is not None:
            raise _refuse(key, _WHY.get(key, "Relève's Anthropic translator does not know this field"))
    thinking = body.get("thinking")
    if thinking is not None and not (isinstance(thinking, dict) and thinking.get("type") == "disabled"):
        raise _refuse("thinking", "extended thinking blocks and their signatures have no OpenAI form")
    messages: list[JSON] = []
    system = body.get("system")
    if isinstance(system, str):
        if system:
            messages.append({"role": "system", "content": system})
    elif system is not None:
        messages += [{"role": "system", "content": text} for text in _texts(system, "system")]
    for index, turn in enumerate(body.get("messages") or []):
        where = f"messages[{index}]"
        role = turn.get("role") if isinstance(turn, dict) else None
        if role == "user":
            messages += _user(turn.get("content"), where)
        elif role == "assistant":
            messages.append(_assistant(turn.get("content"), where))
        else:
            raise Untranslatable(f"{where}.role must be user or assistant, not {role!r}.")
    out: JSON = {"model": body.get("model"), "messages": messages}
    if body.get("max_tokens") is not None:
        # max_tokens, not max_completion_tokens: every OpenAI-compatible server accepts it.
        out["max_tokens"] = body["max_tokens"]
    stop = body.get("stop_sequences")
    if stop:
        out["stop"] = list(stop)
    for key in ("temperature", "top_p"):
        if body.get(key) is not None:
            out[key] = body[key]
    if body.get("stream"):
        # The closing message_delta reports usage, which OpenAI streams only when asked.
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}
    user = (body.get("metadata") or {}).get("user_id")
    if user is not None:
        out["user"] = user
    tools = body.get("tools")
    if tools:
        out["tools"] = [_tool(tool, f"tools[{index}]") for index, tool in enumerate(tools)]
    _tool_choice(body.get("tool_choice"), out)
    return out


def _texts(blocks: object, where: str) -> list[str]:
    """Text blocks only (system prompts, tool results)."""
    texts = []
    for index, block in enumerate(blocks if isinstance(blocks, list) else [blocks]):
        if not isinstance(block, dict) or block.get("type") != "text":
            kind = block.get("type") if isinstance(block, dict) else block
            raise Untranslatable(f"{where}[{index}] is a {kind!r} block; OpenAI carries only text here.")
        if block.get("citations"):
            raise Untranslatable(f"{where}[{index}].citations cannot be carried to OpenAI.")
        texts.append(require_str(block, "text", f"{where}[{index}]"))
    return texts


def _image_part(block: JSON, where: str) -> JSON:
    source = block.get("source") or {}
    if source.get("type") == "base64":
        here = f"{where}.source"
        url = f"data:{require_str(source, 'media_type', here)};base64,{require_str(source, 'data', here)}"
    elif source.get("type") == "url":
        url = require_str(source, "url", f"{where}.source")
    else:
        raise Untranslatable(f"{where}.source is a {source.get('type')!r} source; OpenAI takes base64 or URL images.")
    return {"type": "image_url", "image_url": {"url": url}}


def _user(content: object, where: str) -> list[JSON]:
    """One user turn as OpenAI messages: tool results become tool messages, in their place."""
    if isinstance(content, str):
        return [{"role": "user", "content": content}]
    if not isinstance(content, list):
        raise Untranslatable(f"{where}.content must be a string or an array of blocks.")
    out: list[JSON] = []
    parts: list[JSON] = []
    for index, block in enumerate(content):
        kind = block.get("type") if isinstance(block, dict) else None
        here = f"{where}.content[{index}]"
        if kind == "text":
            parts.append({"type": "text", "text": _texts([block], here)[0]})
        elif kind == "image":
            parts.append(_image_part(block, here))
        elif kind == "tool_result":
            if parts:
                out.append({"role": "user", "content": parts})
                parts = []
            out.append(_tool_message(block, here))
        else:
            raise Untranslatable(f"{here} is a {kind!r} block, which OpenAI chat messages cannot carry.")
    if parts:
        out.append({"role": "user", "content": parts})
    return out


def _tool_message(block: JSON, where: str) -> JSON:
    # `is_error` is dropped: OpenAI tool messages have no error flag, and the
    # result's own text (which says what failed) still reaches the model.
    content = block.get("content")
    if content is None or isinstance(content, str):
        text: Any = content or ""
    else:
        text = [{"type": "text", "text": value} for value in _texts(content, f"{where}.content")]
    return {"role": "tool", "tool_call_id": require_str(block, "tool_use_id", where), "content": text}


def _assistant(content: object, where: str) -> JSON:
    if isinstance(content, str):
        return {"role": "assistant", "content": content}
    if not isinstance(content, list):
        raise Untranslatable(f"{where}.content must be a string or an array of blocks.")
    texts: list[str] = []
    calls: list[JSON] = []
    for index, block in enumerate(content):
        kind = block.get("type") if isinstance(block, dict) else None
        here = f"{where}.content[{index}]"
        if kind == "text":
            texts += _texts([block], here)
        elif kind == "tool_use":
            calls.append(
                {
                    "id": require_str(block, "id", here),
                    "type": "function",
                    "function": {
                        "name": require_str(block, "name", here),
                        "arguments": dumps(block.get("input") or {}),
                    },
                }
            )
        elif kind in ("thinking", "redacted_thinking"):
            raise _refuse(f"{here} ({kind})", "extended thinking blocks and their signatures have no OpenAI form")
        else:
            raise Untranslatable(f"{here} is a {kind!r} block, which OpenAI chat messages cannot carry.")
    message: JSON = {"role": "assistant"}
    if len(texts) == 1:
        message["content"] = texts[0]
    else:
        message["content"] = [{"type": "text", "text": text} for text in texts] if texts else None
    if calls:
        message["tool_calls"] = calls
    return message


def _tool(tool: object, where: str) -> JSON:
    if not isinstance(tool, dict) or tool.get("type", "custom") != "custom":
        kind = tool.get("type") if isinstance(tool, dict) else tool
        raise _refuse(where, f"{kind!r} is an Anthropic server tool")
    extra = sorted(tool.keys() - _TOOL_KEYS)
    if extra:
        raise _refuse(f"{where}.{extra[0]}", "OpenAI function tools have no such setting")
    function: JSON = {"name": require_str(tool, "name", where)}
    if tool.get("description"):
        function["description"] = tool["description"]
    function["parameters"] = tool.get("input_schema") or {"type": "object", "properties": {}}
    if tool.get("strict"):
        function["strict"] = True
    return {"type": "function", "function": function}


def _tool_choice(choice: object, out: JSON) -> None:
    if choice is None:
        return
    if not isinstance(choice, dict) or choice.get("type") not in ("auto", "any", "none", "tool"):
        raise Untranslatable(f"'tool_choice' {choice!r} cannot be carried to OpenAI (auto, any, tool or none).")
    kind = choice["type"]
    if kind == "tool":
        out["tool_choice"] = {"type": "function", "function": {"name": require_str(choice, "name", "tool_choice")}}
    else:
        out["tool_choice"] = {"auto": "auto", "any": "required", "none": "none"}[kind]
    if choice.get("disable_parallel_tool_use"):
        out["parallel_tool_calls"] = False


def message_id(completion_id: object) -> str:
    """OpenAI's `chatcmpl-…` id as `msg_…`, the inverse of the upstream translator's mapping."""
    text = completion_id if isinstance(completion_id, str) else ""
    return "msg_" + text.removeprefix("chatcmpl-")


def anthropic_usage(usage: object) -> JSON:
    """Anthropic's input_tokens exclude cache reads; OpenAI's prompt_tokens include them."""
    details = usage.get("prompt_tokens_details") if isinstance(usage, dict) else None
    cached = int_field(details, "cached_tokens")
    out: JSON = {
        "input_tokens": max(int_field(usage, "prompt_tokens") - cached, 0),
        "output_tokens": int_field(usage, "completion_tokens"),
    }
    if cached:
        out["cache_read_input_tokens"] = cached
    return out


def openai_response_to_anthropic(data: JSON, model: str) -> JSON:
    """The Messages API answer for an OpenAI `chat.completion`; `model` is what the client asked for."""
    choices = data.get("choices") or []
    if not choices:
        raise Untranslatable("the OpenAI answer has no choices to carry to Anthropic.")
    choice = choices[0]
    message = choice.get("message") or {}
    for key in ("audio", "function_call"):
        if message.get(key) is not None:
            raise Untranslatable(f"choices[0].message.{key} cannot be carried to Anthropic.")
    if message.get("annotations"):
        raise Untranslatable("choices[0].message.annotations (citations) cannot be carried to Anthropic.")
    # `reasoning_content` (DeepSeek, vLLM) is left out: the client did not ask for thinking.
    blocks: list[JSON] = []
    content = message.get("content")
    if isinstance(content, list):
        content = "".join(part.get("text") or part.get("refusal") or "" for part in content)
    for text in (content, message.get("refusal")):
        if text:
            blocks.append({"type": "text", "text": text})
    for index, call in enumerate(message.get("tool_calls") or []):
        where = f"choices[0].message.tool_calls[{index}]"
        function = call.get("function") or {}
        blocks.append(
            {
                "type": "tool_use",
                "id": require_str(call, "id", where),
                "name": require_str(function, "name", f"{where}.function"),
                "input": parse_arguments(function.get("arguments"), f"{where}.function.arguments", "Anthropic"),
            }
        )
    reason = FINISH_TO_STOP.get(choice.get("finish_reason") or "", "end_turn")
    if message.get("refusal") and reason == "end_turn":
        reason = "refusal"
    return {
        "id": message_id(data.get("id")),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": blocks,
        "stop_reason": reason,
        "stop_sequence": None,
        "usage": anthropic_usage(data.get("usage")),
    }
