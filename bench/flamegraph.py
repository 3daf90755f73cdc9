"""A py-spy flame graph of a target under load: chat at 32 connections.

wrk loads the server for `flamegraph_s` + 4 seconds; after 1.5 s, `py-spy
record` samples the server process (and its children) for `flamegraph_s`
seconds at 100 Hz, by function, only while a thread holds the GIL (so an idle
thread waiting on a lock does not fill the graph). The SVG goes to
bench/.work/; bench.run copies it to `bench/flamegraph-<target>-c32.svg` when it
writes RESULTS.md. py-spy pauses the process for each sample, so the throughput of this run is
reported for information and never compared. py-spy is installed into the
bench's venv when missing (it needs root or ptrace rights, which the bench has).
"""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from bench.context import Context, Scenario, add_note, from_wrk
from bench.loadgen import WrkResult
from bench.results import Result
from bench.targets import Running, Target

__all__ = ["ensure_pyspy", "run_flamegraph"]

BENCH_DIR = Path(__file__).resolve().parent
RATE_HZ = 100


def ensure_pyspy(say: Callable[[str], None] = print) -> str:
    """py-spy's path: next to this Python, on PATH, or installed with pip into this Python's venv."""
    local = Path(sys.executable).parent / "py-spy"
    if local.exists():
        return str(local)
    found = shutil.which("py-spy")
    if found:
        return found
    say(f"py-spy not found: installing it ({sys.executable} -m pip install py-spy)")
    try:
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "py-spy"],
            check=True,
            timeout=600,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        raise RuntimeError(f"could not install py-spy: {exc}") from exc
    if not local.exists():
        raise RuntimeError(f"pip installed py-spy but {local} is missing")
    return str(local)


def run_flamegraph(ctx: Context, target: Target, running: Running, scenario: Scenario) -> Result:
    env, s = ctx.env, ctx.settings
    spy_bin = ensure_pyspy(env.say)
    out = BENCH_DIR / f"flamegraph-{target.key}-c{scenario.connections}.svg"
    tmp = env.work_dir / out.name
    tmp.unlink(missing_ok=True)
    record_s = max(1, round(s.flamegraph_s))
    loaded: dict[str, WrkResult] = {}
    failure: list[BaseException] = []

    def load() -> None:
        try:
            loaded["wrk"] = ctx.load(running, f"wrk-{target.key}-flamegraph", False, scenario.connections, record_s + 4)
        except (RuntimeError, OSError) as exc:
            failure.append(exc)

    wrk_thread = threading.Thread(target=load, name="flamegraph-wrk")
    wrk_thread.start()
    time.sleep(1.5)
    # --function: one frame per function, not per line, so the graph reads as a call tree.
    # --gil: only samples holding the GIL, i.e. Python at work (not the logging thread waiting on its queue).
    options = ["-d", str(record_s), "-r", str(RATE_HZ), "--function", "--gil", "--subprocesses"]
    argv = [spy_bin, "record", "-p", str(running.proc.pid), *options, "-o", str(tmp)]
    spy = env.procs.start("py-spy", argv, cores=env.client_cores)
    with contextlib.suppress(subprocess.TimeoutExpired):
        spy.popen.wait(timeout=record_s + 60)
    env.procs.stop(spy)
    wrk_thread.join(timeout=record_s + 60)
    if failure:
        raise RuntimeError(f"wrk failed during the profile: {failure[0]}")
    if "wrk" not in loaded:
        raise RuntimeError("wrk did not finish during the profile")
    log = spy.log_tail(10)
    if not tmp.exists() or tmp.stat().st_size == 0:
        raise RuntimeError(f"py-spy wrote no flame graph (exit {spy.popen.returncode}): {log}")
    match = re.search(r"Samples: (\d+) Errors: (\d+)", log)
    result = from_wrk(target, scenario, loaded["wrk"], running)
    result.kind = "profile"
    result.extra = {
        "svg": str(out.relative_to(BENCH_DIR.parent)),
        "svg_work": str(tmp),  # copied to `svg` when the run writes its results
        "record_s": record_s,
        "rate_hz": RATE_HZ,
        "samples": int(match.group(1)) if match else None,
        "sample_errors": int(match.group(2)) if match else None,
        "command": " ".join(["py-spy", "record", "-p", "PID", *options, "-o", out.name]),
    }
    add_note(result, f"py-spy attached at {RATE_HZ} Hz: throughput for information only; {out.name}")
    return result
