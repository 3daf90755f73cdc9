"""`releve drill demo` (`make drill`): a game day end to end on the simulators, nothing to configure.

Two simulators stand in for OpenAI and Claude, a gateway runs in front of
them with an admin key and fast detection, and the built-in provider-outage
drill runs against it over HTTP exactly as it would against production.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from releve.gateway import logging_to_file

from ._chaos import DrillRunner
from ._chaos_report import write_drill
from ._experiment import builtin_experiment

__all__ = ["DEMO_ROUTE", "drill_demo_config", "print_drill_outcome", "run_drill_demo"]

DEMO_ROUTE = "support-assistant"
DEMO_PRIMARY = "openai/gpt-4o-mini"
_ADMIN_KEY = "drill-demo-admin-key"
_CLIENT_KEY = "drill-demo-client-key"


def drill_demo_config(primary: str, fallback: str) -> dict[str, Any]:
    """Simulators' root URLs in; the monitor's timings are short so detection fits in the drill."""
    return {
        "server": {"listen": "127.0.0.1:0", "access_log": False},
        "clients": {"drill": {"key": _CLIENT_KEY}},
        "admins": {"ops": {"key": _ADMIN_KEY}},
        "storage": {"url": "sqlite://"},
        "breaker": {"consecutive_failures": 3, "open_for": "3s"},
        "monitor": {"evaluate_every": "250ms", "window": "10s", "down_after": 3, "up_after": 4, "flush_every": "1s",
                    "resolve_after": "5s", "probes": {"request": "none"}},
        "processes": {"customer-support": {
            "name": {"fr": "Support client", "en": "Customer support"}, "routes": [DEMO_ROUTE], "users": 40,
            "hourly_cost": 35, "revenue_per_hour": 1200, "rto": "15m"}},
        "providers": {
            "openai": {"kind": "openai-compatible", "base_url": f"{primary}/v1", "region": "us"},
            "claude": {"kind": "anthropic", "base_url": fallback, "api_key": "demo", "region": "eu"},
        },
        "routes": {DEMO_ROUTE: {
            "strategy": "priority", "timeout": "10s", "attempt_timeout": "1s", "retries": 1,
            "targets": [{"provider": "openai", "model": "gpt-4o-mini"},
                        {"provider": "claude", "model": "claude-haiku"}],
        }},
    }


def run_drill_demo(*, duration: float = 20.0, rate: float = 10.0, out: Path | None = None,
                   console: Console | None = None) -> int:
    """Run the provider-outage drill on simulators; 0 when the hypothesis held. Prints the report's path."""
    # Imported here: the app may one day import this package (backups), and the app must not import itself.
    from releve.app import build_app
    from releve.config import config_from_mapping
    from releve.server import GatewayThread
    from releve.sim import SimulatorThread

    console = console or Console()
    out = out or Path(tempfile.gettempdir()) / "releve-drill"
    log_path = Path(tempfile.gettempdir()) / "releve-drill.log"
    with logging_to_file(log_path), SimulatorThread("openai-sim") as primary, SimulatorThread("claude-sim") as fallback:
        config = config_from_mapping(drill_demo_config(primary.url, fallback.url))
        app = build_app(config)
        with GatewayThread(app) as gateway:
            console.print(f"[bold]Relève game day[/]: gateway on {gateway.url} (status page: {gateway.url}/status)")
            console.print(f"  simulators: openai {primary.url}, claude {fallback.url}; gateway log: {log_path}")
            experiment = builtin_experiment("provider-outage", target=DEMO_PRIMARY, route=DEMO_ROUTE,
                                            duration=duration, rate=rate)
            store = app.outages.store
            runner = DrillRunner(experiment, url=gateway.url, admin_key=_ADMIN_KEY, client_key=_CLIENT_KEY,
                                 config=config, progress=lambda line: console.print(line, highlight=False),
                                 notifications=_outbox_reader(store.notifications))
            journal = asyncio.run(runner.run())
    paths = write_drill(journal, out)
    print_drill_outcome(console, journal, paths)
    return int(journal["exit_code"])


def _outbox_reader(read: Callable[[str], Sequence[tuple[Any, str]]]) -> Callable[[str], list[dict[str, Any]]]:
    def notifications(incident_id: str) -> list[dict[str, Any]]:
        return [{"channel": item.channel, "event": str(item.event), "state": state, "attempts": item.attempts}
                for item, state in read(incident_id)]
    return notifications


def print_drill_outcome(console: Console, journal: Mapping[str, Any], paths: Mapping[str, Path]) -> None:
    """The verdict, the measured times, and where the journal and report are."""
    held = journal.get("status") == "completed"
    colour = "green" if held else "red"
    reason = journal.get("reason") or "the hypothesis held"
    console.print(f"[bold {colour}]{journal.get('status', 'aborted')}[/]: {reason}", highlight=False)
    failover = journal.get("failover_seconds")
    detection = (journal.get("detection") or {}).get("detection_seconds")
    requests = journal.get("requests") or {}
    if requests:
        console.print(f"  failover {_secs(failover)}, detection {_secs(detection)}; during the faults: "
                      f"{requests['primary']} primary, {requests['fallback']} fallback, {requests['degraded']} "
                      f"degraded, {requests['failed']} failed", highlight=False)
    cost = journal.get("cost") or {}
    if cost.get("computed"):
        console.print(f"  estimated cost avoided: {cost['avoided_per_hour']:,.2f} {cost['currency']} per hour of "
                      "such an outage", highlight=False)
    console.print(f"[bold]Journal[/] {paths['json']}", highlight=False)
    console.print(f"[bold]Report[/]  {paths['html']}", highlight=False)


def _secs(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


