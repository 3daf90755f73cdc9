"""Upstream provider families, one module each, and the registry keyed by `kind`."""

from __future__ import annotations

from collections.abc import Mapping

from releve.config import ProviderConfig, ProviderKind

from ._base import ProviderTransport, UpstreamCall, UpstreamResponse, UpstreamStream
from ._classify import CLIENT_MISTAKES, parse_retry_after
from ._openai import OpenAITransport

__all__ = [
    "CLIENT_MISTAKES",
    "OpenAITransport",
    "ProviderTransport",
    "UpstreamCall",
    "UpstreamResponse",
    "UpstreamStream",
    "http_transports",
    "parse_retry_after",
    "transport_for",
]


def transport_for(name: str, config: ProviderConfig) -> ProviderTransport:
    if config.kind in (ProviderKind.OPENAI, ProviderKind.OPENAI_COMPATIBLE):
        return OpenAITransport(name, config)
    raise ValueError(f"providers.{name}.kind: no transport for {config.kind!r}")


def http_transports(providers: Mapping[str, ProviderConfig]) -> dict[str, ProviderTransport]:
    return {name: transport_for(name, config) for name, config in providers.items()}
