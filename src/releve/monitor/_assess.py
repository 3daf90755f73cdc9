"""From signals to Statuspage statuses: pure rules, one function per kind of component.

A target's status is the worst of what Relève sees itself (breaker, failure
share over the window, probes, latency) and what the provider says on its own
status page. A route is down only when none of its targets can answer; while
a fallback carries the traffic it is degraded, not down: that is what the
continuity plan is for, and what the status page should say.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from releve.config import MonitorConfig
from releve.store import ComponentStatus, worst

__all__ = ["RouteView", "TargetSignals", "assess_route", "assess_target", "rate_status"]

_OK = ComponentStatus.OPERATIONAL
_DEGRADED = ComponentStatus.DEGRADED_PERFORMANCE
_PARTIAL = ComponentStatus.PARTIAL_OUTAGE
_MAJOR = ComponentStatus.MAJOR_OUTAGE


@dataclass(frozen=True, slots=True)
class TargetSignals:
    breaker_open: bool
    failure_rate: float | None        # over the window, real traffic and probes; None: too few samples
    p95: float | None                 # seconds, real traffic; None: too few samples
    probe_failures: int               # consecutive failed probes
    feed: ComponentStatus | None      # the provider's own status page, when it has one


def rate_status(rate: float | None, config: MonitorConfig) -> ComponentStatus:
    if rate is None:
        return _OK
    if rate >= config.major_rate:
        return _MAJOR
    if rate >= config.partial_rate:
        return _PARTIAL
    return _OK


def assess_target(signals: TargetSignals, config: MonitorConfig) -> ComponentStatus:
    seen = [rate_status(signals.failure_rate, config)]
    if signals.breaker_open or signals.probe_failures >= config.down_after:
        seen.append(_MAJOR)
    if config.slow_after is not None and signals.p95 is not None and signals.p95 > config.slow_after:
        seen.append(_DEGRADED)
    if signals.feed is not None and signals.feed is not ComponentStatus.UNDER_MAINTENANCE:
        seen.append(signals.feed)
    return worst(seen)


@dataclass(frozen=True, slots=True)
class RouteView:
    status: ComponentStatus
    failing: tuple[str, ...]      # targets not operational, in route order
    serving: str | None           # the target carrying traffic when the first choice cannot, if any


def assess_route(targets: Sequence[tuple[str, ComponentStatus]], failure_rate: float | None,
                 config: MonitorConfig) -> RouteView:
    """`targets` in the route's order with their (settled) statuses; `failure_rate` of whole client requests."""
    failing = tuple(label for label, status in targets if status.rank >= _DEGRADED.rank)
    usable = [label for label, status in targets if status.rank < _PARTIAL.rank]
    first_down = bool(targets) and targets[0][1].rank >= _PARTIAL.rank
    serving = usable[0] if first_down and usable else None
    if not usable:
        derived = _MAJOR
    elif first_down or any(status.rank >= _PARTIAL.rank for _, status in targets):
        derived = _DEGRADED   # answers continue, from a fallback
    elif failing:
        derived = _DEGRADED
    else:
        derived = _OK
    return RouteView(worst([derived, rate_status(failure_rate, config)]), failing, serving)
