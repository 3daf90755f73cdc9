"""`backup.keep`: the newest backup of each of the last N hours, days and weeks is kept, and the newest of all;
backups that never finished go once a day old; deletion removes the manifest first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from releve.cli import app
from releve.config import Config, config_from_mapping
from releve.recovery import (
    BackupError,
    DirectoryDestination,
    Manifest,
    check_backups,
    create_backup,
    list_backups,
    prune_backups,
    retained_backups,
)
from releve.store import Store

T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)  # a Monday


def raw_config(db: Path, keep: dict[str, int]) -> dict[str, object]:
    return {"auth": "none", "storage": {"url": f"sqlite:///{db}"},
            "providers": {"a": {"kind": "openai-compatible", "base_url": "http://127.0.0.1:1/v1"}},
            "routes": {"chat": {"targets": [{"provider": "a", "model": "m"}]}},
            "backup": {"to": str(db.parent / "backups"), "keep": keep}}


@pytest.fixture
def cfg(tmp_path: Path) -> Config:
    db = tmp_path / "releve.db"
    store = Store(f"sqlite:///{db}")
    store.open()
    store.close()
    return config_from_mapping(raw_config(db, {"hourly": 1, "daily": 2, "weekly": 0}))


def take(cfg: Config, backups: Path, at: datetime) -> Manifest:
    return create_backup(cfg, backups, environ={}, wall=lambda: at)


def test_the_newest_of_each_period_is_kept() -> None:
    def manifest(at: datetime) -> Manifest:
        return Manifest(id=f"{at:%Y%m%dT%H%M%SZ}", created_at=at, releve_version="0", dialect="sqlite", source="",
                        schema_version=None, snapshot_name="releve.db", snapshot_size=0, snapshot_sha256="",
                        files=(), row_counts={}, compression={}, encryption=None, duration_seconds=0.0)

    times = [T0 + timedelta(hours=h) for h in (0, 0.5, 1, 2, 24, 25, 24 * 8, 24 * 8 + 1)]
    ids = [f"{at:%Y%m%dT%H%M%SZ}" for at in times]
    manifests = [manifest(at) for at in times]
    assert retained_backups(manifests, hourly=0, daily=0, weekly=0) == {ids[-1]}
    assert retained_backups(manifests, hourly=3, daily=0, weekly=0) == {ids[-1], ids[-2], ids[-3]}
    assert retained_backups(manifests, hourly=0, daily=3, weekly=0) == {ids[-1], ids[5], ids[3]}
    assert retained_backups(manifests, hourly=0, daily=0, weekly=2) == {ids[-1], ids[5]}
    assert retained_backups([], hourly=5, daily=5, weekly=5) == set()


def test_prune_deletes_what_is_not_kept_and_old_incomplete_backups(tmp_path: Path, cfg: Config) -> None:
    backups = tmp_path / "backups"
    taken = [take(cfg, backups, T0 + delta) for delta in (timedelta(0), timedelta(minutes=10), timedelta(hours=1),
                                                         timedelta(days=1), timedelta(days=2, hours=1))]
    old_cut = take(cfg, backups, T0 - timedelta(days=1))
    young_cut = take(cfg, backups, T0 + timedelta(days=2, hours=1, minutes=50))
    for cut in (old_cut, young_cut):
        (backups / cut.id / "manifest.json").unlink()
    now = T0 + timedelta(days=2, hours=2)

    planned = prune_backups(backups, hourly=1, daily=2, weekly=0, now=now, dry_run=True)
    assert planned.kept == (taken[3].id, taken[4].id)
    assert planned.removed == (taken[0].id, taken[1].id, taken[2].id)
    assert planned.incomplete == (old_cut.id,)
    assert len(check_backups(backups)) == 7, "a dry run deletes nothing"

    recorded: list[dict[str, object]] = []
    done = prune_backups(backups, hourly=1, daily=2, weekly=0, now=now,
                         audit=lambda kind, actor, data: recorded.append(data))
    assert done == planned
    assert [m.id for m in list_backups(backups)] == [taken[3].id, taken[4].id]
    assert sorted(p.name for p in backups.iterdir()) == sorted([taken[3].id, taken[4].id, young_cut.id])
    assert recorded == [{"action": "prune", "ok": True, "destination": str(backups), "kept": 2,
                         "removed": list(planned.removed), "incomplete": [old_cut.id]}]


def test_a_deletion_cut_short_leaves_an_incomplete_backup(tmp_path: Path, cfg: Config,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    backups = tmp_path / "backups"
    manifest = take(cfg, backups, T0)

    def interrupted(path: object) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(shutil, "rmtree", interrupted)
    with pytest.raises(BackupError, match=f"cannot delete {backups / manifest.id}: Input/output error"):
        DirectoryDestination(backups).delete(manifest.id)
    assert list_backups(backups) == []
    [check] = check_backups(backups)
    assert check.id == manifest.id and check.problem == "no manifest: the backup did not finish"


def test_the_cli_prunes_by_backup_keep(tmp_path: Path, cfg: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RELEVE_CONFIG", raising=False)
    backups = tmp_path / "backups"
    first = take(cfg, backups, datetime.now(UTC) - timedelta(days=3))
    second = take(cfg, backups, datetime.now(UTC) - timedelta(days=1))
    config_path = tmp_path / "releve.yaml"
    config_path.write_bytes(orjson.dumps(raw_config(tmp_path / "releve.db", {"hourly": 0, "daily": 1,
                                                                             "weekly": 0})))
    runner = CliRunner()
    dry = runner.invoke(app, ["backup", "prune", "--dry-run", "-c", str(config_path)])
    assert dry.exit_code == 0, dry.output
    assert f"would delete {first.id}" in dry.output and len(list_backups(backups)) == 2
    done = runner.invoke(app, ["backup", "prune", "-c", str(config_path)])
    assert done.exit_code == 0, done.output
    assert f"deleted {first.id}" in done.output and "kept 1 backup(s)" in done.output
    assert [m.id for m in list_backups(backups)] == [second.id]
