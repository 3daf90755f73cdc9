"""The shape of releve.yaml (pydantic, validated once at start-up).

These models stay at the config edge: the gateway turns them into plain
frozen values when it starts, and never touches pydantic per request.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ._monitoring import (
    BilingualText,
    ImpactConfig,
    MonitorConfig,
    ProbeConfig,
    ProcessConfig,
    SharedStateConfig,
    StatusPageConfig,
    StorageConfig,
    WebhookConfig,
)
from ._monitoring import bilingual as _bilingual
from ._units import Duration, Size

__all__ = [
    "AuthMode",
    "BackoffConfig",
    "BackupConfig",
    "BackupKeepConfig",
    "BatchesConfig",
    "BreakerConfig",
    "CacheConfig",
    "CacheMode",
    "ClientConfig",
    "Config",
    "DegradedConfig",
    "DrillsConfig",
    "EventsConfig",
    "JobsConfig",
    "Priority",
    "ProviderConfig",
    "ProviderKind",
    "RestoreDrillConfig",
    "RetentionConfig",
    "RouteConfig",
    "ServerConfig",
    "Strategy",
    "TargetConfig",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProviderKind(StrEnum):
    OPENAI = "openai"
    OPENAI_COMPATIBLE = "openai-compatible"
    AZURE_OPENAI = "azure-openai"
    ANTHROPIC = "anthropic"
    GEMINI = "gemini"


# Where a provider family has one public endpoint, base_url may be left out.
DEFAULT_BASE_URLS = {
    ProviderKind.OPENAI: "https://api.openai.com/v1",
    ProviderKind.ANTHROPIC: "https://api.anthropic.com",
    ProviderKind.GEMINI: "https://generativelanguage.googleapis.com",
}


class Strategy(StrEnum):
    PRIORITY = "priority"
    WEIGHTED = "weighted"


class AuthMode(StrEnum):
    KEYS = "keys"
    NONE = "none"


class ServerConfig(_Model):
    listen: str = "127.0.0.1:8080"
    workers: Annotated[int, Field(ge=1, le=64)] = 1
    max_body_size: Size = 4 * 1024 * 1024
    shutdown_grace: Duration = 30.0
    access_log: bool = True

    @model_validator(mode="after")
    def _check_listen(self) -> ServerConfig:
        host, sep, port = self.listen.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
            raise ValueError(f"listen {self.listen!r} must look like HOST:PORT, e.g. 127.0.0.1:8080")
        return self

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])


class EventsConfig(_Model):
    queue_size: Annotated[int, Field(ge=16)] = 10_000


class ProviderConfig(_Model):
    kind: ProviderKind
    base_url: str = ""
    api_key: str | None = None
    api_version: str | None = None  # azure-openai: the api-version query parameter
    anthropic_version: str = "2023-06-01"
    region: str | None = None  # where the provider processes data: shown in the plan, checked for single regions
    # May requests with personal data go there? true, false, or "pseudonymized" (only after pseudonymisation).
    # Left out, it is assumed true (no restriction, no detection cost) and `releve check` says so.
    personal_data: bool | Literal["pseudonymized"] = True
    # Open connections to this provider (0: no cap). Past the cap aiohttp queues requests out of
    # sight, so keep it above the concurrency you expect; streams hold a connection each.
    max_connections: Annotated[int, Field(ge=0)] = 1024
    connect_timeout: Duration = 5.0
    headers: dict[str, str] = Field(default_factory=dict)
    # Requests in flight to this provider at most (None: no cap); past it requests wait for a slot at most
    # queue_timeout, high-priority clients first, then are refused at once (503, Retry-After).
    max_concurrency: Annotated[int | None, Field(ge=1)] = None
    queue_timeout: Duration = 1.0
    status_feed: str | None = None  # the provider's Statuspage v2 summary.json, polled by the monitor
    probe: ProbeConfig | None = None  # overrides monitor.probes for this provider

    @model_validator(mode="after")
    def _check_url(self) -> ProviderConfig:
        if not self.base_url:
            if self.kind not in DEFAULT_BASE_URLS:
                raise ValueError(f"base_url is required for kind {self.kind.value}")
            object.__setattr__(self, "base_url", DEFAULT_BASE_URLS[self.kind])
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url {self.base_url!r} must start with http:// or https://")
        if self.status_feed is not None and not self.status_feed.startswith(("http://", "https://")):
            raise ValueError(f"status_feed {self.status_feed!r} must start with http:// or https://")
        if self.kind is ProviderKind.AZURE_OPENAI and not self.api_version:
            raise ValueError("api_version is required for kind azure-openai (e.g. 2024-10-21)")
        return self


class TargetConfig(_Model):
    provider: str
    model: str
    weight: Annotated[float, Field(gt=0)] = 1.0


class BreakerConfig(_Model):
    """When a target is taken out of rotation, and for how long."""

    consecutive_failures: Annotated[int, Field(ge=1)] = 5
    failure_rate: Annotated[float, Field(gt=0, le=1)] = 0.5
    window: Duration = 30.0
    min_requests: Annotated[int, Field(ge=1)] = 20
    open_for: Duration = 30.0


class BackoffConfig(_Model):
    """Exponential backoff with full jitter between passes over a route's targets."""

    base: Duration = 0.1
    max: Duration = 2.0


