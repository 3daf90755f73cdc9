"""Engines for the two supported dialects, and the migration run that `Store.open()` starts.

SQLite gets its settings on every new connection (WAL so readers never block the writer, a busy
timeout so concurrent writers wait instead of failing, foreign keys, which SQLite leaves off).
Migrations run under a lock (SQLite's write lock, a PostgreSQL advisory lock) so that several
processes starting at once against a fresh database do not race to create the same tables.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from ..errors import StoreError

__all__ = ["display_url", "make_engine", "migrate"]

_MIGRATIONS = Path(__file__).with_name("migrations")
# Any constant works, as long as it is Relève's own: it serialises concurrent migrations on one server.
_PG_MIGRATION_LOCK = 0x52454C45  # "RELE"
_SQLITE_BUSY_TIMEOUT_MS = 5000
# libpq settings that make an unreachable PostgreSQL an error within seconds rather than a hang: a connection
# attempt gives up after 3 s; an idle or waiting connection whose server went silent is declared dead after
# 5 + 2 × 2 = 9 s of keepalives; data sent and never acknowledged, after 9 s (tcp_user_timeout, ms). A
# database URL's own query parameters (?connect_timeout=…) win over these.
_PG_CONNECT_ARGS: dict[str, int] = {"connect_timeout": 3, "keepalives": 1, "keepalives_idle": 5,
                                    "keepalives_interval": 2, "keepalives_count": 2, "tcp_user_timeout": 9000}


def display_url(url: str) -> str:
    """The URL fit for an error message or a log line: no password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparsable database URL>"


def _parse(url: str) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"invalid database URL {display_url(url)}: {exc}") from exc
    if parsed.drivername in ("postgresql", "postgres"):
        # Relève ships psycopg 3; SQLAlchemy's default PostgreSQL driver is psycopg2.
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise StoreError(f"unsupported database URL {display_url(url)}: use sqlite:/// or postgresql://")
    return parsed


def _in_memory(url: URL) -> bool:
    return url.database in (None, "", ":memory:") or url.query.get("mode") == "memory"


def make_engine(url: str) -> Engine:
    """Build the engine (no connection yet)."""
    parsed = _parse(url)
    try:
        if parsed.get_backend_name() == "postgresql":
            # pool_pre_ping: a connection broken while PostgreSQL was away is replaced on its next checkout,
            # so the process recovers by itself once the server is back (no restart).
            connect_args = {name: value for name, value in _PG_CONNECT_ARGS.items() if name not in parsed.query}
            return create_engine(parsed, pool_pre_ping=True, connect_args=connect_args)
        if _in_memory(parsed):
            # One connection for the engine's life: a second one would open a second, empty database.
            engine = create_engine(parsed, poolclass=StaticPool, connect_args={"check_same_thread": False})
        else:
            engine = create_engine(parsed)
    except (ArgumentError, ImportError) as exc:
        raise StoreError(f"cannot use database URL {display_url(url)}: {exc}") from exc
    wal = not _in_memory(parsed)

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {_SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys = ON")
            if wal and cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                _switch_to_wal(cursor)
        finally:
            cursor.close()

    event.listen(engine, "connect", on_connect)
    return engine


def _switch_to_wal(cursor: sqlite3.Cursor) -> None:
    """Once per database file (the mode is stored in it), so only processes racing on a new file get here.

    The switch reads then writes; SQLite answers "locked" at once, without waiting out the busy timeout,
    when another connection is writing meanwhile (waiting could deadlock), so the waiting is done here.
    """
    deadline = time.monotonic() + _SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def migrate(engine: Engine, url: str) -> None:
    """Bring the schema to Alembic's head, in one transaction held under the migration lock."""
    # Alembic is imported here, not at module load: a process that never migrates (workers, most CLI
    # commands after the first start) does not pay its 11 MB.
    from alembic import command
    from alembic.config import Config
    from alembic.util import CommandError

    config = Config()
    # Config values go through configparser interpolation: a "%" in the install path must be doubled.
    config.set_main_option("script_location", str(_MIGRATIONS).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    try:
        with engine.connect() as connection:
            if connection.dialect.name == "sqlite":
                # Takes the write lock now (waiting up to the busy timeout), not at the first CREATE.
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            connection.commit()
    except DBAPIError as exc:
        raise StoreError(f"cannot open the store at {display_url(url)}: {exc.orig}") from exc
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot open the store at {display_url(url)}: {exc}") from exc
    except CommandError as exc:
        # Typically a database migrated by a newer Relève: its revision is unknown here.
        raise StoreError(f"cannot migrate the store at {display_url(url)}: {exc}") from exc
