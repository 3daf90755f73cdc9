"""Upstream provider families, one module each, and the registry keyed by `kind`."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from releve.config import ProviderConfig, ProviderKind

from ._anthropic import AnthropicTransport
from ._base import Operation, ProviderTransport, UpstreamCall, UpstreamResponse, UpstreamStream
from ._classify import CLIENT_MISTAKES, ProviderVerdict, parse_retry_after, provider_verdict
from ._gemini import GeminiTransport
from ._openai import AzureOpenAITransport, OpenAITransport

__all__ = [
    "AnthropicTransport",
    "AzureOpenAITransport",
    "CLIENT_MISTAKES",
    "GeminiTransport",
    "OpenAITransport",
    "Operation",
    "ProviderTransport",
    "ProviderVerdict",
    "UpstreamCall",
    "UpstreamResponse",
    "UpstreamStream",
    "http_transports",
    "parse_retry_after",
    "provider_verdict",
    "transport_for",
]

_REGISTRY: Mapping[ProviderKind, Callable[[str, ProviderConfig], ProviderTransport]] = {
    ProviderKind.OPENAI: OpenAITransport,
    ProviderKind.OPENAI_COMPATIBLE: OpenAITransport,
    ProviderKind.AZURE_OPENAI: AzureOpenAITransport,
    ProviderKind.ANTHROPIC: AnthropicTransport,
    ProviderKind.GEMINI: GeminiTransport,
}


def transport_for(name: str, config: ProviderConfig) -> ProviderTransport:
    return _REGISTRY[config.kind](name, config)


def http_transports(providers: Mapping[str, ProviderConfig]) -> dict[str, ProviderTransport]:
    return {name: transport_for(name, config) for name, config in providers.items()}
