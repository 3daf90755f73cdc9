"""OpenAI's wire format at the inbound edge: request checks and error bodies.

Checked by hand with orjson instead of pydantic models: the checks are few,
and a validating model per request measured at about half the throughput.
Only what the router needs, or what would otherwise be forwarded broken, is
checked; unknown fields pass through untouched to the provider.
"""

from __future__ import annotations

from typing import Any

import orjson

from releve.errors import GatewayError, InvalidRequest, UpstreamError

from .providers import provider_verdict

__all__ = ["check_chat", "check_embeddings", "error_body", "parse_object", "relayed_error_body", "stream_error_event"]

_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})


def parse_object(raw: bytes) -> dict[str, Any]:
    if not raw:
        raise InvalidRequest("Request body is empty; send a JSON object.", code="invalid_json")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"Request body is not valid JSON: {exc.msg} (at position {exc.pos}).",
                             code="invalid_json") from None
    if not isinstance(body, dict):
        raise InvalidRequest("Request body must be a JSON object.", code="invalid_json")
    return body


def _model(body: dict[str, Any]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("'model' is required: the name of a route.", param="model")
    return model


def check_chat(body: dict[str, Any]) -> tuple[str, bool]:
    """(route name, stream?) or InvalidRequest naming the field."""
    model = _model(body)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("'messages' must be a non-empty array.", param="messages")
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            raise InvalidRequest(f"messages[{index}] must be an object.", param=f"messages[{index}]")
        role = message.get("role")
        if role not in _ROLES:
            raise InvalidRequest(f"messages[{index}].role must be one of {', '.join(sorted(_ROLES))}.",
                                 param=f"messages[{index}].role")
        if "content" not in message and not message.get("tool_calls") and not message.get("function_call"):
            raise InvalidRequest(f"messages[{index}].content is required.", param=f"messages[{index}].content")
    stream = body.get("stream", False)
    if stream is not None and not isinstance(stream, bool):
        raise InvalidRequest("'stream' must be true or false.", param="stream")
    for name in ("max_tokens", "max_completion_tokens", "n"):
        value = body.get(name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise InvalidRequest(f"'{name}' must be a positive integer.", param=name)
    for name in ("temperature", "top_p"):
        value = body.get(name)
        if value is not None and (not isinstance(value, int | float) or isinstance(value, bool)):
            raise InvalidRequest(f"'{name}' must be a number.", param=name)
    return model, bool(stream)


def check_embeddings(body: dict[str, Any]) -> str:
    model = _model(body)
    data = body.get("input")
    valid = (isinstance(data, str) and data) or (
        isinstance(data, list) and data and all(isinstance(item, str | int | list) for item in data))
    if not valid:
        raise InvalidRequest("'input' must be a non-empty string or array.", param="input")
    return model


def error_body(exc: GatewayError) -> bytes:
    return orjson.dumps({"error": {"message": exc.message, "type": exc.kind, "code": exc.code,
                                   "param": getattr(exc, "param", None)}})


def relayed_error_body(exc: UpstreamError) -> bytes:
    """The provider's verdict on the client's request, in OpenAI's shape."""
    verdict = provider_verdict(exc)
    return orjson.dumps({"error": {"message": verdict.message, "type": verdict.type or "invalid_request_error",
                                   "code": verdict.code or "invalid_request", "param": verdict.param}})


def stream_error_event(message: str, code: str) -> bytes:
    payload = orjson.dumps({"error": {"message": message, "type": "server_error", "code": code, "param": None}})
    return b"data: " + payload + b"\n\n"
