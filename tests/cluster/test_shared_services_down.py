"""Issue 11, acceptance 3: neither Redis nor PostgreSQL becomes a single point of failure.

Three replicas behind HAProxy, under steady load. Redis (the test's own server) is stopped: no client
sees an error, each replica goes on with its own view (`/healthz`: degraded), and once Redis returns
their state converges within 5 s (a breaker opened on one replica meanwhile is open on all). Then
PostgreSQL (the test's own database, reached through a TCP proxy the test cuts) is unreachable for
10 s: requests keep being served, and once it returns the traffic history counts every request sent
(the replicas kept it in their spools), without any restart.
"""

from __future__ import annotations

import asyncio
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy.engine import make_url

from releve.sim import SimulatorThread
from releve.store import Store
from support.cluster import (
    CHAT,
    CLUSTER_KEY,
    LoadBalancer,
    RedisServer,
    Replica,
    cluster_config,
    postgres_database,
    replicas,
    steady_traffic,
    wait_until,
)
from support.tcp_proxy import TcpProxy

ADMIN_KEY = "cluster-test-admin-key"
PRIMARY = "primary/p-model"


def _health(replica: Replica) -> dict[str, Any]:
    with urllib.request.urlopen(f"{replica.url}/healthz", timeout=1.0) as response:
        result: dict[str, Any] = orjson.loads(response.read())
        return result


def _post(url: str, body: Any, key: str) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=orjson.dumps(body), method="POST",
                                     headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, orjson.loads(response.read())


def test_redis_stopped_mid_load_costs_no_request_and_state_converges_after(tmp_path: Path) -> None:
    with postgres_database() as db, RedisServer(tmp_path) as redis, SimulatorThread("primary") as primary, \
            SimulatorThread("fallback") as fallback:
        config = cluster_config(primary.base_url, fallback.base_url, storage_url=db,
                                shared_state=redis.shared_state(heartbeat="200ms"),
                                breaker={"consecutive_failures": 3, "open_for": "60s"},
                                admins={"ops": {"key": ADMIN_KEY}})
        with replicas(tmp_path, config, 3) as members, LoadBalancer(tmp_path, members) as lb:
            r1, r2, r3 = members
            wait_until(lambda: all(_health(r)["shared_state"] == "ok" and _health(r)["replicas"] == 3
                                   for r in members), 10, "three replicas seeing each other")

            async def scenario() -> tuple[float, Any]:
                traffic = asyncio.create_task(steady_traffic(lb.url, rate=10, seconds=12))
                await asyncio.sleep(1.5)
                await asyncio.to_thread(redis.stop)
                await asyncio.to_thread(wait_until, lambda: all(_health(r)["status"] == "degraded" for r in members),
                                        5, "every replica noticing Redis is gone")
                # Meanwhile r1 alone sees the primary fail (a drill fault in its process only) and opens its breaker.
                status, _ = await asyncio.to_thread(_post, f"{r1.url}/admin/faults",
                                                    {"kind": "error", "target": PRIMARY, "ttl": 60}, ADMIN_KEY)
                assert status == 201
                for _ in range(4):
                    answer = await asyncio.to_thread(_post, f"{r1.url}/v1/chat/completions", CHAT, CLUSTER_KEY)
                    assert answer[0] == 200
                await asyncio.to_thread(wait_until, lambda: _health(r1)["targets"][PRIMARY]["breaker"] == "open", 5,
                                        "r1 opening its breaker")
                assert [_health(r)["targets"][PRIMARY]["breaker"] for r in (r2, r3)] == ["closed", "closed"]
                await asyncio.to_thread(redis.start)
                back = time.monotonic()
                await asyncio.to_thread(
                    wait_until, lambda: all(_health(r)["shared_state"] == "ok" and _health(r)["replicas"] == 3
                                            and _health(r)["targets"][PRIMARY]["breaker"] == "open"
                                            for r in members), 5, "the replicas' state converging")
                converged = time.monotonic() - back
                return converged, await traffic

            converged, report = asyncio.run(scenario())
            print(f"\nRedis away and back: {len(report.outcomes)} requests through HAProxy, "
                  f"{len(report.failures())} failed; state converged {converged:.2f} s after Redis answered again")
            assert report.failures() == [], report.failures()[:3]
            assert converged < 5.0


def _counted(db: str, since: datetime) -> int:
    reader = Store(db)
    reader.open()
    try:
        minutes = reader.traffic(["assistant"], since, datetime.now(UTC) + timedelta(minutes=2))
    finally:
        reader.close()
    return sum(m.served + m.fallback + m.degraded + m.deferred + m.failed for m in minutes)


def test_postgres_unreachable_for_ten_seconds_keeps_serving_and_loses_no_event(tmp_path: Path) -> None:
    started = datetime.now(UTC) - timedelta(minutes=1)
    with postgres_database() as db, RedisServer(tmp_path) as redis, SimulatorThread("primary") as primary, \
            SimulatorThread("fallback") as fallback:
        url = make_url(db)
        with TcpProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
            config = cluster_config(primary.base_url, fallback.base_url, storage_url=proxy.url_for(db),
                                    shared_state=redis.shared_state(heartbeat="200ms"))
            config["routes"]["deferrable"] = {"targets": [{"provider": "primary", "model": "p-model"}],
                                              "degraded": {"defer": "always"}}
            with replicas(tmp_path, config, 3) as members, LoadBalancer(tmp_path, members) as lb:

                async def scenario() -> Any:
                    traffic = asyncio.create_task(steady_traffic(lb.url, rate=10, seconds=16))
                    await asyncio.sleep(2)
                    proxy.cut()
                    await asyncio.sleep(4)
                    # What must be durable is refused plainly while the store is away, never accepted and lost.
                    refused = await asyncio.to_thread(_refused_deferral, lb.url)
                    await asyncio.sleep(6)
                    proxy.restore()
                    return refused, await traffic

                refused, report = asyncio.run(scenario())
                sent = len(report.outcomes)
                wait_until(lambda: _counted(db, started) == sent, 20, f"the store counting all {sent} requests")
                leads = [r.name for r in members if _health(r)["lead"]]
                print(f"\nPostgreSQL away 10 s: {sent} requests through HAProxy, {len(report.failures())} failed, "
                      f"all {sent} in the traffic history once it returned; deferral while away: {refused}; "
                      f"lead after: {leads}")
                assert report.failures() == [], report.failures()[:3]
                assert refused[0] == 503 and refused[1] == "store_unavailable"
                assert len(leads) == 1


def _refused_deferral(url: str) -> tuple[int, str]:
    """A `Prefer: respond-async` request on a route that always defers needs the store: with it away, 503."""
    request = urllib.request.Request(
        f"{url}/v1/chat/completions", data=orjson.dumps({**CHAT, "model": "deferrable"}), method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {CLUSTER_KEY}",
                 "Prefer": "respond-async"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, ""
    except urllib.error.HTTPError as exc:
        body = exc.read()
        try:
            return exc.code, str(orjson.loads(body)["error"]["code"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return exc.code, body.decode(errors="replace")[:300]
