"""Issue 11, acceptance 2: 100 deferred jobs spread over three replicas; one is killed with SIGKILL mid-run.

The jobs are accepted through HAProxy (202 each), run by whichever replica claims them (`FOR UPDATE SKIP
LOCKED` on PostgreSQL), and the provider takes 1.2 s per answer, so the killed replica dies holding jobs
in flight. Its leases run out and the others take those jobs up. Every job ends succeeded, and the
provider executed each exactly once: the replicas send `Idempotency-Key: releve-job-<id>:<model>` upstream, and
a request the dead replica had already sent is answered again from the provider's record, not run twice.
"""

from __future__ import annotations

import asyncio
import time
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from releve.sim import SimulatorThread
from releve.store import Store
from support.cluster import (
    CHAT,
    CLUSTER_KEY,
    LoadBalancer,
    cluster_config,
    postgres_database,
    replicas,
    wait_until,
)

JOBS = 100
HEADERS = {"Content-Type": "application/json", "Authorization": f"Bearer {CLUSTER_KEY}", "Prefer": "respond-async"}


async def _defer_all(url: str) -> list[str]:
    body = orjson.dumps({**CHAT, "model": "deferrable"})
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:

        async def one(index: int) -> str:
            async with session.post(f"{url}/v1/chat/completions", data=body, headers=HEADERS) as response:
                payload = await response.json()
                assert response.status == 202, (index, response.status, payload)
                return str(payload["id"])

        return list(await asyncio.gather(*(one(i) for i in range(JOBS))))


def _job(url: str, job_id: str) -> dict[str, Any]:
    request = urllib.request.Request(f"{url}/v1/jobs/{job_id}", headers={"Authorization": f"Bearer {CLUSTER_KEY}"})
    with urllib.request.urlopen(request, timeout=5) as response:
        result: dict[str, Any] = orjson.loads(response.read())
        return result


def test_hundred_jobs_over_three_replicas_survive_a_sigkill_and_each_runs_once(tmp_path: Path) -> None:
    with postgres_database() as db, SimulatorThread("primary") as primary, SimulatorThread("fallback") as fallback:
        config = cluster_config(primary.base_url, fallback.base_url, storage_url=db, jobs={"concurrency": 4})
        config["routes"]["deferrable"] = {"targets": [{"provider": "primary", "model": "p-model"}],
                                          "attempt_timeout": "10s", "timeout": "20s",
                                          "degraded": {"defer": "always"}}
        primary.set_faults({"kind": "latency", "ms": 1200})
        with replicas(tmp_path, config, 3) as members, LoadBalancer(tmp_path, members) as lb:
            started = time.monotonic()
            ids = asyncio.run(_defer_all(lb.url))
            assert len(set(ids)) == JOBS
            victim = members[1]
            wait_until(lambda: primary.stats()["in_flight"] >= 6, 15, "jobs in flight at the provider")
            victim.kill()
            killed_at = time.monotonic() - started
            wait_until(lambda: all(_job(lb.url, job_id)["status"] == "succeeded" for job_id in ids), 90,
                       "every job succeeding")
            took = time.monotonic() - started
            stats = primary.stats()
            reader = Store(db)
            reader.open()
            try:
                jobs = [reader.job(job_id) for job_id in ids]
            finally:
                reader.close()
            taken_up = sum(1 for job in jobs if job is not None and job.attempts > 1)
            print(f"\n{JOBS} jobs accepted through HAProxy; r2 killed at {killed_at:.1f} s holding {taken_up} "
                  f"(claimed again once its leases ran out); all succeeded at {took:.1f} s; provider executions "
                  f"{stats['executions']}, answered again from its idempotency record {stats['idempotent_replays']}")
            assert stats["executions"] == JOBS
            assert taken_up > 0, "the killed replica held no job: the test did not exercise the lease"
