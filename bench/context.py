"""What every scenario runner shares: the settings, the context, the upstream's admin calls, result helpers.

A runner is `(ctx, target, running, scenario) -> Result`; the short ones are in
`scenarios.py`, the long ones in `soak.py`, `slowstreams.py` and `flamegraph.py`.
"""

from __future__ import annotations

import contextlib
import json
import os
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from bench.loadgen import WrkCheck, WrkResult, chat_body, run_wrk
from bench.procs import busy_share, cpu_times, task_share, tree_cpu_ticks
from bench.results import Result
from bench.targets import BenchEnv, Running, Target

__all__ = [
    "FOREIGN_CPU_LIMIT",
    "Context",
    "CpuShares",
    "Runner",
    "Scenario",
    "Settings",
    "UpstreamGone",
    "add_note",
    "from_wrk",
    "hits",
    "judge_forwarding",
    "upstream_mode",
    "upstream_stats",
]


@dataclass(frozen=True)
class Settings:
    """Durations and counts, all bounded. `--quick` shrinks them."""

    duration_s: float = 10.0
    warmup_s: float = 2.0
    ttft_requests: int = 500
    ttft_warmup: int = 50
    ttft_max_s: float = 60.0
    breaker_warmup_max_s: float = 30.0
    # Slow streams: `streams_connections` held open, each stream `streams_chunks` events one every
    # `streams_delay_ms`; wrk runs `streams_duration_s` so each connection completes whole streams.
    streams_connections: int = 1000
    streams_chunks: int = 100
    streams_delay_ms: float = 100.0
    streams_duration_s: float = 25.0
    streams_timeout_s: float = 30.0
    soak_requests: int = 1_000_000
    soak_sample_every: int = 100_000
    soak_max_s: float = 600.0
    flamegraph_s: float = 10.0


@dataclass
class Context:
    """What runners share: the environment, wrk's path, the settings, the results so far."""

    env: BenchEnv
    wrk_bin: str
    settings: Settings
    results: list[Result] = field(default_factory=list)

    def load(
        self,
        running: Running,
        name: str,
        stream: bool,
        connections: int,
        seconds: float,
        timeout_s: float = 10.0,
        check: WrkCheck | None = None,
    ) -> WrkResult:
        """One wrk run from the client core against `running`, with each core's busy share meanwhile."""
        self.check_upstreams()
        with self.cpu_meter(running) as cpu:
            res = run_wrk(
                self.env.procs,
                self.wrk_bin,
                running.url,
                chat_body(stream),
                connections,
                seconds,
                cores=self.env.client_cores,
                work_dir=self.env.work_dir,
                timeout_s=timeout_s,
                name=name,
                check=check,
            )
        res.server_cpu, res.client_cpu, res.foreign_cpu = cpu.server, cpu.client, cpu.foreign
        return res

    @contextlib.contextmanager
    def cpu_meter(self, running: Running) -> Iterator[CpuShares]:
        """How busy each core was during the block, and how much of them went to anything the bench did not start."""
        shares = CpuShares()
        cores = self.env.server_cores | self.env.client_cores
        before = cpu_times()
        bench_before = tree_cpu_ticks(os.getpid(), reaped=True)  # every process the bench started descends from it
        yield shares
        after = cpu_times()
        bench_after = tree_cpu_ticks(os.getpid(), reaped=True)
        shares.server = busy_share(before, after, self.env.server_cores)
        shares.client = busy_share(before, after, self.env.client_cores)
        tasks = task_share(before, after, cores)
        if tasks is not None:
            # Other sessions, cron, a build, the hypervisor's steal: in share of one core.
            other_ticks = tasks[0] * tasks[1] - (bench_after - bench_before)
            shares.foreign = max(0.0, other_ticks / (tasks[1] / len(cores)))

    def check_upstreams(self) -> None:
        """Stop at once, with a clear reason, if an upstream process is gone (every later figure would be wrong)."""
        for proc in (self.env.upstream, self.env.spare):
            if not proc.alive():
                raise UpstreamGone(
                    f"the bench's upstream process {proc.name} (pid {proc.pid}) exited with code "
                    f"{proc.popen.returncode} during the run (killed from outside?); the run is incomplete"
                )


