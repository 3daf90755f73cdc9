"""The notification outbox: claims under a lease, delivery outcomes, retries, and no duplicates."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from releve.errors import StoreError
from releve.store import ComponentStatus, Impact, Incident, IncidentStatus, NotificationEvent, Store, Text
from releve.store._rows import enqueue

T0 = datetime(2024, 5, 1, 12, tzinfo=UTC)
LATER = T0 + timedelta(seconds=1)


def _open(store: Store, channels: list[str]) -> Incident:
    return store.open_incident(name=Text("panne", "outage"), body=Text("x", "x"), impact=Impact.MINOR,
                               components=["process:a"], affected=[("process:a", ComponentStatus.PARTIAL_OUTAGE)],
                               at=T0, automatic=True, channels=channels)


def _states(store: Store, incident_id: str) -> dict[int, str]:
    return {item.id: state for item, state in store.notifications(incident_id)}


def test_claim_takes_due_items_once_until_the_lease_runs_out(store: Store) -> None:
    incident = _open(store, ["webhook:1", "webhook:2", "webhook:3"])
    assert store.claim_notifications(T0 - timedelta(seconds=1)) == []  # not due yet
    first = store.claim_notifications(T0, lease_seconds=30, limit=2)
    assert [(i.channel, i.attempts, i.event) for i in first] == [("webhook:1", 1, NotificationEvent.OPEN),
                                                                 ("webhook:2", 1, NotificationEvent.OPEN)]
    assert first[0].incident_id == incident.id and first[0].update_id == incident.updates[0].id
    assert first[0].created_at == T0 and first[0].next_attempt_at == T0
    assert [i.channel for i in store.claim_notifications(T0 + timedelta(seconds=29))] == ["webhook:3"]
    assert store.claim_notifications(T0 + timedelta(seconds=30)) == []  # leases end after, not at, 30 s
    again = store.claim_notifications(T0 + timedelta(seconds=31))
    assert [(i.channel, i.attempts) for i in again] == [("webhook:1", 2), ("webhook:2", 2)]


def test_sent_items_are_never_claimed_again(store: Store) -> None:
    incident = _open(store, ["webhook:1"])
    [item] = store.claim_notifications(T0)
    store.notification_sent(item.id, LATER)
    assert _states(store, incident.id) == {item.id: "sent"}
    assert store.claim_notifications(T0 + timedelta(days=1)) == []


def test_failed_with_retry_becomes_due_again_at_retry_at(store: Store) -> None:
    incident = _open(store, ["webhook:1"])
    [item] = store.claim_notifications(T0, lease_seconds=600)
    retry_at = T0 + timedelta(seconds=10)
    store.notification_failed(item.id, "HTTP 503", retry_at=retry_at)
    assert store.claim_notifications(retry_at - timedelta(seconds=1)) == []
    [retried] = store.claim_notifications(retry_at)  # the lease was cleared: due even though 600 s had been asked
    assert (retried.id, retried.attempts, retried.last_error, retried.next_attempt_at) == (item.id, 2, "HTTP 503",
                                                                                          retry_at)
    assert _states(store, incident.id) == {item.id: "pending"}


def test_failed_without_retry_is_given_up(store: Store) -> None:
    incident = _open(store, ["webhook:1"])
    [item] = store.claim_notifications(T0)
    store.notification_failed(item.id, "HTTP 404", retry_at=None)
    [(stored, state)] = store.notifications(incident.id)
    assert (state, stored.last_error) == ("failed", "HTTP 404")
    assert store.claim_notifications(T0 + timedelta(days=1)) == []


def test_outcome_of_an_unknown_item_raises(store: Store) -> None:
    with pytest.raises(StoreError):
        store.notification_sent(12345, T0)
    with pytest.raises(StoreError):
        store.notification_failed(12345, "x", retry_at=None)


def test_an_open_or_resolve_cannot_be_queued_twice(store: Store) -> None:
    incident = _open(store, ["webhook:1"])
    resolved = store.add_update(incident.id, status=IncidentStatus.RESOLVED, body=Text("ok", "ok"), at=LATER,
                                channels=["webhook:1"])
    with pytest.raises(StoreError):
        store.add_update(incident.id, status=IncidentStatus.RESOLVED, body=Text("ok", "ok"), at=LATER,
                         channels=["webhook:1"])
    # Even written directly, the dedup keys refuse a second open and a second resolve.
    with store._begin() as connection:
        for event in (NotificationEvent.OPEN, NotificationEvent.RESOLVE):
            enqueue(connection, incident_id=incident.id, update_id=resolved.id, event=event,
                    channels=["webhook:1", "webhook:2"], at=LATER)
    queued = [(item.event, item.channel) for item, _ in store.notifications(incident.id)]
    assert queued == [(NotificationEvent.OPEN, "webhook:1"), (NotificationEvent.RESOLVE, "webhook:1"),
                      (NotificationEvent.OPEN, "webhook:2"), (NotificationEvent.RESOLVE, "webhook:2")]


def test_two_stores_claiming_at_once_never_take_the_same_item(store: Store, database_url: str) -> None:
    channels = [f"webhook:{n}" for n in range(60)]
    for _ in range(2):
        _open(store, channels)
    claimers = [Store(database_url) for _ in range(3)]
    for claimer in claimers:
        claimer.open()
    barrier = threading.Barrier(len(claimers))
    taken: list[list[int]] = [[] for _ in claimers]

    def claim(index: int) -> None:
        barrier.wait()
        while batch := claimers[index].claim_notifications(T0, limit=7):
            taken[index] += [item.id for item in batch]

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(len(claimers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for claimer in claimers:
        claimer.close()
    every = [item_id for ids in taken for item_id in ids]
    assert len(every) == len(set(every)) == 120
