"""`GET /v1/jobs/{id}`: where a client that got a 202 fetches its answer, in OpenAI's error shape when not."""

from __future__ import annotations

import asyncio
import logging
import re

import orjson

from releve.asgi import JSON_HEADERS, Receive, Scope, Send, send_bytes
from releve.errors import StoreError, Unauthorized
from releve.gateway import ClientAuth
from releve.store import Store

from ._payload import error_body, job_payload

__all__ = ["JobsApi"]

logger = logging.getLogger("releve.jobs")
_PREFIX = "/v1/jobs/"
_ID = re.compile(r"job_[0-9a-f]{1,36}")
_NO_STORE = (*JSON_HEADERS, (b"cache-control", b"no-store"))


class JobsApi:
    """The jobs endpoint: the client that created a job, and no other, may read it.

    Another client's job answers 404, as an unknown one does: which ids exist is nobody else's business.
    With authentication off every job is readable by whoever knows its id (96 random bits).
    """

    def __init__(self, store: Store, *, auth: ClientAuth) -> None:
        self._store = store
        self._auth = auth

    def handles(self, path: str) -> bool:
        return path.startswith(_PREFIX) and len(path) > len(_PREFIX)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "GET":
            await send_bytes(send, 405, error_body(f"{scope['path']} accepts GET only.", "method_not_allowed"),
                             (*JSON_HEADERS, (b"allow", b"GET")))
            return
        try:
            client = self._auth.authenticate(scope["headers"])
        except Unauthorized as exc:
            await send_bytes(send, 401, error_body(exc.message, exc.code, kind=exc.kind))
            return
        job_id = scope["path"][len(_PREFIX):]
        job = None
        if _ID.fullmatch(job_id):
            try:
                job = await asyncio.to_thread(self._store.job, job_id)
            except StoreError:
                logger.exception("job %s could not be read", job_id)
                await send_bytes(send, 503, error_body("Jobs cannot be read right now; retry shortly.",
                                                       "store_unavailable", kind="server_error"),
                                 (*JSON_HEADERS, (b"retry-after", b"1")))
                return
        if job is None or (client is not None and job.client != client):
            await send_bytes(send, 404, error_body(f"No job with id '{job_id[:64]}'.", "job_not_found"))
            return
        await send_bytes(send, 200, orjson.dumps(job_payload(job)), _NO_STORE)
