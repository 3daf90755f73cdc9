"""Azure OpenAI: OpenAI's bodies and answers under `/openai/deployments/{deployment}/...`.

What Azure changes, and a gateway must get right: the deployment in the URL
names the model (the body's `model` is optional and ignored, and answers carry
the deployment name), every call needs `?api-version=`, and the key travels in
an `api-key` header (or as an Entra ID bearer token).
"""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web

from ._answers import MALFORMED_EVENT, chat_chunks, chat_completion, embeddings
from ._family import OPENAI, Family, Stream, bearer
from ._requests import ApiError, parse_chat, parse_embeddings
from ._state import SimState

__all__ = ["AZURE", "chat", "embed"]


def _deployment(request: web.Request) -> str:
    if not request.query.get("api-version"):
        raise ApiError(
            400,
            "The api-version query parameter (?api-version=) is required for all requests.",
            code="MissingApiVersionParameter",
        )
    return request.match_info["deployment"]


def chat(sim: SimState, request: web.Request, body: Any) -> bytes | Stream:
    parsed = parse_chat(body, model=_deployment(request))
    seq = sim.next_seq()
    if parsed.stream:
        return Stream(chat_chunks(sim.name, parsed, seq))
    return chat_completion(sim.name, parsed, seq)


def embed(sim: SimState, request: web.Request, body: Any) -> bytes | Stream:
    return embeddings(parse_embeddings(body, model=_deployment(request)))


def _sent_key(request: web.BaseRequest) -> str | None:
    return request.headers.get("api-key") or bearer(request)


def _key_error(name: str, sent: bool) -> ApiError:
    return ApiError(
        401,
        "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key"
        " for an active subscription and use a correct regional API endpoint for your resource.",
        code="401",
    )


# Azure's errors keep OpenAI's `{"error": {...}}` shape.
AZURE: Final = Family("azure", _sent_key, _key_error, OPENAI.error_body, MALFORMED_EVENT)
