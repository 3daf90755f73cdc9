"""OpenAI and OpenAI-compatible providers (OpenAI, Mistral, Groq, vLLM, Ollama…), and Azure OpenAI.

No translation: the internal format is OpenAI's, so the body is re-encoded
with the target's model and the answer's bytes are passed on untouched.
"""

from __future__ import annotations

from urllib.parse import quote

import orjson

from releve.config import ProviderConfig

from ._base import Operation, UpstreamCall, UpstreamResponse
from ._http import HttpTransport, RawStream

__all__ = ["AzureOpenAITransport", "OpenAITransport"]

_PATHS = {Operation.CHAT: "/chat/completions", Operation.EMBEDDINGS: "/embeddings"}


class OpenAITransport(HttpTransport):
    def __init__(self, name: str, config: ProviderConfig) -> None:
        headers = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}
        super().__init__(name, config, headers)

    def _target(self, call: UpstreamCall) -> tuple[str, bytes]:
        body = call.body
        body["model"] = call.model
        return _PATHS[call.operation], orjson.dumps(body)

    async def send(self, call: UpstreamCall) -> UpstreamResponse:
        path, data = self._target(call)
        return UpstreamResponse(200, await self.post(self.url(path), data, call.model))

    async def open_stream(self, call: UpstreamCall) -> RawStream:
        path, data = self._target(call)
        return await self.post_stream(self.url(path), data, call.model)


class AzureOpenAITransport(OpenAITransport):
    """Azure names a deployment in the URL and authenticates with an `api-key` header."""

    def __init__(self, name: str, config: ProviderConfig) -> None:
        HttpTransport.__init__(self, name, config, {"api-key": config.api_key} if config.api_key else {})
        self._version = quote(config.api_version or "", safe="")
        self.models_path = f"/openai/models?api-version={self._version}"

    def _target(self, call: UpstreamCall) -> tuple[str, bytes]:
        body = {key: value for key, value in call.body.items() if key != "model"}
        operation = "chat/completions" if call.operation is Operation.CHAT else "embeddings"
        path = f"/openai/deployments/{quote(call.model, safe='')}/{operation}?api-version={self._version}"
        return path, orjson.dumps(body)
