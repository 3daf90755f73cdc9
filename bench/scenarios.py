"""The scenarios: what is measured against each target, in order.

A scenario is a `Scenario` row with a runner function. Rows run in the order
of `SCENARIOS`; the breaker rows come last because they leave the gateway's
breaker open. A row with `option` only runs when that flag is given to
bench.run (`--streams`, `--soak`); a row with `needs_failover` only runs
against targets that have a second provider behind the first.

To add a scenario: write a runner `(ctx, target, running, scenario) -> Result`
and add a row.
"""

from __future__ import annotations

import json
import math
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.loadgen import WrkResult, chat_body, measure_ttft, run_wrk, send_many
from bench.procs import busy_share, cpu_times, task_share, tree_cpu_ticks
from bench.results import Result
from bench.targets import BenchEnv, Running, Target

__all__ = ["SCENARIOS", "Context", "Scenario", "Settings", "UpstreamGone"]


@dataclass(frozen=True)
class Settings:
    """Durations and counts, all bounded. `--quick` shrinks them."""

    duration_s: float = 15.0
    warmup_s: float = 3.0
    ttft_requests: int = 500
    ttft_warmup: int = 50
    ttft_max_s: float = 60.0
    breaker_warmup_max_s: float = 30.0
    streams_connections: int = 1000
    streams_delay_ms: float = 100.0
    soak_requests: int = 1_000_000
    soak_sample_every: int = 100_000
    soak_max_s: float = 900.0


@dataclass
class Context:
    """What runners share: the environment, wrk's path, the settings, the results so far."""

    env: BenchEnv
    wrk_bin: str
    settings: Settings
    results: list[Result] = field(default_factory=list)

    def load(
        self, running: Running, name: str, stream: bool, connections: int, seconds: float, timeout_s: float = 10.0
    ) -> WrkResult:
        """One wrk run from the client core against `running`, with each core's busy share meanwhile."""
        self.check_upstreams()
        before = cpu_times()
        proc_before = tree_cpu_ticks(running.proc.pid)
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
        )
        after = cpu_times()
        proc_after = tree_cpu_ticks(running.proc.pid)
        res.server_cpu = busy_share(before, after, self.env.server_cores)
        res.client_cpu = busy_share(before, after, self.env.client_cores)
        tasks = task_share(before, after, self.env.server_cores)
        if tasks is not None:
            # What ran on the server core that was not the server: other sessions, cron, a build...
            res.foreign_cpu = max(0.0, tasks[0] - (proc_after - proc_before) / tasks[1])
        return res

    def check_upstreams(self) -> None:
        """Stop at once, with a clear reason, if an upstream process is gone (every later figure would be wrong)."""
        for proc in (self.env.upstream, self.env.spare):
            if not proc.alive():
                raise UpstreamGone(
                    f"the bench's upstream process {proc.name} (pid {proc.pid}) exited with code "
                    f"{proc.popen.returncode} during the run (killed from outside?); the run is incomplete"
                )


class UpstreamGone(RuntimeError):
    """An upstream process died: nothing measured after that can be trusted."""


# Above this share of the server core used by processes other than the server, a row says so.
FOREIGN_CPU_LIMIT = 0.10

Runner = Callable[[Context, Target, Running, "Scenario"], Result]


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    runner: Runner
    stream: bool = False
    connections: int = 1
    needs_failover: bool = False
    option: str | None = None


# -- the upstream's admin endpoints ---------------------------------------------------


def _root(base: str) -> str:
    return base.removesuffix("/v1")


def upstream_stats(base: str) -> dict[str, float]:
    with urllib.request.urlopen(_root(base) + "/__stats", timeout=5) as resp:
        data: dict[str, float] = json.loads(resp.read())
        return data


def upstream_mode(base: str, status: int = 200, chunk_delay_ms: float = 0.0) -> None:
    body = json.dumps({"status": status, "chunk_delay_ms": chunk_delay_ms}).encode()
    req = urllib.request.Request(_root(base) + "/__mode", data=body, method="POST")
    with urllib.request.urlopen(req, timeout=5) as resp:
        resp.read()


def _hits(env: BenchEnv) -> tuple[int, int]:
    return int(upstream_stats(env.upstream_base)["chat_hits"]), int(upstream_stats(env.spare_base)["chat_hits"])


# -- shared pieces ---------------------------------------------------------------------


def _from_wrk(target: Target, scenario: Scenario, res: WrkResult, running: Running) -> Result:
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
        _add_note(
            result,
            f"other processes used {res.foreign_cpu:.0%} of the server core during the run: these figures are low",
        )
    if res.client_cpu is not None and res.client_cpu > 0.95 and (res.server_cpu or 0.0) < 0.85:
        _add_note(
            result,
            f"client core {res.client_cpu:.0%} busy while the server core was {res.server_cpu or 0:.0%}: "
            "wrk and the upstream may be the limit here, not the server",
        )
    return result


