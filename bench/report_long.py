"""Report sections for the long scenarios (soak, slow streams, flame graph) and the issue #7 targets table.

`report.py` builds the main tables; this module adds what does not fit them,
both as Markdown sections and as lines for the terminal.
"""

from __future__ import annotations

from bench.goals import goals
from bench.results import TARGET_LABELS, Result

__all__ = ["goal_rows", "long_markdown", "progress_text"]

GOAL_HEAD = ["target (issue #7)", "wanted", "measured", "verdict"]


def _label(key: str) -> str:
    return TARGET_LABELS.get(key, key)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _bold_verdict(verdict: str) -> str:
    for word, shown in (("met", "**met**"), ("missed", "**MISSED**")):
        if verdict == word or verdict.startswith(word + " "):
            return shown + verdict[len(word) :]
    return verdict


def goal_rows(results: list[Result]) -> list[list[str]]:
    return [[g.what, g.target, g.measured, _bold_verdict(g.verdict)] for g in goals(results)]


def progress_text(r: Result) -> str | None:
    """The one-line summary of a long scenario for the progress output, or None for the others."""
    x = r.extra
    if r.kind == "soak" and "rss_after_mib" in x:
        return (
            f"{r.requests:,} requests at {r.rps or 0:,.0f} req/s in {r.duration_s:.0f} s, RSS "
            f"{x['rss_before_mib']:.1f} -> {x['rss_after_mib']:.1f} MiB ({x['growth_mib']:+.1f})"
        )
    if r.kind == "streams" and "expected" in x:
        return (
            f"{x['complete']:,} of {x['expected']:,} streams complete, stream p50 {_ms(r.p50_ms)} ms "
            f"p99 {_ms(r.p99_ms)} ms, RSS {x['rss_before_mib']:.0f} -> peak {x['rss_peak_mib']:.0f} "
            f"-> {x['rss_after_mib']:.0f} MiB"
        )
    if r.kind == "profile" and "svg" in x:
        return f"{x['svg']} ({x.get('samples')} samples) at {r.rps or 0:,.0f} req/s under py-spy"
    return None


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    return lines + ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]


def _soak_section(results: list[Result]) -> list[str]:
    soaks = [r for r in results if r.kind == "soak" and r.extra.get("samples")]
    if not soaks:
        return []
    out = [
        "## Soak: resident memory over a million requests",
        "",
        "wrk at 32 connections (chat), in consecutive segments each sized to end near the next sampling "
        "point; the server's RSS (VmRSS of its process tree) is read before the first segment (the process "
        "is already warm from the scenarios above) and after each segment.",
        "",
    ]
    for r in soaks:
        x = r.extra
        out += [
            f"**{_label(r.target)}**: {r.requests:,} requests in {r.duration_s:.0f} s "
            f"({r.rps or 0:,.0f} req/s), errors {r.error_count}, worst segment p99 {r.p99_ms or 0:.2f} ms; "
            f"RSS {x['rss_before_mib']:.1f} -> {x['rss_after_mib']:.1f} MiB ({x['growth_mib']:+.1f} MiB; "
            f"{x['growth_after_first_mib']:+.1f} MiB from the first sampling point on). Status: {r.status}."
            + (f" {r.note}." if r.status != "ok" else ""),
            "",
        ]
        rows = [
            [
                f"{int(s['requests']):,}",
                f"{s['rss_mib']:.1f}",
                _ms(s.get("rps")),
                "-" if s.get("p50_ms") is None else f"{s['p50_ms']:.2f}",
                "-" if s.get("p99_ms") is None else f"{s['p99_ms']:.2f}",
                str(int(s.get("errors", 0))),
            ]
            for s in x["samples"]
        ]
        out += _table(["requests so far", "RSS MiB", "segment req/s", "p50 ms", "p99 ms", "errors"], rows)
        out.append("")
    return out


def _streams_section(results: list[Result]) -> list[str]:
    runs = [r for r in results if r.kind == "streams" and "expected" in r.extra]
    if not runs:
        return []
    x0 = runs[0].extra
    out = [
        "## Slow streams held open",
        "",
        f"Both upstreams stream {x0['chunks']} SSE events, one every {x0['delay_ms']:.0f} ms, then `data: [DONE]` "
        f"({x0['stream_ms'] / 1000:.1f} s per stream). wrk holds {x0['streams']:,} connections for long enough "
        f"that each completes {x0['per_connection']} whole streams (streams still running when wrk stops are "
        "not counted). A Lua check counts the events of every answer: *complete* = every event and `[DONE]`; "
        "*short* = anything less. Stream duration is wrk's latency (request sent to last byte). RSS of the "
        "server's process tree: before, peak (sampled 4×/s), kernel high-water mark of the server process "
        "(VmHWM, reset before the run), and 2 s after wrk stopped; KiB per stream = (peak - before) / streams.",
        "",
    ]
    rows = []
    for r in runs:
        x = r.extra
        hwm = x.get("rss_hwm_mib")
        rows.append(
            [
                _label(r.target),
                f"{x['complete']:,} / {x['expected']:,}",
                str(x["short"]),
                ", ".join(f"{k} {v}" for k, v in sorted(r.errors.items())) or "0",
                f"{(r.p50_ms or 0) / 1000:.2f}",
                f"{(r.p99_ms or 0) / 1000:.2f}",
                f"{(r.max_ms or 0) / 1000:.2f}",
                f"{x['rss_before_mib']:.0f}",
                f"{x['rss_peak_mib']:.0f}",
                "-" if hwm is None else f"{hwm:.0f}",
                f"{x['rss_after_mib']:.0f}",
                f"{(x['rss_peak_mib'] - x['rss_before_mib']) * 1024 / max(1, x['streams']):.0f}",
                "-" if r.server_cpu is None else f"{r.server_cpu:.0%}",
                r.status if r.status == "ok" else r.status.upper(),
            ]
        )
    head = [
        "target",
        "complete / expected",
        "short",
        "errors",
        "p50 s",
        "p99 s",
        "max s",
        "RSS before MiB",
        "peak MiB",
        "VmHWM MiB",
        "after MiB",
        "KiB per stream",
        "server CPU",
        "status",
    ]
    out += _table(head, rows)
    skipped = "litellm" not in {r.target for r in runs}
    if skipped:
        out += [
            "",
            "LiteLLM is not run here by default: at the ~30 streams/s it relays at 32 connections (table above), "
            "1,000 streams of 100 chunks each are far beyond it. `--streams-on litellm` runs it anyway.",
        ]
    return [*out, ""]


def _profile_section(results: list[Result]) -> list[str]:
    runs = [r for r in results if r.kind == "profile" and "svg" in r.extra]
    if not runs:
        return []
    out = ["## Flame graph", ""]
    for r in runs:
        x = r.extra
        name = x["svg"].rsplit("/", 1)[-1]
        out += [
            f"- **{_label(r.target)}**, chat at {r.connections} connections: [`{x['svg']}`]({name}) — "
            f"`{x['command']}` while wrk ran; {x.get('samples')} samples ({x.get('sample_errors')} errors), "
            f"{r.rps or 0:,.0f} req/s with py-spy attached (it pauses the process for each sample: "
            "not comparable with the table above). Open the SVG in a browser to zoom and search.",
        ]
    return [*out, ""]


def long_markdown(results: list[Result]) -> list[str]:
    """The soak, slow-streams and flame-graph sections, in that order (empty when none ran)."""
    return _soak_section(results) + _streams_section(results) + _profile_section(results)
