"""Data subjects (GDPR Art. 15, 17, 20) and content retention: find, erase and purge stored content.

Content (request bodies, answers, uploaded files) is kept in four places: deferred jobs, idempotency
records, Batch API files, and batches with their lines. Each of those rows carries the data subject a
tagged request named (`subject`, revision 0006); a batch's lines belong to their batch's subject, and so
do the batch's input, output and error files when they were written untagged (the batch runner writes
the output files, and knows no subject).

Deleting a row is not enough for an erasure: the database files keep the bytes. On SQLite the deletes
run with `secure_delete` on (freed cells and pages are zeroed), then a VACUUM rewrites the file and a
TRUNCATE checkpoint empties the WAL, which still holds the pages as they were before. On PostgreSQL,
MVCC keeps deleted rows as dead tuples until a vacuum, and even then the bytes may linger in free space
and in the WAL segments until they are reused: a plain VACUUM of the tables is run (VACUUM FULL would
rewrite them, but locks them for the whole rewrite); the rest is the disk's encryption's job.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import ColumnElement, CompoundSelect, Row, Select, Table, and_, exists, func, or_, select, union
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from ..errors import StoreError
from ._crypto import CONTENT_COLUMNS, Content
from ._engine import display_url
from ._model import JobStatus
from ._rows import utc
from ._schema import batch_lines, batches, files, idempotency, jobs

__all__ = ["Subjects"]

_FINISHED_JOBS = (JobStatus.SUCCEEDED.value, JobStatus.FAILED.value, JobStatus.EXPIRED.value)
_FINISHED_BATCHES = ("completed", "failed", "expired", "cancelled")
_CONTENT_TABLES = ("jobs", "idempotency", "files", "batches", "batch_lines")
_SUBJECT_MAX = 255
_CONTENT = frozenset(CONTENT_COLUMNS)


def _checked(subject: str) -> str:
    # An empty id would find nothing (untagged rows hold NULL) and look like a successful erasure.
    if not isinstance(subject, str) or not 0 < len(subject) <= _SUBJECT_MAX:
        raise ValueError(f"a data subject id is 1 to {_SUBJECT_MAX} characters, not {subject!r}")
    return subject


def _decoded(data: bytes, *, json: bool) -> tuple[Any, str]:
    """Bytes as something JSON can carry, and how: parsed JSON ("json"), UTF-8 text ("text") or base64."""
    if json:
        try:
            return orjson.loads(data), "json"
        except orjson.JSONDecodeError:
            pass
    try:
        return data.decode("utf-8"), "text"
    except UnicodeDecodeError:
        return base64.b64encode(data).decode("ascii"), "base64"


def _plain(row: Row[Any], table: Table, content: Content, *, json: bool = True) -> dict[str, Any]:
    """A row of `table` as JSON-ready values: content decrypted, times in ISO 8601, bytes decoded beside a
    `<name>_encoding` saying how."""
    out: dict[str, Any] = {}
    for field, value in zip(row._fields, row, strict=True):
        name = str(field)  # not SQLAlchemy's str subclass: orjson takes str keys only
        if name == "subject":
            continue  # said once, at the top of an export
        if table.c[name] in _CONTENT:
            value = content.open(table.c[name], value)
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, bytes | memoryview):
            value, out[f"{name}_encoding"] = _decoded(bytes(value), json=json)
        out[name] = value
    return out


def _batch_files(batch_ids: Select[Any]) -> CompoundSelect[Any]:
    """The ids of the files the selected batches read or wrote (input, output, error)."""
    chosen = batches.c.id.in_(batch_ids)
    return union(select(batches.c.input_file_id.label("id")).where(chosen),
                 select(batches.c.output_file_id).where(chosen, batches.c.output_file_id.is_not(None)),
                 select(batches.c.error_file_id).where(chosen, batches.c.error_file_id.is_not(None)))


def _subject_files(subject: str) -> ColumnElement[bool]:
    """Files tagged with the subject, and untagged files of the subject's batches."""
    of_batches = _batch_files(select(batches.c.id).where(batches.c.subject == subject))
    return or_(files.c.subject == subject, and_(files.c.subject.is_(None), files.c.id.in_(of_batches)))


