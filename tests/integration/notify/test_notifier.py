"""The notifier's own rules, with scripted senders: ordering, isolation, store trouble, shutdown."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import aiohttp
import pytest

from integration.notify._support import COMPONENT, WallClock, open_incident
from releve.errors import StoreError
from releve.notify import Channels, Delivery, DeliveryError, Notifier
from releve.store import ComponentStatus, Incident, IncidentStatus, OutboxItem, Store, Text


class Recording:
    """Records what it is asked to send; raises what it is told to, in turn."""

    def __init__(self, *failures: BaseException) -> None:
        self.sent: list[Delivery] = []
        self.failures = list(failures)

    async def send(self, delivery: Delivery, http: aiohttp.ClientSession) -> None:
        self.sent.append(delivery)
        if self.failures:
            raise self.failures.pop(0)


class Hanging:
    async def send(self, delivery: Delivery, http: aiohttp.ClientSession) -> None:
        await asyncio.Event().wait()


class FlakyStore(Store):
    """A real store whose chosen methods fail a given number of times first."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.claim_failures = 0
        self.sent_failures = 0
        self.hide_updates = False

    def claim_notifications(self, now: datetime, *, lease_seconds: float = 60.0, limit: int = 20) -> list[OutboxItem]:
        if self.claim_failures:
            self.claim_failures -= 1
            raise StoreError("database is locked")
        return super().claim_notifications(now, lease_seconds=lease_seconds, limit=limit)

    def notification_sent(self, item_id: int, at: datetime) -> None:
        if self.sent_failures:
            self.sent_failures -= 1
            raise StoreError("database is locked")
        super().notification_sent(item_id, at)

    def incident(self, incident_id: str) -> Incident | None:
        found = super().incident(incident_id)
        return dataclasses.replace(found, updates=()) if found and self.hide_updates else found


@pytest.fixture
def flaky(tmp_path: Path) -> Iterator[FlakyStore]:
    store = FlakyStore(f"sqlite:///{tmp_path}/flaky.db")
    store.open()
    yield store
    store.close()


def states(store: Store, incident_id: str) -> list[str]:
    return [state for _, state in store.notifications(incident_id)]


async def drain(notify: Notifier) -> int:
    await notify.start(background=False)
    try:
        return await notify.drain_once()
    finally:
        await notify.close()


async def test_items_of_one_incident_and_channel_go_in_order(store: Store, wall: WallClock,
                                                             rng: random.Random) -> None:
    """Open, update and resolve due together on one channel are sent in the order they were written."""
    sender = Recording()
    channels = Channels({"test:a": sender})
    incident = open_incident(store, wall(), channels.ids)
    for status in (IncidentStatus.IDENTIFIED, IncidentStatus.RESOLVED):
        store.add_update(incident.id, status=status, body=Text(fr=status, en=status), at=wall(),
                         affected=[(COMPONENT, ComponentStatus.OPERATIONAL)], channels=channels.ids)
    assert await drain(Notifier(store, channels, clock=wall, rng=rng)) == 3
    assert [d.event.value for d in sender.sent] == ["open", "update", "resolve"]
    assert [d.update.status for d in sender.sent] == ["investigating", "identified", "resolved"]
    assert all(d.incident.status is IncidentStatus.RESOLVED for d in sender.sent)   # the incident as it is now


async def test_a_full_batch_is_followed_by_another_claim(store: Store, wall: WallClock, rng: random.Random) -> None:
    channels = Channels({f"test:{n}": Recording() for n in range(5)})
    incident = open_incident(store, wall(), channels.ids)
    assert await drain(Notifier(store, channels, clock=wall, rng=rng, batch=2)) == 5
    assert states(store, incident.id) == ["sent"] * 5


