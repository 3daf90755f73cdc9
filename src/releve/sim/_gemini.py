"""Google's Gemini API (`/v1beta/models/{model}:generateContent` and `:streamGenerateContent`).

The model comes from the URL, not the body. Field names are read in
camelCase or snake_case, because Google's JSON parser accepts both and clients
send both. Streaming follows Google's two forms: with `?alt=sse`, server-sent
`data:` events separated by CRLF CRLF with no `[DONE]`; without it, one JSON
array written element by element. Each chunk repeats `usageMetadata` with the
count so far, so a client that keeps the first one instead of the last is
caught. Errors use Google's `{"error": {"code", "message", "status"}}`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

import orjson
from aiohttp import web

from ._conversation import Conversation, Finish, Reply, reply, result_text
from ._family import Family, Stream
from ._requests import ApiError
from ._state import SimState

__all__ = [
    "GEMINI",
    "GenerateRequest",
    "answer",
    "error_body",
    "generate",
    "generate_chunks",
    "parse_generate",
    "stream_answer",
]

FINISH_REASONS: Final[Mapping[Finish, str]] = {
    Finish.STOP: "STOP",
    Finish.LENGTH: "MAX_TOKENS",
    Finish.STOP_SEQUENCE: "STOP",
    Finish.TOOL_CALL: "STOP",
}
STATUSES: Final[Mapping[int, str]] = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
MALFORMED: Final = b'data: {"candidates": [{"content": {"parts": [{"te\r\n\r\n'
_SNAKE = re.compile(r"(?<!^)(?=[A-Z])")


@dataclass(frozen=True, slots=True)
class GenerateRequest:
    model: str
    conversation: Conversation


def _get(obj: Mapping[str, Any], camel: str) -> Any:
    value = obj.get(camel)
    return obj.get(_SNAKE.sub("_", camel).lower()) if value is None else value


def parse_generate(model: str, body: Any) -> GenerateRequest:
    if not isinstance(body, dict):
        raise ApiError(400, "Invalid JSON payload received. Expected an object.")
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        raise ApiError(400, "* GenerateContentRequest.contents: contents is not specified\n")
    prompt_tokens = len(_parts_text(_system_parts(body)).split())
    last_user_text = ""
    results: list[str] = []  # the function responses of the latest content, once the loop ends
    for i, content in enumerate(contents):
        role = content.get("role", "user") if isinstance(content, dict) else None
        if role not in ("user", "model"):
            raise ApiError(400, "Please use a valid role: user, model.")
        parts = content.get("parts") if isinstance(content, dict) else None
        if not isinstance(parts, list) or not parts or not all(isinstance(p, dict) for p in parts):
            raise ApiError(400, f"* GenerateContentRequest.contents[{i}].parts: contents.parts must not be empty.\n")
        text = _parts_text(parts)
        results = [result_text(_unwrap(r.get("response")))
                   for p in parts if isinstance(r := _get(p, "functionResponse"), dict)]
        prompt_tokens += len(text.split()) + sum(len(r.split()) for r in results)
        if role == "user" and any(isinstance(p.get("text"), str) for p in parts):
            last_user_text = text
    last = contents[-1]
    prefix = tool_result = None
    if last.get("role") == "model":
        prefix = _parts_text(last["parts"], "")
    elif results:
        tool_result = " ".join(results)
    config = _get(body, "generationConfig") or {}
    if not isinstance(config, dict):
        raise ApiError(400, "Invalid value at 'generation_config': expected an object.")
    max_tokens = _get(config, "maxOutputTokens")
    if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1):
        raise ApiError(400, "* GenerateContentRequest.generation_config.max_output_tokens: must be positive\n")
    for field, high in (("temperature", 2), ("topP", 1)):
        value = _get(config, field)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= high
        ):
            raise ApiError(400, f"* GenerateContentRequest.generation_config.{field}: must be between 0 and {high}\n")
    stops = _get(config, "stopSequences") or []
    if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
        raise ApiError(400, "Invalid value at 'generation_config.stop_sequences': expected a list of strings.")
    conversation = Conversation(
        last_user_text, prompt_tokens, max_tokens, prefix, tool_result, _tool(body), tuple(stops)
    )
    return GenerateRequest(model, conversation)


def _system_parts(body: dict[str, Any]) -> list[Any]:
    system = _get(body, "systemInstruction")
    if system is None:
        return []
    parts = system.get("parts") if isinstance(system, dict) else None
    if not isinstance(parts, list) or not all(isinstance(p, dict) for p in parts):
        raise ApiError(400, "Invalid value at 'system_instruction': expected a Content with parts.")
    return parts


def _parts_text(parts: list[Any], separator: str = " ") -> str:
    """The text parts' texts; inline data, function calls and responses carry no text."""
    return separator.join(p["text"] for p in parts if isinstance(p.get("text"), str))


