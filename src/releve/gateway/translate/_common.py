"""What every translator shares: the OpenAI fields other families cannot carry, data URLs, JSON, ids.

Relève's internal model is OpenAI's Chat Completions format, as plain dicts.
A translator either carries a field exactly or raises `Untranslatable` naming
it; the few fields it drops on purpose are listed in `IGNORED` with the reason.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from releve.errors import ReleveError, Untranslatable

JSON = dict[str, Any]

# OpenAI request fields that change nothing the model generates, so a translator
# may leave them out:
#   store, metadata    keep a completion in OpenAI's dashboard and tag it there;
#   service_tier       OpenAI's billing and latency class;
#   prompt_cache_key   an optimisation hint for OpenAI's prompt cache;
#   stream_options     read by the stream translators (their `include_usage`), not sent upstream.
IGNORED = frozenset({"metadata", "prompt_cache_key", "service_tier", "store", "stream_options"})

# The value of each field that asks for nothing: sending it is the same as leaving it out.
_NEUTRAL: dict[str, object] = {
    "n": 1,
    "logprobs": False,
    "top_logprobs": 0,
    "presence_penalty": 0,
    "frequency_penalty": 0,
    "logit_bias": {},
    "functions": [],
    "modalities": ["text"],
    "response_format": {"type": "text"},
    "parallel_tool_calls": True,
}

_WHY: dict[str, str] = {
    "n": "it asks for {value} choices and {family} returns one answer per request",
    "logprobs": "{family} returns no token log-probabilities",
    "top_logprobs": "{family} returns no token log-probabilities",
    "logit_bias": "{family} has no way to bias tokens",
    "presence_penalty": "{family} has no presence penalty",
    "frequency_penalty": "{family} has no frequency penalty",
    "response_format": "{family} has no JSON output mode (got type {kind!r})",
    "functions": "legacy function calling is not translated; send 'tools' instead",
    "function_call": "legacy function calling is not translated; send 'tool_choice' instead",
    "seed": "{family} has no seed for reproducible sampling",
    "reasoning_effort": "{family} reasoning is configured differently and is not translated",
    "modalities": "{family} answers with text only (asked for {value})",
    "audio": "{family} does not answer with audio",
    "prediction": "{family} has no predicted outputs",
    "web_search_options": "{family} web search is a server tool Relève does not translate",
    "verbosity": "{family} has no verbosity setting",
}


class StreamError(ReleveError):
    """An upstream stream reported an error after its 200 (Anthropic's `error` event, an `error` chunk).

    `error_type` is the upstream's own error type (e.g. "overloaded_error"),
    for the caller to decide whether another target may still answer.
    """

    def __init__(self, message: str, *, error_type: str = "api_error") -> None:
        super().__init__(message)
        self.message = message
        self.error_type = error_type


def check_openai_fields(body: JSON, family: str, mapped: frozenset[str]) -> None:
    """Raise Untranslatable for the first field that asks for something `family` cannot do."""
    for key, value in body.items():
        if key in mapped or key in IGNORED or value is None or _NEUTRAL.get(key, ...) == value:
            continue
        kind = value.get("type") if isinstance(value, dict) else None
        why = _WHY.get(key, "Relève's {family} translator does not know this field").format(
            family=family, value=value, kind=kind
        )
        raise Untranslatable(
            f"'{key}' cannot be carried to {family}: {why}. Route this request to an OpenAI-compatible target."
        )


def dumps(value: object) -> str:
    """Compact JSON text, as OpenAI writes tool-call arguments."""
    return orjson.dumps(value).decode()


def parse_arguments(arguments: object, where: str, family: str) -> JSON:
    """A tool call's JSON-text arguments as the object other families carry."""
    if arguments is None or arguments == "":
        return {}  # OpenAI-compatible servers send "" for a call without parameters.
    if not isinstance(arguments, str):
        raise Untranslatable(f"{where} must be a JSON string, so the call cannot be carried to {family}.")
    try:
        parsed = orjson.loads(arguments)
    except orjson.JSONDecodeError as exc:
        raise Untranslatable(
            f"{where} is not valid JSON ({exc.msg}), so the call cannot be carried to {family}."
        ) from None
    if not isinstance(parsed, dict):
        raise Untranslatable(f"{where} must encode a JSON object for {family}, not {type(parsed).__name__}.")
    return parsed


def parse_data_url(url: str, where: str, family: str) -> tuple[str, str] | None:
    """(media type, base64 data) for a `data:` URL, None for any other URL."""
    if not url.startswith("data:"):
        return None
    header, comma, data = url[5:].partition(",")
    media_type, _, encoding = header.partition(";")
    if not comma or encoding != "base64" or not media_type:
        raise Untranslatable(f"{where} is a data URL that is not base64 with a media type, which {family} needs.")
    return media_type, data


def content_parts(content: object, where: str) -> list[JSON]:
    """OpenAI message content (a string or a list of parts) as a list of parts."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if isinstance(content, list) and all(isinstance(part, dict) for part in content):
        return content
    raise Untranslatable(f"{where}.content must be a string or an array of content parts.")


def text_of(parts: list[JSON], where: str, family: str, *, allow_refusal: bool = False) -> list[str]:
    """The texts of parts that may only be text (system messages, tool results)."""
    texts = []
    for index, part in enumerate(parts):
        kind = part.get("type")
        if kind == "text" or (allow_refusal and kind == "refusal"):
            value = part.get(kind)
            if not isinstance(value, str):
                raise Untranslatable(f"{where}.content[{index}].{kind} must be a string.")
            texts.append(value)
        else:
            raise Untranslatable(f"{where}.content[{index}] is a {kind!r} part, which {family} cannot carry here.")
    return texts


def merge_turn(turns: list[JSON], role: str, key: str, content: str | list[JSON]) -> None:
    """Append a turn, or extend the previous one when it has the same role (both families need alternation)."""
    if not content:
        return  # Empty text carries nothing, and both families reject empty turns.
    if turns and turns[-1]["role"] == role:
        previous = turns[-1][key]
        turns[-1][key] = as_blocks(previous) + as_blocks(content)
    else:
        turns.append({"role": role, key: content})


def as_blocks(content: str | list[JSON]) -> list[JSON]:
    return [{"type": "text", "text": content}] if isinstance(content, str) else content


def require_str(obj: JSON, key: str, where: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise Untranslatable(f"{where}.{key} must be a non-empty string.")
    return value


_UNSAFE_ID = re.compile(r"[^A-Za-z0-9_-]")


def safe_id(value: str) -> str:
    """An id restricted to what Anthropic accepts for tool-use ids (`^[a-zA-Z0-9_-]+$`)."""
    return _UNSAFE_ID.sub("_", value)


def openai_usage(prompt: int, completion: int, *, cached: int = 0, reasoning: int = 0) -> JSON:
    usage: JSON = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
    if cached:
        usage["prompt_tokens_details"] = {"cached_tokens": cached}
    if reasoning:
        usage["completion_tokens_details"] = {"reasoning_tokens": reasoning}
    return usage


def chunk(ident: str, created: int, model: str, delta: JSON, finish_reason: str | None, *, usage_field: bool) -> JSON:
    """One `chat.completion.chunk` with a single choice; `usage: null` appears when the client asked for usage."""
    out: JSON = {
        "id": ident,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
    }
    if usage_field:
        out["usage"] = None
    return out


def usage_chunk(ident: str, created: int, model: str, usage: JSON) -> JSON:
    """The last chunk OpenAI sends when `stream_options.include_usage` is set: no choices, only usage."""
    return {
        "id": ident,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [],
        "usage": usage,
    }


def int_field(obj: object, key: str) -> int:
    """A token count from an upstream usage object, 0 when absent or not an integer."""
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