class CacheMode(StrEnum):
    OFF = "off"
    ON_ERROR = "on_error"   # read only when every target failed (stale-if-error)
    ALWAYS = "always"       # also answer hits directly


class CacheConfig(_Model):
    mode: CacheMode = CacheMode.OFF
    ttl: Duration = 86400.0
    max_entries: Annotated[int, Field(ge=1)] = 10_000
    personal: bool = False  # cache a route whose data is personal anyway (an explicit choice)


class DegradedConfig(_Model):
    """What a client gets when every target of the route failed."""

    defer: bool | Literal["always"] = False  # Prefer: respond-async → 202 and a job (always: without trying first)
    defer_max_age: Duration = 86400.0
    static_answer: bool = False              # a normal completion whose text is `message`, marked degraded
    message: BilingualText | None = None     # said in the 503 (or the static answer), in the client's language

    _text = field_validator("message", mode="before")(_bilingual)

    @model_validator(mode="after")
    def _static_needs_a_message(self) -> DegradedConfig:
        if self.static_answer and self.message is None:
            raise ValueError("static_answer needs a message: {fr: ..., en: ...}")
        return self


class RouteConfig(_Model):
    strategy: Strategy = Strategy.PRIORITY
    targets: Annotated[list[TargetConfig], Field(min_length=1)]
    timeout: Duration = 30.0
    attempt_timeout: Duration = 10.0
    retries: Annotated[int, Field(ge=0, le=10)] = 1
    backoff: BackoffConfig = BackoffConfig()
    breaker: BreakerConfig | None = None
    # Start the next target as well when the first has not answered by then: a duration, or
    # "p95" for the target's observed 95th percentile time to first byte.
    hedge_after: Duration | Literal["p95"] | None = None
    stream_idle_timeout: Duration = 30.0  # no chunk for this long: the stream has failed
    recover_streams: bool = True  # continue a broken stream on the next target
    # What its requests carry: personal data, none, or "detect" (look for identifiers where a target needs it).
    data: Literal["none", "personal", "detect"] = "detect"
    allowed_regions: list[str] | None = None  # only providers in these regions may receive its requests
    cache: CacheConfig = CacheConfig()
    degraded: DegradedConfig = DegradedConfig()

    @model_validator(mode="after")
    def _personal_data_is_not_cached_by_accident(self) -> RouteConfig:
        if self.data == "personal" and self.cache.mode is not CacheMode.OFF and not self.cache.personal:
            raise ValueError("cache: this route's data is personal; set cache.personal: true to cache it anyway, "
                             "or cache.mode: off")
        return self


class Priority(StrEnum):
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


class ClientConfig(_Model):
    """A client application. Give `key` (hashed at start-up) or `key_sha256`."""

    key: str | None = None
    key_sha256: Annotated[str | None, Field(pattern=r"^[0-9a-fA-F]{64}$")] = None
    # Who is served first when a provider's capacity is short (max_concurrency); set here, never by the client.
    priority: Priority = Priority.NORMAL

    @model_validator(mode="after")
    def _one_key(self) -> ClientConfig:
        if (self.key is None) == (self.key_sha256 is None):
            raise ValueError("give exactly one of key or key_sha256")
        return self


class JobsConfig(_Model):
    """Deferred requests (`Prefer: respond-async`)."""

    concurrency: Annotated[int, Field(ge=1)] = 8
    # Signs x-releve-callback deliveries (HMAC-SHA256); callbacks are refused while it is unset.
    callback_secret: Annotated[str | None, Field(min_length=16)] = None


