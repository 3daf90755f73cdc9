"""Relève's durable state: components, incidents, uptime, the notification outbox.

SQLAlchemy Core on SQLite (embedded default) or PostgreSQL; the schema is
migrated by Alembic. Stored prompts and answers are encrypted at rest when the
store is given `ContentKeys`. Other packages import from here only.
"""

from ._audit import AUDIT_GENESIS, audit_at, audit_hash, audit_head_signature
from ._crypto import DATA_KEYS_ENV, ContentKeys
from ._leases import Fenced
from ._model import (
    AuditEntry,
    AuditHead,
    BatchLine,
    BatchRecord,
    Component,
    ComponentKind,
    ComponentStatus,
    FileRecord,
    IdempotencyRecord,
    Impact,
    Incident,
    IncidentStatus,
    IncidentUpdate,
    Job,
    JobStatus,
    NotificationEvent,
    OutboxItem,
    StatusChange,
    Text,
    TrafficMinute,
    UptimeDay,
    worst,
)
from ._polling import poll_store
from ._store import Store
from ._words import COMPONENT_STATUS_WORDS, IMPACT_WORDS, INCIDENT_STATUS_WORDS

__all__ = [
    "AUDIT_GENESIS",
    "AuditEntry",
    "AuditHead",
    "BatchLine",
    "BatchRecord",
    "COMPONENT_STATUS_WORDS",
    "Component",
    "ComponentKind",
    "ComponentStatus",
    "ContentKeys",
    "DATA_KEYS_ENV",
    "Fenced",
    "FileRecord",
    "IMPACT_WORDS",
    "INCIDENT_STATUS_WORDS",
    "IdempotencyRecord",
    "Impact",
    "Incident",
    "IncidentStatus",
    "IncidentUpdate",
    "Job",
    "JobStatus",
    "NotificationEvent",
    "OutboxItem",
    "StatusChange",
    "Store",
    "Text",
    "TrafficMinute",
    "UptimeDay",
    "audit_at",
    "audit_hash",
    "audit_head_signature",
    "poll_store",
    "worst",
]
