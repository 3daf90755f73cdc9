"""Taking a backup of Relève's store while it serves, and listing the backups that can be trusted.

SQLite: the online backup API copies the database in one step into a temporary file. One step holds a read
transaction for the copy's duration; in WAL mode writers carry on meanwhile (a copy made in several steps would
start over each time another connection writes, and might never finish under traffic). PostgreSQL: a
REPEATABLE READ transaction exports its snapshot, row counts are taken in it, and `pg_dump --snapshot` dumps
exactly that state, so the manifest's counts describe the dump.

The snapshot is then compressed (zstd), cut into parts, sealed if a key is set, and stored part by part; the
manifest goes last (see _backup_format.py). `RELEVE_BACKUP_PAUSE_AFTER_PART` (seconds; tests only) makes the
writer wait after each part, so that a test can kill a backup half-way.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import zstandard
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError

from releve.config import Config
from releve.protect import AuditKind

from ._backup_format import MANIFEST, BackupError, BackupKey, Manifest, PartInfo, new_backup_id
from ._destinations import Destination, open_destination

__all__ = ["AuditSink", "BackupCheck", "DEFAULT_PART_SIZE", "PAUSE_ENV", "Progress", "check_backups", "create_backup",
           "list_backups", "store_location"]

# (kind, actor, data), e.g. `AuditLog.append_now`.
AuditSink = Callable[[str, str, dict[str, Any]], object]
# (what is being done, done so far, total or None): bytes, or steps.
Progress = Callable[[str, int, int | None], None]

DEFAULT_PART_SIZE = 64 * 1024 * 1024
_MAX_PART_SIZE = 1024 * 1024 * 1024  # AES-GCM in `cryptography` seals one buffer: keep it well below 2 GiB
PAUSE_ENV = "RELEVE_BACKUP_PAUSE_AFTER_PART"
_READ = 1 << 20


def _version() -> str:
    try:
        return version("releve")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree that was never installed
        return "unknown"


def os_reason(exc: OSError) -> str:
    """`No space left on device: /tmp/x`, without Python's `[Errno 28]`."""
    where = f": {exc.filename}" if exc.filename else ""
    return f"{exc.strerror or exc}{where}"


def _parse(url: str) -> URL:
    try:
        return make_url(url)
    except ArgumentError as exc:
        raise BackupError(f"invalid storage URL: {exc}") from None


def store_location(url: str) -> tuple[str, Path | None]:
    """The store's dialect and, for SQLite, its file (relative paths against the working directory)."""
    parsed = _parse(url)
    dialect = parsed.get_backend_name()
    if dialect == "sqlite":
        if parsed.database in (None, "", ":memory:") or parsed.query.get("mode") == "memory":
            raise BackupError("the store is in memory (storage.url sqlite://): there is no file to back up")
        return dialect, Path(parsed.database).absolute()
    if dialect == "postgresql":
        return dialect, None
    raise BackupError(f"cannot back up a {dialect} store: sqlite:/// and postgresql:// only")


def public_url(url: str) -> str:
    """The URL without its password, fit for a manifest or a message."""
    return _parse(url).render_as_string(hide_password=True)


def libpq(url: str) -> tuple[str, dict[str, str]]:
    """A URL for pg_dump/pg_restore and the environment carrying its password (never on a command line,
    where `ps` would show it)."""
    parsed = _parse(url)
    environ = dict(os.environ)
    if parsed.password is not None:
        environ["PGPASSWORD"] = str(parsed.password)
    plain = parsed.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), environ


def sqlalchemy_url(url: str) -> URL:
    """Relève ships psycopg 3, not SQLAlchemy's default psycopg2."""
    parsed = _parse(url)
    return parsed.set(drivername="postgresql+psycopg") if parsed.get_backend_name() == "postgresql" else parsed


def count_sqlite(path: Path) -> tuple[dict[str, int], str | None]:
    """Rows per table and the alembic revision of a SQLite file."""
    connection = sqlite3.connect(path)
    try:
        tables = [row[0] for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        counts = {table: int(connection.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])
                  for table in tables}
        revision = None
        if "alembic_version" in counts:
            row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
            revision = None if row is None else str(row[0])
        return counts, revision
    finally:
        connection.close()