def _tool(body: dict[str, Any]) -> str | None:
    """The first declared function, or the first one `toolConfig` allows; None when it says NONE."""
    tools = body.get("tools")
    if tools is None:
        return None
    names = []
    for i, tool in enumerate(tools if isinstance(tools, list) else [None]):
        if not isinstance(tool, dict):
            raise ApiError(400, f"Invalid value at 'tools[{i}]': expected a Tool object.")
        for declaration in _get(tool, "functionDeclarations") or []:
            name = declaration.get("name") if isinstance(declaration, dict) else None
            if not isinstance(name, str) or not name:
                raise ApiError(400, f"* GenerateContentRequest.tools[{i}].function_declarations: name is required\n")
            names.append(name)
    tool_config = _get(body, "toolConfig")
    calling = _get(tool_config, "functionCallingConfig") if isinstance(tool_config, dict) else None
    if isinstance(calling, dict):
        if calling.get("mode") == "NONE":
            return None
        allowed = _get(calling, "allowedFunctionNames")
        if isinstance(allowed, list) and allowed:
            names = [n for n in names if n in allowed]
    return names[0] if names else None


def _parts(answer: Reply) -> list[dict[str, Any]]:
    call = answer.tool_call
    if call is not None:
        return [{"functionCall": {"name": call.name, "args": call.arguments}}]
    return [{"text": answer.text}]


def _response(request: GenerateRequest, seq: int, parts: list[Any], finish: str | None, tokens: int) -> bytes:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finish is not None:
        candidate["finishReason"] = finish
    prompt = request.conversation.prompt_tokens
    usage = {"promptTokenCount": prompt, "candidatesTokenCount": tokens, "totalTokenCount": prompt + tokens}
    return orjson.dumps(
        {"candidates": [candidate], "usageMetadata": usage, "modelVersion": request.model, "responseId": f"sim-{seq}"}
    )


def generate(name: str, request: GenerateRequest, seq: int) -> bytes:
    answer = reply(name, request.conversation)
    return _response(request, seq, _parts(answer), FINISH_REASONS[answer.finish], answer.output_tokens)


def generate_chunks(name: str, request: GenerateRequest, seq: int) -> Iterator[bytes]:
    """One GenerateContentResponse per word, the last with the finish reason; a function call comes whole."""
    answer = reply(name, request.conversation)
    finish = FINISH_REASONS[answer.finish]
    if answer.tool_call is not None or not answer.pieces:
        yield _response(request, seq, _parts(answer), finish, answer.output_tokens)
        return
    last = len(answer.pieces) - 1
    for i, piece in enumerate(answer.pieces):
        yield _response(request, seq, [{"text": piece}], finish if i == last else None, i + 1)


def _sse(chunks: Iterator[bytes]) -> Iterator[bytes]:
    for chunk in chunks:
        yield b"data: " + chunk + b"\r\n\r\n"


def _json_array(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """What Google sends without `alt=sse`: a JSON array whose elements arrive one at a time."""
    opening = b"["
    for chunk in chunks:
        yield opening + chunk
        opening = b",\r\n"
    yield b"]"


def answer(sim: SimState, request: web.Request, body: Any) -> bytes | Stream:
    """`:generateContent`: the whole response at once."""
    parsed = parse_generate(request.match_info["model"], body)
    return generate(sim.name, parsed, sim.next_seq())


def stream_answer(sim: SimState, request: web.Request, body: Any) -> bytes | Stream:
    """`:streamGenerateContent`: server-sent events with `?alt=sse`, else a JSON array sent piecemeal."""
    parsed = parse_generate(request.match_info["model"], body)
    chunks = generate_chunks(sim.name, parsed, sim.next_seq())
    if request.query.get("alt") == "sse":
        return Stream(_sse(chunks))
    return Stream(_json_array(chunks), "application/json")


def _sent_key(request: web.BaseRequest) -> str | None:
    return request.headers.get("x-goog-api-key") or request.query.get("key")


def _key_error(name: str, sent: bool) -> ApiError:
    """What Google answers: 403 with no key at all, but 400 INVALID_ARGUMENT for a wrong one."""
    if sent:
        return ApiError(400, "API key not valid. Please pass a valid API key.")
    return ApiError(
        403,
        "Method doesn't allow unregistered callers (callers without established identity)."
        " Please use API Key or other form of API consumer identity to call this API.",
    )


def error_body(exc: ApiError) -> bytes:
    """Google's error object; a 429 also carries a RetryInfo detail, which Google's clients read."""
    status = exc.status
    error: dict[str, Any] = {
        "code": status,
        "message": exc.message,
        "status": STATUSES.get(status) or ("INTERNAL" if status >= 500 else "FAILED_PRECONDITION"),
    }
    if exc.retry_after is not None:
        delay = f"{exc.retry_after:g}s"
        error["details"] = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay}]
    return orjson.dumps({"error": error})


GEMINI: Final = Family("gemini", _sent_key, _key_error, error_body, MALFORMED)


def _unwrap(response: object) -> object:
    """Gemini wants an object as a function's response, so a plain result travels as {"content": …}.

    A model reads that wrapper as the result itself; so does the simulator.
    """
    if isinstance(response, dict) and set(response) == {"content"}:
        return response["content"]
    return response
