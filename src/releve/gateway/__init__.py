"""The request path: inbound APIs, routing, failover, breakers, provider transports.

Other packages import from here, never from the private modules. The
gateway publishes events on an `EventBus`; it never imports `status`.
"""

from ._access_log import AccessLog, start_log_thread
from ._auth import ClientAuth, hash_key
from ._breaker import Breaker, BreakerInput, BreakerPolicy, BreakerState, IllegalTransition
from ._events import (
    AttemptFailed,
    BreakerChanged,
    Event,
    EventBus,
    HedgeCancelled,
    HedgeStarted,
    RequestFailed,
    ServedByFallback,
    StreamRecovered,
    TargetSkipped,
)
from ._metrics import LATENCY_BUCKETS, GatewayMetrics
from ._plan import RoutePlan, Target, TargetHealth, build_routes
from ._policies import RetryPolicy
from ._recording import RequestRecorder
from ._router import Router, Served, ServedStream
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
    "ClientAuth",
    "Event",
    "EventBus",
    "GatewayMetrics",
    "HedgeCancelled",
    "HedgeStarted",
    "IllegalTransition",
    "LATENCY_BUCKETS",
    "OpenAIApi",
    "RequestFailed",
    "RequestRecorder",
    "RetryPolicy",
    "RoutePlan",
    "Router",
    "Served",
    "ServedByFallback",
    "ServedStream",
    "StreamRecovered",
    "Target",
    "TargetHealth",
    "TargetSkipped",
    "build_routes",
    "hash_key",
    "start_log_thread",
]
