"""The servers under test, and how each is started on the server core.

Every target answers `POST <url>` with model `bench`, in front of the same
upstream processes. A target that is not there (Relève not installed yet,
LiteLLM failing to install) says why in one line and is skipped; a target that
is there but does not start is reported with the tail of its log.

To add a target: subclass `Target`, give it a key, and list it in `TARGETS`.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import io
import os
import subprocess
import sys
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench import litellm_setup
from bench.procs import BenchProcess, ProcessSet, StartError, free_port

__all__ = [
    "TARGETS",
    "BenchEnv",
    "Direct",
    "Litellm",
    "RefProxy",
    "Releve",
    "Running",
    "Target",
    "export_commit",
    "repin",
]


@dataclass
class BenchEnv:
    """What every target needs: where to write, which cores, where the upstreams are."""

    repo: Path
    work_dir: Path
    procs: ProcessSet
    server_cores: frozenset[int]
    client_cores: frozenset[int]
    upstream: BenchProcess
    upstream_base: str
    spare: BenchProcess
    spare_base: str
    say: Callable[[str], None]
    install_litellm: bool = True
    releve_bin: Path | None = None
    releve_pythonpath: Path | None = None  # an exported commit's src/ (--releve-commit), ahead of the venv's
    litellm_venv: Path | None = None


@dataclass
class Running:
    """A started target: the URL to load, the process whose memory is reported, how to stop it."""

    url: str
    proc: BenchProcess
    version: str
    startup_s: float = 0.0
    stop: Callable[[], None] = field(default=lambda: None)


def export_commit(repo: Path, rev: str, work_dir: Path) -> tuple[str, Path]:
    """`git archive` the src/ of commit `rev` into work_dir; return (short hash, the exported src/ directory).

    So a commit can be measured while the checkout's src/ is being edited: the exported
    src/ goes first on Relève's PYTHONPATH, the venv's packages serve the rest.
    """

    def git(*args: str) -> bytes:
        try:
            return subprocess.run(["git", *args], cwd=repo, capture_output=True, check=True, timeout=60).stdout
        except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            raise StartError(f"git {' '.join(args)} failed: {exc}") from exc

    short = git("rev-parse", "--short", f"{rev}^{{commit}}").decode().strip()
    dest = work_dir / f"releve-{short}"
    if not (dest / "src" / "releve").is_dir():
        data = git("archive", "--format=tar", short, "src")
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            tar.extractall(dest, filter="data")
    return short, dest / "src"


def repin(pid: int, cores: frozenset[int]) -> None:
    """Move every thread of a running process to `cores` (used to make the upstream the server under test)."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(OSError):
            os.sched_setaffinity(int(tid), cores)


class Target:
    key: str = ""
    label: str = ""
    failover: bool = False  # has a second target behind the first (breaker scenarios apply)

    def unavailable(self, env: BenchEnv) -> str | None:
        """None when the target can be started, else a one-line reason."""
        return None

    def start(self, env: BenchEnv) -> Running:
        raise NotImplementedError


class Direct(Target):
    """The upstream itself, moved to the server core for the time of its runs.

    The same process serves every other target, so "added latency" compares
    the same upstream reached directly and through a proxy, with the client
    on the client core in both cases.
    """

    key = "direct"
    label = "direct upstream"

    def start(self, env: BenchEnv) -> Running:
        repin(env.upstream.pid, env.server_cores)

        def stop() -> None:
            repin(env.upstream.pid, env.client_cores)

        return Running(
            url=env.upstream_base + "/chat/completions", proc=env.upstream, version="bench.upstream", stop=stop
        )


class RefProxy(Target):
    key = "refproxy"
    label = "reference proxy"

    def start(self, env: BenchEnv) -> Running:
        port = free_port()
        proc = env.procs.start(
            "refproxy",
            [sys.executable, "-m", "bench.refproxy", "--port", str(port), "--upstream", env.upstream_base],
            cores=env.server_cores,
            cwd=env.repo,
        )
        base = f"http://127.0.0.1:{port}"
        took = proc.wait_ready(base + "/healthz", timeout=30)
        return Running(
            url=base + "/v1/chat/completions",
            proc=proc,
            version="bench.refproxy (uvicorn+uvloop+httptools, aiohttp client)",
            startup_s=took,
            stop=lambda: env.procs.stop(proc),
        )


