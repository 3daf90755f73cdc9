"""The job runner against real simulators, a real router and a SQLite store: nothing a client sent is lost."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest

from integration.jobs._support import CALLBACK_SECRET, CallbackReceiver, WallClock, chat, open_store, upstream_calls
from releve.gateway import Router
from releve.gateway.providers import Operation
from releve.jobs import JobRunner, StoreDeferrer, job_payload
from releve.sim import SimulatorThread
from releve.store import Job, JobStatus, Store

DOWN = {"kind": "status", "status": 503}


def make_runner(store: Store, router: Router, wall: WallClock, **options: Any) -> JobRunner:
    options.setdefault("poll_every", 30.0)  # only wake() or run_once() make it look
    return JobRunner(store, router, wall=wall, callback_secret=options.pop("callback_secret", CALLBACK_SECRET),
                     rng=random.Random(7), **options)


@pytest.fixture
async def runner(store: Store, router: Router, wall: WallClock) -> AsyncIterator[JobRunner]:
    started = make_runner(store, router, wall)
    await started.start(background=False)
    yield started
    await started.close()


def deferrer(store: Store, runner: JobRunner, wall: WallClock, max_age: float = 3600.0) -> StoreDeferrer:
    return StoreDeferrer(store, runner, wall=wall, max_age_for=lambda route: max_age)


async def defer(store: Store, runner: JobRunner, wall: WallClock, *, route: str = "solo", callback: str | None = None,
                max_age: float = 3600.0, body: dict[str, Any] | None = None,
                operation: Operation = Operation.CHAT) -> str:
    deferred = await deferrer(store, runner, wall, max_age).defer(
        route=route, operation=operation, body=body or chat(route), client="jobs", callback_url=callback)
    return deferred.id


def job(store: Store, job_id: str) -> Job:
    found = store.job(job_id)
    assert found is not None
    return found


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


async def test_a_job_runs_once_the_provider_recovers_and_its_callback_arrives_signed(
        primary: SimulatorThread, store: Store, runner: JobRunner, wall: WallClock,
        receiver: CallbackReceiver) -> None:
    primary.set_faults(DOWN)
    deferred = await deferrer(store, runner, wall).defer(route="solo", operation=Operation.CHAT, body=chat(),
                                                         client="jobs", callback_url=receiver.url)
    assert (deferred.status, deferred.location) == ("queued", f"/v1/jobs/{deferred.id}")

    assert await runner.run_once() == 1
    waiting = job(store, deferred.id)
    assert waiting.status is JobStatus.QUEUED and waiting.attempts == 1
    assert waiting.error is not None and "no target could answer" in waiting.error
    assert await runner.run_once() == 0  # put back with a backoff: not due yet
    assert upstream_calls(primary.stats()) == 1

    primary.clear_faults()
    primary.reset_stats()
    wall.advance(2)
    await runner.run_once()
    done = job(store, deferred.id)
    assert (done.status, done.target, done.attempts) == (JobStatus.SUCCEEDED, "primary/p-model", 2)
    stats = primary.stats()
    assert upstream_calls(stats) == 1
    assert stats["received"][-1]["body"]["model"] == "p-model"
    assert done.body == chat()  # what the transport sent was a copy
    [callback] = receiver.received
    assert callback.signed(wall())
    assert callback.headers["X-Releve-Event"] == "job.succeeded"
    assert callback.headers["X-Releve-Delivery"] == deferred.id
    payload = callback.json()
    assert payload == job_payload(job(store, deferred.id))
    assert payload["status"] == "succeeded" and payload["object"] == "job" and payload["route"] == "solo"
    assert payload["response"]["object"] == "chat.completion"
    assert job(store, deferred.id).callback_state == "sent"

    wall.advance(600)
    await runner.run_once()
    assert upstream_calls(primary.stats()) == 1  # exactly once at the provider
    assert len(receiver.received) == 1


async def test_a_job_fails_over_like_any_request(primary: SimulatorThread, fallback: SimulatorThread, store: Store,
                                                 runner: JobRunner, wall: WallClock) -> None:
    primary.set_faults(DOWN)
    job_id = await defer(store, runner, wall, route="assistant")
    await runner.run_once()
    assert (job(store, job_id).status, job(store, job_id).target) == (JobStatus.SUCCEEDED, "fallback/f-model")
    assert upstream_calls(fallback.stats()) == 1


async def test_an_embeddings_job_keeps_the_embeddings(store: Store, runner: JobRunner, wall: WallClock) -> None:
    job_id = await defer(store, runner, wall, body={"model": "solo", "input": "bonjour"},
                         operation=Operation.EMBEDDINGS)
    await runner.run_once()
    payload = job_payload(job(store, job_id))
    assert payload["status"] == "succeeded" and payload["response"]["data"][0]["object"] == "embedding"


async def test_a_job_expires_when_no_target_answers_in_time(primary: SimulatorThread, store: Store, runner: JobRunner,
                                                            wall: WallClock, receiver: CallbackReceiver) -> None:
    primary.set_faults(DOWN)
    job_id = await defer(store, runner, wall, max_age=10.0, callback=receiver.url)
    await runner.run_once()
    wall.advance(11)
    await runner.run_once()
    expired = job(store, job_id)
    assert expired.status is JobStatus.EXPIRED
    assert upstream_calls(primary.stats()) == 1
    [callback] = receiver.received
    assert callback.signed(wall()) and callback.headers["X-Releve-Event"] == "job.expired"
    error = callback.json()["error"]
    assert error["code"] == "job_expired" and "no target could answer" in error["message"]


async def test_a_request_the_provider_refuses_fails_and_is_not_retried(
        primary: SimulatorThread, store: Store, runner: JobRunner, wall: WallClock) -> None:
    primary.set_faults({"kind": "status", "status": 400})
    job_id = await defer(store, runner, wall)
    await runner.run_once()
    failed = job(store, job_id)
    assert (failed.status, failed.response_status) == (JobStatus.FAILED, 400)
    error = job_payload(failed)["error"]
    assert error["type"] == "invalid_request_error" and error["message"]
    wall.advance(600)
    await runner.run_once()
    assert upstream_calls(primary.stats()) == 1


async def test_a_job_whose_route_no_longer_exists_fails_with_a_clear_error(store: Store, runner: JobRunner,
                                                                           wall: WallClock) -> None:
    created = store.create_job(route="retired", operation="chat", body=chat("retired"), client="jobs",
                               callback_url=None, at=wall(), expires_at=wall().replace(year=2030))
    await runner.run_once()
    failed = job(store, created.id)
    assert failed.status is JobStatus.FAILED
    assert failed.error is not None and "'retired' no longer exists" in failed.error
    assert job_payload(failed)["error"]["code"] == "model_not_found"


async def test_two_runners_on_one_store_never_run_a_job_twice(primary: SimulatorThread, database: str, store: Store,
                                                              router: Router, runner: JobRunner,
                                                              wall: WallClock) -> None:
    ids = [await defer(store, runner, wall, body=chat(text=f"question {n}")) for n in range(12)]
    other_store = open_store(database)  # another process: its own connections to the same database
    other = make_runner(other_store, router, wall, concurrency=3)
    await other.start(background=False)
    try:
        await asyncio.gather(runner.run_once(), other.run_once(), runner.run_once())
    finally:
        await other.close()
        other_store.close()
    assert all(job(store, job_id).status is JobStatus.SUCCEEDED for job_id in ids)
    assert all(job(store, job_id).attempts == 1 for job_id in ids)
    assert upstream_calls(primary.stats()) == 12


async def test_a_job_left_running_by_a_killed_process_runs_once_its_lease_ran_out(
        primary: SimulatorThread, store: Store, runner: JobRunner, wall: WallClock) -> None:
    job_id = await defer(store, runner, wall)
    [taken] = store.claim_jobs(wall(), lease_seconds=runner.lease_seconds)  # then the process was SIGKILLed
    assert taken.id == job_id
    assert await runner.run_once() == 0
    assert job(store, job_id).status is JobStatus.RUNNING
    wall.advance(runner.lease_seconds + 1)
    await runner.run_once()
    finished = job(store, job_id)
    assert (finished.status, finished.attempts) == (JobStatus.SUCCEEDED, 2)
    assert upstream_calls(primary.stats()) == 1


async def test_a_running_jobs_lease_is_renewed_so_no_other_runner_takes_it(
        store: Store, router: Router, wall: WallClock, primary: SimulatorThread) -> None:
    """Short leases, renewed while the job runs: a dead process's jobs come back within one lease."""
    primary.set_faults({"kind": "latency", "ms": 900})
    runner = make_runner(store, router, wall, lease_seconds=0.3)
    await runner.start(background=False)
    job_id = await defer(store, runner, wall)
    running = asyncio.create_task(runner.run_once())
    await until(lambda: job(store, job_id).status is JobStatus.RUNNING)
    for _ in range(3):  # past the first lease twice over: renewed each time
        await asyncio.sleep(0.25)
        wall.advance(0.25)
        assert store.claim_jobs(wall(), lease_seconds=0.3) == []
    await running
    await runner.close()
    assert job(store, job_id).status is JobStatus.SUCCEEDED
    assert upstream_calls(primary.stats()) == 1


