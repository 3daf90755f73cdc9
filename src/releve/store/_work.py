"""Work kept through outages: deferred jobs, idempotency records, the Batch API's files, batches and lines.

`Store` inherits `Work`'s methods (jobs and idempotency here, files and batches from _batches.py);
the tables are in `_schema.py`, revision 0003.

Claims go through `_claims.take` (FOR UPDATE SKIP LOCKED on PostgreSQL, `UPDATE … WHERE` it is still
claimable on SQLite), in one order (oldest first), so several processes never take the same job or batch.
Outcomes (`finish_job`, `retry_job`, the callbacks' outcomes) are guarded the same way: a job finishes
once, and an outcome arriving for a job that has moved on meanwhile changes nothing.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Row, and_, case, literal, or_, select, update
from sqlalchemy.engine import Connection

from ..errors import StoreError
from ._batches import Batches
from ._claims import take
from ._crypto import Content
from ._model import IdempotencyRecord, Job, JobStatus
from ._rows import insert_for
from ._schema import UTCDateTime, idempotency, jobs

__all__ = ["Work"]

_QUEUED, _RUNNING = JobStatus.QUEUED.value, JobStatus.RUNNING.value
# begin_idempotent's rounds: another process may delete (abandon) or replace the record between our statements.
_IDEMPOTENCY_ROUNDS = 5


def _job(row: Row[Any], content: Content) -> Job:
    return Job(id=row.id, route=row.route, operation=row.operation, body=content.open(jobs.c.body, row.body),
               client=row.client, callback_url=row.callback_url, status=JobStatus(row.status),
               created_at=row.created_at, updated_at=row.updated_at, expires_at=row.expires_at,
               attempts=row.attempts, response_status=row.response_status,
               response_body=content.open(jobs.c.response_body, row.response_body), target=row.target,
               error=row.error, callback_state=row.callback_state)


def _record(row: Row[Any], content: Content) -> IdempotencyRecord:
    return IdempotencyRecord(client=row.client, key=row.key, body_hash=row.body_hash, state=row.state,
                             created_at=row.created_at, expires_at=row.expires_at,
                             response_status=row.response_status,
                             response_headers=tuple((name, value) for name, value in row.response_headers or ()),
                             response_body=content.open(idempotency.c.response_body, row.response_body))


def _callback_due(at: datetime) -> dict[str, Any]:
    """The values that make a finished job's callback pending, due at `at` (jobs without a callback URL: none)."""
    has_callback = jobs.c.callback_url.is_not(None)
    return {"callback_state": case((has_callback, "pending"), else_=None),
            "callback_next_at": case((has_callback, literal(at, UTCDateTime())), else_=None)}