def count_postgres(connection: Connection) -> tuple[dict[str, int], str | None]:
    """Rows per table of the current schema and the alembic revision, on a SQLAlchemy connection."""
    from sqlalchemy import text

    tables = [str(name) for name in connection.execute(text(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename")).scalars()]
    counts = {table: int(connection.execute(text(f'SELECT count(*) FROM "{table}"')).scalar_one())
              for table in tables}
    revision = None
    if "alembic_version" in counts:
        revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return counts, None if revision is None else str(revision)


@dataclass(frozen=True, slots=True)
class _Snapshot:
    path: Path
    name: str
    row_counts: dict[str, int]
    schema_version: str | None


def _snapshot_sqlite(database: Path, workdir: Path) -> _Snapshot:
    if not database.is_file():
        raise BackupError(f"the store's database {database} does not exist")
    target = workdir / "releve.db"
    try:
        source = sqlite3.connect(database, timeout=30)
        try:
            copy = sqlite3.connect(target)
            try:
                source.backup(copy)  # one step: see the module's docstring
            finally:
                copy.close()
        finally:
            source.close()
        check = sqlite3.connect(target)
        try:
            verdict = [str(row[0]) for row in check.execute("PRAGMA quick_check").fetchmany(5)]
            # Rollback journal: the snapshot must be one self-contained file, with no -wal beside it.
            check.execute("PRAGMA journal_mode = DELETE")
        finally:
            check.close()
    except sqlite3.Error as exc:
        raise BackupError(f"cannot copy {database}: {exc}") from None
    if verdict != ["ok"]:
        raise BackupError(f"the store's database {database} fails its integrity check: {'; '.join(verdict)}")
    counts, revision = count_sqlite(target)
    return _Snapshot(target, "releve.db", counts, revision)


def _snapshot_postgres(url: str, workdir: Path) -> _Snapshot:
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        raise BackupError("pg_dump is not on PATH: install PostgreSQL's client tools (e.g. apt install "
                          "postgresql-client) in a version at least the server's")
    try:
        from sqlalchemy import create_engine, text
        from sqlalchemy.exc import SQLAlchemyError

        engine = create_engine(sqlalchemy_url(url))
    except ImportError:
        raise BackupError("PostgreSQL needs psycopg: pip install 'releve[postgres]'") from None
    target = workdir / "releve.pgdump"
    dsn, environ = libpq(url)
    try:
        with engine.connect() as connection:
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
            with connection.begin():
                connection.execute(text("SET TRANSACTION READ ONLY"))
                snapshot = connection.execute(text("SELECT pg_export_snapshot()")).scalar_one()
                counts, revision = count_postgres(connection)
                # The exporting transaction stays open until pg_dump is done: that keeps the snapshot alive.
                result = subprocess.run(
                    [pg_dump, "--format=custom", "--compress=0", "--no-password", f"--snapshot={snapshot}",
                     f"--file={target}", f"--dbname={dsn}"],
                    env=environ, capture_output=True, text=True, check=False)
    except SQLAlchemyError as exc:
        raise BackupError(f"cannot read the store at {public_url(url)}: {getattr(exc, 'orig', None) or exc}") from None
    finally:
        engine.dispose()
    if result.returncode != 0:
        raise BackupError(f"pg_dump failed (exit {result.returncode}): {result.stderr.strip()[-2000:]}")
    return _Snapshot(target, "releve.pgdump", counts, revision)


def _parts(snapshot: Path, *, part_size: int, level: int, progress: Progress | None,
           total: int) -> Iterator[tuple[bytes, int, str]]:
    """The compressed snapshot cut into parts; the last item also carries the snapshot's size and sha256."""
    digest = hashlib.sha256()
    compressor = zstandard.ZstdCompressor(level=level, write_checksum=True).compressobj()
    pending = bytearray()
    read = 0
    with snapshot.open("rb") as source:
        while chunk := source.read(_READ):
            read += len(chunk)
            digest.update(chunk)
            pending += compressor.compress(chunk)
            while len(pending) >= part_size:
                yield bytes(pending[:part_size]), read, ""
                del pending[:part_size]
            if progress is not None:
                progress("compressing and storing", read, total)
    pending += compressor.flush()
    while len(pending) > part_size:
        yield bytes(pending[:part_size]), read, ""
        del pending[:part_size]
    yield bytes(pending), read, digest.hexdigest()


def _pause(environ: Mapping[str, str]) -> float:
    try:
        return max(0.0, float(environ.get(PAUSE_ENV, "0") or 0))
    except ValueError:
        return 0.0


@contextmanager
def _workdir(parent: Path | None, prefix: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix=prefix, dir=parent) as name:
        yield Path(name)


def create_backup(config: Config, dest: Destination | str | Path, *, environ: Mapping[str, str],
                  wall: Callable[[], datetime], part_size: int = DEFAULT_PART_SIZE, level: int = 3,
                  workdir: Path | None = None, audit: AuditSink | None = None, actor: str = "releve",
                  progress: Progress | None = None) -> Manifest:
    """Back up the store of `config` to `dest` while it keeps serving; return the manifest written last.

    The key comes from `environ` (`RELEVE_BACKUP_KEY`, else `RELEVE_BACKUP_PASSPHRASE`); without either the
    backup is compressed but not encrypted. `workdir`: where the temporary snapshot goes (the system's temporary
    directory by default; it needs room for one uncompressed copy). With `audit`, the run is recorded (kind
    `backup`, action `backup`), failed runs too. Raises `BackupError`.
    """
    if not 1024 <= part_size <= _MAX_PART_SIZE:
        raise BackupError(f"part size {part_size} bytes: choose between 1 kB and 1 GiB")
    destination = dest if not isinstance(dest, str | Path) else open_destination(dest)
    started_at = wall()
    backup_id = new_backup_id(started_at)
    started = time.monotonic()
    try:
        key = BackupKey.from_environ(environ)
        try:
            manifest = _take(config, destination, backup_id=backup_id, started_at=started_at, started=started,
                             key=key, environ=environ, part_size=part_size, level=level, workdir=workdir,
                             progress=progress)
        except OSError as exc:  # the temporary snapshot: no room, no such directory
            raise BackupError(f"cannot write the temporary snapshot: {os_reason(exc)}") from None
    except BackupError as exc:
        if audit is not None:
            audit(AuditKind.BACKUP.value, actor, {"action": "backup", "ok": False, "id": backup_id,
                                                  "destination": destination.describe(), "error": str(exc)})
        raise
    if audit is not None:
        audit(AuditKind.BACKUP.value, actor, {
            "action": "backup", "ok": True, "id": manifest.id, "destination": destination.describe(manifest.id),
            "size": manifest.size, "files": len(manifest.files), "encrypted": manifest.encrypted,
            "schema_version": manifest.schema_version, "seconds": round(manifest.duration_seconds, 3),
            "rows": sum(manifest.row_counts.values())})
    return manifest


def _take(config: Config, destination: Destination, *, backup_id: str, started_at: datetime, started: float,
          key: BackupKey | None, environ: Mapping[str, str], part_size: int, level: int, workdir: Path | None,
          progress: Progress | None) -> Manifest:
    url = config.storage.url
    dialect, database = store_location(url)
    pause = _pause(environ)
    with _workdir(workdir, "releve-backup-") as scratch:
        if progress is not None:
            progress("taking a snapshot", 0, None)
        snapshot = (_snapshot_sqlite(database, scratch) if database is not None
                    else _snapshot_postgres(url, scratch))
        total = snapshot.path.stat().st_size
        files: list[PartInfo] = []
        snapshot_size, snapshot_sha256 = 0, ""
        for index, (chunk, read, final_digest) in enumerate(_parts(snapshot.path, part_size=part_size, level=level,
                                                                     progress=progress, total=total)):
            name = f"{snapshot.name}.{index:04d}.zst" + (".aes" if key is not None else "")
            stored = key.seal(chunk, backup_id=backup_id, name=name) if key is not None else chunk
            destination.put(backup_id, name, stored)
            files.append(PartInfo(name, len(stored), hashlib.sha256(stored).hexdigest()))
            if final_digest:
                snapshot_size, snapshot_sha256 = read, final_digest
            elif pause:
                time.sleep(pause)
    manifest = Manifest(
        id=backup_id, created_at=started_at, releve_version=_version(), dialect=dialect, source=public_url(url),
        schema_version=snapshot.schema_version, snapshot_name=snapshot.name, snapshot_size=snapshot_size,
        snapshot_sha256=snapshot_sha256, files=tuple(files), row_counts=snapshot.row_counts,
        compression={"algorithm": "zstd", "level": level, "part_size": part_size},
        encryption=key.describe() if key is not None else None,
        duration_seconds=round(time.monotonic() - started, 3))
    if key is not None:
        manifest = replace(manifest, mac=key.sign(manifest))
    destination.put(backup_id, MANIFEST, manifest.to_json())
    return manifest


@dataclass(frozen=True, slots=True)
class BackupCheck:
    """One folder of a destination: its manifest when it is complete, else why it is not."""

    id: str
    manifest: Manifest | None
    problem: str | None

    @property
    def valid(self) -> bool:
        return self.problem is None


def _check_one(destination: Destination, backup_id: str) -> BackupCheck:
    stored = destination.sizes(backup_id)
    if MANIFEST not in stored:
        return BackupCheck(backup_id, None, "no manifest: the backup did not finish")
    try:
        manifest = Manifest.from_json(destination.read(backup_id, MANIFEST))
    except FileNotFoundError:
        return BackupCheck(backup_id, None, "no manifest: the backup did not finish")
    except BackupError as exc:
        return BackupCheck(backup_id, None, str(exc))
    if manifest.id != backup_id:
        return BackupCheck(backup_id, manifest, f"its manifest names another backup ({manifest.id})")
    for part in manifest.files:
        size = stored.get(part.name)
        if size is None:
            return BackupCheck(backup_id, manifest, f"{part.name} is missing")
        if size != part.size:
            return BackupCheck(backup_id, manifest, f"{part.name} is {size} bytes, the manifest says {part.size}")
    return BackupCheck(backup_id, manifest, None)


def check_backups(dest: Destination | str | Path) -> list[BackupCheck]:
    """Every backup folder in `dest`, oldest first, each checked cheaply: its manifest parses and every part it
    lists is there with the right size (checksums are checked on restore)."""
    destination = dest if not isinstance(dest, str | Path) else open_destination(dest)
    return [_check_one(destination, backup_id) for backup_id in destination.ids()]


def list_backups(dest: Destination | str | Path) -> list[Manifest]:
    """The complete backups in `dest`, oldest first: a backup cut short (killed, out of space) is never listed."""
    found = [check.manifest for check in check_backups(dest) if check.valid and check.manifest is not None]
    return sorted(found, key=lambda manifest: (manifest.created_at, manifest.id))
