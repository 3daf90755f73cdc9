"""The request path: inbound APIs, routing, failover, breakers, provider transports.

Other packages import from here, never from the private modules. The
gateway publishes events on an `EventBus`; it never imports `status`.
"""

from ._access_log import AccessLog, logging_to_file, start_log_thread
from ._auth import ClientAuth, hash_key
from ._breaker import Breaker, BreakerInput, BreakerPolicy, BreakerState, IllegalTransition
from ._cache import ResponseCache, cache_key, completion_to_sse
from ._data import DataGuard, DataPolicies, Pseudonymized, RequestPolicy, TargetRule
from ._degraded import DegradedModes, RequestExtras, RoutePolicy, negotiate_language, request_extras
from ._events import (
    AttemptFailed,
    BreakerChanged,
    DataDecision,
    Event,
    EventBus,
    HedgeCancelled,
    HedgeStarted,
    RequestFailed,
    ServedByFallback,
    StreamRecovered,
    TargetSkipped,
)
from ._faults import (
    DRILL,
    DRILL_HEADER,
    MAX_FAULT_TTL,
    Fault,
    FaultKind,
    FaultSpec,
    FaultTable,
    OpenedStream,
    mark_drill,
    parse_fault,
)
from ._limits import CLIENT_PRIORITY, HIGH, LOW, MARKED_PERSONAL, NORMAL, ConcurrencyLimiter
from ._metrics import LATENCY_BUCKETS, GatewayMetrics
from ._openai_wire import check_chat, check_embeddings, error_body, relayed_error_body
from ._plan import RoutePlan, Target, TargetHealth, build_routes
from ._policies import RetryPolicy
from ._recording import RequestRecorder
from ._router import Router, Served, ServedStream
from ._upstream_key import UPSTREAM_IDEMPOTENCY_KEY, batch_line_key, job_key, upstream_idempotency_key
from ._work import CapturedResponse, DeferredJob, Deferrer, IdempotencyGuard, StoreUnavailable
from .api_anthropic import AnthropicApi
from .api_openai import OpenAIApi

__all__ = [
    "AccessLog",
    "AnthropicApi",
    "AttemptFailed",
    "Breaker",
    "BreakerChanged",
    "BreakerInput",
    "BreakerPolicy",
    "BreakerState",
    "CLIENT_PRIORITY",
    "CapturedResponse",
    "ClientAuth",
    "ConcurrencyLimiter",
    "DRILL",
    "DRILL_HEADER",
    "DataDecision",
    "DataGuard",
    "DataPolicies",
    "DeferredJob",
    "Deferrer",
    "DegradedModes",
    "Event",
    "EventBus",
    "Fault",
    "FaultKind",
    "FaultSpec",
    "FaultTable",
    "GatewayMetrics",
    "HIGH",
    "HedgeCancelled",
    "HedgeStarted",
    "IdempotencyGuard",
    "IllegalTransition",
    "LATENCY_BUCKETS",
    "LOW",
    "MARKED_PERSONAL",
    "MAX_FAULT_TTL",
    "NORMAL",
    "OpenAIApi",
    "OpenedStream",
    "Pseudonymized",
    "RequestExtras",
    "RequestFailed",
    "RequestPolicy",
    "RequestRecorder",
    "ResponseCache",
    "RetryPolicy",
    "RoutePlan",
    "RoutePolicy",
    "Router",
    "Served",
    "ServedByFallback",
    "ServedStream",
    "StoreUnavailable",
    "StreamRecovered",
    "Target",
    "TargetHealth",
    "TargetRule",
    "TargetSkipped",
    "UPSTREAM_IDEMPOTENCY_KEY",
    "batch_line_key",
    "build_routes",
    "cache_key",
    "check_chat",
    "check_embeddings",
    "completion_to_sse",
    "error_body",
    "hash_key",
    "job_key",
    "logging_to_file",
    "mark_drill",
    "negotiate_language",
    "parse_fault",
    "relayed_error_body",
    "request_extras",
    "start_log_thread",
    "upstream_idempotency_key",
]
