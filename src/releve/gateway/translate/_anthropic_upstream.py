"""Anthropic as an upstream: OpenAI requests out, Messages API answers and streams back.

Anthropic's shapes (docs.anthropic.com, Messages API): `system` is top-level,
turns alternate user/assistant, tool results travel as `tool_result` blocks in
a user turn, and `max_tokens` is required.
"""

from __future__ import annotations

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

__all__ = ["anthropic_response_to_openai", "openai_request_to_anthropic"]

FAMILY = "Anthropic"

_MAPPED = frozenset(
    [
        "max_completion_tokens",
        "max_tokens",
        "messages",
        "model",
        "parallel_tool_calls",
        "safety_identifier",
        "stop",
        "stream",
        "temperature",
        "tool_choice",
        "tools",
        "top_p",
        "user",
    ]
)

# The media types Anthropic accepts for base64 images.
_IMAGE_TYPES = frozenset({"image/gif", "image/jpeg", "image/png", "image/webp"})

_TOOL_CHOICE: dict[str, JSON] = {"auto": {"type": "auto"}, "none": {"type": "none"}, "required": {"type": "any"}}

# Anthropic stop_reason -> OpenAI finish_reason. `pause_turn` only follows server
# tools, which Relève never sends; an unknown future reason also reads as "stop".
STOP_TO_FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


def openai_request_to_anthropic(body: JSON, model: str, *, default_max_tokens: int = 4096) -> JSON:
    """The Messages API request for an OpenAI chat request; Untranslatable names what cannot be carried.

    System and developer messages are hoisted into `system` in order, wherever
    they stood: Anthropic has no mid-conversation system turn.
    """
    check_openai_fields(body, FAMILY, _MAPPED)
    system: list[JSON] = []
    turns: list[JSON] = []
    for index, message in enumerate(body["messages"]):  # shapes and roles checked at the edge (check_chat)
        where = f"messages[{index}]"
        role = message.get("role")
        if role not in ("system", "developer", "user", "assistant", "tool"):
            raise Untranslatable(
                f"{where}.role {role!r} cannot be carried to Anthropic: only system, developer, user, assistant "
                "and tool messages are translated (legacy function messages are not)."
            )
        if message.get("name") is not None:
            raise Untranslatable(f"{where}.name cannot be carried to Anthropic: its turns have no participant names.")
        if role in ("system", "developer"):
            texts = text_of(content_parts(message.get("content"), where), where, FAMILY)
            system += [{"type": "text", "text": text} for text in texts if text]
        elif role == "user":
            merge_turn(turns, "user", "content", _user_content(message, where))
        elif role == "assistant":
            merge_turn(turns, "assistant", "content", _assistant_content(message, where))
        else:
            merge_turn(turns, "user", "content", [_tool_result(message, where)])
    out: JSON = {"model": model, "messages": turns, "max_tokens": _max_tokens(body, default_max_tokens)}
    if system:
        out["system"] = system[0]["text"] if len(system) == 1 else system
    _sampling(body, out)
    tools = body.get("tools")
    if tools:
        out["tools"] = [_tool(tool, f"tools[{index}]") for index, tool in enumerate(tools)]
        choice = _tool_choice(body.get("tool_choice"))
        if body.get("parallel_tool_calls") is False and choice.get("type") != "none":
            choice["disable_parallel_tool_use"] = True
        if choice != {"type": "auto"}:
            out["tool_choice"] = choice
    elif body.get("tool_choice") not in (None, "auto", "none"):
        raise Untranslatable("'tool_choice' asks for a tool but 'tools' is empty.")
    user = body.get("safety_identifier") or body.get("user")
    if user is not None:
        out["metadata"] = {"user_id": str(user)}
    return out


def _max_tokens(body: JSON, default: int) -> int:
    value = body.get("max_completion_tokens") or body.get("max_tokens")  # positive integers, checked at the edge
    return value if isinstance(value, int) else default


def _sampling(body: JSON, out: JSON) -> None:
    temperature = body.get("temperature")
    if temperature is not None:
        if not isinstance(temperature, int | float) or not 0 <= temperature <= 1:
            raise Untranslatable(
                f"'temperature' {temperature} cannot be carried to Anthropic, "
                "whose range is 0 to 1 (OpenAI's is 0 to 2)."
            )
        out["temperature"] = temperature
    if body.get("top_p") is not None:
        out["top_p"] = body["top_p"]
    stop = body.get("stop")
    if stop:
        out["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    if body.get("stream"):
        out["stream"] = True


def _image(part: JSON, where: str) -> JSON:
    image = part.get("image_url")
    url = image.get("url") if isinstance(image, dict) else image
    if not isinstance(url, str):
        raise Untranslatable(f"{where}.image_url.url must be a string.")
    # `detail` (low/high/auto) is a resolution and cost hint Anthropic does not take; dropped on purpose.
    data_url = parse_data_url(url, f"{where}.image_url.url", FAMILY)
    if data_url is None:
        if not url.startswith(("https://", "http://")):
            raise Untranslatable(f"{where}.image_url.url must be a data URL or an http(s) URL for Anthropic.")
        return {"type": "image", "source": {"type": "url", "url": url}}
    media_type, data = data_url
    if media_type not in _IMAGE_TYPES:
        raise Untranslatable(
            f"{where}.image_url is {media_type}; Anthropic takes only {', '.join(sorted(_IMAGE_TYPES))}."
        )
    return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}


