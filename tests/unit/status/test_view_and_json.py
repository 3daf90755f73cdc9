"""The view's rules (page indicator, maintenance state, uptime, which components show) and the Statuspage shapes.

Pure functions, fed with values built directly: no store, no event loop.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from releve.status._statuspage import PageInfo, component_json, incident_json, iso, page_id, page_json, status_json
from releve.status._view import (
    UPTIME_DAYS,
    effective_maintenance,
    page_status,
    shown_components,
    uptime_days,
)
from releve.store import ComponentKind, ComponentStatus, Impact, IncidentStatus, Text, UptimeDay
from unit.status._support import (
    AFFECTED_KEYS,
    COMPONENT_KEYS,
    INCIDENT_KEYS,
    MAINTENANCE_KEYS,
    NOW,
    PAGE_KEYS,
    UPDATE_KEYS,
    component,
    incident,
    update,
)

OP, MAINT, DEG, PART, MAJ = (ComponentStatus.OPERATIONAL, ComponentStatus.UNDER_MAINTENANCE,
                             ComponentStatus.DEGRADED_PERFORMANCE, ComponentStatus.PARTIAL_OUTAGE,
                             ComponentStatus.MAJOR_OUTAGE)
PAGE = PageInfo(id="abcdefghijkl", name="Status", url="https://status.example.com/status", updated_at=NOW)


@pytest.mark.parametrize(("statuses", "indicator", "description"), [
    ([], Impact.NONE, "all_operational"),
    ([OP, OP], Impact.NONE, "all_operational"),
    ([MAJ], Impact.CRITICAL, "major_system_outage"),
    ([MAJ, MAJ], Impact.CRITICAL, "major_system_outage"),
    ([MAJ, OP], Impact.MAJOR, "partial_system_outage"),
    ([MAJ, PART], Impact.MAJOR, "partial_system_outage"),
    ([PART], Impact.MAJOR, "partial_system_outage"),
    ([PART, PART], Impact.MAJOR, "partial_system_outage"),
    ([PART, OP], Impact.MINOR, "minor_service_outage"),
    ([DEG], Impact.MINOR, "partially_degraded_service"),
    ([DEG, DEG], Impact.MINOR, "degraded_system_service"),
    ([DEG, OP], Impact.MINOR, "partially_degraded_service"),
    ([MAINT, OP], Impact.MAINTENANCE, "service_under_maintenance"),
    ([MAINT, DEG], Impact.MINOR, "partially_degraded_service"),
])
def test_page_indicator_from_components(statuses: list[ComponentStatus], indicator: Impact, description: str) -> None:
    """Statuspage's top-level status: the worst component, blended by how many components share it."""
    assert page_status(statuses, []) == (indicator, description)


@pytest.mark.parametrize(("statuses", "impacts", "indicator", "description"), [
    ([OP], [Impact.CRITICAL], Impact.CRITICAL, "major_system_outage"),
    ([OP], [Impact.MAJOR], Impact.MAJOR, "partial_system_outage"),
    ([OP], [Impact.MINOR, Impact.NONE], Impact.MINOR, "minor_service_outage"),
    ([OP], [Impact.NONE], Impact.NONE, "all_operational"),
    ([OP], [Impact.MAINTENANCE], Impact.MAINTENANCE, "service_under_maintenance"),
    ([MAJ, MAJ], [Impact.MINOR], Impact.CRITICAL, "major_system_outage"),   # components worse: they speak
    ([DEG], [Impact.MAINTENANCE], Impact.MINOR, "partially_degraded_service"),
    ([], [Impact.MAJOR], Impact.MAJOR, "partial_system_outage"),           # no component, an open incident
])
def test_open_incidents_raise_the_indicator(statuses: list[ComponentStatus], impacts: list[Impact],
                                            indicator: Impact, description: str) -> None:
    assert page_status(statuses, impacts) == (indicator, description)


