"""Webhooks through a real store and a real HTTP receiver: signed, retried, given up, never duplicated."""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import timedelta

import pytest

from integration.notify._support import COMPONENT, SECRET, Receiver, WallClock, closed_port, open_incident
from releve.config import WebhookConfig
from releve.notify import Channels, Notifier, channel_id, verify_signature
from releve.notify._webhook import WebhookSender
from releve.store import ComponentStatus, IncidentStatus, Store, Text


def webhooks(*urls: str, public_url: str = "https://status.example.com") -> Channels:
    return Channels.build([], [WebhookConfig(url=url, secret=SECRET) for url in urls], public_url=public_url)


def notifier(store: Store, channels: Channels, wall: WallClock, rng: random.Random, **options: int) -> Notifier:
    return Notifier(store, channels, clock=wall, rng=rng, **options)


def states(store: Store, incident_id: str) -> list[str]:
    return [state for _, state in store.notifications(incident_id)]


async def test_open_is_delivered_once_signed(store: Store, receiver: Receiver, wall: WallClock,
                                             rng: random.Random) -> None:
    """One POST per channel and event, signed, with the incident as the status page tells it."""
    channels = webhooks(receiver.url())
    incident = open_incident(store, wall(), channels.ids)
    notify = notifier(store, channels, wall, rng)
    await notify.start(background=False)
    try:
        assert await notify.drain_once() == 1
        assert await notify.drain_once() == 0
    finally:
        await notify.close()

    [request] = receiver.requests
    assert request.path == "/hook"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"] == "Releve-Webhook/1"
    assert request.headers["X-Releve-Event"] == "incident.open"
    [(item, state)] = store.notifications(incident.id)
    assert (state, item.channel) == ("sent", channels.ids[0])
    assert request.headers["X-Releve-Delivery"] == str(item.id)
    signature = request.headers["X-Releve-Signature"]
    assert signature.startswith(f"t={int(wall().timestamp())},v1=")
    assert verify_signature(SECRET, signature, request.body, now=wall())
    assert not verify_signature(SECRET, signature, request.body, now=wall() + timedelta(minutes=6))

    payload = request.json()
    assert payload["event"] == "incident.open"
    assert payload["incident"] == {
        "id": incident.id,
        "name": {"fr": "Support client", "en": "Customer support"},
        "status": "investigating",
        "impact": "major",
        "components": [COMPONENT],
        "created_at": "2025-03-14T09:00:00.000Z",
        "started_at": "2025-03-14T08:59:15.000Z",
        "resolved_at": None,
        "scheduled_for": None,
        "scheduled_until": None,
        "detection_seconds": 45.0,
        "recovery_seconds": None,
        "url": "https://status.example.com/status",
    }
    assert payload["update"] == {
        "id": incident.updates[0].id,
        "status": "investigating",
        "body": {"fr": "Nous enquêtons sur des erreurs.", "en": "We are investigating errors."},
        "created_at": "2025-03-14T09:00:00.000Z",
    }


async def test_resolve_is_delivered_once_after_open(store: Store, receiver: Receiver, wall: WallClock,
                                                    rng: random.Random) -> None:
    """Open, then resolve: two deliveries in that order, the second carrying the recovery figures."""
    channels = webhooks(receiver.url(), public_url="")
    incident = open_incident(store, wall(), channels.ids)
    notify = notifier(store, channels, wall, rng)
    await notify.start(background=False)
    try:
        assert await notify.drain_once() == 1
        wall.advance(600)
        store.add_update(incident.id, status=IncidentStatus.RESOLVED, at=wall(), recovered_at=wall() - timedelta(
            seconds=300), body=Text(fr="Résolu.", en="Resolved."), affected=[(COMPONENT, ComponentStatus.OPERATIONAL)],
            channels=channels.ids)
        assert await notify.drain_once() == 1
        assert await notify.drain_once() == 0
    finally:
        await notify.close()

    assert [r.headers["X-Releve-Event"] for r in receiver.requests] == ["incident.open", "incident.resolve"]
    resolve = receiver.requests[1].json()
    assert resolve["event"] == "incident.resolve"
    assert resolve["incident"]["status"] == "resolved"
    assert resolve["incident"]["resolved_at"] == "2025-03-14T09:10:00.000Z"
    assert resolve["incident"]["recovery_seconds"] == 345.0
    assert resolve["incident"]["url"] is None
    assert resolve["update"]["status"] == "resolved"
    assert resolve["update"]["body"] == {"fr": "Résolu.", "en": "Resolved."}
    assert states(store, incident.id) == ["sent", "sent"]


