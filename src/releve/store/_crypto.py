"""Encryption at rest of stored content (prompts, answers, uploaded files): AES-GCM under keys from the environment.

An encrypted disk protects against a stolen disk; it does not protect against a copied backup or database dump, a
read-only SQL account, or a PostgreSQL server run by someone else. Encrypting the content columns in the store does.

Keys come from `RELEVE_DATA_KEYS`: base64 32-byte keys separated by commas. The first encrypts; all decrypt, so a
new key is put first, `releve keys rotate` re-encrypts everything under it, and the old one can then be dropped.
A key's id is the first 4 bytes (8 hex) of its SHA-256: it names the key in errors and in every value, without
saying anything about the key.

An encrypted value is: the version byte 0xC1, the key id (4 bytes), a random 12-byte nonce, then AES-GCM's output
(ciphertext and 16-byte tag). The associated data is "table.column", so a value copied into another column (a
request body into the answer's place, say) does not decrypt. 0xC1 can never begin UTF-8 text, so a value written
without keys (JSON, JSONL, SSE: always UTF-8) is never mistaken for an encrypted one and stays readable.

The JSON content columns are text (revision 0003); they hold the encrypted JSON as base64, which begins with "w"
(0xC1's first six bits), never the first character of a JSON text. No migration was needed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Column, ColumnElement, Table, and_, or_, select, update
from sqlalchemy.engine import Connection

from ..errors import StoreError
from ._schema import batch_lines, files, idempotency, jobs

__all__ = ["CONTENT_COLUMNS", "DATA_KEYS_ENV", "Content", "ContentKeys", "Encryption"]

DATA_KEYS_ENV = "RELEVE_DATA_KEYS"

_VERSION = b"\xc1"
_ID_BYTES = 4
_NONCE_BYTES = 12
_TAG_BYTES = 16
_HEADER = len(_VERSION) + _ID_BYTES + _NONCE_BYTES
_TEXT_MARK = "w"  # base64 of anything starting with 0xC1 starts with it
_KEY_BYTES = 32

# Every column that keeps request or answer content. The JSON ones are text, the others bytes.
_JSON_COLUMNS: tuple[Column[Any], ...] = (jobs.c.body, batch_lines.c.body, batch_lines.c.response_body,
                                          batch_lines.c.error)
_BYTES_COLUMNS: tuple[Column[Any], ...] = (jobs.c.response_body, idempotency.c.response_body, files.c.content)
CONTENT_COLUMNS = _JSON_COLUMNS + _BYTES_COLUMNS
_JSON = frozenset(_JSON_COLUMNS)

# rotate_keys' batches: rows per transaction (a file may weigh 200 MB: one at a time).
_ROTATION: tuple[tuple[Table, tuple[Column[Any], ...], int], ...] = (
    (jobs, (jobs.c.body, jobs.c.response_body), 200),
    (idempotency, (idempotency.c.response_body,), 200),
    (files, (files.c.content,), 1),
    (batch_lines, (batch_lines.c.body, batch_lines.c.response_body, batch_lines.c.error), 500),
)


def _key_id(key: bytes) -> bytes:
    return hashlib.sha256(key).digest()[:_ID_BYTES]


def _name(column: Column[Any]) -> str:
    return f"{column.table.name}.{column.name}"


class ContentKeys:
    """The keys content is encrypted with: the first encrypts, every one decrypts (key rotation)."""

    __slots__ = ("_ciphers", "_current")

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ValueError("ContentKeys needs at least one key")
        self._ciphers: dict[bytes, AESGCM] = {}
        seen: dict[bytes, bytes] = {}
        for number, key in enumerate(keys, 1):
            if len(key) != _KEY_BYTES:
                raise ValueError(f"key {number} is {len(key)} bytes: AES-256-GCM keys are {_KEY_BYTES} bytes")
            key_id = _key_id(key)
            if seen.setdefault(key_id, key) != key:
                raise ValueError(f"keys with the same id {key_id.hex()}: generate another")
            self._ciphers.setdefault(key_id, AESGCM(key))
        self._current = _key_id(keys[0])

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> ContentKeys | None:
        """The keys in `RELEVE_DATA_KEYS`, None when it is unset or empty; `ValueError` naming it when malformed."""
        value = environ.get(DATA_KEYS_ENV, "").strip()
        if not value:
            return None
        keys = []
        for number, part in enumerate(value.split(","), 1):
            text = part.strip()
            if not text:
                raise ValueError(f"{DATA_KEYS_ENV}: key {number} is empty (keys are separated by one comma)")
            try:
                # URL-safe base64 is accepted too: keys pass through systems that prefer it.
                key = base64.b64decode(text.replace("-", "+").replace("_", "/"), validate=True)
            except binascii.Error:
                raise ValueError(f"{DATA_KEYS_ENV}: key {number} is not base64 (generate one with "
                                 f"`releve keys generate`)") from None
            if len(key) != _KEY_BYTES:
                raise ValueError(f"{DATA_KEYS_ENV}: key {number} is {len(key)} bytes once decoded, not "
                                 f"{_KEY_BYTES} (generate one with `releve keys generate`)")
            keys.append(key)
        try:
            return cls(keys)
        except ValueError as exc:
            raise ValueError(f"{DATA_KEYS_ENV}: {exc}") from None

    @staticmethod
    def generate() -> str:
        """A new random key, base64, for `RELEVE_DATA_KEYS`."""
        return base64.b64encode(AESGCM.generate_key(bit_length=8 * _KEY_BYTES)).decode("ascii")

    @property
    def current(self) -> str:
        """The id (8 hex) of the key new values are encrypted with."""
        return self._current.hex()

    @property
    def ids(self) -> tuple[str, ...]:
        """Every key's id, the current one first."""
        return tuple(key_id.hex() for key_id in self._ciphers)

    def __repr__(self) -> str:
        # Never the keys themselves: this may end up in a log line.
        return f"ContentKeys(ids={self.ids!r})"

    def encrypt(self, data: bytes, associated: bytes) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return _VERSION + self._current + nonce + self._ciphers[self._current].encrypt(nonce, data, associated)

    def decrypt(self, blob: bytes, associated: bytes) -> bytes:
        """`StoreError` for a key not among these (naming its id) and for a value that does not authenticate."""
        key_id = blob[len(_VERSION):len(_VERSION) + _ID_BYTES]
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise StoreError(f"{associated.decode()}: a value is encrypted with key {key_id.hex()}, which is not in "
                             f"{DATA_KEYS_ENV} (keys {', '.join(self.ids)})")
        try:
            return cipher.decrypt(blob[len(_VERSION) + _ID_BYTES:_HEADER], blob[_HEADER:], associated)
        except InvalidTag:
            raise StoreError(f"{associated.decode()}: a value encrypted with key {key_id.hex()} does not decrypt: "
                             f"altered, or copied from another column") from None

    def encrypted_now(self, blob: bytes) -> bool:
        """Whether an encrypted value is under the current key (rotation leaves it as it is)."""
        return blob[len(_VERSION):len(_VERSION) + _ID_BYTES] == self._current