async def test_the_background_loop_runs_a_deferred_job_when_woken(store: Store, router: Router,
                                                                  wall: WallClock) -> None:
    background = make_runner(store, router, wall, poll_every=60.0)
    await background.start()
    try:
        await asyncio.sleep(0.2)  # the loop has looked once and now sleeps for a minute
        job_id = await defer(store, background, wall)
        await until(lambda: job(store, job_id).status is JobStatus.SUCCEEDED)
    finally:
        await background.close()


async def test_closing_puts_a_running_job_back_at_once(primary: SimulatorThread, store: Store, router: Router,
                                                       runner: JobRunner, wall: WallClock) -> None:
    primary.set_faults({"kind": "latency", "ms": 3000})
    background = make_runner(store, router, wall, grace=0.1)
    await background.start()
    try:
        job_id = await defer(store, background, wall)
        await until(lambda: primary.stats()["in_flight"] >= 1)
    finally:
        await background.close()
    stopped = job(store, job_id)
    assert stopped.status is JobStatus.QUEUED
    assert stopped.error is not None and "interrupted" in stopped.error
    primary.clear_faults()
    await runner.run_once()  # due at once: no lease to wait for
    assert job(store, job_id).status is JobStatus.SUCCEEDED


async def test_a_failed_callback_is_retried_with_the_same_delivery_id(store: Store, runner: JobRunner,
                                                                       wall: WallClock,
                                                                       receiver: CallbackReceiver) -> None:
    receiver.script = [503]
    job_id = await defer(store, runner, wall, callback=receiver.url)
    await runner.run_once()
    assert job(store, job_id).callback_state == "pending"
    wall.advance(5)  # the first retry waits at most callback_base (2 s)
    await runner.run_once()
    assert job(store, job_id).callback_state == "sent"
    assert [c.headers["X-Releve-Delivery"] for c in receiver.received] == [job_id, job_id]
    assert receiver.received[0].body == receiver.received[1].body