def _judge_forwarding(result: Result, target: Target, hits: int) -> None:
    """Flag a proxy whose answers did not come from the upstream (a cache, a canned reply)."""
    result.upstream_hits = hits
    if target.key == "direct" or result.requests == 0:
        return
    if hits < 0.95 * result.requests:
        result.status = "suspect" if result.status == "ok" else result.status
        result.note = (result.note + "; " if result.note else "") + (
            f"only {hits} of {result.requests} answers reached the upstream"
        )


def _add_note(result: Result, note: str) -> None:
    result.note = f"{result.note}; {note}" if result.note else note


# -- runners ---------------------------------------------------------------------------


def run_load(ctx: Context, target: Target, running: Running, scenario: Scenario) -> Result:
    """Warm up, then a fixed-duration wrk run; count what reached the upstreams meanwhile."""
    s = ctx.settings
    warm = ctx.load(
        running, f"wrk-{target.key}-{scenario.key}-warmup", scenario.stream, scenario.connections, s.warmup_s
    )
    before = _hits(ctx.env)
    res = ctx.load(running, f"wrk-{target.key}-{scenario.key}", scenario.stream, scenario.connections, s.duration_s)
    after = _hits(ctx.env)
    result = _from_wrk(target, scenario, res, running)
    _judge_forwarding(result, target, (after[0] - before[0]) + (after[1] - before[1]))
    if warm.error_count:
        _add_note(result, f"warm-up had {warm.error_count} errors")
    return result


def run_ttft(ctx: Context, target: Target, running: Running, scenario: Scenario) -> Result:
    """Sequential streaming requests: time to the first streamed bytes, and to the end."""
    s = ctx.settings
    t = measure_ttft(running.url, s.ttft_requests, warmup=s.ttft_warmup, max_seconds=s.ttft_max_s)
    result = Result(
        target=target.key,
        scenario=scenario.key,
        status="errors" if t.errors else "ok",
        kind="ttft",
        stream=True,
        connections=1,
        requests=t.requests,
        errors={"client": t.errors} if t.errors else {},
        rss_mib=running.proc.rss_kib() / 1024.0,
        ttft_p50_ms=t.ttft_p50_ms,
        ttft_p99_ms=t.ttft_p99_ms,
        total_p50_ms=t.total_p50_ms,
        total_p99_ms=t.total_p99_ms,
        note=t.first_error,
    )
    if t.requests < s.ttft_requests:
        _add_note(result, f"{t.requests} of {s.ttft_requests} requests within the {s.ttft_max_s:.0f}s cap")
    return result


def _open_breaker(ctx: Context, running: Running) -> tuple[bool, str]:
    """Send small batches until one batch never touches the broken primary (bounded in time)."""
    env = ctx.env
    body = chat_body(stream=False)
    deadline = time.monotonic() + ctx.settings.breaker_warmup_max_s
    sent = 0
    last = ""
    while time.monotonic() < deadline:
        p0 = upstream_stats(env.upstream_base)["chat_hits"]
        statuses = send_many(running.url, body, count=20, concurrency=4, max_seconds=10)
        p1 = upstream_stats(env.upstream_base)["chat_hits"]
        sent += sum(statuses.values())
        last = f"last batch: {dict(sorted(statuses.items()))}, {int(p1 - p0)} reached the broken primary"
        if p1 == p0 and statuses.get(200, 0) == sum(statuses.values()):
            return True, f"open after {sent} warm-up requests"
        time.sleep(0.05)
    return False, f"did not open within {ctx.settings.breaker_warmup_max_s:.0f}s ({sent} requests; {last})"


def run_breaker(ctx: Context, target: Target, running: Running, scenario: Scenario) -> Result:
    """The primary answers 503 and the breaker is open: every request should go straight to the spare."""
    env = ctx.env
    upstream_mode(env.upstream_base, status=503)
    try:
        opened, detail = _open_breaker(ctx, running)
        s = ctx.settings
        warm = ctx.load(running, f"wrk-{target.key}-{scenario.key}-warmup", False, scenario.connections, s.warmup_s)
        before = _hits(env)
        res = ctx.load(running, f"wrk-{target.key}-{scenario.key}", False, scenario.connections, s.duration_s)
        after = _hits(env)
    finally:
        upstream_mode(env.upstream_base, status=200)
    result = _from_wrk(target, scenario, res, running)
    primary_hits, spare_hits = after[0] - before[0], after[1] - before[1]
    _judge_forwarding(result, target, spare_hits)  # every good answer must have come from the spare
    result.extra = {
        "breaker_opened": opened,
        "breaker_warmup": detail,
        "primary_hits": primary_hits,
        "spare_hits": spare_hits,
    }
    _add_note(
        result,
        f"breaker {detail}; {primary_hits} request{'' if primary_hits == 1 else 's'} reached the broken primary "
        "during the run",
    )
    if not opened:
        result.status = "suspect" if result.status == "ok" else result.status
    if warm.error_count:
        _add_note(result, f"warm-up had {warm.error_count} errors")
    return result


