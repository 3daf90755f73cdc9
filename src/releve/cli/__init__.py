"""The `releve` command line. It reads files and the environment, and passes them in.

Heavy imports stay inside the commands, so `releve --help` is instant.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from releve.errors import ConfigError

app = typer.Typer(help="Relève: keep AI features running when a provider fails.", no_args_is_help=True,
                  add_completion=False, pretty_exceptions_enable=False)
console = Console(stderr=True)

ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="Path to releve.yaml.",
                                            envvar="RELEVE_CONFIG")]


def _load(path: Path):  # type: ignore[no-untyped-def]  # returns releve.config.Config
    from releve.config import load_config

    try:
        return load_config(path, os.environ)
    except ConfigError as exc:
        console.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from None


@app.command()
def up(config: ConfigOption = Path("releve.yaml")) -> None:
    """Run the gateway."""
    from releve.errors import StoreError
    from releve.runner import run

    cfg = _load(config)
    try:
        run(cfg)
    except (StoreError, ValueError) as exc:  # ValueError: a malformed key in the environment
        console.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from None


@app.command()
def check(config: ConfigOption = Path("releve.yaml"),
          strict: Annotated[bool, typer.Option(help="Exit non-zero when there are warnings.")] = False) -> None:
    """Validate releve.yaml and say where the plan is weak."""
    from releve.config import Severity, findings

    cfg = _load(config)
    out = Console()
    table = Table(title=f"Routes in {config}", title_justify="left")
    for column in ("route", "strategy", "targets (in order)", "timeout", "attempt", "retries"):
        table.add_column(column)
    for name, route in cfg.routes.items():
        targets = ", ".join(f"{t.provider}/{t.model}" + (f" ×{t.weight:g}" if route.strategy == "weighted" else "")
                            for t in route.targets)
        table.add_row(name, route.strategy.value, targets, f"{route.timeout:g}s", f"{route.attempt_timeout:g}s",
                      str(route.retries))
    out.print(table)
    found = findings(cfg)
    warnings = [f for f in found if f.severity is Severity.WARNING]
    for finding in found:
        colour = "yellow" if finding.severity is Severity.WARNING else "blue"
        out.print(f"[{colour}]{finding.severity.value}[/] {finding.where}: {finding.message}", highlight=False)
    out.print(f"[green]valid[/]: {len(cfg.providers)} providers, {len(cfg.routes)} routes, "
              f"{len(warnings)} warning(s)")
    if strict and warnings:
        raise typer.Exit(1)


@app.command()
def simulate(
    name: Annotated[str, typer.Option(help="Name shown in the simulator's answers.")] = "sim",
    port: Annotated[int, typer.Option(help="Port to listen on (127.0.0.1).")] = 9001,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    fault: Annotated[list[str] | None, typer.Option(
        help='A start-up fault as JSON, e.g. \'{"kind": "status", "status": 503, "probability": 0.3}\'. '
             "Repeatable. Change faults at run time with POST /_faults.")] = None,
    api_key: Annotated[str | None, typer.Option(help="Require this bearer key.")] = None,
) -> None:
    """Run the provider simulator: OpenAI's API with fault injection."""
    import asyncio

    from releve.sim import Fault, run_simulator

    try:
        faults = [Fault.from_cli(text) for text in fault or []]
    except ValueError as exc:
        console.print(f"[bold red]error:[/] --fault: {exc}")
        raise typer.Exit(2) from None

    def ready(bound: int) -> None:
        console.print(f"simulator [bold]{name}[/] on http://{host}:{bound}/v1 "
                      f"(faults: POST /_faults, stats: GET /_stats)")

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_simulator(name, host, port, api_key=api_key, faults=faults, ready=ready))


@app.command()
def demo(
    duration: Annotated[float, typer.Option(help="Seconds of traffic.")] = 36.0,
    rate: Annotated[float, typer.Option(help="Client requests per second.")] = 40.0,
    reports: Annotated[Path | None, typer.Option(help="Where the incident reports go (default: a temporary "
                                                      "directory, printed at the end).")] = None,
) -> None:
    """A scripted outage to watch: three simulators, the gateway, traffic, a broken primary, an incident report."""
    from releve.demo import run_demo

    code = run_demo(duration=duration, rate=rate, report_dir=reports)
    raise typer.Exit(code)


# Command groups register themselves on `app` when imported.
from releve.cli import _incident  # noqa: E402, F401, I001
from releve.cli import _audit  # noqa: E402, F401
from releve.cli import _backup  # noqa: E402, F401
from releve.cli import _db  # noqa: E402, F401
from releve.cli import _drill  # noqa: E402, F401
from releve.cli import _keys  # noqa: E402, F401
from releve.cli import _plan  # noqa: E402, F401
from releve.cli import _report  # noqa: E402, F401
from releve.cli import _status  # noqa: E402, F401
from releve.cli import _subject  # noqa: E402, F401


def main() -> None:
    sys.exit(app())


if __name__ == "__main__":
    main()
