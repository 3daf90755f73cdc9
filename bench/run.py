"""`make bench`: measure Relève against the direct upstream, the reference proxy and LiteLLM, in one run.

Everything runs on this machine over loopback. The server under test is
pinned to one core (0 by default); wrk, the upstream and the Python client to
another (1), so the server's figures are its own. The cores are checked idle
first, and a busy machine is reported loudly instead of silently skewing the
numbers. Every subprocess is killed at the end, on errors and on Ctrl-C.

Examples:
    .venv/bin/python -m bench.run                      # the full run (~9 min on 2 cores)
    .venv/bin/python -m bench.run --quick              # a few seconds per scenario (~3 min)
    .venv/bin/python -m bench.run --only direct,refproxy,litellm
    .venv/bin/python -m bench.run --soak-on none --streams-on none --flamegraph-on none   # short ones only
    .venv/bin/python -m bench.run --only releve --scenarios slow-streams
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import importlib.metadata
import os
import platform
import resource
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from bench import litellm_setup
from bench.context import Context, Settings, UpstreamGone
from bench.flamegraph import ensure_pyspy
from bench.loadgen import check_chat, ensure_wrk
from bench.procs import ProcessSet, StartError, check_idle, free_port, signals_raise
from bench.report import RunInfo, added, fmt_ms, load_json, print_tables, write_json, write_markdown
from bench.report_audit import load_audit
from bench.report_long import progress_text
from bench.report_shared import load_shared
from bench.results import TARGET_LABELS, Result
from bench.scenarios import SCENARIOS
from bench.targets import TARGETS, BenchEnv, Running, Target, export_commit

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
WORK_DIR = BENCH_DIR / ".work"

QUICK = Settings(
    duration_s=3.0,
    warmup_s=1.0,
    ttft_requests=100,
    ttft_warmup=20,
    ttft_max_s=20.0,
    breaker_warmup_max_s=15.0,
    streams_chunks=20,
    streams_duration_s=5.0,
    streams_timeout_s=10.0,
    soak_requests=100_000,
    soak_sample_every=20_000,
    soak_max_s=60.0,
    flamegraph_s=3.0,
)

# The long scenarios run on these targets unless told otherwise (LiteLLM, at ~80 req/s, would need
# hours for the soak and cannot hold 1,000 fast-moving streams).
GROUP_DEFAULTS = {"soak": "releve", "streams": "direct,refproxy,releve", "flamegraph": "releve"}


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.run", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--quick", action="store_true", help="a few seconds per scenario, for iteration")
    p.add_argument("--duration", type=float, help="seconds per measured run (default 15, quick 3)")
    p.add_argument("--warmup", type=float, help="seconds of warm-up before each measured run (default 3, quick 1)")
    p.add_argument("--only", default=",".join(TARGETS), help=f"targets, comma-separated (default {','.join(TARGETS)})")
    p.add_argument(
        "--scenarios",
        help="scenario keys, comma-separated (default: all that apply): " + ",".join(s.key for s in SCENARIOS),
    )
    p.add_argument("--ttft-requests", type=int, help="sequential streaming requests timed (default 500, quick 100)")
    p.add_argument("--soak-on", default=GROUP_DEFAULTS["soak"], help="targets for the soak, or none (default releve)")
    p.add_argument("--soak-requests", type=int, help="requests in the soak (default 1,000,000)")
    p.add_argument("--soak-max-minutes", type=float, help="time cap of the soak per target (default 10)")
    p.add_argument(
        "--streams-on",
        default=GROUP_DEFAULTS["streams"],
        help="targets for the slow streams, or none (default direct,refproxy,releve)",
    )
    p.add_argument("--streams-connections", type=int, help="concurrent slow streams (default 1000)")
    p.add_argument("--streams-chunks", type=int, help="SSE events per slow stream (default 100, quick 20)")
    p.add_argument("--streams-delay-ms", type=float, help="delay between slow-stream events (default 100)")
    p.add_argument("--streams-duration", type=float, help="seconds wrk holds the streams (default 25, quick 5)")
    p.add_argument(
        "--flamegraph-on", default=GROUP_DEFAULTS["flamegraph"], help="targets to profile with py-spy, or none"
    )
    p.add_argument("--no-install", action="store_true", help="do not install LiteLLM when its venv is missing")
    p.add_argument("--releve-bin", type=Path, help="the releve executable (default .venv/bin/releve)")
    p.add_argument(
        "--releve-commit",
        metavar="REV",
        help="measure Relève's src/ as of this commit (git archive), not the checkout's (e.g. HEAD)",
    )
    p.add_argument("--server-core", type=int, default=0, help="core for the server under test")
    p.add_argument("--client-core", type=int, default=1, help="core for wrk, the upstream and the Python client")
    p.add_argument("--idle-threshold", type=float, default=0.20, help="warn when a core is busier than this")
    p.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md and results.json alone")
    p.add_argument(
        "--render-only",
        action="store_true",
        help="measure nothing: write RESULTS.md again from results.json (after a change to the report)",
    )
    return p.parse_args(argv)


# Option name -> (Settings field, smallest value allowed, factor to the field's unit).
_SETTING_OPTIONS: dict[str, tuple[str, float, float]] = {
    "duration": ("duration_s", 1.0, 1.0),
    "warmup": ("warmup_s", 1.0, 1.0),
    "ttft_requests": ("ttft_requests", 1, 1),
    "streams_connections": ("streams_connections", 1, 1),
    "streams_chunks": ("streams_chunks", 2, 1),
    "streams_delay_ms": ("streams_delay_ms", 1.0, 1.0),
    "streams_duration": ("streams_duration_s", 1.0, 1.0),
    "soak_requests": ("soak_requests", 1, 1),
    "soak_max_minutes": ("soak_max_s", 0.0, 60.0),
}


def settings_from(args: argparse.Namespace) -> Settings:
    s = QUICK if args.quick else Settings()
    changes: dict[str, Any] = {}
    for option, (field, smallest, factor) in _SETTING_OPTIONS.items():
        value = getattr(args, option)
        if value is not None:
            changes[field] = max(smallest, value) * factor
    s = dataclasses.replace(s, **changes)
    # A stream must fit the time wrk waits for it, with room to spare.
    stream_s = s.streams_chunks * s.streams_delay_ms / 1000.0
    return dataclasses.replace(s, streams_timeout_s=max(s.streams_timeout_s, stream_s * 1.5 + 5))


def groups_from(args: argparse.Namespace) -> dict[str, set[str]]:
    """The targets each long scenario group runs on."""
    out: dict[str, set[str]] = {}
    for group, value in (("soak", args.soak_on), ("streams", args.streams_on), ("flamegraph", args.flamegraph_on)):
        keys = {t.strip() for t in value.split(",") if t.strip()}
        out[group] = set() if keys <= {"none"} else keys
    return out


def machine() -> dict[str, object]:
    model = "unknown"
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_gib = 0.0
    with contextlib.suppress(OSError), open("/proc/meminfo", encoding="ascii") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    return {"nproc": os.cpu_count(), "cpu_model": model, "mem_gib": mem_gib, "kernel": platform.release()}


def versions(wrk: str) -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in ("uvicorn", "uvloop", "httptools", "aiohttp", "orjson"):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "missing"
    try:
        first = subprocess.run([wrk, "-v"], capture_output=True, text=True, timeout=10, check=False)
        out["wrk"] = (first.stdout or first.stderr).split()[1]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        out["wrk"] = "unknown"
    out["litellm"] = f"{litellm_setup.LITELLM_VERSION} (pinned)"
    return out


def command_line(argv: list[str]) -> str:
    exe = Path(sys.executable)
    with contextlib.suppress(ValueError):
        exe = exe.relative_to(REPO) if exe.is_absolute() else exe
    prefix = f"PYTHONPATH={shlex.quote(os.environ['PYTHONPATH'])} " if os.environ.get("PYTHONPATH") else ""
    return prefix + shlex.join([str(exe), "-m", "bench.run", *argv])


def releve_source(releve_bin: Path | None, pythonpath: Path | None) -> str:
    """Which Relève code is measured: the git commit of this checkout (and whether src/ has changes), or a path."""
    python = (releve_bin or REPO / ".venv" / "bin" / "releve").parent / "python"
    env = {**os.environ, "PYTHONPATH": str(pythonpath)} if pythonpath else None

    def run(*cmd: str) -> str:
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=20, check=False, cwd=REPO, env=env)
        except (OSError, subprocess.TimeoutExpired):
            return ""
        return done.stdout.strip()

    where = run(str(python), "-c", "import releve; print(releve.__file__)")
    if not where:
        return "unknown"
    if pythonpath and Path(where).resolve().is_relative_to(pythonpath.resolve()):
        return f"git {pythonpath.parent.name.removeprefix('releve-')} (exported with git archive, --releve-commit)"
    if not Path(where).resolve().is_relative_to(REPO / "src"):
        return f"{Path(where).parent} (outside this checkout)"
    commit = run("git", "rev-parse", "--short", "HEAD") or "?"
    dirty = run("git", "status", "--porcelain", "--", "src")
    return f"git {commit}" + (" with uncommitted changes in src/" if dirty else "")


def raise_nofile(console: Console) -> None:
    """Many concurrent streams need many descriptors (client side and upstream side)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
    if soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        except (ValueError, OSError) as exc:
            console.print(f"[yellow]could not raise the open-files limit from {soft}: {exc}[/]")