def _encrypted(data: bytes) -> bool:
    return data[:1] == _VERSION


class Content:
    """What the store writes into and reads from content columns: plaintext without keys, ciphertext with them.

    Reading takes both, so a database written before the keys were set (or by a store without them) stays readable.
    """

    __slots__ = ("keys",)

    def __init__(self, keys: ContentKeys | None) -> None:
        self.keys = keys

    def seal(self, column: Column[Any], value: Any) -> Any:
        """The stored form of `value` (a JSON-able value for JSON columns, bytes for the others; None stays None)."""
        if value is None:
            return None
        if column in _JSON:
            data = orjson.dumps(value)
            if self.keys is None:
                return data.decode()
            return base64.b64encode(self.keys.encrypt(data, _name(column).encode())).decode("ascii")
        data = bytes(value)
        return data if self.keys is None else self.keys.encrypt(data, _name(column).encode())

    def open(self, column: Column[Any], stored: Any) -> Any:
        """The value `seal` was given, from what the column holds (None stays None)."""
        if stored is None:
            return None
        if column in _JSON:
            return orjson.loads(self._plain(column, stored))
        return self._plain(column, stored)

    def reseal(self, column: Column[Any], stored: Any) -> Any:
        """The stored value encrypted under the current key, its plaintext bytes kept exactly (JSON not re-written)."""
        if self.keys is None:
            raise StoreError(f"no content keys ({DATA_KEYS_ENV}): nothing to encrypt with")
        blob = self.keys.encrypt(self._plain(column, stored), _name(column).encode())
        return base64.b64encode(blob).decode("ascii") if column in _JSON else blob

    def current(self, column: Column[Any], stored: Any) -> bool:
        """Whether the stored value is already encrypted under the current key."""
        if self.keys is None:
            return False
        blob = self._blob(column, stored)
        return blob is not None and self.keys.encrypted_now(blob)

    def _blob(self, column: Column[Any], stored: Any) -> bytes | None:
        """The ciphertext in a stored value, or None for plaintext."""
        if column in _JSON:
            if not stored.startswith(_TEXT_MARK):
                return None
            try:
                blob = base64.b64decode(stored, validate=True)
            except binascii.Error:
                raise StoreError(f"{_name(column)}: a stored value is neither JSON nor an encrypted value") from None
        else:
            blob = bytes(stored)
            if not _encrypted(blob):
                return None
        if len(blob) < _HEADER + _TAG_BYTES:
            raise StoreError(f"{_name(column)}: an encrypted value is truncated ({len(blob)} bytes)")
        return blob

    def _plain(self, column: Column[Any], stored: Any) -> bytes:
        blob = self._blob(column, stored)
        if blob is None:
            return stored.encode() if isinstance(stored, str) else bytes(stored)
        if self.keys is None:
            key_id = blob[len(_VERSION):len(_VERSION) + _ID_BYTES].hex()
            raise StoreError(f"{_name(column)}: a value is encrypted with key {key_id} and {DATA_KEYS_ENV} is "
                             f"not set: the store was opened without keys")
        return self.keys.decrypt(blob, _name(column).encode())


