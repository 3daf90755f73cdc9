"""Opening a store: URLs, migrations, errors that name the database without its password."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

import releve.store
from releve.errors import StoreError
from releve.store import (
    Component,
    ComponentKind,
    ComponentStatus,
    Impact,
    IncidentStatus,
    StatusChange,
    Store,
    Text,
    TrafficMinute,
)
from releve.store._engine import make_engine
from releve.store._schema import components, files, incidents, metadata, traffic_minutes, uptime_days

T0 = datetime(2024, 5, 1, 12, tzinfo=UTC)
HEAD = "0007"
TABLES = {"alembic_version", "components", "uptime_days", "incidents", "incident_updates", "outbox",
          "traffic_minutes", "status_changes", "jobs", "idempotency", "files", "batches", "batch_lines",
          "audit_log", "audit_head", "leases"}
MIGRATIONS = Path(releve.store.__file__).with_name("migrations")


def _engine_url(url: str) -> str:
    """The URL as SQLAlchemy sees it, for inspecting the database behind the store's back."""
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def test_open_creates_the_schema_at_head(store: Store, database_url: str) -> None:
    engine = create_engine(_engine_url(database_url))
    try:
        with engine.connect() as connection:
            assert set(inspect(connection).get_table_names()) >= TABLES
            assert MigrationContext.configure(connection).get_current_revision() == HEAD
    finally:
        engine.dispose()


def test_traffic_minutes_count_every_outcome(store: Store, database_url: str) -> None:
    engine = create_engine(_engine_url(database_url))
    try:
        with engine.connect() as connection:
            columns = {column["name"]: column for column in inspect(connection).get_columns("traffic_minutes")}
    finally:
        engine.dispose()
    assert set(columns) == {"route", "minute", "served", "fallback", "degraded", "deferred", "failed"}
    assert not columns["deferred"]["nullable"]
    assert str(columns["deferred"]["default"]).strip("'()") == "0"


def test_content_tables_name_their_data_subject(store: Store, database_url: str) -> None:
    """Revision 0006: every table holding request or answer content can be searched by data subject."""
    engine = create_engine(_engine_url(database_url))
    try:
        with engine.connect() as connection:
            inspector = inspect(connection)
            for table in ("jobs", "idempotency", "files", "batches"):
                columns = {column["name"]: column for column in inspector.get_columns(table)}
                assert columns["subject"]["nullable"], table
                assert getattr(columns["subject"]["type"], "length", None) == 255, table
                indexes = {index["name"]: index["column_names"] for index in inspector.get_indexes(table)}
                assert indexes[f"ix_{table}_subject"] == ["subject"], table
            # A batch's lines belong to their batch's subject.
            assert "subject" not in {column["name"] for column in inspector.get_columns("batch_lines")}
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


