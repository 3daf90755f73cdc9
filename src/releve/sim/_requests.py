"""Reading OpenAI request bodies: validate once, keep only what the answer needs.

The simulator rejects what OpenAI rejects (a 400 in OpenAI's error shape, with
`param` naming the field) so that a gateway's handling of client mistakes can
be tested against it, and it is lenient about everything else it does not use.
Azure OpenAI sends the same bodies, so it reads them here too.

`ApiError` is shared by every family: each renders it in its own error shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import orjson

from ._conversation import Conversation, result_text

__all__ = [
    "UNPARSABLE",
    "ApiError",
    "ChatRequest",
    "EmbeddingsRequest",
    "load_body",
    "parse_chat",
    "parse_embeddings",
]

UNPARSABLE: Final = object()
MAX_DIMENSIONS = 8192
DEFAULT_DIMENSIONS = 8


class ApiError(Exception):
    """A request the simulator answers with an error instead of an answer.

    `type`, `code` and `param` are OpenAI's fields; other families derive their
    own error type from `status`. `retry_after` (seconds) lets a family put the
    delay in its body as well as in the `Retry-After` header, as Google does.
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class ChatRequest:
    model: str
    stream: bool
    include_usage: bool
    conversation: Conversation


@dataclass(frozen=True, slots=True)
class EmbeddingsRequest:
    model: str
    inputs: tuple[str, ...]
    dimensions: int
    base64: bool


def load_body(raw: bytes) -> Any:
    """Parse a request body once; None when empty, `UNPARSABLE` when it is not JSON."""
    if not raw:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return UNPARSABLE


def parse_chat(body: Any, *, model: str | None = None) -> ChatRequest:
    """Read a chat body; `model` (Azure's deployment) replaces the body's, which is then optional."""
    body = _object(body)
    if model is None:
        model = _model(body)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "'messages' must be a non-empty array of message objects.", param="messages")
    prompt_tokens = 0
    last_user_text = ""
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise ApiError(400, f"messages[{i}] must be an object with a string 'role'.", param=f"messages[{i}]")
        text = _text(message.get("content"), i)
        prompt_tokens += len(text.split())
        if message["role"] == "user":
            last_user_text = text
    last = messages[-1]
    prefix = tool_result = None
    if last["role"] == "assistant":
        prefix = _text(last.get("content"), len(messages) - 1)
    elif last["role"] in ("tool", "function"):
        tool_result = result_text(_text(last.get("content"), len(messages) - 1))
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise ApiError(400, "'stream' must be a boolean.", param="stream")
    options = body.get("stream_options")
    include_usage = isinstance(options, dict) and options.get("include_usage") is True
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1):
        raise ApiError(400, "'max_tokens' must be an integer >= 1.", param="max_tokens")
    conversation = Conversation(
        last_user_text, prompt_tokens, max_tokens, prefix, tool_result, _tool(body), _stop(body.get("stop"))
    )
    return ChatRequest(model, bool(stream), include_usage, conversation)


def _tool(body: dict[str, Any]) -> str | None:
    """The function a user turn makes the model call: the first declared, or the one `tool_choice` names."""
    tools = body.get("tools")
    if tools is None:
        return None
    names = []
    for i, tool in enumerate(tools if isinstance(tools, list) else [None]):
        function = tool.get("function") if isinstance(tool, dict) else None
        name = function.get("name") if isinstance(function, dict) else None
        if not isinstance(name, str) or not name:
            raise ApiError(
                400, f"tools[{i}] must be {{'type': 'function', 'function': {{'name': ...}}}}.", param="tools"
            )
        names.append(name)
    choice = body.get("tool_choice")
    if not names or choice == "none":
        return None
    if isinstance(choice, dict):
        function = choice.get("function")
        chosen = function.get("name") if isinstance(function, dict) else None
        if chosen not in names:
            raise ApiError(400, "'tool_choice' must name a function declared in 'tools'.", param="tool_choice")
        return str(chosen)
    return names[0]


def _stop(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ApiError(400, "'stop' must be a string or an array of strings.", param="stop")


def parse_embeddings(body: Any, *, model: str | None = None) -> EmbeddingsRequest:
    """Read an embeddings body; `model` (Azure's deployment) replaces the body's, as in `parse_chat`."""
    body = _object(body)
    if model is None:
        model = _model(body)
    value = body.get("input")
    if isinstance(value, str):
        inputs: tuple[str, ...] = (value,)
    elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        inputs = tuple(value)
    else:
        raise ApiError(400, "'input' must be a string or a non-empty array of strings.", param="input")
    dimensions = body.get("dimensions", DEFAULT_DIMENSIONS)
    if isinstance(dimensions, bool) or not isinstance(dimensions, int) or not 1 <= dimensions <= MAX_DIMENSIONS:
        raise ApiError(400, f"'dimensions' must be an integer between 1 and {MAX_DIMENSIONS}.", param="dimensions")
    encoding = body.get("encoding_format", "float")
    if encoding not in ("float", "base64"):
        raise ApiError(400, "'encoding_format' must be 'float' or 'base64'.", param="encoding_format")
    return EmbeddingsRequest(model, inputs, dimensions, encoding == "base64")


def _object(body: Any) -> dict[str, Any]:
    if body is UNPARSABLE:
        raise ApiError(400, "We could not parse the JSON body of your request: it is not valid JSON.")
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    return body


def _model(body: dict[str, Any]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise ApiError(400, "you must provide a model parameter", param="model")
    return model


def _text(content: Any, index: int) -> str:
    """A message's text: a string, or the `text` parts of a list joined by spaces."""
    if isinstance(content, str):
        return content
    if content is None:
        return ""
    if isinstance(content, list):
        texts = []
        for part in content:
            if not isinstance(part, dict):
                raise ApiError(
                    400, f"messages[{index}].content parts must be objects.", param=f"messages[{index}].content"
                )
            if part.get("type") == "text":
                text = part.get("text")
                if not isinstance(text, str):
                    raise ApiError(
                        400,
                        f"messages[{index}].content text parts need a string 'text'.",
                        param=f"messages[{index}].content",
                    )
                texts.append(text)
        return " ".join(texts)
    raise ApiError(
        400, f"messages[{index}].content must be a string or an array of parts.", param=f"messages[{index}].content"
    )
