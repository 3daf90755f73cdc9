"""The audit log across a real PostgreSQL outage: past its memory bound it spools to disk, drops nothing, and
writes everything in order, one valid chain, once the database answers again (no restart).

The database is the test's own, reached through a TCP proxy the test cuts and restores.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import make_url

from releve.protect import AuditLog, AuditSpool, verify_store
from releve.store import Store
from support.postgres import postgres_database
from support.tcp_proxy import TcpProxy

KEY = b"outage-key"
BOUND = 50


@pytest.fixture
def proxied_store() -> Iterator[tuple[TcpProxy, Store, Store]]:
    """(proxy, a store through the proxy, a store straight to the database for checking)."""
    with postgres_database() as url:
        target = make_url(url)
        with TcpProxy(target.host or "127.0.0.1", target.port or 5432) as proxy:
            through, direct = Store(proxy.url_for(url)), Store(url)
            through.open()
            direct.open()
            try:
                yield proxy, through, direct
            finally:
                through.close()
                direct.close()


async def until(check: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout:g} s")
        await asyncio.sleep(0.02)


def test_entries_recorded_while_the_database_is_cut_wait_on_disk_and_all_arrive_in_order(
        proxied_store: tuple[TcpProxy, Store, Store], tmp_path: Path) -> None:
    proxy, through, direct = proxied_store
    spool = AuditSpool(tmp_path / "spool", "replica:1")
    log = AuditLog(through, key=KEY, wall=lambda: datetime.now(UTC), flush_every=0.05, batch=10,
                   max_pending=BOUND, spool=spool)

    async def scenario() -> dict[str, int]:
        seen: dict[str, int] = {}
        await log.start()
        for n in range(20):
            log.record("incident", "before", {"n": n})
        await until(lambda: log.pending == 0, 10, "the first 20 entries written")
        proxy.cut()
        seen["memory_at_most"] = 0
        for n in range(300):  # 300 entries over about 1.5 s while the writer keeps trying
            log.record("incident", "during", {"n": n})
            seen["memory_at_most"] = max(seen["memory_at_most"], log.pending - log.spooled)
            await asyncio.sleep(0.005)
        seen["spooled"] = log.spooled
        proxy.restore()
        started = time.monotonic()
        await until(lambda: log.pending == 0, 30, "the spooled entries written after the database came back")
        seen["drained_ms"] = round((time.monotonic() - started) * 1000)
        await log.close()
        return seen

    seen = asyncio.run(scenario())
    print(f"\n{seen}")
    assert seen["spooled"] > 0, "the outage outlasted the memory bound: entries must have gone to disk"
    assert seen["memory_at_most"] <= BOUND
    entries = [(entry.actor, entry.data["n"]) for entry in direct.audit_entries()]
    assert entries == [*(("before", n) for n in range(20)), *(("during", n) for n in range(300))]
    assert verify_store(direct, key=KEY).ok
    assert list((tmp_path / "spool").glob("audit-*")) == []
