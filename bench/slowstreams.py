"""Many slow streams held open at once: are they all relayed to the end, and what do they cost in memory?

Both upstreams are switched to slow streams (`streams_chunks` SSE events, one
every `streams_delay_ms`, then `data: [DONE]`: 100 x 100 ms = 10 s by default).
wrk opens `streams_connections` connections (1000) and keeps each busy for
`streams_duration_s` (25 s), so each connection completes a known number of
whole streams (2); the ones still running when wrk stops are not counted.
A Lua check counts, for every answer, the SSE events that arrived: a stream is
complete when it carries every event and `[DONE]`, short otherwise.

Resident memory of the server's process tree is sampled 4 times a second
during the run (peak), read from the kernel's high-water mark of the server
process (VmHWM, reset just before), and read again 2 s after wrk stopped.
"""

from __future__ import annotations

import resource
import time

from bench.context import Context, Scenario, add_note, from_wrk, hits, judge_forwarding, upstream_mode
from bench.loadgen import WrkCheck
from bench.procs import RssSampler, peak_rss_kib, reset_peak_rss
from bench.results import Result
from bench.targets import Running, Target

__all__ = ["run_slow_streams", "stream_check"]

_CHECK_LUA = """\
complete = 0
short = 0
response = function(status, headers, body)
  local n, i = 0, 1
  while true do
    local j = string.find(body, "data:", i, true)
    if not j then break end
    n = n + 1
    i = j + 5
  end
  if status == 200 and n == %d and string.find(body, "[DONE]", 1, true) then
    complete = complete + 1
  else
    short = short + 1
  end
end
"""


def stream_check(chunks: int) -> WrkCheck:
    """Count complete streams (`chunks` events and `[DONE]`, status 200) and short or failed ones."""
    return WrkCheck(lua=_CHECK_LUA % (chunks + 1), counters=("complete", "short"))


def _set_streams(ctx: Context, delay_ms: float, chunks: int) -> None:
    for base in (ctx.env.upstream_base, ctx.env.spare_base):
        upstream_mode(base, status=200, chunk_delay_ms=delay_ms, chunks=chunks)


def run_slow_streams(ctx: Context, target: Target, running: Running, scenario: Scenario) -> Result:
    """`streams_connections` concurrent slow streams, all relayed to the end? With the server's memory meanwhile."""
    s = ctx.settings
    n, chunks, delay = s.streams_connections, s.streams_chunks, s.streams_delay_ms
    stream_ms = chunks * delay
    per_connection = int(s.streams_duration_s * 1000.0 // stream_ms)
    if per_connection < 1:
        raise ValueError(f"streams_duration_s {s.streams_duration_s} s is shorter than one stream ({stream_ms} ms)")
    expected = n * per_connection
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 2 * n + 256:  # a proxy holds two descriptors per stream (client side, upstream side)
        raise ValueError(f"the open-files limit ({soft}) is too low for {n} streams: raise `ulimit -n`")
    pid = running.proc.pid
    _set_streams(ctx, delay, chunks)
    try:
        rss_before = running.proc.rss_kib() / 1024.0
        hwm_reset = reset_peak_rss(pid)
        served_before = hits(ctx.env)
        with RssSampler(pid) as sampler:
            res = ctx.load(
                running,
                f"wrk-{target.key}-{scenario.key}",
                True,
                n,
                s.streams_duration_s,
                timeout_s=s.streams_timeout_s,
                check=stream_check(chunks),
            )
        served_after = hits(ctx.env)
        hwm_mib = peak_rss_kib(pid) / 1024.0 if hwm_reset else None
        time.sleep(2.0)  # the streams wrk cut at the end are closed by now
        rss_after = running.proc.rss_kib() / 1024.0
    finally:
        _set_streams(ctx, 0.0, 10)
    complete, short = res.counters.get("complete", 0), res.counters.get("short", 0)
    result = from_wrk(target, scenario, res, running)
    result.kind = "streams"
    result.rss_mib = rss_after
    if short:
        result.errors["short"] = short
    if complete < expected:
        result.errors["unfinished"] = expected - complete
    if result.errors:
        result.status = "errors"
    # Requests that reached the upstream include the streams wrk cut at the end: more than it counted.
    judge_forwarding(result, target, sum(served_after) - sum(served_before))
    peak_mib = sampler.peak_kib / 1024.0
    result.extra = {
        "streams": n,
        "chunks": chunks,
        "delay_ms": delay,
        "stream_ms": stream_ms,
        "per_connection": per_connection,
        "expected": expected,
        "complete": complete,
        "short": short,
        "rss_before_mib": rss_before,
        "rss_peak_mib": peak_mib,
        "rss_hwm_mib": hwm_mib,
        "rss_after_mib": rss_after,
        "rss_timeline": [(t, round(kib / 1024.0, 1)) for t, kib in sampler.timeline[::4]],
    }
    add_note(
        result,
        f"{complete:,} of {expected:,} streams complete ({per_connection} per connection, {chunks} events "
        f"x {delay:.0f} ms each); RSS {rss_before:.0f} MiB before, peak {peak_mib:.0f}, after {rss_after:.0f}",
    )
    return result
