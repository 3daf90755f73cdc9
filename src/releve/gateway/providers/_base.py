"""The seam between the router and the network: one `ProviderTransport` per provider.

The router hands a transport the request in Relève's internal format (OpenAI's
Chat Completions, as parsed at the inbound edge) and the target's model; the
transport encodes it for its family, sends it, and gives back an answer in
the internal format: the upstream's bytes as they are for OpenAI-compatible
providers, translated ones for the others. Streams likewise yield OpenAI SSE
bytes. Transports raise `UpstreamError` (the attempt failed) or
`Untranslatable` (this family cannot carry the request: skip the target),
never aiohttp's exceptions.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

__all__ = ["Operation", "ProviderTransport", "UpstreamCall", "UpstreamResponse", "UpstreamStream"]


class Operation(StrEnum):
    CHAT = "chat"
    EMBEDDINGS = "embeddings"


@dataclass(frozen=True, slots=True)
class UpstreamCall:
    operation: Operation
    body: dict[str, Any]  # internal (OpenAI) format; a transport may set "model" but must not keep it
    model: str
    stream: bool = False


@dataclass(frozen=True, slots=True)
class UpstreamResponse:
    status: int
    body: bytes  # internal (OpenAI) format


class UpstreamStream(Protocol):
    """An open upstream SSE body, as OpenAI SSE bytes. Must be closed, whether consumed or not."""

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

    async def list_models(self) -> UpstreamResponse:
        """The provider's model list (a probe that costs nothing); raises UpstreamError like `send`."""
        ...
