"""Issue 11's entry: one Relève replica with Redis shared state against one with local state.

Two `releve up` processes, configured alike but for `shared_state` (none; then Redis on this
machine under a fresh prefix whose keys are deleted at the end), both pinned to the server core,
in front of the bench's upstream (client core). Round after round, it measures chat at one
connection on the direct upstream, then on each gateway (their order swapped every round, so a
passing disturbance hits both alike), then chat at 32 connections on each (order swapped too).
Added latency = the gateway's p50 (p99) minus the direct upstream's in the same round; the figure
issue 11 asks for is the p50 difference (Redis - local), round by round.

It also reads, per measured run, the gateway's CPU time (utime + stime of its process tree, from
/proc) per request, and Redis's own counters (commands processed, CPU) so that a request path
talking to Redis would show.

    .venv/bin/python -m bench.shared_state                  # 8 undisturbed rounds, ~2.5 min on an idle machine
    .venv/bin/python -m bench.shared_state --rounds 3 --no-write

Other processes on the machine (tests, builds) are measured like in `bench.run` ("other" CPU on the
two cores during each run). A round's c=1 part and c=32 part are judged apart: a part during which
they took more than 10 % of a core is kept but marked disturbed, and more rounds are run (up to
--max-rounds, within --max-seconds) until --rounds rounds with an undisturbed c=1 part are in. Each
part's summary uses its undisturbed rounds when there are at least two, else all of them; the
paired c=1 difference is also given over every round.

It writes its section into bench/RESULTS.md and its raw figures under the "shared_state" key of
bench/results.json (a full `bench.run` keeps both).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib.metadata
import json
import os
import secrets
import shlex
import statistics
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from rich.console import Console
from rich.markup import escape

from bench.context import FOREIGN_CPU_LIMIT, Context, Settings, from_wrk, hits, judge_forwarding
from bench.loadgen import check_chat, ensure_wrk
from bench.procs import ProcessSet, StartError, check_idle, free_port, signals_raise, tree_cpu_ticks
from bench.report import load_json, write_markdown
from bench.report_audit import load_audit
from bench.results import Result
from bench.scenarios import SCENARIOS
from bench.targets import BenchEnv, Direct, Releve, Running

__all__ = ["main"]

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
WORK_DIR = BENCH_DIR / ".work"
CLK_TCK = os.sysconf("SC_CLK_TCK")
SECTION_KEY = "shared_state"
_C1 = next(s for s in SCENARIOS if s.key == "chat-c1")
_C32 = next(s for s in SCENARIOS if s.key == "chat-c32")
VARIANTS = ("local", "redis")


class ReleveVariant(Releve):
    """Relève as `bench.targets.Releve` starts it, plus (or not) a `shared_state` line; its own
    working directory (so its SQLite store) and its own log."""

    def __init__(self, key: str, shared_yaml: str | None) -> None:
        self.key = f"releve-{key}"
        self.label = f"Relève ({key} state)"
        self.shared_yaml = shared_yaml
        self.config_text = ""

    def write_config(self, env: BenchEnv, port: int) -> Path:
        path = super().write_config(env, port)
        if self.shared_yaml:
            path.write_text(path.read_text() + f"shared_state: {self.shared_yaml}\n")
        self.config_text = path.read_text()
        return path

    def start(self, env: BenchEnv) -> Running:
        port = free_port()
        config = self.write_config(env, port)
        proc = env.procs.start(
            self.key, [str(self._bin(env)), "up", "--config", str(config)], cores=env.server_cores, cwd=env.work_dir
        )
        base = f"http://127.0.0.1:{port}"
        took = proc.wait_ready(base + "/healthz", timeout=60)
        return Running(
            url=base + "/v1/chat/completions",
            proc=proc,
            version=importlib.metadata.version("releve"),
            startup_s=took,
            stop=lambda: env.procs.stop(proc),
        )


def healthz(running: Running) -> dict[str, Any]:
    url = running.url.removesuffix("/v1/chat/completions") + "/healthz"
    with urllib.request.urlopen(url, timeout=5) as resp:
        data: dict[str, Any] = json.loads(resp.read())
        return data


def wait_health(running: Running, key: str, want: str, timeout: float = 15.0) -> dict[str, Any]:
    """Poll /healthz until it says `shared_state: want` (Redis connects after start-up), bounded in time."""
    deadline = time.monotonic() + timeout
    data: dict[str, Any] = {}
    while time.monotonic() < deadline:
        data = healthz(running)
        if data.get(key) == want:
            return data
        time.sleep(0.2)
    raise StartError(f"/healthz never said {key}: {want!r} within {timeout:.0f}s; last answer {data}")


class RedisCounters:
    """Redis's own view (machine-wide: other users of the same Redis count too): commands, CPU seconds."""

    def __init__(self, url: str) -> None:
        import redis

        self.client = redis.Redis.from_url(url, socket_timeout=5)
        self.version = str(self.client.info("server").get("redis_version", "?"))

    def read(self) -> tuple[int, float]:
        stats, cpu = self.client.info("stats"), self.client.info("cpu")
        return int(stats["total_commands_processed"]), float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"])

    def purge(self, prefix: str) -> int:
        keys = list(self.client.scan_iter(match=prefix + "*", count=500))
        return int(self.client.delete(*keys)) if keys else 0


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.shared_state", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--rounds", type=int, default=8, help="undisturbed rounds wanted (each: direct, both gateways)")
    p.add_argument("--max-rounds", type=int, default=20, help="rounds at most, disturbed ones included")
    p.add_argument("--max-seconds", type=float, default=270.0, help="no new round after this long (default 270)")
    p.add_argument("--c1-seconds", type=float, default=2.0, help="seconds per measured c=1 run (default 2)")
    p.add_argument("--c32-seconds", type=float, default=2.0, help="seconds per measured c=32 run; 0 skips c=32")
    p.add_argument("--warmup", type=float, default=1.0, help="seconds of warm-up before each measured run")
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/0", help="a loopback Redis")
    p.add_argument("--releve-bin", type=Path, help="the releve executable (default .venv/bin/releve)")
    p.add_argument("--server-core", type=int, default=0)
    p.add_argument("--client-core", type=int, default=1)
    p.add_argument("--idle-threshold", type=float, default=0.20, help="warn when a core is busier than this")
    p.add_argument("--idle-wait", type=float, default=60.0, help="seconds to wait for idle cores at the start")
    p.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md and results.json alone")
    args = p.parse_args(argv)
    host = urlparse(args.redis_url).hostname
    if urlparse(args.redis_url).scheme != "unix" and host not in ("127.0.0.1", "localhost", "::1"):
        p.error("the bench only talks to loopback: --redis-url must point at this machine")
    args.rounds = max(1, min(args.rounds, 50))
    args.max_rounds = max(args.rounds, min(args.max_rounds, 100))
    return args