async def test_server_errors_are_retried_with_backoff(store: Store, receiver: Receiver, wall: WallClock,
                                                      rng: random.Random) -> None:
    """500, 500, then 200: retried after 2 s then 4 s (the jitter's ceiling here), same delivery id each time."""
    receiver.script = [500, 500]
    channels = webhooks(receiver.url())
    incident = open_incident(store, wall(), channels.ids)
    notify = notifier(store, channels, wall, rng)
    await notify.start(background=False)
    try:
        assert await notify.drain_once() == 1
        assert await notify.drain_once() == 0          # not due yet
        [(item, state)] = store.notifications(incident.id)
        assert (state, item.attempts, item.last_error) == ("pending", 1, "HTTP 500")
        assert item.next_attempt_at == wall() + timedelta(seconds=2)
        wall.advance(2)
        assert await notify.drain_once() == 1
        wall.advance(3.9)
        assert await notify.drain_once() == 0
        wall.advance(0.1)
        assert await notify.drain_once() == 1
    finally:
        await notify.close()

    assert len(receiver.requests) == 3
    assert len({r.headers["X-Releve-Delivery"] for r in receiver.requests}) == 1
    [(item, state)] = store.notifications(incident.id)
    assert (state, item.attempts) == ("sent", 3)


@pytest.mark.parametrize("status", [408, 429, 502, 503])
async def test_transient_statuses_are_retried(status: int, store: Store, receiver: Receiver, wall: WallClock,
                                              rng: random.Random) -> None:
    receiver.script = [status]
    channels = webhooks(receiver.url())
    incident = open_incident(store, wall(), channels.ids)
    notify = notifier(store, channels, wall, rng)
    await notify.start(background=False)
    try:
        await notify.drain_once()
        assert states(store, incident.id) == ["pending"]
        wall.advance(2)
        await notify.drain_once()
    finally:
        await notify.close()
    assert states(store, incident.id) == ["sent"]


async def test_retry_after_is_honoured(store: Store, receiver: Receiver, wall: WallClock,
                                       rng: random.Random) -> None:
    """A 429 asking for 30 s waits 30 s, longer than the first backoff."""
    receiver.script = [429]
    receiver.headers = {"Retry-After": "30"}
    channels = webhooks(receiver.url())
    incident = open_incident(store, wall(), channels.ids)
    notify = notifier(store, channels, wall, rng)
    await notify.start(background=False)
    try:
        await notify.drain_once()
        wall.advance(29)
        assert await notify.drain_once() == 0
        wall.advance(1)
        assert await notify.drain_once() == 1
    finally:
        await notify.close()
    assert states(store, incident.id) == ["sent"]


@pytest.mark.parametrize("status", [400, 401, 404, 410, 301])
async def test_client_errors_give_up_at_once(status: int, store: Store, receiver: Receiver, wall: WallClock,
                                             rng: random.Random, caplog: pytest.LogCaptureFixture) -> None:
    """The receiver refuses the request itself (or moved): asking again cannot help. Logged without the URL."""
    receiver.script = [status]
    channels = webhooks(receiver.url("/hook?token=hunter2"))
    incident = open_incident(store, wall(), channels.ids)
    notify = notifier(store, channels, wall, rng)
    await notify.start(background=False)
    try:
        with caplog.at_level(logging.WARNING, logger="releve.notify"):
            assert await notify.drain_once() == 1
        wall.advance(3600)
        assert await notify.drain_once() == 0
    finally:
        await notify.close()
    assert len(receiver.requests) == 1
    [(item, state)] = store.notifications(incident.id)
    assert state == "failed"
    assert item.last_error is not None and item.last_error.startswith(f"HTTP {status}")
    [record] = [r for r in caplog.records if r.name == "releve.notify"]
    assert record.levelno == logging.WARNING
    message = record.getMessage()
    assert "webhook" in message and "given up" in message and f"HTTP {status}" in message
    assert "hunter2" not in message and "127.0.0.1" not in message and SECRET not in message


