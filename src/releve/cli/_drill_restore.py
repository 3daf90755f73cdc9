"""`releve drill restore`: restore the newest backup into a scratch directory and measure the RTO and RPO achieved.

Prints each process's targets against what the drill achieved and records the drill in the audit log. A failed
drill or a missed target is sent to the configured webhooks (`X-Releve-Event: drill.failed`, signed like
incident webhooks) and Apprise URLs. Exit codes: 0 every check passed and every target met, 1 the drill failed
or a target was missed, 2 the configuration could not be used.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from releve.cli import ConfigOption, _load, console
from releve.cli._backup import EndpointOption, SourceOption, age_text, audit_sink, destination, now, progress_bar
from releve.cli._drill import drill_app


def _target(value: float | None) -> str:
    from releve.config import format_duration

    return "—" if value is None else format_duration(value)


def _achieved(seconds: float) -> str:
    """Milliseconds for a quick restore, seconds for a slow one, hours and minutes for a backup's age."""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.1f} s" if seconds < 120 else age_text(seconds)


def _verdict(met: bool | None) -> str:
    return {True: "[green]met[/]", False: "[bold red]missed[/]", None: "no target"}[met]


@drill_app.command("restore")
def drill_restore(
    source: SourceOption = None,
    scratch: Annotated[Path | None, typer.Option(
        help="Where the scratch directory is made (default: the system's temporary directory).")] = None,
    endpoint_url: EndpointOption = None,
    config: ConfigOption = Path("releve.yaml"),
) -> None:
    """Restore the newest backup into a scratch directory and check it: RTO and RPO achieved against targets."""
    from rich.console import Console
    from rich.table import Table

    from releve.recovery import channel_alert, restore_drill

    cfg = _load(config)
    where = destination(source, endpoint_url, cfg)

    def undelivered(channel: str, reason: str) -> None:
        console.print(f"[yellow]warning:[/] alert not delivered to {channel}: {reason}", highlight=False,
                      soft_wrap=True)

    with progress_bar() as progress:
        result = restore_drill(cfg, where, environ=os.environ, wall=now, scratch=scratch, progress=progress,
                               alert=channel_alert(cfg, wall=now, on_error=undelivered), audit=audit_sink(cfg),
                               actor="cli")
    out = Console(width=200, highlight=False)
    if result.error is not None:
        out.print(f"[bold red]restore drill FAILED[/]: {result.error}")
        raise typer.Exit(1)
    restored = result.restore
    rto = result.rto_seconds or 0.0
    rpo = result.rpo_seconds or 0.0
    out.print(f"restore drill of backup {result.backup_id} from {result.destination}")
    if restored is not None:
        out.print(f"  checksums verified, integrity {restored.integrity}, {sum(restored.row_counts.values())} rows "
                  f"in {len(restored.row_counts)} tables as in the manifest")
    out.print(f"  RTO achieved: {_achieved(rto)} (the restore's duration)")
    out.print(f"  RPO achieved: {_achieved(rpo)} (the newest backup's age)")
    if result.processes:
        table = Table(title="Recovery targets", title_justify="left")
        for column in ("process", "RTO target", "RTO achieved", "", "RPO target", "RPO achieved", ""):
            table.add_column(column)
        for objectives in result.processes:
            table.add_row(objectives.process, _target(objectives.rto), _achieved(rto), _verdict(objectives.rto_met),
                          _target(objectives.rpo), _achieved(rpo), _verdict(objectives.rpo_met))
        out.print(table)
    for missed in result.missed:
        out.print(f"[bold red]missed[/] {missed}")
    if not result.ok:
        raise typer.Exit(1)
    out.print("[green]restore drill passed[/]")
