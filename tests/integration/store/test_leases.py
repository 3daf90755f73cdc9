"""Leases: one holder at a time, taken over only once expired, a new fencing token at each change of hands."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from releve.store import ComponentStatus, Fenced, Impact, IncidentStatus, Store, Text

T0 = datetime(2026, 11, 27, 10, tzinfo=UTC)


def test_one_holder_renewals_keep_the_token_and_a_takeover_makes_a_new_one(store: Store) -> None:
    assert store.acquire_lease("lead", "a", at=T0, ttl=15) == 1
    assert store.acquire_lease("lead", "b", at=T0 + timedelta(seconds=5), ttl=15) is None
    assert store.acquire_lease("lead", "a", at=T0 + timedelta(seconds=10), ttl=15) == 1  # renewed to T0+25
    assert store.acquire_lease("lead", "b", at=T0 + timedelta(seconds=20), ttl=15) is None
    assert store.acquire_lease("lead", "b", at=T0 + timedelta(seconds=26), ttl=15) == 2  # a's ran out
    assert store.acquire_lease("lead", "a", at=T0 + timedelta(seconds=27), ttl=15) is None
    holder = store.lease_holder("lead")
    assert holder is not None and holder[:2] == ("b", 2)
    assert store.lease_holder("other") is None


def test_a_released_lease_is_taken_at_once(store: Store) -> None:
    assert store.acquire_lease("lead", "a", at=T0, ttl=15) == 1
    store.release_lease("lead", "b")  # not b's: nothing changes
    assert store.acquire_lease("lead", "b", at=T0 + timedelta(seconds=1), ttl=15) is None
    store.release_lease("lead", "a")
    assert store.acquire_lease("lead", "b", at=T0 + timedelta(seconds=1), ttl=15) == 2


def test_racing_processes_never_hold_the_lease_together(database_url: str) -> None:
    """Eight holders try the same lease at the same instant, 20 rounds: one winner per round at most."""
    stores = [Store(database_url) for _ in range(8)]
    stores[0].open()
    for other in stores[1:]:
        other.open()
    winners: list[list[str]] = [[] for _ in range(20)]
    barrier = threading.Barrier(len(stores))

    def contend(index: int) -> None:
        for round_no in range(20):
            barrier.wait()
            at = T0 + timedelta(seconds=20 * round_no)  # every round starts after the last lease expired
            if stores[index].acquire_lease("lead", f"h{index}", at=at, ttl=15) is not None:
                winners[round_no].append(f"h{index}")

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for store in stores:
        store.close()
    assert all(len(round_winners) == 1 for round_winners in winners), winners


def test_incident_writes_under_a_stale_token_are_refused(store: Store) -> None:
    token = store.acquire_lease("lead", "a", at=T0, ttl=15)
    assert token == 1
    incident = store.open_incident(name=Text("n", "n"), body=Text("b", "b"), impact=Impact.MAJOR, components=[],
                                   affected=[("route:chat", ComponentStatus.MAJOR_OUTAGE)], at=T0,
                                   automatic=True, fence=("lead", token))
    assert store.acquire_lease("lead", "b", at=T0 + timedelta(seconds=16), ttl=15) == 2
    with pytest.raises(Fenced, match="token 2, not 1"):
        store.add_update(incident.id, status=IncidentStatus.IDENTIFIED, body=Text("x", "x"),
                         at=T0 + timedelta(seconds=17), fence=("lead", 1))
    with pytest.raises(Fenced):
        store.open_incident(name=Text("n", "n"), body=Text("b", "b"), impact=Impact.MAJOR, components=[],
                            affected=[], at=T0, automatic=True, fence=("lead", 1))
    assert len(store.incidents(unresolved=True, maintenance=False, limit=10)) == 1
    assert [u.status for u in store.incident(incident.id).updates] == [IncidentStatus.INVESTIGATING]  # type: ignore[union-attr]
    store.add_update(incident.id, status=IncidentStatus.IDENTIFIED, body=Text("x", "x"),
                     at=T0 + timedelta(seconds=17), fence=("lead", 2))
