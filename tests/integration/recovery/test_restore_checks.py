"""Each check a restore makes after the checksums: the compressed stream, the snapshot's own SHA-256, PRAGMA
integrity_check, the alembic revision; and the targets a restore refuses. Backups are edited here the way a
broken tool or disk could leave them (parts and manifest consistent with each other, the content wrong)."""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
import zstandard
from typer.testing import CliRunner

from releve.cli import app
from releve.config import Config, config_from_mapping
from releve.recovery import (
    BackupError,
    DirectoryDestination,
    Manifest,
    RestoreError,
    create_backup,
    open_destination,
    restore_backup,
)
from releve.store import Impact, Store, Text

T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


def now() -> datetime:
    return datetime.now(UTC)


def raw_config(url: str) -> dict[str, Any]:
    return {"auth": "none", "storage": {"url": url},
            "providers": {"a": {"kind": "openai-compatible", "base_url": "http://127.0.0.1:1/v1"}},
            "routes": {"chat": {"targets": [{"provider": "a", "model": "m"}]}}}


@pytest.fixture
def cfg(tmp_path: Path) -> Config:
    url = f"sqlite:///{tmp_path / 'releve.db'}"
    store = Store(url)
    store.open()
    try:
        for n in range(3):
            store.open_incident(name=Text(f"Panne {n}", f"Outage {n}"), body=Text("Enquête", "Investigating"),
                                impact=Impact.MINOR, components=[], affected=[], at=T0 + timedelta(minutes=n),
                                automatic=False)
    finally:
        store.close()
    return config_from_mapping(raw_config(url))


@pytest.fixture
def backups(tmp_path: Path) -> Path:
    return tmp_path / "backups"


def edit(backups: Path, manifest: Manifest, change: dict[str, Any]) -> None:
    path = backups / manifest.id / "manifest.json"
    raw = orjson.loads(path.read_bytes())
    raw.update(change)
    path.write_bytes(orjson.dumps(raw))


def replace_snapshot(backups: Path, manifest: Manifest, snapshot: bytes, *, compress: bool = True) -> None:
    """One part holding `snapshot` (compressed), with a manifest that vouches for it."""
    stored = zstandard.ZstdCompressor().compress(snapshot) if compress else snapshot
    for part in manifest.files:
        (backups / manifest.id / part.name).unlink()
    name = manifest.files[0].name
    (backups / manifest.id / name).write_bytes(stored)
    part = {"name": name, "size": len(stored), "sha256": hashlib.sha256(stored).hexdigest()}
    edit(backups, manifest, {"files": [part], "snapshot": {"name": "releve.db", "size": len(snapshot),
                                                           "sha256": hashlib.sha256(snapshot).hexdigest()}})


def snapshot_of(backups: Path, manifest: Manifest) -> bytes:
    stored = b"".join((backups / manifest.id / part.name).read_bytes() for part in manifest.files)
    return zstandard.ZstdDecompressor().decompressobj().decompress(stored)


def refused(cfg: Config, backups: Path, manifest: Manifest, target: Path, message: str) -> None:
    with pytest.raises(RestoreError, match=message):
        restore_backup(cfg, manifest.id, dest=backups, to=target, environ={}, wall=now)
    assert not target.exists()


def test_a_stream_cut_short_or_not_zstd_or_not_the_snapshot_is_refused(
        tmp_path: Path, cfg: Config, backups: Path) -> None:
    target = tmp_path / "restored.db"
    cut = create_backup(cfg, backups, environ={}, wall=now, part_size=1024)
    last = cut.files[-1]
    (backups / cut.id / last.name).unlink()
    edit(backups, cut, {"files": [{"name": p.name, "size": p.size, "sha256": p.sha256} for p in cut.files[:-1]]})
    refused(cfg, backups, cut, target, rf"{cut.files[-2].name}: the compressed stream ends early")

    garbage = create_backup(cfg, backups, environ={}, wall=now)
    replace_snapshot(backups, garbage, b"not zstd at all" * 10, compress=False)
    refused(cfg, backups, garbage, target, rf"{garbage.files[0].name}: not a valid zstd stream")

    other = create_backup(cfg, backups, environ={}, wall=now)
    edit(backups, other, {"snapshot": {"name": "releve.db", "size": other.snapshot_size, "sha256": "0" * 64}})
    refused(cfg, backups, other, target, r"releve.db: \d+ bytes with SHA-256 .* after decompression, the manifest "
                                         r"says \d+ bytes and 0000000000000000")


