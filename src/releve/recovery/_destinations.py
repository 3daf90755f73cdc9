"""Where backups are kept: a directory (`/path`, `file:///path`) or an S3-compatible bucket (`s3://bucket/prefix`).

Both hold one folder per backup. Writes are all-or-nothing per file: a directory writes a hidden temporary
name, fsyncs it and renames it; S3 makes an object visible only once its upload completed. Together with the
manifest being written last, a backup interrupted at any point is either complete or lacks its manifest.

S3: boto3 finds credentials the usual way (environment, profile, instance role); the endpoint of a
non-AWS service (MinIO, Garage, Scaleway, OVH…) comes from `endpoint_url` or `AWS_ENDPOINT_URL`.
Error messages name the bucket and key, never credentials.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from ._backup_format import MANIFEST, BackupError

__all__ = ["Destination", "DirectoryDestination", "S3Destination", "open_destination"]

_CHUNK = 1 << 20


class Destination(Protocol):
    """A place holding backups, one folder of files per backup id."""

    def describe(self, backup_id: str | None = None) -> str:
        """Where the destination (or one backup in it) is, for people: a path or an s3:// URL."""

    def ids(self) -> list[str]:
        """Every backup folder's name, complete or not, sorted."""

    def sizes(self, backup_id: str) -> dict[str, int]:
        """The files in one backup's folder and their sizes (one listing: the cheap check)."""

    def put(self, backup_id: str, name: str, data: bytes) -> None:
        """Store one file; it appears whole or not at all."""

    def read(self, backup_id: str, name: str) -> bytes:
        """One small file (the manifest); a missing one raises `FileNotFoundError`."""

    def fetch(self, backup_id: str, name: str, workdir: Path) -> Path:
        """A local file holding the stored bytes: the file itself for a directory, a download into `workdir`."""

    def delete(self, backup_id: str) -> None:
        """Remove one backup, its manifest first: a deletion cut short leaves an incomplete backup, never a
        complete-looking one with parts missing."""


