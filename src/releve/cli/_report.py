"""`releve report`: a post-incident or period report, as HTML, PDF and Markdown, in French and/or English."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from releve.cli import ConfigOption, _load, app, console

_LANGUAGES = {"fr": ("fr",), "en": ("en",), "both": ("fr", "en")}


def _fail(message: str) -> typer.Exit:
    console.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(2)


@app.command()
def report(
    incident_id: Annotated[str | None, typer.Argument(help="The incident to report on.")] = None,
    period: Annotated[str | None, typer.Option(help="Instead of an incident: the period ending now, e.g. 30d.")] = None,
    out: Annotated[Path, typer.Option(help="Directory the documents are written to.")] = Path("reports"),
    lang: Annotated[str, typer.Option(help="fr, en or both (stem.fr.* and stem.en.*).")] = "both",
    config: ConfigOption = Path("releve.yaml"),
) -> None:
    """Write a post-incident report (INCIDENT_ID) or a period report (--period 30d): HTML, PDF, Markdown."""
    from datetime import UTC, datetime, timedelta

    from releve.config import parse_duration
    from releve.errors import StoreError
    from releve.impact import UnknownIncident, incident_report, period_report, write_report
    from releve.store import Store

    if (incident_id is None) == (period is None):
        raise _fail("give an incident id or --period (e.g. --period 30d), not both" if incident_id
                    else "give an incident id or --period (e.g. --period 30d)")
    if lang not in _LANGUAGES:
        raise _fail(f"--lang {lang!r}: choose fr, en or both")
    span = None
    if period is not None:
        try:
            span = timedelta(seconds=parse_duration(period))
        except ValueError as exc:
            raise _fail(f"--period: {exc}") from None
        if not span:
            raise _fail("--period must be longer than 0")
    cfg = _load(config)
    now = datetime.now(UTC)
    store = Store(cfg.storage.url)
    try:
        store.open()
        if span is not None:
            found: Any = period_report(store, cfg, now - span, now, now=now)
        else:
            assert incident_id is not None
            found = incident_report(store, cfg, incident_id, now=now)
    except (UnknownIncident, StoreError) as exc:
        raise _fail(str(exc)) from None
    finally:
        store.close()
    paths = [path for language in _LANGUAGES[lang] for path in write_report(found, out, language).values()]
    _print(found, paths, cfg.currency)


def _print(found: Any, paths: list[Path], currency: str) -> None:
    """The written paths, then the headline figures per process."""
    stdout = Console()
    for path in paths:
        stdout.print(str(path), highlight=False, soft_wrap=True)
    table = Table(title="Cost per process" + (" (so far)" if getattr(found, "so_far", False) else ""),
                  title_justify="left")
    table.add_column("process")
    for column in ("requests", "failed", "availability", f"incurred ({currency})", f"avoided ({currency})"):
        table.add_column(column, justify="right")
    for process in found.processes:
        cost = process.cost
        table.add_row(process.key, f"{cost.counts.total:,}", f"{cost.counts.failed:,}", f"{cost.availability:.2%}",
                      f"{cost.loss:,.2f}", f"{cost.avoided:,.2f}")
    table.add_row("total", "", "", "", f"{found.loss:,.2f}", f"{found.avoided:,.2f}", style="bold")
    stdout.print(table)
