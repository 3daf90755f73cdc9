"""`StatusPage` against a real store: every endpoint, in Statuspage's shapes, in the language asked for."""

from __future__ import annotations

import asyncio
import inspect
from datetime import timedelta
from typing import Any

import feedparser
import pytest

from releve.config import BilingualText
from releve.status import StatusPage
from releve.store import ComponentKind, Store
from unit.status._support import (
    AFFECTED_KEYS,
    COMPONENT_KEYS,
    COMPONENT_STATUSES,
    IMPACTS,
    INCIDENT_KEYS,
    INCIDENT_STATUSES,
    INDICATORS,
    MAINTENANCE_KEYS,
    MAINTENANCE_STATUSES,
    NOW,
    PAGE_KEYS,
    UPDATE_KEYS,
    Seeded,
    call,
    component,
    settings,
)

ENDPOINTS = ["summary.json", "status.json", "components.json", "incidents.json", "incidents/unresolved.json",
             "scheduled-maintenances.json", "scheduled-maintenances/upcoming.json",
             "scheduled-maintenances/active.json"]


def page(store: Store, **config: Any) -> StatusPage:
    return StatusPage(store, settings(**config), now=lambda: NOW)


def check_incident(document: dict[str, Any], statuses: set[str], keys: set[str]) -> None:
    """Statuspage's keys and enumerations, all the way down."""
    assert set(document) == keys
    assert document["status"] in statuses and document["impact"] in IMPACTS
    for item in document["incident_updates"]:
        assert set(item) == UPDATE_KEYS and item["status"] in statuses
        for change in item["affected_components"] or []:
            assert set(change) == AFFECTED_KEYS
            assert {change["old_status"], change["new_status"]} <= COMPONENT_STATUSES
    for item in document["components"]:
        assert set(item) == COMPONENT_KEYS


async def test_endpoint_table() -> None:
    """The app mounts these paths; each is GET and an ASGI coroutine function."""
    status_page = StatusPage(None, settings(), now=lambda: NOW)  # type: ignore[arg-type]  # nothing read yet
    assert set(status_page.endpoints) == {"/status", "/history.atom", *(f"/api/v2/{name}" for name in ENDPOINTS)}
    for method, handler in status_page.endpoints.values():
        assert method == "GET" and inspect.iscoroutinefunction(handler)
    assert status_page.handles("/api/v2/nothing.json") and status_page.handles("/status")
    assert not status_page.handles("/v1/chat/completions")


@pytest.mark.parametrize("name", ENDPOINTS)
async def test_every_json_endpoint_has_statuspage_shapes(store: Store, seeded: Seeded, name: str) -> None:
    response = await call(page(store), f"/api/v2/{name}", headers={"host": "status.test"})
    assert response.status == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["cache-control"] == "max-age=10"
    assert response.headers["vary"] == "Accept-Language"
    document = response.json()
    assert set(document["page"]) == PAGE_KEYS
    assert document["page"]["url"] == "http://status.test/status" and document["page"]["time_zone"] == "Etc/UTC"
    if "status" in document:
        assert set(document["status"]) == {"indicator", "description"}
        assert document["status"]["indicator"] in INDICATORS
    for item in document.get("components", []):
        assert set(item) == COMPONENT_KEYS and item["status"] in COMPONENT_STATUSES
    for item in document.get("incidents", []):
        check_incident(item, INCIDENT_STATUSES, INCIDENT_KEYS)
    for item in document.get("scheduled_maintenances", []):
        check_incident(item, MAINTENANCE_STATUSES, MAINTENANCE_KEYS)
    expected_keys = {"summary.json": {"page", "components", "incidents", "scheduled_maintenances", "status"},
                     "status.json": {"page", "status"}, "components.json": {"page", "components"}}
    default = {"page", "scheduled_maintenances"} if "maintenances" in name else {"page", "incidents"}
    assert set(document) == expected_keys.get(name, default)


