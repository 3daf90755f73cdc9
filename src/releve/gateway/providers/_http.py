"""What every HTTP provider transport shares: the pooled session and error translation.

Work Relève may run twice (a deferred job, a batch line) carries an `Idempotency-Key` upstream, set by
its runner in a context variable (see `_upstream_key.py`) and added here, for every family.

One keep-alive `aiohttp.ClientSession` per provider, opened at start-up:
measured on this hardware, httpx as the upstream client cost about 11× in
throughput, so the hot path uses aiohttp. aiohttp's exceptions and upstream
error statuses become `UpstreamError` here, once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping

import aiohttp
import orjson
from yarl import URL

from releve.config import ProviderConfig
from releve.errors import UpstreamError

from .._upstream_key import UPSTREAM_IDEMPOTENCY_KEY
from ._base import UpstreamResponse
from ._classify import error_for_status

__all__ = ["HttpTransport", "RawStream", "network_error"]

MAX_ERROR_BODY = 64 * 1024
MAX_BODY = 64 * 1024 * 1024


class HttpTransport:
    """Base of the HTTP transports: POST bytes, get checked bytes or an open stream."""

    def __init__(self, name: str, config: ProviderConfig, headers: Mapping[str, str]) -> None:
        self.name = name
        self._config = config
        self._base = config.base_url.rstrip("/")
        self._urls: dict[str, URL] = {}
        self._headers = {"Content-Type": "application/json", **headers, **config.headers}
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=self._config.max_connections, keepalive_timeout=30)
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=self._config.connect_timeout),
            headers=self._headers,
            skip_auto_headers=("User-Agent",),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def url(self, path: str) -> URL:
        url = self._urls.get(path)
        if url is None:
            url = self._urls[path] = URL(self._base + path, encoded=True)
        return url

    def _require_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise UpstreamError("transport not started")
        return self._session

    async def post(self, url: URL, data: bytes, model: str = "") -> bytes:
        """The body of a 2xx answer, checked to be JSON; anything else raises UpstreamError.

        `model`: scopes an upstream Idempotency-Key (see `_keyed`)."""
        session = self._require_session()
        key = UPSTREAM_IDEMPOTENCY_KEY.get()
        try:
            async with session.post(url, data=data, headers=None if key is None else _keyed(key, model)) as response:
                status = response.status
                if status >= 300:
                    body = await response.content.read(MAX_ERROR_BODY)
                    raise error_for_status(status, body, response.headers.get("Retry-After"))
                body = await response.read()
        except UpstreamError:
            raise
        except (aiohttp.ClientError, OSError, asyncio.IncompleteReadError) as exc:
            raise network_error(exc) from None
        if len(body) > MAX_BODY:
            raise UpstreamError("answer too large", status=status)
        try:
            orjson.loads(body)
        except orjson.JSONDecodeError:
            raise UpstreamError("malformed answer (not JSON)", status=status) from None
        return body

    models_path = "/models"

    async def list_models(self) -> UpstreamResponse:
        """The provider's model list: the cheapest request that proves it answers (the monitor's probe)."""
        session = self._require_session()
        try:
            async with session.get(self.url(self.models_path)) as response:
                status = response.status
                if status >= 300:
                    body = await response.content.read(MAX_ERROR_BODY)
                    raise error_for_status(status, body, response.headers.get("Retry-After"))
                body = await response.content.read(MAX_ERROR_BODY)
        except UpstreamError:
            raise
        except (aiohttp.ClientError, OSError, asyncio.IncompleteReadError) as exc:
            raise network_error(exc) from None
        return UpstreamResponse(status, body)

    async def post_stream(self, url: URL, data: bytes, model: str = "") -> RawStream:
        session = self._require_session()
        key = UPSTREAM_IDEMPOTENCY_KEY.get()
        try:
            response = await session.post(url, data=data, headers=None if key is None else _keyed(key, model))
        except (aiohttp.ClientError, OSError) as exc:
            raise network_error(exc) from None
        try:
            if response.status >= 300:
                body = await response.content.read(MAX_ERROR_BODY)
                raise error_for_status(response.status, body, response.headers.get("Retry-After"))
            if not response.content_type.startswith("text/event-stream"):
                raise UpstreamError(f"malformed stream (content-type {response.content_type})",
                                    status=response.status)
        except BaseException as exc:
            response.close()
            if isinstance(exc, aiohttp.ClientError | OSError):
                raise network_error(exc) from None
            raise
        return RawStream(response)


class RawStream:
    """An upstream SSE body relayed as it comes."""

    __slots__ = ("_response",)

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        except (aiohttp.ClientError, OSError, asyncio.IncompleteReadError) as exc:
            raise network_error(exc) from None

    async def aclose(self) -> None:
        # close(), not release(): an unfinished stream must not go back to the pool.
        if not self._response.content.at_eof():
            self._response.close()
        else:
            self._response.release()


def _keyed(key: str, model: str) -> dict[str, str]:
    """The work's key, scoped to the model: a job that fails over to another model of the same provider sends
    another request, which a provider applying Stripe's rules would refuse under the first one's key."""
    return {"Idempotency-Key": f"{key}:{model}" if model else key}


def network_error(exc: BaseException) -> UpstreamError:
    if isinstance(exc, aiohttp.ClientConnectorError):
        return UpstreamError(f"connection failed ({exc.os_error.strerror or exc.os_error})")
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return UpstreamError("connection closed by the provider")
    if isinstance(exc, aiohttp.ClientPayloadError):
        return UpstreamError("answer cut short")
    if isinstance(exc, asyncio.TimeoutError):
        return UpstreamError("timed out", timeout=True)
    return UpstreamError(f"network error ({type(exc).__name__})")
