"""Which upstream answers a client should never see, and which are its own doing.

Translated once here so the router only reasons about `UpstreamError.retryable`.
"""

from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass

import orjson

from releve.errors import UpstreamError

# The client's own mistakes: relayed as they are, never retried elsewhere.
# (A 404 is not here: the path and the model name are ours, so it means our
# configuration is wrong for that provider, and another target may work.)
CLIENT_MISTAKES = frozenset({400, 413, 422})


def error_for_status(status: int, body: bytes, retry_after_header: str | None) -> UpstreamError:
    if status in CLIENT_MISTAKES:
        return UpstreamError(f"{status} (rejected the request)", status=status, retryable=False,
                             body=body)
    if status in (401, 403):
        return UpstreamError(f"{status} (the provider rejected our credentials)", status=status)
    if status == 429:
        return UpstreamError("429 (rate limited)", status=status,
                             retry_after=parse_retry_after(retry_after_header))
    return UpstreamError(str(status), status=status,
                         retry_after=parse_retry_after(retry_after_header))


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date (RFC 9110)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


@dataclass(frozen=True, slots=True)
class ProviderVerdict:
    """What a provider said about a request it refused, taken from its error body."""

    message: str
    type: str | None
    code: str | None
    param: str | None


def provider_verdict(exc: UpstreamError) -> ProviderVerdict:
    """The provider's words on the client's request: never its raw body.

    OpenAI's, Anthropic's and Google's error bodies all carry an `error` object
    with a `message`; whatever else is there is passed on only as short strings.
    """
    try:
        parsed = orjson.loads(exc.body or b"")
    except orjson.JSONDecodeError:
        parsed = None
    error = parsed.get("error") if isinstance(parsed, dict) else None
    if not isinstance(error, dict):
        return ProviderVerdict(f"The provider rejected the request ({exc.upstream_status}).", None, None, None)

    def field(name: str) -> str | None:
        value = error.get(name)
        return value[:2000] if isinstance(value, str) else None

    message = field("message") or f"The provider rejected the request ({exc.upstream_status})."
    return ProviderVerdict(message, field("type"), field("code"), field("param"))