async def test_summary_tells_the_outage(store: Store, seeded: Seeded) -> None:
    """Public processes only; the open incident; windows upcoming or under way; the worst impact on top."""
    summary = (await call(page(store), "/api/v2/summary.json", query="lang=en")).json()
    assert [c["id"] for c in summary["components"]] == ["process:support", "process:search"]
    assert [c["status"] for c in summary["components"]] == ["major_outage", "operational"]
    assert summary["status"] == {"indicator": "critical", "description": "Major System Outage"}
    [current] = summary["incidents"]
    assert current["id"] == seeded.open_incident.id and current["impact"] == "critical"
    assert current["name"] == "Customer support unavailable"
    assert [u["body"] for u in current["incident_updates"]] == [
        "Failing over to the backup provider.", "The provider <script>alert('en')</script> & co is failing."]
    assert [c["id"] for c in current["components"]] == ["process:support"]      # the hidden one stays hidden
    first = current["incident_updates"][1]["affected_components"]
    assert first == [{"code": "process:support", "name": "Customer support", "old_status": "operational",
                      "new_status": "major_outage"}]
    assert current["incident_updates"][0]["affected_components"][0]["old_status"] == "major_outage"
    assert current["started_at"] == "2026-11-27T13:23:00.000Z"
    windows = {m["id"]: m["status"] for m in summary["scheduled_maintenances"]}
    assert windows == {seeded.upcoming.id: "scheduled", seeded.ongoing.id: "in_progress"}


async def test_incident_lists(store: Store, seeded: Seeded) -> None:
    status_page = page(store)
    history = (await call(status_page, "/api/v2/incidents.json")).json()["incidents"]
    assert [i["id"] for i in history] == [seeded.open_incident.id, seeded.resolved_recent.id, seeded.resolved_old.id]
    recent = history[1]
    assert recent["status"] == "resolved" and recent["resolved_at"] is not None
    assert recent["monitoring_at"] == "2026-11-24T15:05:00.000Z"
    unresolved = (await call(status_page, "/api/v2/incidents/unresolved.json")).json()["incidents"]
    assert [i["id"] for i in unresolved] == [seeded.open_incident.id]
    everything = (await call(status_page, "/api/v2/scheduled-maintenances.json")).json()["scheduled_maintenances"]
    assert {m["id"] for m in everything} == {seeded.upcoming.id, seeded.ongoing.id}
    upcoming = (await call(status_page, "/api/v2/scheduled-maintenances/upcoming.json")).json()
    assert [(m["id"], m["status"]) for m in upcoming["scheduled_maintenances"]] == [(seeded.upcoming.id, "scheduled")]
    assert upcoming["scheduled_maintenances"][0]["scheduled_for"] == "2026-11-29T14:05:00.000Z"
    active = (await call(status_page, "/api/v2/scheduled-maintenances/active.json")).json()
    assert [(m["id"], m["status"]) for m in active["scheduled_maintenances"]] == [(seeded.ongoing.id, "in_progress")]


@pytest.mark.parametrize(("query", "headers", "name", "description"), [
    ("", {}, "Support client", "Panne majeure du système"),
    ("", {"accept-language": "en-GB,en;q=0.9,fr;q=0.5"}, "Customer support", "Major System Outage"),
    ("", {"accept-language": "de-DE, fr;q=0.3, en;q=0.2"}, "Support client", "Panne majeure du système"),
    ("lang=en", {"accept-language": "fr-FR"}, "Customer support", "Major System Outage"),
    ("lang=xx", {"accept-language": "en"}, "Customer support", "Major System Outage"),
])
async def test_json_language(store: Store, seeded: Seeded, query: str, headers: dict[str, str], name: str,
                             description: str) -> None:
    summary = (await call(page(store), "/api/v2/summary.json", query=query, headers=headers)).json()
    assert summary["components"][0]["name"] == name
    assert summary["status"]["description"] == description
    french = name == "Support client"
    assert summary["page"]["name"] == ("État des services" if french else "Service status")


async def test_default_language_is_the_first_configured(store: Store, seeded: Seeded) -> None:
    english_first = page(store, languages=["en", "fr"], title=BilingualText(fr="Statut", en="Status"))
    summary = (await call(english_first, "/api/v2/summary.json")).json()
    assert summary["page"]["name"] == "Status" and summary["components"][0]["name"] == "Customer support"
    html = (await call(english_first, "/status")).text
    assert '<html lang="en">' in html


