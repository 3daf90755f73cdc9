"""The lead role changes hands without doubling the work that must happen once.

Two ways a lead goes away, each with three `releve up` replicas on PostgreSQL and Redis and a 3 s lead
lease (`storage.lead_lease`, the shortest allowed):

- SIGKILL: nobody hands the lease over; another replica takes it once it runs out, then does the lead's
  work: the primary fails and one incident opens, with one notification per channel;
- SIGSTOP (a process paused longer than its lease: a stalled VM, a long GC, a debugger): a new lead
  takes over and opens the incident; the old one, resumed, finds that its role ended while it slept and
  neither opens a second incident nor notifies again, although it now sees the failures too.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from releve.sim import SimulatorThread
from releve.store import Store
from support.cluster import (
    RedisServer,
    Replica,
    TrafficReport,
    cluster_config,
    postgres_database,
    replicas,
    steady_traffic,
    wait_until,
)
from support.webhooks import Receiver, webhook_receiver

LEASE_S = 3.0
# A lease runs out LEASE_S after its last renewal, and candidates try every LEASE_S / 5: the role must
# have moved by then, plus room for a loaded machine.
HANDOVER_BOUND_S = LEASE_S + LEASE_S / 5 + 3.0
FAULT = {"kind": "status", "status": 503}


def _the_lead(members: Sequence[Replica]) -> Replica | None:
    """The one replica whose /healthz says it leads, or None (none yet, or briefly two views of it)."""
    leads = []
    for replica in members:
        try:
            if replica.health()["lead"]:
                leads.append(replica)
        except OSError:
            continue
    return leads[0] if len(leads) == 1 else None


@dataclass
class Cluster:
    db: str
    primary: SimulatorThread
    members: list[Replica]
    hooks: tuple[Receiver, Receiver]

    def assert_one_incident_notified_once(self) -> None:
        """Exactly one incident in the store, and exactly one `incident.open` per channel, for that incident."""
        opens = [hook.events("incident.open") for hook in self.hooks]
        assert [len(events) for events in opens] == [1, 1]
        assert opens[0][0].payload["incident"]["id"] == opens[1][0].payload["incident"]["id"]
        reader = Store(self.db)
        reader.open()
        try:
            assert len(reader.incidents(unresolved=False, maintenance=False, limit=10)) == 1
        finally:
            reader.close()


@contextlib.contextmanager
def three_replicas(tmp_path: Path) -> Iterator[Cluster]:
    """Three replicas on a fresh database and the test's own Redis, a 3 s lead lease, two webhook channels."""
    with postgres_database() as db, RedisServer(tmp_path) as redis, SimulatorThread("primary") as primary, \
            SimulatorThread("fallback") as fallback, webhook_receiver() as hook_a, webhook_receiver() as hook_b:
        config = cluster_config(primary.base_url, fallback.base_url, storage_url=db,
                                storage={"url": db, "lead_lease": f"{LEASE_S:g}s"},
                                shared_state=redis.shared_state(heartbeat="200ms"), webhooks=[hook_a.url, hook_b.url],
                                breaker={"consecutive_failures": 5, "open_for": "60s"})
        with replicas(tmp_path, config, 3) as members:
            yield Cluster(db, primary, members, (hook_a, hook_b))


async def _traffic_while_failing(members: Sequence[Replica], primary: SimulatorThread,
                                 seconds: float) -> list[TrafficReport]:
    """Steady traffic straight to each replica (no load balancer: a paused one must not get any); the primary
    fails after 1 s."""
    tasks = [asyncio.create_task(steady_traffic(r.url, rate=6, seconds=seconds)) for r in members]
    await asyncio.sleep(1.0)
    await asyncio.to_thread(primary.set_faults, FAULT)
    return list(await asyncio.gather(*tasks))


def test_a_killed_lead_is_replaced_within_its_lease_and_the_new_lead_opens_the_one_incident(tmp_path: Path) -> None:
    with three_replicas(tmp_path) as cluster:
        lead = wait_until(lambda: _the_lead(cluster.members), 20, "one lead among three")
        others = [r for r in cluster.members if r is not lead]
        killed_at = time.monotonic()
        lead.kill()
        successor = wait_until(lambda: _the_lead(others), HANDOVER_BOUND_S, "a new lead after the SIGKILL")
        handover = time.monotonic() - killed_at
        print(f"\n{lead.name} killed; {successor.name} leads {handover:.2f} s later (lease {LEASE_S:g} s)")
        assert handover < HANDOVER_BOUND_S

        reports = asyncio.run(_traffic_while_failing(others, cluster.primary, seconds=8))
        for hook in cluster.hooks:
            hook.wait_for("incident.open", timeout=15)
        time.sleep(2.0)  # long enough for a second open to arrive, were there one

        assert [o for report in reports for o in report.failures()] == []
        cluster.assert_one_incident_notified_once()
        assert _the_lead(others) is successor


def test_a_lead_paused_past_its_lease_finds_its_role_gone_and_does_not_act_twice(tmp_path: Path) -> None:
    with three_replicas(tmp_path) as cluster:
        stale = wait_until(lambda: _the_lead(cluster.members), 20, "one lead among three")
        others = [r for r in cluster.members if r is not stale]
        os.kill(stale.pid, signal.SIGSTOP)
        try:
            successor = wait_until(lambda: _the_lead(others), HANDOVER_BOUND_S, "a new lead while the old sleeps")
            asyncio.run(_traffic_while_failing(others, cluster.primary, seconds=6))
            for hook in cluster.hooks:
                hook.wait_for("incident.open", timeout=15)
        finally:
            os.kill(stale.pid, signal.SIGCONT)
        wait_until(lambda: stale.healthz() == 200, 10, f"{stale.name} answering again")

        # The old lead now serves failing traffic too: were it still acting as the lead, its monitor would
        # open an incident of its own and its notifier would send it.
        report = asyncio.run(steady_traffic(stale.url, rate=6, seconds=4))
        time.sleep(2.0)

        assert report.failures() == []
        assert stale.health()["lead"] is False
        assert _the_lead(cluster.members) is successor
        assert "is no longer the lead" in stale.log()
        cluster.assert_one_incident_notified_once()
