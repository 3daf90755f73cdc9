"""Fixtures for the status page tests: a real store (SQLite in tmp_path), seeded the way an outage leaves it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from releve.store import Store
from unit.status._support import Seeded, seed


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(f"sqlite:///{tmp_path}/r.db")
    opened.open()
    yield opened
    opened.close()


@pytest.fixture
def seeded(store: Store) -> Seeded:
    return seed(store)
