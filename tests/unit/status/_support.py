"""Shared by the status page tests: a seeded store, an ASGI caller, and views built straight from values."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from releve.config import StatusPageConfig
from releve.status._view import ComponentView, View, page_status, uptime_days
from releve.store import (
    Component,
    ComponentKind,
    ComponentStatus,
    Impact,
    Incident,
    IncidentStatus,
    IncidentUpdate,
    Store,
    Text,
)

NOW = datetime(2026, 11, 27, 14, 5, tzinfo=UTC)
OPERATOR_HTML = Text(fr="Le fournisseur <script>alert('fr')</script> & co répond mal.",
                     en="The provider <script>alert('en')</script> & co is failing.")

# Statuspage's enumerations.
COMPONENT_STATUSES = {"operational", "degraded_performance", "partial_outage", "major_outage", "under_maintenance"}
INCIDENT_STATUSES = {"investigating", "identified", "monitoring", "resolved", "postmortem"}
MAINTENANCE_STATUSES = {"scheduled", "in_progress", "verifying", "completed"}
IMPACTS = {"none", "minor", "major", "critical", "maintenance"}
INDICATORS = {"none", "minor", "major", "critical", "maintenance"}

PAGE_KEYS = {"id", "name", "url", "time_zone", "updated_at"}
COMPONENT_KEYS = {"id", "name", "status", "created_at", "updated_at", "position", "description", "showcase",
                  "start_date", "group_id", "page_id", "group", "only_show_if_degraded"}
INCIDENT_KEYS = {"id", "name", "status", "created_at", "updated_at", "monitoring_at", "resolved_at", "impact",
                 "shortlink", "started_at", "page_id", "incident_updates", "components"}
MAINTENANCE_KEYS = INCIDENT_KEYS | {"scheduled_for", "scheduled_until"}
UPDATE_KEYS = {"id", "status", "body", "incident_id", "created_at", "updated_at", "display_at", "affected_components",
               "deliver_notifications", "custom_tweet", "tweet_id"}
AFFECTED_KEYS = {"code", "name", "old_status", "new_status"}


def component(cid: str, kind: ComponentKind = ComponentKind.PROCESS, *, fr: str = "", en: str = "",
              status: ComponentStatus = ComponentStatus.OPERATIONAL, position: int = 0, public: bool = True,
              description: Text | None = None) -> Component:
    return Component(id=cid, kind=kind, name=Text(fr or cid, en or cid), status=status,
                     updated_at=NOW - timedelta(days=2), description=description, position=position, public=public)


@dataclass
class Seeded:
    open_incident: Incident
    resolved_recent: Incident
    resolved_old: Incident
    upcoming: Incident
    ongoing: Incident


def seed(store: Store, now: datetime = NOW) -> Seeded:
    """Two public processes, a hidden one, a route and a target; incidents open, recent and old; two windows."""
    store.sync_components([
        component("process:support", fr="Support client", en="Customer support", position=1,
                  description=Text("Réponses aux clients", "Answers to customers")),
        component("process:search", fr="Recherche", en="Search", position=2),
        component("process:internal", fr="Interne", en="Internal", position=3, public=False),
        component("route:assistant", ComponentKind.ROUTE, fr="Route assistant", en="Assistant route", position=4),
        component("target:openai/gpt-4o", ComponentKind.TARGET, position=5),
    ])
    today = now.date()
    samples = [("process:support", today - timedelta(days=d), ComponentStatus.OPERATIONAL, 86_400.0)
               for d in range(1, 30)]
    samples += [("process:support", today, ComponentStatus.OPERATIONAL, 40_000.0),
                ("process:support", today, ComponentStatus.MAJOR_OUTAGE, 10_000.0),
                ("process:search", today - timedelta(days=3), ComponentStatus.PARTIAL_OUTAGE, 8_640.0),
                ("process:search", today - timedelta(days=3), ComponentStatus.OPERATIONAL, 77_760.0)]
    store.add_uptime(samples)
    old = store.open_incident(name=Text("Vieille panne", "Old outage"), body=Text("Ancienne", "Old"),
                              impact=Impact.MINOR, components=["process:search"],
                              affected=[("process:search", ComponentStatus.PARTIAL_OUTAGE)],
                              at=now - timedelta(days=20), automatic=True)
    store.add_update(old.id, status=IncidentStatus.RESOLVED, body=Text("Réglé", "Fixed"),
                     at=now - timedelta(days=20, hours=-1), affected=[("process:search", ComponentStatus.OPERATIONAL)])
    recent = store.open_incident(name=Text("Recherche lente", "Slow search"), body=Text("Lenteurs", "Slowness"),
                                 impact=Impact.MINOR, components=["process:search"],
                                 affected=[("process:search", ComponentStatus.DEGRADED_PERFORMANCE)],
                                 at=now - timedelta(days=3), automatic=True,
                                 started_at=now - timedelta(days=3, minutes=2))
    store.add_update(recent.id, status=IncidentStatus.MONITORING, body=Text("Corrigé, surveillance", "Fixed, watching"),
                     at=now - timedelta(days=3, hours=-1))
    store.add_update(recent.id, status=IncidentStatus.RESOLVED, body=Text("Résolu", "Resolved"),
                     at=now - timedelta(days=3, hours=-2), affected=[("process:search", ComponentStatus.OPERATIONAL)])
    store.set_component_status("process:support", ComponentStatus.MAJOR_OUTAGE, now - timedelta(minutes=40))
    current = store.open_incident(name=Text("Support client indisponible", "Customer support unavailable"),
                                  body=OPERATOR_HTML, impact=Impact.CRITICAL,
                                  components=["process:support", "process:internal"],
                                  affected=[("process:support", ComponentStatus.MAJOR_OUTAGE),
                                            ("process:internal", ComponentStatus.MAJOR_OUTAGE)],
                                  at=now - timedelta(minutes=40), automatic=True,
                                  started_at=now - timedelta(minutes=42))
    store.add_update(current.id, status=IncidentStatus.IDENTIFIED,
                     body=Text("Bascule vers le fournisseur de secours en cours.",
                               "Failing over to the backup provider."),
                     at=now - timedelta(minutes=20), affected=[("process:support", ComponentStatus.PARTIAL_OUTAGE)])
    upcoming = store.schedule_maintenance(name=Text("Mise à jour du modèle", "Model upgrade"),
                                          body=Text("Bascule prévue", "Planned switch"), components=["process:search"],
                                          starts=now + timedelta(days=2), ends=now + timedelta(days=2, hours=1),
                                          at=now - timedelta(days=1))
    ongoing = store.schedule_maintenance(name=Text("Migration de la base", "Database migration"),
                                         body=Text("Migration", "Migration"), components=["process:support"],
                                         starts=now - timedelta(minutes=30), ends=now + timedelta(minutes=30),
                                         at=now - timedelta(days=1, minutes=1))
    refreshed = {i.id: i for i in store.incidents(limit=50)}
    return Seeded(refreshed[current.id], refreshed[recent.id], refreshed[old.id], refreshed[upcoming.id],
                  refreshed[ongoing.id])


def settings(**values: Any) -> StatusPageConfig:
    return StatusPageConfig(**values)


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    header_list: list[tuple[str, str]] = field(default_factory=list)

    def json(self) -> Any:
        assert self.headers["content-type"] == "application/json"
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode()


async def call(app: Any, path: str, *, query: str = "", headers: dict[str, str] | None = None,
               method: str = "GET", root_path: str = "") -> Response:
    """One request through an ASGI callable, the way uvicorn would make it."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "query_string": query.encode(), "root_path": root_path,
             "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
             "scheme": "http", "server": ("127.0.0.1", 8080), "http_version": "1.1"}
    await app(scope, receive, send)
    start, body = sent[0], sent[1]
    pairs = [(k.decode(), v.decode()) for k, v in start["headers"]]
    return Response(start["status"], dict(pairs), body["body"], pairs)


