"""The simulator's own status page feed, in Atlassian Statuspage's v2 shape.

A real provider publishes `summary.json` and Relève's monitor reads it; the
simulator publishes one whose state follows the faults in force, so tests
and game days exercise that path too. Like a real provider's page it is
optimistic: a fault hitting few requests shows as degraded, not as down.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web

from ._faults import Fault, FaultKind
from ._state import SIM

__all__ = ["add_status_feed_routes", "feed_state"]

_FAILING = frozenset({FaultKind.STATUS, FaultKind.RATE_LIMIT, FaultKind.HANG, FaultKind.BLACKHOLE,
                      FaultKind.RESET_PEER, FaultKind.MALFORMED, FaultKind.STREAM_CUT, FaultKind.LIMIT_DATA})
_INDICATORS = {
    "operational": ("none", "All Systems Operational"),
    "degraded_performance": ("minor", "Minor Service Outage"),
    "partial_outage": ("major", "Partial System Outage"),
    "major_outage": ("critical", "Major System Outage"),
}


def feed_state(faults: list[Fault]) -> str:
    """The component status a provider's page would show for these faults."""
    worst = "operational"
    for fault in faults:
        if fault.kind in _FAILING and fault.kind is not FaultKind.RATE_LIMIT:
            state = "major_outage" if fault.probability >= 0.9 else (
                "partial_outage" if fault.probability >= 0.3 else "degraded_performance")
        else:
            state = "degraded_performance"
        if list(_INDICATORS).index(state) > list(_INDICATORS).index(worst):
            worst = state
    return worst


def _summary(request: web.Request) -> dict[str, Any]:
    sim = request.app[SIM]
    state = feed_state(sim.plan.faults())
    indicator, description = _INDICATORS[state]
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    page = {"id": f"sim-{sim.name}", "name": sim.name, "url": str(request.url.origin()), "time_zone": "Etc/UTC",
            "updated_at": now}
    component = {"id": f"{sim.name}-api", "name": "API", "status": state, "created_at": now, "updated_at": now,
                 "position": 1, "description": None, "showcase": True, "start_date": None, "group_id": None,
                 "page_id": page["id"], "group": False, "only_show_if_degraded": False}
    return {"page": page, "status": {"indicator": indicator, "description": description},
            "components": [component], "incidents": [], "scheduled_maintenances": []}


async def _summary_json(request: web.Request) -> web.Response:
    return web.Response(body=orjson.dumps(_summary(request)), content_type="application/json")


async def _status_json(request: web.Request) -> web.Response:
    summary = _summary(request)
    body = {"page": summary["page"], "status": summary["status"]}
    return web.Response(body=orjson.dumps(body), content_type="application/json")


def add_status_feed_routes(app: web.Application) -> None:
    app.router.add_get("/api/v2/summary.json", _summary_json)
    app.router.add_get("/api/v2/status.json", _status_json)
