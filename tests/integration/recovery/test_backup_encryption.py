"""Encrypted backups: a key (RELEVE_BACKUP_KEY) or a passphrase (RELEVE_BACKUP_PASSPHRASE) round trip; a wrong or
missing key, an edited manifest and a part moved from another backup are refused before anything is written."""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
import zstandard
from typer.testing import CliRunner

from releve.cli import app
from releve.config import Config, config_from_mapping
from releve.recovery import (
    BACKUP_KEY_ENV,
    BACKUP_PASSPHRASE_ENV,
    BackupError,
    RestoreError,
    create_backup,
    restore_backup,
)
from releve.store import Impact, Store, Text

T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
KEY = base64.b64encode(bytes(range(32))).decode()
OTHER_KEY = base64.b64encode(bytes(range(1, 33))).decode()
PASSPHRASE = "correct horse battery staple"


def now() -> datetime:
    return datetime.now(UTC)


def raw_config(db: Path) -> dict[str, object]:
    return {"auth": "none", "storage": {"url": f"sqlite:///{db}"},
            "providers": {"a": {"kind": "openai-compatible", "base_url": "http://127.0.0.1:1/v1"}},
            "routes": {"chat": {"targets": [{"provider": "a", "model": "m"}]}}}


@pytest.fixture
def cfg(tmp_path: Path) -> Config:
    db = tmp_path / "releve.db"
    store = Store(f"sqlite:///{db}")
    store.open()
    try:
        for n in range(3):
            store.open_incident(name=Text(f"Panne {n}", f"Outage {n}"), body=Text("Enquête", "Investigating"),
                                impact=Impact.MINOR, components=[], affected=[], at=T0 + timedelta(minutes=n),
                                automatic=False)
    finally:
        store.close()
    return config_from_mapping(raw_config(db))


@pytest.mark.parametrize("environ", [{BACKUP_KEY_ENV: KEY}, {BACKUP_PASSPHRASE_ENV: PASSPHRASE}],
                         ids=["key", "passphrase"])
def test_an_encrypted_backup_round_trips_and_its_parts_are_not_readable_without_the_key(
        tmp_path: Path, cfg: Config, environ: dict[str, str]) -> None:
    backups = tmp_path / "backups"
    manifest = create_backup(cfg, backups, environ=environ, wall=now, part_size=1024)
    assert manifest.encrypted and manifest.mac and len(manifest.files) > 1
    assert all(part.name.endswith(".zst.aes") for part in manifest.files)
    assert manifest.encryption is not None and manifest.encryption["algorithm"] == "AES-256-GCM"
    stored = (backups / manifest.id / manifest.files[0].name).read_bytes()
    with pytest.raises(zstandard.ZstdError):
        zstandard.ZstdDecompressor().decompressobj().decompress(stored)
    text = (backups / manifest.id / "manifest.json").read_text()
    assert KEY not in text and PASSPHRASE not in text

    result = restore_backup(cfg, manifest.id, dest=backups, to=tmp_path / "restored.db", environ=environ, wall=now)
    assert result.integrity == "ok" and result.row_counts["incidents"] == 3


def test_a_wrong_or_missing_key_is_refused_before_anything_is_written(tmp_path: Path, cfg: Config) -> None:
    backups = tmp_path / "backups"
    with_key = create_backup(cfg, backups, environ={BACKUP_KEY_ENV: KEY}, wall=now)
    with_passphrase = create_backup(cfg, backups, environ={BACKUP_PASSPHRASE_ENV: PASSPHRASE}, wall=now)
    target = tmp_path / "restored.db"

    def refused(backup_id: str, environ: dict[str, str], message: str) -> None:
        with pytest.raises(RestoreError, match=message):
            restore_backup(cfg, backup_id, dest=backups, to=target, environ=environ, wall=now)
        assert not target.exists()

    refused(with_key.id, {BACKUP_KEY_ENV: OTHER_KEY}, f"wrong key: {BACKUP_KEY_ENV} does not open it")
    refused(with_key.id, {}, f"encrypted with a key: set {BACKUP_KEY_ENV}")
    refused(with_key.id, {BACKUP_KEY_ENV: "not base64!"}, "is not base64")
    refused(with_passphrase.id, {BACKUP_PASSPHRASE_ENV: "another passphrase"},
            f"wrong key: {BACKUP_PASSPHRASE_ENV} does not open it")
    refused(with_passphrase.id, {BACKUP_KEY_ENV: KEY}, f"encrypted with a passphrase: set {BACKUP_PASSPHRASE_ENV}")
    assert [p for p in tmp_path.iterdir() if p.name.startswith(".releve-restore")] == []


