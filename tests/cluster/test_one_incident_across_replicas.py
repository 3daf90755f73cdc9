"""Issue 11, acceptance 1: three replicas on PostgreSQL and Redis behind HAProxy; the primary fails.

Exactly one incident opens and exactly one `incident.open` notification reaches each channel (two
signed webhooks), although three processes see the failures: only the lead lease's holder decides.
Every replica stops sending to the failed provider within 1 s of the first breaker opening: the
breakers that had not tripped yet adopt the open one through Redis.
"""

from __future__ import annotations

import asyncio
import threading
import time
import urllib.request
from pathlib import Path

import orjson

from releve.sim import SimulatorThread
from releve.store import Store
from support.cluster import (
    LoadBalancer,
    RedisServer,
    Replica,
    cluster_config,
    postgres_database,
    replicas,
    steady_traffic,
    wait_until,
)
from support.webhooks import webhook_receiver

PRIMARY = "primary/p-model"


def _breaker(replica: Replica) -> str:
    with urllib.request.urlopen(f"{replica.url}/healthz", timeout=1.0) as response:
        health = orjson.loads(response.read())
    return str(health["targets"][PRIMARY]["breaker"])


class BreakerWatch:
    """Polls every replica's /healthz (every 20 ms) and notes the wall time each first shows the primary open."""

    def __init__(self, members: list[Replica]) -> None:
        self.opened: dict[str, float] = {}
        self._members = members
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> BreakerWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.is_set() and len(self.opened) < len(self._members):
            for replica in self._members:
                if replica.name not in self.opened and _breaker(replica) == "open":
                    self.opened[replica.name] = time.time()
            time.sleep(0.02)


def test_three_replicas_open_one_incident_notify_once_and_stop_sending_within_a_second(tmp_path: Path) -> None:
    with postgres_database() as db, RedisServer(tmp_path) as redis, SimulatorThread("primary") as primary, \
            SimulatorThread("fallback") as fallback, webhook_receiver() as hook_a, webhook_receiver() as hook_b:
        config = cluster_config(primary.base_url, fallback.base_url, storage_url=db,
                                shared_state=redis.shared_state(heartbeat="200ms"), webhooks=[hook_a.url, hook_b.url],
                                breaker={"consecutive_failures": 5, "open_for": "60s"})
        with replicas(tmp_path, config, 3) as members, LoadBalancer(tmp_path, members) as lb:
            wait_until(lambda: sum(bool(_health(r)["lead"]) for r in members) == 1, 20, "one lead among three")

            async def scenario() -> tuple[float, object]:
                traffic = asyncio.create_task(steady_traffic(lb.url, rate=12, seconds=9))
                await asyncio.sleep(2)
                fault_at = time.time()
                await asyncio.to_thread(primary.set_faults, {"kind": "status", "status": 503})
                return fault_at, await traffic

            with BreakerWatch(members) as watch:
                fault_at, report = asyncio.run(scenario())
            opens = [hook.wait_for("incident.open", timeout=15) for hook in (hook_a, hook_b)]
            time.sleep(2.0)  # long enough for a second open to arrive, were there one

            assert report.failures() == [], report.failures()[:3]  # type: ignore[attr-defined]
            assert sorted(watch.opened) == ["r1", "r2", "r3"], watch.opened
            first_open = min(watch.opened.values())
            spread = max(watch.opened.values()) - first_open
            to_primary = [r["t"] for r in primary.stats()["received"] if r["model"] == "p-model"]
            last_sent = max(to_primary)
            adopted = [r.name for r in members if "(learnt from another replica)" in r.log()]
            print(f"\nfault at +0; first breaker open +{first_open - fault_at:.3f} s; all open within "
                  f"{spread:.3f} s; last request to the primary {last_sent - first_open:+.3f} s after the first "
                  f"open; adopted from another replica: {adopted}")
            assert last_sent - first_open < 1.0
            assert spread < 1.0
            assert adopted, "no replica adopted the open breaker: the test did not exercise shared state"

            assert [len(hook.events("incident.open")) for hook in (hook_a, hook_b)] == [1, 1]
            assert opens[0][0].payload["incident"]["id"] == opens[1][0].payload["incident"]["id"]
            reader = Store(db)
            reader.open()
            try:
                found = reader.incidents(unresolved=False, maintenance=False, limit=10)
            finally:
                reader.close()
            assert len(found) == 1 and found[0].automatic


def _health(replica: Replica) -> dict[str, object]:
    with urllib.request.urlopen(f"{replica.url}/healthz", timeout=1.0) as response:
        result: dict[str, object] = orjson.loads(response.read())
        return result
