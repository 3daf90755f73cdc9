"""`releve audit verify|export`: check the tamper-evident audit log, or hand it to an auditor as JSONL.

The key that signs the chain's head comes from `RELEVE_AUDIT_KEY`, never from a flag (it would land in
shell history). Exit codes: 0 intact, 1 broken (the first broken entry and why are printed), 2 the log or
the file could not be read.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from releve.cli import ConfigOption, _load, app, console

if TYPE_CHECKING:
    from datetime import datetime

    from releve.protect import VerifyResult

audit_app = typer.Typer(help="Verify and export the tamper-evident audit log.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


def _fail(message: str) -> typer.Exit:
    console.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(2)


def _report(result: VerifyResult, *, key_set: bool, what: str) -> None:
    span = f", seq {result.first_seq}..{result.last_seq}" if result.first_seq is not None else ""
    if result.partial:
        typer.echo(f"note: an export made with --since: checked from seq {result.first_seq}'s prev_hash on; "
                   f"entries before seq {result.first_seq} are not covered")
    if not key_set:
        typer.echo(f"note: the head's signature is not checked: {what} (set RELEVE_AUDIT_KEY to check it)")
    if result.ok:
        signed = ", head signature verified" if result.signed else ""
        typer.echo(f"intact: {result.checked} entries{span}{signed}")
        return
    first = result.first
    typer.echo(f"BROKEN at {first}")
    if len(result.problems) > 1:
        typer.echo(f"{len(result.problems)} problems in {result.checked} entries checked:")
        for problem in result.problems:
            typer.echo(f"  {problem}")
    raise typer.Exit(1)


@audit_app.command()
def verify(
    file: Annotated[Path | None, typer.Option("--file", help="Check this JSONL export on its own (no store).")] = None,
    config: ConfigOption = Path("releve.yaml"),
) -> None:
    """Check that no entry of the audit log was edited, deleted, inserted, reordered or cut from its end."""
    from releve.errors import StoreError
    from releve.protect import audit_key, verify_export, verify_store
    from releve.store import Store

    key = audit_key(os.environ)
    if file is not None:
        try:
            with file.open("rb") as lines:
                result = verify_export(lines, key=key)
        except OSError as exc:
            raise _fail(f"cannot read {file}: {exc.strerror or exc}") from None
        _report(result, key_set=key is not None, what="RELEVE_AUDIT_KEY is not set")
        return
    cfg = _load(config)
    store = Store(cfg.storage.url)
    try:
        store.open()
        result = verify_store(store, key=key)
    except StoreError as exc:
        raise _fail(str(exc)) from None
    finally:
        store.close()
    _report(result, key_set=key is not None, what="RELEVE_AUDIT_KEY is not set")


def _since(text: str) -> datetime:
    from datetime import UTC, datetime

    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise _fail(f"--since {text!r}: give a date (2026-11-01) or an ISO 8601 time") from None
    return when.replace(tzinfo=UTC) if when.utcoffset() is None else when


@audit_app.command()
def export(
    since: Annotated[str | None, typer.Option(
        help="From the first entry written on or after this date or time (UTC unless it says otherwise); such an "
             "export is verifiable from its first entry's prev_hash on.")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write here rather than to standard output.")] = None,
    config: ConfigOption = Path("releve.yaml"),
) -> None:
    """Write the audit log as JSONL: each entry with its hashes, then the head and its signature."""
    from releve.errors import StoreError
    from releve.protect import export_lines
    from releve.store import Store

    start = _since(since) if since is not None else None
    cfg = _load(config)
    store = Store(cfg.storage.url)
    entries = 0
    try:
        store.open()
        if out is None:
            for line in export_lines(store, since=start):
                typer.echo(line, nl=False)
                entries += 1
        else:
            with out.open("wb") as handle:
                for line in export_lines(store, since=start):
                    handle.write(line)
                    entries += 1
    except StoreError as exc:
        raise _fail(str(exc)) from None
    except OSError as exc:
        raise _fail(f"cannot write {out}: {exc.strerror or exc}") from None
    finally:
        store.close()
    where = f" to {out}" if out is not None else ""
    note = "; verifiable from its first entry's prev_hash on" if start is not None else ""
    typer.echo(f"exported {entries - 1} entries and the head{where}{note}", err=True)
