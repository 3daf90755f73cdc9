"""The lead role: one holder, handed over on a clean stop or once a lease runs out, kept through short outages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from releve.clock import VirtualClock
from releve.cluster import Leadership
from releve.errors import StoreError
from releve.store import Fenced, Store

T0 = datetime(2026, 11, 27, 10, tzinfo=UTC)


class Candidate:
    def __init__(self, store: Store, clock: VirtualClock, name: str) -> None:
        self.events: list[str] = []

        async def gain() -> None:
            self.events.append("gain")

        async def loss() -> None:
            self.events.append("loss")

        self.lead = Leadership(store, ttl=15, wall=lambda: T0 + timedelta(seconds=clock.now()), clock=clock,
                               on_gain=gain, on_loss=loss, holder=name)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def stores(tmp_path: Path) -> list[Store]:
    """Two processes' stores on one database."""
    opened = [Store(f"sqlite:///{tmp_path / 'releve.db'}") for _ in range(2)]
    for store in opened:
        store.open()
    yield opened  # type: ignore[misc]
    for store in opened:
        store.close()


async def test_one_lead_and_a_clean_stop_hands_over_at_once(stores: list[Store], clock: VirtualClock) -> None:
    a, b = Candidate(stores[0], clock, "a"), Candidate(stores[1], clock, "b")
    await a.lead.renew()
    await b.lead.renew()
    assert a.lead.leading and not b.lead.leading
    assert a.events == ["gain"] and b.events == []
    assert a.lead.fence() == ("lead", 1)
    with pytest.raises(Fenced):
        b.lead.fence()
    clock.advance(3)
    await a.lead.renew()  # renewed: still a's, same token
    assert a.lead.token == ("lead", 1)
    await a.lead.close()
    assert a.events == ["gain", "loss"]
    await b.lead.renew()
    assert b.lead.leading and b.lead.token == ("lead", 2) and b.events == ["gain"]


async def test_a_dead_lead_is_replaced_once_its_lease_runs_out(stores: list[Store], clock: VirtualClock) -> None:
    a, b = Candidate(stores[0], clock, "a"), Candidate(stores[1], clock, "b")
    await a.lead.renew()
    clock.advance(14)
    await b.lead.renew()
    assert not b.lead.leading  # a's lease still runs (a died silently: no renewal, no release)
    clock.advance(1.5)
    await b.lead.renew()
    assert b.lead.leading and b.lead.token == ("lead", 2)
    # a was only paused: its own clock ended its role before the lease ran out, so it never acted beside b.
    assert not a.lead.leading
    await a.lead.renew()
    assert a.events == ["gain", "loss"] and not a.lead.leading


async def test_a_short_store_outage_keeps_the_role_and_a_long_one_ends_it(
        stores: list[Store], clock: VirtualClock, monkeypatch: pytest.MonkeyPatch) -> None:
    a = Candidate(stores[0], clock, "a")
    await a.lead.renew()

    def unreachable(*args: object, **kwargs: object) -> int:
        raise StoreError("connection refused")

    monkeypatch.setattr(stores[0], "acquire_lease", unreachable)
    for _ in range(3):  # 9 s without the store: the lease (15 s) still runs
        clock.advance(3)
        await a.lead.renew()
    assert a.lead.leading and a.events == ["gain"]
    clock.advance(5)  # 14 s since the last renewal was sent: past the lease minus its margin
    await a.lead.renew()
    assert not a.lead.leading and a.events == ["gain", "loss"]
    monkeypatch.undo()
    await a.lead.renew()  # the store is back, the lease ran out and nobody took it: a takes it again
    assert a.lead.leading and a.events == ["gain", "loss", "gain"]


async def test_a_non_candidate_never_leads(stores: list[Store], clock: VirtualClock) -> None:
    events: list[str] = []

    async def note() -> None:
        events.append("x")

    lead = Leadership(stores[0], ttl=15, wall=lambda: T0, clock=clock, on_gain=note, on_loss=note, candidate=False)
    await lead.start()
    await lead.close()
    assert not lead.leading and events == [] and stores[0].lease_holder("lead") is None
