"""Fixtures for notification tests: a real store in tmp_path, a real receiver, a wall clock that tests move."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from integration.notify._support import MaxJitter, Receiver, WallClock
from releve.store import Store


@pytest.fixture
def wall() -> WallClock:
    return WallClock()


@pytest.fixture
def rng() -> random.Random:
    return MaxJitter()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store(f"sqlite:///{tmp_path}/r.db")
    store.open()
    yield store
    store.close()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    await receiver.start()
    yield receiver
    await receiver.close()
