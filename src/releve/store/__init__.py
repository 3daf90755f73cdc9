"""Relève's durable state: components, incidents, uptime, the notification outbox.

SQLAlchemy Core on SQLite (embedded default) or PostgreSQL; the schema is
migrated by Alembic. Other packages import from here only.
"""

from ._model import (
    Component,
    ComponentKind,
    ComponentStatus,
    Impact,
    Incident,
    IncidentStatus,
    IncidentUpdate,
    NotificationEvent,
    OutboxItem,
    StatusChange,
    Text,
    TrafficMinute,
    UptimeDay,
    worst,
)
from ._store import Store
from ._words import COMPONENT_STATUS_WORDS, IMPACT_WORDS, INCIDENT_STATUS_WORDS

__all__ = [
    "COMPONENT_STATUS_WORDS",
    "Component",
    "ComponentKind",
    "ComponentStatus",
    "IMPACT_WORDS",
    "INCIDENT_STATUS_WORDS",
    "Impact",
    "Incident",
    "IncidentStatus",
    "IncidentUpdate",
    "NotificationEvent",
    "OutboxItem",
    "StatusChange",
    "Store",
    "Text",
    "TrafficMinute",
    "UptimeDay",
    "worst",
]
