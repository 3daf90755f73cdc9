"""Rows to values, and the few statements whose SQL differs by dialect (upserts)."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

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
    Text,
)
from ._schema import incident_updates, outbox

__all__ = ["CLOSED", "component", "enqueue", "insert_for", "load_incidents", "new_id", "outbox_item", "utc"]

_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
CLOSED = tuple(status.value for status in IncidentStatus if status.closed)


def new_id() -> str:
    """12 lowercase letters and digits, like Statuspage's ids; unguessable, so public links cannot be enumerated."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(12))


def utc(at: datetime) -> datetime:
    """What the store gives back for `at`: the same instant in UTC (naive times are refused)."""
    if at.utcoffset() is None:
        raise ValueError(f"naive datetime {at.isoformat()}: the store takes timezone-aware datetimes")
    return at.astimezone(UTC)


def insert_for(connection: Connection, table: Table) -> sqlite.Insert | postgresql.Insert:
    """INSERT with ON CONFLICT support: the two dialects spell it alike but build it from different classes."""
    if connection.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def enqueue(connection: Connection, *, incident_id: str, update_id: str, event: NotificationEvent,
            channels: Iterable[str], at: datetime) -> None:
    """Queue one notification per channel; a dedup key already taken means it was queued before: skip it."""
    rows = []
    for channel in dict.fromkeys(channels):
        subject = update_id if event is NotificationEvent.UPDATE else incident_id
        rows.append({"incident_id": incident_id, "update_id": update_id, "event": event.value, "channel": channel,
                     "dedup_key": f"{subject}:{event.value}:{channel}", "state": "pending", "attempts": 0,
                     "created_at": at, "next_attempt_at": at})
    if rows:
        connection.execute(insert_for(connection, outbox).on_conflict_do_nothing(index_elements=["dedup_key"]), rows)


def _text(fr: str | None, en: str | None) -> Text | None:
    return None if fr is None or en is None else Text(fr=fr, en=en)


def component(row: Row[Any]) -> Component:
    return Component(id=row.id, kind=ComponentKind(row.kind), name=Text(fr=row.name_fr, en=row.name_en),
                     status=ComponentStatus(row.status), updated_at=row.updated_at,
                     description=_text(row.description_fr, row.description_en), position=row.position,
                     public=row.public)


def _affected(pairs: Sequence[Sequence[str]]) -> tuple[tuple[str, ComponentStatus], ...]:
    return tuple((component_id, ComponentStatus(status)) for component_id, status in pairs)


def _update(row: Row[Any]) -> IncidentUpdate:
    return IncidentUpdate(id=row.id, incident_id=row.incident_id, status=IncidentStatus(row.status),
                          body=Text(fr=row.body_fr, en=row.body_en), created_at=row.created_at,
                          affected=_affected(row.affected))


def _incident(row: Row[Any], updates: Sequence[IncidentUpdate]) -> Incident:
    return Incident(id=row.id, name=Text(fr=row.name_fr, en=row.name_en), status=IncidentStatus(row.status),
                    impact=Impact(row.impact), automatic=row.automatic, components=tuple(row.components),
                    created_at=row.created_at, updated_at=row.updated_at, started_at=row.started_at,
                    recovered_at=row.recovered_at, resolved_at=row.resolved_at, scheduled_for=row.scheduled_for,
                    scheduled_until=row.scheduled_until, updates=tuple(updates))


def load_incidents(connection: Connection, rows: Sequence[Row[Any]]) -> list[Incident]:
    """The incidents of `rows`, in that order, with their updates fetched in one more query."""
    if not rows:
        return []
    ids = [row.id for row in rows]
    found: Mapping[str, list[IncidentUpdate]] = {incident_id: [] for incident_id in ids}
    query = (select(incident_updates).where(incident_updates.c.incident_id.in_(ids))
             .order_by(incident_updates.c.incident_id, incident_updates.c.seq.desc()))
    for row in connection.execute(query):
        found[row.incident_id].append(_update(row))
    return [_incident(row, found[row.id]) for row in rows]


def outbox_item(row: Row[Any]) -> OutboxItem:
    return OutboxItem(id=row.id, incident_id=row.incident_id, update_id=row.update_id,
                      event=NotificationEvent(row.event), channel=row.channel, attempts=row.attempts,
                      created_at=row.created_at, next_attempt_at=row.next_attempt_at, last_error=row.last_error)