def _has_lines() -> ColumnElement[bool]:
    """Guards a batch's DELETE: one that got lines since they were deleted (another process, meanwhile) stays."""
    return exists().where(batch_lines.c.batch_id == batches.c.id)


class Subjects:
    """Mixed into `Store`, which provides `_begin()`, the engine and `_content` (content columns go through it)."""

    if TYPE_CHECKING:
        _content: Content
        _url: str
        _engine: Engine
        _open: bool
        _turns: AbstractContextManager[object]

        def _begin(self) -> AbstractContextManager[Connection]: ...

    def subject_data(self, subject: str) -> dict[str, list[dict[str, Any]]]:
        """Everything stored about `subject`, JSON-serialisable: jobs (bodies, answers decoded), idempotency
        records, files (content as text when UTF-8, else base64) and batches, each with its `lines`."""
        subject = _checked(subject)
        with self._begin() as connection:
            found_jobs = connection.execute(select(jobs).where(jobs.c.subject == subject)
                                            .order_by(jobs.c.created_at, jobs.c.id)).all()
            records = connection.execute(select(idempotency).where(idempotency.c.subject == subject)
                                         .order_by(idempotency.c.created_at, idempotency.c.client,
                                                   idempotency.c.key)).all()
            found_files = connection.execute(select(files).where(_subject_files(subject))
                                             .order_by(files.c.created_at, files.c.id)).all()
            found_batches = connection.execute(select(batches).where(batches.c.subject == subject)
                                               .order_by(batches.c.created_at, batches.c.id)).all()
            lines: dict[str, list[dict[str, Any]]] = {row.id: [] for row in found_batches}
            if lines:
                for line in connection.execute(select(batch_lines).where(batch_lines.c.batch_id.in_(list(lines)))
                                               .order_by(batch_lines.c.batch_id, batch_lines.c.line_no)):
                    lines[line.batch_id].append(_plain(line, batch_lines, self._content))
        content = self._content
        return {"jobs": [_plain(row, jobs, content) for row in found_jobs],
                "idempotency": [_plain(row, idempotency, content) for row in records],
                "files": [_plain(row, files, content, json=False) for row in found_files],
                "batches": [{**_plain(row, batches, content), "lines": lines[row.id]} for row in found_batches]}

    def erase_subject(self, subject: str, *, at: datetime) -> dict[str, int]:
        """Delete everything stored about `subject` in one transaction, then scrub the database files so the
        bytes are gone too (module docstring). Returns the rows removed per table.

        `at` (when the request is carried out) is checked but kept nowhere: no row may remain about the
        subject; the caller's audit entry records the erasure. Erasing twice is harmless (zero counts), and
        finishes a scrub that a busy database stopped: `StoreError` says so.
        """
        subject = _checked(subject)
        utc(at)
        with self._scrubbing() as connection:
            # Files first: which ones belong to the subject is read through its batches.
            counts = {"files": connection.execute(files.delete().where(_subject_files(subject))).rowcount}
            of_subject = select(batches.c.id).where(batches.c.subject == subject)
            counts["batch_lines"] = connection.execute(
                batch_lines.delete().where(batch_lines.c.batch_id.in_(of_subject))).rowcount
            counts["batches"] = connection.execute(
                batches.delete().where(batches.c.subject == subject, ~_has_lines())).rowcount
            counts["jobs"] = connection.execute(jobs.delete().where(jobs.c.subject == subject)).rowcount
            counts["idempotency"] = connection.execute(
                idempotency.delete().where(idempotency.c.subject == subject)).rowcount
        self._scrub_files()
        return {table: counts[table] for table in _CONTENT_TABLES}

    def purge_content(self, before: datetime, *, at: datetime | None = None) -> dict[str, int]:
        """Retention: delete content older than `before`. Returns the rows removed per table.

        Finished jobs (succeeded, failed, expired) last updated before `before`; idempotency records created
        before it or expired by then (by `at`, when given: an expired record is never replayed); batches
        finished (completed, failed, expired, cancelled) before it, with their lines; files created before it
        that no remaining batch reads or wrote. On SQLite the deletes zero what they free, but no VACUUM is
        run (a whole rewrite per purge is too heavy): older WAL frames are overwritten as the WAL is reused.
        """
        before = utc(before)
        expired_by = before if at is None else utc(at)
        finished_at = func.coalesce(batches.c.completed_at, batches.c.failed_at, batches.c.expired_at,
                                    batches.c.cancelled_at, batches.c.created_at)
        old_batches = select(batches.c.id).where(batches.c.status.in_(_FINISHED_BATCHES), finished_at < before)
        used = exists().where(or_(batches.c.input_file_id == files.c.id, batches.c.output_file_id == files.c.id,
                                  batches.c.error_file_id == files.c.id))
        with self._scrubbing() as connection:
            counts = {
                "jobs": connection.execute(jobs.delete().where(jobs.c.status.in_(_FINISHED_JOBS),
                                                               jobs.c.updated_at < before)).rowcount,
                "idempotency": connection.execute(idempotency.delete().where(
                    or_(idempotency.c.created_at < before, idempotency.c.expires_at <= expired_by))).rowcount,
                "batch_lines": connection.execute(
                    batch_lines.delete().where(batch_lines.c.batch_id.in_(old_batches))).rowcount}
            # The lines are gone: the batches may go, then the files they alone used.
            counts["batches"] = connection.execute(
                batches.delete().where(batches.c.id.in_(old_batches), ~_has_lines())).rowcount
            counts["files"] = connection.execute(files.delete().where(files.c.created_at < before, ~used)).rowcount
        return {table: counts[table] for table in _CONTENT_TABLES}

    @contextmanager
    def _scrubbing(self) -> Iterator[Connection]:
        """A transaction whose deletes overwrite what they free (SQLite's secure_delete, on this connection only:
        the pooled connection goes back to its setting, so other deletes pay nothing)."""
        with self._begin() as connection:
            if connection.dialect.name != "sqlite":
                yield connection
                return
            setting = connection.exec_driver_sql("PRAGMA secure_delete").scalar_one()
            connection.exec_driver_sql("PRAGMA secure_delete = ON")
            try:
                yield connection
            finally:
                # Cells and pages are zeroed as each DELETE frees them, not at commit: restoring now is safe.
                connection.exec_driver_sql(f"PRAGMA secure_delete = {int(setting)}")

    def _scrub_files(self) -> None:
        """After an erasure's commit, on a connection of its own with no transaction (VACUUM refuses one)."""
        if not self._open:
            raise StoreError(f"{display_url(self._url)} is not open: call open() first")
        busy = 0
        try:
            with self._turns, self._engine.connect() as connection:
                connection = connection.execution_options(isolation_level="AUTOCOMMIT")
                if connection.dialect.name == "sqlite":
                    # VACUUM rewrites every page (no free page keeps old cells) through the WAL, which still holds
                    # the pages as they were: the checkpoint copies the new ones back and empties the file.
                    connection.exec_driver_sql("VACUUM")
                    busy = connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()[0]
                else:
                    connection.exec_driver_sql(f"VACUUM {', '.join(_CONTENT_TABLES)}")
        except DBAPIError as exc:
            raise StoreError(f"{display_url(self._url)}: the rows are deleted but the database files were not "
                             f"scrubbed: {exc.orig}; erase again to finish") from exc
        except SQLAlchemyError as exc:
            raise StoreError(f"{display_url(self._url)}: {exc}") from exc
        if busy:
            raise StoreError(f"{display_url(self._url)}: the rows are deleted and the file vacuumed, but another "
                             f"connection kept reading so the WAL still holds old pages; erase again to finish")
