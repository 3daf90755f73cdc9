"""What a backup is on its destination: parts, then a manifest that vouches for them; and how parts are sealed.

A backup is a folder `<backup id>/` holding the snapshot (SQLite file or `pg_dump` custom archive), compressed
as one zstd stream cut into parts of at most `part_size` bytes, each part optionally encrypted on its own
(AES-256-GCM, a fresh nonce, the backup id and part name as associated data so parts cannot be swapped
between backups or reordered). `manifest.json` is written last: a backup without one, or whose parts do not
match it, was cut short and is never offered for a restore.

The manifest records each part's size and SHA-256 of the stored bytes (checked before anything is decrypted),
the snapshot's own size and SHA-256 (checked after decompression: end to end), the alembic revision and row
counts per table of the snapshot (checked after a restore). An encrypted backup's manifest is also
authenticated (HMAC under a key derived from the backup key), so its counts and checksums cannot be edited.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from releve.errors import ReleveError

__all__ = ["BACKUP_KEY_ENV", "BACKUP_PASSPHRASE_ENV", "FORMAT", "MANIFEST", "BackupError", "BackupKey", "Manifest",
           "PartInfo", "RestoreError", "new_backup_id"]

FORMAT = "releve-backup/1"
MANIFEST = "manifest.json"
BACKUP_KEY_ENV = "RELEVE_BACKUP_KEY"
BACKUP_PASSPHRASE_ENV = "RELEVE_BACKUP_PASSPHRASE"
_NONCE = 12
# scrypt at 2**15 costs ~32 MiB and ~0.1 s once per backup or restore: cheap for us, dear for a guesser.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**15, 8, 1


class BackupError(ReleveError):
    """A backup could not be taken or read (the destination, pg_dump, a key in the environment)."""


class RestoreError(ReleveError):
    """A backup was refused for a restore, or the restore failed; nothing in place was changed."""


def new_backup_id(at: datetime) -> str:
    """`20260115T103000Z-1a2b3c4d`: sorts by time, and two backups in the same second still differ."""
    return f"{at.astimezone(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"


@dataclass(frozen=True, slots=True)
class PartInfo:
    """One stored file of a backup: its name in the backup's folder, and its stored (compressed, sealed) bytes."""

    name: str
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class Manifest:
    """The description of one complete backup; `to_json`/`from_json` are its stored form."""

    id: str
    created_at: datetime
    releve_version: str
    dialect: str                      # "sqlite" or "postgresql"
    source: str                       # the store's URL, without password
    schema_version: str | None        # alembic revision of the snapshot
    snapshot_name: str                # "releve.db" or "releve.pgdump"
    snapshot_size: int
    snapshot_sha256: str
    files: tuple[PartInfo, ...]
    row_counts: Mapping[str, int]
    compression: Mapping[str, Any]
    encryption: Mapping[str, Any] | None
    duration_seconds: float
    mac: str | None = field(default=None, compare=False)

    @property
    def encrypted(self) -> bool:
        return self.encryption is not None

    @property
    def size(self) -> int:
        """Bytes stored on the destination (parts only; the manifest is a few hundred bytes more)."""
        return sum(part.size for part in self.files)

    def _body(self) -> dict[str, Any]:
        return {
            "format": FORMAT, "id": self.id, "created_at": self.created_at.isoformat(),
            "releve_version": self.releve_version, "dialect": self.dialect, "source": self.source,
            "schema_version": self.schema_version,
            "snapshot": {"name": self.snapshot_name, "size": self.snapshot_size, "sha256": self.snapshot_sha256},
            "files": [{"name": p.name, "size": p.size, "sha256": p.sha256} for p in self.files],
            "row_counts": dict(sorted(self.row_counts.items())), "compression": dict(self.compression),
            "encryption": dict(self.encryption) if self.encryption is not None else None,
            "duration_seconds": round(self.duration_seconds, 3),
        }

    def signed_bytes(self) -> bytes:
        """What the MAC covers: every field but the MAC, canonically serialised."""
        return orjson.dumps(self._body(), option=orjson.OPT_SORT_KEYS)

    def to_json(self) -> bytes:
        return orjson.dumps({**self._body(), "mac": self.mac}, option=orjson.OPT_INDENT_2)

    @classmethod
    def from_json(cls, data: bytes) -> Manifest:
        """Parse a stored manifest; anything malformed is a `BackupError` saying what."""
        try:
            raw = orjson.loads(data)
            if not isinstance(raw, dict) or raw.get("format") != FORMAT:
                found = raw.get("format") if isinstance(raw, dict) else type(raw).__name__
                raise BackupError(f"not a Relève backup manifest (format {found!r}, expected {FORMAT!r})")
            snapshot = raw["snapshot"]
            created = datetime.fromisoformat(raw["created_at"])
            if created.utcoffset() is None:
                raise ValueError("created_at has no time zone")
            return cls(
                id=str(raw["id"]), created_at=created, releve_version=str(raw["releve_version"]),
                dialect=str(raw["dialect"]), source=str(raw["source"]),
                schema_version=None if raw["schema_version"] is None else str(raw["schema_version"]),
                snapshot_name=str(snapshot["name"]), snapshot_size=int(snapshot["size"]),
                snapshot_sha256=str(snapshot["sha256"]),
                files=tuple(PartInfo(str(p["name"]), int(p["size"]), str(p["sha256"])) for p in raw["files"]),
                row_counts={str(k): int(v) for k, v in raw["row_counts"].items()},
                compression=dict(raw["compression"]),
                encryption=dict(raw["encryption"]) if raw["encryption"] is not None else None,
                duration_seconds=float(raw["duration_seconds"]), mac=raw.get("mac"),
            )
        except orjson.JSONDecodeError as exc:
            raise BackupError(f"{MANIFEST} is not valid JSON: {exc}") from None
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise BackupError(f"{MANIFEST} is malformed: {type(exc).__name__} {exc}") from None


