"""Which upstream answers a client should never see, and which are its own doing.

Translated once here so the router only reasons about `UpstreamError.retryable`.
"""

from __future__ import annotations

import email.utils
import time

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
