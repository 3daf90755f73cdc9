"""`make bench`: measure Relève against the direct upstream, the reference proxy and LiteLLM, in one run.

Everything runs on this machine over loopback. The server under test is
pinned to one core (0 by default); wrk, the upstream and the Python client to
another (1), so the server's figures are its own. The cores are checked idle
first, and a busy machine is reported loudly instead of silently skewing the
numbers. Every subprocess is killed at the end, on errors and on Ctrl-C.

Examples:
    .venv/bin/python -m bench.run                      # the full run (~10 min)
    .venv/bin/python -m bench.run --quick              # a few seconds per scenario
    .venv/bin/python -m bench.run --only direct,refproxy,litellm
    .venv/bin/python -m bench.run --streams --soak     # the long optional scenarios too
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
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from bench import litellm_setup
from bench.loadgen import check_chat, ensure_wrk
from bench.procs import ProcessSet, StartError, check_idle, free_port, signals_raise
from bench.report import TARGET_LABELS, RunInfo, added, fmt_ms, print_tables, write_json, write_markdown
from bench.results import Result
from bench.scenarios import SCENARIOS, Context, Settings, UpstreamGone
from bench.targets import TARGETS, BenchEnv, Running, Target

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
    soak_requests=200_000,
    soak_sample_every=50_000,
    soak_max_s=120.0,
)


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
    p.add_argument(
        "--streams",
        nargs="?",
        const=1000,
        type=int,
        metavar="N",
        help="also run N concurrent slow streams (default N=1000)",
    )
    p.add_argument("--streams-delay-ms", type=float, default=100.0, help="delay between slow-stream chunks")
    p.add_argument("--soak", action="store_true", help="also run the soak (1M requests, RSS every 100k)")
    p.add_argument("--soak-requests", type=int, help="requests in the soak (default 1,000,000)")
    p.add_argument("--soak-max-minutes", type=float, help="time cap of the soak per target (default 15)")
    p.add_argument("--no-install", action="store_true", help="do not install LiteLLM when its venv is missing")
    p.add_argument("--releve-bin", type=Path, help="the releve executable (default .venv/bin/releve)")
    p.add_argument("--server-core", type=int, default=0, help="core for the server under test")
    p.add_argument("--client-core", type=int, default=1, help="core for wrk, the upstream and the Python client")
    p.add_argument("--idle-threshold", type=float, default=0.20, help="warn when a core is busier than this")
    p.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md and results.json alone")
    return p.parse_args(argv)


def settings_from(args: argparse.Namespace) -> Settings:
    s = QUICK if args.quick else Settings()
    s = dataclasses.replace(s, streams_delay_ms=args.streams_delay_ms)
    if args.duration is not None:
        s = dataclasses.replace(s, duration_s=max(1.0, args.duration))
    if args.warmup is not None:
        s = dataclasses.replace(s, warmup_s=max(1.0, args.warmup))
    if args.ttft_requests is not None:
        s = dataclasses.replace(s, ttft_requests=max(1, args.ttft_requests))
    if args.streams:
        s = dataclasses.replace(s, streams_connections=args.streams)
    if args.soak_requests is not None:
        s = dataclasses.replace(s, soak_requests=args.soak_requests)
    if args.soak_max_minutes is not None:
        s = dataclasses.replace(s, soak_max_s=args.soak_max_minutes * 60.0)
    return s


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
    return shlex.join([str(exe), "-m", "bench.run", *argv])


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
            text += f" other-on-server {r.foreign_cpu:.0%}"
    mark = "[green]ok[/]" if r.clean else f"[bold red]{r.status.upper()}[/]"
    errs = escape(f" errors {r.errors}") if r.errors else ""
    note = escape(f" ({r.note})") if r.note else ""
    return f"  {mark} {escape(label)}: {text}{errs}{note}"


def run_target(
    ctx: Context, target: Target, scenarios: list[str] | None, args: argparse.Namespace, console: Console, info: RunInfo
) -> None:
    env = ctx.env
    busy = check_idle(sorted(env.server_cores), window=0.5, threshold=args.idle_threshold)
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
        options = {"streams": bool(args.streams), "soak": args.soak}
        for scenario in SCENARIOS:
            if scenarios is not None and scenario.key not in scenarios:
                continue
            if scenario.option and not options.get(scenario.option):
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
    settings = settings_from(args)
    started = time.monotonic()
    only = [t.strip() for t in args.only.split(",") if t.strip()]
    unknown = [t for t in only if t not in TARGETS]
    if unknown:
        console.print(f"[red]unknown targets: {unknown}; known: {list(TARGETS)}[/]")
        return 2
    scenarios = [s.strip() for s in args.scenarios.split(",")] if args.scenarios else None

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
    procs = ProcessSet(log_dir=WORK_DIR / "logs")
    results: list[Result] = []
    info = RunInfo(
        date=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        command=command_line(argv),
        quick=args.quick,
        machine=machine(),
        versions=versions(wrk),
        cores={"server": sorted(server_cores), "client": sorted(client_cores)},
        cpu_busy={},
        warnings=warnings,
        settings={
            k: v
            for k, v in dataclasses.asdict(settings).items()
            if not (k.startswith("soak") and not args.soak) and not (k.startswith("streams") and not args.streams)
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
            )
            available: list[Target] = []
            for target in targets:
                reason = target.unavailable(env)
                if reason:
                    info.targets[target.key] = {"status": "unavailable", "reason": reason}
                    console.print(f"[yellow]{escape(f'{target.label}: {reason}')}[/]")
                else:
                    available.append(target)

            idle = check_idle(sorted(server_cores | client_cores), window=1.0, threshold=args.idle_threshold)
            info.cpu_busy = {str(c): round(b, 3) for c, b in idle.busy.items()}
            if idle.warning():
                info.warnings.append(str(idle.warning()))
                console.print(f"[bold red]WARNING: {idle.warning()}[/]")
            else:
                console.print("cores idle: " + ", ".join(f"core {c} {b:.0%}" for c, b in idle.busy.items()))

            ctx = Context(env=env, wrk_bin=wrk, settings=settings, results=results)
            for target in available:
                run_target(ctx, target, scenarios, args, console, info)
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
        write_markdown(BENCH_DIR / "RESULTS.md", results, info)
        write_json(BENCH_DIR / "results.json", results, info)
        console.print(
            f"wrote {BENCH_DIR / 'RESULTS.md'} and {BENCH_DIR / 'results.json'} ({info.elapsed_s:.0f}s in all)"
        )
    return 130 if interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
