"""Relève's exceptions: a leaf module any package may import.

    ReleveError
    ├── ConfigError                 releve.yaml is invalid (names the key path)
    ├── StoreError
    ├── Untranslatable              a request uses a feature a provider family cannot carry
    └── GatewayError                a client request could not be served
        ├── InvalidRequest          the client's own mistake (400/404/413/…)
        ├── Unauthorized            missing or wrong client key (401)
        ├── NoTargetAvailable       every target failed or was unavailable
        │   └── DataPolicyRefusal   no target allowed by the data policy could take the request
        └── UpstreamError           one attempt failed (never reaches a client as is)

The router only ever sees these types: provider adapters translate aiohttp's
errors and upstream error bodies into `UpstreamError` in one place.
"""

from __future__ import annotations


class ReleveError(Exception):
    """Base of every error Relève raises on purpose."""


class ConfigError(ReleveError):
    """The configuration cannot be used; the message names the key path."""


class StoreError(ReleveError):
    """Persistent state could not be read or written."""


class Untranslatable(ReleveError):
    """A request (or answer) uses a feature the other API family cannot express.

    Raised by the format translators. The router skips that target and says
    why; it is never a reason to drop part of a request silently.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class GatewayError(ReleveError):
    """A client request could not be served; `status` is the HTTP status to answer."""

    status: int = 500
    code: str = "internal_error"
    kind: str = "server_error"

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class InvalidRequest(GatewayError):
    """The request is wrong as sent: answered, never forwarded, never retried."""

    kind = "invalid_request_error"

    def __init__(self, message: str, *, status: int = 400, code: str = "invalid_request",
                 param: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.param = param


class Unauthorized(GatewayError):
    status = 401
    code = "invalid_api_key"
    kind = "authentication_error"


class NoTargetAvailable(GatewayError):
    """Every target of a route failed or was unavailable within the deadline.

    `status` is 503 when nothing could be tried (breakers open, rate limited),
    504 when the deadline or every attempt timed out, 502 otherwise.
    """

    code = "no_target_available"
    kind = "server_error"

    def __init__(self, message: str, *, status: int, retry_after: float | None) -> None:
        super().__init__(message, retry_after=retry_after)
        self.status = status


class DataPolicyRefusal(NoTargetAvailable):
    """The data policy left no target that may receive this request, or the allowed ones are down.

    Nothing was sent to a target the policy refuses: the client learns which policy applied.
    """

    code = "data_policy"


class UpstreamError(GatewayError):
    """One attempt at one target failed.

    `retryable` says whether another target (or a later attempt) may succeed:
    false only for the client's own mistakes (400/404/422), which are relayed.
    `body` holds the upstream's error body for those, so the client sees why.
    """

    def __init__(self, reason: str, *, status: int | None = None, retryable: bool = True,
                 retry_after: float | None = None, timeout: bool = False,
                 body: bytes | None = None) -> None:
        super().__init__(reason, retry_after=retry_after)
        self.reason = reason
        self.upstream_status = status
        self.retryable = retryable
        self.timeout = timeout
        self.body = body

    def __repr__(self) -> str:
        return f"UpstreamError({self.reason!r}, status={self.upstream_status})"
