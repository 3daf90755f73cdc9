"""The PostgreSQL path: `pg_dump --snapshot` of an exported snapshot (so the manifest's counts describe the dump),
restored by the drill into a scratch database that is dropped after; `releve restore` writes the verified archive
for pg_restore by hand. Skipped only when pg_dump is not installed."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from releve.config import Config, config_from_mapping
from releve.recovery import RestoreError, create_backup, restore_backup, restore_drill
from releve.store import Impact, Store, Text
from support.postgres import ADMIN_URL, postgres_database

T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)

# `make test` installs PostgreSQL's client tools (postgresql-client): their absence is a broken install.
assert shutil.which("pg_dump") and shutil.which("pg_restore"), "pg_dump/pg_restore missing: run make test"


def now() -> datetime:
    return datetime.now(UTC)


def _drill_databases() -> set[str]:
    with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=3) as admin:
        return {row[0] for row in admin.execute("SELECT datname FROM pg_database WHERE datname LIKE 'releve_drill_%'")}


@pytest.fixture
def url() -> Iterator[str]:
    """A fresh database holding a migrated store with three incidents; dropped after the test."""
    with postgres_database() as database:
        store = Store(database)
        store.open()
        try:
            for n in range(3):
                store.open_incident(name=Text(f"Panne {n}", f"Outage {n}"), body=Text("Enquête", "Investigating"),
                                    impact=Impact.MINOR, components=[], affected=[], at=T0 + timedelta(minutes=n),
                                    automatic=False)
        finally:
            store.close()
        yield database


@pytest.fixture
def cfg(url: str) -> Config:
    return config_from_mapping({
        "auth": "none", "storage": {"url": url},
        "providers": {"a": {"kind": "openai-compatible", "base_url": "http://127.0.0.1:1/v1"}},
        "routes": {"chat": {"targets": [{"provider": "a", "model": "m"}]}},
        "processes": {"support": {"routes": ["chat"], "rto": "15m", "rpo": "1h"}}})


def test_a_postgresql_backup_is_drilled_in_a_scratch_database_and_restored_as_an_archive(
        tmp_path: Path, cfg: Config) -> None:
    backups = tmp_path / "backups"
    manifest = create_backup(cfg, backups, environ={}, wall=now)
    assert manifest.dialect == "postgresql" and manifest.snapshot_name == "releve.pgdump"
    assert manifest.schema_version == "0007"
    assert manifest.row_counts["incidents"] == 3 and manifest.row_counts["alembic_version"] == 1
    before = _drill_databases()

    result = restore_drill(cfg, backups, environ={}, wall=now)
    assert result.ok, result.error
    assert result.rto_seconds is not None and result.rto_seconds > 0
    assert result.processes[0].rto_met and result.processes[0].rpo_met
    assert _drill_databases() == before, "the scratch database is dropped after the drill"

    archive = tmp_path / "restored.pgdump"
    restored = restore_backup(cfg, manifest.id, dest=backups, to=archive, environ={}, wall=now)
    assert restored.integrity == "archive readable (pg_restore --list)"
    listing = subprocess.run(["pg_restore", "--list", str(archive)], capture_output=True, text=True, check=True)
    assert "TABLE public incidents" in listing.stdout
    with pytest.raises(RestoreError, match="restored by hand: .*pg_restore --clean"):
        restore_backup(cfg, manifest.id, dest=backups, environ={}, wall=now)


def test_a_dump_whose_counts_differ_fails_the_drill(tmp_path: Path, cfg: Config) -> None:
    backups = tmp_path / "backups"
    manifest = create_backup(cfg, backups, environ={}, wall=now)
    # Re-sign nothing: an unencrypted manifest edited by hand; the drill's scratch restore counts the rows.
    path = backups / manifest.id / "manifest.json"
    path.write_text(path.read_text().replace('"incidents": 3', '"incidents": 5'))
    alerts: list[str] = []
    result = restore_drill(cfg, backups, environ={}, wall=now, alert=alerts.append)
    assert not result.ok and result.error is not None
    assert "incidents: 3 rows, the manifest says 5" in result.error
    assert alerts and "Restore drill failed" in alerts[0]
