"""`releve db upgrade|status`: the store's schema, and who holds the lead role.

Every `releve up` migrates at start-up too, under a lock, so replicas starting together migrate
once; `releve db upgrade` does it ahead of a rolling deployment, from a deploy job. Exit codes:
0 done, 2 the store could not be used.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer

from releve.cli import ConfigOption, _load, app, console

db_app = typer.Typer(help="The store's schema (migrations) and the lead lease.", no_args_is_help=True)
app.add_typer(db_app, name="db")


def _store(config: Path):  # type: ignore[no-untyped-def]  # returns releve.store.Store, opened and migrated
    from releve.errors import StoreError
    from releve.store import Store

    store = Store(_load(config).storage.url)
    try:
        store.open()
    except StoreError as exc:
        console.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from None
    return store


@db_app.command()
def upgrade(config: ConfigOption = Path("releve.yaml")) -> None:
    """Bring the store's schema to this version of Relève (safe to run while replicas are up)."""
    store = _store(config)
    try:
        console.print(f"{store!r}: schema at revision {store.schema_revision()}", highlight=False)
    finally:
        store.close()


@db_app.command()
def status(config: ConfigOption = Path("releve.yaml")) -> None:
    """Print the schema revision and which replica holds the lead role (and until when)."""
    from releve.cluster import LEAD_LEASE

    store = _store(config)
    try:
        console.print(f"schema revision: {store.schema_revision()}", highlight=False)
        holder = store.lease_holder(LEAD_LEASE)
        if holder is None:
            console.print("lead: nobody has taken the lead role yet", highlight=False)
        else:
            name, token, expires = holder
            state = "held" if expires > datetime.now(UTC) else "free (expired)"
            console.print(f"lead: {name} (token {token}), {state} until {expires.isoformat(timespec='seconds')}",
                          highlight=False)
    finally:
        store.close()
