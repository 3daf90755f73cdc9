"""`releve subject export|erase`: answer a data subject's access, portability or erasure request (GDPR).

The subject is the id that requests carried in `x-releve-subject`. An erasure is recorded in the audit
log (signed with `RELEVE_AUDIT_KEY` when set) by the id's SHA-256 only, and asks for confirmation
unless `--yes`: it cannot be undone. Exit codes: 0 done, 1 not confirmed, 2 the store could not be used.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from releve.cli import ConfigOption, _load, app, console

subject_app = typer.Typer(help="Export or erase what Relève stores about a data subject (GDPR).",
                          no_args_is_help=True)
app.add_typer(subject_app, name="subject")

SubjectArgument = Annotated[str, typer.Argument(help="The data subject's id, as sent in x-releve-subject.")]


def _fail(message: str) -> typer.Exit:
    console.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(2)


@subject_app.command("export")
def subject_export(
    subject: SubjectArgument,
    out: Annotated[Path | None, typer.Option("--out", help="Write here rather than to standard output.")] = None,
    config: ConfigOption = Path("releve.yaml"),
) -> None:
    """Write everything Relève stores about a subject as JSON (access and portability, Art. 15 and 20)."""
    from datetime import UTC, datetime

    import orjson

    from releve.errors import StoreError
    from releve.protect import export_subject
    from releve.store import ContentKeys, Store

    cfg = _load(config)
    try:
        store = Store(cfg.storage.url, keys=ContentKeys.from_environ(os.environ))
    except ValueError as exc:
        console.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from None
    try:
        store.open()
        exported = export_subject(store, subject, at=datetime.now(UTC))
    except (StoreError, ValueError) as exc:
        raise _fail(str(exc)) from None
    finally:
        store.close()
    document = orjson.dumps(exported, option=orjson.OPT_INDENT_2) + b"\n"
    if out is None:
        typer.echo(document.decode(), nl=False)
    else:
        try:
            out.write_bytes(document)
        except OSError as exc:
            raise _fail(f"cannot write {out}: {exc.strerror or exc}") from None
    found = ", ".join(f"{len(rows)} {kind}" for kind, rows in exported["data"].items())
    typer.echo(f"exported {found}" + (f" to {out}" if out is not None else ""), err=True)


@subject_app.command("erase")
def subject_erase(
    subject: SubjectArgument,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    config: ConfigOption = Path("releve.yaml"),
) -> None:
    """Erase everything Relève stores about a subject, from the database files too (Art. 17); audited."""
    from datetime import UTC, datetime

    from releve.errors import StoreError
    from releve.protect import AuditLog, audit_key, erase_subject
    from releve.store import Store

    cfg = _load(config)
    if not yes and not typer.confirm(f"Erase everything stored about {subject!r}? This cannot be undone."):
        typer.echo("nothing erased", err=True)
        raise typer.Exit(1)
    store = Store(cfg.storage.url)
    try:
        store.open()
        log = AuditLog(store, key=audit_key(os.environ), wall=lambda: datetime.now(UTC))
        counts = erase_subject(store, subject, at=datetime.now(UTC), audit=log.append_now, actor="cli")
    except (StoreError, ValueError) as exc:
        raise _fail(str(exc)) from None
    finally:
        store.close()
    typer.echo(f"erased {sum(counts.values())} rows: " + ", ".join(f"{table} {n}" for table, n in counts.items()))
