"""The seam between the router and the network: one `ProviderTransport` per provider.

The router calls `send()` for a whole answer and `open_stream()` for SSE; both
raise only `UpstreamError`, so the router never sees aiohttp's exceptions.
Unit tests replace transports with scripted ones; integration tests use the
real aiohttp transport against the provider simulator.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

__all__ = ["ProviderTransport", "UpstreamCall", "UpstreamResponse", "UpstreamStream"]


@dataclass(frozen=True, slots=True)
class UpstreamCall:
    """One request to one provider: the path under its base URL and the body bytes."""

    path: str
    body: bytes


@dataclass(frozen=True, slots=True)
class UpstreamResponse:
    status: int
    body: bytes


class UpstreamStream(Protocol):
    """An open upstream SSE body. Must be closed, whether consumed or not."""

    def __aiter__(self) -> AsyncIterator[bytes]: ...

    async def aclose(self) -> None: ...


class ProviderTransport(Protocol):
    name: str

    async def start(self) -> None:
        """Open connection pools (lifespan start-up, inside the running loop)."""

    async def close(self) -> None: ...

    async def send(self, call: UpstreamCall) -> UpstreamResponse:
        """A whole answer; raises UpstreamError for anything but a usable 2xx."""
        ...

    async def open_stream(self, call: UpstreamCall) -> UpstreamStream:
        """Status checked, body not yet read; raises UpstreamError like `send`."""
        ...
