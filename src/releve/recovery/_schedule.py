"""Backups and restore drills on a timer, run by `releve up`'s lead process.

Each run goes to a worker thread (a backup reads the whole database, a drill
restores it): the event loop keeps serving. Failures are logged and alerted
through the notification channels; the next run happens on time anyway.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from releve.config import Config

from ._backup import create_backup
from ._backup_prune import prune_backups
from ._destinations import Destination, open_destination
from ._restore_drill import channel_alert, restore_drill

__all__ = ["RecoverySchedule"]

logger = logging.getLogger("releve.recovery")


class RecoverySchedule:
    def __init__(self, config: Config, *, environ: Mapping[str, str], wall: Callable[[], datetime],
                 audit: Callable[[str, str, dict[str, Any]], object] | None = None) -> None:
        self._config = config
        self._environ = dict(environ)
        self._wall = wall
        self._audit = audit
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        if self._config.backup.every is not None:
            self._tasks.append(asyncio.create_task(self._every(self._config.backup.every, self.backup_now),
                                                   name="releve-backups"))
        if self._config.drills.restore.every is not None:
            self._tasks.append(asyncio.create_task(self._every(self._config.drills.restore.every, self.drill_now),
                                                   name="releve-restore-drills"))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def _every(self, seconds: float, run: Callable[[], None]) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await asyncio.to_thread(run)
            except Exception:
                logger.exception("scheduled recovery task failed; it runs again in %gs", seconds)

    def _destination(self) -> Destination:
        return open_destination(self._config.backup.to, endpoint_url=self._config.backup.endpoint_url)

    def backup_now(self) -> None:
        """One backup, then pruning by `backup.keep`; a failure is alerted."""
        destination = self._destination()
        try:
            manifest = create_backup(self._config, destination, environ=self._environ, wall=self._wall,
                                     audit=self._audit, actor="schedule")
        except Exception as exc:
            channel_alert(self._config, wall=self._wall, event="backup.failed",
                          title="Relève: scheduled backup failed")(f"Scheduled backup failed: {exc}")
            raise
        logger.info("scheduled backup %s written", manifest.id)
        keep = self._config.backup.keep
        prune_backups(destination, hourly=keep.hourly, daily=keep.daily, weekly=keep.weekly, now=self._wall(),
                      audit=self._audit, actor="schedule")

    def drill_now(self) -> None:
        result = restore_drill(self._config, self._destination(), environ=self._environ, wall=self._wall,
                               alert=channel_alert(self._config, wall=self._wall), audit=self._audit,
                               actor="schedule")
        logger.log(logging.INFO if result.ok else logging.WARNING, "scheduled restore drill: %s", result.summary())