class DirectoryDestination:
    """Backups under a local (or mounted) directory, created on first write."""

    def __init__(self, root: Path) -> None:
        self.root = root.absolute()

    def describe(self, backup_id: str | None = None) -> str:
        return str(self.root / backup_id) if backup_id else str(self.root)

    def ids(self) -> list[str]:
        try:
            return sorted(entry.name for entry in os.scandir(self.root)
                          if entry.is_dir() and not entry.name.startswith("."))
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise BackupError(f"cannot list {self.root}: {exc.strerror or exc}") from None

    def sizes(self, backup_id: str) -> dict[str, int]:
        try:
            return {entry.name: entry.stat().st_size for entry in os.scandir(self.root / backup_id)
                    if entry.is_file() and not entry.name.startswith(".")}
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise BackupError(f"cannot list {self.root / backup_id}: {exc.strerror or exc}") from None

    def put(self, backup_id: str, name: str, data: bytes) -> None:
        folder = self.root / backup_id
        temporary = folder / f".{name}.tmp"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with temporary.open("wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, folder / name)
            _fsync_directory(folder)
        except OSError as exc:
            with contextlib.suppress(OSError):
                temporary.unlink()
            raise BackupError(f"cannot write {folder / name}: {exc.strerror or exc}") from None

    def read(self, backup_id: str, name: str) -> bytes:
        try:
            return (self.root / backup_id / name).read_bytes()
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise BackupError(f"cannot read {self.root / backup_id / name}: {exc.strerror or exc}") from None

    def fetch(self, backup_id: str, name: str, workdir: Path) -> Path:
        path = self.root / backup_id / name
        if not path.is_file():
            raise FileNotFoundError(path)
        return path

    def delete(self, backup_id: str) -> None:
        folder = self.root / backup_id
        try:
            with contextlib.suppress(FileNotFoundError):
                (folder / MANIFEST).unlink()
            shutil.rmtree(folder)
        except OSError as exc:
            raise BackupError(f"cannot delete {folder}: {exc.strerror or exc}") from None


def _fsync_directory(folder: Path) -> None:
    """Make the rename itself durable: without it a power cut may forget the new name."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class S3Destination:
    """Backups under `s3://bucket/prefix/`. boto3 is imported only when one is used."""

    def __init__(self, bucket: str, prefix: str = "", *, endpoint_url: str | None = None,
                 client: Any = None) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        # What the service or the client library may raise; anything else is a bug and propagates.
        self._errors: tuple[type[Exception], ...] = (BotoCoreError, ClientError)
        if client is None:
            import boto3

            # None lets boto3 read AWS_ENDPOINT_URL (and AWS_ENDPOINT_URL_S3) itself.
            client = boto3.client("s3", endpoint_url=endpoint_url or None)
        self._client = client

    def describe(self, backup_id: str | None = None) -> str:
        return f"s3://{self.bucket}/{self.prefix}{backup_id or ''}".rstrip("/")

    def _key(self, backup_id: str, name: str) -> str:
        return f"{self.prefix}{backup_id}/{name}"

    def _fail(self, action: str, where: str, exc: Exception) -> BackupError:
        return BackupError(f"cannot {action} s3://{self.bucket}/{where}: {_reason(exc)}")

    def _list(self, prefix: str, *, delimiter: bool) -> list[dict[str, Any]]:
        pages: list[dict[str, Any]] = []
        arguments: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
        if delimiter:
            arguments["Delimiter"] = "/"
        try:
            for page in self._client.get_paginator("list_objects_v2").paginate(**arguments):
                pages.append(page)
        except self._errors as exc:
            raise self._fail("list", prefix, exc) from None
        return pages

    def ids(self) -> list[str]:
        found = {entry["Prefix"][len(self.prefix):].rstrip("/")
                 for page in self._list(self.prefix, delimiter=True) for entry in page.get("CommonPrefixes", [])}
        return sorted(found)

    def sizes(self, backup_id: str) -> dict[str, int]:
        folder = f"{self.prefix}{backup_id}/"
        return {item["Key"][len(folder):]: int(item["Size"])
                for page in self._list(folder, delimiter=False) for item in page.get("Contents", [])
                if "/" not in item["Key"][len(folder):]}

    def put(self, backup_id: str, name: str, data: bytes) -> None:
        key = self._key(backup_id, name)
        try:
            self._client.put_object(Bucket=self.bucket, Key=key, Body=data)
        except self._errors as exc:
            raise self._fail("write", key, exc) from None

    def _get(self, key: str) -> Any:
        try:
            return self._client.get_object(Bucket=self.bucket, Key=key)["Body"]
        except self._errors as exc:
            if _code(exc) in ("NoSuchKey", "404"):
                raise FileNotFoundError(f"s3://{self.bucket}/{key}") from None
            raise self._fail("read", key, exc) from None

    def read(self, backup_id: str, name: str) -> bytes:
        key = self._key(backup_id, name)
        body = self._get(key)
        try:
            data: bytes = body.read()
        except self._errors as exc:
            raise self._fail("read", key, exc) from None
        return data

    def fetch(self, backup_id: str, name: str, workdir: Path) -> Path:
        key = self._key(backup_id, name)
        body = self._get(key)
        path = workdir / name
        try:
            with path.open("wb") as out:
                shutil.copyfileobj(body, out, _CHUNK)
        except OSError as exc:
            raise BackupError(f"cannot write {path}: {exc.strerror or exc}") from None
        except self._errors as exc:
            raise self._fail("read", key, exc) from None
        return path

    def delete(self, backup_id: str) -> None:
        folder = f"{self.prefix}{backup_id}/"
        keys = [item["Key"] for page in self._list(folder, delimiter=False) for item in page.get("Contents", [])]
        keys.sort(key=lambda key: key != f"{folder}{MANIFEST}")  # the manifest first
        try:
            for key in keys:
                self._client.delete_object(Bucket=self.bucket, Key=key)
        except self._errors as exc:
            raise self._fail("delete", folder, exc) from None


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def _reason(exc: Exception) -> str:
    """botocore's messages name the operation and the service's error code; they carry no secret."""
    return f"{type(exc).__name__}: {exc}"


def open_destination(where: str | Path, *, endpoint_url: str | None = None) -> Destination:
    """`/path`, `relative/path`, `file:///path` or `s3://bucket/prefix`."""
    if isinstance(where, Path):
        return DirectoryDestination(where)
    parts = urlsplit(where)
    if parts.scheme == "s3":
        if not parts.netloc:
            raise BackupError(f"{where!r}: an S3 destination is s3://bucket/prefix")
        return S3Destination(parts.netloc, parts.path, endpoint_url=endpoint_url)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise BackupError(f"{where!r}: a file:// destination is on this machine (file:///path)")
        return DirectoryDestination(Path(unquote(parts.path)))
    if parts.scheme and len(parts.scheme) > 1:
        raise BackupError(f"{where!r}: a destination is a directory, file:///path or s3://bucket/prefix")
    return DirectoryDestination(Path(where))
