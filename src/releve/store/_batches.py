"""The Batch API's state: uploaded files, batches (OpenAI's Batch object) and their lines.

`Store` inherits `Batches`' methods through `Work`. A batch is worked on by one process at a time, the
one holding its lease (`claim_batch`, `renew_batch`); a line is finished once, and counted in its
batch's `completed` or `failed` in the same transaction.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Row, and_, or_, select, update
from sqlalchemy.engine import Connection

from ..errors import StoreError
from ._claims import take
from ._crypto import Content
from ._model import BatchLine, BatchRecord, FileRecord
from ._schema import batch_lines, batches, files

__all__ = ["Batches"]

_BATCH_FIELDS = tuple(field.name for field in dataclasses.fields(BatchRecord))
_LINE_FIELDS = tuple(field.name for field in dataclasses.fields(BatchLine))
_LINE_CONTENT = (batch_lines.c.body, batch_lines.c.response_body, batch_lines.c.error)
_FILE_COLUMNS = (files.c.id, files.c.purpose, files.c.filename, files.c.bytes, files.c.created_at)
# Statuses in which a batch runner has work to do: run lines, write the output files, stop.
_ACTIVE = ("in_progress", "finalizing", "cancelling")
_EMPTY = {"object": "list", "data": [{"code": "empty_file", "message": "The batch input file is empty."}]}


def _batch(row: Row[Any]) -> BatchRecord:
    # `metadata` is a column name but also a name Row may use: read by key.
    values = row._mapping
    return BatchRecord(**{name: values[name] for name in _BATCH_FIELDS})


def _line(row: Row[Any], content: Content) -> BatchLine:
    values = dict(row._mapping)
    for column in _LINE_CONTENT:
        values[column.name] = content.open(column, values[column.name])
    return BatchLine(**{name: values[name] for name in _LINE_FIELDS})


def _fetch(connection: Connection, batch_id: str) -> BatchRecord | None:
    row = connection.execute(select(batches).where(batches.c.id == batch_id)).first()
    return None if row is None else _batch(row)


class Batches:
    """Mixed into `Store` (through `Work`), which provides `_begin()` and `_content` (content columns go through it)."""

    if TYPE_CHECKING:
        _content: Content

        def _begin(self) -> AbstractContextManager[Connection]: ...

    # --- files -----------------------------------------------------------------------------

    def create_file(self, *, purpose: str, filename: str, content: bytes, at: datetime,
                    subject: str | None = None) -> FileRecord:
        """Id: "file-" + 24 hex. `subject`: the data subject the content is about (x-releve-subject)."""
        file_id = "file-" + secrets.token_hex(12)
        with self._begin() as connection:
            connection.execute(files.insert().values(id=file_id, purpose=purpose, filename=filename,
                                                     bytes=len(content), created_at=at,
                                                     content=self._content.seal(files.c.content, content),
                                                     subject=subject))
            row = connection.execute(select(*_FILE_COLUMNS).where(files.c.id == file_id)).one()
        return FileRecord(id=row.id, purpose=row.purpose, filename=row.filename, bytes=row.bytes,
                          created_at=row.created_at)

    def file(self, file_id: str) -> FileRecord | None:
        """The file's description (its content is read by `file_content`)."""
        with self._begin() as connection:
            row = connection.execute(select(*_FILE_COLUMNS).where(files.c.id == file_id)).first()
        if row is None:
            return None
        return FileRecord(id=row.id, purpose=row.purpose, filename=row.filename, bytes=row.bytes,
                          created_at=row.created_at)

    def file_content(self, file_id: str) -> bytes | None:
        with self._begin() as connection:
            content = connection.execute(select(files.c.content).where(files.c.id == file_id)).scalar_one_or_none()
        data: bytes | None = self._content.open(files.c.content, content)
        return data

    # --- batches ---------------------------------------------------------------------------

    def create_batch(self, *, endpoint: str, input_file_id: str, completion_window: str,
                     metadata: dict[str, str] | None, lines: Sequence[tuple[str, dict[str, Any]]], at: datetime,
                     expires_at: datetime, subject: str | None = None) -> BatchRecord:
        """A batch (status validating → in_progress at once when lines are given) and its lines, in one
        transaction. `lines`: (custom_id, request body) in file order. Id: "batch_" + 24 hex. `subject`: the
        data subject the batch is about (x-releve-subject); its lines and files belong to the same one.

        Without lines the batch is failed at once, its `errors` saying why (code "empty_file").
        """
        batch_id = "batch_" + secrets.token_hex(12)
        if lines:
            status: dict[str, Any] = {"status": "in_progress", "in_progress_at": at}
        else:
            status = {"status": "failed", "failed_at": at, "errors": _EMPTY}
        with self._begin() as connection:
            connection.execute(batches.insert().values(
                id=batch_id, endpoint=endpoint, input_file_id=input_file_id, completion_window=completion_window,
                created_at=at, expires_at=expires_at, total=len(lines), completed=0, failed=0, metadata=metadata,
                subject=subject, **status))
            if lines:
                connection.execute(batch_lines.insert(), [
                    {"batch_id": batch_id, "line_no": line_no, "custom_id": custom_id,
                     "body": self._content.seal(batch_lines.c.body, body), "state": "pending"}
                    for line_no, (custom_id, body) in enumerate(lines)])
            return _batch(connection.execute(select(batches).where(batches.c.id == batch_id)).one())

    def batch(self, batch_id: str) -> BatchRecord | None:
        with self._begin() as connection:
            return _fetch(connection, batch_id)

    def batches(self, *, limit: int = 20, after: str | None = None) -> list[BatchRecord]:
        """Newest first (by created_at, then id); `after`: the id of the last batch of the previous page
        (an unknown one gives an empty page)."""
        query = select(batches).order_by(batches.c.created_at.desc(), batches.c.id.desc()).limit(limit)
        with self._begin() as connection:
            if after is not None:
                cursor = connection.execute(select(batches.c.created_at).where(batches.c.id == after)).first()
                if cursor is None:
                    return []
                query = query.where(or_(batches.c.created_at < cursor.created_at,
                                        and_(batches.c.created_at == cursor.created_at, batches.c.id < after)))
            return [_batch(row) for row in connection.execute(query)]

    def update_batch(self, batch_id: str, **fields: Any) -> BatchRecord:
        """Set columns of the batch (status, *_at timestamps, output_file_id, error_file_id, errors; lease_until=None
        lets it go); returns the batch as it is now. `ValueError` for a name that is not a column (or is `id`),
        `StoreError` for an unknown batch."""
        unknown = sorted(name for name in fields if name not in batches.c or name == "id")
        if unknown:
            raise ValueError(f"cannot set {', '.join(unknown)} on a batch")
        with self._begin() as connection:
            if fields:
                connection.execute(update(batches).where(batches.c.id == batch_id).values(fields))
            updated = _fetch(connection, batch_id)
        if updated is None:
            raise StoreError(f"no batch {batch_id!r}")
        return updated

    def claim_batch(self, now: datetime, *, lease_seconds: float = 60.0) -> BatchRecord | None:
        """One batch in status in_progress, finalizing or cancelling whose lease is free; leased. Oldest first."""
        claimable = and_(batches.c.status.in_(_ACTIVE),
                         or_(batches.c.lease_until.is_(None), batches.c.lease_until < now))
        lease = {"lease_until": now + timedelta(seconds=lease_seconds)}
        with self._begin() as connection:
            claimed = take(connection, batches, claimable, lease, order=(batches.c.created_at, batches.c.id), limit=1)
            return _fetch(connection, claimed[0]) if claimed else None

    def renew_batch(self, batch_id: str, now: datetime, *, lease_seconds: float = 60.0) -> None:
        """Extend the lease of a batch being worked on (`StoreError` for an unknown batch)."""
        with self._begin() as connection:
            renewed = connection.execute(update(batches).where(batches.c.id == batch_id)
                                         .values(lease_until=now + timedelta(seconds=lease_seconds)))
            if renewed.rowcount != 1:
                raise StoreError(f"no batch {batch_id!r}")

    def pending_lines(self, batch_id: str, *, limit: int = 100) -> list[BatchLine]:
        """Lines still pending, in file order."""
        query = (select(batch_lines).where(batch_lines.c.batch_id == batch_id, batch_lines.c.state == "pending")
                 .order_by(batch_lines.c.line_no).limit(limit))
        with self._begin() as connection:
            return [_line(row, self._content) for row in connection.execute(query)]

    def finish_line(self, batch_id: str, line_no: int, *, ok: bool, response_status: int | None,
                    response_body: dict[str, Any] | None, error: dict[str, Any] | None, request_id: str,
                    at: datetime) -> None:
        """Record a line's outcome (only if still pending: a line is finished once) and count it in the batch's
        completed or failed, in the same transaction. The line's state becomes done (ok) or error."""
        counter = batches.c.completed if ok else batches.c.failed
        with self._begin() as connection:
            finished = connection.execute(
                update(batch_lines).where(batch_lines.c.batch_id == batch_id, batch_lines.c.line_no == line_no,
                                          batch_lines.c.state == "pending")
                .values(state="done" if ok else "error", response_status=response_status,
                        response_body=self._content.seal(batch_lines.c.response_body, response_body),
                        error=self._content.seal(batch_lines.c.error, error), request_id=request_id, updated_at=at))
            if finished.rowcount == 1:
                connection.execute(update(batches).where(batches.c.id == batch_id).values({counter: counter + 1}))

    def batch_lines(self, batch_id: str) -> Iterator[BatchLine]:
        """Every line in file order (for writing the output and error files), read at once (50,000 lines are fine)."""
        query = select(batch_lines).where(batch_lines.c.batch_id == batch_id).order_by(batch_lines.c.line_no)
        with self._begin() as connection:
            lines = [_line(row, self._content) for row in connection.execute(query)]
        return iter(lines)

