"""Verifying audit chains and their JSONL exports: every kind of tampering is named where it happened."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest

from releve.protect import ChainVerifier, Problem, VerifyResult, export_lines, verify_chain, verify_export
from releve.store import AUDIT_GENESIS, AuditEntry, AuditHead, Store, audit_at, audit_hash, audit_head_signature

T0 = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)
KEY = b"audit-test-key"


def chain(count: int = 5) -> list[AuditEntry]:
    """A valid chain, built with the store's own hashing."""
    entries: list[AuditEntry] = []
    prev = AUDIT_GENESIS
    for seq in range(1, count + 1):
        at, data = T0 + timedelta(seconds=seq), {"route": "chat", "n": seq}
        entry_hash = audit_hash(seq, at, "request", "gateway", data, prev)
        entries.append(AuditEntry(seq, at, "request", "gateway", data, prev, entry_hash))
        prev = entry_hash
    return entries


def head(entries: list[AuditEntry], key: bytes | None = KEY) -> AuditHead:
    last = entries[-1]
    return AuditHead(last.seq, last.hash, audit_head_signature(key, last.seq, last.hash) if key else None)


def first(result: VerifyResult) -> Problem:
    assert not result.ok
    assert result.first is not None
    return result.first


@pytest.fixture
def export(store: Store) -> bytes:
    store.append_audit([(T0 + timedelta(seconds=n), "request", "gateway",
                         {"route": "chat", "pii": {"email": n}, "note": "é"}) for n in range(1, 4)], key=KEY)
    return b"".join(export_lines(store))


# --- what is hashed -------------------------------------------------------------------------------


def test_the_hash_is_sha256_of_the_canonical_content() -> None:
    content = (b'{"actor":"cli","at":"2026-11-01T09:30:00.000000Z","data":{"a":[1,2],"b":{"x":1,"y":null}},'
               b'"kind":"config","prev_hash":"' + AUDIT_GENESIS.encode() + b'","seq":1}')
    assert audit_hash(1, T0, "config", "cli", {"b": {"y": None, "x": 1}, "a": [1, 2]}, AUDIT_GENESIS) == \
        hashlib.sha256(content).hexdigest()
    assert audit_at(T0.astimezone(ZoneInfo("Europe/Paris"))) == "2026-11-01T09:30:00.000000Z"
    assert audit_at("as read from a file") == "as read from a file"
    with pytest.raises(ValueError, match="naive"):
        audit_at(datetime(2026, 11, 1))


# --- chains of values -----------------------------------------------------------------------------


def test_a_valid_chain_verifies_with_and_without_its_head() -> None:
    entries = chain()
    assert verify_chain(entries) == VerifyResult(ok=True, checked=5, problems=[], first_seq=1, last_seq=5)
    result = verify_chain(entries, key=KEY, head=head(entries))
    assert result.ok and result.signed
    assert verify_chain(entries, head=tuple(head(entries, None))).ok
    assert verify_chain(entries, key=KEY, head={"seq": 5, "hash": entries[-1].hash,
                                                "signature": head(entries).signature}).ok
    assert verify_chain([]).ok and verify_chain([], head=None, key=KEY).ok


def test_dicts_verify_like_values() -> None:
    as_dicts = [{"seq": e.seq, "at": audit_at(e.at), "kind": e.kind, "actor": e.actor, "data": e.data,
                 "prev_hash": e.prev_hash, "hash": e.hash} for e in chain()]
    assert verify_chain(as_dicts).ok
    as_dicts[1]["at"] = "2026-11-01T09:30:02.000000+00:00"  # the same instant, written otherwise: not as hashed
    assert first(verify_chain(as_dicts)).seq == 2


def test_an_edited_entry_is_named() -> None:
    entries = chain()
    entries[2] = AuditEntry(**{**_fields(entries[2]), "data": {"route": "other", "n": 3}})
    problem = first(verify_chain(entries))
    assert (problem.position, problem.seq) == (3, 3) and "content edited" in problem.what
    assert str(problem).startswith("entry 3 (seq 3): content edited")


def _fields(entry: AuditEntry) -> dict[str, Any]:
    return {name: getattr(entry, name) for name in AuditEntry.__slots__}


def test_a_deleted_entry_is_named() -> None:
    entries = chain()
    del entries[2]
    problem = first(verify_chain(entries))
    assert problem.seq == 4 and problem.what == "seq 3 missing (deleted)"
    assert first(verify_chain(chain()[2:])).what == "the log starts at seq 3: seqs 1..2 missing (deleted)"


