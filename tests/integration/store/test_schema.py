"""Opening a store: URLs, migrations, errors that name the database without its password."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from releve.errors import StoreError
from releve.store import Component, ComponentKind, ComponentStatus, Impact, IncidentStatus, Store, Text
from releve.store._engine import make_engine
from releve.store._schema import metadata

T0 = datetime(2024, 5, 1, 12, tzinfo=UTC)
TABLES = {"alembic_version", "components", "uptime_days", "incidents", "incident_updates", "outbox"}


def _engine_url(url: str) -> str:
    """The URL as SQLAlchemy sees it, for inspecting the database behind the store's back."""
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def test_open_creates_the_schema_at_head(store: Store, database_url: str) -> None:
    engine = create_engine(_engine_url(database_url))
    try:
        with engine.connect() as connection:
            assert set(inspect(connection).get_table_names()) >= TABLES
            assert MigrationContext.configure(connection).get_current_revision() == "0001"
    finally:
        engine.dispose()


def test_the_migration_builds_what_the_queries_expect(store: Store, database_url: str) -> None:
    """The hand-written migration and the Table objects in _schema.py describe the same tables."""
    engine = create_engine(_engine_url(database_url))
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
    finally:
        engine.dispose()


def test_reopening_is_idempotent_and_keeps_the_data(store: Store, database_url: str) -> None:
    component = Component(id="process:support", kind=ComponentKind.PROCESS, name=Text("Support", "Support"),
                          status=ComponentStatus.OPERATIONAL, updated_at=T0)
    store.sync_components([component])
    store.open()  # a second upgrade on the same engine: nothing to do
    store.close()
    again = Store(database_url)
    again.open()
    try:
        assert [c.id for c in again.components()] == ["process:support"]
    finally:
        again.close()


def test_two_processes_opening_a_fresh_database_at_once_both_succeed(database_url: str) -> None:
    """The migration lock makes the second one wait, then find the schema at head."""
    stores = [Store(database_url) for _ in range(3)]
    barrier = threading.Barrier(len(stores))
    errors: list[BaseException] = []

    def open_it(store: Store) -> None:
        barrier.wait()
        try:
            store.open()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_it, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for store in stores:
        store.close()
    assert errors == []


def test_memory_database_lives_as_long_as_the_store() -> None:
    store = Store("sqlite://")
    store.open()
    try:
        store.sync_components([Component(id="route:a", kind=ComponentKind.ROUTE, name=Text("A", "A"),
                                         status=ComponentStatus.OPERATIONAL, updated_at=T0)])
        assert [c.id for c in store.components()] == ["route:a"]
    finally:
        store.close()


def test_relative_sqlite_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = Store("sqlite:///relative.db")
    store.open()
    store.close()
    assert (tmp_path / "relative.db").exists()


def test_sqlite_file_uses_wal_busy_timeout_and_foreign_keys(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()


def test_postgresql_urls_use_psycopg_3() -> None:
    engine = make_engine("postgresql://someone@db.example/releve")
    assert engine.url.drivername == "postgresql+psycopg"
    engine.dispose()


def test_constructing_does_no_io(tmp_path: Path) -> None:
    Store(f"sqlite:///{tmp_path / 'never.db'}")
    assert not (tmp_path / "never.db").exists()


def test_unreadable_sqlite_path_is_a_store_error(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'missing' / 'dir' / 'x.db'}")
    with pytest.raises(StoreError, match="missing/dir/x.db"):
        store.open()


def test_unreachable_postgresql_names_the_url_but_not_the_password() -> None:
    store = Store("postgresql://releve:s3cret@127.0.0.1:1/releve?connect_timeout=2")
    with pytest.raises(StoreError) as raised:
        store.open()
    message = str(raised.value)
    assert "127.0.0.1:1/releve" in message
    assert "s3cret" not in message


@pytest.mark.parametrize("url", ["mysql://x@y/z", "not a url"])
def test_unsupported_or_invalid_urls(url: str) -> None:
    with pytest.raises(StoreError):
        Store(url)


def test_a_store_must_be_opened_before_use(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'x.db'}")
    with pytest.raises(StoreError, match="not open"):
        store.components()


def test_threads_take_turns_on_a_memory_database() -> None:
    """asyncio.to_thread callers share the one connection: their transactions must not interleave."""
    store = Store("sqlite://")
    store.open()
    try:
        incident = store.open_incident(name=Text("x", "x"), body=Text("x", "x"), impact=Impact.MINOR, components=[],
                                       affected=[], at=T0, automatic=True)

        def write() -> None:
            for _ in range(10):
                store.add_update(incident.id, status=IncidentStatus.MONITORING, body=Text("y", "y"), at=T0)

        threads = [threading.Thread(target=write) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        stored = store.incident(incident.id)
        assert stored is not None and len(stored.updates) == 61
    finally:
        store.close()
