"""Providers' own status pages (Atlassian Statuspage v2 `summary.json`), read on a timer.

A provider often knows before we do that a region is failing, and customers
read its page too: its word is one more signal, never the only one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import aiohttp
import orjson

from releve.store import ComponentStatus

__all__ = ["FeedPoller", "feed_status"]

logger = logging.getLogger("releve.monitor")

_INDICATOR = {
    "none": ComponentStatus.OPERATIONAL,
    "minor": ComponentStatus.DEGRADED_PERFORMANCE,
    "major": ComponentStatus.PARTIAL_OUTAGE,
    "critical": ComponentStatus.MAJOR_OUTAGE,
    "maintenance": ComponentStatus.UNDER_MAINTENANCE,
}


def feed_status(summary: Any) -> ComponentStatus | None:
    """The page's overall indicator as a component status; None when the document is not a Statuspage summary."""
    if not isinstance(summary, dict):
        return None
    status = summary.get("status")
    indicator = status.get("indicator") if isinstance(status, dict) else None
    return _INDICATOR.get(indicator) if isinstance(indicator, str) else None


class FeedPoller:
    """Keeps `latest[provider]`: the last status read, or None when the feed could not be read."""

    def __init__(self, feeds: Mapping[str, str], every: float, timeout: float = 10.0) -> None:
        self._feeds = dict(feeds)
        self._every = every
        self._timeout = timeout
        self.latest: dict[str, ComponentStatus | None] = dict.fromkeys(feeds)
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self._failing: set[str] = set()

    def start(self) -> None:
        """Start reading (again after `close()`: what was read before then is forgotten)."""
        if not self._feeds or self._task is not None:
            return
        self.latest.update(dict.fromkeys(self._feeds))
        self._failing.clear()
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self._timeout),
                                              headers={"User-Agent": "Releve-Monitor/1"})
        self._task = asyncio.create_task(self._loop(), name="releve-status-feeds")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def poll(self) -> None:
        await asyncio.gather(*(self._read(provider, url) for provider, url in self._feeds.items()))

    async def _read(self, provider: str, url: str) -> None:
        assert self._session is not None
        try:
            async with self._session.get(url) as response:
                response.raise_for_status()
                status = feed_status(orjson.loads(await response.read()))
        except (aiohttp.ClientError, OSError, TimeoutError, orjson.JSONDecodeError) as exc:
            if provider not in self._failing:
                logger.warning("status feed of %s unreadable (%s): ignoring it until it answers", provider,
                               type(exc).__name__)
            self._failing.add(provider)
            self.latest[provider] = None
            return
        self._failing.discard(provider)
        self.latest[provider] = status

    async def _loop(self) -> None:
        while True:
            await self.poll()
            await asyncio.sleep(self._every)