@dataclass
class CpuShares:
    """Busy shares (0..1) measured by `Context.cpu_meter`: server core, client core, other processes."""

    server: float | None = None
    client: float | None = None
    foreign: float | None = None  # CPU taken on the bench's cores by processes it did not start (share of one core)


class UpstreamGone(RuntimeError):
    """An upstream process died: nothing measured after that can be trusted."""


# Above this share of a core taken by processes the bench did not start, a row says so.
FOREIGN_CPU_LIMIT = 0.10

Runner = Callable[[Context, Target, Running, "Scenario"], Result]


@dataclass(frozen=True)
class Scenario:
    """One row of the plan. `group`: a scenario that only runs on the targets chosen for that group
    (`--soak-on`, `--streams-on`, `--flamegraph-on`); None runs on every target."""

    key: str
    title: str
    runner: Runner
    stream: bool = False
    connections: int = 1
    needs_failover: bool = False
    group: str | None = None


# -- the upstream's admin endpoints ---------------------------------------------------


def _root(base: str) -> str:
    return base.removesuffix("/v1")


def upstream_stats(base: str) -> dict[str, float]:
    with urllib.request.urlopen(_root(base) + "/__stats", timeout=5) as resp:
        data: dict[str, float] = json.loads(resp.read())
        return data


def upstream_mode(base: str, status: int = 200, chunk_delay_ms: float = 0.0, chunks: int = 10) -> None:
    body = json.dumps({"status": status, "chunk_delay_ms": chunk_delay_ms, "chunks": chunks}).encode()
    req = urllib.request.Request(_root(base) + "/__mode", data=body, method="POST")
    with urllib.request.urlopen(req, timeout=5) as resp:
        resp.read()


def hits(env: BenchEnv) -> tuple[int, int]:
    """Chat requests served so far by (the primary upstream, the spare)."""
    return int(upstream_stats(env.upstream_base)["chat_hits"]), int(upstream_stats(env.spare_base)["chat_hits"])


# -- shared pieces ---------------------------------------------------------------------


def add_note(result: Result, note: str) -> None:
    result.note = f"{result.note}; {note}" if result.note else note


def from_wrk(target: Target, scenario: Scenario, res: WrkResult, running: Running) -> Result:
    result = Result(
        target=target.key,
        scenario=scenario.key,
        status="errors" if res.error_count else "ok",
        kind="wrk",
        stream=scenario.stream,
        connections=res.connections,
        requests=res.requests,
        duration_s=res.duration_s,
        rps=res.rps,
        p50_ms=res.p50_ms,
        p90_ms=res.p90_ms,
        p99_ms=res.p99_ms,
        max_ms=res.max_ms,
        errors=res.errors,
        rss_mib=running.proc.rss_kib() / 1024.0,
        server_cpu=res.server_cpu,
        client_cpu=res.client_cpu,
        foreign_cpu=res.foreign_cpu,
    )
    if res.foreign_cpu is not None and res.foreign_cpu > FOREIGN_CPU_LIMIT:
        add_note(
            result,
            f"processes the bench did not start took {res.foreign_cpu:.0%} of a core during the run: "
            "these figures are disturbed",
        )
    if res.client_cpu is not None and res.client_cpu > 0.95 and (res.server_cpu or 0.0) < 0.85:
        add_note(
            result,
            f"client core {res.client_cpu:.0%} busy while the server core was {res.server_cpu or 0:.0%}: "
            "wrk and the upstream may be the limit here, not the server",
        )
    return result


def judge_forwarding(result: Result, target: Target, served: int) -> None:
    """Flag a proxy whose answers did not come from the upstream (a cache, a canned reply)."""
    result.upstream_hits = served
    if target.key == "direct" or result.requests == 0:
        return
    if served < 0.95 * result.requests:
        result.status = "suspect" if result.status == "ok" else result.status
        add_note(result, f"only {served} of {result.requests} answers reached the upstream")