class Work(Batches):
    """Mixed into `Store`, which provides `_begin()` and `_content` (content columns go through it)."""

    if TYPE_CHECKING:
        _content: Content

        def _begin(self) -> AbstractContextManager[Connection]: ...

    # --- deferred jobs ---------------------------------------------------------------------

    def create_job(self, *, route: str, operation: str, body: dict[str, Any], client: str | None,
                   callback_url: str | None, at: datetime, expires_at: datetime, subject: str | None = None) -> Job:
        """A queued job, committed before this returns (the client's 202 is sent after). Id: "job_" + 24 hex.

        `subject`: the data subject the request is about (x-releve-subject), for access and erasure requests.
        """
        job_id = "job_" + secrets.token_hex(12)
        with self._begin() as connection:
            connection.execute(jobs.insert().values(
                id=job_id, route=route, operation=operation, body=self._content.seal(jobs.c.body, body),
                client=client, callback_url=callback_url,
                status=_QUEUED, created_at=at, updated_at=at, expires_at=expires_at, attempts=0,
                next_attempt_at=at, callback_attempts=0, subject=subject))
            return _job(connection.execute(select(jobs).where(jobs.c.id == job_id)).one(), self._content)

    def job(self, job_id: str) -> Job | None:
        with self._begin() as connection:
            row = connection.execute(select(jobs).where(jobs.c.id == job_id)).first()
        return None if row is None else _job(row, self._content)

    def claim_jobs(self, now: datetime, *, lease_seconds: float = 60.0, limit: int = 20) -> list[Job]:
        """Queued jobs due by `now` (next_attempt_at <= now), and running ones whose lease ran out (their process
        died), not expired: now running, leased, attempts + 1. Oldest first."""
        claimable = and_(_waiting(now), jobs.c.expires_at > now)
        lease = {"status": _RUNNING, "lease_until": now + timedelta(seconds=lease_seconds),
                 "attempts": jobs.c.attempts + 1, "updated_at": now}
        with self._begin() as connection:
            claimed = take(connection, jobs, claimable, lease, order=(jobs.c.created_at, jobs.c.id), limit=limit)
            if not claimed:
                return []
            rows = connection.execute(select(jobs).where(jobs.c.id.in_(claimed))
                                      .order_by(jobs.c.created_at, jobs.c.id))
            return [_job(row, self._content) for row in rows]

    def finish_job(self, job_id: str, *, succeeded: bool, response_status: int, response_body: bytes,
                   target: str | None, at: datetime, error: str | None = None) -> None:
        """Record the answer; with a callback URL, the callback becomes pending (due at once).

        Only a running job finishes, once: for any other (finished, expired, unknown) this changes nothing.
        """
        status = JobStatus.SUCCEEDED if succeeded else JobStatus.FAILED
        with self._begin() as connection:
            connection.execute(update(jobs).where(jobs.c.id == job_id, jobs.c.status == _RUNNING).values(
                status=status.value, response_status=response_status,
                response_body=self._content.seal(jobs.c.response_body, response_body), target=target, error=error,
                lease_until=None, updated_at=at, **_callback_due(at)))

    def retry_job(self, job_id: str, *, at: datetime, next_attempt_at: datetime, error: str) -> None:
        """No target could answer yet: back to queued, lease cleared, due again at `next_attempt_at`.

        Only a running job is sent back: for any other this changes nothing.
        """
        with self._begin() as connection:
            connection.execute(update(jobs).where(jobs.c.id == job_id, jobs.c.status == _RUNNING).values(
                status=_QUEUED, next_attempt_at=next_attempt_at, error=error, lease_until=None, updated_at=at))

    def renew_job(self, job_id: str, now: datetime, *, lease_seconds: float) -> bool:
        """Extend a running job's lease (its runner is alive); False when the job is no longer running."""
        with self._begin() as connection:
            renewed = connection.execute(update(jobs).where(jobs.c.id == job_id, jobs.c.status == _RUNNING).values(
                lease_until=now + timedelta(seconds=lease_seconds)))
            return renewed.rowcount == 1

    def expire_jobs(self, now: datetime) -> list[str]:
        """Queued (or lease-expired running) jobs past `expires_at` become expired (callback pending if any).

        Returns the ids expired by this call, oldest first.
        """
        stale = or_(jobs.c.status == _QUEUED, and_(jobs.c.status == _RUNNING, jobs.c.lease_until < now))
        expired = {"status": JobStatus.EXPIRED.value, "lease_until": None, "updated_at": now, **_callback_due(now)}
        with self._begin() as connection:
            return take(connection, jobs, and_(stale, jobs.c.expires_at <= now), expired,
                        order=(jobs.c.expires_at, jobs.c.created_at, jobs.c.id), limit=None)

    def claim_callbacks(self, now: datetime, *, lease_seconds: float = 60.0, limit: int = 20) -> list[Job]:
        """Finished jobs whose callback is pending and due: leased, callback_attempts + 1. Oldest due first."""
        free = or_(jobs.c.callback_lease_until.is_(None), jobs.c.callback_lease_until < now)
        due = and_(jobs.c.callback_state == "pending", jobs.c.callback_next_at <= now, free)
        lease = {"callback_lease_until": now + timedelta(seconds=lease_seconds),
                 "callback_attempts": jobs.c.callback_attempts + 1}
        order = (jobs.c.callback_next_at, jobs.c.created_at, jobs.c.id)
        with self._begin() as connection:
            claimed = take(connection, jobs, due, lease, order=order, limit=limit)
            if not claimed:
                return []
            return [_job(row, self._content) for row in connection.execute(select(jobs).where(jobs.c.id.in_(claimed))
                                                                           .order_by(*order))]

    def callback_sent(self, job_id: str, at: datetime) -> None:
        """The callback was delivered: never claimed again (nothing changes unless it was pending)."""
        self._callback_outcome(job_id, callback_state="sent")

    def callback_failed(self, job_id: str, error: str, *, retry_at: datetime | None) -> None:
        """With `retry_at` due again then; without, given up (state failed).

        `error` is not kept (the job's `error` is its own outcome's): the caller logs it.
        """
        if retry_at is None:
            self._callback_outcome(job_id, callback_state="failed")
        else:
            self._callback_outcome(job_id, callback_next_at=retry_at)

    def _callback_outcome(self, job_id: str, **values: Any) -> None:
        with self._begin() as connection:
            connection.execute(update(jobs).where(jobs.c.id == job_id, jobs.c.callback_state == "pending")
                               .values(callback_lease_until=None, **values))

    # --- idempotency -----------------------------------------------------------------------

    def begin_idempotent(self, client: str, key: str, body_hash: str, *, at: datetime, expires_at: datetime,
                         subject: str | None = None) -> IdempotencyRecord | None:
        """Take the key: None when this caller now owns it (state in_progress, inserted, or replacing an expired
        record); otherwise the existing record (in progress or done) for the caller to compare and wait on.

        `subject`: the data subject the request is about; a replaced record takes the new one's."""
        owned = {"body_hash": body_hash, "state": "in_progress", "created_at": at, "expires_at": expires_at,
                 "response_status": None, "response_headers": None, "response_body": None, "subject": subject}
        this = and_(idempotency.c.client == client, idempotency.c.key == key)
        with self._begin() as connection:
            # The primary key decides between processes inserting at once; the loser reads the winner's row.
            # (SQLAlchemy keeps an INSERT's rowcount only when asked: psycopg forgets it once the cursor closes.)
            insert = (insert_for(connection, idempotency).values(client=client, key=key, **owned)
                      .on_conflict_do_nothing(index_elements=["client", "key"])
                      .execution_options(preserve_rowcount=True))
            for _ in range(_IDEMPOTENCY_ROUNDS):
                if connection.execute(insert).rowcount == 1:
                    return None
                row = connection.execute(select(idempotency).where(this)).first()
                if row is None:
                    continue  # abandoned meanwhile: insert again
                if row.expires_at > at:
                    return _record(row, self._content)
                replaced = connection.execute(update(idempotency).where(this, idempotency.c.expires_at <= at)
                                              .values(owned))
                if replaced.rowcount == 1:
                    return None
                # Replaced or abandoned by another process meanwhile: look again.
        raise StoreError(f"idempotency key {key!r} kept changing under concurrent requests")

    def finish_idempotent(self, client: str, key: str, *, status: int, headers: Sequence[tuple[str, str]],
                          body: bytes) -> None:
        """Keep the answer for replays: the record (if still in progress) is done."""
        with self._begin() as connection:
            connection.execute(update(idempotency).where(
                idempotency.c.client == client, idempotency.c.key == key, idempotency.c.state == "in_progress")
                .values(state="done", response_status=status,
                        response_headers=[[name, value] for name, value in headers],
                        response_body=self._content.seal(idempotency.c.response_body, body)))

    def abandon_idempotent(self, client: str, key: str) -> None:
        """Forget an in-progress record whose request ended without an answer, so a retry may run."""
        with self._begin() as connection:
            connection.execute(idempotency.delete().where(
                idempotency.c.client == client, idempotency.c.key == key, idempotency.c.state == "in_progress"))

    def idempotent(self, client: str, key: str) -> IdempotencyRecord | None:
        """The record as stored, expired or not."""
        with self._begin() as connection:
            row = connection.execute(select(idempotency).where(
                idempotency.c.client == client, idempotency.c.key == key)).first()
        return None if row is None else _record(row, self._content)


def _waiting(now: datetime) -> ColumnElement[bool]:
    """Jobs waiting for a runner: queued and due, or running under a lease that ran out (their process died)."""
    return or_(and_(jobs.c.status == _QUEUED, jobs.c.next_attempt_at <= now),
               and_(jobs.c.status == _RUNNING, jobs.c.lease_until < now))

