"""`ContentKeys`: RELEVE_DATA_KEYS parsed with errors that name it, key ids, and nothing of a key in its repr."""

from __future__ import annotations

import base64
import hashlib

import pytest

from releve.errors import StoreError
from releve.store import DATA_KEYS_ENV, ContentKeys

KEY_A, KEY_B = bytes(range(32)), bytes(range(32, 64))


def b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


@pytest.mark.parametrize("environ", [{}, {DATA_KEYS_ENV: ""}, {DATA_KEYS_ENV: "  "}])
def test_unset_or_empty_means_no_keys(environ: dict[str, str]) -> None:
    assert ContentKeys.from_environ(environ) is None


def test_the_first_key_encrypts_and_every_key_has_its_id() -> None:
    keys = ContentKeys.from_environ({DATA_KEYS_ENV: f" {b64(KEY_B)} , {b64(KEY_A)}"})
    assert keys is not None
    ids = (hashlib.sha256(KEY_B).hexdigest()[:8], hashlib.sha256(KEY_A).hexdigest()[:8])
    assert (keys.current, keys.ids) == (ids[0], ids)
    # What one key encrypts, a list holding it decrypts.
    blob = keys.encrypt(b"x", b"files.content")
    assert ContentKeys([KEY_A, KEY_B]).decrypt(blob, b"files.content") == b"x"
    with pytest.raises(StoreError, match=ids[0]):
        ContentKeys([KEY_A]).decrypt(blob, b"files.content")


def test_url_safe_base64_and_a_repeated_key_are_accepted() -> None:
    urlsafe = base64.urlsafe_b64encode(b"\xff" * 32).decode()
    keys = ContentKeys.from_environ({DATA_KEYS_ENV: f"{urlsafe},{urlsafe}"})
    assert keys is not None and len(keys.ids) == 1


@pytest.mark.parametrize(("value", "message"), [
    ("not base64!", "key 1 is not base64"),
    (f"{b64(KEY_A)},{b64(b'short')}", "key 2 is 5 bytes once decoded, not 32"),
    (f"{b64(KEY_A)},,{b64(KEY_B)}", "key 2 is empty"),
])
def test_a_malformed_value_is_a_value_error_naming_the_variable(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{DATA_KEYS_ENV}: {message}") as raised:
        ContentKeys.from_environ({DATA_KEYS_ENV: value})
    assert b64(KEY_A) not in str(raised.value)


def test_generated_keys_are_random_32_byte_keys() -> None:
    first, second = ContentKeys.generate(), ContentKeys.generate()
    assert first != second and len(base64.b64decode(first, validate=True)) == 32
    assert ContentKeys.from_environ({DATA_KEYS_ENV: first}) is not None


def test_repr_shows_ids_never_keys() -> None:
    keys = ContentKeys([KEY_A])
    assert repr(keys) == f"ContentKeys(ids=('{hashlib.sha256(KEY_A).hexdigest()[:8]}',))"
    assert b64(KEY_A) not in repr(keys) and KEY_A.hex() not in repr(keys)


def test_no_keys_or_wrong_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="at least one key"):
        ContentKeys([])
    with pytest.raises(ValueError, match="16 bytes"):
        ContentKeys([b"x" * 16])
