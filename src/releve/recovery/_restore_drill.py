"""The restore drill: prove that the newest backup restores, and how long that takes, against each process's targets.

GDPR Art. 32(1)(c)-(d) asks for "the ability to restore the availability and access to personal data in a timely
manner" and "a process for regularly testing" it: a backup that was never restored is a hope, not a plan. The drill
restores the newest complete backup into a scratch directory (PostgreSQL: a scratch database, dropped after),
with every check a real restore makes, and measures:

- RTO achieved: the seconds the restore took, from reading the manifest to a checked database;
- RPO achieved: the backup's age when the drill began (what a disaster at that moment would lose).

Each process's `rto` / `rpo` from the configuration is met or missed. A failed drill or a missed target calls
`alert`; `channel_alert` makes one that posts to the configured webhooks (signed like incident webhooks,
`X-Releve-Event: drill.failed`) and Apprise URLs.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
import urllib.error
import urllib.request
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from releve.config import Config, format_duration
from releve.notify import channel_id, sign_body
from releve.protect import AuditKind

from ._backup import AuditSink, Progress, list_backups, os_reason
from ._backup_format import BackupError, RestoreError
from ._destinations import Destination, open_destination
from ._restore import RestoreResult, restore_backup, restore_into_scratch_database

__all__ = ["DrillResult", "ProcessObjectives", "channel_alert", "restore_drill"]


@dataclass(frozen=True, slots=True)
class ProcessObjectives:
    """One process's recovery targets (seconds; None when not set) and whether the drill met them."""

    process: str
    rto: float | None
    rpo: float | None
    rto_met: bool | None
    rpo_met: bool | None


@dataclass(frozen=True, slots=True)
class DrillResult:
    """One restore drill: what was restored, the RTO and RPO achieved, and each process's verdict."""

    at: datetime
    destination: str
    backup_id: str | None
    backup_created_at: datetime | None
    rto_seconds: float | None        # how long the restore took; None when it failed
    rpo_seconds: float | None        # the newest backup's age when the drill began
    processes: tuple[ProcessObjectives, ...]
    error: str | None
    restore: RestoreResult | None

    @property
    def missed(self) -> list[str]:
        """Each target missed, in words."""
        found = []
        for objectives in self.processes:
            if objectives.rto_met is False and objectives.rto is not None and self.rto_seconds is not None:
                found.append(f"{objectives.process}: RTO missed, the restore took {_seconds(self.rto_seconds)} "
                             f"(target {format_duration(objectives.rto)})")
            if objectives.rpo_met is False and objectives.rpo is not None and self.rpo_seconds is not None:
                found.append(f"{objectives.process}: RPO missed, the newest backup is {_seconds(self.rpo_seconds)} "
                             f"old (target {format_duration(objectives.rpo)})")
        return found

    @property
    def ok(self) -> bool:
        """The backup restored and passed every check, and no process's target was missed."""
        return self.error is None and not self.missed

    def summary(self) -> str:
        """One paragraph for an alert or a log line."""
        if self.error is not None:
            return f"Restore drill failed ({self.destination}): {self.error}"
        head = (f"Restore drill of backup {self.backup_id} ({self.destination}): restored in "
                f"{_seconds(self.rto_seconds or 0.0)}, backup {_seconds(self.rpo_seconds or 0.0)} old")
        return f"{head}; " + "; ".join(self.missed) if self.missed else f"{head}; every target met"

    def record(self) -> dict[str, Any]:
        """The audit log's entry: figures and verdicts, no paths beyond the destination."""
        return {"action": "restore_drill", "ok": self.ok, "id": self.backup_id, "destination": self.destination,
                "rto_seconds": None if self.rto_seconds is None else round(self.rto_seconds, 3),
                "rpo_seconds": None if self.rpo_seconds is None else round(self.rpo_seconds, 3),
                "processes": {o.process: {"rto": o.rto, "rto_met": o.rto_met, "rpo": o.rpo, "rpo_met": o.rpo_met}
                              for o in self.processes},
                "error": self.error}


def _seconds(value: float) -> str:
    """`1.23 s` for a restore, `3h 2m 5s` for a backup's age."""
    if value < 120:
        return f"{value:.2f} s"
    whole = round(value)
    hours, rest = divmod(whole, 3600)
    minutes, seconds = divmod(rest, 60)
    return " ".join(f"{n}{unit}" for n, unit in ((hours, "h"), (minutes, "m"), (seconds, "s")) if n) or "0s"


def _objectives(config: Config, rto: float | None, rpo: float | None) -> tuple[ProcessObjectives, ...]:
    return tuple(ProcessObjectives(
        process=name, rto=process.rto, rpo=process.rpo,
        rto_met=None if process.rto is None or rto is None else rto <= process.rto,
        rpo_met=None if process.rpo is None or rpo is None else rpo <= process.rpo,
    ) for name, process in config.processes.items())


@contextlib.contextmanager
def _scratch(parent: Path | None) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="releve-drill-", dir=parent) as name:
        yield Path(name)


