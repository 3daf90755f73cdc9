"""Apprise channels through a real store, delivering to a local receiver with Apprise's json:// scheme."""

from __future__ import annotations

import logging
import random
from datetime import timedelta

import pytest

from integration.notify._support import Receiver, WallClock, closed_port, open_incident
from releve.notify import Channels, Notifier, channel_id
from releve.store import Impact, IncidentStatus, Store, Text


async def drain(store: Store, channels: Channels, wall: WallClock, rng: random.Random) -> int:
    notify = Notifier(store, channels, clock=wall, rng=rng)
    await notify.start(background=False)
    try:
        return await notify.drain_once()
    finally:
        await notify.close()


async def test_delivers_title_and_both_languages(store: Store, receiver: Receiver, wall: WallClock,
                                                 rng: random.Random) -> None:
    """The title in the page's first language; the body in each language, then the link."""
    url = f"json://127.0.0.1:{receiver.port}/apprise"
    channels = Channels.build([url], [], public_url="https://status.example.com/", languages=["fr", "en"])
    incident = open_incident(store, wall(), channels.ids)
    assert await drain(store, channels, wall, rng) == 1

    [request] = receiver.requests
    assert request.path == "/apprise"
    message = request.json()
    assert message["title"] == "[Relève] Incident : Support client — investigating"
    assert message["message"] == ("Nous enquêtons sur des erreurs.\n\nWe are investigating errors.\n\n"
                                  "https://status.example.com/status")
    assert message["type"] == "failure"       # a major outage
    assert [state for _, state in store.notifications(incident.id)] == ["sent"]


async def test_english_first_when_the_page_says_so(store: Store, receiver: Receiver, wall: WallClock,
                                                   rng: random.Random) -> None:
    channels = Channels.build([f"json://127.0.0.1:{receiver.port}/"], [], languages=["en"])
    open_incident(store, wall(), channels.ids)
    assert await drain(store, channels, wall, rng) == 1
    message = receiver.requests[0].json()
    assert message["title"] == "[Relève] Incident: Customer support — investigating"
    assert message["message"] == "We are investigating errors."


@pytest.mark.parametrize("down", ["refused", "500"])
async def test_a_failed_delivery_is_retried(down: str, store: Store, receiver: Receiver, wall: WallClock,
                                            rng: random.Random) -> None:
    """Apprise says False (receiver down or failing): the item is retried, then delivered."""
    if down == "refused":
        url = f"json://127.0.0.1:{closed_port()}/"
    else:
        receiver.script = [500]
        url = f"json://127.0.0.1:{receiver.port}/"
    channels = Channels.build([url], [])
    incident = open_incident(store, wall(), channels.ids)
    assert await drain(store, channels, wall, rng) == 1
    [(item, state)] = store.notifications(incident.id)
    assert (state, item.last_error) == ("pending", "Apprise could not deliver")
    if down == "500":
        wall.advance(2)
        assert await drain(store, channels, wall, rng) == 1
        assert [state for _, state in store.notifications(incident.id)] == ["sent"]
        assert len(receiver.requests) == 2


async def test_an_unrecognised_url_is_given_up(store: Store, wall: WallClock, rng: random.Random,
                                               caplog: pytest.LogCaptureFixture) -> None:
    """A URL Apprise cannot parse will never work: given up at once, logged by kind without the URL."""
    channels = Channels.build(["nosuchservice://hunter2@example.com"], [])
    incident = open_incident(store, wall(), channels.ids)
    with caplog.at_level(logging.WARNING, logger="releve.notify"):
        assert await drain(store, channels, wall, rng) == 1
    [(item, state)] = store.notifications(incident.id)
    assert (state, item.last_error) == ("failed", "Apprise does not recognise this URL")
    [record] = [r for r in caplog.records if r.name == "releve.notify"]
    assert "apprise" in record.getMessage() and "hunter2" not in record.getMessage()


@pytest.mark.parametrize(("impact", "kind"), [(Impact.MINOR, "warning"), (Impact.CRITICAL, "failure")])
async def test_the_message_type_follows_the_impact(impact: Impact, kind: str, store: Store, receiver: Receiver,
                                                   wall: WallClock, rng: random.Random) -> None:
    channels = Channels.build([f"json://127.0.0.1:{receiver.port}/"], [])
    open_incident(store, wall(), channels.ids, impact=impact)
    await drain(store, channels, wall, rng)
    assert receiver.requests[0].json()["type"] == kind


async def test_resolve_is_good_news(store: Store, receiver: Receiver, wall: WallClock, rng: random.Random) -> None:
    channels = Channels.build([f"json://127.0.0.1:{receiver.port}/"], [])
    incident = open_incident(store, wall(), channels.ids)
    store.add_update(incident.id, status=IncidentStatus.RESOLVED, body=Text(fr="Résolu.", en="Resolved."), at=wall(),
                     channels=channels.ids)
    assert await drain(store, channels, wall, rng) == 2
    resolve = receiver.requests[1].json()
    assert resolve["title"] == "[Relève] Incident résolu : Support client — resolved"
    assert resolve["message"] == "Résolu.\n\nResolved."
    assert resolve["type"] == "success"


async def test_maintenance_says_so_once_when_both_languages_agree(store: Store, receiver: Receiver,
                                                                  wall: WallClock, rng: random.Random) -> None:
    channels = Channels.build([f"json://127.0.0.1:{receiver.port}/"], [])
    starts = wall() + timedelta(days=1)
    store.schedule_maintenance(name=Text(fr="Migration", en="Migration"), body=Text(fr="Mardi 22:00", en="Mardi 22:00"),
                               components=[], starts=starts, ends=starts + timedelta(hours=1), at=wall(),
                               channels=channels.ids)
    assert await drain(store, channels, wall, rng) == 1
    message = receiver.requests[0].json()
    assert message["title"] == "[Relève] Maintenance : Migration — scheduled"
    assert message["message"] == "Mardi 22:00"
    assert message["type"] == "info"


def test_unrecognised_urls_are_listed_for_the_checker() -> None:
    """`releve check` can warn before an incident ever needs the channel."""
    channels = Channels.build(["nosuchservice://x", "json://localhost/"], [])
    assert channels.unrecognised == (channel_id("apprise", "nosuchservice://x"),)
