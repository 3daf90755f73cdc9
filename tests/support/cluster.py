"""Several `releve up` replicas as real processes, with their own PostgreSQL database, Redis and HAProxy.

The pieces of issue 11's deployment, each started and stopped by a test, all on 127.0.0.1:

- `postgres_database()`: a fresh database on the machine's PostgreSQL, dropped after;
- `RedisServer`: a `redis-server` of the test's own on a free port (never the machine's: tests stop it);
- `Replica`: `python -m releve.cli up --config FILE` in a subprocess, ready once GET /healthz answers 200;
- `LoadBalancer`: HAProxy running `deploy/haproxy.cfg` unchanged, the replicas' addresses from the environment;
- `cluster_config()`: a replica's configuration on the simulators; `steady_traffic()`: bounded client load.

    with postgres_database() as db, RedisServer(tmp_path) as redis, SimulatorThread("p") as p, \\
            SimulatorThread("f") as f:
        config = cluster_config(p.base_url, f.base_url, storage_url=db, shared_state=redis.shared_state())
        with replicas(tmp_path, config, 3) as (r1, r2, r3), LoadBalancer(tmp_path, [r1, r2, r3]) as lb:
            report = asyncio.run(steady_traffic(lb.url, rate=20, seconds=3))
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import aiohttp
import orjson
import yaml

from support.postgres import ADMIN_URL
from support.postgres import postgres_database as _postgres_database
from support.webhooks import SECRET

__all__ = [
    "ADMIN_URL",
    "CHAT",
    "CLUSTER_KEY",
    "HAPROXY_CFG",
    "LoadBalancer",
    "Outcome",
    "RedisServer",
    "Replica",
    "TrafficReport",
    "cluster_config",
    "free_port",
    "postgres_database",
    "replicas",
    "steady_traffic",
    "wait_until",
]

REPO = Path(__file__).resolve().parents[2]
HAPROXY_CFG = REPO / "deploy" / "haproxy.cfg"
CLUSTER_KEY = "cluster-test-client-key"
CHAT = {"model": "assistant", "messages": [{"role": "user", "content": "hello"}]}

# Bounds on every wait, so that a broken cluster fails a test instead of hanging it.
_READY_TIMEOUT_S = 60.0   # a replica imports, migrates the schema (under a lock, the others wait) and binds
_STOP_TIMEOUT_S = 30.0    # above the replicas' shutdown_grace (10 s in cluster_config)
_POLL_S = 0.05


def free_port() -> int:
    """A port nobody listens on now (the kernel's pick); the caller binds it soon after."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(predicate: Any, timeout: float, what: str) -> Any:
    """Polls `predicate` until it returns something truthy (returned), or fails naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} did not happen within {timeout:g} s")
        time.sleep(_POLL_S)


def _stop_process(process: subprocess.Popen[bytes], sig: signal.Signals, timeout: float) -> int:
    """Sends `sig` and waits; a process still alive after `timeout` is killed, so no test leaves one behind."""
    if process.poll() is None:
        process.send_signal(sig)
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise AssertionError(f"pid {process.pid} did not exit within {timeout:g} s of {sig.name}; killed") from None


# PostgreSQL: durable state shared by the replicas.

def postgres_database() -> contextlib.AbstractContextManager[str]:
    """A new, empty database's URL (`support.postgres`), named for the cluster tests."""
    return _postgres_database("releve_cluster")


# Redis: shared state. The test's own server, so stopping it harms nobody else.

class RedisServer:
    """`redis-server` on a free port of 127.0.0.1, in memory only; `stop()` then `start()` keeps the port.

    Each instance also has a key prefix of its own (`prefix`), as deployments sharing one Redis would.
    """

    def __init__(self, directory: Path, *, port: int | None = None) -> None:
        self.binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not Path(self.binary).exists():
            raise AssertionError("redis-server is missing: `make test` installs it (Debian package redis-server)")
        self.directory = directory / f"redis-{secrets.token_hex(3)}"
        self.directory.mkdir(parents=True)
        self.port = port or free_port()
        self.prefix = f"releve-test-{secrets.token_hex(4)}:"
        self.log_path = self.directory / "redis.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def shared_state(self, **extra: Any) -> dict[str, Any]:
        """The replicas' `shared_state` section for this server."""
        return {"url": self.url, "prefix": self.prefix, **extra}

    def start(self, timeout: float = 10.0) -> Self:
        """Starts the server (again) and returns once it answers PING."""
        if self.running:
            raise RuntimeError("redis-server is already running")
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--dir", str(self.directory), "--daemonize", "no", "--protected-mode", "yes"]
        with self.log_path.open("ab") as log:  # the child keeps its own copy of the descriptor
            self._process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        process = self._process
        wait_until(lambda: process.poll() is not None or self.ping(), timeout, f"redis-server on port {self.port}")
        if process.poll() is not None:
            raise AssertionError(f"redis-server exited with {process.returncode}: {self.log_path.read_text()}")
        return self

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> int | None:
        """SIGTERM, and waits: the replicas see Redis go away. The exit status (None if it was not running)."""
        if self._process is None:
            return None
        code = _stop_process(self._process, signal.SIGTERM, 10.0)
        self._process = None
        return code

    def kill(self) -> None:
        """SIGKILL: Redis vanishes mid-conversation, as when its machine fails."""
        if self._process is not None:
            _stop_process(self._process, signal.SIGKILL, 10.0)
            self._process = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


# Replicas: `releve up` processes.

class Replica:
    """One `releve up` process on its own port (kept across restarts, so HAProxy's address stays right)."""

    def __init__(self, directory: Path, config: Mapping[str, Any], *, name: str = "r1",
                 env: Mapping[str, str] | None = None) -> None:
        self.name = name
        self.port = free_port()
        self.directory = directory / name
        self.directory.mkdir(parents=True, exist_ok=True)
        server = {**config.get("server", {}), "listen": f"127.0.0.1:{self.port}"}
        self.config: dict[str, Any] = {**config, "server": server}
        self.config_path = self.directory / "releve.yaml"
        self.config_path.write_text(yaml.safe_dump(self.config, sort_keys=False))
        self.log_path = self.directory / "releve.log"
        self.env = {**os.environ, **(env or {})}
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        if self._process is None:
            raise RuntimeError(f"replica {self.name} is not running")
        return self._process.pid

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def spawn(self) -> Self:
        """Starts the process without waiting (several replicas start at once, then `wait_ready()` each)."""
        if self.running:
            raise RuntimeError(f"replica {self.name} is already running")
        with self.log_path.open("ab") as log:  # appended across restarts; the child keeps its own descriptor
            log.write(f"--- {self.name}: releve up on port {self.port}\n".encode())
            log.flush()
            self._process = subprocess.Popen(
                [sys.executable, "-m", "releve.cli", "up", "--config", str(self.config_path)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=self.env, cwd=self.directory)
        return self

    def wait_ready(self, timeout: float = _READY_TIMEOUT_S) -> Self:
        """Returns once GET /healthz answers 200; fails with the replica's log if it exits or takes too long."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                code = None if self._process is None else self._process.returncode
                raise AssertionError(f"replica {self.name} exited ({code}) before it was ready:\n{self.log()}")
            if self.healthz() == 200:
                return self
            time.sleep(_POLL_S)
        raise AssertionError(f"replica {self.name} not ready within {timeout:g} s:\n{self.log()}")

    def start(self, timeout: float = _READY_TIMEOUT_S) -> Self:
        return self.spawn().wait_ready(timeout)

    def healthz(self) -> int | None:
        """GET /healthz's status, None when nothing answers."""
        try:
            with urllib.request.urlopen(f"{self.url}/healthz", timeout=1.0) as response:
                status: int = response.status
                return status
        except urllib.error.HTTPError as exc:
            return exc.code
        except OSError:
            return None

    def health(self) -> dict[str, Any]:
        """GET /healthz's JSON: status (ok, degraded), the replica's id, whether it leads, shared state, breakers."""
        health: dict[str, Any] = orjson.loads(self.get("/healthz"))
        return health

    def get(self, path: str, timeout: float = 5.0) -> bytes:
        with urllib.request.urlopen(f"{self.url}{path}", timeout=timeout) as response:
            body: bytes = response.read()
            return body

    def requests_counted(self, route: str | None = None) -> int:
        """Client requests this process answered since it started: `releve_requests_total` summed over labels.

        The gateway has no per-replica response header; each replica's own counters say which one served.
        """
        total = 0
        for line in self.get("/metrics").decode().splitlines():
            if line.startswith("releve_requests_total{") and (route is None or f'route="{route}"' in line):
                total += round(float(line.rpartition(" ")[2]))
        return total

    def terminate(self) -> None:
        """Sends SIGTERM without waiting (to stop several replicas at once; `stop()` then waits)."""
        if self.running:
            self._process.send_signal(signal.SIGTERM)  # type: ignore[union-attr]

    def stop(self, timeout: float = _STOP_TIMEOUT_S) -> int | None:
        """SIGTERM: the replica drains in-flight requests and exits. Its exit status (None if not running)."""
        if self._process is None:
            return None
        code = _stop_process(self._process, signal.SIGTERM, timeout)
        self._process = None
        return code

    def kill(self) -> None:
        """SIGKILL: the replica vanishes, in-flight requests with it, as when its machine fails."""
        if self._process is not None:
            _stop_process(self._process, signal.SIGKILL, 10.0)
            self._process = None

    def restart(self, timeout: float = _READY_TIMEOUT_S) -> Self:
        """Stops (gracefully) if running, then starts again on the same port and waits until ready."""
        self.stop()
        return self.start(timeout)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.stop()
        else:
            self.kill()


@contextlib.contextmanager
def replicas(directory: Path, config: Mapping[str, Any], count: int = 3,
             env: Mapping[str, str] | None = None) -> Iterator[list[Replica]]:
    """`count` replicas of one configuration, started together (they race on the migration lock, as in
    production) and stopped at the end."""
    started = [Replica(directory, config, name=f"r{number}", env=env) for number in range(1, count + 1)]
    try:
        for replica in started:
            replica.spawn()
        for replica in started:
            replica.wait_ready()
        yield started
    finally:
        for replica in started:  # SIGTERM to all first: they drain in parallel
            replica.terminate()
        for replica in started:
            replica.stop()


# HAProxy: deploy/haproxy.cfg, unchanged.

class LoadBalancer:
    """`haproxy -f deploy/haproxy.cfg -db` in front of three replicas, on a free port of 127.0.0.1."""

    def __init__(self, directory: Path, backends: Sequence[Replica | str], *, config: Path = HAPROXY_CFG) -> None:
        if len(backends) != 3:
            raise ValueError(f"{config.name} names three servers; got {len(backends)} backends")
        self.binary = shutil.which("haproxy") or "/usr/sbin/haproxy"
        if not Path(self.binary).exists():
            raise AssertionError("haproxy is missing: `make test` installs it (Debian package haproxy)")
        self.config = config
        self.port = free_port()
        self.log_path = directory / "haproxy.log"
        addresses = [b.address if isinstance(b, Replica) else b for b in backends]
        self.env = {**os.environ, "RELEVE_LB_BIND": f"127.0.0.1:{self.port}",
                    **{f"RELEVE_REPLICA_{number}": address for number, address in enumerate(addresses, 1)}}
        self.env.pop("RELEVE_LB_USER", None)  # runs as the test's own user: no privileges to drop
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self, timeout: float = 10.0) -> Self:
        """Starts HAProxy and returns once it answers (its checks start with every server up)."""
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen([self.binary, "-f", str(self.config), "-db"], stdout=log,
                                             stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=self.env)
        process = self._process

        def answers() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"haproxy exited with {process.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1.0) as response:
                    return bool(response.status == 200)
            except OSError:
                return False

        wait_until(answers, timeout, "HAProxy answering /healthz")
        return self

    def wait_for_log(self, text: str, timeout: float = 10.0) -> None:
        """Waits until HAProxy's log says `text`, e.g. "Server replicas/r2 is DOWN" or "… is UP"."""
        wait_until(lambda: text in self.log(), timeout, f"HAProxy logging {text!r}")

    def stop(self) -> None:
        if self._process is not None:
            _stop_process(self._process, signal.SIGTERM, 10.0)
            self._process = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


# Configuration.

def cluster_config(primary_url: str, fallback_url: str, *, storage_url: str,
                   shared_state: Mapping[str, Any] | None = None, monitor: Mapping[str, Any] | None = None,
                   webhooks: Sequence[str] = (), **extra: Any) -> dict[str, Any]:
    """A replica's releve.yaml as a dict: route `assistant` fails over primary → fallback (two simulators).

    The monitor is quick (ticks of 200 ms, a 3 s window) so incidents open within seconds, and sends no
    probes unless `monitor` asks (tests count upstream requests). `webhooks` get the shared test secret.
    `extra` replaces top-level sections. `server.listen` is set by each `Replica`.
    """
    config: dict[str, Any] = {
        "server": {"shutdown_grace": "10s"},
        "clients": {"tests": {"key": CLUSTER_KEY}},
        "storage": {"url": storage_url},
        "breaker": {"consecutive_failures": 3, "open_for": "500ms"},
        "providers": {
            "primary": {"kind": "openai-compatible", "base_url": primary_url},
            "fallback": {"kind": "openai-compatible", "base_url": fallback_url},
        },
        "routes": {"assistant": {"targets": [{"provider": "primary", "model": "p-model"},
                                             {"provider": "fallback", "model": "f-model"}],
                                 "attempt_timeout": "1s", "timeout": "10s", "retries": 0}},
        "processes": {"customer-support": {"name": {"fr": "Support client", "en": "Customer support"},
                                           "routes": ["assistant"]}},
        "monitor": {"evaluate_every": "200ms", "window": "3s", "min_samples": 3, "down_after": 3, "up_after": 5,
                    "resolve_after": "2s", "flush_every": "1s", "probes": {"request": "none"},
                    **(monitor or {})},
        "webhooks": [{"url": url, "secret": SECRET} for url in webhooks],
    }
    if shared_state is not None:
        config["shared_state"] = dict(shared_state)
    config.update(extra)
    return config


# Client traffic.

@dataclass(frozen=True)
class Outcome:
    """One request: when it left (time.monotonic()), how long it took, what came back."""

    index: int
    sent_at: float
    elapsed: float
    status: int                     # 0: no HTTP answer (connection error or timeout), see `error`
    headers: Mapping[str, str]      # lower-case names
    error: str = ""


@dataclass
class TrafficReport:
    outcomes: list[Outcome] = field(default_factory=list)

    def statuses(self) -> Counter[int]:
        return Counter(outcome.status for outcome in self.outcomes)

    def failures(self) -> list[Outcome]:
        """Every request a client would call failed: anything but 200."""
        return [outcome for outcome in self.outcomes if outcome.status != 200]

    def header_values(self, name: str) -> Counter[str]:
        return Counter(outcome.headers.get(name, "") for outcome in self.outcomes)

    def between(self, start: float, end: float) -> list[Outcome]:
        """Requests sent in [start, end) (time.monotonic() values)."""
        return [outcome for outcome in self.outcomes if start <= outcome.sent_at < end]


_MAX_REQUESTS = 10_000


async def steady_traffic(url: str, *, rate: float, seconds: float, body: Mapping[str, Any] = CHAT,
                         path: str = "/v1/chat/completions", key: str = CLUSTER_KEY,
                         headers: Mapping[str, str] | None = None, timeout: float = 30.0) -> TrafficReport:
    """`rate` requests per second for `seconds`, sent on schedule whether or not earlier ones have answered
    (open loop, as independent clients would), each bounded by `timeout`. Returns once all have ended.

    Run it as a task to act on the cluster meanwhile:
    `traffic = asyncio.create_task(steady_traffic(...)); await asyncio.to_thread(r2.stop); report = await traffic`.
    """
    count = max(1, round(rate * seconds))
    if count > _MAX_REQUESTS:
        raise ValueError(f"{count} requests: keep cluster tests under {_MAX_REQUESTS}")
    payload = orjson.dumps(dict(body))
    sent_headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}", **(headers or {})}
    report = TrafficReport()

    async def one(session: aiohttp.ClientSession, index: int) -> Outcome:
        sent_at = time.monotonic()
        try:
            async with session.post(f"{url}{path}", data=payload, headers=sent_headers) as response:
                await response.read()
                return Outcome(index, sent_at, time.monotonic() - sent_at, response.status,
                               {name.lower(): value for name, value in response.headers.items()})
        except (aiohttp.ClientError, TimeoutError) as exc:
            return Outcome(index, sent_at, time.monotonic() - sent_at, 0, {}, f"{type(exc).__name__}: {exc}")

    connector = aiohttp.TCPConnector(limit=200)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=timeout)) as session:
        started = time.monotonic()
        tasks = []
        for index in range(count):
            await asyncio.sleep(max(0.0, started + index / rate - time.monotonic()))
            tasks.append(asyncio.create_task(one(session, index)))
        report.outcomes = list(await asyncio.gather(*tasks))
    return report
