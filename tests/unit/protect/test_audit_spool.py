"""The audit spool: past the memory bound, entries wait on disk, in order, and outlive their process."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from releve.errors import StoreError
from releve.protect import AuditLog, AuditSpool, verify_store
from releve.store import AuditEntry, Store
from support.clocks import T0
from support.clocks import SteppingWall as Wall

KEY = b"audit-spool-key"


class Outage:
    """A real store that refuses audit writes while `down` is set, as an unreachable database would."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.down = False

    def append_audit(self, entries: Sequence[tuple[datetime, str, str, Mapping[str, Any]]], *,
                     key: bytes | None) -> list[AuditEntry]:
        if self.down:
            raise StoreError("connection refused")
        return self.store.append_audit(entries, key=key)


def written(store: Store) -> list[tuple[str, int]]:
    """(actor, n) of every entry in the store, in chain order."""
    return [(entry.actor, entry.data["n"]) for entry in store.audit_entries()]


def spool_files(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.glob("audit-*.jsonl")) if directory.exists() else []


async def test_past_the_bound_entries_wait_on_disk_and_reach_the_store_in_order(store: Store, tmp_path: Path) -> None:
    outage = Outage(store)
    spool = AuditSpool(tmp_path / "spool", "replica:1:ab")
    log = AuditLog(outage, key=KEY, wall=Wall(), batch=5, max_pending=10, spool=spool)  # type: ignore[arg-type]
    outage.down = True
    for n in range(35):
        log.record("incident", "gateway", {"n": n})
        if n % 7 == 6:  # the background writer's tries, refused
            with pytest.raises(StoreError):
                await log.flush()
    assert log.pending == 35
    assert log.pending - log.spooled < 10, "memory holds no more than the bound"
    assert spool_files(tmp_path / "spool") == ["audit-replica_1_ab.jsonl"]

    outage.down = False
    assert await log.flush() == 35
    assert written(store) == [("gateway", n) for n in range(35)]
    assert verify_store(store, key=KEY).ok
    assert log.pending == 0 and log.spooled == 0
    assert (tmp_path / "spool" / "audit-replica_1_ab.jsonl").stat().st_size == 0  # kept, locked, for next time
    await log.close()
    assert spool_files(tmp_path / "spool") == []


async def test_stopping_while_the_store_is_away_leaves_the_entries_to_the_next_start(store: Store,
                                                                                    tmp_path: Path) -> None:
    outage = Outage(store)
    outage.down = True
    first = AuditLog(outage, key=KEY, wall=Wall(), spool=AuditSpool(tmp_path / "spool", "first"))  # type: ignore[arg-type]
    for n in range(12):
        first.record("incident", "first", {"n": n})
    await first.close()  # the store refuses the last flush: memory goes to disk instead of being lost
    assert spool_files(tmp_path / "spool") == ["audit-first.jsonl"]

    outage.down = False
    second = AuditLog(outage, key=KEY, wall=Wall(), spool=AuditSpool(tmp_path / "spool", "second"))  # type: ignore[arg-type]
    await second.start()
    assert second.spooled == 12
    second.record("incident", "second", {"n": 0})
    await second.close()
    assert written(store) == [*(("first", n) for n in range(12)), ("second", 0)]
    assert verify_store(store, key=KEY).ok
    assert spool_files(tmp_path / "spool") == []


def test_an_adopter_resumes_where_the_dead_writer_stopped(store: Store, tmp_path: Path) -> None:
    wall = Wall()
    dead = AuditSpool(tmp_path, "dead")
    dead.spill([(wall(), "request", "dead", {"n": n}) for n in range(30)])
    chunk = dead.next_chunk(10)
    assert chunk is not None and [e[3]["n"] for e in chunk.entries] == list(range(10))
    store.append_audit(chunk.entries, key=None)
    dead.written(chunk)
    dead.close()  # its lock goes, its 20 unwritten entries stay

    heir = AuditSpool(tmp_path, "heir")
    assert heir.adopt() == 20
    rest = heir.next_chunk(100)
    assert rest is not None and [e[3]["n"] for e in rest.entries] == list(range(10, 30))
    assert rest.entries[0][0] == T0 + timedelta(seconds=11), "entries keep the time they were appended"
    heir.written(rest)
    assert heir.waiting == 0 and spool_files(tmp_path) == []


_WRITER = textwrap.dedent("""
    import sys, time
    from datetime import UTC, datetime
    from pathlib import Path
    from releve.protect import AuditSpool
    spool = AuditSpool(Path(sys.argv[1]), "writer:4242")
    spool.spill([(datetime.now(UTC), "request", "writer", {"n": n}) for n in range(50)])
    print("spilled", flush=True)
    time.sleep(60)
""")


async def test_a_spool_left_by_a_killed_process_is_adopted_once_and_written_first(store: Store,
                                                                                  tmp_path: Path) -> None:
    directory = tmp_path / "spool"
    writer = subprocess.Popen([sys.executable, "-c", _WRITER, str(directory)], stdout=subprocess.PIPE)
    try:
        assert writer.stdout is not None and writer.stdout.readline() == b"spilled\n"
        assert AuditSpool(directory, "too-early").adopt() == 0, "a live writer's spool is its own"
    finally:
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait(10)
        if writer.stdout is not None:
            writer.stdout.close()

    heir = AuditSpool(directory, "heir")
    rival = AuditSpool(directory, "rival")
    log = AuditLog(store, key=KEY, wall=Wall(), spool=heir)
    await log.start()
    assert rival.adopt() == 0, "one adopter only: the heir holds the lock now"
    log.record("incident", "heir", {"n": 0})
    await log.close()
    assert written(store) == [*(("writer", n) for n in range(50)), ("heir", 0)]
    assert verify_store(store, key=KEY).ok
    assert spool_files(directory) == []


