"""Work kept through outages: deferred jobs and their callbacks, idempotency records, Batch API files and batches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest

from releve.errors import StoreError
from releve.store import BatchRecord, FileRecord, IdempotencyRecord, Job, JobStatus, Store
from support.stores import in_threads

T0 = datetime(2024, 5, 1, 12, tzinfo=UTC)
S = timedelta(seconds=1)
HOUR = timedelta(hours=1)
R = TypeVar("R")


def _job(store: Store, n: int = 0, *, callback_url: str | None = None, expires_at: datetime = T0 + HOUR) -> Job:
    return store.create_job(route="chat", operation="chat", body={"model": "m", "messages": [{"n": n}]},
                            client="acme", callback_url=callback_url, at=T0 + n * S, expires_at=expires_at)


# --- deferred jobs ------------------------------------------------------------------------------


def test_a_created_job_is_queued_and_kept(store: Store) -> None:
    job = _job(store, callback_url="https://client.example/hook")
    assert job.id.startswith("job_") and len(job.id) == 28
    assert (job.status, job.route, job.operation, job.client, job.callback_url) == (
        JobStatus.QUEUED, "chat", "chat", "acme", "https://client.example/hook")
    assert job.body == {"model": "m", "messages": [{"n": 0}]}
    assert (job.created_at, job.updated_at, job.expires_at, job.attempts) == (T0, T0, T0 + HOUR, 0)
    assert (job.response_status, job.response_body, job.target, job.error, job.callback_state) == (
        None, None, None, None, None)
    assert job.created_at.tzinfo is UTC
    assert store.job(job.id) == job
    assert store.job("job_missing") is None


def test_claim_takes_due_jobs_oldest_first_once_until_the_lease_runs_out(store: Store) -> None:
    jobs = [_job(store, n) for n in range(3)]
    assert store.claim_jobs(T0 - S) == []  # not due yet
    now = T0 + 5 * S
    first = store.claim_jobs(now, lease_seconds=30, limit=2)
    assert [(j.id, j.status, j.attempts, j.updated_at) for j in first] == [
        (jobs[0].id, JobStatus.RUNNING, 1, now), (jobs[1].id, JobStatus.RUNNING, 1, now)]
    assert [j.id for j in store.claim_jobs(now + 29 * S)] == [jobs[2].id]
    assert store.claim_jobs(now + 30 * S) == []  # leases end after, not at, 30 s
    # The process holding them died (SIGKILL): once their lease has run out, another one takes them over.
    again = store.claim_jobs(now + 31 * S, lease_seconds=30)
    assert [(j.id, j.status, j.attempts) for j in again] == [(jobs[0].id, JobStatus.RUNNING, 2),
                                                            (jobs[1].id, JobStatus.RUNNING, 2)]


def test_expired_jobs_are_not_claimed_and_expire_once(store: Store) -> None:
    queued = _job(store, 0, expires_at=T0 + 10 * S, callback_url="https://client.example/hook")
    running = _job(store, 1, expires_at=T0 + 10 * S)
    leased = _job(store, 2, expires_at=T0 + 10 * S)
    later = _job(store, 3, expires_at=T0 + HOUR)
    # `running` was taken with a lease that runs out at T0 + 7 s; `leased` with one that runs out well after.
    assert [j.id for j in store.claim_jobs(T0 + 2 * S, lease_seconds=5, limit=2)] == [queued.id, running.id]
    store.retry_job(queued.id, at=T0 + 2 * S, next_attempt_at=T0 + 2 * S, error="busy")
    assert [j.id for j in store.claim_jobs(T0 + 2 * S, lease_seconds=600, limit=1)] == [queued.id]
    store.retry_job(queued.id, at=T0 + 2 * S, next_attempt_at=T0 + 2 * S, error="busy")
    assert [j.id for j in store.claim_jobs(T0 + 3 * S, lease_seconds=600)] == [queued.id, leased.id, later.id]
    store.retry_job(queued.id, at=T0 + 3 * S, next_attempt_at=T0 + 3 * S, error="busy")

    at = T0 + 10 * S
    assert [j.id for j in store.claim_jobs(at)] == []  # `queued` and `running` are past expires_at (at, not after)
    assert store.expire_jobs(at) == [queued.id, running.id]  # not `leased`: its process is still working on it
    assert store.expire_jobs(at + S) == []
    expired = store.job(queued.id)
    assert expired is not None
    assert (expired.status, expired.updated_at, expired.callback_state) == (JobStatus.EXPIRED, at, "pending")
    expired_running = store.job(running.id)
    assert expired_running is not None
    assert (expired_running.status, expired_running.callback_state) == (JobStatus.EXPIRED, None)
    assert [j.id for j in store.claim_callbacks(at)] == [queued.id]
    # An expired job is over: a late answer or retry for it changes nothing.
    store.finish_job(running.id, succeeded=True, response_status=200, response_body=b"{}", target="t", at=at)
    store.retry_job(running.id, at=at, next_attempt_at=at, error="x")
    assert store.job(running.id) == expired_running


def test_retry_sends_a_running_job_back_to_the_queue(store: Store) -> None:
    job = _job(store)
    store.claim_jobs(T0, lease_seconds=600)
    retry_at = T0 + 20 * S
    store.retry_job(job.id, at=T0 + S, next_attempt_at=retry_at, error="every target is down")
    queued = store.job(job.id)
    assert queued is not None
    assert (queued.status, queued.error, queued.updated_at, queued.attempts) == (
        JobStatus.QUEUED, "every target is down", T0 + S, 1)
    assert store.claim_jobs(retry_at - S) == []
    [retried] = store.claim_jobs(retry_at)  # the lease was cleared: due although 600 s had been asked
    assert (retried.id, retried.status, retried.attempts) == (job.id, JobStatus.RUNNING, 2)


def test_a_job_finishes_once(store: Store) -> None:
    job = _job(store)
    answer = bytes(range(256)) + b'{"id": "chatcmpl-1"}'
    # Not running (never claimed): nothing happens.
    store.finish_job(job.id, succeeded=True, response_status=200, response_body=b"early", target="a", at=T0)
    assert store.job(job.id) == job
    store.claim_jobs(T0, lease_seconds=30)
    store.finish_job(job.id, succeeded=True, response_status=200, response_body=answer, target="openai/gpt-4o",
                     at=T0 + S)
    done = store.job(job.id)
    assert done is not None
    assert (done.status, done.response_status, done.response_body, done.target, done.error, done.updated_at) == (
        JobStatus.SUCCEEDED, 200, answer, "openai/gpt-4o", None, T0 + S)
    assert done.callback_state is None  # no callback URL
    # A second answer (another process that took it over after a lease ran out) is ignored, so is a retry.
    store.finish_job(job.id, succeeded=False, response_status=502, response_body=b"x", target=None, at=T0 + 2 * S,
                     error="late")
    store.retry_job(job.id, at=T0 + 2 * S, next_attempt_at=T0 + 2 * S, error="late")
    assert store.job(job.id) == done
    assert store.claim_jobs(T0 + HOUR - S) == []
    assert store.claim_callbacks(T0 + HOUR) == []
    store.finish_job("job_missing", succeeded=True, response_status=200, response_body=b"", target=None, at=T0)


def test_a_failed_job_keeps_its_error(store: Store) -> None:
    job = _job(store)
    store.claim_jobs(T0)
    store.finish_job(job.id, succeeded=False, response_status=400, response_body=b'{"error": {}}', target="t",
                     at=T0 + S, error="invalid request")
    failed = store.job(job.id)
    assert failed is not None
    assert (failed.status, failed.response_status, failed.error) == (JobStatus.FAILED, 400, "invalid request")


def test_two_stores_claiming_at_once_never_take_the_same_job(store: Store, database_url: str) -> None:
    created = {_job(store, n).id for n in range(40)}

    def claim(claimer: Store) -> list[str]:
        taken: list[str] = []
        while batch := claimer.claim_jobs(T0 + HOUR - S, limit=3):
            taken += [job.id for job in batch]
        return taken

    results = in_threads(database_url, 2, claim)
    every = [job_id for taken in results for job_id in taken]
    assert len(every) == len(set(every)) == 40
    assert set(every) == created


# --- callbacks ----------------------------------------------------------------------------------


def _finished(store: Store, n: int = 0, *, callback_url: str | None = "https://client.example/hook") -> Job:
    job = _job(store, n, callback_url=callback_url)
    store.claim_jobs(T0 + n * S)
    store.finish_job(job.id, succeeded=True, response_status=200, response_body=b"{}", target="t", at=T0 + 10 * S)
    return job


def test_a_finished_job_with_a_callback_url_is_claimed_for_its_callback_once(store: Store) -> None:
    first, second = _finished(store, 0), _finished(store, 1)
    _finished(store, 2, callback_url=None)
    assert store.claim_callbacks(T0 + 9 * S) == []  # due when the job finished
    claimed = store.claim_callbacks(T0 + 10 * S, lease_seconds=30)
    assert [(j.id, j.status, j.callback_state) for j in claimed] == [
        (first.id, JobStatus.SUCCEEDED, "pending"), (second.id, JobStatus.SUCCEEDED, "pending")]
    assert store.claim_callbacks(T0 + 40 * S) == []  # leased
    store.callback_sent(first.id, T0 + 11 * S)
    sent = store.job(first.id)
    assert sent is not None and sent.callback_state == "sent"
    assert [j.id for j in store.claim_callbacks(T0 + 41 * S)] == [second.id]  # the lease ran out, not sent
    store.callback_sent(second.id, T0 + 42 * S)
    assert store.claim_callbacks(T0 + HOUR) == []


def test_a_failed_callback_is_retried_then_given_up(store: Store) -> None:
    job = _finished(store)
    [_] = store.claim_callbacks(T0 + 10 * S, lease_seconds=600)
    retry_at = T0 + 60 * S
    store.callback_failed(job.id, "HTTP 503", retry_at=retry_at)
    assert store.claim_callbacks(retry_at - S) == []
    [again] = store.claim_callbacks(retry_at)  # the lease was cleared
    assert (again.id, again.callback_state, again.error) == (job.id, "pending", None)
    store.callback_failed(job.id, "HTTP 404", retry_at=None)
    failed = store.job(job.id)
    assert failed is not None and failed.callback_state == "failed"
    assert store.claim_callbacks(T0 + HOUR) == []
    # Outcomes for a callback no longer pending change nothing.
    store.callback_sent(job.id, T0 + HOUR)
    store.callback_failed(job.id, "x", retry_at=T0 + HOUR)
    assert store.job(job.id) == failed


def test_two_stores_claiming_callbacks_at_once_never_take_the_same_one(store: Store, database_url: str) -> None:
    finished = {_finished(store, n).id for n in range(20)}

    def claim(claimer: Store) -> list[str]:
        taken: list[str] = []
        while batch := claimer.claim_callbacks(T0 + HOUR, limit=3):
            taken += [job.id for job in batch]
        return taken

    every = [job_id for taken in in_threads(database_url, 2, claim) for job_id in taken]
    assert len(every) == len(set(every)) == 20
    assert set(every) == finished


# --- idempotency --------------------------------------------------------------------------------

HASH_A, HASH_B = "a" * 64, "b" * 64


def test_the_first_request_owns_the_key_and_later_ones_see_it_in_progress(store: Store) -> None:
    assert store.begin_idempotent("acme", "k1", HASH_A, at=T0, expires_at=T0 + HOUR) is None
    in_progress = IdempotencyRecord(client="acme", key="k1", body_hash=HASH_A, state="in_progress", created_at=T0,
                                    expires_at=T0 + HOUR)
    assert store.idempotent("acme", "k1") == in_progress
    assert store.begin_idempotent("acme", "k1", HASH_A, at=T0 + S, expires_at=T0 + HOUR + S) == in_progress
    # Another body under the same key: the caller sees the stored hash differ (and answers 422).
    assert store.begin_idempotent("acme", "k1", HASH_B, at=T0 + S, expires_at=T0 + HOUR + S) == in_progress
    # Keys are per client.
    assert store.begin_idempotent("other", "k1", HASH_B, at=T0, expires_at=T0 + HOUR) is None
    assert store.idempotent("nobody", "k1") is None


def test_a_done_record_replays_its_response(store: Store) -> None:
    store.begin_idempotent("", "k1", HASH_A, at=T0, expires_at=T0 + HOUR)
    body = b'{"id": "chatcmpl-1", "bytes": "\xff\x00"}'
    store.finish_idempotent("", "k1", status=200, headers=[("content-type", "application/json"), ("x-a", "é")],
                            body=body)
    done = IdempotencyRecord(client="", key="k1", body_hash=HASH_A, state="done", created_at=T0,
                             expires_at=T0 + HOUR, response_status=200,
                             response_headers=(("content-type", "application/json"), ("x-a", "é")),
                             response_body=body)
    assert store.begin_idempotent("", "k1", HASH_A, at=T0 + S, expires_at=T0 + HOUR) == done
    assert store.idempotent("", "k1") == done
    # Abandoning concerns only requests still in progress: a kept answer stays.
    store.abandon_idempotent("", "k1")
    assert store.idempotent("", "k1") == done
    # A done record is not finished again.
    store.finish_idempotent("", "k1", status=500, headers=[], body=b"")
    assert store.idempotent("", "k1") == done


def test_an_expired_record_is_replaced_by_a_new_owner(store: Store) -> None:
    store.begin_idempotent("acme", "k1", HASH_A, at=T0, expires_at=T0 + HOUR)
    store.finish_idempotent("acme", "k1", status=200, headers=[("a", "b")], body=b"old")
    later = T0 + HOUR  # expired at expires_at
    assert store.begin_idempotent("acme", "k1", HASH_B, at=later, expires_at=later + HOUR) is None
    assert store.idempotent("acme", "k1") == IdempotencyRecord(
        client="acme", key="k1", body_hash=HASH_B, state="in_progress", created_at=later, expires_at=later + HOUR)


def test_an_abandoned_key_may_be_taken_again(store: Store) -> None:
    store.begin_idempotent("acme", "k1", HASH_A, at=T0, expires_at=T0 + HOUR)
    store.abandon_idempotent("acme", "k1")
    assert store.idempotent("acme", "k1") is None
    assert store.begin_idempotent("acme", "k1", HASH_A, at=T0 + S, expires_at=T0 + HOUR) is None
    store.abandon_idempotent("acme", "missing")


@pytest.mark.parametrize("expired", [False, True], ids=["new", "expired"])
def test_concurrent_requests_with_one_key_have_exactly_one_owner(store: Store, database_url: str,
                                                                 expired: bool) -> None:
    keys = [f"k{n}" for n in range(5)]
    at = T0 + 2 * HOUR
    if expired:
        for key in keys:
            store.begin_idempotent("acme", key, HASH_A, at=T0, expires_at=T0 + HOUR)

    def begin(claimer: Store) -> list[IdempotencyRecord | None]:
        return [claimer.begin_idempotent("acme", key, HASH_B, at=at, expires_at=at + HOUR) for key in keys]

    results = in_threads(database_url, 3, begin)
    for index, key in enumerate(keys):
        outcomes = [found[index] for found in results]
        assert outcomes.count(None) == 1, key
        assert all(o is None or (o.body_hash, o.state, o.created_at) == (HASH_B, "in_progress", at) for o in outcomes)


# --- files --------------------------------------------------------------------------------------


def test_a_file_keeps_its_bytes_exactly(store: Store) -> None:
    content = bytes(range(256)) * 3 + b'{"custom_id": "r1"}\r\n\x00'
    created = store.create_file(purpose="batch", filename="requêtes.jsonl", content=content, at=T0)
    assert created.id.startswith("file-") and len(created.id) == 29
    assert created == FileRecord(id=created.id, purpose="batch", filename="requêtes.jsonl", bytes=len(content),
                                 created_at=T0)
    assert store.file(created.id) == created
    assert store.file_content(created.id) == content
    assert store.file("file-missing") is None
    assert store.file_content("file-missing") is None
    empty = store.create_file(purpose="batch_output", filename="out.jsonl", content=b"", at=T0)
    assert (empty.bytes, store.file_content(empty.id)) == (0, b"")


# --- batches ------------------------------------------------------------------------------------

LINES = [(f"request-{n}", {"model": "m", "messages": [{"role": "user", "content": f"q{n}"}]}) for n in range(5)]


def _batch(store: Store, *, at: datetime = T0, lines: list[tuple[str, dict[str, Any]]] | None = None,
           metadata: dict[str, str] | None = None) -> BatchRecord:
    return store.create_batch(endpoint="/v1/chat/completions", input_file_id="file-in", completion_window="24h",
                              metadata=metadata, lines=LINES if lines is None else lines, at=at,
                              expires_at=at + timedelta(hours=24))


def test_a_batch_is_created_in_progress_with_its_lines(store: Store) -> None:
    batch = _batch(store, metadata={"customer": "acme"})
    assert batch.id.startswith("batch_") and len(batch.id) == 30
    assert batch == BatchRecord(id=batch.id, endpoint="/v1/chat/completions", input_file_id="file-in",
                                completion_window="24h", status="in_progress", created_at=T0,
                                expires_at=T0 + timedelta(hours=24), in_progress_at=T0, total=5,
                                metadata={"customer": "acme"})
    assert store.batch(batch.id) == batch
    assert store.batch("batch_missing") is None
    lines = list(store.batch_lines(batch.id))
    assert [(line.batch_id, line.line_no, line.custom_id, line.body, line.state) for line in lines] == [
        (batch.id, n, custom_id, body, "pending") for n, (custom_id, body) in enumerate(LINES)]
    assert store.pending_lines(batch.id, limit=2) == lines[:2]


def test_an_empty_input_file_fails_the_batch_at_once(store: Store) -> None:
    batch = _batch(store, lines=[])
    assert (batch.status, batch.failed_at, batch.in_progress_at, batch.total) == ("failed", T0, None, 0)
    assert batch.errors is not None
    assert [error["code"] for error in batch.errors["data"]] == ["empty_file"]
    assert batch.errors["object"] == "list" and batch.errors["data"][0]["message"]
    assert list(store.batch_lines(batch.id)) == []
    assert store.claim_batch(T0) is None


def test_batches_are_listed_newest_first_page_by_page(store: Store) -> None:
    # Two batches created in the same instant are ordered by id.
    made = [_batch(store, at=T0 + n * S) for n in range(4)] + [_batch(store, at=T0 + 3 * S)]
    newest_first = sorted(made, key=lambda b: (b.created_at, b.id), reverse=True)
    pages, after = [], None
    while page := store.batches(limit=2, after=after):
        pages.append(page)
        after = page[-1].id
    assert [len(page) for page in pages] == [2, 2, 1]
    assert [b for page in pages for b in page] == newest_first
    assert store.batches() == newest_first
    assert store.batches(after="batch_missing") == []


def test_update_batch_sets_columns_and_returns_the_batch(store: Store) -> None:
    batch = _batch(store)
    errors = {"object": "list", "data": [{"code": "x", "message": "y"}]}
    updated = store.update_batch(batch.id, status="finalizing", finalizing_at=T0 + S, output_file_id="file-out",
                                 errors=errors)
    assert (updated.status, updated.finalizing_at, updated.output_file_id, updated.errors) == (
        "finalizing", T0 + S, "file-out", errors)
    assert store.batch(batch.id) == updated
    assert store.update_batch(batch.id) == updated
    with pytest.raises(ValueError, match="colour"):
        store.update_batch(batch.id, status="completed", colour="red")
    with pytest.raises(ValueError, match="id"):
        store.update_batch(batch.id, id="batch_other")
    with pytest.raises(ValueError, match="naive"):
        store.update_batch(batch.id, completed_at=datetime(2024, 5, 1, 12))
    assert store.batch(batch.id) == updated  # nothing written by the refused updates
    with pytest.raises(StoreError, match="batch_missing"):
        store.update_batch("batch_missing", status="completed")


def test_a_batch_is_claimed_by_one_runner_at_a_time(store: Store) -> None:
    first, second = _batch(store, at=T0), _batch(store, at=T0 + S)
    done = _batch(store, at=T0 - S)
    store.update_batch(done.id, status="completed", completed_at=T0)
    claimed = store.claim_batch(T0 + 2 * S, lease_seconds=30)
    assert claimed is not None and claimed.id == first.id  # oldest first, not a completed one
    other = store.claim_batch(T0 + 2 * S, lease_seconds=30)
    assert other is not None and other.id == second.id
    assert store.claim_batch(T0 + 2 * S) is None
    store.renew_batch(first.id, T0 + 30 * S, lease_seconds=30)
    again = store.claim_batch(T0 + 33 * S)  # first's lease was renewed until T0 + 60 s, second's ran out
    assert again is not None and again.id == second.id
    assert store.claim_batch(T0 + 60 * S) is None
    store.update_batch(first.id, status="cancelling", cancelling_at=T0 + 61 * S)
    cancelling = store.claim_batch(T0 + 61 * S)
    assert cancelling is not None and (cancelling.id, cancelling.status) == (first.id, "cancelling")
    store.update_batch(second.id, lease_until=None)  # let go
    released = store.claim_batch(T0 + 61 * S)
    assert released is not None and released.id == second.id
    with pytest.raises(StoreError):
        store.renew_batch("batch_missing", T0)


def test_two_stores_claiming_batches_at_once_never_take_the_same_one(store: Store, database_url: str) -> None:
    made = {_batch(store, at=T0 + n * S).id for n in range(6)}

    def claim(claimer: Store) -> list[str]:
        taken: list[str] = []
        while (batch := claimer.claim_batch(T0 + HOUR, lease_seconds=600)) is not None:
            taken.append(batch.id)
        return taken

    every = [batch_id for taken in in_threads(database_url, 2, claim) for batch_id in taken]
    assert len(every) == len(set(every)) == 6
    assert set(every) == made


def test_a_line_is_finished_once_and_counted_in_its_batch(store: Store) -> None:
    batch = _batch(store)
    answer = {"id": "chatcmpl-1", "choices": [{"message": {"content": "é"}}]}
    error = {"code": "no_target", "message": "every target is down"}
    store.finish_line(batch.id, 0, ok=True, response_status=200, response_body=answer, error=None,
                      request_id="batch_req_" + "0" * 24, at=T0 + S)
    store.finish_line(batch.id, 2, ok=False, response_status=None, response_body=None, error=error,
                      request_id="batch_req_" + "2" * 24, at=T0 + S)
    # Again (another runner after a lease ran out): neither the line nor the counts change.
    store.finish_line(batch.id, 0, ok=False, response_status=500, response_body=None, error=error,
                      request_id="batch_req_" + "9" * 24, at=T0 + 2 * S)
    store.finish_line(batch.id, 2, ok=True, response_status=200, response_body=answer, error=None,
                      request_id="batch_req_" + "9" * 24, at=T0 + 2 * S)
    counted = store.batch(batch.id)
    assert counted is not None and (counted.total, counted.completed, counted.failed) == (5, 1, 1)
    lines = list(store.batch_lines(batch.id))
    assert [(line.line_no, line.state) for line in lines] == [
        (0, "done"), (1, "pending"), (2, "error"), (3, "pending"), (4, "pending")]
    assert (lines[0].response_status, lines[0].response_body, lines[0].error, lines[0].request_id) == (
        200, answer, None, "batch_req_" + "0" * 24)
    assert (lines[2].response_status, lines[2].response_body, lines[2].error) == (None, None, error)
    assert [line.line_no for line in store.pending_lines(batch.id)] == [1, 3, 4]


def test_every_line_of_a_large_batch_is_listed_in_file_order(store: Store) -> None:
    lines = [(f"r{n}", {"input": n}) for n in range(3000)]
    batch = _batch(store, lines=lines)
    other = _batch(store, lines=LINES)
    listed = list(store.batch_lines(batch.id))
    assert [(line.line_no, line.custom_id, line.body) for line in listed] == [
        (n, custom_id, body) for n, (custom_id, body) in enumerate(lines)]
    assert len(list(store.batch_lines(other.id))) == len(LINES)
    assert [line.line_no for line in store.pending_lines(batch.id, limit=3)] == [0, 1, 2]