def update(incident_id: str, uid: str, status: IncidentStatus, minutes_ago: int, *,
           affected: tuple[tuple[str, ComponentStatus], ...] = (), fr: str = "", en: str = "") -> IncidentUpdate:
    return IncidentUpdate(id=uid, incident_id=incident_id, status=status,
                          body=Text(fr or f"fr {uid}", en or f"en {uid}"),
                          created_at=NOW - timedelta(minutes=minutes_ago), affected=affected)


def incident(iid: str, *, status: IncidentStatus = IncidentStatus.INVESTIGATING, impact: Impact = Impact.MAJOR,
             components: tuple[str, ...] = (), updates: tuple[IncidentUpdate, ...] = (), minutes_ago: int = 60,
             **extra: Any) -> Incident:
    created = NOW - timedelta(minutes=minutes_ago)
    return Incident(id=iid, name=Text(f"Incident {iid} fr", f"Incident {iid} en"), status=status, impact=impact,
                    automatic=True, components=components, created_at=created,
                    updated_at=updates[0].created_at if updates else created, updates=updates, **extra)


def make_view(*, components: tuple[Component, ...] = (), incidents: tuple[Incident, ...] = (),
              maintenances: tuple[Incident, ...] = (), history: dict[str, list[Any]] | None = None) -> View:
    """A view straight from values, as `load_view` would assemble it from a store holding them."""
    views = []
    up = observed = 0.0
    for item in components:
        days, item_up, item_observed = uptime_days((history or {}).get(item.id, []), NOW.date())
        views.append(ComponentView(item, days, item_up / item_observed if item_observed else None))
        up += item_up
        observed += item_observed
    unresolved = tuple(i for i in incidents if not i.status.closed)
    indicator, description = page_status([c.status for c in components], [i.impact for i in unresolved])
    return View(now=NOW, components=tuple(views), unresolved=unresolved, incidents=incidents,
                maintenances=maintenances, indicator=indicator, description=description,
                uptime=up / observed if observed else None, updated_at=NOW)
