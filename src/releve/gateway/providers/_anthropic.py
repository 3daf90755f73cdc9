"""Anthropic's Messages API (`x-api-key`, `anthropic-version`), translated to and from OpenAI's format."""

from __future__ import annotations

from typing import Any

import orjson

from releve.config import ProviderConfig
from releve.errors import Untranslatable

from ..translate import AnthropicStreamToOpenAI, anthropic_response_to_openai, openai_request_to_anthropic
from ._base import Operation, UpstreamCall, UpstreamResponse
from ._http import HttpTransport
from ._translated import TranslatedStream

__all__ = ["AnthropicTransport"]


class AnthropicTransport(HttpTransport):
    models_path = "/v1/models"

    def __init__(self, name: str, config: ProviderConfig) -> None:
        headers = {"anthropic-version": config.anthropic_version}
        if config.api_key:
            headers["x-api-key"] = config.api_key
        super().__init__(name, config, headers)

    def _encode(self, call: UpstreamCall) -> bytes:
        if call.operation is not Operation.CHAT:
            raise Untranslatable("Anthropic has no embeddings API")
        return orjson.dumps(openai_request_to_anthropic(call.body, call.model))

    async def send(self, call: UpstreamCall) -> UpstreamResponse:
        answer = orjson.loads(await self.post(self.url("/v1/messages"), self._encode(call), call.model))
        return UpstreamResponse(200, orjson.dumps(anthropic_response_to_openai(answer)))

    async def open_stream(self, call: UpstreamCall) -> TranslatedStream:
        raw = await self.post_stream(self.url("/v1/messages"), self._encode(call), call.model)
        options = call.body.get("stream_options")
        include_usage = isinstance(options, dict) and bool(options.get("include_usage"))
        translator = AnthropicStreamToOpenAI(include_usage=include_usage)
        ended = False

        def translate(event: str | None, data: Any) -> list[dict[str, Any]]:
            nonlocal ended
            if event == "message_stop":
                ended = True
            return translator.feed(event or "", data)

        return TranslatedStream(raw, translate, lambda: ended)
