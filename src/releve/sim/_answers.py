"""Deterministic OpenAI answers, as bytes ready to write.

Everything here is a pure function of the request, the simulator's name and a
sequence number, so a test can predict an answer exactly and a benchmark
measures the gateway rather than the simulator. `created` is a constant for
the same reason: two runs give byte-identical bodies. What to answer is
decided in `_conversation.reply`, shared with the other families; this module
only spells it the OpenAI way (Azure OpenAI uses it too).

Streaming sends one piece per word, each keeping its leading whitespace, so
the concatenated deltas reproduce the non-streaming content exactly; a tool
call's arguments arrive in several pieces, as OpenAI sends them.
"""

from __future__ import annotations

import base64
import hashlib
import math
import struct
from collections.abc import Iterator, Mapping
from typing import Any, Final

import orjson

from ._conversation import Finish, Reply, reply, split_arguments
from ._requests import ChatRequest, EmbeddingsRequest

__all__ = [
    "CREATED",
    "DONE",
    "MALFORMED_EVENT",
    "MODEL_IDS",
    "TOOL_CALL_ID",
    "chat_chunks",
    "chat_completion",
    "embedding_vector",
    "embeddings",
    "error_body",
    "malformed",
    "models",
]

CREATED: Final = 1_700_000_000
MODEL_IDS: Final = ("gpt-4o", "gpt-4o-mini", "text-embedding-3-small", "sim-echo")
DONE: Final = b"data: [DONE]\n\n"
TOOL_CALL_ID: Final = "call_sim_1"
# An event whose data is cut inside a JSON object: what a broken upstream relays.
MALFORMED_EVENT: Final = b'data: {"id": "chatcmpl-sim-malformed", "object": "chat.completion.chunk", "choi\n\n'
FINISH_REASONS: Final[Mapping[Finish, str]] = {
    Finish.STOP: "stop",
    Finish.LENGTH: "length",
    Finish.STOP_SEQUENCE: "stop",
    Finish.TOOL_CALL: "tool_calls",
}


def _usage(request: ChatRequest, completion_tokens: int) -> dict[str, int]:
    prompt_tokens = request.conversation.prompt_tokens
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def _message(answer: Reply) -> dict[str, Any]:
    call = answer.tool_call
    if call is None:
        return {"role": "assistant", "content": answer.text}
    function = {"name": call.name, "arguments": call.arguments_json}
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": TOOL_CALL_ID, "type": "function", "function": function}],
    }


def chat_completion(name: str, request: ChatRequest, seq: int) -> bytes:
    answer = reply(name, request.conversation)
    return orjson.dumps(
        {
            "id": f"chatcmpl-sim-{seq}",
            "object": "chat.completion",
            "created": CREATED,
            "model": request.model,
            "choices": [
                {
                    "index": 0,
                    "message": _message(answer),
                    "logprobs": None,
                    "finish_reason": FINISH_REASONS[answer.finish],
                }
            ],
            "usage": _usage(request, answer.output_tokens),
        }
    )


def chat_chunks(name: str, request: ChatRequest, seq: int) -> Iterator[bytes]:
    """SSE events: role, one per word (or argument piece), finish, optional usage, then `[DONE]`."""
    answer = reply(name, request.conversation)
    base: dict[str, Any] = {
        "id": f"chatcmpl-sim-{seq}",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": request.model,
    }

    def event(delta: dict[str, Any], finish: str | None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return b"data: " + orjson.dumps({**base, "choices": [choice]}) + b"\n\n"

    call = answer.tool_call
    if call is None:
        yield event({"role": "assistant", "content": ""}, None)
        for piece in answer.pieces:
            yield event({"content": piece}, None)
    else:
        function = {"name": call.name, "arguments": ""}
        start = {"index": 0, "id": TOOL_CALL_ID, "type": "function", "function": function}
        yield event({"role": "assistant", "content": None, "tool_calls": [start]}, None)
        for piece in split_arguments(call.arguments_json):
            yield event({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}, None)
    yield event({}, FINISH_REASONS[answer.finish])
    if request.include_usage:
        usage = _usage(request, answer.output_tokens)
        yield b"data: " + orjson.dumps({**base, "choices": [], "usage": usage}) + b"\n\n"
    yield DONE


def embedding_vector(text: str, dimensions: int) -> list[float]:
    """A unit vector drawn from SHA-256 of the text: equal texts, equal vectors."""
    raw = bytearray()
    counter = 0
    seed = text.encode()
    while len(raw) < 2 * dimensions:
        raw += hashlib.sha256(counter.to_bytes(4, "big") + seed).digest()
        counter += 1
    values = [(v / 32767.5) - 1.0 for v in struct.unpack_from(f">{dimensions}H", raw)]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]


def embeddings(request: EmbeddingsRequest) -> bytes:
    data = []
    for index, text in enumerate(request.inputs):
        vector = embedding_vector(text, request.dimensions)
        encoded: Any = vector
        if request.base64:
            # What the official SDK asks for by default: little-endian float32, base64.
            encoded = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    tokens = sum(len(text.split()) for text in request.inputs)
    return orjson.dumps(
        {
            "object": "list",
            "data": data,
            "model": request.model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
    )


def models(owner: str) -> bytes:
    return orjson.dumps(
        {
            "object": "list",
            "data": [{"id": m, "object": "model", "created": CREATED, "owned_by": owner} for m in MODEL_IDS],
        }
    )


def error_body(message: str, type: str, code: str | None = None, param: str | None = None) -> bytes:
    """OpenAI's error shape, which clients and the gateway's error mapping expect."""
    return orjson.dumps({"error": {"message": message, "type": type, "param": param, "code": code}})


def malformed(body: bytes) -> bytes:
    """A proper prefix of a JSON object, which is never valid JSON itself."""
    return body[: max(1, len(body) // 2)]