def _hkdf_like(key: bytes, purpose: bytes) -> bytes:
    """A sub-key per purpose, so the part key never signs the manifest and the key id reveals neither."""
    return hmac.new(key, b"releve-backup/" + purpose, hashlib.sha256).digest()


class BackupKey:
    """The AES-256 key that seals a backup: `RELEVE_BACKUP_KEY` (base64 of 32 bytes) or a key derived with
    scrypt from `RELEVE_BACKUP_PASSPHRASE` and a salt kept in the manifest. The key itself is never stored."""

    __slots__ = ("_aead", "_kdf", "_mac_key", "key_id", "source")

    def __init__(self, key: bytes, *, source: str, kdf: Mapping[str, Any] | None = None) -> None:
        """`source`: "key" or "passphrase"; `kdf`: how a passphrase became `key` (recorded in the manifest)."""
        if len(key) != 32:
            raise BackupError(f"a backup key is 32 bytes, not {len(key)}")
        self._aead = AESGCM(_hkdf_like(key, b"parts"))
        self._mac_key = _hkdf_like(key, b"manifest")
        self._kdf = dict(kdf) if kdf is not None else None
        self.key_id = _hkdf_like(key, b"key-id").hex()[:16]
        self.source = source

    @staticmethod
    def from_environ(environ: Mapping[str, str], *, salt: bytes | None = None) -> BackupKey | None:
        """The key the environment gives, or None (no encryption). `RELEVE_BACKUP_KEY` wins over a passphrase.

        `salt`: the passphrase's salt, from the manifest when restoring; a new random one when backing up.
        """
        encoded = environ.get(BACKUP_KEY_ENV, "").strip()
        if encoded:
            try:
                key = base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError):
                raise BackupError(f"{BACKUP_KEY_ENV} is not base64 (make one with `releve keys generate`)") from None
            if len(key) != 32:
                raise BackupError(f"{BACKUP_KEY_ENV} must be 32 bytes in base64, not {len(key)} bytes "
                                  f"(make one with `releve keys generate`)")
            return BackupKey(key, source="key")
        passphrase = environ.get(BACKUP_PASSPHRASE_ENV, "")
        if not passphrase:
            return None
        if len(passphrase) < 12:
            raise BackupError(f"{BACKUP_PASSPHRASE_ENV} is too short: use at least 12 characters")
        return BackupKey.from_passphrase(passphrase, salt=salt if salt is not None else os.urandom(16))

    @staticmethod
    def from_passphrase(passphrase: str, *, salt: bytes, n: int = _SCRYPT_N, r: int = _SCRYPT_R,
                        p: int = _SCRYPT_P) -> BackupKey:
        key = Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode())
        return BackupKey(key, source="passphrase",
                         kdf={"name": "scrypt", "salt": base64.b64encode(salt).decode(), "n": n, "r": r, "p": p})

    def describe(self) -> dict[str, Any]:
        """What the manifest says about the encryption: enough to find the key again, nothing to rebuild it."""
        described: dict[str, Any] = {"algorithm": "AES-256-GCM", "key": self.source, "key_id": self.key_id}
        if self._kdf is not None:
            described["kdf"] = dict(self._kdf)
        return described

    @staticmethod
    def for_manifest(manifest: Manifest, environ: Mapping[str, str]) -> BackupKey:
        """The key that opens `manifest`'s backup, checked against its key id; `RestoreError` says which is
        missing or wrong."""
        described = manifest.encryption or {}
        if described.get("key") == "passphrase":
            passphrase = environ.get(BACKUP_PASSPHRASE_ENV, "")
            if not passphrase:
                raise RestoreError(f"backup {manifest.id} is encrypted with a passphrase: set {BACKUP_PASSPHRASE_ENV}")
            kdf = described.get("kdf") or {}
            try:
                n, r, p = int(kdf["n"]), int(kdf["r"]), int(kdf["p"])
                if kdf.get("name") != "scrypt" or n > 2**20 or r > 32 or p > 16:
                    # A manifest is untrusted until its MAC is checked, which needs this key: bound the work it asks.
                    raise ValueError(f"unsupported key derivation {kdf.get('name')} n={n} r={r} p={p}")
                key = BackupKey.from_passphrase(passphrase, salt=base64.b64decode(kdf["salt"]), n=n, r=r, p=p)
            except (KeyError, TypeError, ValueError, binascii.Error) as exc:
                raise RestoreError(f"backup {manifest.id}: malformed key derivation in its manifest ({exc})") from None
            what = BACKUP_PASSPHRASE_ENV
        else:
            try:
                found = BackupKey.from_environ({BACKUP_KEY_ENV: environ.get(BACKUP_KEY_ENV, "")})
            except BackupError as exc:
                raise RestoreError(str(exc)) from None
            if found is None:
                raise RestoreError(f"backup {manifest.id} is encrypted with a key: set {BACKUP_KEY_ENV}")
            key, what = found, BACKUP_KEY_ENV
        if not hmac.compare_digest(key.key_id, str(described.get("key_id", ""))):
            raise RestoreError(f"backup {manifest.id}: wrong key: {what} does not open it "
                               f"(key id {key.key_id}, the backup's is {described.get('key_id')})")
        return key

    def seal(self, data: bytes, *, backup_id: str, name: str) -> bytes:
        nonce = os.urandom(_NONCE)
        return nonce + self._aead.encrypt(nonce, data, _associated(backup_id, name))

    def open(self, sealed: bytes, *, backup_id: str, name: str) -> bytes:
        try:
            return self._aead.decrypt(sealed[:_NONCE], sealed[_NONCE:], _associated(backup_id, name))
        except InvalidTag:
            raise RestoreError(f"{name}: cannot be decrypted: it was altered, or belongs to another backup") from None

    def sign(self, manifest: Manifest) -> str:
        return hmac.new(self._mac_key, manifest.signed_bytes(), hashlib.sha256).hexdigest()

    def check(self, manifest: Manifest) -> None:
        """Refuse a manifest edited after the backup (its counts, checksums, or the list of parts)."""
        if not manifest.mac or not hmac.compare_digest(self.sign(manifest), manifest.mac):
            raise RestoreError(f"{MANIFEST} of backup {manifest.id}: its signature does not match: it was edited")


def _associated(backup_id: str, name: str) -> bytes:
    return f"{FORMAT}/{backup_id}/{name}".encode()
