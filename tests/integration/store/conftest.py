"""The store's tests run once on SQLite (a file in tmp_path) and once on PostgreSQL (a fresh database each).

PostgreSQL is the server at 127.0.0.1:5432 (trust auth, user postgres), or `RELEVE_TEST_POSTGRES_ADMIN`'s;
the machine starts it before every session and CI run, so an unreachable server fails the PostgreSQL
variants (they never skip: a skipped test proves nothing).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from releve.store import Store

ADMIN_URL = os.environ.get("RELEVE_TEST_POSTGRES_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")


def _admin() -> psycopg.Connection[tuple[object, ...]]:
    try:
        return psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL not reachable at {ADMIN_URL}: {exc}")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database's URL, on each dialect; the PostgreSQL one is dropped (WITH (FORCE)) after the test."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'releve.db'}"
        return
    name = f"releve_test_{secrets.token_hex(6)}"
    with _admin() as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield f"{ADMIN_URL.rpartition('/')[0]}/{name}"
    finally:
        with _admin() as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    """An open store on an empty, migrated database."""
    opened = Store(database_url)
    opened.open()
    yield opened
    opened.close()
