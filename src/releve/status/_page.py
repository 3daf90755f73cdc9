"""`StatusPage`: the public status page, its Statuspage-compatible JSON API and its Atom feed, as ASGI handlers.

Every response is built from one cached `View`: the store is read in a
thread at most once per `cache_seconds`, however many customers reload the
page during an outage, which is exactly when they all do.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urljoin

import orjson

from releve.asgi import Receive, Scope, Send, send_bytes
from releve.config import StatusPageConfig
from releve.store import Store

from ._atom import build_feed
from ._html import HtmlRenderer
from ._i18n import negotiate, pick
from ._statuspage import DOCUMENTS, PageInfo, page_id
from ._view import View, ViewCache, load_view

__all__ = ["StatusPage"]

logger = logging.getLogger("releve.status")

Handler = Callable[[Scope, Receive, Send], Awaitable[None]]
API_PREFIX = "/api/v2/"
_CACHE = (b"cache-control", b"max-age=10")
_VARY = (b"vary", b"Accept-Language")
_CORS = (b"access-control-allow-origin", b"*")
_NOSNIFF = (b"x-content-type-options", b"nosniff")
_JSON = (b"content-type", b"application/json")
_NO_STORE = (b"cache-control", b"no-store")
_RETRY = (b"retry-after", b"5")
_HOST = re.compile(r"(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?")


class StatusPage:
    """The status page's endpoints: `endpoints` maps each path to (method, handler) for the app's path table.

    `handles(path)` also claims every other `/api/v2/…` path, so that the app can send those here
    (`await status_page(scope, receive, send)`) and clients get a JSON 404 in the API's own shape.
    `now` returns an aware UTC datetime; it decides "today" for the uptime bars and maintenance windows.
    """

    def __init__(self, store: Store, settings: StatusPageConfig, *, now: Callable[[], datetime],
                 cache_seconds: float = 2.0) -> None:
        self._store = store
        self._settings = settings
        self._now = now
        self._cache = ViewCache(self._load, cache_seconds)
        self._html = HtmlRenderer()
        self._page_id = page_id(settings.public_url)
        self.endpoints: dict[str, tuple[str, Handler]] = {
            "/status": ("GET", self.page),
            "/history.atom": ("GET", self.feed),
            **{f"{API_PREFIX}{name}": ("GET", self._document(name)) for name in DOCUMENTS},
        }

    def handles(self, path: str) -> bool:
        return path in self.endpoints or path.startswith(API_PREFIX)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Dispatch any path this page handles (an ASGI app of its own: tests serve it alone)."""
        if scope["type"] != "http":
            return
        path = scope["path"]
        entry = self.endpoints.get(path)
        if entry is None:
            await send_bytes(send, 404, _error(f"No endpoint at {path}.", "not_found"), (_JSON, _CORS))
        elif scope["method"] != entry[0]:
            await send_bytes(send, 405, _error(f"{path} accepts {entry[0]} only.", "method_not_allowed"),
                             (_JSON, _CORS, (b"allow", entry[0].encode())))
        else:
            await entry[1](scope, receive, send)

    async def page(self, scope: Scope, receive: Receive, send: Send) -> None:
        language = self._language(scope)
        title = pick(self._settings.title, language)
        _, style_source = self._html.stylesheet()
        headers = [(b"content-type", b"text/html; charset=utf-8"), _NOSNIFF, (b"content-language", language.encode()),
                   (b"content-security-policy", (f"default-src 'none'; style-src {style_source}; base-uri 'none'; "
                                                 "form-action 'none'; frame-ancestors 'none'").encode()),
                   (b"referrer-policy", b"no-referrer")]
        view = await self._view()
        if view is None:
            body = self._html.render_unavailable(language=language, title=title)
            await send_bytes(send, 503, body.encode(), [*headers, _NO_STORE, _RETRY])
            return
        body = self._html.render(view, language=language, languages=self._settings.languages, title=title,
                                 root=scope.get("root_path", ""))
        await send_bytes(send, 200, body.encode(), [*headers, _CACHE, _VARY])

    async def feed(self, scope: Scope, receive: Receive, send: Send) -> None:
        language = self._language(scope)
        view = await self._view()
        if view is None:
            await _unavailable(send)
            return
        page = self._page_info(scope, view, language)
        body = build_feed(view, page, language, self_url=_with_lang(urljoin(page.url, "history.atom"), language),
                          page_url=_with_lang(page.url, language))
        await send_bytes(send, 200, body, ((b"content-type", b"application/atom+xml"), _CACHE, _VARY, _CORS,
                                           _NOSNIFF, (b"content-language", language.encode())))

    def _document(self, name: str) -> Handler:
        build = DOCUMENTS[name]

        async def handler(scope: Scope, receive: Receive, send: Send) -> None:
            language = self._language(scope)
            view = await self._view()
            if view is None:
                await _unavailable(send)
                return
            body = orjson.dumps(build(view, self._page_info(scope, view, language), language))
            await send_bytes(send, 200, body, (_JSON, _CACHE, _VARY, _CORS, _NOSNIFF))

        handler.__name__ = handler.__qualname__ = f"statuspage_{name.replace('/', '_').replace('-', '_')}"
        return handler

    async def _load(self) -> View:
        return await asyncio.to_thread(load_view, self._store, self._settings, self._now())

    async def _view(self) -> View | None:
        try:
            return await self._cache.get()
        except Exception:
            logger.exception("the status page could not read the store")
            return None

    def _language(self, scope: Scope) -> str:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        accept = next((value.decode("latin-1") for name, value in scope["headers"] if name == b"accept-language"),
                      None)
        return negotiate(query.get("lang", [None])[0], accept, self._settings.languages)

    def _page_info(self, scope: Scope, view: View, language: str) -> PageInfo:
        return PageInfo(id=self._page_id, name=pick(self._settings.title, language), url=self._page_url(scope),
                        updated_at=view.updated_at)

    def _page_url(self, scope: Scope) -> str:
        """The configured public address, else this request's own (with a Host header that looks like one)."""
        if self._settings.public_url:
            return self._settings.public_url
        host = next((value.decode("latin-1") for name, value in scope["headers"] if name == b"host"), "")
        scheme = scope.get("scheme", "http")
        if not _HOST.fullmatch(host):
            server: Any = scope.get("server") or ("localhost", None)
            default = server[1] is None or (scheme, server[1]) in (("http", 80), ("https", 443))
            host = server[0] if default else f"{server[0]}:{server[1]}"
        return f"{scheme}://{host}{scope.get('root_path', '')}/status"


def _with_lang(url: str, language: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}lang={language}"


def _error(message: str, code: str, kind: str = "invalid_request_error") -> bytes:
    """The error shape the rest of Relève's HTTP surface uses."""
    return orjson.dumps({"error": {"message": message, "type": kind, "code": code, "param": None}})


async def _unavailable(send: Send) -> None:
    await send_bytes(send, 503, _error("The status is unavailable for a moment; try again shortly.", "unavailable",
                                       "server_error"), (_JSON, _CORS, _NO_STORE, _RETRY))