async def test_other_scopes_are_ignored(store: Store) -> None:
    """Served alone (tests, uvicorn with lifespan off) the page answers HTTP only."""
    sent: list[object] = []

    async def send(message: object) -> None:
        sent.append(message)

    await page(store)({"type": "websocket", "path": "/status"}, None, send)  # type: ignore[arg-type]
    assert sent == []


async def test_unknown_api_path_and_wrong_method(store: Store) -> None:
    status_page = page(store)
    missing = await call(status_page, "/api/v2/pages.json")
    assert missing.status == 404 and missing.json()["error"]["code"] == "not_found"
    assert missing.headers["access-control-allow-origin"] == "*"
    wrong = await call(status_page, "/api/v2/summary.json", method="POST")
    assert wrong.status == 405 and wrong.headers["allow"] == "GET"


async def test_public_url_and_host(store: Store, seeded: Seeded) -> None:
    """The configured address wins; otherwise the request's, and a Host that is not a host name is ignored."""
    configured = page(store, public_url="https://status.example.com/status")
    summary = (await call(configured, "/api/v2/summary.json", headers={"host": "evil.test"})).json()
    assert summary["page"]["url"] == "https://status.example.com/status"
    assert summary["incidents"][0]["shortlink"] == f"https://status.example.com/status#incident-{seeded.open_incident.id}"
    feed = feedparser.parse((await call(configured, "/history.atom", query="lang=en")).body)
    assert feed.entries[0].link.startswith("https://status.example.com/status?lang=en#incident-")
    assert any(link.href == "https://status.example.com/history.atom?lang=en" for link in feed.feed.links)
    plain = page(store)
    odd = (await call(plain, "/api/v2/status.json", headers={"host": "x.test/<script>"})).json()
    assert odd["page"]["url"] == "http://127.0.0.1:8080/status"
    prefixed = (await call(plain, "/api/v2/status.json", headers={"host": "[::1]:9000"}, root_path="/relay")).json()
    assert prefixed["page"]["url"] == "http://[::1]:9000/relay/status"


async def test_atom_feed(store: Store, seeded: Seeded) -> None:
    """Incidents and windows, newest first, in the language asked for; a real parser finds nothing wrong."""
    for language, title in (("fr", "Support client indisponible"), ("en", "Customer support unavailable")):
        response = await call(page(store), "/history.atom", query=f"lang={language}")
        assert response.status == 200 and response.headers["content-type"] == "application/atom+xml"
        feed = feedparser.parse(response.body)
        assert feed.bozo == 0, feed.get("bozo_exception")
        assert len(feed.entries) == 5
        assert feed.entries[0].title == title
        assert ("<script>" not in feed.entries[0].content[0].value
                and "&lt;script&gt;" in feed.entries[0].content[0].value)
        published = [entry.published for entry in feed.entries]
        assert published == sorted(published, reverse=True)


async def test_html_page(store: Store, seeded: Seeded) -> None:
    response = await call(page(store), "/status", headers={"accept-language": "fr-FR,fr;q=0.9"})
    assert response.status == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["content-language"] == "fr"
    assert "default-src 'none'" in response.headers["content-security-policy"]
    html = response.text
    assert '<html lang="fr">' in html
    for landmark in ("<header>", "<main", "<footer>", "<nav"):
        assert landmark in html
    assert "Bascule vers le fournisseur de secours en cours." in html
    assert "&lt;script&gt;alert(&#39;fr&#39;)&lt;/script&gt; &amp; co" in html and "<script>" not in html
    assert "Migration de la base" in html and "Mise à jour du modèle" in html
    assert "Recherche lente" in html and "Vieille panne" not in html     # 3 days ago shows, 20 days ago does not
    assert "Interne" not in html and "Route assistant" not in html
    assert '<link rel="alternate" type="application/atom+xml" href="/history.atom?lang=fr"' in html
    english = (await call(page(store), "/status", query="lang=en")).text
    assert '<html lang="en">' in english and "Failing over to the backup provider." in english


