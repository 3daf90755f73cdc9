"""The gateway's `IdempotencyGuard`: a retried request with the same `Idempotency-Key` gets the first answer.

The store holds one record per (client, key): taken (in progress) before the request runs, then the answer.
Duplicates in this process wait on the first's future; duplicates in another process (workers sharing the
store) poll the record. Answers with status 429 or 5xx are not kept: the record is dropped so that a retry
through an outage runs again instead of replaying the outage for 24 h.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from releve.gateway import CapturedResponse
from releve.store import IdempotencyRecord, Store

from ._payload import error_body

__all__ = ["StoreIdempotency"]

logger = logging.getLogger("releve.jobs")

_POLL = 0.05
_REPLAYED = (b"idempotent-replayed", b"true")
# Set again by whoever sends the response; a stored one would be sent twice.
_NOT_KEPT = frozenset({b"content-length", b"idempotent-replayed"})
_JSON = ((b"content-type", b"application/json"),)


@dataclass(slots=True)
class _InFlight:
    body_hash: str
    answer: asyncio.Future[CapturedResponse | None]  # None: the first ended without an answer


def kept(status: int) -> bool:
    """Whether an answer is replayed to retries: not a 429 nor a 5xx, which a retry must get past."""
    return status < 500 and status != 429


def _reused() -> CapturedResponse:
    return CapturedResponse(422, _JSON, error_body(
        "This Idempotency-Key was already used with a different request body. Send the same body to get the "
        "first answer again, or use a new key for a new request.", "idempotency_key_reused"))


def _in_progress() -> CapturedResponse:
    return CapturedResponse(409, (*_JSON, (b"retry-after", b"1")), error_body(
        "A request with this Idempotency-Key is still in progress; retry later to get its answer.",
        "idempotency_key_in_progress"))


def _replayed(response: CapturedResponse) -> CapturedResponse:
    headers = tuple(h for h in response.headers if h[0].lower() not in _NOT_KEPT)
    return CapturedResponse(response.status, (*headers, _REPLAYED), response.body)


def _from_record(record: IdempotencyRecord) -> CapturedResponse:
    headers = tuple((name.encode("latin-1"), value.encode("latin-1")) for name, value in record.response_headers)
    return _replayed(CapturedResponse(record.response_status or 200, headers, record.response_body or b""))


class StoreIdempotency:
    """Implements the gateway's `IdempotencyGuard` on the store.

    `ttl`: how long an answer is kept. `wait_timeout`: how long a duplicate waits for the first before it
    gets a 409. `stale_after`: an in-progress record older than this was left by a process that died (no
    request runs that long): it is dropped and the request runs, instead of answering 409 for `ttl`.
    The client name is stored as "" when authentication is off.
    """

    def __init__(self, store: Store, *, wall: Callable[[], datetime], ttl: float = 86400.0,
                 wait_timeout: float = 60.0, stale_after: float = 600.0) -> None:
        self._store = store
        self._wall = wall
        self._ttl = timedelta(seconds=ttl)
        self._wait_timeout = wait_timeout
        self._stale_after = timedelta(seconds=stale_after)
        self._in_flight: dict[tuple[str, str], _InFlight] = {}
        self._cleanups: set[asyncio.Task[None]] = set()

    async def run(self, *, client: str | None, key: str, body: bytes,
                  produce: Callable[[], Awaitable[CapturedResponse]], subject: str | None = None) -> CapturedResponse:
        owner = client or ""
        slot = (owner, key)
        body_hash = hashlib.sha256(body).hexdigest()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._wait_timeout
        while True:
            local = self._in_flight.get(slot)
            if local is not None:
                if local.body_hash != body_hash:
                    return _reused()
                try:
                    async with asyncio.timeout(max(0.0, deadline - loop.time())):
                        answer = await asyncio.shield(local.answer)
                except TimeoutError:
                    return _in_progress()
                if answer is not None:
                    return _replayed(answer)
                continue  # the first ended without an answer (its client left): try to take the key
            now = self._wall()
            record = await asyncio.to_thread(self._store.begin_idempotent, owner, key, body_hash, at=now,
                                             expires_at=now + self._ttl, subject=subject)
            if record is None:
                return await self._produce(slot, body_hash, produce)
            if record.body_hash != body_hash:
                return _reused()
            if record.state == "done":
                return _from_record(record)
            if slot in self._in_flight:
                continue  # taken in this process meanwhile: wait on its future
            if record.created_at + self._stale_after <= now:
                logger.warning("idempotency key of client %r left in progress since %s: taken over", owner,
                               record.created_at.isoformat())
                await asyncio.to_thread(self._store.abandon_idempotent, owner, key)
                continue
            if loop.time() >= deadline:
                return _in_progress()
            await asyncio.sleep(_POLL)

    async def _produce(self, slot: tuple[str, str], body_hash: str,
                       produce: Callable[[], Awaitable[CapturedResponse]]) -> CapturedResponse:
        answer: asyncio.Future[CapturedResponse | None] = asyncio.get_running_loop().create_future()
        self._in_flight[slot] = _InFlight(body_hash, answer)
        try:
            try:
                response = await produce()
            except BaseException:
                # No answer (an error, or the client left and the request was cancelled): free the key so that
                # a retry runs. In a task of its own: this one may be cancelled and must not wait.
                self._cleanup(slot)
                answer.set_result(None)
                raise
            try:
                if kept(response.status):
                    headers = [(name.decode("latin-1"), value.decode("latin-1"))
                               for name, value in response.headers if name.lower() not in _NOT_KEPT]
                    await asyncio.to_thread(self._store.finish_idempotent, *slot, status=response.status,
                                            headers=headers, body=response.body)
                else:
                    await asyncio.to_thread(self._store.abandon_idempotent, *slot)
            except Exception:
                # The answer could not be kept: still send it, and free the key rather than leave it in progress.
                logger.exception("idempotency key of client %r: the answer could not be kept", slot[0])
                self._cleanup(slot)
            answer.set_result(response)  # concurrent duplicates get this answer, even a 5xx not kept
            return response
        finally:
            if not answer.done():
                answer.set_result(None)
            self._in_flight.pop(slot, None)

    def _cleanup(self, slot: tuple[str, str]) -> None:
        task = asyncio.create_task(self._abandon(slot))
        self._cleanups.add(task)  # a reference, or the loop may drop the task before it ran
        task.add_done_callback(self._cleanups.discard)

    async def _abandon(self, slot: tuple[str, str]) -> None:
        try:
            await asyncio.to_thread(self._store.abandon_idempotent, *slot)
        except Exception:
            # Left in progress: a retry waits, then takes it over once it is `stale_after` old.
            logger.exception("idempotency key of client %r could not be freed", slot[0])
