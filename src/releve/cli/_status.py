"""`releve status`: components, open incidents and what they cost so far, read from the gateway's store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from releve.cli import ConfigOption, _load, app, console

_STYLE = {"operational": "green", "degraded_performance": "yellow", "partial_outage": "dark_orange",
          "major_outage": "bold red", "under_maintenance": "blue"}


@app.command()
def status(
    config: ConfigOption = Path("releve.yaml"),
    everything: Annotated[bool, typer.Option("--all", help="Also routes and targets, not only processes.")] = False,
) -> None:
    """Component statuses and open incidents with their cost so far, per process."""
    from datetime import UTC, datetime

    from releve.errors import StoreError
    from releve.impact import live_costs
    from releve.store import ComponentKind, Store

    cfg = _load(config)
    store = Store(cfg.storage.url)
    try:
        store.open()
        components = store.components()
        costs = live_costs(store, cfg, datetime.now(UTC))
    except StoreError as exc:
        console.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from None
    finally:
        store.close()
    out = Console()
    table = Table(title="Components", title_justify="left")
    for column in ("component", "kind", "status", "since (UTC)"):
        table.add_column(column)
    for component in components:
        if component.kind is ComponentKind.PROCESS or everything or (component.public and not cfg.processes):
            table.add_row(component.name.en, component.kind.value,
                          Text(component.status.value, style=_STYLE.get(component.status.value, "")),
                          component.updated_at.strftime("%Y-%m-%d %H:%M:%S"))
    out.print(table)
    if not costs:
        out.print("[green]No open incident.[/]")
        return
    money = cfg.currency
    incidents = Table(title="Open incidents: cost so far", title_justify="left")
    for column in ("incident", "status", "process", "requests ok / fallback / degraded / deferred / failed", "lost",
                   "avoided"):
        incidents.add_column(column, justify="right" if column in ("lost", "avoided") else "left")
    for cost in costs:
        incident = cost.incident
        rows = cost.processes or ()
        if not rows:
            incidents.add_row(incident.id, incident.status.value, "-", "-", "-", "-")
        for item in rows:
            counts = item.counts
            incidents.add_row(f"{incident.id} {incident.name.en}", incident.status.value, item.process,
                              f"{counts.served} / {counts.fallback} / {counts.degraded} / {counts.deferred} / "
                              f"{counts.failed}",
                              f"{item.loss:,.2f} {money}", f"{item.avoided:,.2f} {money}")
    out.print(incidents)
    out.print("Cost model: docs/impact.md. Traffic reaches the store every monitor.flush_every (10 s).",
              style="dim")
