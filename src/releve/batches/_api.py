"""OpenAI's Files and Batches endpoints, so that the official SDKs run batches through Relève unchanged.

Plain ASGI like the other inbound APIs: `handles(path)` says whether a path is ours, `__call__` answers it.
Every request is authenticated with the client keys; every read and write goes to the store in a thread
(uploads and input files can be large, and the store is synchronous). The work itself is the runner's:
creating or cancelling a batch only writes it down and wakes the runner.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import orjson

from releve.asgi import JSON_HEADERS, ClientGone, Receive, Scope, Send, read_body, send_bytes
from releve.errors import GatewayError, InvalidRequest, StoreError
from releve.gateway import ClientAuth, error_body
from releve.store import BatchRecord, FileRecord, Store

from ._wire import (
    batch_json,
    file_json,
    list_json,
    not_found,
    parse_batch_request,
    parse_input_file,
    parse_upload,
    query_params,
)

__all__ = ["BatchApi"]

logger = logging.getLogger("releve.batches")

_FILES = "/v1/files"
_BATCHES = "/v1/batches"
_MULTIPART_OVERHEAD = 64 * 1024     # the form's boundaries, headers and `purpose` field around the file
_MAX_REQUEST = 64 * 1024            # a `POST /v1/batches` body
_WINDOW = timedelta(hours=24)
_CONTENT_HEADERS = ((b"content-type", b"application/octet-stream"),)
_CANCELLABLE = ("validating", "in_progress")

Reply = tuple[int, bytes, tuple[tuple[bytes, bytes], ...]]
Handler = Callable[[Scope, Receive, str], Awaitable[Reply]]


class BatchApi:
    """`/v1/files…` and `/v1/batches…`; `wake` is the runner's, called when a batch is created or cancelled."""

    def __init__(self, store: Store, *, auth: ClientAuth, wall: Callable[[], datetime],
                 max_file_bytes: int = 200 * 1024 * 1024, wake: Callable[[], None] | None = None) -> None:
        self._store = store
        self._auth = auth
        self._wall = wall
        self._max_file = max_file_bytes
        self._wake = wake if wake is not None else (lambda: None)

    @property
    def endpoints(self) -> tuple[tuple[str, str], ...]:
        """(method, path) served, for documentation and listings; dispatch with `handles` and `__call__`."""
        return (("POST", _FILES), ("GET", _FILES + "/{file_id}"), ("GET", _FILES + "/{file_id}/content"),
                ("POST", _BATCHES), ("GET", _BATCHES), ("GET", _BATCHES + "/{batch_id}"),
                ("POST", _BATCHES + "/{batch_id}/cancel"))

    def handles(self, path: str) -> bool:
        return path in (_FILES, _BATCHES) or path.startswith((_FILES + "/", _BATCHES + "/"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            self._auth.authenticate(scope["headers"])
            status, body, headers = await self._dispatch(scope, receive)
        except ClientGone:
            return
        except GatewayError as exc:
            status, body, headers = exc.status, error_body(exc), JSON_HEADERS
        except StoreError as exc:
            logger.error("batch API: store unavailable: %s", exc)
            status, headers = 503, JSON_HEADERS
            body = orjson.dumps({"error": {"message": "Relève's store is unavailable; retry shortly.",
                                           "type": "server_error", "code": "store_unavailable", "param": None}})
        await send_bytes(send, status, body, headers)

    async def _dispatch(self, scope: Scope, receive: Receive) -> Reply:
        path: str = scope["path"].rstrip("/")
        parts = path.split("/")[3:]  # after "", "v1", "files" | "batches"
        collection = _FILES if path.startswith(_FILES) else _BATCHES
        methods: dict[str, Handler]
        if not parts:
            methods = ({"POST": self._upload} if collection == _FILES
                       else {"POST": self._create, "GET": self._list})
        elif len(parts) == 1 and parts[0]:
            methods = {"GET": self._file if collection == _FILES else self._batch}
        elif len(parts) == 2 and parts[0] and parts[1] == ("content" if collection == _FILES else "cancel"):
            methods = {"GET": self._content} if collection == _FILES else {"POST": self._cancel}
        else:
            raise InvalidRequest(f"No endpoint at {path}.", status=404, code="not_found")
        handler = methods.get(scope["method"])
        if handler is None:
            allowed = ", ".join(sorted(methods))
            refusal = InvalidRequest(f"{path} accepts {allowed} only.", status=405, code="method_not_allowed")
            return 405, error_body(refusal), (*JSON_HEADERS, (b"allow", allowed.encode()))
        return await handler(scope, receive, parts[0] if parts else "")

    # --- files -----------------------------------------------------------------------------

    async def _upload(self, scope: Scope, receive: Receive, _: str) -> Reply:
        content_type = ""
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value.decode("latin-1")
        try:
            raw = await read_body(scope, receive, self._max_file + _MULTIPART_OVERHEAD)
        except InvalidRequest as exc:
            if exc.status != 413:
                raise
            raise self._too_large() from None
        upload = await asyncio.to_thread(parse_upload, content_type, raw, max_file_bytes=self._max_file)
        record = await asyncio.to_thread(self._store.create_file, purpose=upload.purpose, filename=upload.filename,
                                         content=upload.content, at=self._wall(), subject=_subject(scope))
        return _json(file_json(record))

    def _too_large(self) -> InvalidRequest:
        return InvalidRequest(f"The file is larger than the limit of {self._max_file} bytes.", status=413,
                              code="file_too_large", param="file")

    async def _file(self, scope: Scope, receive: Receive, file_id: str) -> Reply:
        return _json(file_json(await self._find_file(file_id)))

    async def _content(self, scope: Scope, receive: Receive, file_id: str) -> Reply:
        content = await asyncio.to_thread(self._store.file_content, file_id)
        if content is None:
            raise not_found("file", file_id)
        return 200, content, _CONTENT_HEADERS

    async def _find_file(self, file_id: str) -> FileRecord:
        record = await asyncio.to_thread(self._store.file, file_id)
        if record is None:
            raise not_found("file", file_id)
        return record

    # --- batches ---------------------------------------------------------------------------

    async def _create(self, scope: Scope, receive: Receive, _: str) -> Reply:
        file_id, endpoint, window, metadata = parse_batch_request(await read_body(scope, receive, _MAX_REQUEST))
        batch = await asyncio.to_thread(self._create_batch, file_id, endpoint, window, metadata, _subject(scope))
        logger.info("batch %s created: %d %s requests", batch.id, batch.total, endpoint)
        self._wake()
        return _json(batch_json(batch))

    def _create_batch(self, file_id: str, endpoint: str, window: str,
                      metadata: dict[str, str] | None, subject: str | None) -> BatchRecord:
        """In a thread: the input file is read and checked whole before anything is written."""
        record = self._store.file(file_id)
        content = self._store.file_content(file_id) if record is not None else None
        if record is None or content is None:
            raise InvalidRequest(f"No file with id '{file_id}': upload it first with purpose 'batch'.",
                                 param="input_file_id", code="file_not_found")
        if record.purpose != "batch":
            raise InvalidRequest(f"The file '{file_id}' has purpose '{record.purpose}'; a batch's input file "
                                 f"must have purpose 'batch'.", param="input_file_id", code="invalid_purpose")
        lines = parse_input_file(content, endpoint)
        at = self._wall()
        return self._store.create_batch(endpoint=endpoint, input_file_id=file_id, completion_window=window,
                                        metadata=metadata, lines=lines, at=at, expires_at=at + _WINDOW,
                                        subject=subject)

    async def _batch(self, scope: Scope, receive: Receive, batch_id: str) -> Reply:
        return _json(batch_json(await self._find_batch(batch_id)))

    async def _find_batch(self, batch_id: str) -> BatchRecord:
        batch = await asyncio.to_thread(self._store.batch, batch_id)
        if batch is None:
            raise not_found("batch", batch_id)
        return batch

    async def _list(self, scope: Scope, receive: Receive, _: str) -> Reply:
        query = query_params(scope.get("query_string", b""))
        raw_limit = query.get("limit", "20")
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 100:
            raise InvalidRequest("'limit' must be an integer from 1 to 100.", param="limit")
        limit = int(raw_limit)
        page = await asyncio.to_thread(self._store.batches, limit=limit + 1, after=query.get("after") or None)
        return _json(list_json(page[:limit], has_more=len(page) > limit))

    async def _cancel(self, scope: Scope, receive: Receive, batch_id: str) -> Reply:
        batch = await self._find_batch(batch_id)
        if batch.status in _CANCELLABLE:
            batch = await asyncio.to_thread(self._store.update_batch, batch_id, status="cancelling",
                                            cancelling_at=self._wall())
            logger.info("batch %s cancelling", batch_id)
            self._wake()
        elif batch.status not in ("cancelling", "cancelled"):
            raise InvalidRequest(f"The batch '{batch_id}' is {batch.status}; only a batch in progress can be "
                                 f"cancelled.", status=409, code="batch_not_cancellable")
        return _json(batch_json(batch))


def _json(value: Any) -> Reply:
    return 200, orjson.dumps(value), JSON_HEADERS


def _subject(scope: Scope) -> str | None:
    """The data subject (x-releve-subject) the upload or batch belongs to, for export and erasure."""
    for name, value in scope["headers"]:
        if name == b"x-releve-subject":
            subject: str = value.decode("latin-1").strip()
            if not 0 < len(subject) <= 255:
                raise InvalidRequest("x-releve-subject must be 1 to 255 characters.", code="invalid_subject")
            return subject
    return None
