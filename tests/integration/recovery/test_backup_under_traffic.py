"""Issue 10, acceptance 1: a backup taken while traffic flows through a real gateway restores into a scratch path
with a passing integrity check and the manifest's row counts; the restore drill prints and records the RTO and RPO
achieved against each process's targets."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from typer.testing import CliRunner

from releve.app import build_app
from releve.cli import app
from releve.config import config_from_mapping
from releve.protect import verify_store
from releve.recovery import create_backup, list_backups, restore_backup
from releve.server import GatewayThread
from releve.sim import SimulatorThread
from releve.store import Store

KEY = "app-key"


def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture(scope="module")
def sims() -> Iterator[tuple[SimulatorThread, SimulatorThread]]:
    with SimulatorThread("primary") as primary, SimulatorThread("fallback") as fallback:
        yield primary, fallback


def gateway_config(sims: tuple[SimulatorThread, SimulatorThread], db: Path) -> dict[str, Any]:
    primary, fallback = sims
    return {
        "server": {"listen": "127.0.0.1:0", "access_log": False},
        "clients": {"app": {"key": KEY}},
        "storage": {"url": f"sqlite:///{db}"},
        "monitor": {"probes": {"request": "none"}, "flush_every": "1s"},
        "providers": {"primary": {"kind": "openai-compatible", "base_url": primary.base_url},
                      "fallback": {"kind": "openai-compatible", "base_url": fallback.base_url}},
        "routes": {"assistant": {"targets": [{"provider": "primary", "model": "p"},
                                             {"provider": "fallback", "model": "f"}],
                                 "attempt_timeout": "2s", "retries": 0}},
        "processes": {"support": {"routes": ["assistant"], "rto": "15m", "rpo": "1h"},
                      "billing": {"routes": ["assistant"], "rto": "1h"}},
    }


class Traffic:
    """Clients in a thread: each request carries an Idempotency-Key, so each one writes a row to the store."""

    def __init__(self, url: str, concurrency: int = 4, limit: int = 3000, seconds: float = 60.0) -> None:
        self.url = url
        self.concurrency = concurrency
        self.limit = limit
        self.seconds = seconds
        self.ok = 0
        self.failed = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._run()), name="traffic", daemon=True)

    async def _client(self, session: aiohttp.ClientSession, deadline: float) -> None:
        while not self.stop.is_set() and time.monotonic() < deadline and self.ok + self.failed < self.limit:
            body = {"model": "assistant", "messages": [{"role": "user", "content": "status?"}]}
            headers = {"Authorization": f"Bearer {KEY}", "Idempotency-Key": uuid.uuid4().hex}
            async with session.post(f"{self.url}/v1/chat/completions", json=body, headers=headers) as response:
                await response.read()
                if response.status == 200:
                    self.ok += 1
                else:
                    self.failed += 1

    async def _run(self) -> None:
        deadline = time.monotonic() + self.seconds
        async with aiohttp.ClientSession() as session:
            await asyncio.gather(*(self._client(session, deadline) for _ in range(self.concurrency)))

    def wait_for(self, count: int, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while self.ok < count:
            assert time.monotonic() < deadline, f"only {self.ok} answers within {timeout}s ({self.failed} failed)"
            time.sleep(0.02)

    def __enter__(self) -> Traffic:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join(timeout=30)


def rows(db: Path, table: str) -> int:
    connection = sqlite3.connect(db)
    try:
        return int(connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    finally:
        connection.close()


def test_a_backup_under_traffic_restores_with_the_manifests_counts_and_the_drill_reports_rto_and_rpo(
        sims: tuple[SimulatorThread, SimulatorThread], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELEVE_AUDIT_KEY", "recovery-audit-key")
    monkeypatch.delenv("RELEVE_CONFIG", raising=False)
    db = tmp_path / "releve.db"
    backups = tmp_path / "backups"
    raw = gateway_config(sims, db)
    cfg = config_from_mapping(raw)
    with GatewayThread(build_app(cfg)) as gateway, Traffic(gateway.url) as traffic:
        traffic.wait_for(40)
        answered_before = traffic.ok
        manifest = create_backup(cfg, backups, environ={}, wall=now)
        answered_during = traffic.ok - answered_before
        traffic.wait_for(traffic.ok + 40)  # traffic went on after the snapshot
    assert traffic.failed == 0
    assert answered_during >= 0
    assert list_backups(backups) == [manifest]
    snapshot_rows = manifest.row_counts["idempotency"]
    assert snapshot_rows >= 40, manifest.row_counts
    assert rows(db, "idempotency") > snapshot_rows, "writes went on while and after the backup was taken"
    assert manifest.schema_version == "0007" and manifest.dialect == "sqlite" and not manifest.encrypted

    scratch = tmp_path / "scratch" / "releve.db"
    result = restore_backup(cfg, manifest.id, dest=backups, to=scratch, environ={}, wall=now)
    assert result.integrity == "ok"
    assert dict(result.row_counts) == dict(manifest.row_counts)
    assert result.target == scratch and result.safety_copy is None
    assert rows(scratch, "idempotency") == snapshot_rows
    connection = sqlite3.connect(scratch)
    try:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        connection.close()

    config_path = tmp_path / "releve.yaml"
    config_path.write_text(yaml.safe_dump(raw))
    outcome = CliRunner().invoke(app, ["drill", "restore", "--from", str(backups), "-c", str(config_path)])
    assert outcome.exit_code == 0, outcome.output
    assert f"restore drill of backup {manifest.id}" in outcome.output
    assert "RTO achieved:" in outcome.output and "RPO achieved:" in outcome.output
    assert "support" in outcome.output and "billing" in outcome.output and "restore drill passed" in outcome.output

    store = Store(cfg.storage.url)
    store.open()
    try:
        entries = [entry for entry in store.audit_entries() if entry.kind == "backup"]
        assert verify_store(store, key=b"recovery-audit-key").ok
    finally:
        store.close()
    drill = entries[-1].data
    assert drill["action"] == "restore_drill" and drill["ok"] is True and drill["id"] == manifest.id
    assert drill["rto_seconds"] >= 0 and drill["rpo_seconds"] > 0
    assert drill["processes"]["support"] == {"rto": 900.0, "rto_met": True, "rpo": 3600.0, "rpo_met": True}
    assert drill["processes"]["billing"]["rpo_met"] is None
