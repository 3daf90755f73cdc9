"""The values Relève keeps about outages: components, incidents, updates, uptime, notifications.

Plain frozen values with Statuspage's vocabulary, so that the status page,
its JSON API, the monitor and the notifiers all speak the same words. Times
are timezone-aware UTC datetimes; the store never reads a clock itself, its
callers pass `at`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any, NamedTuple

__all__ = [
    "AuditEntry",
    "AuditHead",
    "BatchLine",
    "BatchRecord",
    "Component",
    "ComponentKind",
    "ComponentStatus",
    "FileRecord",
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
    "Text",
    "TrafficMinute",
    "UptimeDay",
    "worst",
]


class ComponentStatus(StrEnum):
    """Statuspage's component statuses."""

    OPERATIONAL = "operational"
    UNDER_MAINTENANCE = "under_maintenance"
    DEGRADED_PERFORMANCE = "degraded_performance"
    PARTIAL_OUTAGE = "partial_outage"
    MAJOR_OUTAGE = "major_outage"

    @property
    def rank(self) -> int:
        """How bad: operational 0 < under_maintenance 1 < degraded 2 < partial 3 < major 4."""
        return _RANK[self]


_RANK = {status: rank for rank, status in enumerate(ComponentStatus)}


def worst(statuses: list[ComponentStatus] | tuple[ComponentStatus, ...]) -> ComponentStatus:
    return max(statuses, key=_RANK.__getitem__, default=ComponentStatus.OPERATIONAL)


class IncidentStatus(StrEnum):
    """Statuspage's incident statuses; the last four are for scheduled maintenance."""

    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MONITORING = "monitoring"
    RESOLVED = "resolved"
    POSTMORTEM = "postmortem"
    SCHEDULED = "scheduled"
    IN_PROGRESS = "in_progress"
    VERIFYING = "verifying"
    COMPLETED = "completed"

    @property
    def closed(self) -> bool:
        return self in (IncidentStatus.RESOLVED, IncidentStatus.POSTMORTEM, IncidentStatus.COMPLETED)


class Impact(StrEnum):
    """Statuspage's incident impact (and page indicator) values."""

    NONE = "none"
    MINOR = "minor"
    MAJOR = "major"
    CRITICAL = "critical"
    MAINTENANCE = "maintenance"


class ComponentKind(StrEnum):
    PROCESS = "process"   # a business process from `processes:` (what customers see)
    ROUTE = "route"       # a gateway route
    TARGET = "target"     # one provider/model


class NotificationEvent(StrEnum):
    OPEN = "open"
    UPDATE = "update"
    RESOLVE = "resolve"


@dataclass(frozen=True, slots=True)
class Text:
    """Something said to people, in French and in English."""

    fr: str
    en: str

    def get(self, language: str) -> str:
        return self.fr if language == "fr" else self.en


@dataclass(frozen=True, slots=True)
class Component:
    id: str                     # stable: "process:customer-support", "route:assistant", "target:openai/gpt-4o"
    kind: ComponentKind
    name: Text
    status: ComponentStatus
    updated_at: datetime
    description: Text | None = None
    position: int = 0
    public: bool = True         # shown on the status page


@dataclass(frozen=True, slots=True)
class IncidentUpdate:
    id: str
    incident_id: str
    status: IncidentStatus
    body: Text
    created_at: datetime
    # Each affected component's status when the update was written: (component id, status).
    affected: tuple[tuple[str, ComponentStatus], ...] = ()


@dataclass(frozen=True, slots=True)
class Incident:
    id: str                        # 12 lowercase letters and digits, like Statuspage's
    name: Text
    status: IncidentStatus
    impact: Impact
    automatic: bool                # opened by the monitor, not by a person
    components: tuple[str, ...]    # component ids
    created_at: datetime           # when Relève opened it (detection)
    updated_at: datetime
    started_at: datetime | None = None     # when the failure began (first bad signal)
    recovered_at: datetime | None = None   # when every component was operational again
    resolved_at: datetime | None = None
    scheduled_for: datetime | None = None      # maintenance window start
    scheduled_until: datetime | None = None    # maintenance window end
    updates: tuple[IncidentUpdate, ...] = field(default=())  # newest first

    @property
    def is_maintenance(self) -> bool:
        return self.scheduled_for is not None

    @property
    def detection_seconds(self) -> float | None:
        """Failure start to incident open."""
        if self.started_at is None:
            return None
        return (self.created_at - self.started_at).total_seconds()

    @property
    def recovery_seconds(self) -> float | None:
        """Failure start to every component operational again (time to recovery)."""
        if self.started_at is None or self.recovered_at is None:
            return None
        return (self.recovered_at - self.started_at).total_seconds()


