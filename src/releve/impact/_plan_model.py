"""The continuity plan as plain frozen values: everything the template shows, and nothing secret.

Built once from the config by `continuity_plan`; the template and the diagram read only these, so
what could leak (keys, webhook secrets, tokens in notification URLs, database passwords) never
reaches them: URLs are reduced to a host or a scheme here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from releve.config import Finding
from releve.store import Text

__all__ = ["Channel", "DataDestination", "DataForm", "DataPolicy", "MonitorSettings", "Plan", "PlanProcess",
           "PlanProvider", "PlanRoute", "PlanTarget", "StorageKind"]

DataPolicy = Literal["allowed", "refused", "pseudonymized"]
StorageKind = Literal["sqlite-file", "sqlite-memory", "postgresql"]
# How a target may receive a request carrying personal data: as is, pseudonymised, or never, because its
# provider may not receive any ("refused") or its region is not among the route's allowed_regions ("region").
DataForm = Literal["as-is", "pseudonymized", "refused", "region"]


@dataclass(frozen=True, slots=True)
class PlanTarget:
    provider: str
    model: str
    weight: float
    region: str | None
    personal_data: DataPolicy


@dataclass(frozen=True, slots=True)
class PlanRoute:
    name: str
    strategy: str                       # "priority" | "weighted"
    targets: tuple[PlanTarget, ...]     # in the order they are tried
    timeout: float
    attempt_timeout: float
    retries: int
    backoff_base: float
    backoff_max: float
    hedge_after: float | str | None     # seconds, "p95", or no hedging
    recover_streams: bool
    stream_idle_timeout: float
    failover_wait: float                # worst wait before a request reaches the last target
    breaker_failures: int               # consecutive failures that take a target out of rotation…
    breaker_open_for: float             # …for this long before a trial request
    processes: tuple[str, ...]          # the processes that use it

    @property
    def providers(self) -> tuple[str, ...]:
        """Distinct providers in the order they are tried."""
        return tuple(dict.fromkeys(target.provider for target in self.targets))


@dataclass(frozen=True, slots=True)
class DataDestination:
    """One target of one route of a process with personal data, and how its personal data may reach it."""

    route: str
    provider: str
    model: str
    region: str | None
    form: DataForm

    @property
    def never(self) -> bool:
        return self.form in ("refused", "region")


@dataclass(frozen=True, slots=True)
class PlanProcess:
    id: str
    name: Text
    description: Text | None
    criticality: str
    users: int
    hourly_cost: float                  # per user and hour
    revenue_per_hour: float
    rto: float | None
    rpo: float | None
    mtd: float | None
    personal_data: bool
    owner: str | None
    contacts: tuple[str, ...]
    routes: tuple[str, ...]
    # Where personal data may go: every target of its routes, in order (empty when it carries none).
    data_destinations: tuple[DataDestination, ...] = ()

    @property
    def outage_cost_per_hour(self) -> float:
        """What one hour of full outage costs: lost productivity plus lost revenue (the cost model's terms)."""
        return self.users * self.hourly_cost + self.revenue_per_hour


@dataclass(frozen=True, slots=True)
class PlanProvider:
    name: str
    kind: str
    host: str                           # of base_url: never its path, query or credentials
    region: str | None
    personal_data: DataPolicy
    status_feed_host: str | None
    probe_request: str                  # models | completion | none
    probe_every: float
    probe_timeout: float


@dataclass(frozen=True, slots=True)
class Channel:
    kind: Literal["apprise", "webhook"]
    service: str                        # an Apprise URL's scheme ("slack", "mailtos") or a webhook's host


@dataclass(frozen=True, slots=True)
class MonitorSettings:
    enabled: bool
    evaluate_every: float
    window: float
    min_samples: int
    partial_rate: float
    major_rate: float
    slow_after: float | None
    down_after: int
    up_after: int
    resolve_after: float
    probe_request: str
    probe_every: float
    probe_timeout: float
    status_feed_every: float


@dataclass(frozen=True, slots=True)
class Plan:
    """The continuity and recovery plan (PCA/PRA) of one releve.yaml, in no particular language."""

    generated_at: datetime
    config_file: str
    currency: str
    processes: tuple[PlanProcess, ...]
    routes: tuple[PlanRoute, ...]
    providers: tuple[PlanProvider, ...]
    monitor: MonitorSettings
    channels: tuple[Channel, ...]
    status_page_url: str | None         # public_url + "/status", without credentials or query
    status_languages: tuple[str, ...]
    admins: tuple[str, ...]             # names of admin keys, never the keys
    storage: StorageKind
    findings: tuple[Finding, ...]

    def route(self, name: str) -> PlanRoute:
        return next(route for route in self.routes if route.name == name)

    def provider(self, name: str) -> PlanProvider:
        return next(provider for provider in self.providers if provider.name == name)

    @property
    def unattached_routes(self) -> tuple[PlanRoute, ...]:
        """Routes no process uses: their failover still matters to whoever calls them."""
        return tuple(route for route in self.routes if not route.processes)

    @property
    def warnings(self) -> int:
        return sum(1 for finding in self.findings if finding.severity.value == "warning")