async def test_a_sender_bug_is_retried_and_isolated(store: Store, wall: WallClock, rng: random.Random,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    """An exception that is not a DeliveryError is logged and retried; the other channel is unaffected."""
    broken, fine = Recording(KeyError("oops")), Recording()
    channels = Channels({"test:broken": broken, "test:fine": fine})
    incident = open_incident(store, wall(), channels.ids)
    assert await drain(Notifier(store, channels, clock=wall, rng=rng)) == 2
    by_channel = {item.channel: (state, item.last_error) for item, state in store.notifications(incident.id)}
    assert by_channel == {"test:broken": ("pending", "unexpected KeyError"), "test:fine": ("sent", None)}
    assert any(r.levelno == logging.ERROR and r.exc_info for r in caplog.records)


async def test_retry_after_is_capped(store: Store, wall: WallClock, rng: random.Random) -> None:
    """A receiver asking for a day waits at most the backoff cap."""
    channels = Channels({"test:a": Recording(DeliveryError("HTTP 429", retry_after=86_400))})
    incident = open_incident(store, wall(), channels.ids)
    await drain(Notifier(store, channels, clock=wall, rng=rng, backoff_cap=60))
    [(item, _)] = store.notifications(incident.id)
    assert (item.next_attempt_at - wall()).total_seconds() == 60


def test_backoff_is_full_jitter_under_an_exponential_ceiling(store: Store) -> None:
    notify = Notifier(store, Channels({}), rng=random.Random(7), backoff_base=2, backoff_cap=600)
    for attempt, ceiling in [(1, 2), (2, 4), (3, 8), (9, 512), (10, 600), (30, 600)]:
        delays = [notify.backoff(attempt) for _ in range(200)]
        assert all(0 <= delay <= ceiling for delay in delays)
        assert max(delays) > ceiling * 0.8


async def test_a_missing_update_is_given_up(flaky: FlakyStore, wall: WallClock, rng: random.Random) -> None:
    channels = Channels({"test:a": Recording()})
    incident = open_incident(flaky, wall(), channels.ids)
    flaky.hide_updates = True
    assert await drain(Notifier(flaky, channels, clock=wall, rng=rng)) == 1
    [(item, state)] = flaky.notifications(incident.id)
    assert state == "failed"
    assert item.last_error == f"update {item.update_id} of incident {incident.id} no longer exists"


async def test_an_outcome_that_cannot_be_recorded_comes_back_after_the_lease(
        flaky: FlakyStore, wall: WallClock, rng: random.Random, caplog: pytest.LogCaptureFixture) -> None:
    """Delivered but not recorded: the lease runs out and it is sent again (receivers dedupe by delivery id)."""
    sender = Recording()
    channels = Channels({"test:a": sender})
    incident = open_incident(flaky, wall(), channels.ids)
    flaky.sent_failures = 1
    notify = Notifier(flaky, channels, clock=wall, rng=rng, lease_seconds=60)
    await notify.start(background=False)
    try:
        assert await notify.drain_once() == 1
        assert "could not record" in caplog.text
        wall.advance(59)
        assert await notify.drain_once() == 0
        wall.advance(2)
        assert await notify.drain_once() == 1
    finally:
        await notify.close()
    assert states(flaky, incident.id) == ["sent"]
    assert [d.id for d in sender.sent] == [sender.sent[0].id] * 2


async def test_the_loop_survives_an_unavailable_store(flaky: FlakyStore, rng: random.Random,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    """Claims failing: said once, not at every poll; sending resumes when the store is back."""
    sender = Recording()
    channels = Channels({"test:a": sender})
    incident = open_incident(flaky, datetime.now().astimezone(), channels.ids)
    flaky.claim_failures = 3
    notify = Notifier(flaky, channels, rng=rng, poll_every=0.01)   # the real wall clock
    with caplog.at_level(logging.INFO, logger="releve.notify"):
        await notify.start()
        try:
            for _ in range(200):
                if sender.sent:
                    break
                await asyncio.sleep(0.01)
        finally:
            await notify.close()
    assert len(sender.sent) == 1
    assert states(flaky, incident.id) == ["sent"]
    messages = [r.getMessage() for r in caplog.records if r.name == "releve.notify"]
    assert sum("unavailable" in m for m in messages) == 1
    assert sum("available again" in m for m in messages) == 1


async def test_close_cuts_a_hanging_delivery_short_after_the_grace(store: Store, wall: WallClock,
                                                                   rng: random.Random) -> None:
    channels = Channels({"test:a": Hanging()})
    incident = open_incident(store, wall(), channels.ids)
    notify = Notifier(store, channels, clock=wall, rng=rng, grace=0.05)
    await notify.start()
    await asyncio.sleep(0.05)
    await asyncio.wait_for(notify.close(), timeout=2)
    [(item, state)] = store.notifications(incident.id)
    assert (state, item.attempts) == ("pending", 1)     # leased; sent again once the lease runs out
