"""The gateway's `Deferrer`: a request nobody could answer becomes a job in the store, then the 202 is sent."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from releve.gateway import DeferredJob
from releve.gateway.providers import Operation
from releve.store import Store

from ._runner import JobRunner

__all__ = ["StoreDeferrer"]


class StoreDeferrer:
    """Writes the job (committed before `defer` returns, so the 202 never promises what a crash could lose)
    and wakes the runner, so a job whose route is healthy again runs without waiting for the next poll.

    `max_age_for(route)`: seconds a job of that route may wait for a target (`defer_max_age`).
    """

    def __init__(self, store: Store, runner: JobRunner, *, wall: Callable[[], datetime],
                 max_age_for: Callable[[str], float]) -> None:
        self._store = store
        self._runner = runner
        self._wall = wall
        self._max_age_for = max_age_for

    async def defer(self, *, route: str, operation: Operation, body: dict[str, Any], client: str | None,
                    callback_url: str | None, subject: str | None = None) -> DeferredJob:
        """`subject`: the data subject (x-releve-subject) kept on the job, so it can be exported and erased."""
        at = self._wall()
        expires_at = at + timedelta(seconds=self._max_age_for(route))
        job = await asyncio.to_thread(self._store.create_job, route=route, operation=operation.value, body=body,
                                      client=client, callback_url=callback_url, at=at, expires_at=expires_at,
                                      subject=subject)
        self._runner.wake()
        return DeferredJob(id=job.id, status=job.status.value, created_at=job.created_at,
                           location=f"/v1/jobs/{job.id}")
