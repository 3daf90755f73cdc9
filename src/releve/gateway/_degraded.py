"""When every target of a route failed: the cache, a deferred job, a static answer, or an honest refusal.

Tried in that order, per the route's `cache` and `degraded` settings, and
only on the error path: a route with none of them configured costs nothing.
What the client sent is answered, kept for later, or refused clearly, in the
client's language, with `Retry-After` and the open incident's page.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from releve.config import CacheMode, Config

from ._cache import ResponseCache
from ._work import Deferrer, IdempotencyGuard, guard_deferrer, guard_idempotency

__all__ = ["DegradedModes", "RequestExtras", "RoutePolicy", "negotiate_language", "request_extras"]


@dataclass(frozen=True, slots=True)
class RoutePolicy:
    cache: ResponseCache | None
    cache_always: bool
    defer: bool
    defer_always: bool
    static_answer: bool
    message: tuple[str, str] | None       # (fr, en)


@dataclass(frozen=True, slots=True)
class RequestExtras:
    """The request headers only degraded modes read, found in one pass."""

    idempotency_key: str | None = None
    prefer_async: bool = False
    callback: str | None = None
    accept_language: bytes = b""
    personal: bool = False
    subject: str | None = None      # x-releve-subject: whose personal data this is (export, erasure)


NO_EXTRAS = RequestExtras()


def request_extras(headers: Iterable[tuple[bytes, bytes]]) -> RequestExtras:
    key = callback = subject = None
    prefer = personal = False
    language = b""
    for name, value in headers:
        if name == b"idempotency-key":
            key = value.decode("latin-1").strip()
        elif name == b"prefer":
            prefer = prefer or b"respond-async" in value.lower()
        elif name == b"x-releve-callback":
            callback = value.decode("latin-1").strip()
        elif name == b"accept-language":
            language = value
        elif name == b"x-releve-data":
            personal = value.strip().lower() == b"personal"
        elif name == b"x-releve-subject":
            subject = value.decode("latin-1").strip()
    if key is None and not prefer and callback is None and not language and not personal and subject is None:
        return NO_EXTRAS
    return RequestExtras(key, prefer, callback, language, personal, subject)


def negotiate_language(header: bytes, default: str = "en") -> str:
    """French or English, by Accept-Language q-values; `default` when it names neither."""
    best, best_q = default, -1.0
    for part in header.decode("latin-1").split(","):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        language = tag.strip().lower().split("-")[0]
        if language in ("fr", "en") and q > best_q and q > 0:
            best, best_q = language, q
    return best


class DegradedModes:
    """The per-route policies, and the deferrer, idempotency guard and incident link `app.py` provides."""

    def __init__(self, config: Config, *, deferrer: Deferrer | None = None,
                 idempotency: IdempotencyGuard | None = None,
                 incident_link: Callable[[], str | None] = lambda: None,
                 no_stored_content: frozenset[str] = frozenset()) -> None:
        # Routes whose content may not be stored (personal data and no encryption key): no jobs, no replays.
        self.no_stored_content = no_stored_content
        self.policies: dict[str, RoutePolicy] = {}
        for name, route in config.routes.items():
            cache = None
            if route.cache.mode is not CacheMode.OFF:
                cache = ResponseCache(route.cache.max_entries, route.cache.ttl)
            degraded = route.degraded
            message = (degraded.message.fr, degraded.message.en) if degraded.message is not None else None
            if cache is None and not degraded.defer and message is None:
                continue
            self.policies[name] = RoutePolicy(
                cache=cache, cache_always=route.cache.mode is CacheMode.ALWAYS,
                defer=bool(degraded.defer) and deferrer is not None and name not in no_stored_content,
                defer_always=degraded.defer == "always" and deferrer is not None and name not in no_stored_content,
                static_answer=degraded.static_answer, message=message)
        # A store out of reach refuses with a 503 (StoreUnavailable), never a 500 nor a 202 for nothing kept.
        self.deferrer = guard_deferrer(deferrer) if deferrer is not None else None
        self.idempotency = guard_idempotency(idempotency) if idempotency is not None else None
        self.incident_link = incident_link
        self.callbacks = config.jobs.callback_secret is not None
        # Routes that said explicitly that personal data may be cached (cache.personal: true).
        self._personal_cache = {name for name, route in config.routes.items() if route.cache.personal}

    def may_cache(self, route: str, extras: RequestExtras) -> bool:
        """A request marked `x-releve-data: personal` is cached only where the route says so explicitly."""
        return not extras.personal or route in self._personal_cache

    def message(self, policy: RoutePolicy | None, extras: RequestExtras, fallback: str) -> str:
        """The route's message in the client's language, and the open incident's page when there is one."""
        text = fallback
        if policy is not None and policy.message is not None:
            fr, en = policy.message
            text = fr if negotiate_language(extras.accept_language) == "fr" else en
        link = self.incident_link()
        if link:
            french = negotiate_language(extras.accept_language) == "fr"
            text += f" {'Suivi de l’incident' if french else 'Incident status'}: {link}"
        return text


def static_completion(route: str, text: str) -> bytes:
    """A normal chat completion whose text is the route's message (marked degraded by its headers)."""
    return orjson.dumps({
        "id": f"chatcmpl-releve-static-{secrets.token_hex(8)}", "object": "chat.completion",
        "created": int(time.time()), "model": route,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}})


def deferred_body(job_id: str, status: str, created_at: float) -> bytes:
    return orjson.dumps({"id": job_id, "object": "job", "status": status, "created_at": int(created_at)})


def headers_of(extra: dict[str, Any]) -> tuple[tuple[bytes, bytes], ...]:
    return tuple((name.encode(), str(value).encode("latin-1")) for name, value in extra.items())
