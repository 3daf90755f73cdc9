"""The monitor's unit tests run on a real SQLite store, whose methods an `Outage` can make fail."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from releve.store import Store
from unit.monitor._support import Outage


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(f"sqlite:///{tmp_path / 'releve.db'}")
    opened.open()
    yield opened
    opened.close()


@pytest.fixture
def reader(store: Store, tmp_path: Path) -> Iterator[Store]:
    """The same database through another `Store`: what other processes see, whatever `outage` does to `store`."""
    opened = Store(f"sqlite:///{tmp_path / 'releve.db'}")
    opened.open()
    yield opened
    opened.close()


@pytest.fixture
def outage(store: Store, monkeypatch: pytest.MonkeyPatch) -> Outage:
    return Outage(store, monkeypatch)