class Releve(Target):
    """Relève's gateway, started the way a user starts it: `releve up --config FILE`."""

    key = "releve"
    label = "Relève"
    failover = True

    @staticmethod
    def _bin(env: BenchEnv) -> Path:
        return env.releve_bin or env.repo / ".venv" / "bin" / "releve"

    def unavailable(self, env: BenchEnv) -> str | None:
        exe = self._bin(env)
        if not exe.exists():
            return f"not available: {exe} not found (install the project with `make`, or pass --releve-bin)"
        return None

    def write_config(self, env: BenchEnv, port: int) -> Path:
        path = env.work_dir / "releve.yaml"
        path.write_text(
            "# Generated by bench/targets.py: the gateway as the bench runs it.\n"
            f'server: {{listen: "127.0.0.1:{port}", workers: 1, access_log: false}}\n'
            "auth: none\n"
            "providers:\n"
            f'  up: {{kind: openai-compatible, base_url: "{env.upstream_base}"}}\n'
            f'  spare: {{kind: openai-compatible, base_url: "{env.spare_base}"}}\n'
            "routes:\n"
            "  bench: {targets: [{provider: up, model: m}, {provider: spare, model: m}]}\n"
        )
        return path

    def start(self, env: BenchEnv) -> Running:
        port = free_port()
        config = self.write_config(env, port)
        # A scratch store per start: a database migrated by a newer commit cannot be opened by an older one
        # (`--releve-commit`), and nothing in it is worth keeping between runs.
        for stale in Path(env.work_dir).glob("releve.db*"):
            stale.unlink()
        proc = env.procs.start(
            "releve",
            [str(self._bin(env)), "up", "--config", str(config)],
            cores=env.server_cores,
            env={"PYTHONPATH": str(env.releve_pythonpath)} if env.releve_pythonpath else None,
            cwd=env.work_dir,  # any state file (releve.db) lands in bench/.work, which is gitignored
        )
        base = f"http://127.0.0.1:{port}"
        took = proc.wait_ready(base + "/healthz", timeout=60)
        try:
            version = importlib.metadata.version("releve")
        except importlib.metadata.PackageNotFoundError:
            version = "unknown"
        return Running(
            url=base + "/v1/chat/completions",
            proc=proc,
            version=version,
            startup_s=took,
            stop=lambda: env.procs.stop(proc),
        )


class Litellm(Target):
    key = "litellm"
    label = "LiteLLM proxy"
    failover = True

    def __init__(self) -> None:
        self._install: litellm_setup.LitellmInstall | None = None
        self._reason: str | None = None
        self._checked = False

    def _venv(self, env: BenchEnv) -> Path:
        return env.litellm_venv or env.repo / ".bench-venv-litellm"

    def unavailable(self, env: BenchEnv) -> str | None:
        if not self._checked:
            self._checked = True
            try:
                self._install = litellm_setup.ensure_litellm(
                    self._venv(env), env.work_dir / "litellm-install.log", install=env.install_litellm, say=env.say
                )
            except RuntimeError as exc:
                self._reason = f"not available: {exc}"
        return self._reason

    def start(self, env: BenchEnv) -> Running:
        assert self._install is not None
        port = free_port()
        config = litellm_setup.write_config(env.work_dir / "litellm.yaml", env.upstream_base, env.spare_base)
        proc = env.procs.start(
            "litellm",
            litellm_setup.command(self._install, config, port),
            cores=env.server_cores,
            env=litellm_setup.env(),
            cwd=env.work_dir,
        )
        base = f"http://127.0.0.1:{port}"
        took = proc.wait_ready(base + "/health/liveliness", timeout=180)
        return Running(
            url=base + "/v1/chat/completions",
            proc=proc,
            version=self._install.version,
            startup_s=took,
            stop=lambda: env.procs.stop(proc, grace=10),
        )


TARGETS: dict[str, Callable[[], Target]] = {
    "direct": Direct,
    "refproxy": RefProxy,
    "releve": Releve,
    "litellm": Litellm,
}
