"""The monitor while its store does not answer: detection goes on, nothing it decided is lost, nothing written twice."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from releve.clock import VirtualClock
from releve.config import config_from_mapping
from releve.errors import StoreError
from releve.gateway import AttemptFailed, EventBus, GatewayMetrics, build_routes
from releve.monitor import Monitor
from releve.store import ComponentStatus, IncidentStatus, Store, Text
from support.scripted import ScriptedTransport
from unit.monitor._support import Outage

NOW = datetime(2026, 3, 2, 10, 0, 0, tzinfo=UTC)
ROUTE = "route:chat"
MAJOR = ComponentStatus.MAJOR_OUTAGE
OK = ComponentStatus.OPERATIONAL
# Every store method the monitor calls after start-up.
WRITES = ("incidents", "incident", "set_component_status", "add_uptime", "open_incident", "add_update")


class Rig:
    """A monitor over one route; each `tick` moves both clocks one second, with failing or served requests."""

    def __init__(self, store: Store, *, fence: Any = None, **monitor: Any) -> None:
        self.clock = VirtualClock()
        self.now = NOW
        self.metrics = GatewayMetrics(EventBus())
        config = config_from_mapping({
            "auth": "none",
            "providers": {"a": {"kind": "openai-compatible", "base_url": "http://127.0.0.1:1/v1"}},
            "routes": {"chat": {"targets": [{"provider": "a", "model": "m"}]}},
            "monitor": {"enabled": False, "probes": {"request": "none"}, "min_samples": 1, "window": "3s",
                        "down_after": 2, "up_after": 2, "resolve_after": "5s", "flush_every": "10s", **monitor},
        })
        transports = {"a": ScriptedTransport("a", [200])}
        self.monitor = Monitor(config, build_routes(config, transports, self.clock), self.metrics, transports,
                               store, clock=self.clock, wall=lambda: self.now, fence=fence)

    async def tick(self, *, failing: bool, times: int = 1) -> None:
        for _ in range(times):
            self.clock.advance(1.0)
            self.now += timedelta(seconds=1)
            for _ in range(5):
                if failing:
                    self.monitor.on_event(AttemptFailed("chat", "a/m", "http_500", "500", 500, self.clock.now()))
                    self.metrics.observe_request("chat", "", "failed", 0.01)
                else:
                    self.metrics.observe_request("chat", "a/m", "served", 0.01)
            await self.monitor.tick()


def stored_status(store: Store, component_id: str = ROUTE) -> tuple[ComponentStatus, datetime]:
    [found] = [c for c in store.components() if c.id == component_id]
    return found.status, found.updated_at


def open_incidents(store: Store) -> list[Any]:
    return store.incidents(unresolved=True, maintenance=False)


def said(caplog: pytest.LogCaptureFixture, text: str) -> int:
    return sum(text in record.getMessage() for record in caplog.records)


async def test_detection_goes_on_and_the_incident_opens_as_soon_as_the_store_returns(
        store: Store, reader: Store, outage: Outage, caplog: pytest.LogCaptureFixture) -> None:
    rig = Rig(store)
    await rig.monitor.start()
    await rig.tick(failing=False)
    outage.patch(*WRITES).down = True
    failed_at = rig.now + timedelta(seconds=1)
    await rig.tick(failing=True, times=12)     # crosses a maintenance read and an uptime flush
    assert rig.monitor.statuses[ROUTE] is MAJOR, "detection went on"
    # One refused call per tick at most: a tick does not wait for every write to time out in turn.
    assert sum(outage.calls.values()) <= 12
    assert stored_status(reader)[0] is OK and open_incidents(reader) == []
    outage.down = False
    await rig.tick(failing=True)
    [incident] = open_incidents(store)
    assert incident.started_at == failed_at, "the failure began before the outage ended"
    assert stored_status(store) == (MAJOR, failed_at + timedelta(seconds=1)), "dated by the change, not the write"
    assert said(caplog, "monitor cannot write to the store") == 1
    assert said(caplog, "store answers again") == 1


async def test_uptime_seconds_are_kept_until_the_store_takes_them(store: Store, outage: Outage) -> None:
    rig = Rig(store)
    await rig.monitor.start()
    outage.patch("add_uptime").down = True
    await rig.tick(failing=False, times=25)
    assert outage.calls["add_uptime"] == 2
    outage.down = False
    await rig.tick(failing=False, times=5)
    assert outage.calls["add_uptime"] == 3
    await rig.monitor.close()
    [day] = store.uptime([ROUTE], date(2026, 3, 2))[ROUTE]
    assert day.seconds == {OK: 30.0}


async def test_uptime_not_written_at_close_is_kept_for_the_next_start(store: Store, outage: Outage) -> None:
    rig = Rig(store)
    await rig.monitor.start()
    await rig.tick(failing=False, times=3)
    outage.patch("add_uptime").down = True
    await rig.monitor.close()
    outage.down = False
    await rig.monitor.start()
    await rig.monitor.close()
    assert store.uptime([ROUTE], date(2026, 3, 2))[ROUTE][0].seconds == {OK: 3.0}


async def test_a_status_change_the_store_refused_is_written_later_with_the_latest_status(
        store: Store, outage: Outage) -> None:
    rig = Rig(store)
    await rig.monitor.start()
    outage.patch("set_component_status").down = True
    await rig.tick(failing=True, times=3)
    changed_at = rig.now - timedelta(seconds=1)
    assert rig.monitor.statuses[ROUTE] is MAJOR and stored_status(store)[0] is OK
    tries = outage.calls["set_component_status"]
    await rig.tick(failing=True)
    assert outage.calls["set_component_status"] == tries + 1, "retried at each tick"
    outage.down = False
    await rig.tick(failing=True)
    assert stored_status(store) == (MAJOR, changed_at)
    tries = outage.calls["set_component_status"]
    await rig.tick(failing=True, times=2)
    assert outage.calls["set_component_status"] == tries, "written once"
    history = store.status_history([ROUTE], NOW, rig.now)
    assert [change.status for change in history[ROUTE]] == [OK, MAJOR]


async def test_a_maintenance_window_holds_while_the_store_cannot_be_read(store: Store, outage: Outage) -> None:
    rig = Rig(store)
    store.schedule_maintenance(name=Text("m", "m"), body=Text("m", "m"), components=[ROUTE], at=NOW,
                               starts=NOW, ends=NOW + timedelta(hours=1))
    await rig.monitor.start()
    await rig.tick(failing=False)
    assert rig.monitor.statuses[ROUTE] is ComponentStatus.UNDER_MAINTENANCE
    outage.patch("incidents").down = True
    await rig.tick(failing=False, times=25)
    assert outage.calls["incidents"] >= 2
    assert rig.monitor.statuses[ROUTE] is ComponentStatus.UNDER_MAINTENANCE


async def test_a_recovery_during_the_outage_is_dated_from_the_first_good_tick_and_resolved_once(
        store: Store, outage: Outage) -> None:
    rig = Rig(store)
    await rig.monitor.start()
    await rig.tick(failing=True, times=3)
    [incident] = open_incidents(store)
    outage.patch(*WRITES).down = True
    await rig.tick(failing=False, times=20)   # operational again after 3 + 2 ticks, resolvable 5 s later
    assert rig.monitor.statuses[ROUTE] is OK
    outage.down = False
    await rig.tick(failing=False)
    assert store.incident(incident.id).status is IncidentStatus.MONITORING  # type: ignore[union-attr]
    await rig.tick(failing=False)
    resolved = store.incident(incident.id)
    assert resolved is not None and resolved.status is IncidentStatus.RESOLVED
    assert [u.status for u in resolved.updates] == [IncidentStatus.RESOLVED, IncidentStatus.MONITORING,
                                                    IncidentStatus.INVESTIGATING]
    assert resolved.recovered_at is not None and resolved.recovered_at < resolved.updates[1].created_at
    assert rig.monitor.incidents.current is None


async def test_an_open_whose_answer_was_lost_is_not_opened_twice(store: Store,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    real = store.open_incident

    def committed_then_lost(**kwargs: Any) -> Any:
        real(**kwargs)
        monkeypatch.setattr(store, "open_incident", real)
        raise StoreError("server closed the connection unexpectedly")

    monkeypatch.setattr(store, "open_incident", committed_then_lost)
    rig = Rig(store)
    await rig.monitor.start()
    await rig.tick(failing=True, times=2)
    assert rig.monitor.incidents.current is None
    await rig.tick(failing=True, times=3)
    [incident] = open_incidents(store)
    assert rig.monitor.incidents.current is not None and rig.monitor.incidents.current.id == incident.id


async def test_an_incident_closed_by_a_person_is_let_go_and_a_new_one_opens_if_needed(store: Store) -> None:
    rig = Rig(store)
    await rig.monitor.start()
    await rig.tick(failing=True, times=3)
    [first] = open_incidents(store)
    store.add_update(first.id, status=IncidentStatus.RESOLVED, body=Text("fini", "done"), at=rig.now)
    # As the failure eases, the monitor's next update is refused (the incident is closed): it lets the incident go.
    await rig.tick(failing=False, times=6)
    await rig.tick(failing=True, times=3)
    [second] = open_incidents(store)
    assert second.id != first.id and rig.monitor.incidents.current is not None
    assert rig.monitor.incidents.current.id == second.id
    assert len(store.incident(first.id).updates) == 2  # type: ignore[union-attr]


async def test_a_fenced_process_writes_no_status_and_no_incident(store: Store,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    lead = [True]

    def fence() -> None:
        if not lead[0]:
            raise StoreError("lead lease lost")

    rig = Rig(store, fence=fence)
    await rig.monitor.start()
    lead[0] = False
    await rig.tick(failing=True, times=5)
    assert rig.monitor.statuses[ROUTE] is MAJOR
    assert stored_status(store)[0] is OK and open_incidents(store) == []
    assert said(caplog, "lead lease lost") == 1
    lead[0] = True
    await rig.tick(failing=True)
    assert stored_status(store)[0] is MAJOR and len(open_incidents(store)) == 1


def running(name: str) -> bool:
    return any(task.get_name() == name and not task.done() for task in asyncio.all_tasks())


async def test_start_close_start_on_the_same_monitor(store: Store) -> None:
    """The lead role moves: a process closes its monitor, another lead decides meanwhile, this one leads again."""
    # The loop runs (an hour apart: the test's own ticks are the only ones); one bad evaluation turns a status.
    rig = Rig(store, enabled=True, evaluate_every="1h", down_after=1)
    await rig.monitor.start()
    await rig.monitor.start()   # already running: nothing more
    assert running("releve-monitor")
    await rig.tick(failing=True, times=2)
    [incident] = open_incidents(store)
    await rig.monitor.close()
    assert not running("releve-monitor")
    # Meanwhile another lead saw the recovery and resolved the incident; this process kept serving (and failing).
    store.set_component_status(ROUTE, OK, rig.now)
    store.set_component_status("target:a/m", OK, rig.now)
    store.add_update(incident.id, status=IncidentStatus.RESOLVED, body=Text("fini", "done"), at=rig.now)
    for _ in range(50):
        rig.metrics.observe_request("chat", "", "failed", 0.01)
        rig.monitor.on_event(AttemptFailed("chat", "a/m", "http_500", "500", 500, rig.clock.now()))
    await rig.monitor.start()
    assert running("releve-monitor")
    assert rig.monitor.statuses[ROUTE] is OK and rig.monitor.incidents.current is None
    await rig.tick(failing=False)
    assert rig.monitor.statuses[ROUTE] is OK, "what happened while another process led is not evaluated late"
    await rig.tick(failing=True, times=2)
    [again] = open_incidents(store)
    assert again.id != incident.id
    await rig.monitor.close()
