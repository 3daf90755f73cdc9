"""`releve incident`: open, update, resolve and list incidents, schedule maintenance, on the gateway's store."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from releve.cli import ConfigOption, _load, app, console

# --- incidents by hand ----------------------------------------------------------------------------

incident_app = typer.Typer(help="Open, update and resolve incidents; schedule maintenance.", no_args_is_help=True)
app.add_typer(incident_app, name="incident")

ComponentOption = Annotated[list[str], typer.Option("--component", help="A process or route name. Repeatable.")]
MessageOption = Annotated[str | None, typer.Option(help="Said the same in French and English.")]
MessageFr = Annotated[str | None, typer.Option("--message-fr", help="The French text.")]
MessageEn = Annotated[str | None, typer.Option("--message-en", help="The English text.")]


def _bilingual(same: str | None, fr: str | None, en: str | None, what: str) -> dict[str, str] | str | None:
    if fr or en:
        if not (fr and en):
            console.print(f"[bold red]error:[/] give both --{what}-fr and --{what}-en, or --{what} alone")
            raise typer.Exit(2)
        return {"fr": fr, "en": en}
    return same


def _incident_command(config: Path, action: Callable[[Any, Any, Any], Any]) -> None:
    """Open the store, run `action(config, store, channels)`, deliver what it queued, print the incident."""
    import asyncio

    from releve.admin import incident_json
    from releve.errors import InvalidRequest, StoreError
    from releve.notify import Channels, Notifier
    from releve.store import Store

    cfg = _load(config)
    store = Store(cfg.storage.url)
    try:
        store.open()
        channels = Channels.from_config(cfg)
        incident = action(cfg, store, channels.ids)
        if len(channels):
            async def deliver() -> int:
                notifier = Notifier(store, channels)
                await notifier.start(background=False)
                try:
                    return await notifier.drain_once()
                finally:
                    await notifier.close()

            sent = asyncio.run(deliver())
            console.print(f"notifications handled: {sent}")
    except (InvalidRequest, StoreError) as exc:
        console.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from None
    finally:
        store.close()
    if incident is not None:
        data = incident_json(incident)
        Console().print_json(data=data)


@incident_app.command("open")
def incident_open(
    name: Annotated[str | None, typer.Option(help="Title, same in both languages.")] = None,
    name_fr: Annotated[str | None, typer.Option("--name-fr")] = None,
    name_en: Annotated[str | None, typer.Option("--name-en")] = None,
    message: MessageOption = None, message_fr: MessageFr = None, message_en: MessageEn = None,
    component: ComponentOption = [],  # noqa: B006 - Typer reads the default, never mutates it
    impact: Annotated[str, typer.Option(help="none, minor, major or critical.")] = "major",
    status: Annotated[str, typer.Option(help="investigating, identified or monitoring.")] = "investigating",
    config: ConfigOption = Path("releve.yaml"),
) -> None:
    """Open an incident by hand; subscribers are notified."""
    from datetime import UTC, datetime

    from releve.admin import component_ids, parse_components, parse_text
    from releve.store import Impact, IncidentStatus

    def act(cfg: Any, store: Any, channels: Any) -> Any:
        return store.open_incident(
            name=parse_text(_bilingual(name, name_fr, name_en, "name"), "name"),
            body=parse_text(_bilingual(message, message_fr, message_en, "message"), "message"),
            impact=_choice(Impact, impact, "impact"), components=parse_components(component, component_ids(cfg)),
            affected=(), at=datetime.now(UTC), automatic=False, status=_choice(IncidentStatus, status, "status"),
            channels=channels)

    _incident_command(config, act)


def _choice(kind: Any, value: str, option: str) -> Any:
    try:
        return kind(value)
    except ValueError:
        console.print(f"[bold red]error:[/] --{option} {value!r}: choose from {', '.join(k.value for k in kind)}")
        raise typer.Exit(2) from None


@incident_app.command("update")
def incident_update(
    incident_id: Annotated[str, typer.Argument(help="The incident's id.")],
    message: MessageOption = None, message_fr: MessageFr = None, message_en: MessageEn = None,
    status: Annotated[str | None, typer.Option(help="New status (default: unchanged).")] = None,
    config: ConfigOption = Path("releve.yaml"),
) -> None:
    """Post an update to an open incident."""
    _update(config, incident_id, _bilingual(message, message_fr, message_en, "message"), status, resolve=False)


@incident_app.command("resolve")
def incident_resolve(
    incident_id: Annotated[str, typer.Argument(help="The incident's id.")],
    message: MessageOption = None, message_fr: MessageFr = None, message_en: MessageEn = None,
    config: ConfigOption = Path("releve.yaml"),
) -> None:
    """Resolve an incident (or complete a maintenance)."""
    text = _bilingual(message, message_fr, message_en, "message") or {
        "fr": "L'incident est résolu.", "en": "This incident has been resolved."}
    _update(config, incident_id, text, None, resolve=True)


def _update(config: Path, incident_id: str, message: Any, status: str | None, *, resolve: bool) -> None:
    from datetime import UTC, datetime

    from releve.admin import parse_text
    from releve.errors import StoreError
    from releve.store import IncidentStatus

    def act(cfg: Any, store: Any, channels: Any) -> Any:
        current = store.incident(incident_id)
        if current is None:
            raise StoreError(f"no incident {incident_id!r}")
        if resolve:
            new = IncidentStatus.COMPLETED if current.is_maintenance else IncidentStatus.RESOLVED
        else:
            new = _choice(IncidentStatus, status, "status") if status else current.status
        store.add_update(incident_id, status=new, body=parse_text(message, "message"), at=datetime.now(UTC),
                         channels=channels)
        return store.incident(incident_id)

    _incident_command(config, act)


@incident_app.command("schedule")
def incident_schedule(
    starts: Annotated[str, typer.Option(help="ISO 8601, e.g. 2026-12-01T22:00:00Z.")],
    ends: Annotated[str, typer.Option(help="ISO 8601.")],
    name: Annotated[str | None, typer.Option(help="Title, same in both languages.")] = None,
    name_fr: Annotated[str | None, typer.Option("--name-fr")] = None,
    name_en: Annotated[str | None, typer.Option("--name-en")] = None,
    message: MessageOption = None, message_fr: MessageFr = None, message_en: MessageEn = None,
    component: ComponentOption = [],  # noqa: B006
    config: ConfigOption = Path("releve.yaml"),
) -> None:
    """Schedule a maintenance window: its components show `under_maintenance` while it lasts."""
    from datetime import UTC, datetime

    from releve.admin import component_ids, parse_components, parse_text, parse_time
    from releve.errors import InvalidRequest

    def act(cfg: Any, store: Any, channels: Any) -> Any:
        start, end = parse_time(starts, "starts"), parse_time(ends, "ends")
        if end <= start:
            raise InvalidRequest("--ends must be after --starts")
        return store.schedule_maintenance(
            name=parse_text(_bilingual(name, name_fr, name_en, "name"), "name"),
            body=parse_text(_bilingual(message, message_fr, message_en, "message"), "message"),
            components=parse_components(component, component_ids(cfg)), starts=start, ends=end,
            at=datetime.now(UTC), channels=channels)

    _incident_command(config, act)


@incident_app.command("list")
def incident_list(
    all_: Annotated[bool, typer.Option("--all", help="Include resolved incidents.")] = False,
    config: ConfigOption = Path("releve.yaml"),
) -> None:
    """Incidents with their detection and recovery times."""
    from releve.store import Store

    cfg = _load(config)
    store = Store(cfg.storage.url)
    store.open()
    try:
        found = store.incidents(limit=100, unresolved=not all_)
    finally:
        store.close()
    table = Table(title="Incidents", title_justify="left")
    table.add_column("id", no_wrap=True)
    for column in ("status", "impact", "name", "opened (UTC)", "detected in", "recovered in"):
        table.add_column(column)
    for incident in found:
        detect, recover = incident.detection_seconds, incident.recovery_seconds
        table.add_row(incident.id, incident.status.value, incident.impact.value, incident.name.en,
                      incident.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                      "-" if detect is None else f"{detect:.1f}s", "-" if recover is None else f"{recover:.1f}s")
    Console().print(table)