async def test_routes_shown_when_asked_or_when_there_is_no_process(store: Store) -> None:
    store.sync_components([component("route:a", ComponentKind.ROUTE, en="Route A"),
                           component("target:x", ComponentKind.TARGET)])
    summary = (await call(page(store), "/api/v2/components.json")).json()
    assert [c["id"] for c in summary["components"]] == ["route:a"]
    store.sync_components([component("process:p"), component("route:a", ComponentKind.ROUTE, position=1)])
    assert [c["id"] for c in (await call(page(store), "/api/v2/components.json")).json()["components"]] == ["process:p"]
    both = page(store, show_routes=True)
    assert [c["id"] for c in (await call(both, "/api/v2/components.json")).json()["components"]] == [
        "process:p", "route:a"]


async def test_an_empty_store_gives_a_calm_page(store: Store) -> None:
    status_page = page(store)
    assert (await call(status_page, "/api/v2/status.json")).json()["status"] == {
        "indicator": "none", "description": "Tous les systèmes sont opérationnels"}
    assert (await call(status_page, "/api/v2/summary.json")).json()["page"]["updated_at"] == "2026-11-27T14:05:00.000Z"
    assert "Aucun composant" in (await call(status_page, "/status")).text
    assert feedparser.parse((await call(status_page, "/history.atom")).body).bozo == 0


class BrokenStore(Store):
    def __init__(self, inner: Store) -> None:    # no super().__init__: every read goes to `inner`
        self.inner = inner
        self.broken = True

    def components(self) -> list[Any]:
        if self.broken:
            raise RuntimeError("database is locked")
        return self.inner.components()

    def uptime(self, component_ids: Any, since: Any) -> Any:
        return self.inner.uptime(component_ids, since)

    def incidents(self, **options: Any) -> Any:
        return self.inner.incidents(**options)


async def test_a_failing_store_answers_503_then_recovers(store: Store, seeded: Seeded,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    broken = BrokenStore(store)
    status_page = StatusPage(broken, settings(), now=lambda: NOW, cache_seconds=0)
    api = await call(status_page, "/api/v2/summary.json")
    assert api.status == 503 and api.headers["retry-after"] == "5" and api.json()["error"]["code"] == "unavailable"
    html = await call(status_page, "/status", query="lang=en")
    assert html.status == 503 and "unavailable" in html.text and html.headers["cache-control"] == "no-store"
    feed = await call(status_page, "/history.atom")
    assert feed.status == 503
    assert "could not read the store" in caplog.text
    broken.broken = False
    assert (await call(status_page, "/api/v2/summary.json")).status == 200


class CountingStore(BrokenStore):
    def __init__(self, inner: Store) -> None:
        super().__init__(inner)
        self.broken = False
        self.reads = 0

    def components(self) -> list[Any]:
        self.reads += 1
        return super().components()


async def test_a_burst_of_requests_reads_the_store_once(store: Store, seeded: Seeded) -> None:
    counting = CountingStore(store)
    status_page = StatusPage(counting, settings(), now=lambda: NOW)
    paths = ["/status", "/history.atom", *(f"/api/v2/{name}" for name in ENDPOINTS)] * 5
    responses = await asyncio.gather(*(call(status_page, path) for path in paths))
    assert {r.status for r in responses} == {200}
    assert counting.reads == 1
    await call(status_page, "/status")
    assert counting.reads == 1


async def test_the_view_is_read_again_once_stale(store: Store, seeded: Seeded) -> None:
    counting = CountingStore(store)
    moments = iter([NOW, NOW + timedelta(days=1)])
    status_page = StatusPage(counting, settings(), now=lambda: next(moments), cache_seconds=0)
    first = (await call(status_page, "/api/v2/scheduled-maintenances/active.json")).json()
    second = (await call(status_page, "/api/v2/scheduled-maintenances/active.json")).json()
    assert counting.reads == 2
    assert len(first["scheduled_maintenances"]) == 1 and second["scheduled_maintenances"] == []
