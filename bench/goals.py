"""Issue #7's acceptance targets, checked against this run's figures: one row per target, met or missed.

A target is only judged on clean runs (no errors, nothing suspect); otherwise
its row says why it could not be judged. Memory targets are in MB (10^6
bytes) as the issue states them; the figures are shown in MiB too.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.context import FOREIGN_CPU_LIMIT
from bench.results import Result

__all__ = ["Goal", "goals"]

MIB_TO_MB = 1.048576


@dataclass(frozen=True)
class Goal:
    what: str
    target: str
    measured: str
    verdict: str  # "met", "missed", or "not judged (why)"

    @property
    def met(self) -> bool | None:
        return {"met": True, "missed": False}.get(self.verdict)


def _find(results: list[Result], target: str, scenario: str) -> Result | None:
    return next((r for r in results if r.target == target and r.scenario == scenario), None)


def _clean(results: list[Result], target: str, scenario: str) -> tuple[Result | None, str]:
    r = _find(results, target, scenario)
    if r is None:
        return None, f"not judged ({target} {scenario} not measured)"
    if not r.clean:
        return None, f"not judged ({target} {scenario} {r.status})"
    return r, ""


def _verdict(ok: bool, *runs: Result | None, value: float | None = None, limit: float | None = None) -> str:
    """met or missed; flagged when other processes took a share of the cores during a run judged, and
    when the figure is within 10 % of its limit (one run's noise could flip it)."""
    verdict = "met" if ok else "missed"
    if value is not None and limit and abs(value - limit) <= 0.1 * abs(limit):
        verdict += " (within 10 % of the limit)"
    shares = [r.foreign_cpu for r in runs if r is not None and r.foreign_cpu is not None]
    if shares and max(shares) > FOREIGN_CPU_LIMIT:
        verdict += f" (disturbed: other processes took {max(shares):.0%} of a core)"
    return verdict


def _ratio_goal(results: list[Result], other: str, label: str, minimum: float, percent: bool) -> Goal:
    target = f"≥ {minimum:.0%} of {label}" if percent else f"≥ {minimum:.0f}× {label}"
    what = f"req/s at c=32 (chat) vs {label}"
    rel, why = _clean(results, "releve", "chat-c32")
    oth, why2 = _clean(results, other, "chat-c32")
    if rel is None or oth is None or not rel.rps or not oth.rps:
        return Goal(what, target, "-", why or why2 or "not judged (no throughput)")
    ratio = rel.rps / oth.rps
    shown = f"{ratio:.0%}" if percent else f"{ratio:.1f}×"
    measured = f"{shown} ({rel.rps:,.0f} vs {oth.rps:,.0f} req/s)"
    s_rel, s_oth = _find(results, "releve", "stream-c32"), _find(results, other, "stream-c32")
    if s_rel and s_oth and s_rel.clean and s_oth.clean and s_rel.rps and s_oth.rps:
        s_ratio = s_rel.rps / s_oth.rps
        measured += f"; streaming {s_ratio:.0%}" if percent else f"; streaming {s_ratio:.0f}×"
    return Goal(what, target, measured, _verdict(ratio >= minimum, rel, oth, value=ratio, limit=minimum))


def _added_goal(results: list[Result], scenario: str, what: str, pct: str, limit_ms: float) -> Goal:
    target = f"≤ {limit_ms:g} ms"
    rel, why = _clean(results, "releve", scenario)
    base, why2 = _clean(results, "direct", scenario)
    if rel is None or base is None:
        return Goal(what, target, "-", why or why2)
    if scenario == "ttft":
        mine, theirs = rel.ttft_p50_ms, base.ttft_p50_ms
    else:
        mine, theirs = (rel.p50_ms, base.p50_ms) if pct == "p50" else (rel.p99_ms, base.p99_ms)
    if mine is None or theirs is None:
        return Goal(what, target, "-", "not judged (no latency)")
    extra = mine - theirs
    measured = f"{extra:+.3f} ms ({mine:.3f} vs {theirs:.3f} ms direct)"
    if extra < -0.05:  # a proxy is not faster than what it proxies: one of the two runs was disturbed
        return Goal(what, target, measured, "not judged (negative: the direct run's figure is off)")
    return Goal(what, target, measured, _verdict(extra <= limit_ms, rel, base, value=extra, limit=limit_ms))


def _breaker_goal(results: list[Result]) -> Goal:
    what, target = "breaker open on the primary, c=1, p50 over the healthy path", "≤ 0.1 ms"
    b, why = _clean(results, "releve", "breaker-c1")
    h, why2 = _clean(results, "releve", "chat-c1")
    if b is None or h is None or b.p50_ms is None or h.p50_ms is None:
        return Goal(what, target, "-", why or why2 or "not judged (no latency)")
    extra = b.p50_ms - h.p50_ms
    measured = f"{extra:+.3f} ms ({b.p50_ms:.3f} vs {h.p50_ms:.3f} ms healthy)"
    return Goal(what, target, measured, _verdict(extra <= 0.1, b, h, value=extra, limit=0.1))


def _soak_goals(results: list[Result]) -> list[Goal]:
    rss_what, rss_target = "RSS after the soak", "≤ 80 MB"
    grow_what, grow_target = "RSS growth over the soak", "≤ 5 MB"
    r = _find(results, "releve", "soak")
    if r is None or "rss_after_mib" not in r.extra:
        why = "not judged (soak not run on Relève)"
        return [Goal(rss_what, rss_target, "-", why), Goal(grow_what, grow_target, "-", why)]
    after, before = r.extra["rss_after_mib"], r.extra["rss_before_mib"]
    growth = after - before
    short = r.requests < r.extra.get("requests_goal", 0)
    judged = "" if r.clean and not short else f"not judged (soak {r.status}: {r.note})"
    over = f" over {r.requests:,} requests"
    return [
        Goal(
            rss_what,
            rss_target,
            f"{after * MIB_TO_MB:.1f} MB ({after:.1f} MiB) after {r.requests:,} requests",
            judged or _verdict(after * MIB_TO_MB <= 80.0, r, value=after * MIB_TO_MB, limit=80.0),
        ),
        Goal(
            grow_what,
            grow_target,
            f"{growth * MIB_TO_MB:+.1f} MB ({before:.1f} -> {after:.1f} MiB){over}",
            judged or _verdict(growth * MIB_TO_MB <= 5.0, r, value=growth * MIB_TO_MB, limit=5.0),
        ),
    ]


def _streams_goal(results: list[Result]) -> Goal:
    what, target = "1,000 concurrent slow streams (100 chunks × 100 ms)", "all complete; memory reported"
    r = _find(results, "releve", "slow-streams")
    if r is None or "expected" not in r.extra:
        return Goal(what, target, "-", "not judged (slow streams not run on Relève)")
    x = r.extra
    measured = (
        f"{x['complete']:,} of {x['expected']:,} complete, errors {r.error_count}; "
        f"{x['streams']:,} streams of {x['chunks']} × {x['delay_ms']:.0f} ms; "
        f"stream p50 {(r.p50_ms or 0) / 1000:.2f} s, p99 {(r.p99_ms or 0) / 1000:.2f} s; "
        f"RSS {x['rss_before_mib']:.0f} MiB before, peak {x['rss_peak_mib']:.0f}, after {x['rss_after_mib']:.0f}"
    )
    if x["streams"] < 1000 or x["chunks"] < 100:
        return Goal(what, target, measured, "not judged (fewer streams or chunks than the target's)")
    ok = r.status in ("ok", "errors") and x["complete"] >= x["expected"] and r.error_count == 0
    return Goal(what, target, measured, _verdict(ok and r.clean, r))


def goals(results: list[Result]) -> list[Goal]:
    """Every issue #7 target, in the issue's order."""
    return [
        _ratio_goal(results, "litellm", "LiteLLM", 40.0, percent=False),
        _ratio_goal(results, "refproxy", "the reference proxy", 0.70, percent=True),
        _added_goal(results, "chat-c1", "added latency, c=1, p50", "p50", 0.3),
        _added_goal(results, "chat-c1", "added latency, c=1, p99", "p99", 1.0),
        _added_goal(results, "ttft", "streaming: time to first token added, p50", "p50", 0.5),
        _breaker_goal(results),
        *_soak_goals(results),
        _streams_goal(results),
    ]
