"""The job runner: deferred requests run once a target can answer, and their callbacks are delivered.

Every state change is in the store before it matters: a job is claimed (leased, attempts + 1) before it
runs and finished or put back after, so a process killed at any point loses nothing: the lease runs out
and any runner sharing the store (this one restarted, or another worker) takes the job again. The cost
is "at least once": a process killed after the provider answered but before the answer was written
runs that job a second time.

Leases are short (15 s by default) and renewed every third of that while a job runs, so a job held by a
process that died (SIGKILL, a lost machine) is taken up again within one lease, not after the longest
route deadline; the runner also stops a run at the route's deadline itself.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import random
from collections.abc import Callable
from datetime import datetime, timedelta

import aiohttp

from releve.errors import GatewayError, InvalidRequest, NoTargetAvailable, UpstreamError
from releve.gateway import Router, job_key, upstream_idempotency_key
from releve.gateway.providers import Operation, provider_verdict
from releve.notify import DeliveryError
from releve.store import Job, Store, poll_store

from ._callbacks import CallbackSender
from ._payload import error_body

__all__ = ["JobRunner"]

logger = logging.getLogger("releve.jobs")

# How long the runner lets a run go past its route's deadline before giving it up (put back, not failed).
_RUN_SLACK = 5.0
_CALLBACK_BATCH = 20


class JobRunner:
    """Claims due jobs, runs each through the router (at most `concurrency` at once), records the outcome.

    `NoTargetAvailable` puts the job back, due again after a jittered exponential backoff (`retry_base`
    × 2ⁿ, at most `retry_cap`, never sooner than the router's Retry-After within that cap); a provider
    refusing the request itself fails the job with the provider's error, as a direct call would. Jobs
    past their `expires_at` are expired on every pass. Callbacks are signed with `callback_secret` and
    retried with full-jitter backoff until `callback_attempts`.

    `wall` gives aware UTC datetimes: due dates are stored, so they are dates, not monotonic seconds.
    """

    def __init__(self, store: Store, router: Router, *, wall: Callable[[], datetime], callback_secret: str | None,
                 poll_every: float = 1.0, retry_base: float = 1.0, retry_cap: float = 30.0, concurrency: int = 8,
                 lease_seconds: float = 15.0, callback_attempts: int = 8, callback_base: float = 2.0,
                 callback_cap: float = 600.0, callback_timeout: float = 10.0, grace: float = 10.0,
                 rng: random.Random | None = None) -> None:
        self._store = store
        self._router = router
        self._wall = wall
        self._poll_every = poll_every
        self._retry_base = retry_base
        self._retry_cap = retry_cap
        self._concurrency = max(1, concurrency)
        self._lease = lease_seconds
        self._callback_attempts = max(1, callback_attempts)
        self._callback_base = callback_base
        self._callback_cap = callback_cap
        self._grace = grace
        self._rng = rng if rng is not None else random.Random()
        self._sender = CallbackSender(callback_secret, timeout=callback_timeout)
        self._callback_counts: dict[str, int] = {}
        self._wake = asyncio.Event()
        self._closing = False
        self._http: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self._active: dict[str, asyncio.Task[None]] = {}
        self._callbacks: asyncio.Task[int] | None = None

    @property
    def lease_seconds(self) -> float:
        """The lease each claim takes; renewed every third of it while the job runs."""
        return self._lease

    async def start(self, *, background: bool = True) -> None:
        """Open the HTTP session for callbacks; with `background`, start the loop (tests call `run_once()`)."""
        self._closing = False
        if self._http is None:
            self._http = aiohttp.ClientSession()
        if background and self._task is None:
            self._task = asyncio.create_task(self._run(), name="releve-jobs")

    async def close(self) -> None:
        """Stop claiming; let running jobs finish for up to `grace` seconds, then put them back and stop.

        A job stopped here is put back at once (due now), not left to its lease, so the next start or
        another worker takes it without waiting. Callbacks cut short come back when their lease runs out.
        """
        self._closing = True
        self._wake.set()
        task, self._task = self._task, None
        if task is not None:
            await asyncio.wait({task})
        pending = {*self._active.values(), *([self._callbacks] if self._callbacks is not None else [])}
        if pending:
            _, late = await asyncio.wait(pending, timeout=self._grace)
            for running in late:
                running.cancel()
            if late:
                await asyncio.wait(late)
        self._callbacks = None
        http, self._http = self._http, None
        if http is not None:
            await http.close()

    def wake(self) -> None:
        """Look for due jobs now rather than at the next poll: the gateway calls this after deferring one."""
        self._wake.set()

    async def run_once(self) -> int:
        """One whole pass, awaited: expire, run every due job, deliver every due callback.

        For tests and tools; returns how many jobs were run or expired and callbacks handled.
        """
        http = self._session()
        handled = len(await self._expire())
        seen: set[str] = set()
        while True:
            jobs = await self._claim(self._concurrency)
            await asyncio.gather(*(self._execute(job) for job in jobs))
            handled += len(jobs)
            repeated = any(job.id in seen for job in jobs)
            seen.update(job.id for job in jobs)
            if len(jobs) < self._concurrency or repeated:
                break
        return handled + await self._deliver_callbacks(http)

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None:
            raise RuntimeError("JobRunner.start() was not called")
        return self._http

    # --- the loop ----------------------------------------------------------------------------

    async def _run(self) -> None:
        await poll_store(self._pass, wake=self._wake, every=self._poll_every, stopping=lambda: self._closing,
                         what="job store", logger=logger)

    async def _pass(self) -> None:
        await self._expire()
        free = self._concurrency - len(self._active)
        for job in await self._claim(free) if free > 0 else []:
            self._spawn(job)
        if self._callbacks is None or self._callbacks.done():
            self._callbacks = asyncio.create_task(self._deliver_callbacks(self._session()),
                                                  name="releve-job-callbacks")

    def _spawn(self, job: Job) -> None:
        task = asyncio.create_task(self._execute(job), name=f"releve-job-{job.id}")
        self._active[job.id] = task

        def done(_: asyncio.Task[None]) -> None:
            self._active.pop(job.id, None)
            self._wake.set()  # a slot is free, and a callback may be due

        task.add_done_callback(done)

    async def _expire(self) -> list[str]:
        expired = await asyncio.to_thread(self._store.expire_jobs, self._wall())
        if expired:
            logger.warning("%d deferred job(s) expired before any target could answer: %s",
                           len(expired), ", ".join(expired))
        return expired

    async def _claim(self, limit: int) -> list[Job]:
        return await asyncio.to_thread(self._store.claim_jobs, self._wall(), lease_seconds=self._lease, limit=limit)

    # --- one job -----------------------------------------------------------------------------

    async def _execute(self, job: Job) -> None:
        """Run one claimed job and record what happened; never raises but for cancellation."""
        keeper = asyncio.create_task(self._keep_leased(job.id), name=f"releve-lease-{job.id}")
        try:
            await self._attempt(job)
        except Exception:
            # Recording the outcome failed (the store): the lease runs out and the job comes back.
            logger.exception("job %s: could not record the outcome; it will run again", job.id)
        finally:
            keeper.cancel()
            await asyncio.gather(keeper, return_exceptions=True)

    async def _keep_leased(self, job_id: str) -> None:
        """Renew the job's lease while it runs: proof that this process is alive."""
        while True:
            await asyncio.sleep(self._lease / 3)
            try:
                if not await asyncio.to_thread(self._store.renew_job, job_id, self._wall(),
                                               lease_seconds=self._lease):
                    return
            except Exception:
                logger.warning("job %s: could not renew its lease; another runner may take it", job_id)

    async def _attempt(self, job: Job) -> None:
        plan = self._router.routes.get(job.route)
        if plan is None:
            await self._fail(job, 404, f"The route '{job.route}' no longer exists in the configuration; "
                                       "the job cannot run.", "model_not_found")
            return
        try:
            operation = Operation(job.operation)
        except ValueError:
            await self._fail(job, 400, f"Unknown operation '{job.operation}'.", "invalid_operation")
            return
        body = copy.deepcopy(job.body)  # the router and transports may change it
        body.pop("stream", None)  # a job's answer is kept whole, never streamed
        body.pop("stream_options", None)
        try:
            # One key for every run of this job: a provider that honours it executes the job once, even when a
            # replica died after sending it and another runs it again.
            with upstream_idempotency_key(job_key(job.id)):
                async with asyncio.timeout(plan.timeout + _RUN_SLACK):
                    served = await self._router.send(plan, body, operation)
        except asyncio.CancelledError:
            # Stopped by close(): give the job back now rather than when its lease runs out.
            await asyncio.shield(self._put_back(job, 0.0, "interrupted: the gateway stopped"))
            raise
        except NoTargetAvailable as exc:
            await self._retry(job, exc.message, exc.retry_after)
        except UpstreamError as exc:  # the provider refused the request itself: as a direct call, relayed
            verdict = provider_verdict(exc)
            await self._fail(job, exc.upstream_status or 400, verdict.message, verdict.code or "invalid_request",
                             kind=verdict.type or "invalid_request_error", param=verdict.param)
        except InvalidRequest as exc:  # e.g. no target can carry this request: trying again cannot help
            await self._fail(job, exc.status, exc.message, exc.code, param=exc.param)
        except (GatewayError, TimeoutError) as exc:
            reason = exc.message if isinstance(exc, GatewayError) else "no answer within the route's deadline"
            await self._retry(job, reason, None)
        except Exception as exc:  # a bug, not the job's fault: it runs again later
            logger.exception("job %s: unexpected error while running", job.id)
            await self._retry(job, f"unexpected {type(exc).__name__}", None)
        else:
            logger.info("job %s served by %s after %d attempt(s) (run %d)", job.id, served.target.label,
                        served.attempts, job.attempts)
            await asyncio.to_thread(self._store.finish_job, job.id, succeeded=True,
                                    response_status=served.response.status, response_body=served.response.body,
                                    target=served.target.label, at=self._wall())

    async def _fail(self, job: Job, status: int, message: str, code: str, *, kind: str = "invalid_request_error",
                    param: str | None = None) -> None:
        logger.info("job %s failed: %s", job.id, message)
        await asyncio.to_thread(self._store.finish_job, job.id, succeeded=False, response_status=status,
                                response_body=error_body(message, code, kind=kind, param=param), target=None,
                                at=self._wall(), error=message)

    async def _retry(self, job: Job, reason: str, retry_after: float | None) -> None:
        delay = self.backoff(job.attempts)
        if retry_after is not None:
            delay = max(delay, min(retry_after, self._retry_cap))
        logger.info("job %s: no target yet (run %d): %s; next run in %.1f s", job.id, job.attempts, reason, delay)
        await self._put_back(job, delay, reason)

    async def _put_back(self, job: Job, delay: float, reason: str) -> None:
        at = self._wall()
        await asyncio.to_thread(self._store.retry_job, job.id, at=at, next_attempt_at=at + timedelta(seconds=delay),
                                error=reason)

    def backoff(self, attempt: int) -> float:
        """Seconds before run `attempt` + 1: "equal jitter", half fixed so a job never spins, half random
        so that jobs deferred during the same outage do not all hit the recovered provider at once."""
        ceiling = min(self._retry_cap, self._retry_base * 2.0 ** max(0, attempt - 1))
        return ceiling / 2 + self._rng.uniform(0.0, ceiling / 2)

    # --- callbacks ---------------------------------------------------------------------------

    async def _deliver_callbacks(self, http: aiohttp.ClientSession) -> int:
        handled = 0
        while True:
            jobs = await asyncio.to_thread(self._store.claim_callbacks, self._wall(), lease_seconds=self._lease,
                                           limit=_CALLBACK_BATCH)
            await asyncio.gather(*(self._callback(job, http) for job in jobs))
            handled += len(jobs)
            if len(jobs) < _CALLBACK_BATCH or self._closing:
                return handled

    async def _callback(self, job: Job, http: aiohttp.ClientSession) -> None:
        try:
            await self._call_back(job, http)
        except Exception:
            logger.exception("job %s: could not record the callback's outcome", job.id)

    async def _call_back(self, job: Job, http: aiohttp.ClientSession) -> None:
        attempt = self._callback_attempt(job)
        try:
            await self._sender.send(job, http, self._wall())
        except DeliveryError as exc:
            error = exc
        except Exception as exc:
            logger.exception("job %s: unexpected error in its callback", job.id)
            error = DeliveryError(f"unexpected {type(exc).__name__}")
        else:
            self._callback_counts.pop(job.id, None)
            await asyncio.to_thread(self._store.callback_sent, job.id, self._wall())
            return
        if error.permanent or attempt >= self._callback_attempts:
            self._callback_counts.pop(job.id, None)
            logger.warning("job %s: callback given up after %d attempt(s): %s", job.id, attempt, error.message)
            await asyncio.to_thread(self._store.callback_failed, job.id, error.message, retry_at=None)
            return
        delay = self._rng.uniform(0.0, min(self._callback_cap, self._callback_base * 2.0 ** (attempt - 1)))
        if error.retry_after is not None:
            delay = max(delay, min(error.retry_after, self._callback_cap))
        logger.info("job %s: callback failed (attempt %d): %s; next try in %.1f s", job.id, attempt, error.message,
                    delay)
        await asyncio.to_thread(self._store.callback_failed, job.id, error.message,
                                retry_at=self._wall() + timedelta(seconds=delay))

    def _callback_attempt(self, job: Job) -> int:
        """This attempt's number: the store's count when `Job` carries it, else counted in this process."""
        stored = getattr(job, "callback_attempts", None)
        if isinstance(stored, int) and stored > 0:
            return stored
        count = self._callback_counts.get(job.id, 0) + 1
        self._callback_counts[job.id] = count
        return count
