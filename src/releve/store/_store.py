"""Relève's durable state behind one class; SQLite by default, PostgreSQL by URL.

`Store` is one class for its callers; the history kept for cost reports (traffic per route and
minute, component status changes) is written in _history.py and inherited from there.

Every method is synchronous (SQLAlchemy Core, no ORM) and short; async callers run them in a
thread (`asyncio.to_thread`). Every write that must happen together (an incident, its first
update and its notifications) is one transaction.

Checks that guard a write are part of the write (`UPDATE … WHERE`, `ON CONFLICT`), never a read
followed by a write, so two processes sharing the database cannot both pass them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, literal, or_, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError, StatementError
from sqlalchemy.pool import StaticPool

from ..errors import StoreError
from ._audit import Audit
from ._claims import take
from ._crypto import Content, ContentKeys, Encryption
from ._engine import display_url, make_engine, migrate
from ._history import History, record_change
from ._leases import Leases, check_fence
from ._model import (
    Component,
    ComponentStatus,
    Impact,
    Incident,
    IncidentStatus,
    IncidentUpdate,
    NotificationEvent,
    OutboxItem,
    Text,
    UptimeDay,
)
from ._rows import CLOSED, component, enqueue, insert_for, load_incidents, new_id, outbox_item, utc
from ._schema import UTCDateTime, incident_updates, incidents, outbox, uptime_days
from ._schema import components as _components  # `components` is a parameter name in the contract
from ._subjects import Subjects
from ._work import Work

__all__ = ["Store"]

_DEFINITION = ("kind", "name_fr", "name_en", "description_fr", "description_en", "position", "public")


class Store(Audit, Encryption, History, Leases, Subjects, Work):
    def __init__(self, url: str, *, keys: ContentKeys | None = None) -> None:
        """`url`: "sqlite:///relative.db", "sqlite:////abs/path.db", "sqlite://" (memory), "postgresql://…".

        `keys` (`ContentKeys.from_environ(os.environ)`): stored prompts, answers and files are encrypted with them,
        and read with or without them (see _crypto.py); without keys, content is written as plaintext.
        Builds nothing that does I/O; `open()` connects and migrates.
        """
        self._url = url
        self._content = Content(keys)
        self._engine: Engine = make_engine(url)
        self._open = False
        # An in-memory database is one connection: threads (asyncio.to_thread callers) must take turns on it,
        # or one's commit would commit another's half-done transaction.
        self._turns: AbstractContextManager[object] = (
            threading.Lock() if isinstance(self._engine.pool, StaticPool) else nullcontext())

    def __repr__(self) -> str:
        return f"Store({display_url(self._url)!r})"

    def open(self) -> None:
        """Connect and bring the schema to the newest revision (Alembic `upgrade head`)."""
        try:
            migrate(self._engine, self._url)
        except StoreError:
            self._engine.dispose()
            raise
        self._open = True

    def close(self) -> None:
        self._open = False
        self._engine.dispose()

    @contextmanager
    def _begin(self) -> Iterator[Connection]:
        """One transaction; the driver's errors come out as `StoreError` (a naive datetime as `ValueError`)."""
        if not self._open:
            raise StoreError(f"{self!r} is not open: call open() first")
        try:
            with self._turns, self._engine.begin() as connection:
                yield connection
        except DBAPIError as exc:
            raise StoreError(f"{display_url(self._url)}: {exc.orig}") from exc
        except StatementError as exc:
            if isinstance(exc.orig, ValueError):
                raise ValueError(str(exc.orig)) from exc
            raise StoreError(f"{display_url(self._url)}: {exc}") from exc
        except SQLAlchemyError as exc:
            raise StoreError(f"{display_url(self._url)}: {exc}") from exc

    # --- components -------------------------------------------------------------------------

    def sync_components(self, components: Sequence[Component]) -> None:
        """Make the stored component definitions (name, description, kind, position, public) match the config.

        Existing components keep their stored status; new ones get the status given, which starts their
        status history (at their `updated_at`); components no longer listed are removed from `components()`
        (their history stays).
        """
        rows = [{"id": c.id, "kind": c.kind.value, "name_fr": c.name.fr, "name_en": c.name.en,
                 "description_fr": c.description.fr if c.description else None,
                 "description_en": c.description.en if c.description else None,
                 "status": c.status.value, "position": c.position, "public": c.public,
                 "updated_at": c.updated_at, "active": True} for c in components]
        with self._begin() as connection:
            if rows:
                # New ones first: the insert itself tells which are new, even with another process syncing.
                insert = insert_for(connection, _components)
                added = set(connection.execute(
                    insert.on_conflict_do_nothing(index_elements=["id"]).returning(_components.c.id), rows).scalars())
                record_change(connection, [(c.id, c.status, c.updated_at) for c in components if c.id in added])
                kept = {name: insert.excluded[name] for name in (*_DEFINITION, "active")}
                existing = [row for row in rows if row["id"] not in added]
                if existing:
                    connection.execute(insert.on_conflict_do_update(index_elements=["id"], set_=kept), existing)
            listed = [row["id"] for row in rows]
            connection.execute(update(_components).where(_components.c.id.not_in(listed), _components.c.active)
                               .values(active=False))

    def set_component_status(self, component_id: str, status: ComponentStatus, at: datetime) -> None:
        """`updated_at` moves only when the status changes: it says since when the component is in it.

        A change (only) is also added to the status history.
        """
        with self._begin() as connection:
            changed = connection.execute(
                update(_components).where(_components.c.id == component_id, _components.c.status != status.value)
                .values(status=status.value, updated_at=at))
            if changed.rowcount == 1:
                record_change(connection, [(component_id, status, at)])
            elif connection.execute(
                    select(_components.c.id).where(_components.c.id == component_id)).first() is None:
                raise StoreError(f"no component {component_id!r}")

    def components(self) -> list[Component]:
        """Ordered by (position, id)."""
        with self._begin() as connection:
            rows = connection.execute(select(_components).where(_components.c.active)
                                      .order_by(_components.c.position, _components.c.id))
            return [component(row) for row in rows]

    # --- uptime -----------------------------------------------------------------------------

    def add_uptime(self, samples: Iterable[tuple[str, date, ComponentStatus, float]]) -> None:
        """Add seconds spent in a status to (component, day) rows, creating them as needed."""
        # Summed first: PostgreSQL refuses one statement touching the same row twice.
        totals: dict[tuple[str, date, str], float] = {}
        for component_id, day, status, seconds in samples:
            key = (component_id, day, ComponentStatus(status).value)
            totals[key] = totals.get(key, 0.0) + seconds
        if not totals:
            return
        rows = [{"component_id": c, "day": d, "status": s, "seconds": v} for (c, d, s), v in totals.items()]
        with self._begin() as connection:
            insert = insert_for(connection, uptime_days)
            added = {"seconds": uptime_days.c.seconds + insert.excluded.seconds}
            connection.execute(
                insert.on_conflict_do_update(index_elements=["component_id", "day", "status"], set_=added), rows)

    def uptime(self, component_ids: Sequence[str], since: date) -> dict[str, list[UptimeDay]]:
        """Per component, its days from `since` on (days without data are absent), oldest first."""
        found: dict[str, dict[date, dict[ComponentStatus, float]]] = {c: {} for c in component_ids}
        if not found:
            return {}
        query = (select(uptime_days)
                 .where(uptime_days.c.component_id.in_(list(found)), uptime_days.c.day >= since)
                 .order_by(uptime_days.c.component_id, uptime_days.c.day, uptime_days.c.status))
        with self._begin() as connection:
            for row in connection.execute(query):
                found[row.component_id].setdefault(row.day, {})[ComponentStatus(row.status)] = row.seconds
        return {c: [UptimeDay(component_id=c, day=d, seconds=s) for d, s in days.items()]
                for c, days in found.items()}

    # --- incidents --------------------------------------------------------------------------

    def open_incident(self, *, name: Text, body: Text, impact: Impact, components: Sequence[str],
                      affected: Sequence[tuple[str, ComponentStatus]], at: datetime, automatic: bool,
                      started_at: datetime | None = None, status: IncidentStatus = IncidentStatus.INVESTIGATING,
                      channels: Sequence[str] = (), fence: tuple[str, int] | None = None) -> Incident:
        """Create an incident and its first update, and queue one `open` notification per channel.

        `fence` (lease name, token): refused with `Fenced` unless that lease still carries that token.
        """
        return self._create(name=name, body=body, impact=impact, components=components, affected=affected, at=at,
                            automatic=automatic, started_at=started_at, status=status, channels=channels,
                            fence=fence)

    def add_update(self, incident_id: str, *, status: IncidentStatus, body: Text, at: datetime,
                   affected: Sequence[tuple[str, ComponentStatus]] = (), impact: Impact | None = None,
                   components: Sequence[str] | None = None, recovered_at: datetime | None = None,
                   channels: Sequence[str] = (), fence: tuple[str, int] | None = None) -> IncidentUpdate:
        """Append an update. A closing status (resolved, completed) sets `resolved_at` and queues `resolve`
        notifications; any other queues `update` ones. `recovered_at`, when given, is recorded once
        (the first value wins). Raises `StoreError` for an unknown or already closed incident, `Fenced`
        for a stale `fence` (as for `open_incident`).
        """
        changes: dict[str, Any] = {"status": status.value, "updated_at": at}
        if status.closed:
            changes["resolved_at"] = at
        if impact is not None:
            changes["impact"] = impact.value
        if components is not None:
            changes["components"] = list(components)
        if recovered_at is not None:
            changes["recovered_at"] = func.coalesce(incidents.c.recovered_at, literal(recovered_at, UTCDateTime()))
        update_id = new_id()
        with self._begin() as connection:
            if fence is not None:
                check_fence(connection, *fence)
            # The open-ness check is the UPDATE's own WHERE: a concurrent close cannot slip in between.
            changed = connection.execute(
                update(incidents).where(incidents.c.id == incident_id, incidents.c.status.not_in(CLOSED))
                .values(changes))
            if changed.rowcount != 1:
                current = connection.execute(
                    select(incidents.c.status).where(incidents.c.id == incident_id)).scalar_one_or_none()
                if current is None:
                    raise StoreError(f"no incident {incident_id!r}")
                raise StoreError(f"incident {incident_id} is {current}: a closed incident takes no more updates")
            seq = connection.execute(select(func.coalesce(func.max(incident_updates.c.seq), 0))
                                     .where(incident_updates.c.incident_id == incident_id)).scalar_one()
            connection.execute(incident_updates.insert().values(
                id=update_id, incident_id=incident_id, seq=seq + 1, status=status.value, body_fr=body.fr,
                body_en=body.en, created_at=at, affected=_pairs(affected)))
            event = NotificationEvent.RESOLVE if status.closed else NotificationEvent.UPDATE
            enqueue(connection, incident_id=incident_id, update_id=update_id, event=event, channels=channels, at=at)
        return IncidentUpdate(id=update_id, incident_id=incident_id, status=status, body=body, created_at=utc(at),
                              affected=tuple((c, ComponentStatus(s)) for c, s in affected))

    def schedule_maintenance(self, *, name: Text, body: Text, components: Sequence[str], starts: datetime,
                             ends: datetime, at: datetime, channels: Sequence[str] = ()) -> Incident:
        """A maintenance window: an incident with impact `maintenance`, status `scheduled`."""
        if ends <= starts:
            raise ValueError(f"maintenance window ends ({ends.isoformat()}) before it starts ({starts.isoformat()})")
        return self._create(name=name, body=body, impact=Impact.MAINTENANCE, components=components, affected=(),
                            at=at, automatic=False, started_at=None, status=IncidentStatus.SCHEDULED,
                            channels=channels, window=(starts, ends))

    def _create(self, *, name: Text, body: Text, impact: Impact, components: Sequence[str],
                affected: Sequence[tuple[str, ComponentStatus]], at: datetime, automatic: bool,
                started_at: datetime | None, status: IncidentStatus, channels: Sequence[str],
                window: tuple[datetime, datetime] | None = None, fence: tuple[str, int] | None = None) -> Incident:
        if status.closed:
            raise StoreError(f"an incident cannot be opened {status}: open it, then add a {status} update")
        incident_id, update_id = new_id(), new_id()
        with self._begin() as connection:
            if fence is not None:
                check_fence(connection, *fence)
            connection.execute(incidents.insert().values(
                id=incident_id, name_fr=name.fr, name_en=name.en, status=status.value, impact=impact.value,
                automatic=automatic, components=list(components), created_at=at, updated_at=at,
                started_at=started_at, scheduled_for=window[0] if window else None,
                scheduled_until=window[1] if window else None))
            connection.execute(incident_updates.insert().values(
                id=update_id, incident_id=incident_id, seq=1, status=status.value, body_fr=body.fr, body_en=body.en,
                created_at=at, affected=_pairs(affected)))
            enqueue(connection, incident_id=incident_id, update_id=update_id, event=NotificationEvent.OPEN,
                    channels=channels, at=at)
            rows = connection.execute(select(incidents).where(incidents.c.id == incident_id)).all()
            return load_incidents(connection, rows)[0]

    def incident(self, incident_id: str) -> Incident | None:
        with self._begin() as connection:
            rows = connection.execute(select(incidents).where(incidents.c.id == incident_id)).all()
            found = load_incidents(connection, rows)
        return found[0] if found else None

    def incidents(self, *, limit: int = 50, since: datetime | None = None, unresolved: bool = False,
                  maintenance: bool | None = None) -> list[Incident]:
        """Newest first (by created_at), with their updates (newest first).

        `unresolved`: only incidents not closed. `maintenance`: True only maintenance windows, False only
        incidents, None both. `since`: created at or after.
        """
        query = select(incidents).order_by(incidents.c.created_at.desc(), incidents.c.id.desc()).limit(limit)
        if since is not None:
            query = query.where(incidents.c.created_at >= since)
        if unresolved:
            query = query.where(incidents.c.status.not_in(CLOSED))
        if maintenance is True:
            query = query.where(incidents.c.scheduled_for.is_not(None))
        elif maintenance is False:
            query = query.where(incidents.c.scheduled_for.is_(None))
        with self._begin() as connection:
            return load_incidents(connection, connection.execute(query).all())

    # --- notification outbox ----------------------------------------------------------------

    def claim_notifications(self, now: datetime, *, lease_seconds: float = 60.0, limit: int = 20) -> list[OutboxItem]:
        """Take up to `limit` pending items due by `now`, leased so that no other process takes them meanwhile.

        Safe with several processes and replicas, on SQLite and PostgreSQL (see `_claims.take`).
        The items come back with `attempts` counting this one.
        """
        free = or_(outbox.c.lease_until.is_(None), outbox.c.lease_until < now)
        due = and_(outbox.c.state == "pending", outbox.c.next_attempt_at <= now, free)
        lease = {"lease_until": now + timedelta(seconds=lease_seconds), "attempts": outbox.c.attempts + 1}
        order = (outbox.c.next_attempt_at, outbox.c.id)
        with self._begin() as connection:
            claimed = take(connection, outbox, due, lease, order=order, limit=limit)
            if not claimed:
                return []
            rows = connection.execute(select(outbox).where(outbox.c.id.in_(claimed)).order_by(*order))
            return [outbox_item(row) for row in rows]

    def notification_sent(self, item_id: int, at: datetime) -> None:
        self._finish(item_id, state="sent", sent_at=at, lease_until=None)

    def notification_failed(self, item_id: int, error: str, *, retry_at: datetime | None) -> None:
        """Record the error; with `retry_at` it becomes due again then, without it is given up."""
        if retry_at is None:
            self._finish(item_id, state="failed", last_error=error, lease_until=None)
        else:
            self._finish(item_id, next_attempt_at=retry_at, last_error=error, lease_until=None)

    def _finish(self, item_id: int, **values: Any) -> None:
        with self._begin() as connection:
            if connection.execute(update(outbox).where(outbox.c.id == item_id).values(values)).rowcount != 1:
                raise StoreError(f"no queued notification {item_id}")

    def notifications(self, incident_id: str) -> list[tuple[OutboxItem, str]]:
        """Every queued item of an incident with its state: pending | sent | failed (for tests and the CLI)."""
        with self._begin() as connection:
            rows = connection.execute(select(outbox).where(outbox.c.incident_id == incident_id).order_by(outbox.c.id))
            return [(outbox_item(row), row.state) for row in rows]


def _pairs(affected: Sequence[tuple[str, ComponentStatus]]) -> list[list[str]]:
    return [[component_id, ComponentStatus(status).value] for component_id, status in affected]
