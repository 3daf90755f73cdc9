"""The scenarios: what is measured against each target, in order.

A scenario is a `Scenario` row with a runner function. Rows run in the order
of `SCENARIOS`; the breaker rows come last because they leave the gateway's
breaker open. A row with a `group` (soak, streams, flamegraph) only runs on the
targets chosen for that group (`--soak-on`, `--streams-on`, `--flamegraph-on`);
a row with `needs_failover` only runs against targets that have a second
provider behind the first.

To add a scenario: write a runner `(ctx, target, running, scenario) -> Result`
(the shared pieces are in `context.py`) and add a row.
"""

from __future__ import annotations

import time

from bench.context import (
    FOREIGN_CPU_LIMIT,
    Context,
    Scenario,
    add_note,
    from_wrk,
    hits,
    judge_forwarding,
    upstream_mode,
    upstream_stats,
)
from bench.flamegraph import run_flamegraph
from bench.loadgen import chat_body, measure_ttft, send_many
from bench.results import Result
from bench.slowstreams import run_slow_streams
from bench.soak import run_soak
from bench.targets import Running, Target

__all__ = ["SCENARIOS", "run_breaker", "run_load", "run_ttft"]


def run_load(ctx: Context, target: Target, running: Running, scenario: Scenario) -> Result:
    """Warm up, then a fixed-duration wrk run; count what reached the upstreams meanwhile."""
    s = ctx.settings
    warm = ctx.load(
        running, f"wrk-{target.key}-{scenario.key}-warmup", scenario.stream, scenario.connections, s.warmup_s
    )
    before = hits(ctx.env)
    res = ctx.load(running, f"wrk-{target.key}-{scenario.key}", scenario.stream, scenario.connections, s.duration_s)
    after = hits(ctx.env)
    result = from_wrk(target, scenario, res, running)
    judge_forwarding(result, target, (after[0] - before[0]) + (after[1] - before[1]))
    if warm.error_count:
        add_note(result, f"warm-up had {warm.error_count} errors")
    return result


def run_ttft(ctx: Context, target: Target, running: Running, scenario: Scenario) -> Result:
    """Sequential streaming requests: time to the first streamed bytes, and to the end."""
    s = ctx.settings
    with ctx.cpu_meter(running) as cpu:
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
        server_cpu=cpu.server,
        client_cpu=cpu.client,
        foreign_cpu=cpu.foreign,
        note=t.first_error,
    )
    if cpu.foreign is not None and cpu.foreign > FOREIGN_CPU_LIMIT:
        add_note(result, f"processes the bench did not start took {cpu.foreign:.0%} of a core during the run")
    if t.requests < s.ttft_requests:
        add_note(result, f"{t.requests} of {s.ttft_requests} requests within the {s.ttft_max_s:.0f}s cap")
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
        before = hits(env)
        res = ctx.load(running, f"wrk-{target.key}-{scenario.key}", False, scenario.connections, s.duration_s)
        after = hits(env)
    finally:
        upstream_mode(env.upstream_base, status=200)
    result = from_wrk(target, scenario, res, running)
    primary_hits, spare_hits = after[0] - before[0], after[1] - before[1]
    judge_forwarding(result, target, spare_hits)  # every good answer must have come from the spare
    result.extra = {
        "breaker_opened": opened,
        "breaker_warmup": detail,
        "primary_hits": primary_hits,
        "spare_hits": spare_hits,
    }
    add_note(
        result,
        f"breaker {detail}; {primary_hits} request{'' if primary_hits == 1 else 's'} reached the broken primary "
        "during the run",
    )
    if not opened:
        result.status = "suspect" if result.status == "ok" else result.status
    if warm.error_count:
        add_note(result, f"warm-up had {warm.error_count} errors")
    return result


SCENARIOS: list[Scenario] = [
    Scenario("chat-c1", "chat, 1 connection", run_load, stream=False, connections=1),
    Scenario("chat-c32", "chat, 32 connections", run_load, stream=False, connections=32),
    Scenario("stream-c1", "stream, 1 connection", run_load, stream=True, connections=1),
    Scenario("stream-c32", "stream, 32 connections", run_load, stream=True, connections=32),
    Scenario("ttft", "stream, time to first chunk (Python client, c=1)", run_ttft, stream=True, connections=1),
    Scenario("soak", "soak, 32 connections, RSS sampled", run_soak, connections=32, group="soak"),
    Scenario(
        "slow-streams", "slow streams held open", run_slow_streams, stream=True, connections=1000, group="streams"
    ),
    Scenario(
        "flamegraph", "py-spy flame graph, chat, 32 connections", run_flamegraph, connections=32, group="flamegraph"
    ),
    # Last: they leave the gateway's breaker open.
    Scenario("breaker-c1", "breaker open, 1 connection", run_breaker, connections=1, needs_failover=True),
    Scenario("breaker-c32", "breaker open, 32 connections", run_breaker, connections=32, needs_failover=True),
]