class HungStore:
    """A database that does not answer: each write hangs `seconds`, then fails (a partition, not a refusal)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def append_audit(self, entries: Sequence[tuple[datetime, str, str, Mapping[str, Any]]], *,
                     key: bytes | None) -> list[AuditEntry]:
        time.sleep(self.seconds)
        raise StoreError("server closed the connection unexpectedly")


async def test_writes_that_hang_do_not_hold_memory_past_its_bound_once_the_first_has_failed(tmp_path: Path) -> None:
    store = HungStore(0.1)
    log = AuditLog(store, key=None, wall=Wall(), flush_every=0.01, batch=10, max_pending=50,  # type: ignore[arg-type]
                   spool=AuditSpool(tmp_path / "spool", "hung"))
    await log.start()
    try:
        log.record("incident", "t", {"n": -1})
        async with asyncio.timeout(5):  # the first write (of memory) hangs, then fails: memory goes to the spool
            while not log.spooled:
                await asyncio.sleep(0.01)
        most = 0
        for n in range(1000):
            log.record("incident", "t", {"n": n})
            most = max(most, log.pending - log.spooled)
            if n % 20 == 0:
                await asyncio.sleep(0.005)
    finally:
        await log.close()
    assert most <= 50, f"{most} entries in memory with a bound of 50"
    assert log.spooled == 1001


def test_a_spill_cut_short_by_a_full_disk_leaves_no_partial_line(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    wall = Wall()
    spool = AuditSpool(tmp_path, "full")
    spool.spill([(wall(), "incident", "t", {"n": 0})])
    real_pwrite = os.pwrite

    def half_then_enospc(fd: int, data: bytes, offset: int) -> int:
        real_pwrite(fd, data[:len(data) // 2], offset)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "pwrite", half_then_enospc)
    with pytest.raises(OSError):
        spool.spill([(wall(), "incident", "t", {"n": n}) for n in (1, 2)])
    monkeypatch.setattr(os, "pwrite", real_pwrite)
    spool.spill([(wall(), "incident", "t", {"n": 3})])
    chunk = spool.next_chunk(10)
    assert chunk is not None and [entry[3]["n"] for entry in chunk.entries] == [0, 3]
    assert spool.unreadable == 0


async def test_unreadable_lines_left_by_a_crash_are_set_aside_and_the_rest_is_written(store: Store,
                                                                                      tmp_path: Path) -> None:
    good = [orjson.dumps({"at": (T0 + timedelta(seconds=n)).isoformat(), "kind": "incident", "actor": "dead",
                          "data": {"n": n}}) + b"\n" for n in range(3)]
    (tmp_path / "audit-dead.jsonl").write_bytes(good[0] + b"\0" * 40 + b"\n" + good[1] + good[2] + b'{"at": "20')
    log = AuditLog(store, key=KEY, wall=Wall(), spool=AuditSpool(tmp_path, "heir"))
    await log.start()
    assert log.spooled == 5  # counted as lines: the garbage and the torn tail included
    await log.close()
    assert written(store) == [("dead", 0), ("dead", 1), ("dead", 2)]
    assert verify_store(store, key=KEY).ok
    assert log.unreadable == 2 and log.pending == 0
    assert len((tmp_path / "audit-dead.jsonl.bad").read_bytes().splitlines()) == 2
    assert spool_files(tmp_path) == []


async def test_progress_that_cannot_be_noted_on_disk_does_not_write_entries_twice(
        store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    outage = Outage(store)
    outage.down = True
    log = AuditLog(outage, key=KEY, wall=Wall(), batch=5, max_pending=5,  # type: ignore[arg-type]
                   spool=AuditSpool(tmp_path, "p"))
    for n in range(5):
        log.record("incident", "t", {"n": n})
    assert log.spooled == 5
    outage.down = False

    def no_rename(src: object, dst: object) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "replace", no_rename)
    assert await log.flush() == 5
    assert await log.flush() == 0
    assert written(store) == [("t", n) for n in range(5)]


async def test_a_spool_that_cannot_be_written_is_reported_once_and_entries_stay_in_memory(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the spool directory should be")
    outage = Outage(None)  # type: ignore[arg-type]
    outage.down = True
    log = AuditLog(outage, key=None, wall=Wall(), batch=5, max_pending=5,  # type: ignore[arg-type]
                   spool=AuditSpool(blocked / "spool", "p"))
    with caplog.at_level(logging.ERROR, logger="releve.protect.audit"):
        for n in range(200):
            log.record("incident", "t", {"n": n})
    assert len([r for r in caplog.records if r.levelno >= logging.ERROR]) == 1, "one error, not one per entry"
    assert log.pending == 200 and log.spooled == 0  # nothing lost: memory keeps what the disk would not take