def test_reordered_entries_are_named() -> None:
    entries = chain()
    entries[1], entries[2] = entries[2], entries[1]
    result = verify_chain(entries)
    assert [p.seq for p in result.problems] == [3, 2]
    assert result.problems[0].what == "out of order (reordered): seq 3 comes before seq 2"
    assert result.problems[1].what == "out of order (reordered): seq 2 comes after seq 3"


def test_a_duplicated_entry_is_named() -> None:
    entries = chain()
    entries.insert(2, entries[1])
    problem = first(verify_chain(entries))
    assert (problem.position, problem.seq, problem.what) == (3, 2, "seq 2 appears twice")


def test_a_replaced_entry_with_a_fresh_hash_is_named_at_the_next() -> None:
    entries = chain()
    old = entries[2]
    data = {"route": "forged"}
    entries[2] = AuditEntry(3, old.at, old.kind, old.actor, data, old.prev_hash,
                            audit_hash(3, old.at, old.kind, old.actor, data, old.prev_hash))
    problem = first(verify_chain(entries))
    assert problem.seq == 4 and "prev_hash is not the hash of seq 3" in problem.what


def test_the_first_entry_must_start_from_genesis() -> None:
    entries = chain(1)
    forged = AuditEntry(1, T0, "config", "cli", {}, "f" * 64, audit_hash(1, T0, "config", "cli", {}, "f" * 64))
    assert verify_chain(entries).ok
    assert "genesis" in first(verify_chain([forged])).what


def test_the_head_shows_a_cut_tail_and_entries_past_it() -> None:
    entries = chain()
    problem = first(verify_chain(entries[:3], head=head(entries, None)))
    assert (problem.position, problem.seq) == (4, 4)
    assert problem.what == "tail cut: the head is seq 5 but the last entry is seq 3: seqs 4..5 missing"
    problem = first(verify_chain(entries, head=head(entries[:3], None)))
    assert (problem.position, problem.seq) == (4, 4) and "after the head" in problem.what
    assert "no entry" in first(verify_chain([], head=head(entries, None))).what
    moved = AuditHead(5, entries[3].hash, None)
    assert "the last entry was replaced" in first(verify_chain(entries, head=moved)).what


def test_with_a_key_the_head_must_be_signed_by_it() -> None:
    entries = chain()
    cut = entries[:3]
    assert verify_chain(cut, head=head(cut, b"attacker")).ok  # without the key nobody can tell
    assert "signature does not match" in first(verify_chain(cut, key=KEY, head=head(cut, b"attacker"))).what
    assert "not signed" in first(verify_chain(cut, key=KEY, head=head(cut, None))).what


def test_a_partial_chain_is_checked_from_its_first_prev_hash() -> None:
    entries = chain()
    result = verify_chain(entries[2:], key=KEY, head=head(entries), partial=True)
    assert result.ok and result.partial and (result.first_seq, result.last_seq) == (3, 5)
    assert not verify_chain(entries, partial=True).partial  # it starts at seq 1 anyway


@pytest.mark.parametrize(("bad", "what"), [
    ([1, 2], "a JSON object expected"),
    ({"seq": 1}, "missing at, kind"),
    ({"seq": 1, "at": "x", "kind": "k", "actor": "a", "data": {}, "prev_hash": "p", "hash": "h", "more": 1},
     "unexpected more"),
    ({"seq": "1", "at": "x", "kind": "k", "actor": "a", "data": {}, "prev_hash": "p", "hash": "h"}, "seq"),
    ({"seq": True, "at": "x", "kind": "k", "actor": "a", "data": {}, "prev_hash": "p", "hash": "h"}, "seq"),
    ({"seq": 1, "at": 3, "kind": "k", "actor": "a", "data": {}, "prev_hash": "p", "hash": "h"}, "at"),
    ({"seq": 1, "at": "x", "kind": 1, "actor": "a", "data": {}, "prev_hash": "p", "hash": "h"}, "kind"),
    ({"seq": 1, "at": "x", "kind": "k", "actor": "a", "data": [], "prev_hash": "p", "hash": "h"}, "data"),
])
def test_malformed_entries_are_named_and_the_chain_goes_on(bad: Any, what: str) -> None:
    entries: list[Any] = list(chain())
    entries[1] = bad
    result = verify_chain(entries)
    assert [p.position for p in result.problems] == [2]
    assert what in result.problems[0].what and result.checked == 5