def _after(key: Sequence[Column[Any]], last: Sequence[Any]) -> ColumnElement[bool]:
    """Rows after `last` in primary-key order (keyset paging: no OFFSET to rescan)."""
    first: ColumnElement[bool] = key[0] > last[0]
    if len(key) == 1:
        return first
    return or_(first, and_(key[0] == last[0], _after(key[1:], last[1:])))


class Encryption:
    """Mixed into `Store`, which provides `_begin()` and `_content`."""

    if TYPE_CHECKING:
        _content: Content

        def _begin(self) -> AbstractContextManager[Connection]: ...

    @property
    def encrypts(self) -> bool:
        """Whether content is written encrypted (the store was given keys)."""
        return self._content.keys is not None

    def rotate_keys(self) -> dict[str, int]:
        """Re-encrypt every stored content value (encrypted under an older key, or plaintext) under the current key;
        returns how many values were rewritten per "table.column".

        Values already under the current key are left alone, so an interrupted rotation is finished by running it
        again. Each batch of rows is one transaction, and each rewrite applies only if the value is still the one
        read (`UPDATE … WHERE column = old`), so a running gateway may keep writing meanwhile. A value under a key
        not given raises `StoreError` (naming the key id) and stops the rotation: nothing is lost, rows done stay
        done.
        """
        content = self._content
        if content.keys is None:
            raise StoreError(f"no content keys ({DATA_KEYS_ENV}): nothing to encrypt with")
        counts = {_name(column): 0 for column in CONTENT_COLUMNS}
        for table, columns, batch in _ROTATION:
            key = list(table.primary_key.columns)
            last: Sequence[Any] | None = None
            while True:
                query = select(*key, *columns).order_by(*key).limit(batch)
                if last is not None:
                    query = query.where(_after(key, last))
                with self._begin() as connection:
                    rows = connection.execute(query).all()
                    for row in rows:
                        for name in _rewrite(connection, content, table, key, columns, row._mapping):
                            counts[name] += 1
                if len(rows) < batch:
                    break
                last = tuple(rows[-1])[:len(key)]
        return counts


def _rewrite(connection: Connection, content: Content, table: Table, key: Sequence[Column[Any]],
             columns: Iterable[Column[Any]], row: Mapping[Any, Any]) -> list[str]:
    """Re-encrypt one row's content values not yet under the current key; the names of the columns rewritten."""
    changes: dict[str, Any] = {}
    unchanged = [column == row[column] for column in key]
    for column in columns:
        stored = row[column]
        if stored is None or content.current(column, stored):
            continue
        changes[column.name] = content.reseal(column, stored)
        unchanged.append(column == stored)
    if not changes:
        return []
    done = connection.execute(update(table).where(*unchanged).values(changes))
    return [f"{table.name}.{name}" for name in changes] if done.rowcount == 1 else []
