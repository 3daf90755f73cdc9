"""Post-incident and period reports: the facts, gathered once from the store and the config.

The values here are language-free (seconds, datetimes, `ProcessCost`s); `_report_render` turns them into
French or English documents. Keeping the two apart lets tests assert figures exactly, and lets one
gathering serve both languages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from releve.config import Config, ProcessConfig
from releve.errors import ReleveError
from releve.store import Incident, IncidentStatus, StatusChange, Store, Text, TrafficMinute

from ._cost import ProcessCost, minute_ceil, minute_floor, process_cost
from ._report_privacy import PersonalDataUse, personal_data_use

__all__ = ["GDPR_DELAY", "GdprNotice", "IncidentReport", "IncidentRow", "PeriodReport", "ProcessImpact", "RtoCheck",
           "RtoOutcome", "TimelineEntry", "UnknownIncident", "incident_report", "period_report"]

GDPR_DELAY = timedelta(hours=72)   # GDPR Art. 33(1): from becoming aware of a breach to notifying it
_PERIOD_INCIDENTS = 500            # a period report lists at most this many incidents (newest first)


class UnknownIncident(ReleveError):
    """No incident has the id asked for."""


class RtoOutcome(StrEnum):
    MET = "met"
    MISSED = "missed"
    PENDING = "pending"   # still open, within the RTO so far
    NONE = "none"         # the process sets no RTO


@dataclass(frozen=True, slots=True)
class RtoCheck:
    """Recovery time (or time so far, for an open incident) against a process's recovery time objective."""

    rto: float | None   # seconds
    recovery: float     # seconds
    so_far: bool

    @property
    def outcome(self) -> RtoOutcome:
        if self.rto is None:
            return RtoOutcome.NONE
        if self.recovery > self.rto:
            return RtoOutcome.MISSED
        return RtoOutcome.PENDING if self.so_far else RtoOutcome.MET

    @property
    def missed_by(self) -> float:
        return max(0.0, self.recovery - self.rto) if self.rto is not None else 0.0


@dataclass(frozen=True, slots=True)
class ProcessImpact:
    """One business process over the report's interval."""

    key: str
    name: Text
    cost: ProcessCost
    personal_data: bool
    criticality: str
    rto: float | None
    owner: str | None
    rto_check: RtoCheck | None = None   # incident reports only

    @property
    def unavailable(self) -> bool:
        """What the GDPR paragraph is about: some time lost, or some request failed."""
        return self.cost.lost_hours > 0 or self.cost.counts.failed > 0


@dataclass(frozen=True, slots=True)
class GdprNotice:
    """A personal-data process was unavailable: assess within 72 h of awareness whether to notify."""

    process: str
    name: Text
    lost_hours: float
    failed: int
    incident_id: str | None        # None: unavailable while no incident was recorded
    aware_at: datetime | None      # the incident's created_at: when Relève detected it
    deadline: datetime | None      # aware_at + 72 h


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    at: datetime
    kind: str                       # started | detected | opened | update | recovered | report
    status: IncidentStatus | None = None
    body: Text | None = None


def _start(incident: Incident) -> datetime:
    """When the trouble began: the failure's first signal, a maintenance window's start, or the opening."""
    return incident.started_at or incident.scheduled_for or incident.created_at


def _effective_recovery(incident: Incident, now: datetime) -> tuple[float, str, datetime]:
    """(seconds from failure start to recovery, basis, the moment): recovered, resolved, or so far."""
    start = _start(incident)
    if incident.recovered_at is not None:
        return (incident.recovered_at - start).total_seconds(), "recovered", incident.recovered_at
    if incident.resolved_at is not None:
        return (incident.resolved_at - start).total_seconds(), "resolved", incident.resolved_at
    return max(0.0, (now - start).total_seconds()), "so_far", now


@dataclass(frozen=True, slots=True)
class IncidentRow:
    """An incident as listed in a period report."""

    incident: Incident
    processes: tuple[Text, ...]
    recovery_seconds: float
    recovery_basis: str
    rto_check: RtoCheck   # against the strictest RTO of the processes it names

    @property
    def so_far(self) -> bool:
        return self.recovery_basis == "so_far"


