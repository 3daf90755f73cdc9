"""Reading the stored chain whole while others append, exporting it as JSONL, and verifying either.

An export is one canonical JSON object per line (orjson, keys sorted, "\\n" after each): every entry
with `at` exactly as hashed, then one last line `{"head": <hash>, "seq": <n>, "signature": <hex|null>}`
(plus `"since"` for an export made with --since). Because the lines are canonical, a verifier can insist
on every byte: a line that is valid JSON but not exactly as exported is a problem too.

The store is read a page at a time and appenders do not wait for a reader, so the head is read after
the entries: a head beyond the last entry read may just be newer appends, which are then read too,
until the head stops moving past what was read.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import datetime
from typing import Any

import orjson

from releve.store import AuditEntry, AuditHead, Store, audit_at

from ._audit_verify import ChainVerifier, Problem, VerifyResult

__all__ = ["StoredChain", "export_lines", "verify_export", "verify_store"]


class StoredChain:
    """The store's entries in seq order (from `since`'s first entry when given); after iterating, `head`
    is a head read after the last page, which covers every entry yielded unless the log was tampered with."""

    def __init__(self, store: Store, *, since: datetime | None = None) -> None:
        self._store = store
        self._since = since
        self.head: AuditHead | None = None

    def __iter__(self) -> Iterator[AuditEntry]:
        last: int | None = None
        first_round = True
        while True:
            got = False
            pages = (self._store.audit_entries(since=self._since) if last is None
                     else self._store.audit_entries(after_seq=last))
            for entry in pages:
                got = True
                last = entry.seq
                yield entry
            self.head = self._store.audit_head()
            if self.head is None or (last is not None and self.head.seq <= last):
                return
            # The head is ahead: appends made while reading, or a cut tail (then nothing more comes).
            if not got and not first_round:
                return
            first_round = False


def _line(value: dict[str, Any]) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS) + b"\n"


def export_lines(store: Store, *, since: datetime | None = None) -> Iterator[bytes]:
    """The export, line by line: entries (from the first one written at or after `since`), then the head."""
    chain = StoredChain(store, since=since)
    for entry in chain:
        yield _line({"seq": entry.seq, "at": audit_at(entry.at), "kind": entry.kind, "actor": entry.actor,
                     "data": entry.data, "prev_hash": entry.prev_hash, "hash": entry.hash})
    head = chain.head
    trailer: dict[str, Any] = {"head": head.hash if head else None, "seq": head.seq if head else 0,
                               "signature": head.signature if head else None}
    if since is not None:
        trailer["since"] = audit_at(since)
    yield _line(trailer)


def verify_store(store: Store, *, key: bytes | None = None) -> VerifyResult:
    """Check the whole stored chain from seq 1 to its head (signature included when `key` is given)."""
    chain = StoredChain(store)
    verifier = ChainVerifier(key=key)
    for entry in chain:
        verifier.feed(entry)
    return verifier.finish(chain.head, check_head=True)


def _trailer(value: dict[str, Any]) -> tuple[AuditHead | None, bool]:
    """(head, made with --since) from the head line; `ValueError` when it is malformed."""
    head, seq, signature = value.get("head"), value.get("seq"), value.get("signature")
    if set(value) - {"head", "seq", "signature", "since"} or not isinstance(seq, int) or isinstance(seq, bool) \
            or not isinstance(head, str | None) or not isinstance(signature, str | None) \
            or not isinstance(value.get("since"), str | None):
        raise ValueError("malformed head line")
    return (None if head is None else AuditHead(seq=seq, hash=head, signature=signature)), "since" in value


def verify_export(lines: Iterable[bytes | str], *, key: bytes | None = None) -> VerifyResult:
    """Check an export on its own (lines as read from the file, with their "\\n"); positions are line numbers.

    An export made with --since is checked from its first entry's prev_hash on (the result is `partial`).
    """
    verifier = ChainVerifier(key=key)
    extra: list[Problem] = []
    trailer: tuple[AuditHead | None, bool] | None = None
    unreadable = False
    number = 0
    for number, line in enumerate(lines, 1):
        raw = line.encode() if isinstance(line, str) else line
        if trailer is not None:
            verifier.malformed("a line after the head line")
            continue
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            verifier.malformed("not JSON: the line was changed or cut")
            continue
        if isinstance(value, dict) and "head" in value:
            try:
                trailer = _trailer(value)
            except ValueError as exc:
                extra.append(Problem(number, None, str(exc)))
                trailer = (None, False)
                unreadable = True
        else:
            verifier.feed(value)
        if raw != _line(value):
            seq = value.get("seq") if isinstance(value, dict) else None
            extra.append(Problem(number, seq if isinstance(seq, int) else None,
                                 "not exactly as exported: a byte was changed, added or removed"))
    if trailer is None:
        extra.append(Problem(number + 1, None, "no head line at the end: the file was cut"))
        result = verifier.finish(None, check_head=False)
    else:
        head, since = trailer
        result = verifier.finish(head, check_head=not unreadable and (head is not None or not since), partial=since)
    if not extra:
        return result
    problems = sorted([*extra, *result.problems], key=lambda problem: problem.position)
    return replace(result, ok=False, problems=problems)
