"""The loop every store-backed worker runs: do one pass, then wait for a wake-up or the next poll.

The notifier, the job runner and the batch runner all claim work from the store this way. An
unreachable store is said once, not at every poll, and the loop keeps trying.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

__all__ = ["poll_store"]


async def poll_store(step: Callable[[], Awaitable[object]], *, wake: asyncio.Event, every: float,
                     stopping: Callable[[], bool], what: str, logger: logging.Logger) -> None:
    """Run `step` at once, then whenever `wake` is set or `every` seconds passed, until `stopping()`."""
    failing = False
    while not stopping():
        wake.clear()
        try:
            await step()
        except Exception:
            if not failing:
                logger.exception("%s unavailable; retrying every %g s", what, every)
            failing = True
        else:
            if failing:
                logger.info("%s available again", what)
            failing = False
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(every):
                await wake.wait()