@dataclass(frozen=True, slots=True)
class IncidentReport:
    incident: Incident
    start: datetime                 # failure start (or opening)
    end: datetime                   # resolution (or now)
    so_far: bool                    # still open: figures up to `now`
    generated_at: datetime
    currency: str
    degraded_weight: float
    processes: tuple[ProcessImpact, ...]
    timeline: tuple[TimelineEntry, ...]
    gdpr: tuple[GdprNotice, ...]
    recovery_seconds: float
    recovery_basis: str             # recovered | resolved | so_far
    recovery_at: datetime
    personal_data: PersonalDataUse | None = None   # None: the incident names no route

    @property
    def stem(self) -> str:
        return f"incident-{self.incident.id}"

    @property
    def loss(self) -> float:
        return sum(p.cost.loss for p in self.processes)

    @property
    def avoided(self) -> float:
        return sum(p.cost.avoided for p in self.processes)


@dataclass(frozen=True, slots=True)
class PeriodReport:
    since: datetime
    until: datetime
    generated_at: datetime
    currency: str
    degraded_weight: float
    processes: tuple[ProcessImpact, ...]
    incidents: tuple[IncidentRow, ...]    # newest first
    gdpr: tuple[GdprNotice, ...]
    incidents_truncated: bool = False

    @property
    def stem(self) -> str:
        return f"period-{self.since:%Y%m%d}-{self.until:%Y%m%d}"

    @property
    def loss(self) -> float:
        return sum(p.cost.loss for p in self.processes)

    @property
    def avoided(self) -> float:
        return sum(p.cost.avoided for p in self.processes)


def _name(key: str, process: ProcessConfig) -> Text:
    return Text(process.name.fr, process.name.en) if process.name else Text(key, key)


def _costs(store: Store, config: Config, names: Sequence[str], start: datetime,
           end: datetime) -> dict[str, ProcessCost]:
    """Each process's cost over [start, end); the store is asked for whole minutes, as `process_cost` counts."""
    first, last = minute_floor(start), minute_ceil(end)
    routes = sorted({route for name in names for route in config.processes[name].routes})
    traffic: list[TrafficMinute] = store.traffic(routes, first, last) if routes else []
    history: dict[str, list[StatusChange]] = (
        store.status_history([f"process:{name}" for name in names], first, last) if names else {})
    return {name: process_cost(name, config.processes[name], traffic, history.get(f"process:{name}", []), start, end,
                               degraded_weight=config.impact.degraded_weight) for name in names}


def _impact(key: str, process: ProcessConfig, cost: ProcessCost, rto_check: RtoCheck | None = None) -> ProcessImpact:
    return ProcessImpact(key=key, name=_name(key, process), cost=cost, personal_data=process.personal_data,
                         criticality=process.criticality.value, rto=process.rto, owner=process.owner,
                         rto_check=rto_check)


def _process_names(config: Config, incident: Incident) -> list[str]:
    return [c.partition(":")[2] for c in incident.components
            if c.startswith("process:") and c.partition(":")[2] in config.processes]


def _routes(config: Config, incident: Incident, names: Sequence[str]) -> list[str]:
    """The routes of the incident's processes, and any route it names itself."""
    named = [c.partition(":")[2] for c in incident.components if c.startswith("route:")]
    return list(dict.fromkeys([*(route for name in names for route in config.processes[name].routes), *named]))


def _timeline(incident: Incident, now: datetime) -> tuple[TimelineEntry, ...]:
    entries = []
    if incident.started_at is not None:
        entries.append(TimelineEntry(incident.started_at, "started"))
    for index, update in enumerate(reversed(incident.updates)):
        kind = "update" if index else ("detected" if incident.automatic else "opened")
        entries.append(TimelineEntry(update.created_at, kind, update.status, update.body))
    if incident.recovered_at is not None:
        entries.append(TimelineEntry(incident.recovered_at, "recovered"))
    if incident.resolved_at is None:
        entries.append(TimelineEntry(now, "report"))
    return tuple(sorted(entries, key=lambda entry: entry.at))   # stable: same-instant entries keep their order


