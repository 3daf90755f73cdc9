"""Restoring a backup: everything is verified before anything in place is touched.

Order: the manifest (and, for an encrypted backup, the key and the manifest's signature); every part present
with its size; every part's SHA-256; then decryption and decompression into a temporary file beside the target,
checked against the snapshot's own SHA-256; then `PRAGMA integrity_check`, the row counts and the alembic
revision against the manifest. Only then is the file moved into place with `os.replace` (atomic on one file
system). A refused backup raises `RestoreError` naming the file and the mismatch.

Over live data (the target exists) a restore needs `force`, and first takes the database's exclusive lock (so
that no gateway has it open: stop `releve up` before restoring over its store) and keeps a consistent safety copy
`<db>.before-restore-<id>`. PostgreSQL: the verified `pg_dump` archive is written to `to`; loading it over a live
database is left to `pg_restore` by hand (the restore drill loads it into a scratch database).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import shutil
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import zstandard

from releve.config import Config
from releve.protect import AuditKind

from ._backup import (
    AuditSink,
    Progress,
    count_postgres,
    count_sqlite,
    libpq,
    list_backups,
    os_reason,
    sqlalchemy_url,
    store_location,
)
from ._backup_format import MANIFEST, BackupError, BackupKey, Manifest, RestoreError
from ._destinations import Destination, open_destination

__all__ = ["RestoreResult", "restore_backup", "restore_into_scratch_database"]

_READ = 1 << 20


@dataclass(frozen=True, slots=True)
class RestoreResult:
    """What a restore did and how long each step took (seconds)."""

    manifest: Manifest
    target: Path                      # the restored SQLite file, or the verified pg_dump archive
    safety_copy: Path | None          # what was in place before, when something was
    integrity: str                    # "ok", or how a PostgreSQL archive was checked
    row_counts: Mapping[str, int]
    fetched: int                      # bytes read from the destination
    seconds: float
    phases: Mapping[str, float]       # verify (fetch + checksums), unpack (decrypt + decompress), check, swap
    restored_at: datetime

    @property
    def backup_id(self) -> str:
        return self.manifest.id


def _manifest(destination: Destination, backup_id: str) -> Manifest:
    if backup_id == "latest":
        found = list_backups(destination)
        if not found:
            raise RestoreError(f"no complete backup in {destination.describe()}")
        return found[-1]
    try:
        manifest = Manifest.from_json(destination.read(backup_id, MANIFEST))
    except FileNotFoundError:
        if backup_id in destination.ids():
            raise RestoreError(f"backup {backup_id} has no {MANIFEST}: it did not finish, not restorable") from None
        raise RestoreError(f"no backup {backup_id} in {destination.describe()}") from None
    except BackupError as exc:
        raise RestoreError(f"backup {backup_id}: {exc}") from None
    if manifest.id != backup_id:
        raise RestoreError(f"{MANIFEST} in {destination.describe(backup_id)} names another backup ({manifest.id})")
    return manifest


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(_READ):
            digest.update(chunk)
    return digest.hexdigest()


def _verify_parts(destination: Destination, manifest: Manifest, workdir: Path,
                  progress: Progress | None) -> list[Path]:
    """Every part present, of the right size and SHA-256; local paths to them, in order."""
    where = destination.describe(manifest.id)
    stored = destination.sizes(manifest.id)
    for part in manifest.files:
        size = stored.get(part.name)
        if size is None:
            raise RestoreError(f"{part.name}: missing from {where}: the backup is incomplete")
        if size != part.size:
            raise RestoreError(f"{part.name}: {size} bytes, the manifest says {part.size}: truncated or replaced")
    paths: list[Path] = []
    done = 0
    for part in manifest.files:
        try:
            path = destination.fetch(manifest.id, part.name, workdir)
        except FileNotFoundError:
            raise RestoreError(f"{part.name}: missing from {where}: the backup is incomplete") from None
        except BackupError as exc:
            raise RestoreError(str(exc)) from None
        actual = _sha256(path)
        if actual != part.sha256:
            raise RestoreError(f"{part.name}: SHA-256 {actual[:16]}… does not match the manifest's "
                               f"{part.sha256[:16]}…: the file is corrupted")
        paths.append(path)
        done += part.size
        if progress is not None:
            progress("verifying checksums", done, manifest.size)
    return paths


def _unpack(manifest: Manifest, parts: list[Path], key: BackupKey | None, out: Path,
            progress: Progress | None) -> None:
    """Decrypt and decompress the parts into `out`, checked end to end against the snapshot's SHA-256."""
    decompressor = zstandard.ZstdDecompressor().decompressobj()
    digest = hashlib.sha256()
    written = 0
    with out.open("wb") as sink:
        for part, path in zip(manifest.files, parts, strict=True):
            stored = path.read_bytes()
            chunk = key.open(stored, backup_id=manifest.id, name=part.name) if key is not None else stored
            try:
                data = decompressor.decompress(chunk)
            except zstandard.ZstdError as exc:
                raise RestoreError(f"{part.name}: not a valid zstd stream: {exc}") from None
            digest.update(data)
            sink.write(data)
            written += len(data)
            if progress is not None:
                progress("decompressing", written, manifest.snapshot_size)
        sink.flush()
        os.fsync(sink.fileno())
    if not decompressor.eof:
        raise RestoreError(f"{manifest.files[-1].name}: the compressed stream ends early: a part is missing")
    if written != manifest.snapshot_size or digest.hexdigest() != manifest.snapshot_sha256:
        raise RestoreError(f"{manifest.snapshot_name}: {written} bytes with SHA-256 {digest.hexdigest()[:16]}… after "
                           f"decompression, the manifest says {manifest.snapshot_size} bytes and "
                           f"{manifest.snapshot_sha256[:16]}…")