async def test_gives_up_after_max_attempts(store: Store, receiver: Receiver, wall: WallClock,
                                           rng: random.Random, caplog: pytest.LogCaptureFixture) -> None:
    receiver.script = [503] * 10
    channels = webhooks(receiver.url())
    incident = open_incident(store, wall(), channels.ids)
    notify = notifier(store, channels, wall, rng, max_attempts=3)
    await notify.start(background=False)
    try:
        for _ in range(3):
            assert await notify.drain_once() == 1
            wall.advance(600)
        assert await notify.drain_once() == 0
    finally:
        await notify.close()
    assert len(receiver.requests) == 3
    [(item, state)] = store.notifications(incident.id)
    assert (state, item.attempts, item.last_error) == ("failed", 3, "HTTP 503")
    assert any("after 3 attempts" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


async def test_unreachable_receiver_is_retried(store: Store, wall: WallClock, rng: random.Random) -> None:
    """Connection refused is a network error: retried; the error names the failure, not the URL."""
    url = f"http://127.0.0.1:{closed_port()}/hook?token=hunter2"
    channels = webhooks(url)
    incident = open_incident(store, wall(), channels.ids)
    notify = notifier(store, channels, wall, rng)
    await notify.start(background=False)
    try:
        assert await notify.drain_once() == 1
    finally:
        await notify.close()
    [(item, state)] = store.notifications(incident.id)
    assert state == "pending"
    assert item.last_error is not None and item.last_error.startswith("network error")
    assert "hunter2" not in item.last_error and "127.0.0.1" not in item.last_error


async def test_unknown_channel_is_given_up(store: Store, wall: WallClock, rng: random.Random,
                                           caplog: pytest.LogCaptureFixture) -> None:
    """An item for a channel removed from the config is given up, saying so, instead of lingering."""
    gone = channel_id("webhook", "https://old.example.com/hook")
    incident = open_incident(store, wall(), [gone])
    notify = notifier(store, Channels.build([], []), wall, rng)
    await notify.start(background=False)
    try:
        assert await notify.drain_once() == 1
    finally:
        await notify.close()
    [(item, state)] = store.notifications(incident.id)
    assert state == "failed"
    assert item.last_error == f"channel {gone} is no longer configured"
    assert any("no longer configured" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


async def test_a_failing_channel_does_not_hold_back_the_others(store: Store, wall: WallClock,
                                                               rng: random.Random) -> None:
    """Two receivers, one broken: the good one gets its message in the same pass."""
    good, bad = Receiver(), Receiver()
    await good.start()
    await bad.start()
    bad.script = [500]
    try:
        channels = webhooks(bad.url(), good.url())
        incident = open_incident(store, wall(), channels.ids)
        notify = notifier(store, channels, wall, rng)
        await notify.start(background=False)
        try:
            assert await notify.drain_once() == 2
        finally:
            await notify.close()
    finally:
        await good.close()
        await bad.close()
    assert len(good.requests) == len(bad.requests) == 1
    by_channel = {item.channel: state for item, state in store.notifications(incident.id)}
    assert by_channel == {channels.ids[0]: "pending", channels.ids[1]: "sent"}


async def test_wake_sends_without_waiting_for_the_poll(store: Store, receiver: Receiver, wall: WallClock,
                                                       rng: random.Random) -> None:
    """The background loop polls rarely here; wake() makes it send at once."""
    channels = webhooks(receiver.url())
    notify = Notifier(store, channels, clock=wall, rng=rng, poll_every=3600)
    await notify.start()
    try:
        await asyncio.sleep(0.01)             # the first pass finds nothing
        incident = open_incident(store, wall(), channels.ids)
        notify.wake()
        await asyncio.wait_for(receiver.arrived.wait(), timeout=5)
    finally:
        await notify.close()
    assert len(receiver.requests) == 1
    assert states(store, incident.id) == ["sent"]


async def test_drain_before_start_is_an_error(store: Store, wall: WallClock) -> None:
    with pytest.raises(RuntimeError, match="start"):
        await Notifier(store, Channels.build([], []), clock=wall).drain_once()


@pytest.mark.parametrize("value", ["soon", "-5", "Fri, 14 Mar 2025 09:05:00 GMT"])
async def test_unreadable_retry_after_falls_back_to_the_backoff(value: str, store: Store, receiver: Receiver,
                                                                wall: WallClock, rng: random.Random) -> None:
    receiver.script = [503]
    receiver.headers = {"Retry-After": value}
    channels = webhooks(receiver.url())
    incident = open_incident(store, wall(), channels.ids)
    notify = notifier(store, channels, wall, rng)
    await notify.start(background=False)
    try:
        await notify.drain_once()
    finally:
        await notify.close()
    [(item, _)] = store.notifications(incident.id)
    assert item.next_attempt_at == wall() + timedelta(seconds=2)


async def test_a_receiver_too_slow_to_answer_is_retried(store: Store, receiver: Receiver, wall: WallClock,
                                                        rng: random.Random) -> None:
    receiver.delay = 0.15
    channel = channel_id("webhook", receiver.url())
    channels = Channels({channel: WebhookSender(receiver.url(), SECRET, timeout=0.05)})
    incident = open_incident(store, wall(), channels.ids)
    notify = notifier(store, channels, wall, rng)
    await notify.start(background=False)
    try:
        await notify.drain_once()
    finally:
        await notify.close()
    [(item, state)] = store.notifications(incident.id)
    assert (state, item.last_error) == ("pending", "no answer within 0.05 s")


async def test_an_unusable_url_is_given_up(store: Store, wall: WallClock, rng: random.Random) -> None:
    channels = Channels({"webhook:x": WebhookSender("http://", SECRET)})
    incident = open_incident(store, wall(), channels.ids)
    notify = notifier(store, channels, wall, rng)
    await notify.start(background=False)
    try:
        await notify.drain_once()
    finally:
        await notify.close()
    [(item, state)] = store.notifications(incident.id)
    assert (state, item.last_error) == ("failed", "invalid URL")