class BatchesConfig(_Model):
    """OpenAI's Batch API, executed by Relève through the routes."""

    concurrency: Annotated[int, Field(ge=1)] = 4
    max_file_size: Size = 200 * 1024 * 1024


class BackupKeepConfig(_Model):
    hourly: Annotated[int, Field(ge=0)] = 24
    daily: Annotated[int, Field(ge=0)] = 7
    weekly: Annotated[int, Field(ge=0)] = 4


class BackupConfig(_Model):
    """Backups of Relève's own state (`releve backup`; with `every`, also taken by `releve up`)."""

    to: str = "backups"                   # a directory, or s3://bucket/prefix
    every: Duration | None = None
    keep: BackupKeepConfig = BackupKeepConfig()
    endpoint_url: str | None = None      # an S3-compatible server other than AWS


class RestoreDrillConfig(_Model):
    every: Duration | None = None        # a restore drill of the latest backup this often (by `releve up`)


class DrillsConfig(_Model):
    restore: RestoreDrillConfig = RestoreDrillConfig()


class RetentionConfig(_Model):
    """How long stored content (deferred jobs, idempotency records, batch files and lines) is kept."""

    content: Duration = 30 * 86400.0
    purge_every: Duration = 3600.0


class Config(_Model):
    server: ServerConfig = ServerConfig()
    events: EventsConfig = EventsConfig()
    auth: AuthMode = AuthMode.KEYS
    clients: dict[str, ClientConfig] = Field(default_factory=dict)
    breaker: BreakerConfig = BreakerConfig()
    providers: Annotated[dict[str, ProviderConfig], Field(min_length=1)]
    routes: Annotated[dict[str, RouteConfig], Field(min_length=1)]
    storage: StorageConfig = StorageConfig()
    shared_state: SharedStateConfig = SharedStateConfig()
    monitor: MonitorConfig = MonitorConfig()
    processes: dict[str, ProcessConfig] = Field(default_factory=dict)
    currency: str = "EUR"
    impact: ImpactConfig = ImpactConfig()
    status_page: StatusPageConfig = StatusPageConfig()
    notify: list[str] = Field(default_factory=list)  # Apprise URLs
    webhooks: list[WebhookConfig] = Field(default_factory=list)
    admins: dict[str, ClientConfig] = Field(default_factory=dict)  # keys for the admin API (incidents)
    # Names and terms that are personal data in your business (customer names, project code names), by kind:
    # detected and pseudonymised like e-mail addresses, e.g. {CUSTOMER: ["Durand SA"], PROJECT: ["Orion"]}.
    personal_data_terms: dict[str, list[str]] = Field(default_factory=dict)
    jobs: JobsConfig = JobsConfig()
    batches: BatchesConfig = BatchesConfig()
    retention: RetentionConfig = RetentionConfig()
    backup: BackupConfig = BackupConfig()
    drills: DrillsConfig = DrillsConfig()

    @model_validator(mode="after")
    def _cross_references(self) -> Config:
        known = ", ".join(sorted(self.providers))
        for route_name, route in self.routes.items():
            for index, target in enumerate(route.targets):
                if target.provider not in self.providers:
                    raise ValueError(
                        f"routes.{route_name}.targets.{index}.provider: no provider named "
                        f"{target.provider!r} (providers: {known})"
                    )
            if route.attempt_timeout > route.timeout:
                raise ValueError(
                    f"routes.{route_name}.attempt_timeout ({route.attempt_timeout:g}s) is longer "
                    f"than its whole-request timeout ({route.timeout:g}s)"
                )
        routes = ", ".join(sorted(self.routes))
        for process_name, process in self.processes.items():
            for index, route_name in enumerate(process.routes):
                if route_name not in self.routes:
                    raise ValueError(
                        f"processes.{process_name}.routes.{index}: no route named {route_name!r} (routes: {routes})"
                    )
        if self.auth is AuthMode.KEYS and not self.clients:
            raise ValueError(
                "clients: no client keys configured; add clients (name: {key: ...}) "
                "or set auth: none for local development"
            )
        return self

    def breaker_for(self, route: str) -> BreakerConfig:
        return self.routes[route].breaker or self.breaker