def progress_line(r: Result, results: list[Result]) -> str:
    """One line per finished scenario, so a long run shows where it is and what it found."""
    label = f"{TARGET_LABELS.get(r.target, r.target)} / {r.scenario}"
    a50, a99 = added(r, results)
    long_text = progress_text(r)
    if long_text is not None:
        mark = "[green]ok[/]" if r.clean else f"[bold red]{r.status.upper()}[/]"
        errs = escape(f" errors {r.errors}") if r.errors else ""
        return f"  {mark} {escape(label)}: {escape(long_text)}{errs}"
    if r.kind == "ttft":
        text = (
            f"first chunk p50 {fmt_ms(r.ttft_p50_ms)} ms p99 {fmt_ms(r.ttft_p99_ms)} ms, "
            f"whole stream p50 {fmt_ms(r.total_p50_ms)} ms"
        )
    elif r.rps is not None:
        text = f"{r.rps:,.0f} req/s, p50 {fmt_ms(r.p50_ms)} ms, p99 {fmt_ms(r.p99_ms)} ms"
    else:
        text = ""
    if a50 is not None and a99 is not None:
        text += f", added p50 {a50:+.3f} ms p99 {a99:+.3f} ms"
    if r.rss_mib is not None:
        text += f", RSS {r.rss_mib:.0f} MiB"
    if r.server_cpu is not None and r.client_cpu is not None:
        text += f", CPU server {r.server_cpu:.0%} client {r.client_cpu:.0%}"
        if r.foreign_cpu is not None:
            text += f" other {r.foreign_cpu:.0%}"
    mark = "[green]ok[/]" if r.clean else f"[bold red]{r.status.upper()}[/]"
    errs = escape(f" errors {r.errors}") if r.errors else ""
    note = escape(f" ({r.note})") if r.note else ""
    return f"  {mark} {escape(label)}: {text}{errs}{note}"


