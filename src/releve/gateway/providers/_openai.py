"""OpenAI and OpenAI-compatible providers (OpenAI, Mistral, Groq, vLLM, Ollama…).

One pooled keep-alive `aiohttp.ClientSession` per provider, opened at start-up:
measured on this hardware, httpx as the upstream client cost about 11× in
throughput, so the hot path uses aiohttp. URLs and headers are built once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import orjson
from yarl import URL

from releve.config import ProviderConfig
from releve.errors import UpstreamError

from ._base import UpstreamCall, UpstreamResponse
from ._classify import error_for_status

__all__ = ["OpenAITransport"]

_MAX_ERROR_BODY = 64 * 1024
_MAX_BODY = 64 * 1024 * 1024


class OpenAITransport:
    def __init__(self, name: str, config: ProviderConfig) -> None:
        self.name = name
        self._config = config
        self._base = config.base_url.rstrip("/")
        self._urls: dict[str, URL] = {}
        headers = {"Content-Type": "application/json", **config.headers}
        if config.api_key:
            headers["Authorization"] = f"Bearer {config.api_key}"
        self._headers = headers
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(
            limit=self._config.max_connections, keepalive_timeout=30, enable_cleanup_closed=False,
            ttl_dns_cache=300,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=self._config.connect_timeout),
            headers=self._headers,
            skip_auto_headers=("User-Agent",),
            auto_decompress=True,
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _url(self, path: str) -> URL:
        url = self._urls.get(path)
        if url is None:
            url = self._urls[path] = URL(self._base + path)
        return url

    def _require_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise UpstreamError("transport not started")
        return self._session

    async def send(self, call: UpstreamCall) -> UpstreamResponse:
        session = self._require_session()
        try:
            async with session.post(self._url(call.path), data=call.body) as response:
                status = response.status
                if status >= 300:
                    body = await response.content.read(_MAX_ERROR_BODY)
                    raise error_for_status(status, body, response.headers.get("Retry-After"))
                body = await response.read()
        except UpstreamError:
            raise
        except (aiohttp.ClientError, OSError, asyncio.IncompleteReadError) as exc:
            raise _network_error(exc) from None
        if len(body) > _MAX_BODY:
            raise UpstreamError("answer too large", status=status)
        try:
            orjson.loads(body)
        except orjson.JSONDecodeError:
            raise UpstreamError("malformed answer (not JSON)", status=status) from None
        return UpstreamResponse(status, body)

    async def open_stream(self, call: UpstreamCall) -> _AiohttpStream:
        session = self._require_session()
        try:
            response = await session.post(self._url(call.path), data=call.body)
        except (aiohttp.ClientError, OSError) as exc:
            raise _network_error(exc) from None
        try:
            if response.status >= 300:
                body = await response.content.read(_MAX_ERROR_BODY)
                raise error_for_status(response.status, body, response.headers.get("Retry-After"))
            if not response.content_type.startswith("text/event-stream"):
                raise UpstreamError(f"malformed stream (content-type {response.content_type})",
                                    status=response.status)
        except BaseException as exc:
            response.close()
            if isinstance(exc, aiohttp.ClientError | OSError):
                raise _network_error(exc) from None
            raise
        return _AiohttpStream(response)


class _AiohttpStream:
    __slots__ = ("_response",)

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        except (aiohttp.ClientError, OSError, asyncio.IncompleteReadError) as exc:
            raise _network_error(exc) from None

    async def aclose(self) -> None:
        # close(), not release(): an unfinished stream must not go back to the pool.
        if not self._response.content.at_eof():
            self._response.close()
        else:
            self._response.release()


def _network_error(exc: BaseException) -> UpstreamError:
    if isinstance(exc, aiohttp.ClientConnectorError):
        return UpstreamError(f"connection failed ({exc.os_error.strerror or exc.os_error})")
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return UpstreamError("connection closed by the provider")
    if isinstance(exc, aiohttp.ClientPayloadError):
        return UpstreamError("answer cut short")
    if isinstance(exc, asyncio.TimeoutError):
        return UpstreamError("timed out", timeout=True)
    return UpstreamError(f"network error ({type(exc).__name__})")
