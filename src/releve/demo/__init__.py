"""`releve demo`: a scripted outage that a newcomer can watch end to end.

Three simulators stand in for OpenAI, Mistral and a local model; the gateway
runs in front of them on the embedded defaults; steady client traffic flows
while the primary is broken (errors, then a hang) and brought back.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import orjson
from rich.console import Console
from rich.live import Live

from releve.app import build_app
from releve.config import Config, config_from_mapping
from releve.gateway import logging_to_file
from releve.impact import IncidentReport, incident_report, write_report
from releve.server import GatewayThread
from releve.sim import SimulatorThread
from releve.store import Incident, IncidentStatus, Store

from ._scenario import demo_config, steps
from ._traffic import Tally, run_traffic
from ._view import live_view, summary

__all__ = ["run_demo"]

PRIMARY = "openai/gpt-4o-mini"


def run_demo(*, duration: float = 36.0, rate: float = 40.0, console: Console | None = None,
             report_dir: Path | None = None) -> int:
    """Run the scripted outage; 0 when no client request failed. Incident reports go to `report_dir`."""
    console = console or Console()
    log_path = Path(tempfile.gettempdir()) / "releve-demo.log"
    report_dir = report_dir or Path(tempfile.gettempdir()) / "releve-demo"
    with logging_to_file(log_path):
        return _run(duration, rate, console, log_path, report_dir)


def _run(duration: float, rate: float, console: Console, log_path: Path, report_dir: Path) -> int:
    sims = [SimulatorThread(name) for name in ("openai-sim", "claude-sim", "local-sim")]
    for sim in sims:
        sim.start()
    try:
        primary, secondary, tertiary = (sim.url for sim in sims)
        config = config_from_mapping(demo_config(primary, secondary, tertiary, duration=duration))
        app = build_app(config)
        with GatewayThread(app) as gateway:
            console.print(f"[bold]Relève demo[/]: gateway on {gateway.url}/v1 (metrics: {gateway.url}/metrics)")
            console.print(f"  status page  {gateway.url}/status   (JSON: {gateway.url}/api/v2/summary.json)")
            for sim in sims:
                console.print(f"  simulator {sim.name:<12} {sim.url}")
            console.print(f"  gateway log: {log_path}")
            incidents = IncidentWatch(app.outages.store)
            tally, elapsed = asyncio.run(_drive(gateway.url, sims[0], duration, rate, console, incidents))
            reports = _reports(gateway, config, incidents, report_dir)
    finally:
        for sim in sims:
            sim.stop()
    console.print(summary(tally, PRIMARY, elapsed))
    for report, paths in reports:
        console.print(f"[bold]Incident report[/] {report.incident.id} ({report.incident.status.value}): "
                      f"cost incurred {report.loss:,.2f} {report.currency}, avoided by failover "
                      f"{report.avoided:,.2f} {report.currency}")
        for path in paths.values():
            console.print(f"  {path}")
    if tally.failed:
        console.print(f"[bold red]{tally.failed} client request(s) failed.[/]")
        return 1
    console.print("[bold green]No client request failed:[/] the fallbacks took over and the primary came back.")
    return 0


class IncidentWatch:
    """What the status page would say, read from the gateway's store: one journal line per new update."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._seen: set[str] = set()
        self.opened: list[Incident] = []

    async def news(self) -> list[str]:
        found = await asyncio.to_thread(self._store.incidents, limit=5, maintenance=False)
        lines = []
        for incident in reversed(found):
            for update in reversed(incident.updates):
                if update.id in self._seen:
                    continue
                self._seen.add(update.id)
                if update.status is IncidentStatus.INVESTIGATING:
                    self.opened.append(incident)
                    detected = incident.detection_seconds
                    lines.append(f"incident {incident.id} opened: {incident.name.en}"
                                 + (f" (detected {detected:.1f} s after the first failure)" if detected else ""))
                    lines.append(f"    {update.body.en}")
                elif update.status is IncidentStatus.RESOLVED:
                    recovery = incident.recovery_seconds
                    lines.append(f"incident {incident.id} resolved"
                                 + (f" (recovered {recovery:.1f} s after the failure began)" if recovery else ""))
                else:
                    lines.append(f"incident {incident.id} {update.status.value}: {update.body.en}")
        return lines


def _reports(gateway: GatewayThread, config: Config, incidents: IncidentWatch,
             directory: Path) -> list[tuple[IncidentReport, dict[str, Path]]]:
    """The post-incident report of each incident the demo opened, in English, written while the store is open."""
    # The monitor writes traffic every flush_every: wait one flush so the report counts the last requests.
    time.sleep(config.monitor.flush_every + config.monitor.evaluate_every)
    written = []
    for incident in incidents.opened:
        report = incident_report(gateway.app.outages.store, config, incident.id, now=datetime.now(UTC))
        written.append((report, write_report(report, directory, "en")))
    return written


async def _drive(url: str, primary: SimulatorThread, duration: float, rate: float,
                 console: Console, incidents: IncidentWatch) -> tuple[Tally, float]:
    tally = Tally()
    journal: list[str] = []
    script = steps(duration)
    breakers: dict[str, str] = {}
    started = time.monotonic()
    traffic = asyncio.create_task(run_traffic(url, rate, duration, tally))
    next_step = 0
    title = script[0].title
    live = console.is_terminal
    last_print = -1.0
    async with aiohttp.ClientSession() as session:
        with Live(console=console, refresh_per_second=8, transient=False) if live else _NoLive() as view:
            while not traffic.done():
                elapsed = time.monotonic() - started
                while next_step < len(script) and script[next_step].at <= elapsed:
                    step = script[next_step]
                    # The admin call is blocking urllib: keep it off this loop.
                    await asyncio.to_thread(primary.set_faults, *step.faults)
                    title = step.title
                    journal.append(f"{elapsed:5.1f}s  {step.title}")
                    if not live:
                        console.print(f"[cyan]{elapsed:5.1f}s  {step.title}[/]")
                    next_step += 1
                for line in await incidents.news():
                    journal.append(f"{elapsed:5.1f}s  {line}")
                    if not live:
                        console.print(f"[magenta]{elapsed:5.1f}s  {line}[/]")
                changed = await _poll_breakers(session, url, breakers)
                for label, state in changed:
                    journal.append(f"{elapsed:5.1f}s  breaker {label}: {state}")
                    if not live:
                        console.print(f"{elapsed:5.1f}s  breaker {label}: {state}")
                if live:
                    view.update(live_view(elapsed, duration, title, tally, breakers, journal, url))
                elif elapsed - last_print >= 3.0:
                    last_print = elapsed
                    console.print(f"{elapsed:5.1f}s  sent {tally.sent}, ok {tally.ok}, failed {tally.failed}, "
                                  f"last second: {dict(tally.rate_last_second())}")
                await asyncio.sleep(0.125)
            await traffic
    return tally, time.monotonic() - started


async def _poll_breakers(session: aiohttp.ClientSession, url: str, breakers: dict[str, str]) -> list[tuple[str, str]]:
    async with session.get(f"{url}/healthz") as response:
        targets = orjson.loads(await response.read())["targets"]
    changed = [(label, info["breaker"]) for label, info in targets.items() if breakers.get(label) != info["breaker"]]
    known = bool(breakers)
    breakers.update({label: info["breaker"] for label, info in targets.items()})
    return changed if known else []




class _NoLive:
    """Stands in for rich.live.Live when the output is not a terminal (CI, a pipe)."""

    def __enter__(self) -> _NoLive:
        return self

    def __exit__(self, *args: object) -> None:
        return None

    def update(self, renderable: object) -> None:
        return None