def restore_drill(config: Config, dest: Destination | str | Path, *, environ: Mapping[str, str],
                  wall: Callable[[], datetime], alert: Callable[[str], None] | None = None,
                  audit: AuditSink | None = None, actor: str = "releve", scratch: Path | None = None,
                  progress: Progress | None = None) -> DrillResult:
    """Restore the newest complete backup in `dest` into a scratch directory (under `scratch`, removed after),
    check it, and measure the RTO and RPO achieved against each process's targets.

    Never raises for a bad backup: the result says what failed (`error`), `alert` is called with its summary
    when the drill failed or a target was missed, and `audit` records it (kind `backup`, action
    `restore_drill`).
    """
    destination = dest if not isinstance(dest, str | Path) else open_destination(dest)
    at = wall()
    backup_id: str | None = None
    created: datetime | None = None
    rpo: float | None = None
    rto: float | None = None
    restored: RestoreResult | None = None
    error: str | None = None
    try:
        backups = list_backups(destination)
        if not backups:
            raise RestoreError(f"no complete backup in {destination.describe()}")
        newest = backups[-1]
        backup_id, created = newest.id, newest.created_at
        rpo = max(0.0, (at - newest.created_at).total_seconds())
        with _scratch(scratch) as directory:
            started = time.monotonic()
            restored = restore_backup(config, newest.id, dest=destination, to=directory / newest.snapshot_name,
                                      environ=environ, wall=wall, progress=progress)
            if newest.dialect == "postgresql":
                if progress is not None:
                    progress("loading into a scratch database", 0, None)
                restore_into_scratch_database(config, restored.target, newest)
            rto = time.monotonic() - started
    except (RestoreError, BackupError) as exc:
        error = str(exc)
    except OSError as exc:  # the scratch directory: a drill that cannot run has failed as well
        error = f"cannot use a scratch directory: {os_reason(exc)}"
    result = DrillResult(at=at, destination=destination.describe(), backup_id=backup_id, backup_created_at=created,
                         rto_seconds=rto, rpo_seconds=rpo,
                         processes=_objectives(config, rto, rpo if error is None else None), error=error,
                         restore=restored)
    if audit is not None:
        audit(AuditKind.BACKUP.value, actor, result.record())
    if alert is not None and not result.ok:
        alert(result.summary())
    return result


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A POST turned into a GET loses its body: the operator should configure the final URL."""

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any,
                         newurl: str) -> urllib.request.Request | None:
        return None


def channel_alert(config: Config, *, wall: Callable[[], datetime], event: str = "drill.failed",
                  title: str = "Relève: restore drill failed", timeout: float = 10.0,
                  on_error: Callable[[str, str], None] | None = None) -> Callable[[str], None]:
    """An `alert` for `restore_drill` that tells every configured channel at once (no outbox: the CLI is the
    sender, and says which channel failed through `on_error(channel id, reason)`).

    Webhooks get `{"event", "at", "message"}` as JSON with `X-Releve-Event`, `X-Releve-Delivery` and
    `X-Releve-Signature` (the incident webhooks' HMAC scheme); Apprise URLs get `title` and the message.
    """
    opener = urllib.request.build_opener(_NoRedirect)

    def failed(channel: str, reason: str) -> None:
        if on_error is not None:
            on_error(channel, reason)

    def send(message: str) -> None:
        at = wall()
        body = orjson.dumps({"event": event, "at": at.isoformat(), "message": message})
        for webhook in config.webhooks:
            request = urllib.request.Request(webhook.url, data=body, method="POST", headers={
                "Content-Type": "application/json", "User-Agent": "Releve-Webhook/1", "X-Releve-Event": event,
                "X-Releve-Delivery": uuid.uuid4().hex,
                "X-Releve-Signature": sign_body(webhook.secret, body, timestamp=int(at.timestamp()))})
            try:
                with opener.open(request, timeout=timeout) as response:
                    status = response.status
            except urllib.error.HTTPError as exc:
                status = exc.code
            except (urllib.error.URLError, OSError) as exc:
                failed(channel_id("webhook", webhook.url), f"network error: {type(exc).__name__}")
                continue
            if not 200 <= status < 300:
                failed(channel_id("webhook", webhook.url), f"HTTP {status}")
        if config.notify:
            _apprise(config.notify, title, message, failed)

    return send


def _apprise(urls: list[str], title: str, message: str, failed: Callable[[str, str], None]) -> None:
    import apprise

    for url in urls:
        sender = apprise.Apprise(asset=apprise.AppriseAsset(async_mode=False))
        with warnings.catch_warnings():
            # Apprise's mail plugin imports the deprecated `imghdr`: its business, not our users'.
            warnings.filterwarnings("ignore", message="'imghdr' is deprecated", category=DeprecationWarning)
            valid = sender.add(url)
        if not valid:
            failed(channel_id("apprise", url), "Apprise does not recognise this URL")
        elif not sender.notify(body=message, title=title, notify_type=apprise.NotifyType.FAILURE,
                               body_format=apprise.NotifyFormat.TEXT):
            failed(channel_id("apprise", url), "Apprise could not deliver")
