"""Which backups to keep: the newest of each of the last N hours, days and weeks (`backup.keep`), as restic and
Borg count them, and always the newest of all; backups that never finished go once they are old enough not to be
still in progress.

Only complete backups count towards what is kept: an incomplete one never displaces a restorable one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from releve.protect import AuditKind

from ._backup import AuditSink, check_backups
from ._backup_format import Manifest
from ._destinations import Destination, open_destination

__all__ = ["PruneResult", "prune_backups", "retained_backups"]

_BUCKETS: tuple[tuple[str, Callable[[datetime], str]], ...] = (
    ("hourly", lambda at: f"{at:%Y-%m-%dT%H}"),
    ("daily", lambda at: f"{at:%Y-%m-%d}"),
    ("weekly", lambda at: "{}-W{:02d}".format(*at.isocalendar()[:2])),
)


def retained_backups(manifests: Sequence[Manifest], *, hourly: int, daily: int, weekly: int) -> set[str]:
    """The ids to keep: for each of the last `hourly` hours (`daily` days, `weekly` ISO weeks) that have a
    backup, that period's newest; and the newest backup whatever the counts."""
    newest_first = sorted(manifests, key=lambda m: (m.created_at, m.id), reverse=True)
    keep = {newest_first[0].id} if newest_first else set()
    counts = {"hourly": hourly, "daily": daily, "weekly": weekly}
    for name, bucket in _BUCKETS:
        seen: set[str] = set()
        for manifest in newest_first:
            period = bucket(manifest.created_at.astimezone(UTC))
            if period in seen:
                continue
            if len(seen) >= counts[name]:
                break
            seen.add(period)
            keep.add(manifest.id)
    return keep


@dataclass(frozen=True, slots=True)
class PruneResult:
    kept: tuple[str, ...]
    removed: tuple[str, ...]          # complete backups past every retention period
    incomplete: tuple[str, ...]       # folders that never became a complete backup, removed


def _started(backup_id: str) -> datetime | None:
    try:
        return datetime.strptime(backup_id.split("-", 1)[0], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def prune_backups(dest: Destination | str | Path, *, hourly: int, daily: int, weekly: int, now: datetime,
                  incomplete_after: float = 86400.0, dry_run: bool = False, audit: AuditSink | None = None,
                  actor: str = "releve") -> PruneResult:
    """Delete the backups `retained_backups` does not keep, and incomplete folders started more than
    `incomplete_after` seconds before `now` (younger ones may be a backup in progress). `dry_run`: only say what
    would go."""
    destination = dest if not isinstance(dest, str | Path) else open_destination(dest)
    checks = check_backups(destination)
    complete = [check.manifest for check in checks if check.valid and check.manifest is not None]
    keep = retained_backups(complete, hourly=hourly, daily=daily, weekly=weekly)
    removed = tuple(sorted(m.id for m in complete if m.id not in keep))
    cutoff = now - timedelta(seconds=incomplete_after)
    incomplete = tuple(sorted(check.id for check in checks if not check.valid
                              and (started := _started(check.id)) is not None and started < cutoff))
    if not dry_run:
        for backup_id in (*removed, *incomplete):
            destination.delete(backup_id)
        if audit is not None and (removed or incomplete):
            audit(AuditKind.BACKUP.value, actor, {"action": "prune", "ok": True,
                                                  "destination": destination.describe(), "removed": list(removed),
                                                  "incomplete": list(incomplete), "kept": len(keep)})
    return PruneResult(kept=tuple(sorted(keep)), removed=removed, incomplete=incomplete)
