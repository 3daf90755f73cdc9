"""AuditLog: entries are checked at once, buffered, written in order off the request path, never dropped."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest

from releve.errors import StoreError
from releve.protect import REQUEST_FIELDS, AuditKind, AuditLog, audit_key, request_record, verify_store
from releve.store import AuditEntry, Store, audit_head_signature
from support.clocks import T0
from support.clocks import SteppingWall as Wall

KEY = b"audit-test-key"


async def eventually(check: Any, timeout: float = 5.0) -> None:
    """Wait for the background writer (it runs on real time), without sleeping longer than needed."""
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.005)


class FlakyStore:
    """Refuses the first `failures` writes; records what it was given."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.calls: list[list[tuple[datetime, str, str, Mapping[str, Any]]]] = []
        self.written: list[tuple[datetime, str, str, Mapping[str, Any]]] = []
        self.gate: threading.Event | None = None

    def append_audit(self, entries: Sequence[tuple[datetime, str, str, Mapping[str, Any]]], *,
                     key: bytes | None) -> list[AuditEntry]:
        self.calls.append(list(entries))
        if self.gate is not None:
            self.gate.wait(5)
        if self.failures:
            self.failures -= 1
            raise StoreError("database is locked")
        self.written += entries
        return []


async def test_appends_are_buffered_then_written_in_order(store: Store) -> None:
    wall = Wall()
    log = AuditLog(store, key=KEY, wall=wall)
    await log.append(AuditKind.CONFIG, "cli", {"sha256": "ab"})
    await log.append("incident", "monitor", {"id": "x", "status": "investigating"})
    assert log.pending == 2 and store.audit_head() is None
    assert await log.flush() == 2
    assert await log.flush() == 0
    entries = list(store.audit_entries())
    assert [(e.seq, e.kind, e.actor, e.at) for e in entries] == [
        (1, "config", "cli", T0 + timedelta(seconds=1)), (2, "incident", "monitor", T0 + timedelta(seconds=2))]
    head = store.audit_head()
    assert head is not None and head.signature == audit_head_signature(KEY, 2, entries[-1].hash)
    assert log.pending == 0 and verify_store(store, key=KEY).ok


async def test_the_background_writer_flushes_on_time(store: Store) -> None:
    log = AuditLog(store, key=None, wall=Wall(), flush_every=0.01)
    await log.start()
    await log.start()  # once
    try:
        await log.append("fault", "drill", {"target": "a", "kind": "status"})
        # The head is committed a moment before the writer counts the entry as written: wait for both.
        await eventually(lambda: store.audit_head() is not None and log.pending == 0)
    finally:
        await log.close()


async def test_a_full_batch_is_written_without_waiting_for_the_timer(store: Store) -> None:
    log = AuditLog(store, key=None, wall=Wall(), flush_every=3600, batch=3)
    await log.start()
    try:
        for n in range(3):
            await log.append("request", "gateway", request_record(route="chat", outcome="served", status=200 + n))
        await eventually(lambda: (head := store.audit_head()) is not None and head.seq == 3)
    finally:
        await log.close()


async def test_close_writes_what_is_left(store: Store) -> None:
    log = AuditLog(store, key=None, wall=Wall(), flush_every=3600)
    await log.start()
    await log.append("backup", "cli", {"file": "x"})
    await log.close()
    assert [e.kind for e in store.audit_entries()] == ["backup"]
    never_started = AuditLog(store, key=None, wall=Wall())
    await never_started.append("erasure", "cli:alice", {"subject": "h:1234", "rows": 3})
    await never_started.close()
    assert [e.seq for e in store.audit_entries()] == [1, 2] and verify_store(store).ok


async def test_a_failing_store_keeps_the_entries_and_says_so_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="releve.protect.audit")
    flaky = FlakyStore(failures=3)
    log = AuditLog(flaky, key=None, wall=Wall(), flush_every=0.01)  # type: ignore[arg-type]
    await log.append("config", "cli", {"n": 1})
    await log.append("config", "cli", {"n": 2})
    await log.start()
    await eventually(lambda: len(flaky.written) == 2)
    await log.close()
    assert [entry[3]["n"] for entry in flaky.written] == [1, 2]
    assert len(flaky.calls) == 4
    failures = [r for r in caplog.records if r.name == "releve.protect.audit" and "not written" in r.getMessage()]
    assert len(failures) == 1 and any("written again" in r.getMessage() for r in caplog.records)