def test_maintenance_follows_its_window() -> None:
    """A window still marked scheduled shows in progress once it starts, completed once it ends."""
    window = incident("m", status=IncidentStatus.SCHEDULED, impact=Impact.MAINTENANCE,
                      scheduled_for=NOW + timedelta(hours=1), scheduled_until=NOW + timedelta(hours=2))
    assert effective_maintenance(window, NOW).status is IncidentStatus.SCHEDULED
    assert effective_maintenance(window, NOW + timedelta(hours=1)).status is IncidentStatus.IN_PROGRESS
    assert effective_maintenance(window, NOW + timedelta(hours=2)).status is IncidentStatus.COMPLETED
    verifying = incident("v", status=IncidentStatus.VERIFYING, impact=Impact.MAINTENANCE,
                         scheduled_for=NOW - timedelta(hours=3), scheduled_until=NOW - timedelta(hours=2))
    assert effective_maintenance(verifying, NOW) is verifying    # what an operator wrote is kept


def test_uptime_days_cover_90_days_with_gaps_as_no_data() -> None:
    """Ninety days ending today, oldest first; missing days carry no percentage; the total weighs observed time."""
    today = NOW.date()
    days = [UptimeDay("c", today, {OP: 43_200.0, MAJ: 43_200.0}),                      # 50 %
            UptimeDay("c", today - timedelta(days=1), {OP: 8_640.0}),                   # 100 %, short day
            UptimeDay("c", today - timedelta(days=2), {OP: 70_000.0, PART: 16_400.0}),  # partial counts 30 %
            UptimeDay("c", today - timedelta(days=200), {MAJ: 86_400.0})]               # outside the window
    views, up, observed = uptime_days(days, today)
    assert len(views) == UPTIME_DAYS
    assert views[0].day == today - timedelta(days=UPTIME_DAYS - 1) and views[-1].day == today
    assert views[-1].uptime == 0.5 and views[-1].worst is MAJ
    assert views[-3].worst is PART and views[-3].uptime == pytest.approx(1 - 0.3 * 16_400 / 86_400)
    assert views[0].uptime is None and views[0].worst is None
    assert observed == 86_400 + 8_640 + 86_400
    assert up / observed == pytest.approx((43_200 + 8_640 + 70_000 + 0.7 * 16_400) / observed)


def test_shown_components() -> None:
    """Public processes; routes too when configured; routes alone when there is no process (never an empty page)."""
    process = component("process:a")
    hidden = component("process:hidden", public=False)
    route = component("route:r", ComponentKind.ROUTE)
    target = component("target:t", ComponentKind.TARGET)
    assert shown_components([process, hidden, route, target], show_routes=False) == [process]
    assert shown_components([process, hidden, route, target], show_routes=True) == [process, route]
    assert shown_components([hidden, route, target], show_routes=False) == [route]
    assert shown_components([target], show_routes=False) == []


def test_page_id_is_stable_and_statuspage_like() -> None:
    assert page_id("https://status.example.com") == page_id("https://status.example.com")
    assert page_id("https://status.example.com") != page_id("")
    assert len(page_id("")) == 12 and page_id("").isalnum() and page_id("").islower()


def test_times_are_iso_utc_with_milliseconds() -> None:
    assert iso(NOW) == "2026-11-27T14:05:00.000Z"
    assert iso(None) is None


def test_page_and_status_objects() -> None:
    assert set(page_json(PAGE)) == PAGE_KEYS
    assert page_json(PAGE)["time_zone"] == "Etc/UTC"
    assert status_json(Impact.NONE, "all_operational", "en") == {"indicator": "none",
                                                                 "description": "All Systems Operational"}
    assert status_json(Impact.CRITICAL, "major_system_outage", "fr")["description"] == "Panne majeure du système"


