"""Data-subject requests (GDPR): the access and portability export (Art. 15, 20) and erasure (Art. 17).

What Relève stores about a person is what requests tagged `x-releve-subject: <id>` left in the store
(jobs, idempotency records, Batch API files and batches): the store finds it by that id. The export
also says what is *not* stored, so that the person (and the DPO) can see the whole picture.

An erasure is recorded in the audit log with the SHA-256 of the subject id, never the id itself: the
log is append-only, so whatever it holds can never be erased. (A hash of a guessable id is a pseudonym,
not anonymous: it lets one who already knows the id confirm the erasure, which is the point.)
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

from releve.store import Store

from ._audit import AuditKind

__all__ = ["NOT_STORED", "erase_subject", "export_subject", "subject_hash"]

# What Relève handles but never keeps tied to a subject; said in every export.
NOT_STORED: tuple[dict[str, str], ...] = (
    {"what": "response cache",
     "why": "kept in memory only, per process, for its time to live: never written to disk, gone at restart"},
    {"what": "audit log and access log",
     "why": "routing facts only (route, targets, status, client key), never request or answer content, "
            "and not tagged with the subject"},
    {"what": "metrics and traffic history", "why": "counts per route and minute, nothing per request"},
)


def subject_hash(subject: str) -> str:
    """How an erasure names its subject in the audit log: SHA-256 of the id's UTF-8 bytes, hex."""
    return hashlib.sha256(subject.encode()).hexdigest()


def export_subject(store: Store, subject: str, *, at: datetime) -> dict[str, Any]:
    """Everything stored about `subject`, as one JSON-serialisable object handed to the person:
    `{"subject", "exported_at", "data": {jobs, idempotency, files, batches}, "not_stored": [...]}`."""
    if at.utcoffset() is None:
        raise ValueError("exported_at must be a timezone-aware datetime")
    return {"subject": subject, "exported_at": at.isoformat(), "data": store.subject_data(subject),
            "not_stored": [dict(item) for item in NOT_STORED]}


def erase_subject(store: Store, subject: str, *, at: datetime,
                  audit: Callable[[str, str, dict[str, Any]], object] | None = None,
                  actor: str = "releve") -> dict[str, int]:
    """Erase everything stored about `subject` (rows and their bytes in the database files) and return the rows
    removed per table; with `audit` (e.g. `AuditLog.append_now`), record `("erasure", actor, {"subject_hash",
    "counts"})` afterwards, so the log says that it was done, when, by whom, never about whom in clear."""
    counts = store.erase_subject(subject, at=at)
    if audit is not None:
        audit(AuditKind.ERASURE.value, actor, {"subject_hash": subject_hash(subject), "counts": dict(counts)})
    return counts