async def test_flush_raises_and_keeps_the_entries() -> None:
    flaky = FlakyStore(failures=1)
    log = AuditLog(flaky, key=None, wall=Wall())  # type: ignore[arg-type]
    await log.append("config", "cli", {})
    with pytest.raises(StoreError):
        await log.flush()
    assert log.pending == 1
    assert await log.flush() == 1 and log.pending == 0


async def test_appends_made_during_a_write_wait_for_the_next_one() -> None:
    flaky = FlakyStore()
    flaky.gate = threading.Event()
    log = AuditLog(flaky, key=None, wall=Wall())  # type: ignore[arg-type]
    await log.append("config", "cli", {"n": 1})
    writing = asyncio.create_task(log.flush())
    await eventually(lambda: len(flaky.calls) == 1)
    await log.append("config", "cli", {"n": 2})
    flaky.gate.set()
    assert await writing == 2  # the flush keeps going until the buffer is empty
    assert [entry[3]["n"] for entry in flaky.written] == [1, 2] and [len(c) for c in flaky.calls] == [1, 1]


async def test_a_full_buffer_makes_append_wait_for_a_write() -> None:
    flaky = FlakyStore(failures=1)
    log = AuditLog(flaky, key=None, wall=Wall(), batch=2, max_pending=3)  # type: ignore[arg-type]
    for n in range(2):
        await log.append("config", "cli", {"n": n})
    with pytest.raises(StoreError):
        await log.append("config", "cli", {"n": 2})
    assert log.pending == 3  # nothing dropped
    await log.append("config", "cli", {"n": 3})
    assert log.pending == 0 and [entry[3]["n"] for entry in flaky.written] == [0, 1, 2, 3]


def test_append_now_writes_at_once(store: Store) -> None:
    log = AuditLog(store, key=KEY, wall=Wall())
    entry = log.append_now("incident", "cli:alice", {"id": "abc", "status": "resolved"})
    assert entry.seq == 1 and list(store.audit_entries()) == [entry] and verify_store(store, key=KEY).ok


@pytest.mark.parametrize(("kind", "actor", "data", "message"), [
    ("gossip", "cli", {}, "unknown audit kind 'gossip'"),
    ("config", "", {}, "actor"),
    ("config", "cli", ["a"], "mapping"),
    ("config", "cli", {"x": object()}, "JSON"),
    ("request", "gateway", {"route": "chat", "messages": [{"content": "secret"}]},
     "never content: unexpected field\\(s\\) messages"),
])
async def test_bad_entries_are_refused_at_the_call(store: Store, kind: str, actor: str, data: Any,
                                                   message: str) -> None:
    log = AuditLog(store, key=None, wall=Wall())
    with pytest.raises(ValueError, match=message):
        await log.append(kind, actor, data)
    with pytest.raises(ValueError, match=message):
        log.append_now(kind, actor, data)
    assert log.pending == 0 and store.audit_head() is None


async def test_the_wall_clock_must_be_aware(store: Store) -> None:
    log = AuditLog(store, key=None, wall=lambda: datetime(2026, 11, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        await log.append("config", "cli", {})


def test_request_records_hold_routing_facts_only() -> None:
    record = request_record(client="k_1", client_name="support-bot", route="chat", targets=("azure-fr", "mistral"),
                            regions=["eu-west", "eu"], data_class="personal", pii={"email": 2, "iban": 1},
                            outcome="fallback", status=200, request_id="req_1")
    assert set(record) == REQUEST_FIELDS
    assert record["targets"] == ["azure-fr", "mistral"] and record["pii"] == {"email": 2, "iban": 1}
    assert request_record(route="chat", outcome="failed")["targets"] == []


def test_the_key_comes_from_the_environment() -> None:
    assert audit_key({"RELEVE_AUDIT_KEY": "s3cret"}) == b"s3cret"
    assert audit_key({"RELEVE_AUDIT_KEY": ""}) is None
    assert audit_key({}) is None
