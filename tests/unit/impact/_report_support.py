"""A scripted outage with known counts, seeded into a real store, for the report tests.

Route `chat` (process `support`: 40 users at 35 EUR/h, 1,200 EUR/h revenue, personal data, RTO 15 min) gets
100 requests a minute for 10 minutes from T0: 1,000 requests, 120 failed, 300 answered by a fallback.
Process `sales` has no traffic; its status is a major outage from T0+20 min to T0+26 min.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from releve.config import Config, load_config
from releve.store import Component, ComponentKind, ComponentStatus, Impact, IncidentStatus, Store, Text, TrafficMinute

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)

# (served, fallback, degraded, failed) per minute from T0.
MINUTES = [(100, 0, 0, 0), (100, 0, 0, 0), *[(0, 70, 0, 30)] * 4, (80, 20, 0, 0), *[(100, 0, 0, 0)] * 3]


def write_config(directory: Path, database: Path) -> Path:
    path = directory / "releve.yaml"
    path.write_text(f"""
auth: none
storage: {{url: "sqlite:///{database}"}}
providers:
  a: {{kind: openai-compatible, base_url: "http://127.0.0.1:1/v1"}}
routes:
  chat: {{targets: [{{provider: a, model: m}}]}}
  sell: {{targets: [{{provider: a, model: m}}]}}
processes:
  support:
    name: {{fr: Support client, en: Customer support}}
    routes: [chat]
    users: 40
    hourly_cost: 35
    revenue_per_hour: 1200
    rto: 15m
    criticality: high
    personal_data: true
    owner: Camille
  sales:
    name: {{fr: Ventes, en: Sales}}
    routes: [sell]
    users: 5
    hourly_cost: 50
    rto: 5m
currency: EUR
""")
    return path


def config(directory: Path) -> Config:
    return load_config(write_config(directory, directory / "r.db"), {})


@dataclass(frozen=True)
class Seeded:
    resolved: str      # the support incident: failure T0, detected T0+2:30, recovered T0+8, resolved T0+10
    open: str          # a sales incident still open: failure T0+20, detected T0+21


def seed(store: Store, t0: datetime = T0) -> Seeded:
    store.add_traffic(TrafficMinute("chat", t0 + index * MIN, *counts) for index, counts in enumerate(MINUTES))
    store.sync_components([
        Component(f"process:{key}", ComponentKind.PROCESS, Text(key, key), ComponentStatus.OPERATIONAL,
                  t0 - timedelta(days=1)) for key in ("support", "sales")])
    store.set_component_status("process:sales", ComponentStatus.MAJOR_OUTAGE, t0 + 20 * MIN)
    store.set_component_status("process:sales", ComponentStatus.OPERATIONAL, t0 + 26 * MIN)
    resolved = store.open_incident(
        name=Text("Support client : service dégradé", "Customer support: degraded service"),
        body=Text("Relève a basculé le trafic vers mistral.", "Relève moved traffic to mistral."),
        impact=Impact.MAJOR, components=["process:support"], affected=(), at=t0 + timedelta(minutes=2, seconds=30),
        automatic=True, started_at=t0)
    store.add_update(resolved.id, status=IncidentStatus.MONITORING, body=Text("Rétabli.", "Recovered."),
                     at=t0 + 8 * MIN, recovered_at=t0 + 8 * MIN)
    store.add_update(resolved.id, status=IncidentStatus.RESOLVED, body=Text("Résolu.", "Resolved."),
                     at=t0 + 10 * MIN)
    opened = store.open_incident(
        name=Text("Ventes : service interrompu", "Sales: service unavailable"),
        body=Text("Aucune cible ne répond.", "No target answers."), impact=Impact.CRITICAL,
        components=["process:sales"], affected=(), at=t0 + 21 * MIN, automatic=True, started_at=t0 + 20 * MIN)
    return Seeded(resolved.id, opened.id)


def plain(text: str) -> str:
    """No-break spaces as plain spaces, so tests can spell figures simply."""
    return text.replace("\u00a0", " ").replace("\u202f", " ")