def test_an_edited_manifest_or_a_part_from_another_backup_is_refused(tmp_path: Path, cfg: Config) -> None:
    backups = tmp_path / "backups"
    environ = {BACKUP_KEY_ENV: KEY}
    first = create_backup(cfg, backups, environ=environ, wall=now)
    second = create_backup(cfg, backups, environ=environ, wall=now)
    path = backups / first.id / "manifest.json"
    raw = orjson.loads(path.read_bytes())
    raw["row_counts"]["incidents"] = 2
    path.write_bytes(orjson.dumps(raw))
    with pytest.raises(RestoreError, match="its signature does not match: it was edited"):
        restore_backup(cfg, first.id, dest=backups, to=tmp_path / "a.db", environ=environ, wall=now)

    # The second backup's part, sealed for the second backup, put in place of the first's with the checksums
    # updated to match (what an attacker without the key could do): decryption refuses it by name.
    part = second.files[0].name
    (backups / second.id / part).replace(backups / first.id / part)
    raw["row_counts"]["incidents"] = 3
    raw["files"][0] = {"name": part, "size": second.files[0].size, "sha256": second.files[0].sha256}
    path.write_bytes(orjson.dumps(raw))
    with pytest.raises(RestoreError, match="its signature does not match"):
        restore_backup(cfg, first.id, dest=backups, to=tmp_path / "a.db", environ=environ, wall=now)
    assert not (tmp_path / "a.db").exists()


def test_keys_in_the_environment_are_checked_when_backing_up(tmp_path: Path, cfg: Config) -> None:
    backups = tmp_path / "backups"
    with pytest.raises(BackupError, match="must be 32 bytes in base64, not 16 bytes"):
        create_backup(cfg, backups, environ={BACKUP_KEY_ENV: base64.b64encode(os.urandom(16)).decode()}, wall=now)
    with pytest.raises(BackupError, match="too short"):
        create_backup(cfg, backups, environ={BACKUP_PASSPHRASE_ENV: "short"}, wall=now)
    with pytest.raises(BackupError, match="choose between 1 kB and 1 GiB"):
        create_backup(cfg, backups, environ={}, wall=now, part_size=10)
    assert not backups.exists() or list(backups.iterdir()) == []


def test_the_cli_encrypts_when_a_key_is_set_and_restores_with_it(tmp_path: Path, cfg: Config,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RELEVE_CONFIG", raising=False)
    monkeypatch.delenv(BACKUP_PASSPHRASE_ENV, raising=False)
    monkeypatch.setenv(BACKUP_KEY_ENV, KEY)
    config_path = tmp_path / "releve.yaml"
    config_path.write_bytes(orjson.dumps(raw_config(tmp_path / "releve.db")))
    backups = tmp_path / "backups"
    runner = CliRunner()
    taken = runner.invoke(app, ["backup", "--to", f"file://{backups}", "-c", str(config_path)])
    assert taken.exit_code == 0, taken.output
    assert "encrypted (AES-256-GCM)" in taken.output
    refused = runner.invoke(app, ["restore", "latest", "--from", str(backups), "--to", str(tmp_path / "r.db"),
                                  "-c", str(config_path)], env={BACKUP_KEY_ENV: OTHER_KEY})
    assert refused.exit_code == 1 and "wrong key" in refused.output
    restored = runner.invoke(app, ["restore", "latest", "--from", str(backups), "--to", str(tmp_path / "r.db"),
                                   "-c", str(config_path)])
    assert restored.exit_code == 0, restored.output


def test_a_sealed_part_opens_only_as_itself_in_its_own_backup() -> None:
    from releve.recovery import BackupKey

    key = BackupKey(bytes(range(32)), source="key")
    sealed = key.seal(b"snapshot bytes", backup_id="b1", name="releve.db.0000.zst.aes")
    assert key.open(sealed, backup_id="b1", name="releve.db.0000.zst.aes") == b"snapshot bytes"
    with pytest.raises(RestoreError, match=r"releve.db.0001.zst.aes: cannot be decrypted"):
        key.open(sealed, backup_id="b1", name="releve.db.0001.zst.aes")
    with pytest.raises(RestoreError, match="belongs to another backup"):
        key.open(sealed, backup_id="b2", name="releve.db.0000.zst.aes")
