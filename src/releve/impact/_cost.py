"""The cost model: what an interval of trouble cost a business process, and what failover saved.

Stated once, here, and in docs/impact.md; reports print the counts next to every figure.

Over an interval, counted in whole UTC minutes:

- minutes **with traffic** (the process's routes received requests): the loss
  fraction is the share of requests that failed, plus `degraded_weight` times
  the share answered in a degraded mode (cache, static answer) or deferred
  (accepted with a job, answered late):
  `loss = (failed + w × (degraded + deferred)) / total`; the saved fraction is
  the share a fallback answered: `saved = fallback / total`;
- minutes **without traffic**: the process's status stands in, time-weighted:
  major outage 1, partial outage 0.3 (Statuspage's weighting), anything else 0.

Lost hours = loss × hours with traffic + Σ status loss × quiet hours; saved hours = saved × hours with
traffic. Productivity loss = users × hourly cost × lost hours; revenue loss = revenue per hour × lost
hours; avoided losses apply the same to saved hours.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from releve.config import ProcessConfig
from releve.store import ComponentStatus, StatusChange, TrafficMinute

__all__ = ["STATUS_LOSS", "Counts", "MinuteCost", "ProcessCost", "minute_ceil", "minute_floor", "process_cost"]

STATUS_LOSS = {ComponentStatus.MAJOR_OUTAGE: 1.0, ComponentStatus.PARTIAL_OUTAGE: 0.3}
_MINUTE = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class Counts:
    """Requests by outcome, as `TrafficMinute` records them (`deferred` last, so positional counts keep their
    order)."""

    served: int = 0
    fallback: int = 0
    degraded: int = 0
    failed: int = 0
    deferred: int = 0

    @property
    def total(self) -> int:
        return self.served + self.fallback + self.degraded + self.deferred + self.failed

    def __add__(self, other: Counts) -> Counts:
        return Counts(served=self.served + other.served, fallback=self.fallback + other.fallback,
                      degraded=self.degraded + other.degraded, failed=self.failed + other.failed,
                      deferred=self.deferred + other.deferred)


def _loss_fraction(counts: Counts, degraded_weight: float) -> float:
    """`(failed + w × (degraded + deferred)) / total`, 0 without requests: a deferred request was answered, but
    late, so it counts like a degraded one."""
    total = counts.total
    return (counts.failed + degraded_weight * (counts.degraded + counts.deferred)) / total if total else 0.0


@dataclass(frozen=True, slots=True)
class MinuteCost:
    """One minute of the timeline, for charts: its counts and its own share of the losses."""

    minute: datetime
    counts: Counts
    loss: float      # this minute's loss fraction (0..1)
    cost: float      # productivity + revenue lost during this minute
    avoided: float   # productivity + revenue failover saved during this minute


@dataclass(frozen=True, slots=True)
class ProcessCost:
    process: str
    start: datetime          # whole minutes
    end: datetime
    counts: Counts
    degraded_weight: float
    traffic_hours: float     # minutes with requests, in hours
    quiet_hours: float       # minutes without, in hours
    quiet_lost_hours: float  # Σ status loss × quiet time
    users: int
    hourly_cost: float
    revenue_per_hour: float
    timeline: tuple[MinuteCost, ...] = field(default=(), repr=False)

    @property
    def hours(self) -> float:
        return self.traffic_hours + self.quiet_hours

    @property
    def loss_fraction(self) -> float:
        return _loss_fraction(self.counts, self.degraded_weight)

    @property
    def saved_fraction(self) -> float:
        total = self.counts.total
        return self.counts.fallback / total if total else 0.0

    @property
    def lost_hours(self) -> float:
        """Hours of total outage the interval amounted to."""
        return self.loss_fraction * self.traffic_hours + self.quiet_lost_hours

    @property
    def saved_hours(self) -> float:
        return self.saved_fraction * self.traffic_hours

    @property
    def productivity_loss(self) -> float:
        return self.users * self.hourly_cost * self.lost_hours

    @property
    def revenue_loss(self) -> float:
        return self.revenue_per_hour * self.lost_hours

    @property
    def avoided_productivity(self) -> float:
        return self.users * self.hourly_cost * self.saved_hours

    @property
    def avoided_revenue(self) -> float:
        return self.revenue_per_hour * self.saved_hours

    @property
    def loss(self) -> float:
        return self.productivity_loss + self.revenue_loss

    @property
    def avoided(self) -> float:
        return self.avoided_productivity + self.avoided_revenue

    @property
    def availability(self) -> float:
        """1 − lost hours / hours: the share of the interval the process effectively worked."""
        return 1.0 - self.lost_hours / self.hours if self.hours else 1.0


def minute_floor(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def minute_ceil(moment: datetime) -> datetime:
    floor = minute_floor(moment)
    return floor if floor == moment else floor + _MINUTE


def _status_loss(history: Sequence[StatusChange], start: datetime, end: datetime) -> float:
    """Σ status loss × seconds over [start, end), from the changes (the first may predate start)."""
    lost = 0.0
    status = ComponentStatus.OPERATIONAL
    cursor = start
    for change in history:
        if change.at <= start:
            status = change.status
            continue
        if change.at >= end:
            break
        lost += STATUS_LOSS.get(status, 0.0) * (change.at - cursor).total_seconds()
        status, cursor = change.status, change.at
    lost += STATUS_LOSS.get(status, 0.0) * (end - cursor).total_seconds()
    return lost


def process_cost(name: str, process: ProcessConfig, traffic: Sequence[TrafficMinute],
                 history: Sequence[StatusChange], start: datetime, end: datetime, *,
                 degraded_weight: float) -> ProcessCost:
    """The cost of [start, end) for one process, from its routes' traffic minutes and its status changes.

    `traffic` may hold other routes' minutes too: only the process's routes count. The interval is
    widened to whole minutes, the unit traffic is recorded in.
    """
    first, last = minute_floor(start), minute_ceil(end)
    routes = set(process.routes)
    per_minute: dict[datetime, Counts] = {}
    for row in traffic:
        if row.route in routes and first <= row.minute < last:
            per_minute[row.minute] = per_minute.get(row.minute, Counts()) + Counts(
                served=row.served, fallback=row.fallback, degraded=row.degraded, failed=row.failed,
                deferred=row.deferred)
    per_hour = process.users * process.hourly_cost + process.revenue_per_hour
    counts = Counts()
    traffic_minutes = 0
    quiet_seconds = quiet_lost = 0.0
    timeline = []
    minute = first
    while minute < last:
        found = per_minute.get(minute)
        if found is not None and found.total:
            counts += found
            traffic_minutes += 1
            loss = _loss_fraction(found, degraded_weight)
            saved = found.fallback / found.total
        else:
            found = Counts()
            lost_seconds = _status_loss(history, minute, minute + _MINUTE)
            quiet_seconds += 60.0
            quiet_lost += lost_seconds
            loss, saved = lost_seconds / 60.0, 0.0
        timeline.append(MinuteCost(minute, found, loss, per_hour * loss / 60.0, per_hour * saved / 60.0))
        minute += _MINUTE
    return ProcessCost(
        process=name, start=first, end=last, counts=counts, degraded_weight=degraded_weight,
        traffic_hours=traffic_minutes / 60.0, quiet_hours=quiet_seconds / 3600.0,
        quiet_lost_hours=quiet_lost / 3600.0, users=process.users, hourly_cost=process.hourly_cost,
        revenue_per_hour=process.revenue_per_hour, timeline=tuple(timeline))