def _run_dict(r: Result) -> dict[str, Any]:
    return r.to_dict()


def _med(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _spread(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"median": None, "min": None, "max": None, "mean": None, "stdev": None, "n": 0}
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "mean": statistics.fmean(values),
        "stdev": statistics.stdev(values) if len(values) > 1 else 0.0,
        "n": len(values),
    }


def summarize(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over rounds whose runs are all clean; the Redis - local differences round by round."""
    out: dict[str, Any] = {"variants": {}, "diff": {}}
    for v in VARIANTS:
        c1 = [r[v]["c1"] for r in rounds if r[v].get("c1", {}).get("status") == "ok"]
        c32 = [r[v]["c32"] for r in rounds if r[v].get("c32", {}).get("status") == "ok"]
        added = [
            (r[v]["c1"]["extra"]["added_p50_ms"], r[v]["c1"]["extra"]["added_p99_ms"])
            for r in rounds
            if r[v].get("c1", {}).get("status") == "ok" and r[v]["c1"]["extra"].get("added_p50_ms") is not None
        ]
        out["variants"][v] = {
            "c1_p50_ms": _spread([x["p50_ms"] for x in c1]),
            "c1_p99_ms": _spread([x["p99_ms"] for x in c1]),
            "c1_added_p50_ms": _spread([a for a, _ in added]),
            "c1_added_p99_ms": _spread([b for _, b in added]),
            "c1_rps": _spread([x["rps"] for x in c1]),
            "c1_cpu_us_per_request": _spread([x["extra"]["cpu_us_per_request"] for x in c1]),
            "c32_rps": _spread([x["rps"] for x in c32]),
            "c32_p50_ms": _spread([x["p50_ms"] for x in c32]),
            "c32_p99_ms": _spread([x["p99_ms"] for x in c32]),
            "c32_cpu_us_per_request": _spread([x["extra"]["cpu_us_per_request"] for x in c32]),
            "c32_server_core_busy": _spread([x["server_cpu"] for x in c32 if x["server_cpu"] is not None]),
        }

    def paired(scenario: str, field: str) -> list[float]:
        vals = []
        for r in rounds:
            a, b = r["local"].get(scenario, {}), r["redis"].get(scenario, {})
            if a.get("status") == "ok" and b.get("status") == "ok":
                va = a["extra"][field] if field in a.get("extra", {}) else a[field]
                vb = b["extra"][field] if field in b.get("extra", {}) else b[field]
                vals.append(vb - va)
        return vals

    out["diff"] = {
        "c1_p50_ms": _spread(paired("c1", "p50_ms")),
        "c1_p99_ms": _spread(paired("c1", "p99_ms")),
        "c1_cpu_us_per_request": _spread(paired("c1", "cpu_us_per_request")),
        "c32_rps": _spread(paired("c32", "rps")),
        "c32_cpu_us_per_request": _spread(paired("c32", "cpu_us_per_request")),
    }
    d = out["diff"]["c1_p50_ms"]
    out["criterion"] = {
        "wanted": "added latency at p50 (c=1), Redis shared state vs local state, within 0.1 ms",
        "limit_ms": 0.1,
        "median_diff_ms": d["median"],
        "holds": d["median"] is not None and abs(d["median"]) <= 0.1,
        "every_round_within": d["n"] > 0 and max(abs(d["min"] or 0), abs(d["max"] or 0)) <= 0.1,
    }
    return out


def mark_disturbance(rec: dict[str, Any]) -> None:
    """A round's c=1 part (direct, both gateways) and c=32 part are judged apart: other processes that took
    more than FOREIGN_CPU_LIMIT of a core during any run of a part make that part disturbed."""

    def worst(runs: list[dict[str, Any]]) -> float:
        return max([x.get("foreign_cpu") or 0.0 for x in runs if x], default=0.0)

    c1 = worst([rec["direct"]["c1"], *(rec[v].get("c1", {}) for v in VARIANTS)])
    c32 = worst([rec[v].get("c32", {}) for v in VARIANTS])
    rec["other_cpu_c1"], rec["other_cpu_c32"] = c1, c32
    rec["other_cpu_max"] = max(c1, c32)
    rec["disturbed_c1"], rec["disturbed_c32"] = c1 > FOREIGN_CPU_LIMIT, c32 > FOREIGN_CPU_LIMIT
    rec["disturbed"] = rec["disturbed_c1"] or rec["disturbed_c32"]


def summary_of(rounds: list[dict[str, Any]], warnings: list[str]) -> dict[str, Any]:
    """c=1 figures over the rounds whose c=1 part was undisturbed, c=32 figures likewise (all rounds when
    fewer than two are, with a warning); plus the paired c=1 difference over every round."""
    used: dict[str, list[dict[str, Any]]] = {}
    for part in ("c1", "c32"):
        calm = [r for r in rounds if not r[f"disturbed_{part}"]]
        used[part] = calm if len(calm) >= 2 else rounds
        if len(calm) < 2 and rounds:
            warnings.append(
                f"only {len(calm)} of {len(rounds)} rounds had an undisturbed {part} part: its figures use all rounds"
            )
    out = summarize(used["c1"])
    s32 = summarize(used["c32"])
    for v in VARIANTS:
        out["variants"][v].update({k: val for k, val in s32["variants"][v].items() if k.startswith("c32_")})
    out["diff"].update({k: val for k, val in s32["diff"].items() if k.startswith("c32_")})
    out["rounds_used"] = {part: [r["round"] for r in used[part]] for part in used}
    # A disturbance inside a round hits both gateways alike: the paired difference over every round too.
    out["diff_all_rounds"] = summarize(rounds)["diff"] if rounds else {}
    return out


def _measure(
    ctx: Context, target: Any, running: Running, scenario: Any, seconds: float, warmup: float, tag: str
) -> tuple[Result, int]:
    """Warm-up, then one measured wrk run; the gateway's CPU ticks over the measured run only."""
    warm = ctx.load(running, f"wrk-{tag}-warmup", False, scenario.connections, warmup)
    before_hits = hits(ctx.env)
    t0 = tree_cpu_ticks(running.proc.pid)
    res = ctx.load(running, f"wrk-{tag}", False, scenario.connections, seconds)
    ticks = tree_cpu_ticks(running.proc.pid) - t0
    after_hits = hits(ctx.env)
    result = from_wrk(target, scenario, res, running)
    judge_forwarding(result, target, (after_hits[0] - before_hits[0]) + (after_hits[1] - before_hits[1]))
    if warm.error_count:
        result.note = (result.note + "; " if result.note else "") + f"warm-up had {warm.error_count} errors"
    result.extra["cpu_ticks"] = ticks
    result.extra["cpu_us_per_request"] = ticks * 1e6 / CLK_TCK / result.requests if result.requests else None
    return result, ticks


def command_line(argv: list[str]) -> str:
    exe = Path(sys.executable)
    with contextlib.suppress(ValueError):
        exe = exe.relative_to(REPO) if exe.is_absolute() else exe
    return shlex.join([str(exe), "-m", "bench.shared_state", *argv])


def main(argv: list[str] | None = None) -> int:
    from bench.run import machine, raise_nofile, releve_source

    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    console = Console()
    if not console.is_terminal:
        console = Console(width=max(console.width, 130))
    started = time.monotonic()
    server_cores, client_cores = frozenset({args.server_core}), frozenset({args.client_core})
    with contextlib.suppress(OSError):
        os.sched_setaffinity(0, client_cores)
    raise_nofile(console)
    wrk = ensure_wrk(say=lambda m: console.print(f"[yellow]{m}[/]"))
    redis = RedisCounters(args.redis_url)
    prefix = f"releve-bench-{secrets.token_hex(4)}:"
    work = WORK_DIR / "shared-state"
    procs = ProcessSet(log_dir=WORK_DIR / "logs")
    warnings: list[str] = []
    rounds: list[dict[str, Any]] = []
    info: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "command": command_line(argv),
        "releve_source": releve_source(args.releve_bin, None),
        "machine": machine(),
        "cores": {"server": sorted(server_cores), "client": sorted(client_cores)},
        "settings": {
            "rounds": args.rounds,
            "max_rounds": args.max_rounds,
            "max_seconds": args.max_seconds,
            "c1_seconds": args.c1_seconds,
            "c32_seconds": args.c32_seconds,
            "warmup_s": args.warmup,
        },
        "redis": {"url": args.redis_url, "prefix": prefix, "version": redis.version},
        "versions": {
            "releve": importlib.metadata.version("releve"),
            "redis-py": importlib.metadata.version("redis"),
            "python": sys.version.split()[0],
        },
    }
    interrupted = False
    try:
        with signals_raise():
            up_port, spare_port = free_port(), free_port()
            upstream = procs.start(
                "ss-upstream", [sys.executable, "-m", "bench.upstream", "--port", str(up_port)], client_cores, cwd=REPO
            )
            spare = procs.start(
                "ss-upstream-spare",
                [sys.executable, "-m", "bench.upstream", "--port", str(spare_port)],
                client_cores,
                cwd=REPO,
            )
            upstream.wait_ready(f"http://127.0.0.1:{up_port}/healthz", timeout=20)
            spare.wait_ready(f"http://127.0.0.1:{spare_port}/healthz", timeout=20)

            def env_for(sub: str) -> BenchEnv:
                (work / sub).mkdir(parents=True, exist_ok=True)  # Relève's start makes its store afresh there
                return BenchEnv(
                    repo=REPO,
                    work_dir=work / sub,
                    procs=procs,
                    server_cores=server_cores,
                    client_cores=client_cores,
                    upstream=upstream,
                    upstream_base=f"http://127.0.0.1:{up_port}/v1",
                    spare=spare,
                    spare_base=f"http://127.0.0.1:{spare_port}/v1",
                    say=lambda m: console.print(f"[yellow]{m}[/]"),
                    releve_bin=args.releve_bin,
                )

            envs = {v: env_for(v) for v in VARIANTS}
            targets = {
                "local": ReleveVariant("local", None),
                "redis": ReleveVariant("redis", f'{{url: "{args.redis_url}", prefix: "{prefix}"}}'),
            }
            ctx = Context(env=envs["local"], wrk_bin=wrk, settings=Settings())
            running: dict[str, Running] = {}
            for v in VARIANTS:
                t = targets[v]
                if (reason := t.unavailable(envs[v])) is not None:
                    raise StartError(reason)
                running[v] = t.start(envs[v])
                for stream in (False, True):
                    check = check_chat(running[v].url, stream)
                    if not check.ok:
                        raise StartError(f"{t.label} answers wrongly: HTTP {check.status} {check.detail}")
                want = "ok" if v == "redis" else "off"
                info.setdefault("healthz", {})[v] = wait_health(running[v], SECTION_KEY, want)
                console.print(
                    f"{t.label}: ready in {running[v].startup_s:.1f}s, answers checked, /healthz "
                    f"{escape(json.dumps({k: info['healthz'][v].get(k) for k in ('status', SECTION_KEY)}))}"
                )
            info["configs"] = {v: targets[v].config_text for v in VARIANTS}
            direct = Direct()

            idle = check_idle(
                sorted(server_cores | client_cores),
                window=1.0,
                threshold=args.idle_threshold,
                attempts=max(1, round(args.idle_wait)),
            )
            info["cpu_busy"] = {str(c): round(b, 3) for c, b in idle.busy.items()}
            if idle.warning():
                warnings.append(str(idle.warning()))
                console.print(f"[bold red]WARNING: {idle.warning()}[/]")
            else:
                console.print("cores idle: " + ", ".join(f"core {c} {b:.0%}" for c, b in idle.busy.items()))

            own_ticks = dict.fromkeys(VARIANTS, 0)  # ticks during each gateway's own load (warm-ups included)
            own_wall = dict.fromkeys(VARIANTS, 0.0)
            start_ticks = {v: tree_cpu_ticks(running[v].proc.pid) for v in VARIANTS}
            session_t0 = time.monotonic()
            i = 0
            while (
                i < args.max_rounds
                and sum(1 for r in rounds if not r["disturbed_c1"]) < args.rounds
                and time.monotonic() - started < args.max_seconds
            ):
                # Wait (up to 20 s, within the time cap) for a passing burst of someone else's work to end.
                left = args.max_seconds - (time.monotonic() - started)
                busy = check_idle(
                    sorted(server_cores | client_cores),
                    window=0.5,
                    threshold=args.idle_threshold,
                    attempts=max(1, min(40, int(left / 0.5))),
                )
                if busy.warning():
                    warnings.append(f"before round {i + 1}: {busy.warning()}")
                    console.print(f"[bold red]WARNING before round {i + 1}: {busy.warning()}[/]")
                order = list(VARIANTS) if i % 2 == 0 else list(reversed(VARIANTS))
                rec: dict[str, Any] = {
                    "round": i + 1,
                    "order": order,
                    "busy_before": {str(c): round(b, 3) for c, b in busy.busy.items()},
                    "local": {},
                    "redis": {},
                }
                d_run = direct.start(envs["local"])
                try:
                    d_res, _ = _measure(ctx, direct, d_run, _C1, args.c1_seconds, args.warmup, f"ss-direct-{i}")
                finally:
                    d_run.stop()
                rec["direct"] = {"c1": _run_dict(d_res)}
                plan = [("c1", _C1, args.c1_seconds)] + ([("c32", _C32, args.c32_seconds)] if args.c32_seconds else [])
                for label, scenario, seconds in plan:
                    for v in order:
                        r0 = running[v]
                        if not r0.proc.alive():
                            raise StartError(f"{targets[v].label} died: {r0.proc.log_tail()}")
                        cmd0, cpu0 = redis.read()
                        t0w, t0t = time.monotonic(), tree_cpu_ticks(r0.proc.pid)
                        res, _ = _measure(ctx, targets[v], r0, scenario, seconds, args.warmup, f"ss-{v}-{label}-{i}")
                        own_ticks[v] += tree_cpu_ticks(r0.proc.pid) - t0t
                        own_wall[v] += time.monotonic() - t0w
                        cmd1, cpu1 = redis.read()
                        res.extra["round"] = i + 1
                        res.extra["redis_commands"] = cmd1 - cmd0 - 2  # less this bench's own INFO calls
                        res.extra["redis_cpu_ms"] = round((cpu1 - cpu0) * 1000, 1)
                        if label == "c1" and res.clean and d_res.clean and res.p50_ms is not None:
                            res.extra["added_p50_ms"] = res.p50_ms - (d_res.p50_ms or 0)
                            res.extra["added_p99_ms"] = (res.p99_ms or 0) - (d_res.p99_ms or 0)
                        rec[v][label] = _run_dict(res)
                mark_disturbance(rec)
                rounds.append(rec)
                console.print(_round_line(rec))
                i += 1
            session_wall = time.monotonic() - session_t0
            info["idle_cpu"] = {}
            for v in VARIANTS:
                total = tree_cpu_ticks(running[v].proc.pid) - start_ticks[v]
                idle_ticks, idle_wall = total - own_ticks[v], session_wall - own_wall[v]
                info["idle_cpu"][v] = {
                    "seconds_idle": round(idle_wall, 1),
                    "cpu_share_of_core": round(idle_ticks / CLK_TCK / idle_wall, 4) if idle_wall > 0 else None,
                }
            for v in VARIANTS:
                info.setdefault("healthz_after", {})[v] = healthz(running[v])
    except KeyboardInterrupt:
        interrupted = True
        console.print("[bold red]interrupted: stopping every process the bench started[/]")
    except StartError as exc:
        interrupted = True
        warnings.append(str(exc))
        console.print(f"[bold red]run aborted:[/] {escape(str(exc))}")
    finally:
        procs.close()
        with contextlib.suppress(Exception):
            info["redis"]["keys_deleted"] = redis.purge(prefix)
            info["redis"]["keys_left"] = sum(1 for _ in redis.client.scan_iter(match=prefix + "*"))
    info["warnings"] = warnings
    info["interrupted"] = interrupted
    info["elapsed_s"] = round(time.monotonic() - started, 1)
    summary = summary_of(rounds, warnings)
    data = {"info": info, "rounds": rounds, "summary": summary}
    from bench.report_shared import shared_markdown

    console.print("\n".join(shared_markdown(data)), markup=False, highlight=False)
    if args.no_write or interrupted or not rounds:
        console.print("RESULTS.md and results.json left as they were")
        return 130 if interrupted else 0
    json_path = BENCH_DIR / "results.json"
    stored = json.loads(json_path.read_text())
    stored[SECTION_KEY] = data
    json_path.write_text(json.dumps(stored, indent=2, ensure_ascii=False) + "\n")
    results, run_info = load_json(json_path)
    write_markdown(BENCH_DIR / "RESULTS.md", results, run_info, shared=data, audit=load_audit(json_path))
    console.print(f"wrote the section into {BENCH_DIR / 'RESULTS.md'} and {json_path} ({info['elapsed_s']:.0f}s)")
    return 0


def _round_line(rec: dict[str, Any]) -> str:
    d = rec["direct"]["c1"]
    parts = [f"round {rec['round']} ({'/'.join(rec['order'])}): direct p50 {d['p50_ms']:.3f}"]
    for v in VARIANTS:
        c1, c32 = rec[v].get("c1", {}), rec[v].get("c32")
        text = f"{v} p50 {c1.get('p50_ms', 0):.3f} p99 {c1.get('p99_ms', 0):.3f}"
        if c1.get("extra", {}).get("cpu_us_per_request") is not None:
            text += f" {c1['extra']['cpu_us_per_request']:.0f} µs/req"
        if c32:
            text += f", c32 {c32['rps']:,.0f} req/s"
        if c1.get("status") != "ok":
            text += f" [{c1.get('status')}]"
        parts.append(text)
    if rec["disturbed"]:
        parts.append(f"DISTURBED (other processes up to {rec['other_cpu_max']:.0%} of a core)")
    return "  " + "; ".join(parts)


if __name__ == "__main__":
    sys.exit(main())