def _notice(impact: ProcessImpact, incident: Incident | None) -> GdprNotice:
    aware = incident.created_at if incident is not None else None
    return GdprNotice(process=impact.key, name=impact.name, lost_hours=impact.cost.lost_hours,
                      failed=impact.cost.counts.failed, incident_id=incident.id if incident is not None else None,
                      aware_at=aware, deadline=aware + GDPR_DELAY if aware is not None else None)


def incident_report(store: Store, config: Config, incident_id: str, *, now: datetime) -> IncidentReport:
    """The report on one incident over [failure start (or opening), resolution (or now)).

    Raises `UnknownIncident` when no incident has that id.
    """
    incident = store.incident(incident_id)
    if incident is None:
        raise UnknownIncident(f"no incident {incident_id!r}")
    start = _start(incident)
    end = incident.resolved_at or now
    recovery, basis, recovery_at = _effective_recovery(incident, now)
    names = _process_names(config, incident)
    costs = _costs(store, config, names, start, end)
    processes = tuple(
        _impact(name, config.processes[name], costs[name],
                RtoCheck(config.processes[name].rto, recovery, so_far=basis == "so_far"))
        for name in names)
    gdpr = tuple(_notice(p, incident) for p in processes if p.personal_data and p.unavailable)
    routes = _routes(config, incident, names)
    return IncidentReport(
        incident=incident, start=start, end=end, so_far=incident.resolved_at is None, generated_at=now,
        currency=config.currency, degraded_weight=config.impact.degraded_weight, processes=processes,
        timeline=_timeline(incident, now), gdpr=gdpr, recovery_seconds=recovery, recovery_basis=basis,
        recovery_at=recovery_at,
        personal_data=personal_data_use(store, config, routes, start, end) if routes else None)


def _period_incidents(store: Store, since: datetime, until: datetime) -> tuple[list[Incident], bool]:
    """Incidents opened in [since, until), and those opened earlier but still open, newest first."""
    opened = store.incidents(since=since, limit=_PERIOD_INCIDENTS, maintenance=False)
    found = {i.id: i for i in opened if i.created_at < until}
    for incident in store.incidents(unresolved=True, limit=_PERIOD_INCIDENTS, maintenance=False):
        if incident.created_at < since:
            found.setdefault(incident.id, incident)
    ordered = sorted(found.values(), key=lambda i: i.created_at, reverse=True)
    return ordered, len(opened) >= _PERIOD_INCIDENTS


def _lost_during(cost: ProcessCost, start: datetime, end: datetime) -> bool:
    first = minute_floor(start)
    return any(m.loss > 0 or m.counts.failed > 0 for m in cost.timeline if first <= m.minute < end)


def period_report(store: Store, config: Config, since: datetime, until: datetime, *, now: datetime) -> PeriodReport:
    """Every process over [since, until), and the incidents of the period."""
    names = list(config.processes)
    costs = _costs(store, config, names, since, until)
    processes = tuple(_impact(name, config.processes[name], costs[name]) for name in names)
    incidents, truncated = _period_incidents(store, since, until)
    rows = []
    for incident in incidents:
        recovery, basis, _ = _effective_recovery(incident, now)
        named = _process_names(config, incident)
        rtos = [rto for name in named if (rto := config.processes[name].rto) is not None]
        rows.append(IncidentRow(incident=incident, processes=tuple(_name(n, config.processes[n]) for n in named),
                                recovery_seconds=recovery, recovery_basis=basis,
                                rto_check=RtoCheck(min(rtos) if rtos else None, recovery, so_far=basis == "so_far")))
    gdpr: list[GdprNotice] = []
    for process in processes:
        if not (process.personal_data and process.unavailable):
            continue
        concerned = [i for i in reversed(incidents) if f"process:{process.key}" in i.components
                     and _lost_during(process.cost, _start(i), i.resolved_at or until)]
        gdpr += [_notice(process, incident) for incident in concerned] or [_notice(process, None)]
    return PeriodReport(since=since, until=until, generated_at=now, currency=config.currency,
                        degraded_weight=config.impact.degraded_weight, processes=processes, incidents=tuple(rows),
                        gdpr=tuple(gdpr), incidents_truncated=truncated)
