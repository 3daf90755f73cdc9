"""What differs between provider families once the answer is decided: keys, errors, broken streams.

The request pipeline in `_app.py` is the same for every API path (record,
pick faults, check the key, answer); it asks a `Family` only how to read the
key a client sent, which error to raise when the key is wrong, how to write an
error body, and what a corrupted stream event looks like. One value per family
keeps that pipeline free of `if family == ...` branches.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final

from aiohttp import web

from ._answers import MALFORMED_EVENT, error_body
from ._requests import ApiError

__all__ = ["OPENAI", "SSE", "Family", "Stream", "bearer"]

SSE: Final = "text/event-stream"


@dataclass(frozen=True, slots=True)
class Family:
    """One provider family's conventions, as functions the pipeline calls."""

    name: str
    sent_key: Callable[[web.BaseRequest], str | None]
    key_error: Callable[[str, bool], ApiError]  # (simulator name, key sent at all)
    error_body: Callable[[ApiError], bytes]
    malformed_event: bytes


@dataclass(frozen=True, slots=True)
class Stream:
    """A streamed answer: events written one per write, and the content type they travel under."""

    events: Iterator[bytes]
    content_type: str = SSE


def bearer(request: web.BaseRequest) -> str | None:
    """The token of an `Authorization: Bearer` header; another scheme counts as no key, as with OpenAI."""
    value = request.headers.get("Authorization")
    if value is None or not value.startswith("Bearer "):
        return None
    return value[7:]


def _openai_key_error(name: str, sent: bool) -> ApiError:
    if not sent:
        message = "You didn't provide an API key. Send it as 'Authorization: Bearer YOUR_KEY'."
    else:
        message = f"Incorrect API key provided to simulator {name!r}."
    return ApiError(401, message, code="invalid_api_key")


def _openai_error(exc: ApiError) -> bytes:
    return error_body(exc.message, exc.type, exc.code, exc.param)


OPENAI: Final = Family("openai", bearer, _openai_key_error, _openai_error, MALFORMED_EVENT)