@dataclass(frozen=True, slots=True)
class UptimeDay:
    """Seconds one component spent in each status during one UTC day."""

    component_id: str
    day: date
    seconds: dict[ComponentStatus, float]

    @property
    def observed(self) -> float:
        return sum(self.seconds.values())

    @property
    def uptime(self) -> float | None:
        """Statuspage's weighting: a major outage counts fully as downtime, a partial outage 30 %.

        None when nothing was observed that day (no data, not 100 %).
        """
        total = self.observed
        if total <= 0:
            return None
        down = self.seconds.get(ComponentStatus.MAJOR_OUTAGE, 0.0) + 0.3 * self.seconds.get(
            ComponentStatus.PARTIAL_OUTAGE, 0.0)
        return max(0.0, 1.0 - down / total)

    @property
    def worst(self) -> ComponentStatus:
        return worst(tuple(status for status, seconds in self.seconds.items() if seconds > 0))


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One notification to deliver on one channel; at most one open and one resolve per incident and channel."""

    id: int
    incident_id: str
    update_id: str
    event: NotificationEvent
    channel: str        # "webhook:<sha256 of url, 12 hex>" or "apprise:<sha256 of url, 12 hex>"
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class TrafficMinute:
    """Client requests of one route during one UTC minute, by outcome: what cost reports are computed from."""

    route: str
    minute: datetime    # the minute's start, aware UTC, seconds zero
    served: int = 0     # answered by the route's first choice, or by an `always` response cache
    fallback: int = 0   # answered by another target after a failover (losses avoided)
    degraded: int = 0   # answered in a degraded mode (cache, static answer)
    failed: int = 0     # no target could answer
    deferred: int = 0   # accepted for a late answer: 202 and a job (last, so positional counts keep their order)

    @property
    def total(self) -> int:
        return self.served + self.fallback + self.degraded + self.deferred + self.failed


@dataclass(frozen=True, slots=True)
class StatusChange:
    component_id: str
    at: datetime
    status: ComponentStatus


# --- work kept through outages (revision 0003) ------------------------------------------------------

class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class Job:
    """A deferred request (`Prefer: respond-async`): kept until a target can answer, or until it expires."""

    id: str
    route: str
    operation: str                  # chat | embeddings
    body: dict[str, Any]            # the request in the internal (OpenAI) format
    client: str | None
    callback_url: str | None
    status: JobStatus
    created_at: datetime
    updated_at: datetime
    expires_at: datetime
    attempts: int = 0
    response_status: int | None = None
    response_body: bytes | None = None   # the answer in OpenAI's shape, as sent to clients
    target: str | None = None            # who answered
    error: str | None = None
    callback_state: str | None = None    # pending | sent | failed; None without a callback


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    client: str
    key: str
    body_hash: str
    state: str                           # in_progress | done
    created_at: datetime
    expires_at: datetime
    response_status: int | None = None
    response_headers: tuple[tuple[str, str], ...] = ()
    response_body: bytes | None = None


@dataclass(frozen=True, slots=True)
class FileRecord:
    id: str
    purpose: str
    filename: str
    bytes: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class BatchRecord:
    """OpenAI's Batch object, as stored; timestamps are aware datetimes (the API shows Unix seconds)."""

    id: str
    endpoint: str
    input_file_id: str
    completion_window: str
    status: str
    created_at: datetime
    expires_at: datetime
    in_progress_at: datetime | None = None
    finalizing_at: datetime | None = None
    completed_at: datetime | None = None
    failed_at: datetime | None = None
    expired_at: datetime | None = None
    cancelling_at: datetime | None = None
    cancelled_at: datetime | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    total: int = 0
    completed: int = 0
    failed: int = 0
    metadata: dict[str, str] | None = None
    errors: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class BatchLine:
    batch_id: str
    line_no: int
    custom_id: str
    body: dict[str, Any]
    state: str                                  # pending | done | error
    response_status: int | None = None
    response_body: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One entry of the tamper-evident audit log: `hash` is SHA-256 of its canonical content, which includes
    `prev_hash` (the previous entry's `hash`), so the entries form a chain (see `store/_audit.py`)."""

    seq: int                             # 1, 2, 3… with no gap
    at: datetime
    kind: str                            # request | policy_skip | incident | fault | config | erasure | backup
    actor: str                           # who did it: "gateway", "monitor", "cli:alice", a client key's name…
    data: dict[str, Any]                 # facts only, never request or answer content
    prev_hash: str                       # hex; 64 zeros for the first entry
    hash: str                            # hex


class AuditHead(NamedTuple):
    """The last entry's seq and hash as the log records them, with its HMAC signature when a key was given."""

    seq: int
    hash: str
    signature: str | None
