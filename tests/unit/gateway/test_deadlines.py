"""The shared deadline wheel: attempts time out, others are untouched, outside cancels win."""

from __future__ import annotations

import asyncio
import time

import pytest

from releve.gateway._deadlines import DeadlineWheel


async def wait_with_deadline(wheel: DeadlineWheel, timeout: float, work: float) -> str:
    armed = wheel.arm(timeout)
    try:
        await asyncio.sleep(work)
    except asyncio.CancelledError:
        if armed.expired():
            return "timed out"
        raise
    finally:
        wheel.disarm(armed)
    return "done"


async def test_expires_within_one_tick() -> None:
    """Work longer than its deadline is stopped about when the deadline passes."""
    wheel = DeadlineWheel()
    started = time.perf_counter()
    assert await wait_with_deadline(wheel, 0.05, 10) == "timed out"
    assert 0.045 <= time.perf_counter() - started < 0.1


async def test_work_within_the_deadline_completes_and_disarms() -> None:
    """Work that finishes in time is left alone and leaves nothing armed."""
    wheel = DeadlineWheel()
    assert await wait_with_deadline(wheel, 1.0, 0.01) == "done"
    assert wheel.armed == 0


async def test_many_deadlines_fire_independently() -> None:
    """Of a hundred concurrent attempts, exactly the slow ones time out."""
    wheel = DeadlineWheel()
    results = await asyncio.gather(*(wait_with_deadline(wheel, 0.05, 0.2 if i % 2 else 0.0) for i in range(100)))
    assert results.count("timed out") == 50 and results.count("done") == 50
    assert wheel.armed == 0


async def test_an_outside_cancel_is_not_mistaken_for_a_timeout() -> None:
    """A task cancelled by someone else (a client leaving) stays cancelled."""
    wheel = DeadlineWheel()
    task = asyncio.create_task(wait_with_deadline(wheel, 5.0, 10))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert wheel.armed == 0


async def test_outside_cancel_together_with_expiry_stays_a_cancel() -> None:
    """When the deadline fires in the same instant as a cancel from outside, the cancel wins."""
    wheel = DeadlineWheel()
    outcome: list[str] = []
    armed_box = []

    async def attempt() -> None:
        armed = wheel.arm(10.0)
        armed_box.append(armed)
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            outcome.append("timeout" if armed.expired() else "cancelled")
            raise
        finally:
            wheel.disarm(armed)

    task = asyncio.create_task(attempt())
    await asyncio.sleep(0)
    task.cancel()                  # the client left...
    armed_box[0].fired = True      # ...and in the same instant the wheel expires the attempt,
    task.cancel()                  # exactly as its sweep does
    with pytest.raises(asyncio.CancelledError):
        await task
    assert outcome == ["cancelled"]


async def test_idle_wheel_keeps_no_timer() -> None:
    """With nothing armed the wheel schedules nothing, so an idle gateway sleeps."""
    wheel = DeadlineWheel()
    assert await wait_with_deadline(wheel, 0.02, 0.0) == "done"
    await asyncio.sleep(0.05)
    assert wheel._timer is None


async def test_a_renewed_deadline_does_not_fire_while_activity_continues() -> None:
    """Renewing on each chunk keeps an idle timeout from firing as long as chunks keep coming."""
    wheel = DeadlineWheel()
    armed = wheel.arm(0.05)
    for _ in range(10):  # 10 × 20 ms = 200 ms of activity, four times the timeout
        await asyncio.sleep(0.02)
        armed.renew()
    assert not armed.fired
    wheel.disarm(armed)


async def test_a_paused_deadline_does_not_fire() -> None:
    """While paused (the relay is writing to the client) the idle timeout does not count."""
    wheel = DeadlineWheel()
    armed = wheel.arm(0.03)
    armed.pause()
    await asyncio.sleep(0.12)
    assert not armed.fired
    wheel.disarm(armed)


async def test_a_deadline_renewed_then_left_idle_fires() -> None:
    """Once activity stops, the renewed deadline fires one timeout after the last renewal."""
    wheel = DeadlineWheel()
    armed = wheel.arm(0.03)
    await asyncio.sleep(0.02)
    armed.renew()
    renewed = time.perf_counter()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.sleep(1)
    assert armed.fired and armed.expired()
    assert 0.025 <= time.perf_counter() - renewed < 0.08
    wheel.disarm(armed)
