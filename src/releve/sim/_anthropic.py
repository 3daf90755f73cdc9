"""Anthropic's Messages API (`POST /v1/messages`): reading its bodies and spelling its answers.

Validation follows Anthropic's rules where a gateway could get them wrong when
translating: `max_tokens` is required, an `anthropic-version` header must be
present, and a prefilled assistant turn may not end with whitespace (Anthropic
refuses it, and a mid-stream recovery that resends a partial answer as a
prefill is exactly where that bites). Error messages copy Anthropic's
`field: problem` style. Everything else it does not use, it accepts.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

import orjson
from aiohttp import web

from ._conversation import Conversation, Finish, Reply, reply, result_text, split_arguments
from ._family import Family, Stream, bearer
from ._requests import ApiError
from ._state import SimState

__all__ = [
    "ANTHROPIC",
    "TOOL_USE_ID",
    "MessagesRequest",
    "answer",
    "error_body",
    "message",
    "message_events",
    "parse_messages",
]

TOOL_USE_ID: Final = "toolu_sim_1"
STOP_REASONS: Final[Mapping[Finish, str]] = {
    Finish.STOP: "end_turn",
    Finish.LENGTH: "max_tokens",
    Finish.STOP_SEQUENCE: "stop_sequence",
    Finish.TOOL_CALL: "tool_use",
}
ERROR_TYPES: Final[Mapping[int, str]] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
MALFORMED: Final = b'event: content_block_delta\ndata: {"type": "content_block_delta", "index": 0, "del\n\n'


@dataclass(frozen=True, slots=True)
class MessagesRequest:
    model: str
    stream: bool
    conversation: Conversation


def parse_messages(body: Any) -> MessagesRequest:
    if not isinstance(body, dict):
        raise ApiError(400, "The request body is not valid JSON." if body is not None else "Request body is empty.")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise ApiError(400, "model: Field required")
    max_tokens = body.get("max_tokens")
    if max_tokens is None:
        raise ApiError(400, "max_tokens: Field required")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise ApiError(400, "max_tokens: Input should be a valid integer greater than or equal to 1")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "messages: at least one message is required")
    prompt_tokens = len(_system_text(body.get("system")).split())
    last_user_text = ""
    results: list[str] = []  # the tool results of the latest message, once the loop ends
    for i, item in enumerate(messages):
        role = item.get("role") if isinstance(item, dict) else None
        if role not in ("user", "assistant"):
            raise ApiError(400, f"messages.{i}.role: Input should be 'user' or 'assistant'")
        texts, results = _blocks(item.get("content"), f"messages.{i}.content")
        prompt_tokens += sum(len(t.split()) for t in (*texts, *results))
        if role == "user" and texts:
            last_user_text = " ".join(texts)
    last = messages[-1]
    prefix = tool_result = None
    if last["role"] == "assistant":
        texts, _ = _blocks(last.get("content"), "")
        if texts and texts[-1] != texts[-1].rstrip():
            raise ApiError(400, "messages: final assistant content cannot end with trailing whitespace")
        prefix = "".join(texts)
    elif results:
        tool_result = " ".join(results)
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise ApiError(400, "stream: Input should be a valid boolean")
    for field in ("temperature", "top_p"):
        value = body.get(field)
        # Anthropic caps temperature at 1 where OpenAI allows 2: a translation that copies it fails here.
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1):
            raise ApiError(400, f"{field}: Input should be a number between 0 and 1")
    conversation = Conversation(
        last_user_text, prompt_tokens, max_tokens, prefix, tool_result, _tool(body), _stop_sequences(body)
    )
    return MessagesRequest(model, stream, conversation)


def _system_text(system: Any) -> str:
    if system is None or isinstance(system, str):
        return system or ""
    if isinstance(system, list) and all(isinstance(b, dict) and isinstance(b.get("text"), str) for b in system):
        return " ".join(b["text"] for b in system)
    raise ApiError(400, "system: Input should be a valid string or a list of text blocks")


def _blocks(content: Any, where: str) -> tuple[list[str], list[str]]:
    """A message's text blocks and its tool results' texts; images and tool_use blocks carry no text."""
    if isinstance(content, str):
        return [content], []
    if not isinstance(content, list):
        raise ApiError(400, f"{where}: Input should be a valid string or a list of content blocks")
    texts, results = [], []
    for j, block in enumerate(content):
        kind = block.get("type") if isinstance(block, dict) else None
        if not isinstance(kind, str):
            raise ApiError(400, f"{where}.{j}.type: Field required")
        if kind == "text":
            if not isinstance(block.get("text"), str):
                raise ApiError(400, f"{where}.{j}.text: Field required")
            texts.append(block["text"])
        elif kind == "tool_result":
            results.append(_tool_result_text(block.get("content"), f"{where}.{j}.content"))
    return texts, results


def _tool_result_text(content: Any, where: str) -> str:
    if content is None or isinstance(content, str):
        return result_text(content or "")
    texts, _ = _blocks(content, where)
    return result_text(" ".join(texts))


def _tool(body: dict[str, Any]) -> str | None:
    tools = body.get("tools")
    if tools is None:
        return None
    if not isinstance(tools, list):
        raise ApiError(400, "tools: Input should be a valid list")
    names = []
    for i, tool in enumerate(tools):
        name = tool.get("name") if isinstance(tool, dict) else None
        if not isinstance(name, str) or not name:
            raise ApiError(400, f"tools.{i}.name: Field required")
        names.append(name)
    choice = body.get("tool_choice")
    kind = choice.get("type") if isinstance(choice, dict) else None
    if choice is not None and kind not in ("auto", "any", "tool", "none"):
        raise ApiError(400, "tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'")
    if not names or kind == "none":
        return None
    if kind == "tool":
        chosen = choice.get("name") if isinstance(choice, dict) else None
        if chosen not in names:
            raise ApiError(400, f"tool_choice.name: Tool {chosen!r} not found in tools")
        return str(chosen)
    return names[0]


def _stop_sequences(body: dict[str, Any]) -> tuple[str, ...]:
    value = body.get("stop_sequences")
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ApiError(400, "stop_sequences: Input should be a valid list of strings")
    return tuple(value)


def _content(answer: Reply) -> list[dict[str, Any]]:
    call = answer.tool_call
    if call is not None:
        return [{"type": "tool_use", "id": TOOL_USE_ID, "name": call.name, "input": call.arguments}]
    # An empty answer (a prefill that was already complete) has no block at all, as with Anthropic.
    return [{"type": "text", "text": answer.text}] if answer.pieces else []


def message(name: str, request: MessagesRequest, seq: int) -> bytes:
    answer = reply(name, request.conversation)
    return orjson.dumps(
        {
            "id": f"msg_sim_{seq}",
            "type": "message",
            "role": "assistant",
            "model": request.model,
            "content": _content(answer),
            "stop_reason": STOP_REASONS[answer.finish],
            "stop_sequence": answer.stop_sequence,
            "usage": {"input_tokens": request.conversation.prompt_tokens, "output_tokens": answer.output_tokens},
        }
    )


def _event(kind: str, data: dict[str, Any]) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps({"type": kind, **data}) + b"\n\n"


def message_events(name: str, request: MessagesRequest, seq: int) -> Iterator[bytes]:
    """Anthropic's event sequence: message_start, block start, ping, deltas, block stop, message_delta, stop."""
    answer = reply(name, request.conversation)
    start: dict[str, Any] = {
        "id": f"msg_sim_{seq}",
        "type": "message",
        "role": "assistant",
        "model": request.model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": request.conversation.prompt_tokens, "output_tokens": 1},
    }
    yield _event("message_start", {"message": start})
    call = answer.tool_call
    if call is not None:
        block = {"type": "tool_use", "id": TOOL_USE_ID, "name": call.name, "input": {}}
        deltas = [{"type": "input_json_delta", "partial_json": p} for p in split_arguments(call.arguments_json)]
    else:
        block = {"type": "text", "text": ""}
        deltas = [{"type": "text_delta", "text": p} for p in answer.pieces]
    if deltas:  # a tool call always has some; an empty text answer has no block at all
        yield _event("content_block_start", {"index": 0, "content_block": block})
    yield _event("ping", {})
    for delta in deltas:
        yield _event("content_block_delta", {"index": 0, "delta": delta})
    if deltas:
        yield _event("content_block_stop", {"index": 0})
    stop = {"stop_reason": STOP_REASONS[answer.finish], "stop_sequence": answer.stop_sequence}
    yield _event("message_delta", {"delta": stop, "usage": {"output_tokens": answer.output_tokens}})
    yield _event("message_stop", {})


