"""releve.yaml: its models, units and loading. Pydantic lives here and nowhere per request."""

from ._findings import Finding, Severity, findings
from ._load import config_from_mapping, load_config, parse_config
from ._models import (
    AuthMode,
    BackoffConfig,
    BreakerConfig,
    ClientConfig,
    Config,
    EventsConfig,
    ProviderConfig,
    ProviderKind,
    RouteConfig,
    ServerConfig,
    Strategy,
    TargetConfig,
)
from ._monitoring import (
    BilingualText,
    Criticality,
    MonitorConfig,
    ProbeConfig,
    ProbeRequest,
    ProcessConfig,
    StatusPageConfig,
    StorageConfig,
    WebhookConfig,
)
from ._units import format_duration, parse_duration, parse_size

__all__ = [
    "AuthMode",
    "BackoffConfig",
    "BilingualText",
    "BreakerConfig",
    "ClientConfig",
    "Config",
    "Criticality",
    "EventsConfig",
    "Finding",
    "MonitorConfig",
    "ProbeConfig",
    "ProbeRequest",
    "ProcessConfig",
    "ProviderConfig",
    "ProviderKind",
    "RouteConfig",
    "ServerConfig",
    "Severity",
    "StatusPageConfig",
    "StorageConfig",
    "Strategy",
    "TargetConfig",
    "WebhookConfig",
    "config_from_mapping",
    "findings",
    "format_duration",
    "load_config",
    "parse_config",
    "parse_duration",
    "parse_size",
]