def test_component_object() -> None:
    described = component("process:a", fr="Recherche", en="Search", status=PART, position=3,
                          description=Text("Trouver", "Find"))
    document = component_json(described, PAGE, "fr")
    assert set(document) == COMPONENT_KEYS
    assert document["name"] == "Recherche" and document["description"] == "Trouver"
    assert document["status"] == "partial_outage" and document["position"] == 3
    assert document["page_id"] == PAGE.id
    assert (document["group"], document["group_id"], document["only_show_if_degraded"]) == (False, None, False)
    assert component_json(component("process:b"), PAGE, "en")["description"] is None


def test_incident_object_tells_each_component_change() -> None:
    """Updates newest first; affected components say old → new; components not shown are left out."""
    shown = {"process:a": component("process:a", fr="Recherche", en="Search")}
    updates = (
        update("i1", "u3", IncidentStatus.RESOLVED, 5, affected=(("process:a", OP),)),
        update("i1", "u2", IncidentStatus.MONITORING, 20),
        update("i1", "u1", IncidentStatus.INVESTIGATING, 40,
               affected=(("process:a", MAJ), ("process:hidden", MAJ))),
    )
    closed = incident("i1", status=IncidentStatus.RESOLVED, components=("process:a", "process:hidden"),
                      updates=updates, resolved_at=NOW - timedelta(minutes=5), started_at=NOW - timedelta(minutes=45))
    document = incident_json(closed, PAGE, "en", shown)
    assert set(document) == INCIDENT_KEYS
    assert [u["id"] for u in document["incident_updates"]] == ["u3", "u2", "u1"]
    for item in document["incident_updates"]:
        assert set(item) == UPDATE_KEYS
        assert item["incident_id"] == "i1" and item["body"] == f"en {item['id']}"
        assert (item["custom_tweet"], item["tweet_id"], item["deliver_notifications"]) == (None, None, True)
    resolved, monitoring, first = document["incident_updates"]
    assert first["affected_components"] == [{"code": "process:a", "name": "Search", "old_status": "operational",
                                             "new_status": "major_outage"}]
    assert set(first["affected_components"][0]) == AFFECTED_KEYS
    assert monitoring["affected_components"] is None
    assert resolved["affected_components"][0]["old_status"] == "major_outage"
    assert resolved["affected_components"][0]["new_status"] == "operational"
    assert [c["id"] for c in document["components"]] == ["process:a"]
    assert document["monitoring_at"] == iso(NOW - timedelta(minutes=20))
    assert document["resolved_at"] == iso(NOW - timedelta(minutes=5))
    assert document["started_at"] == iso(NOW - timedelta(minutes=45))
    assert document["shortlink"] == f"{PAGE.url}#incident-i1"
    assert document["impact"] == "major"


def test_started_at_defaults_to_creation() -> None:
    document = incident_json(incident("i2", updates=(update("i2", "u", IncidentStatus.INVESTIGATING, 60),)),
                             PAGE, "fr", {})
    assert document["started_at"] == document["created_at"]
    assert document["incident_updates"][0]["body"] == "fr u"
    assert document["components"] == [] and document["monitoring_at"] is None


def test_maintenance_object_adds_its_window() -> None:
    window = incident("m1", status=IncidentStatus.SCHEDULED, impact=Impact.MAINTENANCE,
                      scheduled_for=NOW + timedelta(days=1), scheduled_until=NOW + timedelta(days=1, hours=2))
    document = incident_json(window, PAGE, "en", {})
    assert set(document) == MAINTENANCE_KEYS
    assert document["scheduled_for"] == iso(NOW + timedelta(days=1))
    assert document["scheduled_until"] == iso(NOW + timedelta(days=1, hours=2))
    assert document["impact"] == "maintenance"


def test_uptime_days_on_an_empty_history() -> None:
    views, up, observed = uptime_days([], date(2026, 1, 1))
    assert len(views) == UPTIME_DAYS and all(v.uptime is None for v in views) and observed == up == 0
