"""`releve backup`, `releve backup list`, `releve restore`: verified backups of Relève's own store.

DEST is a directory, `file:///path` or `s3://bucket/prefix` (credentials the usual AWS way; `--endpoint-url` or
`AWS_ENDPOINT_URL` for MinIO and other S3-compatible services); it defaults to the configuration's `backup.to`,
else `./backups`. Keys come from the environment only (`RELEVE_BACKUP_KEY`, base64 of 32 bytes, e.g. from
`releve keys generate`; or `RELEVE_BACKUP_PASSPHRASE`), never from a flag that would land in shell history.
Each backup and restore is recorded in the audit log. Exit codes: 0 done, 1 the backup or restore failed or
was refused, 2 the configuration could not be used.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from releve.cli import ConfigOption, _load, app, console

if TYPE_CHECKING:
    from releve.config import Config
    from releve.recovery import AuditSink, Destination, Progress

backup_app = typer.Typer(help="Back up Relève's store while it serves (`releve backup`), or list backups.",
                         invoke_without_command=True)
app.add_typer(backup_app, name="backup")

DEFAULT_DEST = "backups"
DestOption = Annotated[str | None, typer.Option(
    "--to", help="Directory, file:///path or s3://bucket/prefix (default: backup.to in the configuration, else "
                 "./backups).")]
SourceOption = Annotated[str | None, typer.Option(
    "--from", help="Where the backups are: directory, file:///path or s3://bucket/prefix (default: backup.to in "
                   "the configuration, else ./backups).")]
EndpointOption = Annotated[str | None, typer.Option(
    "--endpoint-url", help="An S3-compatible service's URL (default: backup.endpoint_url, else AWS_ENDPOINT_URL).")]


def now() -> datetime:
    return datetime.now(UTC)


def fail(message: str, code: int = 1) -> typer.Exit:
    console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)  # paths stay whole
    return typer.Exit(code)


def size_text(size: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


def destination(where: str | None, endpoint_url: str | None, cfg: Config | None) -> Destination:
    from releve.recovery import BackupError, open_destination

    chosen = where or (cfg.backup.to if cfg is not None else DEFAULT_DEST)
    configured = cfg.backup.endpoint_url if cfg is not None else None
    try:
        return open_destination(chosen, endpoint_url=endpoint_url or configured)
    except BackupError as exc:
        raise fail(str(exc), 2) from None


def optional_config(path: Path, needed: bool) -> Config | None:
    """The configuration, or None when it is only wanted for defaults and the file is not there."""
    if not needed and not path.exists():
        return None
    loaded: Config = _load(path)
    return loaded


def audit_sink(cfg: Config) -> AuditSink:
    """Record in the configured store's audit log, opening it per entry (a restore may just have replaced it).

    A SQLite store that does not exist is not created for the sake of one entry: the entry is skipped, with a note.
    """
    from releve.errors import StoreError
    from releve.protect import AuditLog, audit_key
    from releve.recovery import BackupError
    from releve.store import Store

    def record(kind: str, actor: str, data: dict[str, Any]) -> None:
        from releve.recovery import store_location

        try:
            database = store_location(cfg.storage.url)[1]
        except BackupError:
            database = None
        if database is not None and not database.exists():
            console.print(f"note: not recorded in the audit log: {database} does not exist", highlight=False,
                          soft_wrap=True)
            return
        store = Store(cfg.storage.url)
        try:
            store.open()
            AuditLog(store, key=audit_key(os.environ), wall=now).append_now(kind, actor, data)
        except (StoreError, ValueError) as exc:
            console.print(f"[yellow]warning:[/] not recorded in the audit log: {exc}", highlight=False,
                          soft_wrap=True)
        finally:
            store.close()

    return record


@contextmanager
def progress_bar() -> Iterator[Progress]:
    """A Rich progress display on stderr for long work; one line per step, gone when done."""
    from rich.progress import BarColumn, DownloadColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

    tasks: dict[str, TaskID] = {}
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                  TimeElapsedColumn(), console=console, transient=True) as bar:
        def update(what: str, done: int, total: int | None) -> None:
            if what not in tasks:
                tasks[what] = bar.add_task(what, total=total)
            bar.update(tasks[what], completed=done, total=total)

        yield update


@backup_app.callback()
def backup(
    ctx: typer.Context,
    to: DestOption = None,
    endpoint_url: EndpointOption = None,
    part_size: Annotated[str, typer.Option(help="Cut the compressed snapshot into parts of at most this size.")]
    = "64MiB",
    config: ConfigOption = Path("releve.yaml"),
) -> None:
    """Take a consistent backup of the store while it serves: compressed, checksummed, encrypted when
    RELEVE_BACKUP_KEY or RELEVE_BACKUP_PASSPHRASE is set; the manifest is written last."""
    if ctx.invoked_subcommand is not None:
        return
    from releve.config import parse_size
    from releve.recovery import BackupError, create_backup

    try:
        parts = parse_size(part_size)
    except ValueError as exc:
        raise fail(f"--part-size: {exc}", 2) from None
    cfg = _load(config)
    where = destination(to, endpoint_url, cfg)
    try:
        with progress_bar() as progress:
            manifest = create_backup(cfg, where, environ=os.environ, wall=now, part_size=parts,
                                     audit=audit_sink(cfg), actor="cli", progress=progress)
    except BackupError as exc:
        raise fail(str(exc)) from None
    rows = sum(manifest.row_counts.values())
    sealed = "encrypted (AES-256-GCM)" if manifest.encrypted else "not encrypted"
    typer.echo(f"backup {manifest.id}: {size_text(manifest.size)} in {len(manifest.files)} part(s), {sealed}, "
               f"{manifest.duration_seconds:.2f} s")
    typer.echo(f"  {manifest.dialect} snapshot {size_text(manifest.snapshot_size)}, schema {manifest.schema_version}, "
               f"{rows} rows in {len(manifest.row_counts)} tables")
    typer.echo(f"  at {where.describe(manifest.id)}")


@backup_app.command("list")
def backup_list(
    to: DestOption = None,
    endpoint_url: EndpointOption = None,
    config: ConfigOption = Path("releve.yaml"),
) -> None:
    """List the complete backups (newest last); backups that did not finish are named apart, never offered."""
    from rich.console import Console
    from rich.table import Table

    from releve.recovery import BackupError, check_backups

    cfg = optional_config(config, needed=False)
    where = destination(to, endpoint_url, cfg)
    try:
        checks = check_backups(where)
    except BackupError as exc:
        raise fail(str(exc)) from None
    complete = sorted((c.manifest for c in checks if c.valid and c.manifest is not None),
                      key=lambda m: (m.created_at, m.id))
    if not complete:
        typer.echo(f"no complete backup in {where.describe()}")
    else:
        table = Table(title=f"Backups in {where.describe()}", title_justify="left")
        for column in ("id", "taken (UTC)", "age", "size", "encrypted", "schema", "rows"):
            table.add_column(column)
        moment = now()
        for manifest in complete:
            age = (moment - manifest.created_at).total_seconds()
            table.add_row(manifest.id, f"{manifest.created_at.astimezone(UTC):%Y-%m-%d %H:%M:%S}", age_text(age),
                          size_text(manifest.size), "yes" if manifest.encrypted else "no",
                          manifest.schema_version or "?", str(sum(manifest.row_counts.values())))
        Console(width=200).print(table)
    for check in checks:
        if not check.valid:
            typer.echo(f"incomplete, not restorable: {check.id}: {check.problem}")


@backup_app.command("prune")
def backup_prune(
    to: DestOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would be deleted, delete nothing.")] = False,
    endpoint_url: EndpointOption = None,
    config: ConfigOption = Path("releve.yaml"),
) -> None:
    """Delete backups past backup.keep (the newest of each of the last N hours, days and weeks; the newest backup is
    always kept) and backups that never finished, once a day old."""
    from releve.recovery import BackupError, prune_backups

    cfg = _load(config)
    where = destination(to, endpoint_url, cfg)
    keep = cfg.backup.keep
    try:
        result = prune_backups(where, hourly=keep.hourly, daily=keep.daily, weekly=keep.weekly, now=now(),
                               dry_run=dry_run, audit=audit_sink(cfg), actor="cli")
    except BackupError as exc:
        raise fail(str(exc)) from None
    verb = "would delete" if dry_run else "deleted"
    for backup_id in result.removed:
        typer.echo(f"{verb} {backup_id}")
    for backup_id in result.incomplete:
        typer.echo(f"{verb} {backup_id} (incomplete)")
    typer.echo(f"kept {len(result.kept)} backup(s) in {where.describe()} (keep: {keep.hourly} hourly, {keep.daily} "
               f"daily, {keep.weekly} weekly); {verb} {len(result.removed) + len(result.incomplete)}")


def age_text(seconds: float) -> str:
    """`2d 3h`, `5m 12s`: the two largest units are enough to judge an age."""
    whole = max(0, round(seconds))
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    shown = [f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")) if n][:2]
    return " ".join(shown) or "0s"


@app.command()
def restore(
    backup_id: Annotated[str, typer.Argument(help="The backup's id (see `releve backup list`), or `latest`.")],
    source: SourceOption = None,
    to: Annotated[Path | None, typer.Option(
        "--to", help="Restore to this file (default: the configured SQLite store; a PostgreSQL backup is written "
                     "here as a pg_dump archive for pg_restore).")] = None,
    force: Annotated[bool, typer.Option(
        "--force", help="Replace the target when it exists; a safety copy <db>.before-restore-<id> is kept first. "
                        "Stop `releve up` before restoring over its store.")] = False,
    endpoint_url: EndpointOption = None,
    config: ConfigOption = Path("releve.yaml"),
) -> None:
    """Restore a backup: every checksum is verified (and the backup decrypted) before anything is replaced, then
    PRAGMA integrity_check and the row counts must match the manifest."""
    from releve.recovery import RestoreError, restore_backup

    cfg = _load(config)
    where = destination(source, endpoint_url, cfg)
    try:
        with progress_bar() as progress:
            result = restore_backup(cfg, backup_id, dest=where, to=to, force=force, environ=os.environ, wall=now,
                                    audit=audit_sink(cfg), actor="cli", progress=progress)
    except RestoreError as exc:
        raise fail(str(exc)) from None
    manifest = result.manifest
    rows = sum(result.row_counts.values())
    typer.echo(f"restored backup {manifest.id} (taken {manifest.created_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC) "
               f"to {result.target} in {result.seconds:.2f} s")
    typer.echo(f"  checksums verified, integrity {result.integrity}, {rows} rows in {len(result.row_counts)} tables "
               f"as in the manifest")
    if result.safety_copy is not None:
        typer.echo(f"  what was there before is kept as {result.safety_copy}")
    if manifest.dialect == "postgresql":
        typer.echo(f"  load it with: pg_restore --clean --if-exists --no-owner --dbname URL {result.target}")


# `releve drill restore` lives in its own module; it registers itself when imported.
from releve.cli import _drill_restore  # noqa: E402, F401
