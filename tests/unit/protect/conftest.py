"""Fixtures shared by the audit-log tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from releve.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """An empty SQLite store of the test's own."""
    opened = Store(f"sqlite:///{tmp_path / 'releve.db'}")
    opened.open()
    yield opened
    opened.close()
