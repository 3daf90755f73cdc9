"""The parts of releve.yaml about detecting outages and telling people.

`storage`, `monitor`, `processes`, `status_page`, `notify`, `webhooks` and
`admins`. Kept apart from the gateway's models so that each file says one
thing; `Config` in `_models.py` assembles them.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ._units import Duration

__all__ = [
    "BilingualText",
    "Criticality",
    "ImpactConfig",
    "MonitorConfig",
    "ProbeConfig",
    "ProbeRequest",
    "ProcessConfig",
    "StatusPageConfig",
    "StorageConfig",
    "WebhookConfig",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BilingualText(_Model):
    """A text in French and English. A plain string in the YAML means the same text in both."""

    fr: str
    en: str

    @classmethod
    def same(cls, text: str) -> BilingualText:
        return cls(fr=text, en=text)


def bilingual(value: object) -> object:
    """A plain string in the YAML means the same text in both languages."""
    return {"fr": value, "en": value} if isinstance(value, str) else value


class StorageConfig(_Model):
    # A relative SQLite path is relative to the working directory of `releve up`.
    url: str = "sqlite:///releve.db"
    # The lead lease: which process runs the once-only work (probes, incidents, notifications, backups,
    # purges). A lead that dies is replaced after at most this long; a lead that cannot reach the store
    # keeps the role this long (a short database outage does not stop the monitor).
    lead_lease: Annotated[Duration, Field(ge=3.0, le=600.0)] = 15.0
    # Where audit entries wait on local disk while the store refuses writes (past 10,000 in memory); created
    # only then. Relative to the working directory; each process has its own file, a dead one's is adopted.
    spool_dir: str = "releve-spool"

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, url: str) -> str:
        if not url.startswith(("sqlite://", "postgresql://", "postgresql+psycopg://")):
            raise ValueError(f"storage url {url!r} must start with sqlite:// or postgresql://")
        return url


class SharedStateConfig(_Model):
    """Redis between replicas: breaker states, rests and replica count. Empty `url`: this process's own view."""

    url: str = ""
    prefix: str = "releve:"  # every key and channel starts with it: several deployments may share one Redis
    heartbeat: Annotated[Duration, Field(gt=0.0, le=60.0)] = 1.0

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, url: str) -> str:
        if url and not url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"shared_state url {url!r} must start with redis://, rediss:// or unix://")
        return url


class ProbeRequest(StrEnum):
    MODELS = "models"          # GET /models (free on every provider we know)
    COMPLETION = "completion"  # a 1-token chat completion: exercises the model itself, costs a token
    NONE = "none"              # no probe for this provider


class ProbeConfig(_Model):
    every: Duration = 30.0
    request: ProbeRequest = ProbeRequest.MODELS
    timeout: Duration = 10.0


class MonitorConfig(_Model):
    """How signals become component statuses. Defaults suit production; tests shorten them."""

    enabled: bool = True
    evaluate_every: Duration = 1.0
    window: Duration = 60.0             # passive signals: the sliding window over real traffic and probes
    min_samples: Annotated[int, Field(ge=1)] = 5   # fewer in the window: too little to judge
    partial_rate: Annotated[float, Field(gt=0, le=1)] = 0.1  # failed share at or above: partial_outage
    major_rate: Annotated[float, Field(gt=0, le=1)] = 0.5    # failed share at or above: major_outage
    slow_after: Duration | None = None  # p95 above this: degraded_performance
    down_after: Annotated[int, Field(ge=1)] = 3    # consecutive worse evaluations before a status drops
    up_after: Annotated[int, Field(ge=1)] = 10     # consecutive better evaluations before it comes back
    resolve_after: Duration = 300.0     # operational this long (status monitoring) before auto-resolve
    probes: ProbeConfig = ProbeConfig()
    status_feed_every: Duration = 60.0  # how often providers' status feeds are read
    flush_every: Duration = 10.0        # how often uptime counters are written to the store

    @model_validator(mode="after")
    def _rates_in_order(self) -> MonitorConfig:
        if self.partial_rate > self.major_rate:
            raise ValueError(f"partial_rate ({self.partial_rate}) must not exceed major_rate ({self.major_rate})")
        return self


class Criticality(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class ProcessConfig(_Model):
    """A business process: what customers and colleagues see, and what an outage of it costs."""

    name: BilingualText | None = None   # defaults to the key
    description: BilingualText | None = None
    routes: Annotated[list[str], Field(min_length=1)]
    users: Annotated[int, Field(ge=0)] = 0
    hourly_cost: Annotated[float, Field(ge=0)] = 0.0      # per user and hour, in `currency`
    revenue_per_hour: Annotated[float, Field(ge=0)] = 0.0
    rto: Duration | None = None         # recovery time objective: how long it may be down
    rpo: Duration | None = None         # recovery point objective: how much recent data it may lose
    mtd: Duration | None = None         # maximum tolerable downtime, past which the damage is lasting
    criticality: Criticality = Criticality.MEDIUM
    personal_data: bool = False         # its requests carry personal data (GDPR)
    owner: str | None = None            # who answers for it
    contacts: list[str] = Field(default_factory=list)   # whom to call during an outage

    @model_validator(mode="after")
    def _targets_in_order(self) -> ProcessConfig:
        if self.rto is not None and self.mtd is not None and self.rto > self.mtd:
            raise ValueError(f"rto ({self.rto:g}s) is longer than mtd ({self.mtd:g}s): the target must come first")
        return self

    _text = field_validator("name", "description", mode="before")(bilingual)


class StatusPageConfig(_Model):
    title: BilingualText = BilingualText(fr="État des services", en="Service status")
    languages: Annotated[list[str], Field(min_length=1)] = Field(default_factory=lambda: ["fr", "en"])
    show_routes: bool = False   # also list each route as a component (processes always are)
    public_url: str = ""        # the page's public address, for links in feeds and notifications

    _text = field_validator("title", mode="before")(bilingual)

    @field_validator("languages")
    @classmethod
    def _known_languages(cls, languages: list[str]) -> list[str]:
        unknown = sorted(set(languages) - {"fr", "en"})
        if unknown:
            raise ValueError(f"languages {unknown} are not available (fr, en)")
        return languages


class ImpactConfig(_Model):
    """The cost model's one judgement call: how much a degraded answer (cache, static) is worth losing."""

    degraded_weight: Annotated[float, Field(ge=0, le=1)] = 0.5


class WebhookConfig(_Model):
    url: str
    secret: Annotated[str, Field(min_length=16)]  # HMAC-SHA256 key; the receiver checks the signature

    @field_validator("url")
    @classmethod
    def _http(cls, url: str) -> str:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"webhook url {url!r} must start with http:// or https://")
        return url
