"""What the status page shows, read from the store in one go and kept for a couple of seconds.

The page, its JSON API and its feed are all built from one `View`, so the
three never disagree, and a burst of page loads costs one set of queries.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from releve.config import StatusPageConfig
from releve.store import (
    Component,
    ComponentKind,
    ComponentStatus,
    Impact,
    Incident,
    IncidentStatus,
    Store,
    UptimeDay,
    worst,
)

UPTIME_DAYS = 90
PAST_DAYS = 14
HISTORY_LIMIT = 50

# How bad a page indicator is; maintenance sits just above "none", like under_maintenance among components.
_INDICATOR_RANK = {Impact.NONE: 0, Impact.MAINTENANCE: 1, Impact.MINOR: 2, Impact.MAJOR: 3, Impact.CRITICAL: 4}
# The description an unresolved incident's impact gives the page when it is worse than the components'.
_IMPACT_DESCRIPTION = {
    Impact.NONE: "all_operational",
    Impact.MAINTENANCE: "service_under_maintenance",
    Impact.MINOR: "minor_service_outage",
    Impact.MAJOR: "partial_system_outage",
    Impact.CRITICAL: "major_system_outage",
}


@dataclass(frozen=True, slots=True)
class DayView:
    day: date
    uptime: float | None              # None: nothing observed that day
    worst: ComponentStatus | None     # the worst status seen that day; None without data


@dataclass(frozen=True, slots=True)
class ComponentView:
    component: Component
    days: tuple[DayView, ...]         # UPTIME_DAYS of them, oldest first, ending today
    uptime: float | None              # over the observed days, weighted by observed time


@dataclass(frozen=True, slots=True)
class View:
    now: datetime
    components: tuple[ComponentView, ...]
    unresolved: tuple[Incident, ...]      # open incidents (not maintenance), newest first
    incidents: tuple[Incident, ...]       # the last HISTORY_LIMIT incidents, any status, newest first
    maintenances: tuple[Incident, ...]    # the last HISTORY_LIMIT windows, with their effective status
    indicator: Impact
    description: str                      # a key of `_i18n.DESCRIPTIONS`
    uptime: float | None                  # every shown component over UPTIME_DAYS, weighted by observed time
    updated_at: datetime

    @property
    def names(self) -> dict[str, Component]:
        return {view.component.id: view.component for view in self.components}

    @property
    def upcoming(self) -> tuple[Incident, ...]:
        return tuple(m for m in self.maintenances if m.status is IncidentStatus.SCHEDULED)

    @property
    def active_maintenances(self) -> tuple[Incident, ...]:
        return tuple(m for m in self.maintenances if m.status in (IncidentStatus.IN_PROGRESS, IncidentStatus.VERIFYING))

    @property
    def past(self) -> tuple[Incident, ...]:
        """Closed incidents opened in the last PAST_DAYS days."""
        since = self.now - timedelta(days=PAST_DAYS)
        return tuple(i for i in self.incidents if i.status.closed and i.created_at >= since)

    @property
    def history(self) -> tuple[Incident, ...]:
        """Incidents and maintenance windows together, newest first: what the feed lists."""
        merged = sorted((*self.incidents, *self.maintenances), key=lambda i: i.created_at, reverse=True)
        return tuple(merged[:HISTORY_LIMIT])


def shown_components(components: Sequence[Component], show_routes: bool) -> list[Component]:
    """Public business processes; routes too when asked, or when there is no process so the page is never empty."""
    processes = [c for c in components if c.kind is ComponentKind.PROCESS and c.public]
    routes = [c for c in components if c.kind is ComponentKind.ROUTE and c.public]
    return processes + routes if show_routes or not processes else processes


def page_status(statuses: Sequence[ComponentStatus], open_impacts: Sequence[Impact]) -> tuple[Impact, str]:
    """The page indicator and its description, following Statuspage's top-level status rules.

    From the components (Statuspage's "blend" for pages with several components):
    every component in major outage → critical "Major System Outage"; some → major "Partial System
    Outage"; every one in partial outage → major "Partial System Outage"; some → minor "Minor Service
    Outage"; degraded → minor ("Degraded System Service" when every one of several is,
    "Partially Degraded Service" otherwise); under maintenance → maintenance; else none.
    An unresolved incident (or an active maintenance window, as impact `maintenance`) whose impact is
    worse raises the indicator to that impact: critical → "Major System Outage", major → "Partial System
    Outage", minor → "Minor Service Outage". Order: none < maintenance < minor < major < critical.
    """
    indicator, description = _blend(statuses)
    for impact in open_impacts:
        if _INDICATOR_RANK[impact] > _INDICATOR_RANK[indicator]:
            indicator, description = impact, _IMPACT_DESCRIPTION[impact]
    return indicator, description


def _blend(statuses: Sequence[ComponentStatus]) -> tuple[Impact, str]:
    bad = worst(tuple(statuses))
    every = all(status is bad for status in statuses)
    if bad is ComponentStatus.MAJOR_OUTAGE:
        return (Impact.CRITICAL, "major_system_outage") if every else (Impact.MAJOR, "partial_system_outage")
    if bad is ComponentStatus.PARTIAL_OUTAGE:
        return (Impact.MAJOR, "partial_system_outage") if every else (Impact.MINOR, "minor_service_outage")
    if bad is ComponentStatus.DEGRADED_PERFORMANCE:
        return Impact.MINOR, "degraded_system_service" if every and len(statuses) > 1 else "partially_degraded_service"
    if bad is ComponentStatus.UNDER_MAINTENANCE:
        return Impact.MAINTENANCE, "service_under_maintenance"
    return Impact.NONE, "all_operational"


def effective_maintenance(window: Incident, now: datetime) -> Incident:
    """A window still marked `scheduled` is shown in progress once it starts and completed once it ends.

    Statuspage moves maintenance along at its boundaries by itself; the store keeps what was written.
    """
    if window.status is not IncidentStatus.SCHEDULED or window.scheduled_for is None:
        return window
    if window.scheduled_until is not None and now >= window.scheduled_until:
        return dataclasses.replace(window, status=IncidentStatus.COMPLETED)
    if now >= window.scheduled_for:
        return dataclasses.replace(window, status=IncidentStatus.IN_PROGRESS)
    return window


def uptime_days(days: Sequence[UptimeDay], today: date) -> tuple[tuple[DayView, ...], float, float]:
    """The UPTIME_DAYS days ending `today` (gaps as "no data"), and the up and observed seconds over them.

    Up seconds are each day's Statuspage-weighted uptime times its observed seconds, so a ratio of the
    two sums weighs every day by how long it was watched.
    """
    by_day = {d.day: d for d in days}
    views = []
    up = observed = 0.0
    for offset in range(UPTIME_DAYS - 1, -1, -1):
        day = today - timedelta(days=offset)
        found = by_day.get(day)
        ratio = found.uptime if found is not None else None
        if found is None or ratio is None:
            views.append(DayView(day, None, None))
            continue
        views.append(DayView(day, ratio, found.worst))
        up += ratio * found.observed
        observed += found.observed
    return tuple(views), up, observed


def _ratio(up: float, observed: float) -> float | None:
    return up / observed if observed > 0 else None


def load_view(store: Store, settings: StatusPageConfig, now: datetime) -> View:
    """Read everything the page shows (synchronous: run it in a thread)."""
    today = now.astimezone(UTC).date()
    components = shown_components(store.components(), settings.show_routes)
    history = store.uptime([c.id for c in components], today - timedelta(days=UPTIME_DAYS - 1)) if components else {}
    views = []
    up = observed = 0.0
    for component in components:
        days, component_up, component_observed = uptime_days(history.get(component.id, []), today)
        views.append(ComponentView(component, days, _ratio(component_up, component_observed)))
        up += component_up
        observed += component_observed
    unresolved = tuple(store.incidents(unresolved=True, maintenance=False, limit=HISTORY_LIMIT))
    incidents = tuple(store.incidents(maintenance=False, limit=HISTORY_LIMIT))
    maintenances = tuple(effective_maintenance(m, now) for m in store.incidents(maintenance=True, limit=HISTORY_LIMIT))
    impacts = [i.impact for i in unresolved]
    if any(m.status in (IncidentStatus.IN_PROGRESS, IncidentStatus.VERIFYING) for m in maintenances):
        impacts.append(Impact.MAINTENANCE)
    indicator, description = page_status([c.status for c in components], impacts)
    moments = [c.updated_at for c in components] + [i.updated_at for i in (*incidents, *maintenances)]
    return View(now=now, components=tuple(views), unresolved=unresolved, incidents=incidents,
                maintenances=maintenances, indicator=indicator, description=description,
                uptime=_ratio(up, observed), updated_at=max(moments, default=now))


class ViewCache:
    """The last view for `ttl` seconds; when it is stale, one refresh runs and every request waits for it."""

    def __init__(self, load: Callable[[], Awaitable[View]], ttl: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._load = load
        self._ttl = ttl
        self._clock = clock
        self._view: View | None = None
        self._expires = 0.0
        self._pending: asyncio.Future[View | Exception] | None = None

    async def get(self) -> View:
        if self._view is not None and self._clock() < self._expires:
            return self._view
        if self._pending is None:
            self._pending = asyncio.ensure_future(self._refresh())
        # shield: a client that hangs up does not cancel the refresh the others are waiting for.
        result = await asyncio.shield(self._pending)
        if isinstance(result, Exception):
            raise result
        return result

    async def _refresh(self) -> View | Exception:
        """A failure is returned, not raised, and raised by each waiter: an exception thrown into a coroutine
        from an awaited task makes coverage.py (7.17, CPython 3.11) stop recording its callers' lines."""
        try:
            view = await self._load()
        except Exception as exc:
            return exc
        finally:
            self._pending = None
        self._view, self._expires = view, self._clock() + self._ttl
        return view