def test_problems_are_capped_but_the_first_is_kept() -> None:
    entries = chain(300)
    edited = [AuditEntry(**{**_fields(e), "actor": "x"}) for e in entries]
    result = verify_chain(edited, head=AuditHead(400, "0" * 64, None))
    assert len(result.problems) == 101 and result.problems[0].position == 1 and "tail cut" in result.problems[-1].what


def test_the_verifier_can_be_fed_by_hand() -> None:
    verifier = ChainVerifier()
    entries = chain(3)
    verifier.feed(entries[0])
    verifier.malformed("unreadable")
    verifier.feed(entries[2])
    result = verifier.finish(head(entries, None), check_head=True)
    assert [(p.position, p.what) for p in result.problems] == [(2, "unreadable")]


# --- exports --------------------------------------------------------------------------------------


def test_an_export_is_canonical_jsonl_with_a_head_line(export: bytes, store: Store) -> None:
    lines = export.splitlines(keepends=True)
    assert len(lines) == 4 and all(line.endswith(b"\n") for line in lines)
    stored = list(store.audit_entries())
    assert orjson.loads(lines[0]) == {"seq": 1, "at": "2026-11-01T09:30:01.000000Z", "kind": "request",
                                      "actor": "gateway", "data": {"route": "chat", "pii": {"email": 1}, "note": "é"},
                                      "prev_hash": AUDIT_GENESIS, "hash": stored[0].hash}
    assert orjson.loads(lines[-1]) == {"head": stored[-1].hash, "seq": 3,
                                       "signature": audit_head_signature(KEY, 3, stored[-1].hash)}
    result = verify_export(lines, key=KEY)
    assert result.ok and result.signed and result.checked == 3
    assert verify_export([line.decode() for line in lines]).ok


def test_every_changed_byte_of_an_export_is_caught(export: bytes) -> None:
    for index in range(len(export)):
        for replacement in {export[index] ^ 0x01, ord("0") if export[index] != ord("0") else ord("1")}:
            changed = export[:index] + bytes([replacement]) + export[index + 1:]
            result = verify_export(changed.splitlines(keepends=True), key=KEY)
            assert not result.ok, f"byte {index} changed to {bytes([replacement])!r} went unnoticed"


def test_a_changed_byte_is_named_by_its_line(export: bytes) -> None:
    lines = export.splitlines(keepends=True)
    lines[1] = lines[1].replace(b'"email":2', b'"email":3')
    problem = first(verify_export(lines))
    assert (problem.position, problem.seq) == (2, 2) and "content edited" in problem.what


def test_cut_and_rearranged_exports_are_named(export: bytes) -> None:
    lines = export.splitlines(keepends=True)
    assert "no head line" in first(verify_export(lines[:-1])).what
    assert first(verify_export(lines[:-1])).position == 4
    assert "tail cut" in first(verify_export([*lines[:2], lines[-1]])).what
    assert first(verify_export([lines[0], lines[2], lines[1], lines[3]])).what.startswith("out of order")
    assert "a line after the head line" in first(verify_export([*lines, lines[0]])).what
    assert "not JSON" in first(verify_export([lines[0], b"\n", *lines[1:]])).what
    assert "not exactly as exported" in first(verify_export([lines[0].replace(b",", b", ", 1), *lines[1:]])).what
    assert "not exactly as exported" in first(verify_export([*lines[:-1], lines[-1].rstrip(b"\n")])).what
    assert "malformed head line" in first(verify_export([*lines[:-1], b'{"head":1}\n'])).what
    assert verify_export([b'{"head":null,"seq":0,"signature":null}\n']).ok  # an empty log


def test_an_export_since_a_date_is_checked_from_its_first_prev_hash(store: Store, export: bytes) -> None:
    partial = list(export_lines(store, since=T0 + timedelta(seconds=2)))
    assert orjson.loads(partial[-1])["since"] == "2026-11-01T09:30:02.000000Z"
    result = verify_export(partial, key=KEY)
    assert result.ok and result.partial and result.first_seq == 2
    # Without the marker, a file starting after seq 1 has lost its beginning.
    unmarked = [*partial[:-1], export.splitlines(keepends=True)[-1]]
    assert "starts at seq 2" in first(verify_export(unmarked)).what
    nothing = list(export_lines(store, since=T0 + timedelta(days=1)))
    assert len(nothing) == 1 and verify_export(nothing, key=KEY).ok
