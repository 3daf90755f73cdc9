"""The audit log in the store: one hash chain, its head, and tampering behind the store's back, on both dialects.

Tampering is done with raw SQL on a second connection, as someone with database access would.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection

from releve.protect import verify_chain, verify_store
from releve.store import AUDIT_GENESIS, AuditHead, Store, audit_hash, audit_head_signature

T0 = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)
KEY = b"audit-test-key"


def _url(database_url: str) -> str:
    return database_url.replace("postgresql://", "postgresql+psycopg://", 1)


@pytest.fixture
def raw(database_url: str) -> Iterator[Connection]:
    """A connection behind the store's back; each `execute` is committed at once."""
    engine = create_engine(_url(database_url), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def _fill(store: Store, count: int = 5, *, key: bytes | None = KEY) -> None:
    store.append_audit([(T0 + timedelta(seconds=n), "request", "gateway", {"route": "chat", "n": n})
                        for n in range(1, count + 1)], key=key)


def _broken(store: Store, *, key: bytes | None = KEY) -> tuple[int | None, str]:
    result = verify_store(store, key=key)
    assert not result.ok
    first = result.first
    assert first is not None
    return first.seq, first.what


# --- appending and reading ----------------------------------------------------------------------


def test_appends_form_a_chain_and_move_the_signed_head(store: Store) -> None:
    assert store.audit_head() is None and list(store.audit_entries()) == []
    first = store.append_audit([(T0, "config", "cli", {"sha256": "ab"})], key=KEY)
    more = store.append_audit([(T0 + timedelta(seconds=1), "incident", "monitor", {"id": "x", "status": "open"}),
                               (T0 + timedelta(seconds=2), "request", "gateway", {"route": "chat"})], key=KEY)
    entries = list(store.audit_entries())
    assert entries == first + more
    assert [e.seq for e in entries] == [1, 2, 3]
    assert entries[0].prev_hash == AUDIT_GENESIS
    assert [e.prev_hash for e in entries[1:]] == [e.hash for e in entries[:-1]]
    for e in entries:
        assert e.hash == audit_hash(e.seq, e.at, e.kind, e.actor, e.data, e.prev_hash)
    assert store.audit_head() == AuditHead(3, entries[-1].hash, audit_head_signature(KEY, 3, entries[-1].hash))
    result = verify_store(store, key=KEY)
    assert result.ok and result.checked == 3 and result.signed and (result.first_seq, result.last_seq) == (1, 3)


def test_times_keep_their_microseconds_and_data_reads_back_as_hashed(store: Store) -> None:
    at = datetime(2026, 11, 1, 10, 0, 0, 123456, tzinfo=UTC)
    paris = at.astimezone(ZoneInfo("Europe/Paris"))
    [entry] = store.append_audit([(paris, "request", "gateway",
                                   {"targets": ("a", "b"), "pii": {"email": 2}, "ratio": 0.1, "é": None})],
                                 key=None)
    assert entry.at == at and entry.at.tzinfo is UTC
    assert entry.data == {"targets": ["a", "b"], "pii": {"email": 2}, "ratio": 0.1, "é": None}
    assert list(store.audit_entries()) == [entry]
    assert store.audit_head() == AuditHead(1, entry.hash, None)
    assert verify_store(store).ok


@pytest.mark.parametrize(("entry", "message"), [
    ((datetime(2026, 11, 1), "request", "gateway", {}), "naive"),
    ((T0, "request", "gateway", ["not", "an", "object"]), "JSON object"),
    ((T0, "request", "gateway", {"x": object()}), "JSON"),
    ((T0, "", "gateway", {}), "kind"),
    ((T0, "request", "x" * 256, {}), "actor"),
])
def test_refused_entries_write_nothing(store: Store, entry: tuple[object, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        store.append_audit([(T0, "config", "cli", {}), entry], key=None)  # type: ignore[list-item]
    assert store.audit_head() is None and list(store.audit_entries()) == []
    assert store.append_audit([], key=None) == []


def test_reading_by_time_by_seq_and_in_pages(store: Store) -> None:
    _fill(store, 2500, key=None)
    assert [e.seq for e in store.audit_entries()] == list(range(1, 2501))
    assert [e.seq for e in store.audit_entries(after_seq=2490)] == list(range(2491, 2501))
    assert [e.seq for e in store.audit_entries(after_seq=10, limit=3)] == [11, 12, 13]
    assert len(list(store.audit_entries(limit=1500))) == 1500
    # `since`: from the first entry written at or after it, on (a contiguous piece of the chain).
    assert [e.seq for e in store.audit_entries(since=T0 + timedelta(seconds=2498))] == [2498, 2499, 2500]
    assert list(store.audit_entries(since=T0 + timedelta(days=1))) == []
    assert verify_store(store).ok


def test_since_keeps_the_piece_contiguous_when_clocks_disagree(store: Store) -> None:
    store.append_audit([(T0 + timedelta(seconds=s), "request", "gateway", {}) for s in (1, 5, 3, 6)], key=None)
    assert [e.seq for e in store.audit_entries(since=T0 + timedelta(seconds=4))] == [2, 3, 4]
    assert [e.seq for e in store.audit_entries(since=T0 + timedelta(seconds=4), after_seq=2)] == [3, 4]


def test_a_piece_read_with_since_verifies_from_its_first_prev_hash(store: Store) -> None:
    _fill(store, 5)
    piece = list(store.audit_entries(since=T0 + timedelta(seconds=3)))
    assert not verify_chain(piece, key=KEY, head=store.audit_head()).ok  # not from seq 1
    result = verify_chain(piece, key=KEY, head=store.audit_head(), partial=True)
    assert result.ok and result.partial and result.first_seq == 3


# --- tampering ------------------------------------------------------------------------------------


def test_edited_data_is_named(store: Store, raw: Connection) -> None:
    _fill(store)
    raw.execute(text("UPDATE audit_log SET data = :data WHERE seq = 3"), {"data": '{"n":3,"route":"other"}'})
    seq, what = _broken(store)
    assert seq == 3 and "content edited" in what
    assert len(verify_store(store, key=KEY).problems) == 1  # the next entries still link to its stored hash


@pytest.mark.parametrize(("column", "value"), [("kind", "fault"), ("actor", "someone"),
                                               ("at", datetime(2026, 11, 1, 9, 30, 3, 1))])
def test_any_edited_column_is_named(store: Store, raw: Connection, column: str, value: object) -> None:
    _fill(store)
    raw.execute(text(f"UPDATE audit_log SET {column} = :value WHERE seq = 3"), {"value": value})
    assert _broken(store)[0] == 3


def test_a_deleted_entry_is_named(store: Store, raw: Connection) -> None:
    _fill(store)
    raw.execute(text("DELETE FROM audit_log WHERE seq = 3"))
    seq, what = _broken(store)
    assert seq == 4 and "seq 3 missing (deleted)" in what


def test_a_deleted_first_entry_is_named(store: Store, raw: Connection) -> None:
    _fill(store)
    raw.execute(text("DELETE FROM audit_log WHERE seq = 1"))
    seq, what = _broken(store)
    assert seq == 2 and "starts at seq 2" in what


def _forge(raw: Connection, seq: int, prev_hash: str, *, at: datetime = T0) -> str:
    """Insert a well-formed entry, as an attacker who knows the hashing (but not the key) would."""
    data = {"route": "forged"}
    forged = audit_hash(seq, at, "request", "gateway", data, prev_hash)
    raw.execute(text("INSERT INTO audit_log (seq, at, kind, actor, data, prev_hash, hash) "
                     "VALUES (:seq, :at, 'request', 'gateway', :data, :prev, :hash)"),
                {"seq": seq, "at": at.replace(tzinfo=None) if raw.dialect.name == "sqlite" else at,
                 "data": '{"route":"forged"}', "prev": prev_hash, "hash": forged})
    return forged


def test_an_entry_inserted_in_the_middle_is_named(store: Store, raw: Connection) -> None:
    _fill(store)
    second = list(store.audit_entries())[1]
    # Make room at seq 3 (negative first: the primary key must hold row by row), then slip one in.
    raw.execute(text("UPDATE audit_log SET seq = -seq WHERE seq >= 3"))
    raw.execute(text("UPDATE audit_log SET seq = 1 - seq WHERE seq < 0"))
    _forge(raw, 3, second.hash)
    seq, what = _broken(store)
    assert seq == 3 and "inserted" in what
    problems = verify_store(store, key=KEY).problems
    assert "hashes as seq 3: renumbered" in problems[1].what


def test_an_entry_appended_behind_the_head_is_named(store: Store, raw: Connection) -> None:
    _fill(store)
    head = store.audit_head()
    assert head is not None
    _forge(raw, 6, head.hash)
    seq, what = _broken(store, key=None)  # no key needed: the head was not moved
    assert seq == 6 and "after the head" in what


def test_an_entry_appended_with_a_moved_head_needs_the_key(store: Store, raw: Connection) -> None:
    _fill(store)
    head = store.audit_head()
    assert head is not None
    forged = _forge(raw, 6, head.hash)
    raw.execute(text("UPDATE audit_head SET seq = 6, hash = :hash"), {"hash": forged})
    seq, what = _broken(store)
    assert seq == 6 and "signature does not match" in what


def test_two_swapped_entries_are_named(store: Store, raw: Connection) -> None:
    _fill(store)
    raw.execute(text("UPDATE audit_log SET seq = -1 WHERE seq = 3"))
    raw.execute(text("UPDATE audit_log SET seq = 3 WHERE seq = 4"))
    raw.execute(text("UPDATE audit_log SET seq = 4 WHERE seq = -1"))
    seq, what = _broken(store)
    assert seq == 3 and "reordered" in what


def test_a_cut_tail_is_seen_from_the_head(store: Store, raw: Connection) -> None:
    _fill(store)
    raw.execute(text("DELETE FROM audit_log WHERE seq >= 4"))
    seq, what = _broken(store, key=None)
    assert seq == 4 and "tail cut" in what and "seqs 4..5 missing" in what


def test_a_cut_tail_with_a_rewritten_head_is_seen_with_the_key_only(store: Store, raw: Connection) -> None:
    _fill(store)
    third = list(store.audit_entries())[2]
    raw.execute(text("DELETE FROM audit_log WHERE seq >= 4"))
    raw.execute(text("UPDATE audit_head SET seq = 3, hash = :hash"), {"hash": third.hash})
    assert verify_store(store).ok  # without the key, a consistent shorter log
    seq, what = _broken(store)
    assert seq == 3 and "signature does not match" in what
    raw.execute(text("UPDATE audit_head SET signature = NULL"))
    assert "not signed" in _broken(store)[1]


def test_a_deleted_head_is_named(store: Store, raw: Connection) -> None:
    _fill(store)
    raw.execute(text("DELETE FROM audit_head"))
    assert "head is missing" in _broken(store, key=None)[1]
    # The next append continues the chain after the last entry there is.
    store.append_audit([(T0, "backup", "cli", {})], key=KEY)
    assert verify_store(store, key=KEY).ok


def test_appends_after_a_cut_tail_keep_the_evidence(store: Store, raw: Connection) -> None:
    _fill(store)
    raw.execute(text("DELETE FROM audit_log WHERE seq = 5"))
    store.append_audit([(T0, "backup", "cli", {})], key=KEY)
    seq, what = _broken(store)
    assert seq == 6 and "seq 5 missing" in what


# --- several processes --------------------------------------------------------------------------


def test_two_stores_appending_from_threads_make_one_chain(database_url: str) -> None:
    stores = [Store(database_url) for _ in range(2)]
    for store in stores:
        store.open()
    rounds, per_round = 25, 4
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def append(store: Store, who: str) -> None:
        barrier.wait()
        try:
            for n in range(rounds):
                store.append_audit([(T0, "request", who, {"n": n, "i": i}) for i in range(per_round)], key=KEY)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=append, args=(store, f"{name}{n}"))
               for n, store in enumerate(stores) for name in ("a", "b")]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        entries = list(stores[0].audit_entries())
        assert len(entries) == 4 * rounds * per_round
        # Each append's entries are contiguous: one transaction under the lock.
        for start in range(0, len(entries), per_round):
            assert len({e.actor for e in entries[start:start + per_round]}) == 1
        result = verify_store(stores[1], key=KEY)
        assert result.ok and result.checked == len(entries)
    finally:
        for store in stores:
            store.close()
