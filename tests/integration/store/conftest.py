"""The store's tests run once on SQLite (a file in tmp_path) and once on PostgreSQL (a fresh database each).

PostgreSQL is the server at 127.0.0.1:5432 (trust auth, user postgres), or `RELEVE_TEST_POSTGRES_ADMIN`'s;
the machine starts it before every session and CI run, so an unreachable server fails the PostgreSQL
variants (they never skip: a skipped test proves nothing).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from releve.store import Store
from support.postgres import postgres_database


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database's URL, on each dialect; the PostgreSQL one is dropped (WITH (FORCE)) after the test."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'releve.db'}"
        return
    with postgres_database() as url:
        yield url


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    """An open store on an empty, migrated database."""
    opened = Store(database_url)
    opened.open()
    yield opened
    opened.close()
