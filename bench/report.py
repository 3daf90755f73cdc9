"""Turn results into a terminal table, bench/RESULTS.md and bench/results.json.

Added latency is always "this target minus the direct upstream, same
scenario, same run"; ratios are only computed between clean runs. A run with
errors keeps its row, marked, with its error counts, and never feeds a ratio.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bench.context import FOREIGN_CPU_LIMIT
from bench.report_audit import SECTION_KEY as AUDIT_KEY
from bench.report_audit import audit_markdown, load_audit
from bench.report_long import GOAL_HEAD, goal_rows, long_markdown
from bench.report_shared import load_shared, shared_markdown
from bench.results import TARGET_LABELS, Result

__all__ = [
    "TARGET_LABELS",
    "RunInfo",
    "added",
    "fmt_ms",
    "load_json",
    "print_tables",
    "ratios",
    "write_json",
    "write_markdown",
]

# Which direct-upstream row a scenario is compared with.
_BASELINE = {"breaker-c1": "chat-c1", "breaker-c32": "chat-c32"}


@dataclass
class RunInfo:
    """Everything about the run that is not a measurement."""

    date: str
    command: str
    quick: bool
    machine: dict[str, Any]
    versions: dict[str, str]
    cores: dict[str, list[int]]
    cpu_busy: dict[str, float]
    warnings: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    targets: dict[str, dict[str, Any]] = field(default_factory=dict)
    litellm_settings: list[str] = field(default_factory=list)
    interrupted: bool = False
    elapsed_s: float = 0.0


def _find(results: Iterable[Result], target: str, scenario: str) -> Result | None:
    for r in results:
        if r.target == target and r.scenario == scenario:
            return r
    return None


def added(result: Result, results: list[Result]) -> tuple[float | None, float | None]:
    """(added p50, added p99) in ms over the direct upstream; None when either run is not clean."""
    if result.target == "direct" or not result.clean:
        return None, None
    base = _find(results, "direct", _BASELINE.get(result.scenario, result.scenario))
    if base is None or not base.clean:
        return None, None
    if result.kind == "ttft":
        if result.ttft_p50_ms is None or base.ttft_p50_ms is None:
            return None, None
        return result.ttft_p50_ms - base.ttft_p50_ms, (result.ttft_p99_ms or 0) - (base.ttft_p99_ms or 0)
    if result.p50_ms is None or base.p50_ms is None or result.p99_ms is None or base.p99_ms is None:
        return None, None
    return result.p50_ms - base.p50_ms, result.p99_ms - base.p99_ms


def _rps_ratio(results: list[Result], a: str, b: str, scenario: str) -> tuple[float | None, str]:
    ra, rb = _find(results, a, scenario), _find(results, b, scenario)
    if ra is None or rb is None:
        missing = TARGET_LABELS.get(a if ra is None else b, a)
        return None, f"{missing} not measured"
    for r in (ra, rb):
        if not r.clean:
            return None, f"{TARGET_LABELS.get(r.target, r.target)} run not clean ({r.status})"
    if not ra.rps or not rb.rps:
        return None, "no throughput"
    return ra.rps / rb.rps, ""


def ratios(results: list[Result]) -> list[tuple[str, float | None, str]]:
    """Throughput ratios at 32 connections: (label, ratio or None, why not)."""
    out: list[tuple[str, float | None, str]] = []
    for scenario in ("chat-c32", "stream-c32"):
        for other in ("direct", "refproxy", "litellm"):
            value, why = _rps_ratio(results, "releve", other, scenario)
            out.append((f"Relève / {TARGET_LABELS[other]}, {scenario}", value, why))
    for scenario in ("chat-c32", "stream-c32"):
        for a, b in (("refproxy", "direct"), ("litellm", "direct"), ("refproxy", "litellm")):
            value, why = _rps_ratio(results, a, b, scenario)
            out.append((f"{TARGET_LABELS[a]} / {TARGET_LABELS[b]}, {scenario}", value, why))
    return out


# -- formatting ------------------------------------------------------------------------


def fmt_ms(value: float | None, signed: bool = False) -> str:
    if value is None or math.isnan(value):
        return "-"
    return format(value, ("+" if signed else "") + (".3f" if abs(value) < 1 else ".2f"))


def _rps(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _errors(r: Result) -> str:
    if not r.errors:
        return "0"
    return ", ".join(f"{k} {v}" for k, v in sorted(r.errors.items()))


def _count(n: object, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n if n is not None else '?'} {noun}s"


def _cpu(r: Result) -> str:
    if r.server_cpu is None or r.client_cpu is None:
        return "-"
    other = "-" if r.foreign_cpu is None else f"{r.foreign_cpu * 100:.0f}"
    return f"{r.server_cpu * 100:.0f}/{r.client_cpu * 100:.0f}/{other}"


def _status(r: Result) -> str:
    return {"ok": "ok", "errors": "ERRORS", "suspect": "SUSPECT", "failed": "FAILED", "unavailable": "n/a"}[r.status]


def _load_rows(results: list[Result]) -> list[list[str]]:
    rows = []
    for r in results:
        if r.kind != "wrk":
            continue
        a50, a99 = added(r, results)
        rows.append(
            [
                TARGET_LABELS.get(r.target, r.target),
                r.scenario,
                _rps(r.rps),
                fmt_ms(r.p50_ms),
                fmt_ms(r.p99_ms),
                fmt_ms(a50, True),
                fmt_ms(a99, True),
                _errors(r),
                "-" if r.rss_mib is None else f"{r.rss_mib:.0f}",
                _cpu(r),
                _status(r),
                r.note,
            ]
        )
    return rows


def _ttft_rows(results: list[Result]) -> list[list[str]]:
    rows = []
    for r in results:
        if r.kind != "ttft":
            continue
        a50, a99 = added(r, results)
        rows.append(
            [
                TARGET_LABELS.get(r.target, r.target),
                str(r.requests),
                fmt_ms(r.ttft_p50_ms),
                fmt_ms(r.ttft_p99_ms),
                fmt_ms(a50, True),
                fmt_ms(a99, True),
                fmt_ms(r.total_p50_ms),
                fmt_ms(r.total_p99_ms),
                _errors(r),
                _cpu(r),
                _status(r),
                r.note,
            ]
        )
    return rows


_LOAD_HEAD = [
    "target",
    "scenario",
    "req/s",
    "p50 ms",
    "p99 ms",
    "+p50 ms",
    "+p99 ms",
    "errors",
    "RSS MiB",
    "CPU srv/cli/other %",
    "status",
    "note",
]
_TTFT_HEAD = [
    "target",
    "requests",
    "first chunk p50 ms",
    "p99 ms",
    "+p50 ms",
    "+p99 ms",
    "whole stream p50 ms",
    "p99 ms",
    "errors",
    "CPU srv/cli/other %",
    "status",
    "note",
]


def print_tables(console: Console, results: list[Result], info: RunInfo) -> None:
    """The terminal view: compact tables (target keys, no notes), notes as numbered footnotes."""
    notes: list[str] = []

    def note_ref(note: str) -> str:
        if not note:
            return ""
        notes.append(note)
        return f"[{len(notes)}]"

    table = Table(title="Throughput and latency (wrk, one thread, keep-alive)")
    for i, head in enumerate([*_LOAD_HEAD[:-1], "n"]):
        table.add_column(head, justify="right" if 2 <= i <= 9 else "left", no_wrap=True)
    load = [r for r in results if r.kind == "wrk"]
    for r, row in zip(load, _load_rows(results), strict=True):
        row[0] = r.target
        row[-1] = note_ref(row[-1])
        table.add_row(*row, style=None if r.clean else "bold red")
    console.print(table)
    ttft = [r for r in results if r.kind == "ttft"]
    if ttft:
        t2 = Table(title="Streaming: time to first chunk (sequential Python client, c=1)")
        heads = [
            "target",
            "n",
            "first p50",
            "first p99",
            "+p50",
            "+p99",
            "whole p50",
            "whole p99",
            "errors",
            "cpu",
            "status",
            "note",
        ]
        for i, head in enumerate(heads):
            t2.add_column(head, justify="right" if 1 <= i <= 7 else "left", no_wrap=True)
        for r, row in zip(ttft, _ttft_rows(results), strict=True):
            row[0] = r.target
            row[-1] = note_ref(row[-1])
            t2.add_row(*row, style=None if r.clean else "bold red")
        console.print(t2)
    for i, note in enumerate(notes, 1):
        console.print(f"  [{i}] {note}", highlight=False, markup=False)
    t3 = Table(title="Issue #7 targets")
    for head in GOAL_HEAD:
        t3.add_column(head, overflow="fold")
    for row in goal_rows(results):
        verdict = row[-1].replace("*", "")
        style = "green" if verdict == "met" else "bold red" if verdict.startswith("MISSED") else "yellow"
        t3.add_row(*row[:-1], verdict, style=style)
    console.print(t3)
    for label, value, why in ratios(results):
        if label.startswith("Relève") or value is not None:
            console.print(f"  {label}: " + (f"[bold]{value:.3f}[/]" if value is not None else f"n/a ({why})"))
    for key, t in info.targets.items():
        if t.get("status") != "ran":
            reason = escape(str(t.get("reason", t.get("status"))))
            console.print(f"  [yellow]{TARGET_LABELS.get(key, key)}: {reason}[/]")
    for warning in info.warnings:
        console.print(f"[bold red]WARNING: {escape(warning)}[/]")


def _md_table(head: list[str], rows: list[list[str]]) -> str:
    def esc(cell: str) -> str:
        return cell.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(esc(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _reading(results: list[Result], info: RunInfo) -> list[str]:
    """A few sentences generated from the figures (no claim the numbers do not support)."""
    out: list[str] = []

    def clean(target: str, scenario: str) -> Result | None:
        r = _find(results, target, scenario)
        return r if r is not None and r.clean else None

    direct32, ref32 = clean("direct", "chat-c32"), clean("refproxy", "chat-c32")
    if direct32 and ref32 and direct32.rps and ref32.rps:
        a50, _ = added(clean("refproxy", "chat-c1") or ref32, results)
        out.append(
            f"The reference proxy (the ceiling for a Python proxy here) serves {ref32.rps:,.0f} req/s at 32 "
            f"connections, {ref32.rps / direct32.rps:.0%} of the direct upstream's {direct32.rps:,.0f}"
            + (f", and adds {a50:.3f} ms at p50 on a single connection." if a50 is not None else ".")
        )
    rel = info.targets.get("releve", {})
    if rel.get("status") != "ran":
        out.append(f"Relève was not measured in this run: {rel.get('reason', 'not selected')}.")
    else:
        r32 = _find(results, "releve", "chat-c32")
        if r32 is not None and r32.clean and r32.rps:
            parts = [f"Relève serves {r32.rps:,.0f} req/s at 32 connections"]
            if ref32 and ref32.rps:
                parts.append(f"{r32.rps / ref32.rps:.0%} of the reference proxy")
            lit = clean("litellm", "chat-c32")
            if lit and lit.rps:
                parts.append(f"{r32.rps / lit.rps:.1f}x LiteLLM")
            r1 = clean("releve", "chat-c1")
            a50 = added(r1, results)[0] if r1 else None
            text = ", ".join(parts)
            out.append(text + (f"; it adds {a50:.3f} ms at p50 on a single connection." if a50 is not None else "."))
        elif r32 is not None:
            out.append(f"Relève's 32-connection run was not clean ({r32.status}: {_errors(r32)}); see the table.")
        s32, ref_s32 = clean("releve", "stream-c32"), clean("refproxy", "stream-c32")
        if s32 and s32.rps:
            out.append(
                f"Streaming at 32 connections, Relève relays {s32.rps:,.0f} streams/s"
                + (f", {s32.rps / ref_s32.rps:.0%} of the reference proxy" if ref_s32 and ref_s32.rps else "")
                + "."
            )
        t = clean("releve", "ttft")
        if t is not None:
            a50, a99 = added(t, results)
            if a50 is not None and a99 is not None:
                out.append(f"Relève adds {a50:.3f} ms (p50) and {a99:.3f} ms (p99) to the time to first chunk.")
        b = _find(results, "releve", "breaker-c32")
        if b is not None and b.rps:
            out.append(
                f"With the primary answering 503 and its breaker open, Relève serves {b.rps:,.0f} req/s "
                f"({b.status}); {_count(b.extra.get('primary_hits'), 'request')} reached the broken primary "
                "during the run."
            )
    lit32, lit1 = clean("litellm", "chat-c32"), clean("litellm", "chat-c1")
    if lit32 and lit32.rps:
        a50 = added(lit1, results)[0] if lit1 else None
        out.append(
            f"LiteLLM {info.versions.get('litellm', '')} serves {lit32.rps:,.0f} req/s at 32 connections"
            + (f" and adds {a50:.2f} ms at p50 on a single connection" if a50 is not None else "")
            + (f", with {lit32.rss_mib:.0f} MiB resident." if lit32.rss_mib else ".")
        )
    shared = [r for r in results if r.foreign_cpu is not None and r.foreign_cpu > FOREIGN_CPU_LIMIT]
    if shared:
        out.append(
            "Runs disturbed by processes the bench did not start (CPU they took, in share of one core): "
            + ", ".join(f"{r.target} {r.scenario} ({r.foreign_cpu or 0:.0%})" for r in shared)
            + "."
        )
    bad = [r for r in results if not r.clean]
    if bad:
        out.append(
            "Runs not clean (reported, never averaged in): "
            + "; ".join(f"{TARGET_LABELS.get(r.target, r.target)} {r.scenario} {r.status} ({_errors(r)})" for r in bad)
            + "."
        )
    if info.warnings:
        out.append("This run carries warnings (see above): treat its figures with care.")
    return out


def write_markdown(path: Path, results: list[Result], info: RunInfo, shared: dict[str, Any] | None = None,
                   audit: dict[str, Any] | None = None) -> None:
    """`shared`, `audit`: the figures of `bench.shared_state` and `bench.audit_chain` (issue 11), each rendered as
    its own section at the end."""
    m = info.machine
    v = info.versions
    lines = [
        "# Relève benchmark results",
        "",
        "Generated by `bench/run.py`; do not edit by hand (the next run rewrites it). "
        "Raw figures: `bench/results.json`.",
        "",
    ]
    if info.quick:
        lines += [
            "> **QUICK MODE**: a few seconds per scenario, for iteration only. Run `make bench` for "
            "figures worth quoting.",
            "",
        ]
    if info.interrupted:
        lines += ["> **INTERRUPTED**: the run was stopped before the end; only the rows below were measured.", ""]
    for warning in info.warnings:
        lines += [f"> **WARNING**: {warning}", ""]
    lines += [
        f"- Date: {info.date} (took {info.elapsed_s:.0f} s)",
        f"- Machine: {m.get('nproc')} cores, {m.get('cpu_model')}, {m.get('mem_gib')} GiB, Linux {m.get('kernel')}",
        f"- Cores: server under test on {info.cores.get('server')}, wrk + upstream + Python client on "
        f"{info.cores.get('client')}; busy before the run: "
        + ", ".join(f"core {c} {b:.0%}" for c, b in info.cpu_busy.items()),
        "- Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
        f"- Command: `{info.command}`",
        "- Settings: " + ", ".join(f"{k}={val}" for k, val in info.settings.items()),
        "",
        "## Targets",
        "",
    ]
    for key, t in info.targets.items():
        desc = t.get("reason") or f"version {t.get('version', '?')}, ready in {t.get('startup_s', 0):.1f} s"
        lines.append(f"- **{TARGET_LABELS.get(key, key)}** ({t.get('status')}): {desc}")
    lines += [
        "",
        "## Issue #7 targets",
        "",
        "Each target judged on this run's clean figures (a run with errors or marked SUSPECT is not judged). "
        "Added latency is over the direct upstream in the same scenario; the breaker row compares Relève's "
        "own breaker-c1 and chat-c1 runs. MB = 10^6 bytes.",
        "",
        _md_table(GOAL_HEAD, goal_rows(results)),
        "",
        "## Throughput and latency",
        "",
        "wrk, one thread, keep-alive, fixed duration after a warm-up. `+p50`/`+p99`: added over the direct "
        "upstream in the same scenario (breaker rows: over direct `chat` at the same concurrency). "
        "RSS: resident memory of the server process tree after the run. CPU srv/cli/other: how busy the "
        "server core and the client core (wrk + upstream) were during the run, and how much CPU (in % of one "
        "core) anything the bench did not start took on those two cores meanwhile (other sessions, the "
        "hypervisor's steal: above 10 % the row is marked as disturbed); "
        "a server core well under 100 % at 32 connections while the client core is full means the load "
        "side was the limit. "
        "A row marked ERRORS or SUSPECT "
        "is shown as measured and never used in a ratio.",
        "",
        _md_table(_LOAD_HEAD, _load_rows(results)),
        "",
    ]
    ttft = _ttft_rows(results)
    if ttft:
        lines += [
            "## Streaming: time to first chunk",
            "",
            "Sequential streaming requests from a Python aiohttp client at concurrency 1: time from sending "
            "the request to the first body bytes (the first SSE event), and to the end of the stream.",
            "",
            _md_table(_TTFT_HEAD, ttft),
            "",
        ]
    lines += long_markdown(results)
    lines += ["## Ratios (throughput at 32 connections)", ""]
    for label, value, why in ratios(results):
        lines.append(f"- {label}: " + (f"**{value:.3f}**" if value is not None else f"n/a ({why})"))
    lines += ["", "## Reading", ""]
    lines += [f"- {sentence}" for sentence in _reading(results, info)]
    lines += [
        "",
        "## How it is measured",
        "",
        "- Upstream: `bench/upstream.py`, a raw asyncio Protocol on uvloop with httptools, fixed answers "
        "built at start-up (a chat.completion; for `stream: true`, 10 SSE chunks and `data: [DONE]`, one "
        "write each). It counts the chat requests it serves, so a proxy whose answers did not reach it is "
        "flagged SUSPECT. `direct` is the same upstream process, moved to the server core for its runs.",
        "- Reference proxy: `bench/refproxy.py`, raw ASGI on uvicorn (uvloop, httptools) forwarding the "
        "request bytes through one pooled keep-alive aiohttp session; streams relayed chunk by chunk.",
        "- Relève: `releve up --config bench/.work/releve.yaml` (auth none, access log off, one worker, route "
        "`bench` = upstream then spare).",
        "- Breaker rows: the primary upstream is switched to answer 503; small batches are sent until one "
        "batch never reaches it (the breaker is open), then the usual warm-up and measured run. They run "
        "last (after the soak, slow streams and flame graph) because they leave the breaker open.",
        "- Order per target: chat-c1, chat-c32, stream-c1, stream-c32, time to first chunk, then (on the "
        "targets chosen for them) soak, slow streams, flame graph, then the breaker rows.",
        "- LiteLLM settings (its fastest fair configuration):",
    ]
    lines += [f"  - {s}" for s in info.litellm_settings]
    lines.append("")
    if shared is not None:
        lines += shared_markdown(shared)
    if audit is not None:
        lines += audit_markdown(audit)
    path.write_text("\n".join(lines))


def write_json(path: Path, results: list[Result], info: RunInfo) -> None:
    from dataclasses import asdict

    data = {
        "info": asdict(info),
        "results": [
            {**r.to_dict(), "added_p50_ms": added(r, results)[0], "added_p99_ms": added(r, results)[1]} for r in results
        ],
        "ratios": [{"label": label, "value": value, "why_not": why} for label, value, why in ratios(results)],
    }
    shared = load_shared(path)  # bench.shared_state's figures (issue 11): measured apart, carried over
    if shared is not None:
        data["shared_state"] = shared
    audit = load_audit(path)  # bench.audit_chain's, likewise
    if audit is not None:
        data[AUDIT_KEY] = audit
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def load_json(path: Path) -> tuple[list[Result], RunInfo]:
    """Read back a results.json written by `write_json` (to render RESULTS.md again without measuring)."""
    from dataclasses import fields

    data = json.loads(path.read_text())
    names = {f.name for f in fields(Result)}
    results = [Result(**{k: v for k, v in r.items() if k in names}) for r in data["results"]]
    return results, RunInfo(**data["info"])
