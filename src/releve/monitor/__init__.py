"""Detecting outages: passive signals from real traffic, probes, providers' status feeds, automatic incidents.

The monitor consumes the gateway's events and counters; the gateway never
knows it exists. `TrafficRecorder` (every process) keeps the traffic minutes
cost reports read; `Monitor` (the lead only) the statuses and incidents.
"""

from ._assess import RouteView, TargetSignals, assess_route, assess_target
from ._feeds import FeedPoller, feed_status
from ._hysteresis import Debounced
from ._incidents import IncidentKeeper, impact_of
from ._messages import Situation, incident_name, recovered_body, resolved_body, situation_body, status_text
from ._monitor import Monitor
from ._probes import ProbePlan, Prober, plan_probes
from ._traffic import TrafficRecorder
from ._window import SlidingCounts

__all__ = [
    "Debounced",
    "FeedPoller",
    "IncidentKeeper",
    "Monitor",
    "ProbePlan",
    "Prober",
    "RouteView",
    "Situation",
    "SlidingCounts",
    "TargetSignals",
    "TrafficRecorder",
    "assess_route",
    "assess_target",
    "feed_status",
    "impact_of",
    "incident_name",
    "plan_probes",
    "recovered_body",
    "resolved_body",
    "situation_body",
    "status_text",
]
