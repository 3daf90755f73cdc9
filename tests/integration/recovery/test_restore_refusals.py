"""Issue 10, acceptance 2: a corrupted or incomplete backup is refused, naming the file, by `releve restore` and
`releve drill restore` (which alerts the webhooks); a backup killed half-way is never listed; restoring over live
data needs --force, keeps a safety copy, and is refused while the database is in use."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from releve.cli import app
from releve.config import Config, config_from_mapping
from releve.recovery import (
    Manifest,
    RestoreError,
    check_backups,
    create_backup,
    list_backups,
    restore_backup,
    restore_drill,
)
from releve.store import Impact, Store, Text
from support.webhooks import SECRET, webhook_receiver

T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


def now() -> datetime:
    return datetime.now(UTC)


def raw_config(db: Path, **extra: object) -> dict[str, object]:
    return {"auth": "none", "storage": {"url": f"sqlite:///{db}"},
            "providers": {"a": {"kind": "openai-compatible", "base_url": "http://127.0.0.1:1/v1"}},
            "routes": {"chat": {"targets": [{"provider": "a", "model": "m"}]}},
            "processes": {"support": {"routes": ["chat"], "rto": "15m", "rpo": "1h"}}, **extra}


def populate(url: str, incidents: int = 3) -> None:
    store = Store(url)
    store.open()
    try:
        for n in range(incidents):
            store.open_incident(name=Text(f"Panne {n}", f"Outage {n}"), body=Text("Enquête", "Investigating"),
                                impact=Impact.MINOR, components=[], affected=[], at=T0 + timedelta(minutes=n),
                                automatic=False)
    finally:
        store.close()


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.delenv("RELEVE_CONFIG", raising=False)
    for name in ("RELEVE_BACKUP_KEY", "RELEVE_BACKUP_PASSPHRASE", "RELEVE_BACKUP_PAUSE_AFTER_PART"):
        monkeypatch.delenv(name, raising=False)
    return CliRunner()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "releve.db"
    populate(f"sqlite:///{path}")
    return path


@pytest.fixture
def cfg(db: Path) -> Config:
    return config_from_mapping(raw_config(db))


def write_config(tmp_path: Path, raw: dict[str, object]) -> Path:
    path = tmp_path / "releve.yaml"
    path.write_bytes(orjson.dumps(raw))  # JSON is YAML
    return path


def flip_byte(path: Path, offset: int | None = None) -> None:
    data = bytearray(path.read_bytes())
    where = len(data) // 2 if offset is None else offset
    data[where] ^= 0x01
    path.write_bytes(bytes(data))


def test_one_flipped_byte_is_refused_by_restore_and_by_the_drill_which_alerts(
        runner: CliRunner, tmp_path: Path, cfg: Config) -> None:
    backups = tmp_path / "backups"
    manifest = create_backup(cfg, backups, environ={}, wall=now)
    part = manifest.files[0].name
    flip_byte(backups / manifest.id / part)
    assert list_backups(backups) == [manifest], "listing checks sizes only: the flip shows on restore"

    with webhook_receiver() as receiver:
        config_path = write_config(tmp_path, raw_config(tmp_path / "releve.db",
                                                        webhooks=[{"url": receiver.url, "secret": SECRET}]))
        restored = runner.invoke(app, ["restore", manifest.id, "--from", str(backups), "--to",
                                       str(tmp_path / "restored.db"), "-c", str(config_path)])
        assert restored.exit_code == 1, restored.output
        assert part in restored.output and "SHA-256" in restored.output and "corrupted" in restored.output
        assert not (tmp_path / "restored.db").exists()

        drill = runner.invoke(app, ["drill", "restore", "--from", str(backups), "-c", str(config_path)])
        assert drill.exit_code == 1, drill.output
        assert "restore drill FAILED" in drill.output and part in drill.output
        [alert] = receiver.wait_for("drill.failed")
    assert alert.signed
    assert part in alert.payload["message"] and alert.payload["event"] == "drill.failed"
    store = Store(cfg.storage.url)
    store.open()
    try:
        recorded = [entry.data for entry in store.audit_entries() if entry.kind == "backup"]
    finally:
        store.close()
    assert [(r["action"], r["ok"]) for r in recorded] == [("restore", False), ("restore_drill", False)]
    assert part in recorded[-1]["error"]


def test_a_truncated_or_missing_part_is_not_listed_and_is_refused_naming_it(tmp_path: Path, cfg: Config) -> None:
    backups = tmp_path / "backups"
    first = create_backup(cfg, backups, environ={}, wall=now, part_size=1024)
    second = create_backup(cfg, backups, environ={}, wall=now, part_size=1024)
    assert len(first.files) >= 2
    truncated = backups / first.id / first.files[1].name
    truncated.write_bytes(truncated.read_bytes()[:-10])
    (backups / second.id / second.files[0].name).unlink()
    assert list_backups(backups) == []
    problems = {check.id: check.problem for check in check_backups(backups)}
    assert problems == {first.id: f"{first.files[1].name} is {first.files[1].size - 10} bytes, the manifest says "
                                  f"{first.files[1].size}",
                        second.id: f"{second.files[0].name} is missing"}
    with pytest.raises(RestoreError, match=rf"{first.files[1].name}: .* truncated or replaced"):
        restore_backup(cfg, first.id, dest=backups, to=tmp_path / "x.db", environ={}, wall=now)
    with pytest.raises(RestoreError, match=rf"{second.files[0].name}: missing from .* incomplete"):
        restore_backup(cfg, second.id, dest=backups, to=tmp_path / "x.db", environ={}, wall=now)
    with pytest.raises(RestoreError, match="no complete backup"):
        restore_backup(cfg, "latest", dest=backups, to=tmp_path / "x.db", environ={}, wall=now)
    with pytest.raises(RestoreError, match="no backup nope"):
        restore_backup(cfg, "nope", dest=backups, to=tmp_path / "x.db", environ={}, wall=now)
    assert not (tmp_path / "x.db").exists()


def test_row_counts_edited_in_the_manifest_fail_the_check_after_decompression(tmp_path: Path, cfg: Config) -> None:
    backups = tmp_path / "backups"
    manifest = create_backup(cfg, backups, environ={}, wall=now)
    assert manifest.row_counts["incidents"] == 3
    path = backups / manifest.id / "manifest.json"
    raw = orjson.loads(path.read_bytes())
    raw["row_counts"]["incidents"] = 4
    path.write_bytes(orjson.dumps(raw))
    with pytest.raises(RestoreError, match="row counts differ from the manifest: incidents: 3 rows, the manifest "
                                           "says 4"):
        restore_backup(cfg, manifest.id, dest=backups, to=tmp_path / "x.db", environ={}, wall=now)
    assert not (tmp_path / "x.db").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".releve-restore")] == []


def _filler(db: Path, megabytes: int) -> None:
    """Incompressible rows, so that the compressed snapshot spans many parts."""
    connection = sqlite3.connect(db)
    try:
        connection.execute("CREATE TABLE filler (id INTEGER PRIMARY KEY, data BLOB)")
        connection.executemany("INSERT INTO filler (data) VALUES (?)", ((os.urandom(64 * 1024),)
                                                                        for _ in range(megabytes * 16)))
        connection.commit()
    finally:
        connection.close()


def _wait_for_a_part(backups: Path, process: subprocess.Popen[bytes], timeout: float = 30.0) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [path for path in backups.glob("*/*.zst") if path.is_file()]
        if found:
            return found[0].parent
        assert process.poll() is None, process.stdout.read() if process.stdout else b""
        time.sleep(0.05)
    raise AssertionError("no part written in time")


def test_a_backup_killed_half_way_is_never_listed(runner: CliRunner, tmp_path: Path, db: Path) -> None:
    _filler(db, 2)
    config_path = write_config(tmp_path, raw_config(db))
    backups = tmp_path / "backups"
    environ = {**os.environ, "RELEVE_BACKUP_PAUSE_AFTER_PART": "30"}
    environ.pop("RELEVE_CONFIG", None)
    process = subprocess.Popen([sys.executable, "-m", "releve.cli", "backup", "--to", str(backups), "--part-size",
                                "256kB", "-c", str(config_path)], env=environ, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
    try:
        folder = _wait_for_a_part(backups, process)
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=10) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout:
            process.stdout.close()
    assert not (folder / "manifest.json").exists()
    assert list_backups(backups) == []
    listing = runner.invoke(app, ["backup", "list", "--to", str(backups)])
    assert listing.exit_code == 0, listing.output
    assert "no complete backup" in listing.output
    assert f"incomplete, not restorable: {folder.name}: no manifest: the backup did not finish" in listing.output
    refused = runner.invoke(app, ["restore", folder.name, "--from", str(backups), "--to", str(tmp_path / "x.db"),
                                  "-c", str(config_path)])
    assert refused.exit_code == 1 and "did not finish" in refused.output

    done = runner.invoke(app, ["backup", "--to", str(backups), "--part-size", "256kB", "-c", str(config_path)])
    assert done.exit_code == 0, done.output
    [complete] = list_backups(backups)
    assert len(complete.files) > 4 and complete.row_counts["filler"] == 32
    assert f"backup {complete.id}:" in done.output and str(backups / complete.id) in done.output
    restored = runner.invoke(app, ["restore", "latest", "--from", str(backups), "--to", str(tmp_path / "x.db"),
                                   "-c", str(config_path)])
    assert restored.exit_code == 0, restored.output
    assert "integrity ok" in restored.output


@pytest.fixture
def in_use(db: Path) -> Iterator[Store]:
    """The live store opened the way a gateway opens it (pooled connections)."""
    store = Store(f"sqlite:///{db}")
    store.open()
    store.components()
    yield store
    store.close()


def test_restoring_over_live_data_needs_force_keeps_a_safety_copy_and_waits_for_the_gateway_to_stop(
        runner: CliRunner, tmp_path: Path, db: Path, cfg: Config) -> None:
    backups = tmp_path / "backups"
    manifest = create_backup(cfg, backups, environ={}, wall=now)
    populate(cfg.storage.url, incidents=2)  # 5 incidents live, 3 in the backup
    config_path = write_config(tmp_path, raw_config(db))

    refused = runner.invoke(app, ["restore", manifest.id, "--from", str(backups), "-c", str(config_path)])
    assert refused.exit_code == 1 and "exists: pass --force" in refused.output

    store = Store(cfg.storage.url)
    store.open()
    store.components()
    try:
        busy = runner.invoke(app, ["restore", manifest.id, "--from", str(backups), "--force", "-c",
                                   str(config_path)])
    finally:
        store.close()
    assert busy.exit_code == 1 and "is in use" in busy.output and "stop `releve up`" in busy.output

    forced = runner.invoke(app, ["restore", manifest.id, "--from", str(backups), "--force", "-c",
                                 str(config_path)])
    assert forced.exit_code == 0, forced.output
    safety = db.with_name(f"releve.db.before-restore-{manifest.id}")
    assert f"kept as {safety}" in forced.output
    assert not db.with_name("releve.db-wal").exists() or db.with_name("releve.db-wal").stat().st_size == 0

    def incidents(path: Path) -> int:
        connection = sqlite3.connect(path)
        try:
            return int(connection.execute("SELECT count(*) FROM incidents").fetchone()[0])
        finally:
            connection.close()

    assert incidents(db) == 3 and incidents(safety) == 5
    store = Store(cfg.storage.url)
    store.open()
    try:
        actions = [(e.data["action"], e.data["ok"]) for e in store.audit_entries() if e.kind == "backup"]
    finally:
        store.close()
    # The refusals were recorded in the store as it was (now the safety copy); the restore in the restored one.
    assert actions == [("restore", True)]


def test_a_drill_alerts_when_the_newest_backup_is_older_than_a_process_rpo(tmp_path: Path, cfg: Config) -> None:
    backups = tmp_path / "backups"
    manifest = create_backup(cfg, backups, environ={}, wall=lambda: T0)
    alerts: list[str] = []
    recorded: list[tuple[str, str, dict[str, object]]] = []
    late = restore_drill(cfg, backups, environ={}, wall=lambda: T0 + timedelta(hours=2), alert=alerts.append,
                         audit=lambda kind, actor, data: recorded.append((kind, actor, data)))
    assert late.error is None and not late.ok
    assert late.backup_id == manifest.id and late.rpo_seconds == 7200.0
    [objectives] = late.processes
    assert objectives.rto_met is True and objectives.rpo_met is False
    assert late.missed == ["support: RPO missed, the newest backup is 2h old (target 1h)"]
    assert alerts == [late.summary()] and "RPO missed" in alerts[0]
    assert recorded[0][0] == "backup" and recorded[0][2]["ok"] is False

    alerts.clear()
    fresh = restore_drill(cfg, backups, environ={}, wall=lambda: T0 + timedelta(minutes=5), alert=alerts.append)
    assert fresh.ok and alerts == [] and "every target met" in fresh.summary()

    empty = restore_drill(cfg, tmp_path / "nothing-here", environ={}, wall=now, alert=alerts.append)
    assert not empty.ok and empty.error is not None and "no complete backup" in empty.error
    assert alerts == [f"Restore drill failed ({tmp_path / 'nothing-here'}): {empty.error}"]


def test_a_drill_that_misses_its_rpo_exits_non_zero(runner: CliRunner, tmp_path: Path, db: Path) -> None:
    backups = tmp_path / "backups"
    config_path = write_config(tmp_path, raw_config(db, processes={"support": {"routes": ["chat"], "rpo": "1s"}}))
    assert runner.invoke(app, ["backup", "--to", str(backups), "-c", str(config_path)]).exit_code == 0
    time.sleep(1.1)
    drill = runner.invoke(app, ["drill", "restore", "--from", str(backups), "-c", str(config_path)])
    assert drill.exit_code == 1, drill.output
    assert "missed support: RPO missed" in drill.output


def test_a_manifest_that_is_not_json_or_names_another_backup_is_not_listed(tmp_path: Path, cfg: Config) -> None:
    backups = tmp_path / "backups"
    first = create_backup(cfg, backups, environ={}, wall=now)
    second = create_backup(cfg, backups, environ={}, wall=now)
    (backups / first.id / "manifest.json").write_text("{not json")
    moved = Manifest.from_json((backups / second.id / "manifest.json").read_bytes())
    (backups / "copied").mkdir()
    (backups / "copied" / "manifest.json").write_bytes(moved.to_json())
    problems = {check.id: check.problem for check in check_backups(backups)}
    assert problems[first.id] is not None and "not valid JSON" in problems[first.id]
    assert problems["copied"] == f"its manifest names another backup ({second.id})"
    assert problems[second.id] is None
    assert [m.id for m in list_backups(backups)] == [second.id]


def test_the_alert_reaches_webhooks_signed_and_apprise_urls_and_names_channels_it_could_not_reach(
        tmp_path: Path) -> None:
    from releve.notify import channel_id
    from releve.recovery import channel_alert

    closed = "http://127.0.0.1:9/hooks"  # the discard port: nothing listens
    failures: list[tuple[str, str]] = []
    with webhook_receiver() as receiver:
        apprise_url = receiver.url.replace("http://", "json://")
        cfg = config_from_mapping(raw_config(tmp_path / "releve.db", webhooks=[
            {"url": receiver.url, "secret": SECRET}, {"url": closed, "secret": SECRET}], notify=[apprise_url]))
        alert = channel_alert(cfg, wall=now, on_error=lambda channel, reason: failures.append((channel, reason)))
        alert("Restore drill failed (backups): releve.db.0000.zst: SHA-256 … corrupted")
        [signed] = receiver.wait_for("drill.failed")
        [via_apprise] = receiver.wait_for("")
    assert signed.signed and signed.payload["message"].startswith("Restore drill failed")
    assert "releve.db.0000.zst" in via_apprise.payload["message"]
    assert via_apprise.payload["title"] == "Relève: restore drill failed"
    assert failures == [(channel_id("webhook", closed), "network error: URLError")]