def test_a_snapshot_that_fails_integrity_check_or_has_another_revision_is_refused(
        tmp_path: Path, cfg: Config, backups: Path) -> None:
    target = tmp_path / "restored.db"
    revision = create_backup(cfg, backups, environ={}, wall=now)
    edit(backups, revision, {"schema_version": "0005"})
    refused(cfg, backups, revision, target, "schema revision 0007, the manifest says 0005")

    broken = create_backup(cfg, backups, environ={}, wall=now)
    snapshot = bytearray(snapshot_of(backups, broken))
    page = 4096
    for n in range(2, len(snapshot) // page):  # every page but the first: b-tree pages become garbage
        snapshot[n * page + 8:n * page + 64] = b"\xff" * 56
    replace_snapshot(backups, broken, bytes(snapshot))
    refused(cfg, backups, broken, target, r"releve.db: (PRAGMA integrity_check failed|not a readable SQLite database)")

    junk = create_backup(cfg, backups, environ={}, wall=now)
    replace_snapshot(backups, junk, b"this is not a database" * 300)
    refused(cfg, backups, junk, target, "releve.db: not a readable SQLite database")


def test_targets_a_restore_refuses(tmp_path: Path, cfg: Config, backups: Path) -> None:
    manifest = create_backup(cfg, backups, environ={}, wall=now)
    folder = tmp_path / "a-folder"
    folder.mkdir()
    with pytest.raises(RestoreError, match="is a directory"):
        restore_backup(cfg, manifest.id, dest=backups, to=folder, environ={}, wall=now)
    text = tmp_path / "notes.txt"
    text.write_text("precious notes, not a database " * 200)
    with pytest.raises(RestoreError, match="is not a SQLite database .*: refusing to replace it"):
        restore_backup(cfg, manifest.id, dest=backups, to=text, force=True, environ={}, wall=now)
    assert text.read_text().startswith("precious notes")
    on_postgres = config_from_mapping(raw_config("postgresql://releve@127.0.0.1:1/releve"))
    with pytest.raises(RestoreError, match="of a SQLite store and the configured store is postgresql: pass --to"):
        restore_backup(on_postgres, manifest.id, dest=backups, environ={}, wall=now)
    in_memory = config_from_mapping(raw_config("sqlite://"))
    with pytest.raises(RestoreError, match="in memory .*: pass --to PATH"):
        restore_backup(in_memory, manifest.id, dest=backups, environ={}, wall=now)


def test_forcing_twice_keeps_both_safety_copies(tmp_path: Path, cfg: Config, backups: Path) -> None:
    manifest = create_backup(cfg, backups, environ={}, wall=now)
    target = tmp_path / "copy.db"
    first = restore_backup(cfg, manifest.id, dest=backups, to=target, environ={}, wall=now)
    assert first.safety_copy is None
    second = restore_backup(cfg, manifest.id, dest=backups, to=target, force=True, environ={}, wall=now)
    third = restore_backup(cfg, manifest.id, dest=backups, to=target, force=True, environ={}, wall=now)
    assert second.safety_copy == tmp_path / f"copy.db.before-restore-{manifest.id}"
    assert third.safety_copy == tmp_path / f"copy.db.before-restore-{manifest.id}.2"
    assert third.safety_copy.exists() and second.safety_copy.exists()
    connection = sqlite3.connect(third.safety_copy)
    try:
        assert connection.execute("SELECT count(*) FROM incidents").fetchone() == (3,)
    finally:
        connection.close()


def test_what_cannot_be_backed_up_and_destinations_that_are_not_understood(tmp_path: Path) -> None:
    with pytest.raises(BackupError, match="in memory"):
        create_backup(config_from_mapping(raw_config("sqlite://")), tmp_path, environ={}, wall=now)
    missing = tmp_path / "missing.db"
    with pytest.raises(BackupError, match=f"{missing} does not exist"):
        create_backup(config_from_mapping(raw_config(f"sqlite:///{missing}")), tmp_path, environ={}, wall=now)
    assert not missing.exists()
    with pytest.raises(BackupError, match="a destination is a directory, file:///path or s3://bucket/prefix"):
        open_destination("ftp://example.org/backups")
    with pytest.raises(BackupError, match="a file:// destination is on this machine"):
        open_destination("file://elsewhere/backups")
    local = open_destination(f"file://{tmp_path}/with%20space")
    assert isinstance(local, DirectoryDestination) and local.root == tmp_path / "with space"
    assert local.ids() == [] and local.sizes("nothing") == {}


def test_cli_errors_name_the_problem(tmp_path: Path, cfg: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RELEVE_CONFIG", raising=False)
    runner = CliRunner()
    config_path = tmp_path / "releve.yaml"
    config_path.write_bytes(orjson.dumps(raw_config(cfg.storage.url)))
    bad_size = runner.invoke(app, ["backup", "--part-size", "huge", "-c", str(config_path)])
    assert bad_size.exit_code == 2 and "--part-size" in bad_size.output
    bad_dest = runner.invoke(app, ["backup", "--to", "ftp://x/y", "-c", str(config_path)])
    assert bad_dest.exit_code == 2 and "a destination is a directory" in bad_dest.output
    missing = tmp_path / "gone.db"
    gone = tmp_path / "gone.yaml"
    gone.write_bytes(orjson.dumps(raw_config(f"sqlite:///{missing}")))
    failed = runner.invoke(app, ["backup", "--to", str(tmp_path / "b"), "-c", str(gone)])
    assert failed.exit_code == 1 and f"{missing} does not exist" in failed.output
    assert "not recorded in the audit log" in failed.output and not missing.exists()
    nothing = runner.invoke(app, ["backup", "list", "--to", str(tmp_path / "empty"), "-c", str(tmp_path / "no.yaml")])
    assert nothing.exit_code == 0 and "no complete backup in" in nothing.output
    drill = runner.invoke(app, ["drill", "restore", "--from", str(tmp_path / "empty"), "-c", str(config_path)])
    assert drill.exit_code == 1 and "no complete backup" in drill.output


@pytest.mark.parametrize(("text", "message"), [
    (b"[]", r"not a Relève backup manifest \(format 'list'"),
    (b'{"format": "releve-backup/9"}', r"format 'releve-backup/9', expected 'releve-backup/1'"),
    (b'{"format": "releve-backup/1", "id": "x"}', "manifest.json is malformed: KeyError"),
])
def test_a_manifest_that_is_not_ours_is_named_as_such(text: bytes, message: str) -> None:
    with pytest.raises(BackupError, match=message):
        Manifest.from_json(text)


def test_a_manifest_time_without_a_zone_is_malformed(tmp_path: Path, cfg: Config, backups: Path) -> None:
    manifest = create_backup(cfg, backups, environ={}, wall=now)
    raw = orjson.loads(manifest.to_json())
    raw["created_at"] = "2026-11-02T10:00:00"
    with pytest.raises(BackupError, match="created_at has no time zone"):
        Manifest.from_json(orjson.dumps(raw))


def test_a_destination_that_is_a_file_is_a_clear_error(tmp_path: Path, cfg: Config) -> None:
    occupied = tmp_path / "occupied"
    occupied.write_text("a file where the backups should go")
    with pytest.raises(BackupError, match=f"cannot write {occupied}/.*/releve.db.0000.zst"):
        create_backup(cfg, occupied, environ={}, wall=now)
    destination = DirectoryDestination(occupied)
    with pytest.raises(BackupError, match=f"cannot list {occupied}"):
        destination.ids()
    with pytest.raises(BackupError, match=f"cannot list {occupied}/x"):
        destination.sizes("x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["occupied", "releve.db"]
