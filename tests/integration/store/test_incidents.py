"""Incidents and maintenance windows: their updates, their times, and the notifications they queue."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest

from releve.errors import StoreError
from releve.store import ComponentStatus, Impact, Incident, IncidentStatus, NotificationEvent, Store, Text

T0 = datetime(2024, 5, 1, 12, tzinfo=UTC)
MAJOR = ComponentStatus.MAJOR_OUTAGE
OK = ComponentStatus.OPERATIONAL
CHANNELS = ("webhook:aaaaaaaaaaaa", "apprise:bbbbbbbbbbbb")


def _open(store: Store, *, at: datetime = T0, channels: tuple[str, ...] = CHANNELS, name: str = "Support down",
          started_at: datetime | None = None) -> Incident:
    return store.open_incident(name=Text(f"{name} (fr)", name), body=Text("On enquête", "Investigating"),
                               impact=Impact.MAJOR, components=["process:support", "route:assistant"],
                               affected=[("process:support", MAJOR)], at=at, automatic=True,
                               started_at=started_at, channels=channels)


def _events(store: Store, incident_id: str) -> list[tuple[str, NotificationEvent, str]]:
    return [(item.update_id, item.event, item.channel) for item, _ in store.notifications(incident_id)]


def test_open_incident_writes_the_incident_its_first_update_and_one_open_per_channel(store: Store) -> None:
    incident = _open(store, started_at=T0 - timedelta(seconds=90), channels=(*CHANNELS, CHANNELS[0]))
    assert len(incident.id) == 12
    assert incident.id.isalnum() and incident.id == incident.id.lower()
    assert (incident.status, incident.impact, incident.automatic) == (IncidentStatus.INVESTIGATING, Impact.MAJOR, True)
    assert incident.components == ("process:support", "route:assistant")
    assert (incident.created_at, incident.updated_at) == (T0, T0)
    assert incident.detection_seconds == 90.0
    assert incident.resolved_at is None and not incident.is_maintenance
    [first] = incident.updates
    assert (first.incident_id, first.status, first.body.en) == (incident.id, IncidentStatus.INVESTIGATING,
                                                               "Investigating")
    assert first.affected == (("process:support", MAJOR),)
    assert store.incident(incident.id) == incident
    assert _events(store, incident.id) == [(first.id, NotificationEvent.OPEN, c) for c in CHANNELS]
    assert {state for _, state in store.notifications(incident.id)} == {"pending"}


def test_add_update_changes_status_impact_components_and_queues_updates(store: Store) -> None:
    incident = _open(store)
    update = store.add_update(incident.id, status=IncidentStatus.IDENTIFIED, body=Text("Trouvé", "Found"),
                              at=T0 + timedelta(minutes=5), affected=[("process:support", MAJOR)],
                              impact=Impact.CRITICAL, components=["process:support"], channels=CHANNELS)
    assert (update.status, update.created_at) == (IncidentStatus.IDENTIFIED, T0 + timedelta(minutes=5))
    stored = store.incident(incident.id)
    assert stored is not None
    assert (stored.status, stored.impact, stored.components) == (IncidentStatus.IDENTIFIED, Impact.CRITICAL,
                                                                 ("process:support",))
    assert stored.updated_at == T0 + timedelta(minutes=5)
    assert [u.id for u in stored.updates] == [update.id, incident.updates[0].id]
    assert stored.updates[0] == update
    assert _events(store, incident.id)[2:] == [(update.id, NotificationEvent.UPDATE, c) for c in CHANNELS]


def test_updates_written_in_the_same_instant_keep_their_order(store: Store) -> None:
    incident = _open(store)
    written = [store.add_update(incident.id, status=IncidentStatus.MONITORING, body=Text(str(n), str(n)), at=T0).id
               for n in range(4)]
    stored = store.incident(incident.id)
    assert stored is not None
    assert [u.id for u in stored.updates] == [*reversed(written), incident.updates[0].id]


def test_resolving_sets_resolved_at_and_queues_resolve_then_the_incident_is_closed(store: Store) -> None:
    incident = _open(store)
    resolved = store.add_update(incident.id, status=IncidentStatus.RESOLVED, body=Text("Rétabli", "Resolved"),
                                at=T0 + timedelta(minutes=30), affected=[("process:support", OK)], channels=CHANNELS)
    stored = store.incident(incident.id)
    assert stored is not None
    assert (stored.status, stored.resolved_at) == (IncidentStatus.RESOLVED, T0 + timedelta(minutes=30))
    assert _events(store, incident.id)[2:] == [(resolved.id, NotificationEvent.RESOLVE, c) for c in CHANNELS]
    for status in (IncidentStatus.RESOLVED, IncidentStatus.MONITORING, IncidentStatus.POSTMORTEM):
        with pytest.raises(StoreError, match="closed"):
            store.add_update(incident.id, status=status, body=Text("x", "x"), at=T0 + timedelta(hours=1),
                             channels=CHANNELS)
    assert len(store.notifications(incident.id)) == 4
    assert store.incident(incident.id) == stored


def test_recovered_at_first_value_wins(store: Store) -> None:
    incident = _open(store, started_at=T0 - timedelta(minutes=1))
    store.add_update(incident.id, status=IncidentStatus.MONITORING, body=Text("a", "a"), at=T0 + timedelta(minutes=9),
                     recovered_at=T0 + timedelta(minutes=8))
    store.add_update(incident.id, status=IncidentStatus.RESOLVED, body=Text("b", "b"), at=T0 + timedelta(minutes=20),
                     recovered_at=T0 + timedelta(minutes=19))
    stored = store.incident(incident.id)
    assert stored is not None
    assert stored.recovered_at == T0 + timedelta(minutes=8)
    assert stored.recovery_seconds == 9 * 60


def test_update_of_an_unknown_incident_raises(store: Store) -> None:
    with pytest.raises(StoreError, match="no incident 'zzzzzzzzzzzz'"):
        store.add_update("zzzzzzzzzzzz", status=IncidentStatus.MONITORING, body=Text("x", "x"), at=T0)
    assert store.incident("zzzzzzzzzzzz") is None


def test_opening_an_already_closed_incident_is_refused(store: Store) -> None:
    with pytest.raises(StoreError):
        store.open_incident(name=Text("x", "x"), body=Text("x", "x"), impact=Impact.MINOR, components=[],
                            affected=[], at=T0, automatic=False, status=IncidentStatus.RESOLVED)


def test_times_in_other_zones_come_back_as_the_same_instant_in_utc(store: Store) -> None:
    paris = timezone(timedelta(hours=2))
    incident = _open(store, at=T0.astimezone(paris), started_at=datetime(2024, 5, 1, 13, 59, tzinfo=paris))
    stored = store.incident(incident.id)
    assert stored is not None
    assert stored.created_at == T0 and stored.created_at.tzinfo is UTC
    assert stored.started_at == T0 - timedelta(minutes=1) and stored.started_at.tzinfo is UTC
    assert incident == stored


def test_naive_datetimes_are_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="naive"):
        _open(store, at=datetime(2024, 5, 1, 12))


def test_maintenance_lifecycle(store: Store) -> None:
    starts, ends = T0 + timedelta(days=1), T0 + timedelta(days=1, hours=2)
    window = store.schedule_maintenance(name=Text("Migration", "Migration"), body=Text("Prévue", "Planned"),
                                        components=["process:support"], starts=starts, ends=ends, at=T0,
                                        channels=CHANNELS[:1])
    assert window.is_maintenance
    assert (window.status, window.impact, window.automatic) == (IncidentStatus.SCHEDULED, Impact.MAINTENANCE, False)
    assert (window.scheduled_for, window.scheduled_until) == (starts, ends)
    assert [e for _, e, _ in _events(store, window.id)] == [NotificationEvent.OPEN]
    steps = [(IncidentStatus.IN_PROGRESS, starts), (IncidentStatus.VERIFYING, ends - timedelta(minutes=10)),
             (IncidentStatus.COMPLETED, ends)]
    for status, at in steps:
        store.add_update(window.id, status=status, body=Text(status, status), at=at, channels=CHANNELS[:1])
    done = store.incident(window.id)
    assert done is not None
    assert (done.status, done.resolved_at) == (IncidentStatus.COMPLETED, ends)
    assert [u.status for u in done.updates] == [IncidentStatus.COMPLETED, IncidentStatus.VERIFYING,
                                                IncidentStatus.IN_PROGRESS, IncidentStatus.SCHEDULED]
    assert [e for _, e, _ in _events(store, window.id)] == [
        NotificationEvent.OPEN, NotificationEvent.UPDATE, NotificationEvent.UPDATE, NotificationEvent.RESOLVE]
    with pytest.raises(StoreError, match="closed"):
        store.add_update(window.id, status=IncidentStatus.IN_PROGRESS, body=Text("x", "x"), at=ends)


def test_a_window_that_ends_before_it_starts_is_refused(store: Store) -> None:
    with pytest.raises(ValueError):
        store.schedule_maintenance(name=Text("x", "x"), body=Text("x", "x"), components=[], starts=T0, ends=T0, at=T0)


def test_incidents_filters_and_order(store: Store) -> None:
    old = _open(store, at=T0, name="old")
    store.add_update(old.id, status=IncidentStatus.RESOLVED, body=Text("ok", "ok"), at=T0 + timedelta(hours=1))
    middle = _open(store, at=T0 + timedelta(hours=2), name="middle")
    window = store.schedule_maintenance(name=Text("w", "w"), body=Text("w", "w"), components=[],
                                        starts=T0 + timedelta(days=2), ends=T0 + timedelta(days=2, hours=1),
                                        at=T0 + timedelta(hours=3))
    new = _open(store, at=T0 + timedelta(hours=4), name="new")

    def ids(**filters: object) -> list[str]:
        return [i.id for i in store.incidents(**filters)]  # type: ignore[arg-type]

    assert ids() == [new.id, window.id, middle.id, old.id]
    assert ids(limit=2) == [new.id, window.id]
    assert ids(since=T0 + timedelta(hours=2)) == [new.id, window.id, middle.id]
    assert ids(unresolved=True) == [new.id, window.id, middle.id]
    assert ids(maintenance=True) == [window.id]
    assert ids(maintenance=False) == [new.id, middle.id, old.id]
    assert ids(maintenance=False, unresolved=True, since=T0 + timedelta(hours=3)) == [new.id]
    listed = store.incidents()
    assert [len(i.updates) for i in listed] == [1, 1, 1, 2]
    assert listed[3].updates[0].status is IncidentStatus.RESOLVED


def test_concurrent_resolves_close_once_and_notify_once(store: Store, database_url: str) -> None:
    """Two processes resolving the same incident: one wins, the other is told it is closed."""
    incident = _open(store)
    others = [Store(database_url) for _ in range(4)]
    for other in others:
        other.open()
    barrier = threading.Barrier(len(others))
    outcomes: list[str] = []

    def resolve(other: Store) -> None:
        barrier.wait()
        try:
            other.add_update(incident.id, status=IncidentStatus.RESOLVED, body=Text("ok", "ok"), at=T0,
                             channels=CHANNELS)
            outcomes.append("resolved")
        except StoreError as exc:
            outcomes.append("closed" if "closed" in str(exc) else str(exc))

    threads = [threading.Thread(target=resolve, args=(other,)) for other in others]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for other in others:
        other.close()
    assert sorted(outcomes) == ["closed", "closed", "closed", "resolved"]
    resolves = [e for e in _events(store, incident.id) if e[1] is NotificationEvent.RESOLVE]
    assert sorted(channel for _, _, channel in resolves) == sorted(CHANNELS)
