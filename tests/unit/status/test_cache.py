"""`ViewCache`: one refresh at a time, shared by everyone waiting, kept for its TTL, not kept when it fails."""

from __future__ import annotations

import asyncio

import pytest

from releve.status._view import View, ViewCache
from unit.status._support import make_view


class Loader:
    def __init__(self) -> None:
        self.calls = 0
        self.release = asyncio.Event()
        self.fail = False

    async def __call__(self) -> View:
        self.calls += 1
        await self.release.wait()
        if self.fail:
            raise RuntimeError("store down")
        return make_view()


async def test_concurrent_requests_share_one_refresh() -> None:
    loader = Loader()
    now = [0.0]
    cache = ViewCache(loader, ttl=2.0, clock=lambda: now[0])
    waiting = [asyncio.create_task(cache.get()) for _ in range(20)]
    await asyncio.sleep(0)
    loader.release.set()
    views = await asyncio.gather(*waiting)
    assert loader.calls == 1 and all(v is views[0] for v in views)
    now[0] = 1.9
    assert await cache.get() is views[0] and loader.calls == 1
    now[0] = 2.0
    assert await cache.get() is not views[0] and loader.calls == 2


async def test_a_failed_refresh_reaches_every_waiter_and_is_not_kept() -> None:
    loader = Loader()
    loader.fail = True
    loader.release.set()
    cache = ViewCache(loader, ttl=2.0, clock=lambda: 0.0)
    results = await asyncio.gather(cache.get(), cache.get(), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results) and loader.calls == 1
    loader.fail = False
    assert isinstance(await cache.get(), View) and loader.calls == 2


async def test_a_waiter_that_gives_up_does_not_cancel_the_refresh() -> None:
    loader = Loader()
    cache = ViewCache(loader, ttl=2.0, clock=lambda: 0.0)
    impatient = asyncio.create_task(cache.get())
    patient = asyncio.create_task(cache.get())
    await asyncio.sleep(0)
    impatient.cancel()
    with pytest.raises(asyncio.CancelledError):
        await impatient
    loader.release.set()
    assert isinstance(await patient, View) and loader.calls == 1
