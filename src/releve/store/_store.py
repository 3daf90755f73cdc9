"""Relève's durable state behind one class; SQLite by default, PostgreSQL by URL.

SKELETON written by the lead: a helper implements the bodies. Signatures are the contract the
monitor, the status page and the notifiers code against; change them only with the lead.

Every method is synchronous (SQLAlchemy Core, no ORM) and short; async callers run them in a
thread (`asyncio.to_thread`). Every write that must happen together (an incident, its first
update and its notifications) is one transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime

from ._model import (
    Component,
    ComponentStatus,
    Impact,
    Incident,
    IncidentStatus,
    IncidentUpdate,
    OutboxItem,
    Text,
    UptimeDay,
)

__all__ = ["Store"]


class Store:
    def __init__(self, url: str) -> None:
        """`url`: "sqlite:///relative.db", "sqlite:////abs/path.db", "sqlite://" (memory), "postgresql://…".

        Builds nothing that does I/O; `open()` connects and migrates.
        """
        raise NotImplementedError

    def open(self) -> None:
        """Connect and bring the schema to the newest revision (Alembic `upgrade head`)."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    # --- components -------------------------------------------------------------------------

    def sync_components(self, components: Sequence[Component]) -> None:
        """Make the stored component definitions (name, description, kind, position, public) match the config.

        Existing components keep their stored status; new ones get the status given; components no
        longer listed are removed from `components()` (their history stays).
        """
        raise NotImplementedError

    def set_component_status(self, component_id: str, status: ComponentStatus, at: datetime) -> None:
        raise NotImplementedError

    def components(self) -> list[Component]:
        """Ordered by (position, id)."""
        raise NotImplementedError

    # --- uptime -----------------------------------------------------------------------------

    def add_uptime(self, samples: Iterable[tuple[str, date, ComponentStatus, float]]) -> None:
        """Add seconds spent in a status to (component, day) rows, creating them as needed."""
        raise NotImplementedError

    def uptime(self, component_ids: Sequence[str], since: date) -> dict[str, list[UptimeDay]]:
        """Per component, its days from `since` on (days without data are absent), oldest first."""
        raise NotImplementedError

    # --- incidents --------------------------------------------------------------------------

    def open_incident(self, *, name: Text, body: Text, impact: Impact, components: Sequence[str],
                      affected: Sequence[tuple[str, ComponentStatus]], at: datetime, automatic: bool,
                      started_at: datetime | None = None, status: IncidentStatus = IncidentStatus.INVESTIGATING,
                      channels: Sequence[str] = ()) -> Incident:
        """Create an incident and its first update, and queue one `open` notification per channel."""
        raise NotImplementedError

    def add_update(self, incident_id: str, *, status: IncidentStatus, body: Text, at: datetime,
                   affected: Sequence[tuple[str, ComponentStatus]] = (), impact: Impact | None = None,
                   components: Sequence[str] | None = None, recovered_at: datetime | None = None,
                   channels: Sequence[str] = ()) -> IncidentUpdate:
        """Append an update. A closing status (resolved, completed) sets `resolved_at` and queues `resolve`
        notifications; any other queues `update` ones. `recovered_at`, when given, is recorded once
        (the first value wins). Raises `StoreError` for an unknown or already closed incident.
        """
        raise NotImplementedError

    def schedule_maintenance(self, *, name: Text, body: Text, components: Sequence[str], starts: datetime,
                             ends: datetime, at: datetime, channels: Sequence[str] = ()) -> Incident:
        """A maintenance window: an incident with impact `maintenance`, status `scheduled`."""
        raise NotImplementedError

    def incident(self, incident_id: str) -> Incident | None:
        raise NotImplementedError

    def incidents(self, *, limit: int = 50, since: datetime | None = None, unresolved: bool = False,
                  maintenance: bool | None = None) -> list[Incident]:
        """Newest first (by created_at), with their updates (newest first).

        `unresolved`: only incidents not closed. `maintenance`: True only maintenance windows, False only
        incidents, None both. `since`: created at or after.
        """
        raise NotImplementedError

    # --- notification outbox ----------------------------------------------------------------

    def claim_notifications(self, now: datetime, *, lease_seconds: float = 60.0, limit: int = 20) -> list[OutboxItem]:
        """Take up to `limit` pending items due by `now`, leased so that no other process takes them meanwhile.

        Safe with several processes (an UPDATE … WHERE the lease is free, per row), on SQLite and PostgreSQL.
        """
        raise NotImplementedError

    def notification_sent(self, item_id: int, at: datetime) -> None:
        raise NotImplementedError

    def notification_failed(self, item_id: int, error: str, *, retry_at: datetime | None) -> None:
        """Record the error; with `retry_at` it becomes due again then, without it is given up."""
        raise NotImplementedError

    def notifications(self, incident_id: str) -> list[tuple[OutboxItem, str]]:
        """Every queued item of an incident with its state: pending | sent | failed (for tests and the CLI)."""
        raise NotImplementedError
