"""A drill's fault, injected through the load balancer, breaks every replica's calls, not one third of them.

A game day against a cluster goes through HAProxy like any client: the admin call that injects the fault
reaches one replica, which passes it on through Redis; every replica then acts out the outage (and fails
over). Removed through the load balancer (maybe at another replica), it ends everywhere. And
`releve drill run` against the load balancer sees the whole cluster fail over, as in a real outage.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from releve.cli import app as cli
from releve.sim import SimulatorThread
from support.cluster import (
    CLUSTER_KEY,
    LoadBalancer,
    RedisServer,
    Replica,
    cluster_config,
    replicas,
    steady_traffic,
    wait_until,
)

ADMIN = "cluster-admin-key-0123456789"
PRIMARY = "primary/p-model"


def admin(url: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    request = urllib.request.Request(f"{url}{path}", method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def fault_ids(replica: Replica) -> list[str]:
    return [fault["id"] for fault in admin(replica.url, "GET", "/admin/faults")[1]["faults"]]


async def served_by(members: list[Replica]) -> dict[str, set[str]]:
    """Which target answered 4 requests sent straight to each replica."""
    reports = await asyncio.gather(*(steady_traffic(r.url, rate=20, seconds=0.2) for r in members))
    for report in reports:
        assert report.failures() == [], report.failures()[:2]
    return {r.name: set(report.header_values("x-releve-target")) for r, report in zip(members, reports, strict=True)}


@pytest.fixture
def cluster(tmp_path: Path, providers: tuple[SimulatorThread, SimulatorThread], database: str,
            redis_server: RedisServer) -> Iterator[tuple[list[Replica], LoadBalancer]]:
    """Three replicas sharing faults through Redis, with an admin key, behind HAProxy; breakers never trip
    (what stops calls to the primary must be the fault itself)."""
    primary, fallback = providers
    config = cluster_config(primary.base_url, fallback.base_url, storage_url=database,
                            shared_state=redis_server.shared_state(heartbeat="200ms"),
                            admins={"ops": {"key": ADMIN}}, breaker={"consecutive_failures": 1000})
    with replicas(tmp_path, config) as members, LoadBalancer(tmp_path, members) as lb:
        yield members, lb


def test_a_fault_injected_through_the_load_balancer_reaches_every_replica_and_ends_everywhere(
        cluster: tuple[list[Replica], LoadBalancer], providers: tuple[SimulatorThread, SimulatorThread]) -> None:
    (members, lb), (primary, _) = cluster, providers
    status, fault = admin(lb.url, "POST", "/admin/faults", {"target": PRIMARY, "kind": "error", "ttl": "60s"})
    assert status == 201, fault
    wait_until(lambda: all(fault_ids(r) == [fault["id"]] for r in members), 5, "every replica holding the fault")
    primary.reset_stats()
    assert asyncio.run(served_by(members)) == {r.name: {"fallback/f-model"} for r in members}
    assert primary.stats()["requests"] == 0, "the fault is acted out before any call to the primary"

    status, removed = admin(lb.url, "DELETE", f"/admin/faults/{fault['id']}")  # whichever replica gets it
    assert status == 200 and removed["removed"], removed
    wait_until(lambda: all(fault_ids(r) == [] for r in members), 5, "every replica dropping the fault")
    assert asyncio.run(served_by(members)) == {r.name: {PRIMARY} for r in members}


def test_releve_drill_run_through_the_load_balancer_sees_every_replica_fail_over(
        cluster: tuple[list[Replica], LoadBalancer], tmp_path: Path) -> None:
    members, lb = cluster
    out = tmp_path / "drill"
    result = CliRunner().invoke(cli, [
        "drill", "run", "--url", lb.url, "--admin-key", ADMIN, "--client-key", CLUSTER_KEY, "--out", str(out),
        "--config", str(members[0].config_path), "--builtin", "provider-outage", "--target", PRIMARY,
        "--route", "assistant", "--duration", "3s", "--rate", "12"])
    assert result.exit_code == 0, result.output
    (found,) = out.glob("drill-*.json")
    journal = json.loads(found.read_text(encoding="utf-8"))
    served = {r.name: r.requests_counted() for r in members}
    print(f"\ndrill during the fault: {journal['requests']}; failover {journal['failover_seconds']} s; "
          f"requests per replica {served}")
    assert journal["status"] == "completed"
    # Every drill request during the fault failed over, whichever replica HAProxy gave it to.
    assert journal["requests"]["primary"] == 0 and journal["requests"]["failed"] == 0, journal["requests"]
    assert journal["requests"]["fallback"] >= 30
    assert min(served.values()) >= 10, served  # and the drill's traffic did reach all three
    assert all(fault_ids(r) == [] for r in members), "rolled back everywhere"
