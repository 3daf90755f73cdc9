"""Data subjects and retention in the store, on both dialects: find everything about one subject, erase it, purge
old content; nobody else's rows are touched."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from releve.store import Store

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def _jsonl(*bodies: dict[str, Any]) -> bytes:
    return b"".join(orjson.dumps({"custom_id": f"r{n}", "method": "POST", "url": "/v1/chat/completions",
                                  "body": body}) + b"\n" for n, body in enumerate(bodies))


def _chat(text: str) -> dict[str, Any]:
    return {"model": "chat", "messages": [{"role": "user", "content": text}]}


def _fill(store: Store, subject: str | None, tag: str, at: datetime = T0) -> dict[str, str]:
    """One of everything for `subject`, each holding `tag`; the batch finished, its output file written untagged
    (as the batch runner does). Returns the ids."""
    job = store.create_job(route="chat", operation="chat", body=_chat(f"job {tag}"), client="acme",
                           callback_url=None, at=at, expires_at=at + DAY, subject=subject)
    assert [j.id for j in store.claim_jobs(at)] == [job.id]
    store.finish_job(job.id, succeeded=True, response_status=200, response_body=orjson.dumps({"answer": f"ok {tag}"}),
                     target="a/m", at=at)
    key = f"key-{tag}"
    assert store.begin_idempotent("acme", key, "0" * 64, at=at, expires_at=at + DAY, subject=subject) is None
    store.finish_idempotent("acme", key, status=200, headers=[("content-type", "application/json")],
                            body=f'{{"idem":"{tag}"}}'.encode())
    upload = store.create_file(purpose="batch", filename="in.jsonl", content=_jsonl(_chat(f"line {tag}")), at=at,
                               subject=subject)
    batch = store.create_batch(endpoint="/v1/chat/completions", input_file_id=upload.id, completion_window="24h",
                               metadata=None, lines=[("r0", _chat(f"line {tag}"))], at=at, expires_at=at + DAY,
                               subject=subject)
    store.finish_line(batch.id, 0, ok=True, response_status=200, response_body={"line": f"answer {tag}"},
                      error=None, request_id="req_1", at=at)
    output = store.create_file(purpose="batch_output", filename="out.jsonl", content=f"out {tag}\n".encode(), at=at)
    store.update_batch(batch.id, status="completed", completed_at=at, output_file_id=output.id)
    return {"job": job.id, "key": key, "input": upload.id, "output": output.id, "batch": batch.id}


def test_subject_data_finds_everything_and_only_it(store: Store) -> None:
    mine = _fill(store, "cust-42", "jeanne")
    _fill(store, "cust-7", "paul")
    _fill(store, None, "anonymous")
    found = store.subject_data("cust-42")
    text = orjson.dumps(found).decode()  # JSON-serialisable as it is
    assert "jeanne" in text and "paul" not in text and "anonymous" not in text
    assert set(found) == {"jobs", "idempotency", "files", "batches"}
    (job,) = found["jobs"]
    assert (job["id"], job["status"], job["body"]) == (mine["job"], "succeeded", _chat("job jeanne"))
    assert (job["response_body"], job["response_body_encoding"]) == ({"answer": "ok jeanne"}, "json")
    assert job["created_at"] == T0.isoformat() and "subject" not in job
    (record,) = found["idempotency"]
    assert (record["key"], record["response_body"]) == (mine["key"], {"idem": "jeanne"})
    assert record["response_headers"] == [["content-type", "application/json"]]
    # The untagged output file belongs to the subject through its batch.
    assert {f["id"]: f["content_encoding"] for f in found["files"]} == {mine["input"]: "text", mine["output"]: "text"}
    assert [f["content"] for f in found["files"] if f["id"] == mine["output"]] == ["out jeanne\n"]
    (batch,) = found["batches"]
    assert (batch["id"], batch["status"], batch["output_file_id"]) == (mine["batch"], "completed", mine["output"])
    assert [(line["line_no"], line["body"], line["response_body"]) for line in batch["lines"]] == [
        (0, _chat("line jeanne"), {"line": "answer jeanne"})]


def test_binary_content_is_exported_as_base64(store: Store) -> None:
    blob = bytes(range(256))
    store.create_file(purpose="user_data", filename="x.bin", content=blob, at=T0, subject="cust-42")
    (exported,) = store.subject_data("cust-42")["files"]
    assert exported["content_encoding"] == "base64" and base64.b64decode(exported["content"]) == blob


def test_an_unknown_subject_has_nothing_and_ids_are_checked(store: Store) -> None:
    assert store.subject_data("nobody") == {"jobs": [], "idempotency": [], "files": [], "batches": []}
    for bad in ("", "x" * 256):
        with pytest.raises(ValueError, match="1 to 255"):
            store.subject_data(bad)
        with pytest.raises(ValueError, match="1 to 255"):
            store.erase_subject(bad, at=T0)


def test_erase_removes_the_subject_and_keeps_everyone_else(store: Store) -> None:
    mine = _fill(store, "cust-42", "jeanne")
    theirs = _fill(store, "cust-7", "paul")
    untagged = _fill(store, None, "anonymous")
    before = store.subject_data("cust-7")
    counts = store.erase_subject("cust-42", at=T0 + DAY)
    assert counts == {"jobs": 1, "idempotency": 1, "files": 2, "batches": 1, "batch_lines": 1}
    assert store.subject_data("cust-42") == {"jobs": [], "idempotency": [], "files": [], "batches": []}
    assert store.job(mine["job"]) is None and store.idempotent("acme", mine["key"]) is None
    assert store.file(mine["input"]) is None and store.file(mine["output"]) is None
    assert store.batch(mine["batch"]) is None and list(store.batch_lines(mine["batch"])) == []
    assert store.subject_data("cust-7") == before
    for ids in (theirs, untagged):
        assert store.job(ids["job"]) is not None and store.idempotent("acme", ids["key"]) is not None
        assert store.file_content(ids["output"]) is not None and len(list(store.batch_lines(ids["batch"]))) == 1
    # Again: nothing left, and no harm done.
    assert store.erase_subject("cust-42", at=T0 + DAY) == dict.fromkeys(counts, 0)
    assert store.subject_data("cust-7") == before


def test_erase_takes_a_file_of_the_subjects_batch_only_when_it_is_untagged(store: Store) -> None:
    shared = store.create_file(purpose="batch", filename="in.jsonl", content=_jsonl(_chat("x")), at=T0,
                               subject="cust-7")
    store.create_batch(endpoint="/v1/chat/completions", input_file_id=shared.id, completion_window="24h",
                       metadata=None, lines=[("r0", _chat("x"))], at=T0, expires_at=T0 + DAY, subject="cust-42")
    assert store.subject_data("cust-42")["files"] == []
    assert store.erase_subject("cust-42", at=T0)["files"] == 0
    assert store.file(shared.id) is not None


def test_a_replaced_idempotency_record_takes_the_new_subject(store: Store) -> None:
    assert store.begin_idempotent("acme", "k", "0" * 64, at=T0, expires_at=T0 + DAY, subject="cust-7") is None
    later = T0 + 2 * DAY
    assert store.begin_idempotent("acme", "k", "1" * 64, at=later, expires_at=later + DAY, subject="cust-42") is None
    assert store.subject_data("cust-7")["idempotency"] == []
    assert [r["body_hash"] for r in store.subject_data("cust-42")["idempotency"]] == ["1" * 64]


def test_purge_content_deletes_what_is_past_retention(store: Store) -> None:
    old = _fill(store, "cust-42", "old", at=T0)
    recent = _fill(store, "cust-42", "recent", at=T0 + 40 * DAY)
    # Still queued although old: a job is content only once finished.
    waiting = store.create_job(route="chat", operation="chat", body=_chat("waiting"), client=None, callback_url=None,
                               at=T0, expires_at=T0 + 90 * DAY)
    # A batch still running keeps its (old) input file; an old file no batch uses goes.
    running_input = store.create_file(purpose="batch", filename="in.jsonl", content=_jsonl(_chat("r")), at=T0)
    running = store.create_batch(endpoint="/v1/chat/completions", input_file_id=running_input.id,
                                 completion_window="24h", metadata=None, lines=[("r0", _chat("r"))], at=T0,
                                 expires_at=T0 + 90 * DAY)
    orphan = store.create_file(purpose="user_data", filename="notes.txt", content=b"notes", at=T0)
    cutoff = T0 + 30 * DAY
    counts = store.purge_content(cutoff)
    assert counts == {"jobs": 1, "idempotency": 1, "files": 3, "batches": 1, "batch_lines": 1}
    assert store.job(old["job"]) is None and store.idempotent("acme", old["key"]) is None
    assert store.batch(old["batch"]) is None and store.file(old["input"]) is None and store.file(old["output"]) is None
    assert store.file(orphan.id) is None
    assert store.job(waiting.id) is not None
    assert store.batch(running.id) is not None and store.file(running_input.id) is not None
    kept = store.subject_data("cust-42")
    assert [j["id"] for j in kept["jobs"]] == [recent["job"]]
    assert [b["id"] for b in kept["batches"]] == [recent["batch"]]
    assert store.purge_content(cutoff) == dict.fromkeys(counts, 0)


def test_purge_content_drops_expired_idempotency_records_by_at(store: Store) -> None:
    store.begin_idempotent("acme", "k", "0" * 64, at=T0, expires_at=T0 + DAY)
    assert store.purge_content(T0 - 30 * DAY)["idempotency"] == 0
    assert store.purge_content(T0 - 30 * DAY, at=T0 + DAY)["idempotency"] == 1
    assert store.idempotent("acme", "k") is None


def test_purge_content_refuses_naive_times(store: Store) -> None:
    with pytest.raises(ValueError, match="naive"):
        store.purge_content(datetime(2026, 1, 1))  # naive: the point of the test
