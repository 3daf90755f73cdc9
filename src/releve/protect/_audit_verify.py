"""Checking an audit chain: every entry's hash, the links between entries, and the head.

The chain is read once, in order, keeping only the entry before and the entry after the one being
checked, so a log of millions of entries is checked in constant memory. Each problem names the entry
(its position among those checked, and its seq) and says what is wrong in words an auditor can act on:

- content edited: the entry's content no longer hashes to its stored hash;
- deleted: a gap in the seqs;
- inserted: the entry after it links to the entry before it, or a chain extended behind the head;
- reordered: seqs out of order, or an entry whose prev_hash is the hash of the entry after it;
- tail cut: the head (signed, when a key is given) names a later entry than the last one there is.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from releve.store import AUDIT_GENESIS, AuditEntry, AuditHead, audit_hash, audit_head_signature

__all__ = ["ChainVerifier", "Problem", "VerifyResult", "verify_chain"]

_FIELDS = ("seq", "at", "kind", "actor", "data", "prev_hash", "hash")
_MAX_PROBLEMS = 100


@dataclass(frozen=True, slots=True)
class Problem:
    """What is wrong, and where: `position` counts the entries checked from 1 (in an export, the line number)."""

    position: int
    seq: int | None
    what: str

    def __str__(self) -> str:
        where = f"entry {self.position}" + (f" (seq {self.seq})" if self.seq is not None else "")
        return f"{where}: {self.what}"


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """`ok` when nothing is wrong. `partial`: checked from the first entry's prev_hash on (an export made
    with --since), so entries before it are not covered. `signed`: the head's signature was checked."""

    ok: bool
    checked: int
    problems: list[Problem] = field(default_factory=list)
    first_seq: int | None = None
    last_seq: int | None = None
    partial: bool = False
    signed: bool = False

    @property
    def first(self) -> Problem | None:
        """The first broken entry: where to start looking."""
        return self.problems[0] if self.problems else None


class _Entry(NamedTuple):
    seq: int
    at: datetime | str
    kind: str
    actor: str
    data: Any
    prev_hash: str
    hash: str


def _parse(entry: AuditEntry | Mapping[str, Any]) -> _Entry:
    """An entry from the store or from an export line; `ValueError` says what is malformed."""
    if isinstance(entry, AuditEntry):
        return _Entry(entry.seq, entry.at, entry.kind, entry.actor, entry.data, entry.prev_hash, entry.hash)
    if not isinstance(entry, Mapping):
        raise ValueError(f"malformed entry: a JSON object expected, not {type(entry).__name__}")
    missing = [name for name in _FIELDS if name not in entry]
    if missing:
        raise ValueError(f"malformed entry: missing {', '.join(missing)}")
    extra = sorted(str(name) for name in entry if name not in _FIELDS)
    if extra:
        raise ValueError(f"malformed entry: unexpected {', '.join(extra)}")
    seq = entry["seq"]
    if not isinstance(seq, int) or isinstance(seq, bool):
        raise ValueError("malformed entry: seq is not an integer")
    if not isinstance(entry["at"], str | datetime):
        raise ValueError("malformed entry: at is not a time")
    for name in ("kind", "actor", "prev_hash", "hash"):
        if not isinstance(entry[name], str):
            raise ValueError(f"malformed entry: {name} is not a string")
    if not isinstance(entry["data"], dict):
        raise ValueError("malformed entry: data is not an object")
    return _Entry(seq, entry["at"], entry["kind"], entry["actor"], entry["data"], entry["prev_hash"], entry["hash"])


def _hash(entry: _Entry, seq: int | None = None) -> str:
    return audit_hash(entry.seq if seq is None else seq, entry.at, entry.kind, entry.actor, entry.data,
                      entry.prev_hash)


def _span(first: int, last: int) -> str:
    return f"seq {first}" if first == last else f"seqs {first}..{last}"


