"""Processes the bench starts: pinned to a core, watched, measured, always killed.

Every server and load generator is a child in its own session (process group),
registered in one `ProcessSet`; `ProcessSet.close()` runs from a `finally` and
from SIGTERM/SIGINT, and kills each group by its id (SIGTERM, then SIGKILL), so
a Ctrl-C leaves nothing listening. Pinning uses `taskset -c` (set before the
program starts, so every thread and worker inherits it) with
`os.sched_setaffinity` as a fallback.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "BenchProcess",
    "CpuCheck",
    "ProcessSet",
    "RssSampler",
    "StartError",
    "busy_share",
    "check_idle",
    "cpu_times",
    "free_port",
    "http_get_ok",
    "peak_rss_kib",
    "reset_peak_rss",
    "signals_raise",
    "task_share",
    "tree_cpu_ticks",
    "tree_rss_kib",
]


class StartError(RuntimeError):
    """A server did not become ready; the message says why (with its log tail)."""


def free_port() -> int:
    """A loopback port that is free now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_get_ok(url: str, timeout: float = 1.0) -> bool:
    """True when a GET on a loopback URL answers 2xx."""
    assert url.startswith("http://127.0.0.1:"), "the bench only talks to loopback"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return 200 <= int(resp.status) < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as f:
                stat = f.read()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: the ppid follows the last ')'.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        kids.setdefault(ppid, []).append(int(entry))
    return kids


def _descendants(pid: int) -> list[int]:
    kids = _children()
    out, todo = [pid], [pid]
    while todo:
        for child in kids.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _status_kib(pid: int, key: str) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _vmrss_kib(pid: int) -> int:
    return _status_kib(pid, "VmRSS:")


def reset_peak_rss(pid: int) -> bool:
    """Reset the kernel's resident high-water mark (VmHWM) of a process to its current RSS (needs root)."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
    except OSError:
        return False
    return True


def peak_rss_kib(pid: int) -> int:
    """The kernel's resident high-water mark of one process (VmHWM, KiB): its peak since start or the last reset."""
    return _status_kib(pid, "VmHWM:")


def tree_rss_kib(pid: int) -> int:
    """Resident memory of a process and all its descendants (VmRSS, KiB).

    Summed over the tree because some servers (LiteLLM, uvicorn with workers)
    run the request path in a child of the process we started.
    """
    return sum(_vmrss_kib(p) for p in _descendants(pid))


class RssSampler:
    """Samples a process tree's resident memory in a thread, every `every` seconds, while in a `with` block."""

    def __init__(self, pid: int, every: float = 0.25) -> None:
        self.pid = pid
        self.every = every
        self.peak_kib = 0
        self.timeline: list[tuple[float, int]] = []  # (seconds since the start, KiB)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        start = time.monotonic()
        while True:
            kib = tree_rss_kib(self.pid)
            self.peak_kib = max(self.peak_kib, kib)
            self.timeline.append((round(time.monotonic() - start, 2), kib))
            if self._stop.wait(self.every):
                return

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


