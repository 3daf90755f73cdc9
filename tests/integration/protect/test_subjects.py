"""Issue 9, acceptance 5: everything stored about a data subject is exported, then erased down to the bytes of the
database files (SQLite: the file, its WAL and its shared-memory index), and the erasure is audited without the
subject's id; another subject's data stays whole."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import orjson
import pytest

from releve.gateway.providers import Operation
from releve.jobs import JobRunner, StoreDeferrer
from releve.protect import AuditLog, erase_subject, export_subject, subject_hash, verify_store
from releve.store import Store

T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
DAY = timedelta(days=1)
KEY = b"subject-test-key"

EMAIL = "jeanne.martin@example.org"
PHONE = "+33 6 12 34 56 78"
IBAN = "FR76 3000 6000 0112 3456 7890 189"
NIR = "2 69 05 49 588 157 80"
JEANNE = (EMAIL, PHONE, IBAN, NIR)
# The other subject's values, which must survive.
PAUL = ("paul.durand@example.com", "+33 7 98 76 54 32", "FR14 2004 1010 0505 0001 3M02 606", "1 78 12 13 055 001 42")


class _Runner:
    """The deferrer only wakes its runner."""

    def wake(self) -> None:
        pass


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "releve.db"


@pytest.fixture
def store(db: Path) -> Iterator[Store]:
    opened = Store(f"sqlite:///{db}")
    opened.open()
    yield opened
    opened.close()


def _chat(text: str) -> dict[str, Any]:
    return {"model": "support", "messages": [{"role": "user", "content": text}]}


async def _fill(store: Store, subject: str, values: tuple[str, str, str, str]) -> None:
    """A deferred job, an idempotency record, a batch with its input and output files, holding the four values
    between them (each at least twice: in a request and in an answer or a file)."""
    email, phone, iban, nir = values
    deferrer = StoreDeferrer(store, cast(JobRunner, _Runner()), wall=lambda: T0, max_age_for=lambda route: 3600.0)
    deferred = await deferrer.defer(route="support", operation=Operation.CHAT, client="crm", callback_url=None,
                                    body=_chat(f"Écrire à {email}, tél. {phone}"), subject=subject)
    (claimed,) = store.claim_jobs(T0)
    assert claimed.id == deferred.id
    answer = {"choices": [{"message": {"role": "assistant", "content": f"Virement vers {iban} pour {nir}"}}]}
    store.finish_job(deferred.id, succeeded=True, response_status=200, response_body=orjson.dumps(answer),
                     target="eu/m", at=T0)

    key = f"idem-{subject}"
    assert store.begin_idempotent("crm", key, "0" * 64, at=T0, expires_at=T0 + DAY, subject=subject) is None
    store.finish_idempotent("crm", key, status=200, headers=[("content-type", "application/json")],
                            body=orjson.dumps({"content": f"IBAN {iban}, mail {email}"}))

    lines = [("a", _chat(f"NIR {nir}, téléphone {phone}")), ("b", _chat(f"Mail {email}"))]
    content = b"".join(orjson.dumps({"custom_id": c, "method": "POST", "url": "/v1/chat/completions", "body": b})
                       + b"\n" for c, b in lines)
    upload = store.create_file(purpose="batch", filename="demandes.jsonl", content=content, at=T0, subject=subject)
    batch = store.create_batch(endpoint="/v1/chat/completions", input_file_id=upload.id, completion_window="24h",
                               metadata={"dossier": subject}, lines=lines, at=T0, expires_at=T0 + DAY,
                               subject=subject)
    store.finish_line(batch.id, 0, ok=True, response_status=200, response_body={"content": f"Dossier {nir}"},
                      error=None, request_id="req_a", at=T0)
    store.finish_line(batch.id, 1, ok=True, response_status=200, response_body={"content": f"Rappeler {phone}"},
                      error=None, request_id="req_b", at=T0)
    output = store.create_file(purpose="batch_output", filename="out.jsonl", at=T0,
                               content=f'{{"custom_id":"a","iban":"{iban}"}}\n'.encode())
    store.update_batch(batch.id, status="completed", completed_at=T0, output_file_id=output.id)


def _database_bytes(db: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in (db, db.with_name(db.name + "-wal"),
                                                      db.with_name(db.name + "-shm")) if path.exists()}


def _where(value: str, files: dict[str, bytes]) -> list[str]:
    return [name for name, content in files.items() if value.encode() in content]


async def test_export_then_erase_leaves_no_byte_of_the_subject_in_the_database_files(store: Store, db: Path) -> None:
    await _fill(store, "cust-42", JEANNE)
    await _fill(store, "cust-7", PAUL)
    other_before = export_subject(store, "cust-7", at=T0)

    exported = export_subject(store, "cust-42", at=T0 + DAY)
    assert (exported["subject"], exported["exported_at"]) == ("cust-42", (T0 + DAY).isoformat())
    assert {kind: len(rows) for kind, rows in exported["data"].items()} == {
        "jobs": 1, "idempotency": 1, "files": 2, "batches": 1}
    assert [item["what"] for item in exported["not_stored"]][0] == "response cache"
    text = orjson.dumps(exported).decode()
    for value in JEANNE:
        assert value in text, value
    for value in PAUL:
        assert value not in text, value
    before = _database_bytes(db)
    for value in JEANNE:
        assert _where(value, before), f"{value} should be in the database before the erasure"

    log = AuditLog(store, key=KEY, wall=lambda: T0 + DAY)
    counts = erase_subject(store, "cust-42", at=T0 + DAY, audit=log.append_now, actor="dpo")
    assert counts == {"jobs": 1, "idempotency": 1, "files": 2, "batches": 1, "batch_lines": 2}

    # The store is still open (pooled connections and all), as in a running gateway.
    after = _database_bytes(db)
    for value in (*JEANNE, "cust-42"):
        assert _where(value, after) == [], f"{value} is still in {_where(value, after)}"
    assert export_subject(store, "cust-42", at=T0)["data"] == {"jobs": [], "idempotency": [], "files": [],
                                                               "batches": []}
    assert export_subject(store, "cust-7", at=T0) == other_before
    everything = orjson.dumps(export_subject(store, "cust-7", at=T0)).decode()
    assert all(value in everything for value in PAUL)

    (entry,) = list(store.audit_entries())
    assert (entry.kind, entry.actor) == ("erasure", "dpo")
    assert entry.data == {"subject_hash": subject_hash("cust-42"), "counts": counts}
    assert verify_store(store, key=KEY).ok
    store.close()
    closed = _database_bytes(db)
    for value in (*JEANNE, "cust-42"):
        assert _where(value, closed) == []
    assert all(_where(value, closed) for value in PAUL)


async def test_erasing_the_last_subject_in_a_fresh_database_works_too(store: Store, db: Path) -> None:
    await _fill(store, "cust-42", JEANNE)
    assert erase_subject(store, "cust-42", at=T0)["jobs"] == 1
    for value in JEANNE:
        assert _where(value, _database_bytes(db)) == []


async def test_an_in_memory_store_erases_too() -> None:
    store = Store("sqlite://")
    store.open()
    try:
        await _fill(store, "cust-42", JEANNE)
        assert erase_subject(store, "cust-42", at=T0)["batch_lines"] == 2
        assert store.subject_data("cust-42")["batches"] == []
    finally:
        store.close()


def test_the_export_refuses_a_naive_time(store: Store) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        export_subject(store, "cust-42", at=datetime(2026, 1, 1))  # naive: the point of the test


def test_without_an_audit_callback_nothing_is_logged(store: Store) -> None:
    assert erase_subject(store, "cust-42", at=T0) == {"jobs": 0, "idempotency": 0, "files": 0, "batches": 0,
                                                      "batch_lines": 0}
    assert list(store.audit_entries()) == []


def test_the_gateway_purges_content_past_its_retention(tmp_path: Path) -> None:
    """`retention.content`: finished jobs older than that are deleted by the running gateway."""
    from releve.app import build_app
    from releve.config import config_from_mapping
    from releve.server import GatewayThread

    db = tmp_path / "r.db"
    store = Store(f"sqlite:///{db}")
    store.open()
    old = datetime.now(UTC) - timedelta(days=40)
    job = store.create_job(route="chat", operation="chat", body={"messages": []}, client=None, callback_url=None,
                           at=old, expires_at=old + timedelta(hours=1))
    claimed = store.claim_jobs(old, lease_seconds=60)
    store.finish_job(claimed[0].id, succeeded=True, response_status=200, response_body=b"{}", target="a/m", at=old)
    raw = {"server": {"listen": "127.0.0.1:0", "access_log": False}, "auth": "none",
           "storage": {"url": f"sqlite:///{db}"}, "monitor": {"probes": {"request": "none"}},
           "retention": {"content": "30d"},
           "providers": {"a": {"kind": "openai-compatible", "base_url": "http://127.0.0.1:9/v1"}},
           "routes": {"chat": {"targets": [{"provider": "a", "model": "m"}]}}}
    with GatewayThread(build_app(config_from_mapping(raw))):
        deadline = time.monotonic() + 5
        while store.job(job.id) is not None and time.monotonic() < deadline:
            time.sleep(0.05)
    gone = store.job(job.id) is None
    store.close()
    assert gone
