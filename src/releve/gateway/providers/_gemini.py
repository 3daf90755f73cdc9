"""Google's Gemini API (`generateContent`, `streamGenerateContent?alt=sse`), key in `x-goog-api-key`."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import orjson

from releve.config import ProviderConfig
from releve.errors import Untranslatable

from ..translate import GeminiStreamToOpenAI, gemini_response_to_openai, openai_request_to_gemini
from ._base import Operation, UpstreamCall, UpstreamResponse
from ._http import HttpTransport
from ._translated import TranslatedStream

__all__ = ["GeminiTransport"]


class GeminiTransport(HttpTransport):
    models_path = "/v1beta/models"

    def __init__(self, name: str, config: ProviderConfig) -> None:
        super().__init__(name, config, {"x-goog-api-key": config.api_key} if config.api_key else {})

    def _encode(self, call: UpstreamCall) -> bytes:
        if call.operation is not Operation.CHAT:
            raise Untranslatable("embeddings through Gemini are not supported")
        return orjson.dumps(openai_request_to_gemini(call.body))

    def _path(self, model: str, method: str) -> str:
        return f"/v1beta/models/{quote(model, safe='')}:{method}"

    async def send(self, call: UpstreamCall) -> UpstreamResponse:
        data = self._encode(call)
        answer = orjson.loads(await self.post(self.url(self._path(call.model, "generateContent")), data, call.model))
        return UpstreamResponse(200, orjson.dumps(gemini_response_to_openai(answer, call.model)))

    async def open_stream(self, call: UpstreamCall) -> TranslatedStream:
        data = self._encode(call)
        raw = await self.post_stream(self.url(self._path(call.model, "streamGenerateContent") + "?alt=sse"), data,
                                     call.model)
        options = call.body.get("stream_options")
        include_usage = isinstance(options, dict) and bool(options.get("include_usage"))
        translator = GeminiStreamToOpenAI(call.model, include_usage=include_usage)
        ended = False

        def translate(event: str | None, payload: Any) -> list[dict[str, Any]]:
            nonlocal ended
            candidates = payload.get("candidates") if isinstance(payload, dict) else None
            if candidates and any(c.get("finishReason") for c in candidates if isinstance(c, dict)):
                ended = True
            return translator.feed(payload)

        return TranslatedStream(raw, translate, lambda: ended)
