"""What cost reports are computed from: requests per route and minute by outcome, component status changes.

`Store` inherits `History`'s methods; `record_change` is how its component writes add to the history,
inside their own transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.engine import Connection

from ._model import ComponentStatus, StatusChange, TrafficMinute
from ._rows import insert_for
from ._schema import components, status_changes, traffic_minutes

__all__ = ["History", "record_change"]

_COUNTS = ("served", "fallback", "degraded", "deferred", "failed")


def record_change(connection: Connection, rows: Sequence[tuple[str, ComponentStatus, datetime]]) -> None:
    """Append (component id, new status, since when) rows to the status history."""
    if rows:
        connection.execute(status_changes.insert(), [
            {"component_id": component_id, "status": ComponentStatus(status).value, "at": at}
            for component_id, status, at in rows])


def _aligned(minute: datetime) -> datetime:
    """The minute in UTC; a naive or mid-minute time is refused (it would be counted in the wrong row)."""
    if minute.utcoffset() is None:
        raise ValueError(f"naive datetime {minute.isoformat()}: the store takes timezone-aware datetimes")
    minute = minute.astimezone(UTC)
    if minute.second or minute.microsecond:
        raise ValueError(f"{minute.isoformat()} is not the start of a minute (seconds and microseconds must be 0)")
    return minute


class History:
    """The history methods of `Store` (which provides `_begin`)."""

    if TYPE_CHECKING:
        def _begin(self) -> AbstractContextManager[Connection]: ...

    # --- traffic ----------------------------------------------------------------------------

    def add_traffic(self, samples: Iterable[TrafficMinute]) -> None:
        """Add the samples' counts to their (route, minute) rows, creating them as needed.

        Raises `ValueError` (and writes nothing) for a naive minute or one not at the start of a minute.
        """
        # Summed first: PostgreSQL refuses one statement touching the same row twice.
        totals: dict[tuple[str, datetime], list[int]] = {}
        for sample in samples:
            counts = totals.setdefault((sample.route, _aligned(sample.minute)), [0] * len(_COUNTS))
            for index, name in enumerate(_COUNTS):
                counts[index] += getattr(sample, name)
        if not totals:
            return
        rows = [{"route": route, "minute": minute, **dict(zip(_COUNTS, counts, strict=True))}
                for (route, minute), counts in totals.items()]
        with self._begin() as connection:
            insert = insert_for(connection, traffic_minutes)
            added = {name: traffic_minutes.c[name] + insert.excluded[name] for name in _COUNTS}
            connection.execute(insert.on_conflict_do_update(index_elements=["route", "minute"], set_=added), rows)

    def traffic(self, routes: Sequence[str], since: datetime, until: datetime) -> list[TrafficMinute]:
        """The rows of `routes` with `since <= minute < until`, ordered by (minute, route); minutes without
        traffic are absent."""
        if not routes:
            return []
        query = (select(traffic_minutes)
                 .where(traffic_minutes.c.route.in_(list(dict.fromkeys(routes))),
                        traffic_minutes.c.minute >= since, traffic_minutes.c.minute < until)
                 .order_by(traffic_minutes.c.minute, traffic_minutes.c.route))
        with self._begin() as connection:
            return [TrafficMinute(route=row.route, minute=row.minute, served=row.served, fallback=row.fallback,
                                  degraded=row.degraded, deferred=row.deferred, failed=row.failed)
                    for row in connection.execute(query)]

    # --- status changes ---------------------------------------------------------------------

    def status_history(self, component_ids: Sequence[str], since: datetime,
                       until: datetime) -> dict[str, list[StatusChange]]:
        """Per component asked (an empty list when it has none), oldest first: its last change at or before
        `since`, which gives its status at `since`, then every change with `since < at < until`.

        Changes at the same instant keep the order they were recorded in.
        """
        found: dict[str, list[StatusChange]] = {c: [] for c in component_ids}
        if not found:
            return {}
        asked = list(found)
        # Per component, one index lookup (components lists every component that ever had a change).
        earlier = status_changes.alias("earlier")
        last = (select(earlier.c.id).where(earlier.c.component_id == components.c.id, earlier.c.at <= since)
                .order_by(earlier.c.at.desc(), earlier.c.id.desc()).limit(1).correlate(components).scalar_subquery())
        before = select(status_changes).where(status_changes.c.id.in_(
            select(last).where(components.c.id.in_(asked))))
        during = select(status_changes).where(status_changes.c.component_id.in_(asked), status_changes.c.at > since,
                                              status_changes.c.at < until)
        with self._begin() as connection:
            for query in (before, during):
                for row in connection.execute(query.order_by(status_changes.c.at, status_changes.c.id)):
                    found[row.component_id].append(
                        StatusChange(component_id=row.component_id, at=row.at, status=ComponentStatus(row.status)))
        return found