async def test_a_callback_is_given_up_after_its_attempts(store: Store, router: Router, wall: WallClock,
                                                         receiver: CallbackReceiver) -> None:
    receiver.script = [500, 500, 500]
    limited = make_runner(store, router, wall, callback_attempts=2)
    await limited.start(background=False)
    try:
        job_id = await defer(store, limited, wall, callback=receiver.url)
        await limited.run_once()
        wall.advance(5)
        await limited.run_once()
        wall.advance(600)
        await limited.run_once()
    finally:
        await limited.close()
    assert job(store, job_id).callback_state == "failed"
    assert len(receiver.received) == 2


async def test_a_callback_refused_with_a_4xx_is_not_retried(store: Store, runner: JobRunner, wall: WallClock,
                                                             receiver: CallbackReceiver) -> None:
    receiver.script = [410]
    job_id = await defer(store, runner, wall, callback=receiver.url)
    await runner.run_once()
    assert job(store, job_id).callback_state == "failed"
    assert len(receiver.received) == 1


async def test_without_a_secret_no_callback_is_sent(store: Store, router: Router, wall: WallClock,
                                                    receiver: CallbackReceiver) -> None:
    unsigned = make_runner(store, router, wall, callback_secret=None)
    await unsigned.start(background=False)
    try:
        job_id = await defer(store, unsigned, wall, callback=receiver.url)
        await unsigned.run_once()
    finally:
        await unsigned.close()
    assert job(store, job_id).status is JobStatus.SUCCEEDED
    assert job(store, job_id).callback_state == "failed"
    assert receiver.received == []


# --- exactly once at the provider -----------------------------------------------------------------


async def test_every_run_of_a_job_sends_its_idempotency_key_so_a_lost_answer_is_replayed_not_rerun(
        primary: SimulatorThread, store: Store, runner: JobRunner, wall: WallClock) -> None:
    """The first answer is lost on its way back (the provider executed the job): the next run gets it replayed."""
    job_id = await defer(store, runner, wall)
    primary.set_faults({"kind": "stream_cut", "count": 1})  # a plain body cut halfway: "answer cut short"
    await runner.run_once()
    assert job(store, job_id).status is JobStatus.QUEUED  # no target could answer: put back
    wall.advance(2)
    await runner.run_once()
    done = job(store, job_id)
    assert (done.status, done.attempts) == (JobStatus.SUCCEEDED, 2)
    stats = primary.stats()
    assert [r["idempotency_key"] for r in stats["received"]] == [f"releve-job-{job_id}:p-model"] * 2
    assert (stats["executions"], stats["idempotent_replays"]) == (1, 1)


async def test_a_job_sent_by_a_replica_that_died_is_not_executed_again_by_the_next_one(
        primary: SimulatorThread, store: Store, runner: JobRunner, wall: WallClock) -> None:
    job_id = await defer(store, runner, wall)
    [taken] = store.claim_jobs(wall(), lease_seconds=runner.lease_seconds)  # a replica claims it…
    async with aiohttp.ClientSession() as session, session.post(  # …sends it, and is SIGKILLed before writing
            f"{primary.base_url}/chat/completions", json={**chat(), "model": "p-model"},
            headers={"Idempotency-Key": f"releve-job-{taken.id}:p-model"}) as response:
        assert response.status == 200
    wall.advance(runner.lease_seconds + 1)
    await runner.run_once()  # the lease ran out: this replica runs the job again
    assert job(store, job_id).status is JobStatus.SUCCEEDED
    stats = primary.stats()
    assert (stats["executions"], stats["idempotent_replays"]) == (1, 1)
    assert stats["by_model"] == {"p-model": {"executions": 1, "idempotent_replays": 1}}


async def test_requests_from_clients_carry_no_idempotency_key(primary: SimulatorThread, router: Router) -> None:
    plan = router.routes["solo"]
    await router.send(plan, chat(), Operation.CHAT)
    assert [r["idempotency_key"] for r in primary.stats()["received"]] == [None]