def run_slow_streams(ctx: Context, target: Target, running: Running, scenario: Scenario) -> Result:
    """Many concurrent slow streams: memory and fairness when connections are held open."""
    env, s = ctx.env, ctx.settings
    n, delay = s.streams_connections, s.streams_delay_ms
    ideal_ms = 10 * delay  # the first chunk is immediate, then 10 more after `delay` each
    for base in (env.upstream_base, env.spare_base):
        upstream_mode(base, status=200, chunk_delay_ms=delay)
    try:
        warm = ctx.load(
            running,
            f"wrk-{target.key}-{scenario.key}-warmup",
            True,
            n,
            max(s.warmup_s, 2 * ideal_ms / 1000),
            timeout_s=30,
        )
        before = _hits(env)
        res = ctx.load(
            running, f"wrk-{target.key}-{scenario.key}", True, n, max(s.duration_s, 5 * ideal_ms / 1000), timeout_s=30
        )
        after = _hits(env)
    finally:
        for base in (env.upstream_base, env.spare_base):
            upstream_mode(base, status=200, chunk_delay_ms=0.0)
    result = _from_wrk(target, scenario, res, running)
    _judge_forwarding(result, target, (after[0] - before[0]) + (after[1] - before[1]))
    ideal_rps = n / (ideal_ms / 1000.0)
    result.extra = {"ideal_stream_ms": ideal_ms, "ideal_rps": ideal_rps, "streams": n}
    _add_note(result, f"{n} streams of {ideal_ms:.0f} ms each: ideal {ideal_rps:,.0f} rps, p50 {ideal_ms:.0f} ms")
    if warm.error_count:
        _add_note(result, f"warm-up had {warm.error_count} errors")
    return result


def run_soak(ctx: Context, target: Target, running: Running, scenario: Scenario) -> Result:
    """About `soak_requests` requests at 32 connections, RSS sampled every `soak_sample_every` (time-capped)."""
    s = ctx.settings
    previous = [r for r in ctx.results if r.target == target.key and r.scenario == "chat-c32" and r.rps]
    rps = previous[-1].rps if previous and previous[-1].rps else 1000.0
    start = time.monotonic()
    total = 0
    samples: list[dict[str, float]] = []
    errors: dict[str, int] = {}
    worst_p99 = 0.0
    max_segments = 2 * math.ceil(s.soak_requests / s.soak_sample_every)
    for segment in range(max_segments):
        left = s.soak_max_s - (time.monotonic() - start)
        if total >= s.soak_requests or left < 1:
            break
        seconds = min(max(1.0, s.soak_sample_every / max(rps, 1.0)), 300.0, left)
        res = ctx.load(running, f"wrk-{target.key}-soak", False, scenario.connections, seconds)
        total += res.requests
        rps = res.rps or rps
        worst_p99 = max(worst_p99, res.p99_ms)
        for key, value in res.errors.items():
            errors[key] = errors.get(key, 0) + value
        samples.append(
            {
                "segment": segment,
                "requests": total,
                "rss_mib": running.proc.rss_kib() / 1024.0,
                "rps": res.rps,
                "p99_ms": res.p99_ms,
                "errors": res.error_count,
            }
        )
    elapsed = time.monotonic() - start
    result = Result(
        target=target.key,
        scenario=scenario.key,
        status="errors" if errors else "ok",
        kind="soak",
        connections=scenario.connections,
        requests=total,
        duration_s=elapsed,
        rps=total / elapsed if elapsed > 0 else None,
        p99_ms=worst_p99,
        errors=errors,
        rss_mib=samples[-1]["rss_mib"] if samples else None,
        extra={"samples": samples},
    )
    if samples:
        first, last = samples[0]["rss_mib"], samples[-1]["rss_mib"]
        _add_note(result, f"RSS {first:.0f} -> {last:.0f} MiB over {total:,} requests; p99 is the worst segment's")
    if total < s.soak_requests:
        _add_note(result, f"stopped at the {s.soak_max_s:.0f}s cap before {s.soak_requests:,} requests")
    return result


SCENARIOS: list[Scenario] = [
    Scenario("chat-c1", "chat, 1 connection", run_load, stream=False, connections=1),
    Scenario("chat-c32", "chat, 32 connections", run_load, stream=False, connections=32),
    Scenario("stream-c1", "stream, 1 connection", run_load, stream=True, connections=1),
    Scenario("stream-c32", "stream, 32 connections", run_load, stream=True, connections=32),
    Scenario("ttft", "stream, time to first chunk (Python client, c=1)", run_ttft, stream=True, connections=1),
    Scenario(
        "slow-streams", "slow streams held open", run_slow_streams, stream=True, connections=1000, option="streams"
    ),
    Scenario("soak", "soak, 32 connections", run_soak, connections=32, option="soak"),
    # Last: they leave the gateway's breaker open.
    Scenario("breaker-c1", "breaker open, 1 connection", run_breaker, connections=1, needs_failover=True),
    Scenario("breaker-c32", "breaker open, 32 connections", run_breaker, connections=32, needs_failover=True),
]