def _migrate_to(url: str, revision: str) -> None:
    """What Store.open() does, stopping at `revision`: a database as an older Relève left it."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
            connection.commit()
    finally:
        engine.dispose()


def test_a_database_at_0001_upgrades_to_head_keeping_its_data(database_url: str) -> None:
    _migrate_to(database_url, "0001")
    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            assert MigrationContext.configure(connection).get_current_revision() == "0001"
            assert "status_changes" not in inspect(connection).get_table_names()
            connection.execute(components.insert(), [
                {"id": f"route:{name}", "kind": "route", "name_fr": name, "name_en": name, "description_fr": None,
                 "description_en": None, "status": status, "position": position, "public": True,
                 "updated_at": T0 + timedelta(minutes=position), "active": True}
                for position, (name, status) in enumerate([("a", "major_outage"), ("b", "operational")])])
            connection.execute(uptime_days.insert().values(component_id="route:a", day=date(2024, 5, 1),
                                                           status="major_outage", seconds=60.0))
            connection.execute(incidents.insert().values(
                id="abcdefghijkl", name_fr="Panne", name_en="Outage", status="investigating", impact="major",
                automatic=True, components=["route:a"], created_at=T0, updated_at=T0))
    finally:
        engine.dispose()

    store = Store(database_url)
    store.open()
    try:
        assert [(c.id, c.status, c.updated_at) for c in store.components()] == [
            ("route:a", ComponentStatus.MAJOR_OUTAGE, T0),
            ("route:b", ComponentStatus.OPERATIONAL, T0 + timedelta(minutes=1))]
        assert store.uptime(["route:a"], since=date(2024, 5, 1))["route:a"][0].seconds == {
            ComponentStatus.MAJOR_OUTAGE: 60.0}
        incident = store.incident("abcdefghijkl")
        assert incident is not None and incident.components == ("route:a",)
        # Components that existed start their history with the status they were in, since when they were in it.
        assert store.status_history(["route:a", "route:b"], T0 + timedelta(hours=1), T0 + timedelta(hours=2)) == {
            "route:a": [StatusChange("route:a", T0, ComponentStatus.MAJOR_OUTAGE)],
            "route:b": [StatusChange("route:b", T0 + timedelta(minutes=1), ComponentStatus.OPERATIONAL)]}
        store.set_component_status("route:a", ComponentStatus.OPERATIONAL, T0 + timedelta(minutes=5))
        assert [c.status for c in store.status_history(["route:a"], T0, T0 + timedelta(hours=1))["route:a"]] == [
            ComponentStatus.MAJOR_OUTAGE, ComponentStatus.OPERATIONAL]
        store.add_traffic([TrafficMinute("chat", T0, served=1)])
        assert store.traffic(["chat"], T0, T0 + timedelta(minutes=1)) == [TrafficMinute("chat", T0, served=1)]
    finally:
        store.close()
    engine = create_engine(_engine_url(database_url))
    try:
        with engine.connect() as connection:
            assert MigrationContext.configure(connection).get_current_revision() == HEAD
    finally:
        engine.dispose()


def test_a_database_at_0003_upgrades_to_head_keeping_its_traffic(database_url: str) -> None:
    _migrate_to(database_url, "0003")
    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            assert "deferred" not in {c["name"] for c in inspect(connection).get_columns("traffic_minutes")}
            # Only the columns 0003 has: an INSERT names the values it is given.
            connection.execute(traffic_minutes.insert().values(route="chat", minute=T0, served=5, fallback=4,
                                                               degraded=3, failed=2))
    finally:
        engine.dispose()

    store = Store(database_url)
    store.open()
    try:
        # Rows written before 0004 count no deferred request; new ones add to the same row.
        assert store.traffic(["chat"], T0, T0 + timedelta(minutes=1)) == [
            TrafficMinute("chat", T0, served=5, fallback=4, degraded=3, failed=2)]
        store.add_traffic([TrafficMinute("chat", T0, deferred=6)])
        assert store.traffic(["chat"], T0, T0 + timedelta(minutes=1)) == [
            TrafficMinute("chat", T0, served=5, fallback=4, degraded=3, failed=2, deferred=6)]
    finally:
        store.close()


def test_a_database_at_0005_upgrades_to_head_with_untagged_work(database_url: str) -> None:
    _migrate_to(database_url, "0005")
    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            assert "subject" not in {c["name"] for c in inspect(connection).get_columns("jobs")}
            # Only the columns 0005 has: an INSERT names the values it is given.
            connection.execute(files.insert().values(id="file-old", purpose="batch", filename="in.jsonl", bytes=2,
                                                     created_at=T0, content=b"ab"))
    finally:
        engine.dispose()

    store = Store(database_url)
    store.open()
    try:
        # Rows written before 0006 belong to no subject; new ones may.
        assert store.file_content("file-old") == b"ab"
        store.create_file(purpose="batch", filename="x", content=b"x", at=T0, subject="cust-42")
        assert [f["filename"] for f in store.subject_data("cust-42")["files"]] == ["x"]
    finally:
        store.close()


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
