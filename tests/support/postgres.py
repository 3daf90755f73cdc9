"""A fresh PostgreSQL database per test, on the machine's server (started before every session and CI run).

`RELEVE_TEST_POSTGRES_ADMIN` overrides the admin URL. An unreachable server fails the test: a skipped
PostgreSQL test proves nothing.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator

import psycopg
from psycopg import sql

__all__ = ["ADMIN_URL", "admin_connection", "postgres_database"]

ADMIN_URL = os.environ.get("RELEVE_TEST_POSTGRES_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")


def admin_connection() -> psycopg.Connection[tuple[object, ...]]:
    try:
        return psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        raise AssertionError(f"PostgreSQL not reachable at {ADMIN_URL}: {exc}") from None


@contextlib.contextmanager
def postgres_database(prefix: str = "releve_test") -> Iterator[str]:
    """A new, empty database's URL; dropped WITH (FORCE) afterwards, even if processes still hold connections."""
    name = f"{prefix}_{secrets.token_hex(6)}"
    with admin_connection() as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield f"{ADMIN_URL.rpartition('/')[0]}/{name}"
    finally:
        with admin_connection() as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