class ChainVerifier:
    """Fed entries in the order they are stored (`feed`, or `malformed` for an unreadable one), then `finish`.

    One entry is held back until the next arrives: telling "deleted" from "moved" needs to see it.
    """

    def __init__(self, *, key: bytes | None = None) -> None:
        self._key = key
        self._position = 0
        self._checked = 0
        self._problems: list[Problem] = []
        self._held: tuple[int, _Entry] | None = None
        self._first: tuple[int, _Entry] | None = None
        # The chain's tip (the entry with the highest seq so far) and the one it follows.
        self._tip: tuple[int, _Entry] | None = None
        self._before_tip: _Entry | None = None
        self._unlinked = False   # the entry before was unreadable: nothing to link the next one to
        self._finishing = False

    def feed(self, entry: AuditEntry | Mapping[str, Any]) -> None:
        """The next entry, as stored (a value) or as exported (a dict whose `at` is the hashed string)."""
        self._position += 1
        try:
            parsed = _parse(entry)
        except ValueError as exc:
            self.malformed(str(exc), counted=True)
            return
        self._release(parsed)
        self._held = (self._position, parsed)

    def malformed(self, what: str, *, counted: bool = False) -> None:
        """An entry that cannot be read (an export line that is not JSON…): a problem at its position."""
        if not counted:
            self._position += 1
        self._release(None)
        self._checked += 1
        self._problem(self._position, None, what)
        self._unlinked = True

    def finish(self, head: AuditHead | None, *, check_head: bool, partial: bool = False) -> VerifyResult:
        """Check the last entries against `head` (when `check_head`: a missing head is then a problem).

        `partial`: the entries may start after seq 1 (an export made with --since); then the first entry's
        prev_hash is taken on trust, and the result says so.
        """
        self._release(None)
        self._finishing = True
        first = self._first
        if first is not None:
            position, entry = first
            if entry.seq > 1 and not partial:
                self._problem(position, entry.seq, f"the log starts at seq {entry.seq}: "
                                                   f"{_span(1, entry.seq - 1)} missing (deleted)")
        signed = False
        if check_head:
            signed = self._check_head(head, partial=partial)
        problems = sorted(self._problems, key=lambda problem: problem.position)
        tip = self._tip
        return VerifyResult(ok=not problems, checked=self._checked, problems=problems,
                            first_seq=first[1].seq if first else None, last_seq=tip[1].seq if tip else None,
                            partial=partial and first is not None and first[1].seq > 1, signed=signed)

    # --- the checks ---------------------------------------------------------------------------

    def _release(self, following: _Entry | None) -> None:
        """Check the held entry, now that the one after it (None: unreadable or none) is known."""
        if self._held is None:
            return
        position, entry = self._held
        self._held = None
        self._checked += 1
        self._check(position, entry, following)

    def _check(self, position: int, entry: _Entry, following: _Entry | None) -> None:
        reasons = []
        if _hash(entry) != entry.hash:
            renumbered = [seq for seq in (entry.seq - 1, entry.seq + 1) if _hash(entry, seq) == entry.hash]
            reasons.append("content edited: it no longer matches its hash"
                           + (f" (it hashes as seq {renumbered[0]}: renumbered)" if renumbered else ""))
        tip = self._tip
        if self._first is None:
            self._first = (position, entry)
            if entry.seq == 1 and entry.prev_hash != AUDIT_GENESIS:
                reasons.append("reordered: its prev_hash is the hash of the entry after it"
                               if following is not None and entry.prev_hash == following.hash
                               else "the first entry's prev_hash is not the genesis value (64 zeros)")
        elif tip is not None and not self._unlinked:
            reasons += self._link(entry, tip, following)
        self._unlinked = False
        if tip is None or entry.seq > tip[1].seq:
            self._before_tip = tip[1] if tip is not None else None
            self._tip = (position, entry)
        if reasons:
            self._problem(position, entry.seq, "; ".join(reasons))

    def _link(self, entry: _Entry, tip: tuple[int, _Entry], following: _Entry | None) -> list[str]:
        """How `entry` follows the chain's tip: the next seq, linked by prev_hash."""
        tip_position, last = tip
        if entry.seq == last.seq:
            return [f"seq {entry.seq} appears twice"]
        if entry.seq < last.seq:
            return [f"out of order (reordered): seq {entry.seq} comes after seq {last.seq}"]
        if entry.seq > last.seq + 1:
            if following is not None and last.seq < following.seq < entry.seq:
                return [f"out of order (reordered): seq {entry.seq} comes before seq {following.seq}"]
            return [f"{_span(last.seq + 1, entry.seq - 1)} missing (deleted)"]
        if entry.prev_hash == last.hash:
            return []
        if following is not None and entry.prev_hash == following.hash:
            return [f"reordered: its prev_hash is the hash of the entry after it (seq {following.seq})"]
        if last.prev_hash == entry.hash:
            return [f"reordered: swapped with seq {last.seq}"]
        before = self._before_tip
        if before is not None and entry.prev_hash == before.hash:
            if before.prev_hash == last.hash:
                return []  # the two before it were swapped (already said); it follows the right one
            # The tip sits between two entries that link to each other: it was slipped in.
            self._problem(tip_position, last.seq, f"inserted: the entry after it (seq {entry.seq}) links to "
                                                  f"seq {before.seq}, not to it")
            return ["follows an inserted entry"]
        return [f"prev_hash is not the hash of seq {last.seq}: an entry before it was replaced or inserted"]

    def _check_head(self, head: AuditHead | None, *, partial: bool) -> bool:
        """Compare the head with the chain's tip; True when its signature was checked (and matched or not)."""
        tip = self._tip
        if head is None or head.seq == 0:
            if tip is not None:
                self._problem(self._position + 1, None, "the head is missing: nothing says where the log ends")
            return False
        signed = False
        if self._key is not None:
            signed = True
            if head.signature is None:
                self._problem(self._position + 1, head.seq, "the head is not signed, though a key is given: it was "
                                                            "written without the key, or rewritten")
            elif not hmac.compare_digest(head.signature, audit_head_signature(self._key, head.seq, head.hash)):
                self._problem(self._position + 1, head.seq, "the head's signature does not match: the head was "
                                                            "rewritten (tail cut or entries added), or the key differs")
        if tip is None:
            if not partial:  # an export --since after the last entry holds none, rightly
                self._problem(self._position + 1, head.seq, f"tail cut: the head is seq {head.seq} but there is no "
                                                            f"entry")
            return signed
        position, last = tip
        if last.seq < head.seq:
            self._problem(self._position + 1, last.seq + 1,
                          f"tail cut: the head is seq {head.seq} but the last entry is seq {last.seq}: "
                          f"{_span(last.seq + 1, head.seq)} missing")
        elif last.seq > head.seq:
            self._problem(position - (last.seq - head.seq - 1), head.seq + 1,
                          f"{_span(head.seq + 1, last.seq)} after the head (seq {head.seq}): added behind the "
                          f"log's back, or the head was moved back")
        elif not hmac.compare_digest(last.hash, head.hash):
            self._problem(position, last.seq, "the last entry's hash is not the head's: the last entry was replaced")
        return signed

    def _problem(self, position: int, seq: int | None, what: str) -> None:
        # Capped while streaming (a ruined log must not fill memory); the start and the head are checked last
        # and go past the cap, since they may be the first problems by position.
        if len(self._problems) < _MAX_PROBLEMS or self._finishing:
            self._problems.append(Problem(position=position, seq=seq, what=what))


def verify_chain(entries: Iterable[AuditEntry | Mapping[str, Any]], *, key: bytes | None = None,
                 head: AuditHead | tuple[int, str, str | None] | Mapping[str, Any] | None = None,
                 partial: bool = False) -> VerifyResult:
    """Check `entries` (stored order) as one chain from seq 1, or from the first one's prev_hash with `partial`.

    With `head` (the store's `audit_head()`, a (seq, hash, signature) tuple, or a mapping with those keys),
    the last entry must be the head's, and with `key` the head's signature must verify: this is what shows a
    cut tail. Without `head`, entries cut from the end cannot be seen.
    """
    verifier = ChainVerifier(key=key)
    for entry in entries:
        verifier.feed(entry)
    if head is None:
        return verifier.finish(None, check_head=False, partial=partial)
    if isinstance(head, Mapping):
        head = AuditHead(seq=int(head["seq"]), hash=str(head["hash"]), signature=head.get("signature"))
    return verifier.finish(AuditHead(*head), check_head=True, partial=partial)
