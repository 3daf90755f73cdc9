"""The soak: about a million requests at 32 connections, resident memory sampled every 100,000.

It runs as consecutive wrk segments, each sized (from the throughput measured
so far) to end near the next sampling point, with the server's resident memory
read after each. The first reading is taken before the first segment, on a
process already warmed by the earlier scenarios; growth is counted from there.
The whole soak is capped in time (`soak_max_s`): a capped soak says so.
"""

from __future__ import annotations

import math
import time

from bench.context import Context, Scenario, add_note, hits, judge_forwarding
from bench.results import Result
from bench.targets import Running, Target

__all__ = ["run_soak"]


def run_soak(ctx: Context, target: Target, running: Running, scenario: Scenario) -> Result:
    """About `soak_requests` requests at 32 connections, RSS sampled every `soak_sample_every` (time-capped)."""
    s = ctx.settings
    previous = [r for r in ctx.results if r.target == target.key and r.scenario == "chat-c32" and r.rps]
    rps = previous[-1].rps if previous and previous[-1].rps else 1000.0
    rss_before = running.proc.rss_kib() / 1024.0
    samples: list[dict[str, float]] = [{"requests": 0, "rss_mib": rss_before}]
    errors: dict[str, int] = {}
    total = 0
    worst_p99 = 0.0
    load_s = 0.0
    served_before = hits(ctx.env)
    start = time.monotonic()
    for _ in range(2 * math.ceil(s.soak_requests / s.soak_sample_every)):
        left = s.soak_max_s - (time.monotonic() - start)
        if total >= s.soak_requests or left < 1:
            break
        goal = (total // s.soak_sample_every + 1) * s.soak_sample_every
        if goal - total < s.soak_sample_every // 2:
            goal += s.soak_sample_every  # no tiny segment when the last one ended just short of a point
        goal = min(s.soak_requests, goal)
        # wrk counts whole seconds: round up, so a segment ends just past its sampling point.
        seconds = min(max(1.0, math.ceil((goal - total) / max(rps, 1.0))), 300.0, math.floor(left))
        res = ctx.load(running, f"wrk-{target.key}-soak", False, scenario.connections, seconds)
        total += res.requests
        load_s += res.duration_s
        rps = res.rps or rps
        worst_p99 = max(worst_p99, res.p99_ms)
        for key, value in res.errors.items():
            errors[key] = errors.get(key, 0) + value
        samples.append(
            {
                "requests": total,
                "rss_mib": running.proc.rss_kib() / 1024.0,
                "rps": res.rps,
                "p50_ms": res.p50_ms,
                "p99_ms": res.p99_ms,
                "errors": res.error_count,
            }
        )
    served_after = hits(ctx.env)
    elapsed = time.monotonic() - start
    rss_after = samples[-1]["rss_mib"]
    result = Result(
        target=target.key,
        scenario=scenario.key,
        status="errors" if errors else "ok",
        kind="soak",
        connections=scenario.connections,
        requests=total,
        duration_s=elapsed,
        rps=total / load_s if load_s > 0 else None,
        p99_ms=worst_p99,
        errors=errors,
        rss_mib=rss_after,
        extra={
            "samples": samples,
            "rss_before_mib": rss_before,
            "rss_after_mib": rss_after,
            "growth_mib": rss_after - rss_before,
            # From the first sampling point on: what a leak would look like, without the first warm-up.
            "growth_after_first_mib": rss_after - samples[1]["rss_mib"] if len(samples) > 1 else 0.0,
            "requests_goal": s.soak_requests,
        },
    )
    judge_forwarding(result, target, sum(served_after) - sum(served_before))
    add_note(
        result,
        f"RSS {rss_before:.1f} -> {rss_after:.1f} MiB over {total:,} requests; p99 is the worst segment's",
    )
    if total < s.soak_requests:
        result.status = "suspect" if result.status == "ok" else result.status
        add_note(result, f"stopped at the {s.soak_max_s:.0f} s cap before {s.soak_requests:,} requests")
    return result
