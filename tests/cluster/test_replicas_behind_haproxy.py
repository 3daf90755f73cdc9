"""Three `releve up` replicas on one PostgreSQL database behind HAProxy (deploy/haproxy.cfg, unchanged).

Issue 11's smoke test: the load balancer spreads requests over every replica, and a replica that stops
(gracefully, or killed outright while idle) costs clients nothing: HAProxy's health checks take it out,
and until they do, a refused connection is retried on another replica.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from releve.sim import SimulatorThread
from support.cluster import LoadBalancer, cluster_config, replicas, steady_traffic


async def test_replicas_share_the_traffic_and_one_stopping_costs_clients_nothing(
        tmp_path: Path, providers: tuple[SimulatorThread, SimulatorThread], database: str) -> None:
    primary, fallback = providers
    config = cluster_config(primary.base_url, fallback.base_url, storage_url=database)
    with replicas(tmp_path, config) as group, LoadBalancer(tmp_path, group) as lb:
        r1, r2, r3 = group

        # Steady state: 60 requests, every one answered by the primary, on every replica.
        report = await steady_traffic(lb.url, rate=20, seconds=3)
        assert report.failures() == [], lb.log()
        assert report.header_values("x-releve-target") == {"primary/p-model": 60}
        served = {replica.name: replica.requests_counted() for replica in group}
        assert sum(served.values()) == 60, served
        assert min(served.values()) >= 10, served  # least connections among idle replicas is round robin

        # r2 stops (SIGTERM) under traffic: it drains what it holds; new requests go to the other two.
        before = {replica.name: replica.requests_counted() for replica in (r1, r3)}
        traffic = asyncio.create_task(steady_traffic(lb.url, rate=20, seconds=5))
        await asyncio.sleep(1.0)
        assert await asyncio.to_thread(r2.stop) == 0, r2.log()
        stopped_at = time.monotonic()
        report = await traffic
        assert report.failures() == [], lb.log()
        assert len(report.outcomes) == 100
        after_stop = len([outcome for outcome in report.outcomes if outcome.sent_at >= stopped_at])
        grown = sum(replica.requests_counted() - before[replica.name] for replica in (r1, r3))
        assert after_stop >= 20 and grown >= after_stop, (after_stop, grown)
        await asyncio.to_thread(lb.wait_for_log, "Server replicas/r2 is DOWN")

        # r2 comes back and gets its share; r3 is killed while idle, before any health check could notice:
        # the connections HAProxy then opens to r3 are refused and redispatched, and no client sees it.
        await asyncio.to_thread(r2.restart)
        await asyncio.to_thread(lb.wait_for_log, "Server replicas/r2 is UP")
        r3.kill()
        report = await steady_traffic(lb.url, rate=20, seconds=2)
        assert report.failures() == [], lb.log()
        assert r2.requests_counted() >= 5
        await asyncio.to_thread(lb.wait_for_log, "Server replicas/r3 is DOWN")