def _user_content(message: JSON, where: str) -> str | list[JSON]:
    content = message.get("content")
    if isinstance(content, str):
        return content
    blocks: list[JSON] = []
    for index, part in enumerate(content_parts(content, where)):
        kind = part.get("type")
        if kind == "text":
            if part.get("text"):
                blocks.append({"type": "text", "text": require_str(part, "text", f"{where}.content[{index}]")})
        elif kind == "image_url":
            blocks.append(_image(part, f"{where}.content[{index}]"))
        else:
            raise Untranslatable(
                f"{where}.content[{index}] is a {kind!r} part, which Relève does not carry to Anthropic "
                "(it takes text and images)."
            )
    return blocks


def _assistant_content(message: JSON, where: str) -> str | list[JSON]:
    for key in ("audio", "function_call"):
        if message.get(key) is not None:
            raise Untranslatable(f"{where}.{key} cannot be carried to Anthropic.")
    content = message.get("content")
    texts = text_of(content_parts(content, where), where, FAMILY, allow_refusal=True)
    refusal = message.get("refusal")
    if isinstance(refusal, str):
        texts.append(refusal)  # What the assistant said when it refused: part of the conversation.
    calls = message.get("tool_calls") or []
    if isinstance(content, str) and not calls and not refusal:
        return content
    blocks: list[JSON] = [{"type": "text", "text": text} for text in texts if text]
    for index, call in enumerate(calls):
        blocks.append(_tool_use(call, f"{where}.tool_calls[{index}]"))
    return blocks


def _tool_use(call: object, where: str) -> JSON:
    if not isinstance(call, dict) or call.get("type", "function") != "function":
        raise Untranslatable(f"{where} is not a function call; Anthropic carries function tools only.")
    function = call.get("function")
    if not isinstance(function, dict):
        raise Untranslatable(f"{where}.function must be an object.")
    return {
        "type": "tool_use",
        "id": safe_id(require_str(call, "id", where)),
        "name": require_str(function, "name", f"{where}.function"),
        "input": parse_arguments(function.get("arguments"), f"{where}.function.arguments", FAMILY),
    }


def _tool_result(message: JSON, where: str) -> JSON:
    result: JSON = {"type": "tool_result", "tool_use_id": safe_id(require_str(message, "tool_call_id", where))}
    content = message.get("content")
    if isinstance(content, str):
        if content:
            result["content"] = content
    else:
        texts = text_of(content_parts(content, where), where, FAMILY)
        blocks = [{"type": "text", "text": text} for text in texts if text]
        if blocks:
            result["content"] = blocks
    return result


def _tool(tool: object, where: str) -> JSON:
    if not isinstance(tool, dict) or tool.get("type") != "function":
        kind = tool.get("type") if isinstance(tool, dict) else tool
        raise Untranslatable(f"{where} is a {kind!r} tool; Anthropic carries function tools only.")
    function = tool.get("function")
    if not isinstance(function, dict):
        raise Untranslatable(f"{where}.function must be an object.")
    out: JSON = {"name": require_str(function, "name", f"{where}.function")}
    if function.get("description"):
        out["description"] = function["description"]
    out["input_schema"] = function.get("parameters") or {"type": "object", "properties": {}}
    if function.get("strict"):
        out["strict"] = True  # Anthropic's strict tool use: inputs constrained to the schema, as with OpenAI.
    return out


def _tool_choice(choice: object) -> JSON:
    if choice is None:
        return {"type": "auto"}
    if isinstance(choice, str) and choice in _TOOL_CHOICE:
        return dict(_TOOL_CHOICE[choice])
    if isinstance(choice, dict) and choice.get("type") == "function" and isinstance(choice.get("function"), dict):
        return {"type": "tool", "name": require_str(choice["function"], "name", "tool_choice.function")}
    raise Untranslatable(
        f"'tool_choice' {choice!r} cannot be carried to Anthropic (auto, none, required or a function)."
    )


def openai_id(message_id: object) -> str:
    """Anthropic's `msg_…` id as `chatcmpl-…`, reversible, so one answer keeps one id across families."""
    text = message_id if isinstance(message_id, str) else ""
    return "chatcmpl-" + text.removeprefix("msg_")


def anthropic_usage_to_openai(usage: object) -> JSON:
    """OpenAI counts every prompt token; Anthropic splits off the cached ones, so add them back."""
    cached = int_field(usage, "cache_read_input_tokens")
    prompt = int_field(usage, "input_tokens") + cached + int_field(usage, "cache_creation_input_tokens")
    return openai_usage(prompt, int_field(usage, "output_tokens"), cached=cached)


def _tool_call(block: JSON) -> JSON:
    return {
        "id": block["id"],
        "type": "function",
        "function": {"name": block["name"], "arguments": dumps(block.get("input") or {})},
    }


def anthropic_response_to_openai(data: JSON, *, created: int = 0) -> JSON:
    """The `chat.completion` for a Messages API answer.

    `created` is the caller's wall-clock second: a translator reads no clock.
    """
    texts: list[str] = []
    calls: list[JSON] = []
    for index, block in enumerate(data.get("content") or []):
        kind = block.get("type")
        if kind == "text":
            texts.append(block.get("text", ""))
        elif kind == "tool_use":
            calls.append(_tool_call(block))
        else:
            raise Untranslatable(f"content[{index}] is a {kind!r} block, which an OpenAI chat.completion cannot carry.")
    message: JSON = {"role": "assistant", "content": "".join(texts) if texts else None}
    if calls:
        message["tool_calls"] = calls
    return {
        "id": openai_id(data.get("id")),
        "object": "chat.completion",
        "created": created,
        "model": data.get("model", ""),
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": STOP_TO_FINISH.get(data.get("stop_reason") or "", "stop"),
            }
        ],
        "usage": anthropic_usage_to_openai(data.get("usage")),
    }
