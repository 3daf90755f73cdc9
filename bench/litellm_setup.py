"""LiteLLM's proxy as a comparison point: its own venv, a pinned release, its fastest fair settings.

LiteLLM is the usual answer to "put a gateway in front of several AI
providers", so Relève's hot path is measured against it on the same machine
and the same upstream. It lives in `.bench-venv-litellm/` (gitignored), made
on the first run and reused after (only installed when missing or at another
version), so a normal `make bench` does not reinstall it.

The pin: `litellm[proxy]==1.108.0`. The registry lists newer releases, but
the newer ones checked do not install: their `[proxy]` extra pins packages
the registry does not serve (1.110.2 needs `litellm-proxy==1.110.2`, 1.109.3
needs `litellm-proxy-extras==0.4.113`, 1.108.10 to 1.108.14 need
`litellm-enterprise==0.1.79.post2`). 1.108.0 installs, and it is the release
line DESIGN.md quotes.

Fastest fair settings (also written into RESULTS.md):
- no database (no DATABASE_URL), no master key (LiteLLM refuses to start
  without one unless told `LITELLM_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY`,
  which matches Relève's `auth: none`), no callbacks or loggers;
- `disable_spend_logs`, `disable_error_logs`, `disable_spend_updates`,
  `disable_reset_budget`, no background health checks;
- `LITELLM_LOCAL_MODEL_COST_MAP=True` (no fetch of the cost map at start),
  `LITELLM_LOG=ERROR`, `LITELLM_MODE=PRODUCTION`, telemetry off;
- uvicorn with uvloop (LiteLLM's default) and httptools (installed beside it),
  `--num_workers 1`;
- the same route shape as Relève's: one model group `bench` with the healthy
  upstream first (`order: 1`) and the spare second (`order: 2`), one retry,
  and a cooldown (LiteLLM's circuit breaker) after 5 failures for 30 s.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["FAIR_SETTINGS", "LITELLM_VERSION", "LitellmInstall", "command", "ensure_litellm", "env", "write_config"]

LITELLM_VERSION = "1.108.0"
INSTALL_TIMEOUT_S = 1200.0

# Written into RESULTS.md, so a reader can check the comparison is fair.
FAIR_SETTINGS = [
    f"litellm[proxy]=={LITELLM_VERSION} in its own venv (.bench-venv-litellm), plus httptools for uvicorn",
    "`litellm --config FILE --num_workers 1`: uvicorn with uvloop and httptools, one process",
    "no database (DATABASE_URL unset), no master key "
    "(LITELLM_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY=true, like Relève's `auth: none`)",
    "no callbacks; general_settings: disable_spend_logs, disable_error_logs, disable_spend_updates, "
    "disable_reset_budget, background_health_checks false",
    "LITELLM_LOCAL_MODEL_COST_MAP=True (no remote fetch), LITELLM_LOG=ERROR, LITELLM_MODE=PRODUCTION, telemetry off",
    "route: model group `bench` = upstream (order 1) then spare (order 2); num_retries 1; "
    "cooldown after 5 failures for 30 s (its breaker)",
]


@dataclass(frozen=True)
class LitellmInstall:
    venv: Path
    version: str

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def executable(self) -> Path:
        return self.venv / "bin" / "litellm"


def installed_version(venv: Path) -> str | None:
    """The litellm version in `venv`, read from package metadata (no import of litellm itself)."""
    python = venv / "bin" / "python"
    if not python.exists():
        return None
    try:
        out = subprocess.run(
            [str(python), "-c", "import importlib.metadata as m; print(m.version('litellm'))"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def ensure_litellm(
    venv: Path, log_path: Path, install: bool = True, say: Callable[[str], None] = print
) -> LitellmInstall:
    """Return the LiteLLM install in `venv`, installing the pinned release when it is missing.

    Raises RuntimeError with a readable reason when it cannot be had.
    """
    version = installed_version(venv)
    if version == LITELLM_VERSION and (venv / "bin" / "litellm").exists():
        return LitellmInstall(venv=venv, version=version)
    if not install:
        raise RuntimeError(
            f"LiteLLM {LITELLM_VERSION} not installed in {venv} (found {version or 'nothing'}); "
            "run without --no-install to install it"
        )
    say(f"installing litellm[proxy]=={LITELLM_VERSION} into {venv} (a few minutes, once; log: {log_path})")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    steps: list[list[str]] = []
    if not (venv / "bin" / "python").exists():
        steps.append([sys.executable, "-m", "venv", str(venv)])
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check"]
    steps.append([*pip, "--upgrade", "pip"])
    steps.append([*pip, f"litellm[proxy]=={LITELLM_VERSION}", "httptools"])
    with open(log_path, "ab") as log:
        for step in steps:
            remaining = INSTALL_TIMEOUT_S - (time.monotonic() - start)
            try:
                proc = subprocess.run(
                    step, stdout=log, stderr=subprocess.STDOUT, timeout=max(remaining, 1), check=False
                )
            except subprocess.TimeoutExpired:
                raise RuntimeError(
                    f"LiteLLM install timed out after {INSTALL_TIMEOUT_S:.0f}s (log: {log_path})"
                ) from None
            if proc.returncode != 0:
                raise RuntimeError(f"LiteLLM install step failed: {' '.join(step)} (log: {log_path})")
    version = installed_version(venv)
    if version != LITELLM_VERSION:
        raise RuntimeError(f"LiteLLM install ended with version {version!r}, wanted {LITELLM_VERSION}")
    say(f"LiteLLM {version} installed in {time.monotonic() - start:.0f}s")
    return LitellmInstall(venv=venv, version=version)


def write_config(path: Path, primary_base: str, spare_base: str) -> Path:
    """Write the proxy config: the healthy upstream first, the spare second (like Relève's route)."""
    text = f"""\
# Generated by bench/litellm_setup.py: LiteLLM's fastest fair settings for the bench.
model_list:
  - model_name: bench
    litellm_params:
      model: openai/m
      api_base: {primary_base}
      api_key: sk-bench
      order: 1
  - model_name: bench
    litellm_params:
      model: openai/m
      api_base: {spare_base}
      api_key: sk-bench
      order: 2
router_settings:
  routing_strategy: simple-shuffle
  num_retries: 1
  allowed_fails: 5
  cooldown_time: 30
litellm_settings:
  set_verbose: false
  json_logs: false
  drop_params: true
  request_timeout: 30
  telemetry: false
  callbacks: []
  success_callback: []
  failure_callback: []
general_settings:
  disable_spend_logs: true
  disable_error_logs: true
  disable_spend_updates: true
  disable_reset_budget: true
  background_health_checks: false
"""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def env() -> dict[str, str | None]:
    """Environment for the proxy: no DB, no remote cost map, quiet logs."""
    return {
        "DATABASE_URL": None,
        "LITELLM_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY": "true",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_LOG": "ERROR",
        "LITELLM_MODE": "PRODUCTION",
        "LITELLM_TELEMETRY": "False",
        "STORE_MODEL_IN_DB": "False",
        "DISABLE_ADMIN_UI": "True",
        "NO_DOCS": "True",
        "PYTHONUNBUFFERED": "1",
    }


def command(install: LitellmInstall, config: Path, port: int) -> list[str]:
    return [
        str(install.executable),
        "--config",
        str(config),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--num_workers",
        "1",
    ]