def run_target(
    ctx: Context,
    target: Target,
    scenarios: list[str] | None,
    groups: dict[str, set[str]],
    args: argparse.Namespace,
    console: Console,
    info: RunInfo,
) -> None:
    env = ctx.env
    busy = check_idle(sorted(env.server_cores), window=0.5, threshold=args.idle_threshold, attempts=10)
    if busy.warning():
        info.warnings.append(f"before {target.label}: {busy.warning()}")
        console.print(f"[bold red]WARNING before {target.label}: {busy.warning()}[/]")
    ctx.check_upstreams()
    console.print(f"[bold]{target.label}[/]: starting")
    try:
        running: Running = target.start(env)
    except (StartError, OSError) as exc:
        info.targets[target.key] = {"status": "failed to start", "reason": f"failed to start: {exc}"}
        console.print(f"[bold red]{target.label} failed to start:[/] {escape(str(exc))}")
        return
    try:
        for stream in (False, True):
            check = check_chat(running.url, stream)
            if not check.ok:
                reason = f"answers wrongly ({'stream' if stream else 'chat'}): HTTP {check.status} {check.detail}"
                info.targets[target.key] = {"status": "failed", "reason": reason, "version": running.version}
                console.print(f"[bold red]{escape(f'{target.label} {reason}')}[/]")
                return
        info.targets[target.key] = {
            "status": "ran",
            "version": running.version,
            "startup_s": round(running.startup_s, 2),
        }
        console.print(f"  ready in {running.startup_s:.1f}s (version {running.version}), answers checked")
        for scenario in SCENARIOS:
            if scenarios is not None and scenario.key not in scenarios:
                continue
            if scenario.group and target.key not in groups.get(scenario.group, set()):
                continue
            if scenario.needs_failover and not target.failover:
                continue
            console.print(f"  running {scenario.key}: {scenario.title}", style="dim")
            try:
                result = scenario.runner(ctx, target, running, scenario)
            except UpstreamGone:
                raise
            except (RuntimeError, OSError, ValueError) as exc:
                result = Result(target=target.key, scenario=scenario.key, status="failed", note=str(exc)[:300])
            ctx.results.append(result)
            console.print(progress_line(result, ctx.results))
            if not running.proc.alive():
                console.print(f"[bold red]{target.label} died:[/] {escape(running.proc.log_tail())}")
                info.targets[target.key]["status"] = "died"
                info.targets[target.key]["reason"] = f"died during {scenario.key}"
                return
    finally:
        running.stop()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    console = Console()
    if not console.is_terminal:
        console = Console(width=max(console.width, 130))  # piped output: do not wrap the tables at 80
    if args.render_only:
        stored, stored_info = load_json(BENCH_DIR / "results.json")
        write_markdown(BENCH_DIR / "RESULTS.md", stored, stored_info, shared=load_shared(BENCH_DIR / "results.json"),
                       audit=load_audit(BENCH_DIR / "results.json"))
        console.print(f"wrote {BENCH_DIR / 'RESULTS.md'} from {BENCH_DIR / 'results.json'} (nothing measured)")
        return 0
    settings = settings_from(args)
    started = time.monotonic()
    only = [t.strip() for t in args.only.split(",") if t.strip()]
    unknown = [t for t in only if t not in TARGETS]
    if unknown:
        console.print(f"[red]unknown targets: {unknown}; known: {list(TARGETS)}[/]")
        return 2
    scenarios = [s.strip() for s in args.scenarios.split(",")] if args.scenarios else None
    groups = groups_from(args)
    unknown = sorted({t for g in groups.values() for t in g} - set(TARGETS))
    if unknown or (scenarios and set(scenarios) - {s.key for s in SCENARIOS}):
        console.print(f"[red]unknown targets {unknown} or scenarios {scenarios}[/]")
        return 2

    def runs(group: str) -> bool:
        wanted = {s.key for s in SCENARIOS if s.group == group}
        return bool(groups[group] & set(only)) and (scenarios is None or bool(wanted & set(scenarios)))

    ncpu = os.cpu_count() or 1
    warnings: list[str] = []
    if ncpu < 2 or args.server_core == args.client_core:
        server_cores = client_cores = frozenset({0})
        warnings.append("fewer than 2 cores: the server under test shares its core with the load generator")
    else:
        server_cores, client_cores = frozenset({args.server_core}), frozenset({args.client_core})
    with contextlib.suppress(OSError):
        os.sched_setaffinity(0, client_cores)  # the orchestrator and its Python client stay off the server core
    raise_nofile(console)
    wrk = ensure_wrk(say=lambda m: console.print(f"[yellow]{m}[/]"))

    WORK_DIR.mkdir(parents=True, exist_ok=True)
    releve_src: Path | None = None
    if args.releve_commit:
        try:
            commit, releve_src = export_commit(REPO, args.releve_commit, WORK_DIR)
        except StartError as exc:
            console.print(f"[red]--releve-commit {escape(args.releve_commit)}: {escape(str(exc))}[/]")
            return 2
        console.print(f"Relève from commit {commit} ({releve_src}), not the checkout's src/")
    procs = ProcessSet(log_dir=WORK_DIR / "logs")
    results: list[Result] = []
    info = RunInfo(
        date=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        command=command_line(argv),
        quick=args.quick,
        machine=machine(),
        versions={**versions(wrk), "releve source": releve_source(args.releve_bin, releve_src)},
        cores={"server": sorted(server_cores), "client": sorted(client_cores)},
        cpu_busy={},
        warnings=warnings,
        settings={
            k: v
            for k, v in dataclasses.asdict(settings).items()
            if not any(k.startswith(group) and not runs(group) for group in groups)
        },
        litellm_settings=list(litellm_setup.FAIR_SETTINGS),
    )
    interrupted = False
    try:
        with signals_raise():
            targets = [TARGETS[key]() for key in only]
            # Start the upstreams first: some targets' availability checks install things (LiteLLM),
            # which must be done before the idle check.
            up_port, spare_port = free_port(), free_port()
            upstream = procs.start(
                "upstream",
                [sys.executable, "-m", "bench.upstream", "--port", str(up_port)],
                cores=client_cores,
                cwd=REPO,
            )
            spare = procs.start(
                "upstream-spare",
                [sys.executable, "-m", "bench.upstream", "--port", str(spare_port)],
                cores=client_cores,
                cwd=REPO,
            )
            upstream.wait_ready(f"http://127.0.0.1:{up_port}/healthz", timeout=20)
            spare.wait_ready(f"http://127.0.0.1:{spare_port}/healthz", timeout=20)
            env = BenchEnv(
                repo=REPO,
                work_dir=WORK_DIR,
                procs=procs,
                server_cores=server_cores,
                client_cores=client_cores,
                upstream=upstream,
                upstream_base=f"http://127.0.0.1:{up_port}/v1",
                spare=spare,
                spare_base=f"http://127.0.0.1:{spare_port}/v1",
                say=lambda m: console.print(f"[yellow]{m}[/]"),
                install_litellm=not args.no_install,
                releve_bin=args.releve_bin,
                releve_pythonpath=releve_src,
            )
            if runs("flamegraph"):
                try:
                    ensure_pyspy(say=lambda m: console.print(f"[yellow]{m}[/]"))  # before the idle check
                except RuntimeError as exc:  # the flamegraph rows will say FAILED
                    console.print(f"[bold red]{escape(str(exc))}[/]")
            available: list[Target] = []
            for target in targets:
                reason = target.unavailable(env)
                if reason:
                    info.targets[target.key] = {"status": "unavailable", "reason": reason}
                    console.print(f"[yellow]{escape(f'{target.label}: {reason}')}[/]")
                else:
                    available.append(target)

            # Up to 10 s for a passing burst to end (a process starting), then the verdict.
            idle = check_idle(
                sorted(server_cores | client_cores), window=1.0, threshold=args.idle_threshold, attempts=10
            )
            info.cpu_busy = {str(c): round(b, 3) for c, b in idle.busy.items()}
            if idle.warning():
                info.warnings.append(str(idle.warning()))
                console.print(f"[bold red]WARNING: {idle.warning()}[/]")
            else:
                console.print("cores idle: " + ", ".join(f"core {c} {b:.0%}" for c, b in idle.busy.items()))

            ctx = Context(env=env, wrk_bin=wrk, settings=settings, results=results)
            for target in available:
                run_target(ctx, target, scenarios, groups, args, console, info)
    except KeyboardInterrupt:
        interrupted = True
        console.print("[bold red]interrupted: stopping every process the bench started[/]")
    except (UpstreamGone, StartError) as exc:
        interrupted = True
        info.warnings.append(str(exc))
        console.print(f"[bold red]run aborted:[/] {escape(str(exc))}")
    finally:
        procs.close()
    info.interrupted = interrupted
    info.elapsed_s = time.monotonic() - started
    print_tables(console, results, info)
    if args.no_write or interrupted:
        console.print("RESULTS.md and results.json left as they were" + (" (interrupted)" if interrupted else ""))
    else:
        write_markdown(BENCH_DIR / "RESULTS.md", results, info, shared=load_shared(BENCH_DIR / "results.json"),
                       audit=load_audit(BENCH_DIR / "results.json"))
        write_json(BENCH_DIR / "results.json", results, info)
        for r in results:
            if r.kind == "profile" and "svg_work" in r.extra:
                shutil.copyfile(r.extra["svg_work"], REPO / r.extra["svg"])
        console.print(
            f"wrote {BENCH_DIR / 'RESULTS.md'} and {BENCH_DIR / 'results.json'} ({info.elapsed_s:.0f}s in all)"
        )
    return 130 if interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
