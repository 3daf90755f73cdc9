"""`releve up` takes backups and runs restore drills on schedule (backup.every, drills.restore.every)."""

from __future__ import annotations

import time
from pathlib import Path

from releve.app import build_app
from releve.config import config_from_mapping
from releve.protect import verify_store
from releve.recovery import list_backups
from releve.server import GatewayThread
from releve.store import Store


def test_scheduled_backups_and_restore_drills_run_and_are_audited(tmp_path: Path) -> None:
    backups = tmp_path / "backups"
    raw = {"server": {"listen": "127.0.0.1:0", "access_log": False}, "auth": "none",
           "storage": {"url": f"sqlite:///{tmp_path / 'releve.db'}"}, "monitor": {"probes": {"request": "none"}},
           "providers": {"a": {"kind": "openai-compatible", "base_url": "http://127.0.0.1:9/v1"}},
           "routes": {"chat": {"targets": [{"provider": "a", "model": "m"}]}},
           "processes": {"chat-work": {"routes": ["chat"], "rto": "15m", "rpo": "1h"}},
           "backup": {"to": str(backups), "every": "300ms"}, "drills": {"restore": {"every": "700ms"}}}
    with GatewayThread(build_app(config_from_mapping(raw))):
        time.sleep(2.0)  # several backups and at least one drill
    # backup.keep (24 hourly…) keeps the newest backup of this hour: older ones of the hour are pruned.
    assert len(list_backups(backups)) == 1
    store = Store(f"sqlite:///{tmp_path / 'releve.db'}")
    store.open()
    try:
        actions = [entry.data.get("action") for entry in store.audit_entries() if entry.kind == "backup"]
        assert verify_store(store).ok
    finally:
        store.close()
    assert actions.count("backup") >= 2 and "prune" in actions and "restore_drill" in actions
