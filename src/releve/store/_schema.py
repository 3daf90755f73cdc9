"""The tables as SQLAlchemy Core objects, for queries; migrations/ creates them (by hand, not from here).

Two column types carry the portability rules: times are aware UTC datetimes on every dialect
(SQLite has no time zones, so UTC is stored naive and re-attached on read) and JSON is text
written by orjson, so both dialects store and return exactly the same thing. The content columns (request
and answer bodies, files) are plain text or bytes: the store writes them through _crypto.py, encrypted when
it has keys.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    UniqueConstraint,
)
from sqlalchemy import Text as SqlText
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

__all__ = ["JsonText", "UTCDateTime", "audit_head", "audit_log", "batch_lines", "batches", "components", "files",
           "idempotency", "incident_updates", "incidents", "jobs", "leases", "metadata", "outbox", "status_changes",
           "traffic_minutes", "uptime_days"]


class UTCDateTime(TypeDecorator[datetime]):
    """An aware datetime in, an aware UTC datetime out, whatever the dialect."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.utcoffset() is None:
            # A naive time is ambiguous; guessing would shift incidents by hours without a trace.
            raise ValueError(f"naive datetime {value.isoformat()}: the store takes timezone-aware datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class JsonText(TypeDecorator[Any]):
    """JSON kept as text, written and read by orjson (no dialect JSON type to differ between SQLite and PostgreSQL)."""

    impl = SqlText
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else orjson.dumps(value).decode()

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        return None if value is None else orjson.loads(value)


metadata = MetaData()

components = Table(
    "components", metadata,
    Column("id", String(255), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("name_fr", SqlText, nullable=False),
    Column("name_en", SqlText, nullable=False),
    Column("description_fr", SqlText, nullable=True),
    Column("description_en", SqlText, nullable=True),
    Column("status", String(32), nullable=False),
    Column("position", Integer, nullable=False),
    Column("public", Boolean, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # False once the configuration no longer lists it: its incidents and uptime keep pointing at it.
    Column("active", Boolean, nullable=False),
    PrimaryKeyConstraint("id", name="pk_components"),
)

uptime_days = Table(
    "uptime_days", metadata,
    # No foreign key: uptime outlives the component's definition.
    Column("component_id", String(255), nullable=False),
    Column("day", Date, nullable=False),
    Column("status", String(32), nullable=False),
    Column("seconds", Float, nullable=False),
    PrimaryKeyConstraint("component_id", "day", "status", name="pk_uptime_days"),
)

incidents = Table(
    "incidents", metadata,
    Column("id", String(12), nullable=False),
    Column("name_fr", SqlText, nullable=False),
    Column("name_en", SqlText, nullable=False),
    Column("status", String(32), nullable=False),
    Column("impact", String(16), nullable=False),
    Column("automatic", Boolean, nullable=False),
    Column("components", JsonText, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("started_at", UTCDateTime, nullable=True),
    Column("recovered_at", UTCDateTime, nullable=True),
    Column("resolved_at", UTCDateTime, nullable=True),
    Column("scheduled_for", UTCDateTime, nullable=True),
    Column("scheduled_until", UTCDateTime, nullable=True),
    PrimaryKeyConstraint("id", name="pk_incidents"),
    Index("ix_incidents_created_at", "created_at"),
)

incident_updates = Table(
    "incident_updates", metadata,
    Column("id", String(12), nullable=False),
    Column("incident_id", String(12), ForeignKey("incidents.id", name="fk_incident_updates_incident"),
           nullable=False),
    # 1, 2, 3… per incident: two updates written in the same instant still have an order.
    Column("seq", Integer, nullable=False),
    Column("status", String(32), nullable=False),
    Column("body_fr", SqlText, nullable=False),
    Column("body_en", SqlText, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("affected", JsonText, nullable=False),
    PrimaryKeyConstraint("id", name="pk_incident_updates"),
    UniqueConstraint("incident_id", "seq", name="uq_incident_updates_seq"),
)

outbox = Table(
    "outbox", metadata,
    Column("id", Integer, nullable=False, autoincrement=True),
    Column("incident_id", String(12), ForeignKey("incidents.id", name="fk_outbox_incident"), nullable=False),
    Column("update_id", String(12), ForeignKey("incident_updates.id", name="fk_outbox_update"), nullable=False),
    Column("event", String(16), nullable=False),
    Column("channel", SqlText, nullable=False),
    # What makes a second `open` or `resolve` for the same incident and channel impossible.
    Column("dedup_key", SqlText, nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("lease_until", UTCDateTime, nullable=True),
    Column("last_error", SqlText, nullable=True),
    Column("sent_at", UTCDateTime, nullable=True),
    PrimaryKeyConstraint("id", name="pk_outbox"),
    UniqueConstraint("dedup_key", name="uq_outbox_dedup_key"),
    Index("ix_outbox_due", "state", "next_attempt_at"),
    Index("ix_outbox_incident_id", "incident_id"),
)

# Revision 0002: the history cost reports are computed from.

traffic_minutes = Table(
    "traffic_minutes", metadata,
    Column("route", String(255), nullable=False),
    # The minute's start (seconds zero), UTC.
    Column("minute", UTCDateTime, nullable=False),
    Column("served", Integer, nullable=False, server_default="0"),
    Column("fallback", Integer, nullable=False, server_default="0"),
    Column("degraded", Integer, nullable=False, server_default="0"),
    Column("failed", Integer, nullable=False, server_default="0"),
    # Revision 0004: answered later, through a job (202 Accepted).
    Column("deferred", Integer, nullable=False, server_default="0"),
    PrimaryKeyConstraint("route", "minute", name="pk_traffic_minutes"),
)

status_changes = Table(
    "status_changes", metadata,
    Column("id", Integer, nullable=False, autoincrement=True),
    # No foreign key, like uptime: history outlives the component's definition.
    Column("component_id", String(255), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("status", String(32), nullable=False),
    PrimaryKeyConstraint("id", name="pk_status_changes"),
    Index("ix_status_changes_component_at", "component_id", "at"),
)

# Revision 0003: work kept through outages: deferred jobs, idempotency records, the Batch API's files and batches.

jobs = Table(
    "jobs", metadata,
    Column("id", String(40), nullable=False),
    Column("route", String(255), nullable=False),
    Column("operation", String(16), nullable=False),          # chat | embeddings
    # Content columns (see _crypto.py): JSON text, or with keys its encryption in base64; bytes, or their encryption.
    Column("body", SqlText, nullable=False),                   # the request, in the internal (OpenAI) format
    Column("client", String(255), nullable=True),
    Column("callback_url", SqlText, nullable=True),
    Column("status", String(16), nullable=False),              # queued | running | succeeded | failed | expired
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("lease_until", UTCDateTime, nullable=True),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("response_status", Integer, nullable=True),
    Column("response_body", LargeBinary, nullable=True),
    Column("target", String(255), nullable=True),
    Column("error", SqlText, nullable=True),
    Column("callback_state", String(16), nullable=True),      # pending | sent | failed (None: no callback)
    Column("callback_attempts", Integer, nullable=False, server_default="0"),
    Column("callback_next_at", UTCDateTime, nullable=True),
    Column("callback_lease_until", UTCDateTime, nullable=True),
    PrimaryKeyConstraint("id", name="pk_jobs"),
    Index("ix_jobs_due", "status", "next_attempt_at"),
    # Revision 0006: the data subject (x-releve-subject) the content belongs to, for access and erasure requests.
    Column("subject", String(255), nullable=True),
    Index("ix_jobs_subject", "subject"),
)

idempotency = Table(
    "idempotency", metadata,
    Column("client", String(255), nullable=False),             # "" when authentication is off
    Column("key", String(255), nullable=False),
    Column("body_hash", String(64), nullable=False),           # sha256 of the request body, hex
    Column("state", String(16), nullable=False),               # in_progress | done
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("response_status", Integer, nullable=True),
    Column("response_headers", JsonText, nullable=True),       # [[name, value], …], latin-1 strings
    Column("response_body", LargeBinary, nullable=True),
    PrimaryKeyConstraint("client", "key", name="pk_idempotency"),
    # Revision 0006: the data subject (x-releve-subject) the content belongs to, for access and erasure requests.
    Column("subject", String(255), nullable=True),
    Index("ix_idempotency_subject", "subject"),
)

files = Table(
    "files", metadata,
    Column("id", String(40), nullable=False),
    Column("purpose", String(32), nullable=False),
    Column("filename", SqlText, nullable=False),
    Column("bytes", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("content", LargeBinary, nullable=False),
    PrimaryKeyConstraint("id", name="pk_files"),
    # Revision 0006: the data subject (x-releve-subject) the content belongs to, for access and erasure requests.
    Column("subject", String(255), nullable=True),
    Index("ix_files_subject", "subject"),
)

batches = Table(
    "batches", metadata,
    Column("id", String(40), nullable=False),
    Column("endpoint", String(64), nullable=False),
    Column("input_file_id", String(40), nullable=False),
    Column("completion_window", String(16), nullable=False),
    # validating | in_progress | finalizing | completed | failed | expired | cancelling | cancelled
    Column("status", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("in_progress_at", UTCDateTime, nullable=True),
    Column("finalizing_at", UTCDateTime, nullable=True),
    Column("completed_at", UTCDateTime, nullable=True),
    Column("failed_at", UTCDateTime, nullable=True),
    Column("expired_at", UTCDateTime, nullable=True),
    Column("cancelling_at", UTCDateTime, nullable=True),
    Column("cancelled_at", UTCDateTime, nullable=True),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("output_file_id", String(40), nullable=True),
    Column("error_file_id", String(40), nullable=True),
    Column("total", Integer, nullable=False, server_default="0"),
    Column("completed", Integer, nullable=False, server_default="0"),
    Column("failed", Integer, nullable=False, server_default="0"),
    Column("metadata", JsonText, nullable=True),
    Column("errors", JsonText, nullable=True),
    Column("lease_until", UTCDateTime, nullable=True),
    PrimaryKeyConstraint("id", name="pk_batches"),
    Index("ix_batches_status", "status"),
    # Revision 0006: the data subject (x-releve-subject) the content belongs to, for access and erasure requests.
    Column("subject", String(255), nullable=True),
    Index("ix_batches_subject", "subject"),
)

batch_lines = Table(
    "batch_lines", metadata,
    Column("batch_id", String(40), ForeignKey("batches.id", name="fk_batch_lines_batch"), nullable=False),
    Column("line_no", Integer, nullable=False),
    Column("custom_id", SqlText, nullable=False),
    # Content columns (see _crypto.py): JSON text, or with keys its encryption in base64.
    Column("body", SqlText, nullable=False),                   # the line's request body
    Column("state", String(16), nullable=False),               # pending | done | error
    Column("response_status", Integer, nullable=True),
    Column("response_body", SqlText, nullable=True),
    Column("error", SqlText, nullable=True),
    Column("request_id", String(40), nullable=True),
    Column("updated_at", UTCDateTime, nullable=True),
    PrimaryKeyConstraint("batch_id", "line_no", name="pk_batch_lines"),
    Index("ix_batch_lines_state", "batch_id", "state"),
)

# Revision 0005: the tamper-evident audit log (hash chain) and its head (see _audit.py).

audit_log = Table(
    "audit_log", metadata,
    # Given by the appender, 1, 2, 3…: a gap means a deleted entry.
    Column("seq", BigInteger, nullable=False, autoincrement=False),
    Column("at", UTCDateTime, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("actor", String(255), nullable=False),
    Column("data", JsonText, nullable=False),
    Column("prev_hash", String(64), nullable=False),          # sha256 hex of the previous entry
    Column("hash", String(64), nullable=False),               # sha256 hex of this entry's canonical content
    PrimaryKeyConstraint("seq", name="pk_audit_log"),
    Index("ix_audit_log_at", "at"),
)

audit_head = Table(
    "audit_head", metadata,
    # One row (id 1): the last entry as the appenders left it, so a cut tail shows.
    Column("id", Integer, nullable=False, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("signature", String(64), nullable=True),           # HMAC-SHA256 hex of "seq:hash", with a key
    PrimaryKeyConstraint("id", name="pk_audit_head"),
)

# Revision 0007: leases for the work that runs once across replicas (see _leases.py).

leases = Table(
    "leases", metadata,
    Column("name", String(64), nullable=False),
    Column("holder", String(255), nullable=False),            # "host:pid:random", new at every process start
    # The fencing token: +1 each time the lease changes hands, so a write can tell a stale holder.
    Column("token", BigInteger, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("name", name="pk_leases"),
)