def answer(sim: SimState, request: web.Request, body: Any) -> bytes | Stream:
    """The `/v1/messages` answer, after the `anthropic-version` check Anthropic makes on every call."""
    if "anthropic-version" not in request.headers:
        raise ApiError(400, "anthropic-version: header is required")
    parsed = parse_messages(body)
    seq = sim.next_seq()
    if parsed.stream:
        return Stream(message_events(sim.name, parsed, seq))
    return message(sim.name, parsed, seq)


def _sent_key(request: web.BaseRequest) -> str | None:
    """`x-api-key`, or a bearer token: Anthropic takes both, and recent official SDKs send the latter."""
    return request.headers.get("x-api-key") or bearer(request)


def _key_error(name: str, sent: bool) -> ApiError:
    return ApiError(401, "invalid x-api-key" if sent else "x-api-key header is required")


def error_body(exc: ApiError) -> bytes:
    """`{"type": "error", "error": {"type", "message"}}`, the type named after the status as Anthropic does."""
    status = exc.status
    kind = ERROR_TYPES.get(status) or ("api_error" if status >= 500 else "invalid_request_error")
    return orjson.dumps({"type": "error", "error": {"type": kind, "message": exc.message}})


ANTHROPIC: Final = Family("anthropic", _sent_key, _key_error, error_body, MALFORMED)
