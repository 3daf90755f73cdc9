"""Webhook signatures: Stripe's scheme, so that receivers can trust and date what they get.

The header is `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>`. Signing the
timestamp with the body lets a receiver refuse a replayed request: an old `t` cannot be
changed without the secret. Several `v1=` values may appear (a sender rotating its secret);
one matching is enough.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

__all__ = ["sign_body", "verify_signature"]


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign_body(secret: str, body: bytes, *, timestamp: int) -> str:
    """The `X-Releve-Signature` header value for `body` sent at `timestamp` (unix seconds)."""
    return f"t={timestamp},v1={_digest(secret, timestamp, body)}"


def verify_signature(secret: str, header: str, body: bytes, *, now: datetime | float,
                     tolerance: float = 300.0) -> bool:
    """Whether `header` signs exactly `body` with `secret`, at most `tolerance` seconds from `now`.

    `now` is an aware datetime or unix seconds. A timestamp too far in the past (a replay) or
    the future is refused as firmly as a wrong signature; the comparison is constant-time.
    """
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            return False
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                return False
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        return False
    now_seconds = now.timestamp() if isinstance(now, datetime) else float(now)
    if abs(now_seconds - timestamp) > tolerance:
        return False
    expected = _digest(secret, timestamp, body).encode()
    # Bytes, because compare_digest refuses non-ASCII str (a hostile header must not raise);
    # every candidate is compared, so the time taken does not tell which one was close.
    matches = [hmac.compare_digest(expected, signature.encode("utf-8", "replace")) for signature in signatures]
    return any(matches)
