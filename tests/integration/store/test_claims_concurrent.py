"""Replicas claiming at once: every job, callback, batch and notification goes to exactly one of them, and on
PostgreSQL a claimer never waits for rows another one is taking (FOR UPDATE SKIP LOCKED)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import psycopg
import pytest

from releve.store import ComponentStatus, Impact, JobStatus, Store, Text
from support.stores import in_threads

T0 = datetime(2024, 5, 1, 12, tzinfo=UTC)
S = timedelta(seconds=1)
HOUR = timedelta(hours=1)
REPLICAS = 6
R = TypeVar("R")


def _replicas(database_url: str, claim_one_round: Callable[[Store], list[R]]) -> list[list[R]]:
    """Each replica (its own `Store`, its own pool) calls `claim_one_round` until it comes back empty."""

    def drain(replica: Store) -> list[R]:
        taken: list[R] = []
        while claimed := claim_one_round(replica):
            taken += claimed
        return taken

    return in_threads(database_url, REPLICAS, drain)


def _jobs(store: Store, count: int) -> list[str]:
    """Ids, oldest first."""
    return [store.create_job(route="chat", operation="chat", body={"n": n}, client=None, callback_url=None,
                             at=T0 + n * S / 1000, expires_at=T0 + HOUR).id for n in range(count)]


def test_six_replicas_claim_two_hundred_jobs_each_exactly_once(store: Store, database_url: str) -> None:
    created = set(_jobs(store, 200))
    now = T0 + S

    taken = _replicas(database_url, lambda replica: [job.id for job in replica.claim_jobs(now, limit=7)])

    every = [job_id for ids in taken for job_id in ids]
    assert len(every) == len(set(every)) == 200
    assert set(every) == created
    assert store.claim_jobs(now) == []  # none left
    assert {job.status for job in map(store.job, created) if job is not None} == {JobStatus.RUNNING}


def test_six_replicas_claim_callbacks_each_exactly_once(store: Store, database_url: str) -> None:
    created = {store.create_job(route="chat", operation="chat", body={"n": n}, client=None,
                                callback_url="https://client.example/hook", at=T0, expires_at=T0 + HOUR).id
               for n in range(60)}
    for job in store.claim_jobs(T0, limit=60):
        store.finish_job(job.id, succeeded=True, response_status=200, response_body=b"{}", target="t", at=T0)

    taken = _replicas(database_url, lambda replica: [job.id for job in replica.claim_callbacks(T0 + S, limit=4)])

    every = [job_id for ids in taken for job_id in ids]
    assert len(every) == len(set(every)) == 60
    assert set(every) == created


def test_six_replicas_claim_batches_each_exactly_once(store: Store, database_url: str) -> None:
    lines = [("request-0", {"model": "m", "messages": [{"role": "user", "content": "q"}]})]
    created = {store.create_batch(endpoint="/v1/chat/completions", input_file_id="file-in", completion_window="24h",
                                  metadata=None, lines=lines, at=T0 + n * S, expires_at=T0 + 24 * HOUR).id
               for n in range(18)}

    def one(replica: Store) -> list[str]:
        batch = replica.claim_batch(T0 + HOUR, lease_seconds=600)
        return [] if batch is None else [batch.id]

    every = [batch_id for ids in _replicas(database_url, one) for batch_id in ids]
    assert len(every) == len(set(every)) == 18
    assert set(every) == created


def test_six_replicas_claim_notifications_each_exactly_once(store: Store, database_url: str) -> None:
    channels = [f"webhook:{n}" for n in range(40)]
    for name in ("a", "b", "c"):
        component = f"process:{name}"
        store.open_incident(name=Text(name, name), body=Text("x", "x"), impact=Impact.MINOR, components=[component],
                            affected=[(component, ComponentStatus.MAJOR_OUTAGE)], at=T0, automatic=True,
                            channels=channels)

    taken = _replicas(database_url, lambda replica: [item.id for item in replica.claim_notifications(T0, limit=5)])

    every = [item_id for ids in taken for item_id in ids]
    assert len(every) == len(set(every)) == 120


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_on_postgresql_a_claim_skips_rows_another_transaction_holds_instead_of_waiting(
        store: Store, database_url: str) -> None:
    ordered = _jobs(store, 20)
    claimed: list[str] = []
    # Another replica in the middle of claiming the five oldest: their rows are locked until it commits.
    with psycopg.connect(database_url, autocommit=False) as other:
        other.execute("SELECT id FROM jobs ORDER BY created_at, id LIMIT 5 FOR UPDATE")
        claimer = threading.Thread(target=lambda: claimed.extend(job.id for job in store.claim_jobs(T0 + S, limit=10)))
        started = time.monotonic()
        claimer.start()
        claimer.join(timeout=5)
        waited = time.monotonic() - started
        other.rollback()  # a claimer that waited on the locks goes on now
    claimer.join()
    assert waited < 1.0
    assert claimed == ordered[5:15]