def _compare_counts(manifest: Manifest, counts: Mapping[str, int], revision: str | None) -> None:
    expected = manifest.row_counts
    differences = [f"{table}: {counts.get(table, 'absent')} rows, the manifest says {expected.get(table, 'absent')}"
                   for table in sorted(set(counts) | set(expected)) if counts.get(table) != expected.get(table)]
    if differences:
        raise RestoreError("row counts differ from the manifest: " + "; ".join(differences))
    if revision != manifest.schema_version:
        raise RestoreError(f"schema revision {revision}, the manifest says {manifest.schema_version}")


def _check_sqlite(path: Path, manifest: Manifest) -> dict[str, int]:
    try:
        connection = sqlite3.connect(path)
        try:
            verdict = [str(row[0]) for row in connection.execute("PRAGMA integrity_check").fetchmany(10)]
        finally:
            connection.close()
        counts, revision = count_sqlite(path)
    except sqlite3.Error as exc:
        raise RestoreError(f"{manifest.snapshot_name}: not a readable SQLite database: {exc}") from None
    if verdict != ["ok"]:
        raise RestoreError(f"{manifest.snapshot_name}: PRAGMA integrity_check failed: {'; '.join(verdict)}")
    _compare_counts(manifest, counts, revision)
    return counts


def _check_archive(path: Path) -> str:
    """A pg_dump archive whose table of contents pg_restore can read (when pg_restore is installed)."""
    pg_restore = shutil.which("pg_restore")
    if pg_restore is None:
        return "checksums only (pg_restore is not on PATH)"
    result = subprocess.run([pg_restore, "--list", str(path)], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RestoreError(f"the pg_dump archive is unreadable: {result.stderr.strip()[-1000:]}")
    return "archive readable (pg_restore --list)"


@contextlib.contextmanager
def _exclusive(database: Path) -> Iterator[sqlite3.Connection]:
    """Hold the database's exclusive lock: refused while any other connection (a gateway) has it open."""
    try:
        connection = sqlite3.connect(database, timeout=1.0, isolation_level=None)
    except sqlite3.Error as exc:
        raise RestoreError(f"cannot open {database}: {exc}") from None
    try:
        try:
            connection.execute("PRAGMA locking_mode = EXCLUSIVE")
            connection.execute("BEGIN EXCLUSIVE")
            connection.execute("COMMIT")  # in exclusive locking mode the lock outlives the transaction
        except sqlite3.OperationalError as exc:
            raise RestoreError(f"{database} is in use ({exc}): stop `releve up` (every worker) before restoring "
                               f"over it") from None
        except sqlite3.DatabaseError as exc:
            raise RestoreError(f"{database} is not a SQLite database ({exc}): refusing to replace it; "
                               f"move it away first") from None
        yield connection
    finally:
        connection.close()


def _safety_copy(target: Path, backup_id: str) -> Path:
    copy = target.with_name(f"{target.name}.before-restore-{backup_id}")
    n = 1
    while copy.exists():
        n += 1
        copy = target.with_name(f"{target.name}.before-restore-{backup_id}.{n}")
    return copy


def _swap_sqlite(restored: Path, target: Path, backup_id: str, exists: bool) -> Path | None:
    safety: Path | None = None
    if exists:
        safety = _safety_copy(target, backup_id)
        with _exclusive(target) as live:
            try:
                copy = sqlite3.connect(safety)
                try:
                    live.backup(copy)  # consistent, WAL content included (a file copy could miss it)
                finally:
                    copy.close()
            except sqlite3.Error as exc:
                raise RestoreError(f"cannot keep a safety copy of {target} as {safety}: {exc}") from None
    # The old database's WAL and shared-memory files must not outlive it: SQLite would apply a stale WAL to
    # the new file. Closing the exclusive connection above checkpointed it.
    for suffix in ("-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            target.with_name(target.name + suffix).unlink()
    os.replace(restored, target)
    _fsync_directory(target.parent)
    return safety


def _swap_file(restored: Path, target: Path, backup_id: str, exists: bool) -> Path | None:
    safety: Path | None = None
    if exists:
        safety = _safety_copy(target, backup_id)
        shutil.copy2(target, safety)
    os.replace(restored, target)
    _fsync_directory(target.parent)
    return safety


def _fsync_directory(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _target(config: Config, manifest: Manifest, to: Path | None) -> Path:
    if to is not None:
        return to.absolute()
    if manifest.dialect == "postgresql":
        raise RestoreError("a PostgreSQL backup is restored by hand: `releve restore ID --to FILE` writes the "
                           "verified archive, then `pg_restore --clean --if-exists --no-owner --dbname URL FILE` "
                           "loads it (with the gateway stopped)")
    try:
        dialect, database = store_location(config.storage.url)
    except BackupError as exc:
        raise RestoreError(f"{exc}: pass --to PATH") from None
    if database is None:
        raise RestoreError(f"backup {manifest.id} is of a SQLite store and the configured store is {dialect}: "
                           f"pass --to PATH")
    return database


def restore_backup(config: Config, backup_id: str, *, dest: Destination | str | Path, to: Path | None = None,
                   force: bool = False, environ: Mapping[str, str], wall: Callable[[], datetime],
                   audit: AuditSink | None = None, actor: str = "releve",
                   progress: Progress | None = None) -> RestoreResult:
    """Restore backup `backup_id` ("latest" for the newest complete one) from `dest` to `to`, or over the
    configured SQLite store; `force` is needed when the target exists (a safety copy is kept).

    Raises `RestoreError` before anything in place changes when the backup is incomplete, corrupted, cannot be
    decrypted with the key in `environ`, or fails its integrity check or row counts. With `audit`, the outcome
    is recorded (kind `backup`, action `restore`).
    """
    destination = dest if not isinstance(dest, str | Path) else open_destination(dest)
    try:
        result = _restore(config, destination, backup_id, to=to, force=force, environ=environ, wall=wall,
                          progress=progress)
    except (RestoreError, BackupError, OSError) as exc:
        # OSError: the temporary files beside the target (no room left); nothing in place was changed.
        message = os_reason(exc) if isinstance(exc, OSError) else str(exc)
        if audit is not None:
            audit(AuditKind.BACKUP.value, actor, {"action": "restore", "ok": False, "id": backup_id,
                                                  "source": destination.describe(), "error": message})
        if isinstance(exc, RestoreError):
            raise
        raise RestoreError(message) from None
    if audit is not None:
        audit(AuditKind.BACKUP.value, actor, {
            "action": "restore", "ok": True, "id": result.backup_id, "source": destination.describe(result.backup_id),
            "target": str(result.target), "safety_copy": str(result.safety_copy) if result.safety_copy else None,
            "seconds": round(result.seconds, 3), "rows": sum(result.row_counts.values())})
    return result


def _restore(config: Config, destination: Destination, backup_id: str, *, to: Path | None, force: bool,
             environ: Mapping[str, str], wall: Callable[[], datetime], progress: Progress | None) -> RestoreResult:
    started = time.monotonic()
    manifest = _manifest(destination, backup_id)
    target = _target(config, manifest, to)
    if target.is_dir():
        raise RestoreError(f"{target} is a directory: give the database file's path")
    exists = target.exists()
    if exists and not force:
        raise RestoreError(f"{target} exists: pass --force to replace it (it is first kept as "
                           f"{target.name}.before-restore-{manifest.id})")
    key = None
    if manifest.encryption is not None:
        key = BackupKey.for_manifest(manifest, environ)
        key.check(manifest)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        workdir_context = tempfile.TemporaryDirectory(prefix=".releve-restore-", dir=target.parent)
    except OSError as exc:
        raise RestoreError(f"cannot write beside {target}: {exc.strerror or exc}") from None
    phases: dict[str, float] = {}
    with workdir_context as name:
        workdir = Path(name)
        mark = time.monotonic()
        parts = _verify_parts(destination, manifest, workdir, progress)
        phases["verify"] = time.monotonic() - mark
        mark = time.monotonic()
        restored = workdir / f".{manifest.snapshot_name}.{secrets.token_hex(4)}"
        _unpack(manifest, parts, key, restored, progress)
        phases["unpack"] = time.monotonic() - mark
        mark = time.monotonic()
        if progress is not None:
            progress("checking integrity and row counts", 0, None)
        if manifest.dialect == "sqlite":
            counts = _check_sqlite(restored, manifest)
            integrity = "ok"
        else:
            counts = dict(manifest.row_counts)
            integrity = _check_archive(restored)
        phases["check"] = time.monotonic() - mark
        mark = time.monotonic()
        swap = _swap_sqlite if manifest.dialect == "sqlite" else _swap_file
        try:
            safety = swap(restored, target, manifest.id, exists)
        except OSError as exc:
            raise RestoreError(f"cannot put the restored file in place at {target}: {exc.strerror or exc}") from None
        phases["swap"] = time.monotonic() - mark
    return RestoreResult(manifest=manifest, target=target, safety_copy=safety, integrity=integrity,
                         row_counts=counts, fetched=manifest.size, seconds=time.monotonic() - started,
                         phases=phases, restored_at=wall())


def restore_into_scratch_database(config: Config, archive: Path, manifest: Manifest) -> dict[str, int]:
    """Load a verified pg_dump archive into a new database on the configured server, compare its row counts and
    revision with the manifest, and drop it; the counts found. Needs CREATEDB for the store's role."""
    pg_restore = shutil.which("pg_restore")
    if pg_restore is None:
        raise RestoreError("pg_restore is not on PATH: install PostgreSQL's client tools")
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import SQLAlchemyError

    base = sqlalchemy_url(config.storage.url)
    scratch = f"releve_drill_{secrets.token_hex(6)}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    created = False
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{scratch}"'))
        created = True
        dsn, environ = libpq(base.set(database=scratch).render_as_string(hide_password=False))
        result = subprocess.run([pg_restore, "--no-owner", "--no-privileges", "--exit-on-error", "--no-password",
                                 f"--dbname={dsn}", str(archive)], env=environ, capture_output=True, text=True,
                                check=False)
        if result.returncode != 0:
            raise RestoreError(f"pg_restore into a scratch database failed (exit {result.returncode}): "
                               f"{result.stderr.strip()[-2000:]}")
        engine = create_engine(base.set(database=scratch))
        try:
            with engine.connect() as connection:
                counts, revision = count_postgres(connection)
        finally:
            engine.dispose()
        _compare_counts(manifest, counts, revision)
        return counts
    except SQLAlchemyError as exc:
        raise RestoreError(f"scratch database {scratch}: {getattr(exc, 'orig', None) or exc}") from None
    finally:
        if created:
            with contextlib.suppress(SQLAlchemyError), admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)'))
        admin.dispose()