@dataclass
class BenchProcess:
    """One started program: its Popen, where its output goes, and its name."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    cores: frozenset[int]

    @property
    def pid(self) -> int:
        return int(self.popen.pid)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def rss_kib(self) -> int:
        return tree_rss_kib(self.pid)

    def log_tail(self, lines: int = 25) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(self, url: str, timeout: float) -> float:
        """Poll `url` until it answers 2xx; return the seconds it took. Bounded by `timeout`."""
        start = time.monotonic()
        deadline = start + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise StartError(
                    f"{self.name} exited with code {self.popen.returncode} before it was ready:\n{self.log_tail()}"
                )
            if http_get_ok(url, timeout=1.0):
                return time.monotonic() - start
            time.sleep(0.1)
        raise StartError(f"{self.name} not ready at {url} after {timeout:.0f}s:\n{self.log_tail()}")


@dataclass
class ProcessSet:
    """Every process the bench started, so that all of them are killed at the end."""

    log_dir: Path
    procs: list[BenchProcess] = field(default_factory=list)
    _taskset: str | None = field(default_factory=lambda: shutil.which("taskset"))

    def start(
        self,
        name: str,
        argv: Sequence[str],
        cores: frozenset[int],
        env: Mapping[str, str | None] | None = None,
        cwd: Path | None = None,
    ) -> BenchProcess:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{name}.log"
        cmd = list(argv)
        core_list = ",".join(str(c) for c in sorted(cores))
        if self._taskset:
            cmd = [self._taskset, "-c", core_list, *cmd]
        full_env = dict(os.environ)
        for key, value in (env or {}).items():
            if value is None:
                full_env.pop(key, None)  # None means: make sure it is not set
            else:
                full_env[key] = value
        with open(log_path, "wb") as log:
            popen = subprocess.Popen(
                cmd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=full_env,
                cwd=cwd,
                start_new_session=True,
            )
        if not self._taskset:
            with contextlib.suppress(OSError):
                os.sched_setaffinity(popen.pid, cores)
        proc = BenchProcess(name=name, popen=popen, log_path=log_path, cores=cores)
        self.procs.append(proc)
        return proc

    def stop(self, proc: BenchProcess, grace: float = 5.0) -> None:
        """SIGTERM the process group, wait up to `grace` seconds, then SIGKILL it."""
        if proc.popen.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.popen.wait(timeout=grace)
        # The group may outlive its leader (workers); kill what is left of it.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.popen.wait(timeout=2.0)
        if proc in self.procs:
            self.procs.remove(proc)

    def close(self) -> None:
        for proc in list(reversed(self.procs)):
            self.stop(proc, grace=3.0)


@contextlib.contextmanager
def signals_raise() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt so the `finally` that kills children runs."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@dataclass(frozen=True)
class CpuCheck:
    """How busy each core was over a short window before the bench started."""

    busy: dict[int, float]
    threshold: float

    @property
    def busy_cores(self) -> dict[int, float]:
        return {c: b for c, b in self.busy.items() if b > self.threshold}

    def warning(self) -> str | None:
        if not self.busy_cores:
            return None
        cores = ", ".join(f"core {c} {b:.0%} busy" for c, b in sorted(self.busy_cores.items()))
        return f"CORES NOT IDLE before the run ({cores}; threshold {self.threshold:.0%}): figures are suspect"


def cpu_times() -> dict[int, tuple[int, int, int]]:
    """Per core, in clock ticks from /proc/stat: (busy, total, busy in tasks).

    "Busy in tasks" is user + nice + system + steal, without interrupt time, so
    it can be compared with the CPU time of one process tree (`tree_cpu_ticks`).
    """
    out: dict[int, tuple[int, int, int]] = {}
    with open("/proc/stat", encoding="ascii") as f:
        for line in f:
            if line.startswith("cpu") and line[3].isdigit():
                name, *values = line.split()
                nums = [int(v) for v in values] + [0] * 8
                idle = nums[3] + nums[4]  # idle + iowait
                total = sum(nums[:8])  # guest time is already counted in user
                tasks = nums[0] + nums[1] + nums[2] + nums[7]
                out[int(name[3:])] = (total - idle, total, tasks)
    return out


def tree_cpu_ticks(pid: int, reaped: bool = False) -> int:
    """CPU time (user + system, clock ticks) used so far by a process and its descendants.

    With `reaped`, also the time of descendants that exited and were waited for (cutime,
    cstime), so a child that ran and ended between two readings (a wrk run) is counted.
    """
    ticks = 0
    for p in _descendants(pid):
        try:
            with open(f"/proc/{p}/stat", encoding="ascii", errors="replace") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
        if reaped:
            ticks += int(fields[13]) + int(fields[14])  # cutime, cstime (fields 16 and 17)
    return ticks


def task_share(
    before: dict[int, tuple[int, int, int]], after: dict[int, tuple[int, int, int]], cores: Iterable[int]
) -> tuple[float, int] | None:
    """(share of `cores` spent in tasks, total ticks) between two readings."""
    d_tasks = d_total = 0
    for core in cores:
        if core in before and core in after:
            d_tasks += after[core][2] - before[core][2]
            d_total += after[core][1] - before[core][1]
    return (d_tasks / d_total, d_total) if d_total > 0 else None


def busy_share(
    before: dict[int, tuple[int, int, int]], after: dict[int, tuple[int, int, int]], cores: Iterable[int]
) -> float | None:
    """The busy share of `cores` (together) between two `cpu_times()` readings."""
    d_busy = d_total = 0
    for core in cores:
        if core in before and core in after:
            d_busy += after[core][0] - before[core][0]
            d_total += after[core][1] - before[core][1]
    return d_busy / d_total if d_total > 0 else None


def check_idle(cores: Sequence[int], window: float = 1.0, threshold: float = 0.20, attempts: int = 1) -> CpuCheck:
    """Read /proc/stat twice, `window` seconds apart, and report each core's busy share.

    With `attempts` > 1, measure again (up to that many windows) while a core is busy, so a
    passing burst (a process starting) does not spoil the run; the last reading is returned.
    """
    check = CpuCheck(busy={}, threshold=threshold)
    for _ in range(max(1, attempts)):
        before = cpu_times()
        time.sleep(window)
        after = cpu_times()
        busy: dict[int, float] = {}
        for core in cores:
            share = busy_share(before, after, [core])
            if share is not None:
                busy[core] = share
        check = CpuCheck(busy=busy, threshold=threshold)
        if not check.warning():
            break
    return check
