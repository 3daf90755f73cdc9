"""Encryption at rest of stored content, on both dialects: every content column round-trips under keys, the database
holds no plaintext of it, keys rotate, and a value under an unknown key or in the wrong column does not decrypt."""

from __future__ import annotations

import base64
import hashlib
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Column, Connection, create_engine, select, update

from releve.errors import StoreError
from releve.store import ContentKeys, Store
from releve.store._schema import batch_lines, files, idempotency, jobs

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)
KEY_A, KEY_B, KEY_C = b"A" * 32, b"B" * 32, b"C" * 32
CONTENT = ("jobs.body", "jobs.response_body", "idempotency.response_body", "files.content", "batch_lines.body",
           "batch_lines.response_body", "batch_lines.error")


def keys(*raw: bytes) -> ContentKeys:
    return ContentKeys.from_environ({"RELEVE_DATA_KEYS": ",".join(base64.b64encode(k).decode() for k in raw)}) \
        or pytest.fail("no keys")


def key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:8]


@contextmanager
def opened(url: str, content_keys: ContentKeys | None) -> Iterator[Store]:
    store = Store(url, keys=content_keys)
    store.open()
    try:
        yield store
    finally:
        store.close()


@contextmanager
def raw(url: str) -> Iterator[Connection]:
    """The database behind the store's back, columns as stored."""
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.begin() as connection:
            yield connection
    finally:
        engine.dispose()


def _chat(text: str) -> dict[str, Any]:
    return {"model": "chat", "messages": [{"role": "user", "content": text}]}


def fill(store: Store, tag: str) -> dict[str, str]:
    """One value in every content column, each holding `tag` and the column's name. Returns the ids.

    The idempotency key (a primary key, not content) does not hold the tag."""
    key = "key-" + hashlib.sha256(tag.encode()).hexdigest()[:12]
    job = store.create_job(route="chat", operation="chat", body=_chat(f"{tag} jobs.body"), client="acme",
                           callback_url=None, at=T0, expires_at=T0 + DAY, subject="cust-42")
    assert [j.id for j in store.claim_jobs(T0)] == [job.id]
    store.finish_job(job.id, succeeded=True, response_status=200, target="a/m", at=T0,
                     response_body=orjson.dumps({"answer": f"{tag} jobs.response_body"}))
    assert store.begin_idempotent("acme", key, "0" * 64, at=T0, expires_at=T0 + DAY,
                                  subject="cust-42") is None
    store.finish_idempotent("acme", key, status=200, headers=[("content-type", "application/json")],
                            body=orjson.dumps({"idem": f"{tag} idempotency.response_body"}))
    upload = store.create_file(purpose="batch", filename="in.jsonl", content=f"{tag} files.content\n".encode(),
                               at=T0, subject="cust-42")
    batch = store.create_batch(endpoint="/v1/chat/completions", input_file_id=upload.id, completion_window="24h",
                               metadata=None, at=T0, expires_at=T0 + DAY, subject="cust-42",
                               lines=[("r0", _chat(f"{tag} batch_lines.body")), ("r1", _chat("second"))])
    store.finish_line(batch.id, 0, ok=True, response_status=200, error=None, request_id="req_0", at=T0,
                      response_body={"line": f"{tag} batch_lines.response_body"})
    store.finish_line(batch.id, 1, ok=False, response_status=None, response_body=None, request_id="req_1", at=T0,
                      error={"code": "x", "message": f"{tag} batch_lines.error"})
    return {"job": job.id, "key": key, "file": upload.id, "batch": batch.id}


def check(store: Store, ids: dict[str, str], tag: str) -> None:
    """Every value `fill` wrote reads back as it was given."""
    job = store.job(ids["job"])
    assert job is not None and job.body == _chat(f"{tag} jobs.body")
    assert job.response_body == orjson.dumps({"answer": f"{tag} jobs.response_body"})
    record = store.idempotent("acme", ids["key"])
    assert record is not None and record.response_body == orjson.dumps({"idem": f"{tag} idempotency.response_body"})
    assert record.response_headers == (("content-type", "application/json"),)
    assert store.file_content(ids["file"]) == f"{tag} files.content\n".encode()
    assert [(line.body, line.state, line.response_body, line.error) for line in store.batch_lines(ids["batch"])] == [
        (_chat(f"{tag} batch_lines.body"), "done", {"line": f"{tag} batch_lines.response_body"}, None),
        (_chat("second"), "error", None, {"code": "x", "message": f"{tag} batch_lines.error"})]


def stored(url: str) -> dict[str, list[Any]]:
    """Every non-NULL value of every content column, as the database holds it."""
    columns: list[Column[Any]] = [jobs.c.body, jobs.c.response_body, idempotency.c.response_body, files.c.content,
                                  batch_lines.c.body, batch_lines.c.response_body, batch_lines.c.error]
    with raw(url) as connection:
        return {f"{c.table.name}.{c.name}": [v for v in connection.execute(select(c)).scalars() if v is not None]
                for c in columns}


def _as_bytes(value: Any) -> bytes:
    return value.encode() if isinstance(value, str) else bytes(value)


def test_every_content_column_round_trips_under_keys_and_is_stored_encrypted(database_url: str) -> None:
    with opened(database_url, keys(KEY_A)) as store:
        assert store.encrypts
        ids = fill(store, "Jeanne-Dupont-7f3a")
        check(store, ids, "Jeanne-Dupont-7f3a")
        # Waiting jobs and pending lines are read through the same path as finished ones.
        queued = store.create_job(route="chat", operation="chat", body=_chat("queued"), client=None,
                                  callback_url=None, at=T0, expires_at=T0 + DAY)
        assert [job.body for job in store.claim_jobs(T0)] == [_chat("queued")] and queued.body == _chat("queued")
        # An access request gets the plaintext.
        exported = store.subject_data("cust-42")
        assert exported["jobs"][0]["body"] == _chat("Jeanne-Dupont-7f3a jobs.body")
        assert exported["jobs"][0]["response_body"] == {"answer": "Jeanne-Dupont-7f3a jobs.response_body"}
        assert exported["files"][0]["content"] == "Jeanne-Dupont-7f3a files.content\n"
        assert exported["batches"][0]["lines"][1]["error"]["message"] == "Jeanne-Dupont-7f3a batch_lines.error"
    values = stored(database_url)
    assert {column: len(found) for column, found in values.items()} == {
        "jobs.body": 2, "jobs.response_body": 1, "idempotency.response_body": 1, "files.content": 1,
        "batch_lines.body": 2, "batch_lines.response_body": 1, "batch_lines.error": 1}
    for column, found in values.items():
        for value in found:
            assert b"Jeanne" not in _as_bytes(value) and b"queued" not in _as_bytes(value), column
            # JSON columns hold base64 text, the others the bytes themselves: both start with the version byte.
            blob = base64.b64decode(value) if isinstance(value, str) else bytes(value)
            assert blob[:1] == b"\xc1" and blob[1:5].hex() == key_id(KEY_A), column


def test_without_keys_content_is_stored_as_plaintext(database_url: str) -> None:
    with opened(database_url, None) as store:
        assert not store.encrypts
        ids = fill(store, "Paul-Martin-21bc")
        check(store, ids, "Paul-Martin-21bc")
    for column, found in stored(database_url).items():
        assert any(f"Paul-Martin-21bc {column}".encode() in _as_bytes(value) for value in found), column


def test_values_written_without_keys_stay_readable_with_them(database_url: str) -> None:
    with opened(database_url, None) as store:
        ids = fill(store, "legacy")
    with opened(database_url, keys(KEY_A)) as store:
        check(store, ids, "legacy")
        # New values are encrypted beside the old plaintext ones.
        new = fill(store, "new")
        check(store, new, "new")


def test_rotation_moves_every_value_to_the_first_key(database_url: str) -> None:
    with opened(database_url, None) as store:
        plain = fill(store, "plain")
    with opened(database_url, keys(KEY_A)) as store:
        under_a = fill(store, "under-a")
    with opened(database_url, keys(KEY_B, KEY_A)) as store:
        # Both keys read; new writes use B already.
        check(store, plain, "plain")
        check(store, under_a, "under-a")
        under_b = fill(store, "under-b")
        counts = store.rotate_keys()
        # The plaintext and A's values (B's are already under B); a line without an answer has no value to rotate.
        assert counts == {"jobs.body": 2, "jobs.response_body": 2, "idempotency.response_body": 2,
                          "files.content": 2, "batch_lines.body": 4, "batch_lines.response_body": 2,
                          "batch_lines.error": 2}
        assert set(store.rotate_keys().values()) == {0}  # nothing left: running it again is harmless
    for column, found in stored(database_url).items():
        for value in found:
            blob = base64.b64decode(value) if isinstance(value, str) else bytes(value)
            assert blob[1:5].hex() == key_id(KEY_B), column
    with opened(database_url, keys(KEY_B)) as store:
        for ids, tag in ((plain, "plain"), (under_a, "under-a"), (under_b, "under-b")):
            check(store, ids, tag)
    with opened(database_url, keys(KEY_A)) as store, pytest.raises(StoreError, match=key_id(KEY_B)):
        store.job(plain["job"])


def test_rotation_pages_through_many_rows(database_url: str) -> None:
    """More rows than a rotation batch, on tables with one- and two-column primary keys."""
    with opened(database_url, keys(KEY_A)) as store:
        upload = store.create_file(purpose="batch", filename="in.jsonl", content=b"{}\n", at=T0)
        batch_ids = [store.create_batch(endpoint="/v1/chat/completions", input_file_id=upload.id,
                                        completion_window="24h", metadata=None, at=T0, expires_at=T0 + DAY,
                                        lines=[(f"r{n}", {"n": n}) for n in count]).id
                     for count in (range(700), range(3))]
        for n in range(3):
            store.create_file(purpose="batch", filename=f"{n}.jsonl", content=f"{n}\n".encode(), at=T0)
    with opened(database_url, keys(KEY_B, KEY_A)) as store:
        counts = store.rotate_keys()
    assert (counts["batch_lines.body"], counts["files.content"]) == (703, 4)
    with opened(database_url, keys(KEY_B)) as store:
        assert [line.body for line in store.batch_lines(batch_ids[0])] == [{"n": n} for n in range(700)]
        assert store.file_content(upload.id) == b"{}\n"


def test_a_value_under_an_unknown_key_is_a_store_error_naming_the_key(database_url: str) -> None:
    with opened(database_url, keys(KEY_A)) as store:
        ids = fill(store, "secret")
    with opened(database_url, keys(KEY_B, KEY_C)) as store:
        for read in (lambda: store.job(ids["job"]), lambda: store.idempotent("acme", ids["key"]),
                     lambda: store.file_content(ids["file"]), lambda: list(store.batch_lines(ids["batch"])),
                     lambda: store.subject_data("cust-42"), store.rotate_keys):
            with pytest.raises(StoreError, match=f"key {key_id(KEY_A)}, which is not in RELEVE_DATA_KEYS"):
                read()
    # A store without keys refuses too: it never hands ciphertext out as content.
    with opened(database_url, None) as store, pytest.raises(StoreError, match="RELEVE_DATA_KEYS is not set"):
        store.file_content(ids["file"])


def test_a_ciphertext_moved_to_another_column_does_not_decrypt(database_url: str) -> None:
    with opened(database_url, keys(KEY_A)) as store:
        ids = fill(store, "moved")
    with raw(database_url) as connection:
        # A job's answer put in the place of an uploaded file; a request body in the place of a line's.
        answer = connection.execute(select(jobs.c.response_body).where(jobs.c.id == ids["job"])).scalar_one()
        connection.execute(update(files).where(files.c.id == ids["file"]).values(content=answer))
        body = connection.execute(select(jobs.c.body).where(jobs.c.id == ids["job"])).scalar_one()
        connection.execute(update(batch_lines).where(batch_lines.c.batch_id == ids["batch"],
                                                     batch_lines.c.line_no == 0).values(body=body))
    with opened(database_url, keys(KEY_A)) as store:
        with pytest.raises(StoreError, match="files.content: .* does not decrypt"):
            store.file_content(ids["file"])
        with pytest.raises(StoreError, match="batch_lines.body: .* does not decrypt"):
            list(store.batch_lines(ids["batch"]))
        assert store.job(ids["job"]) is not None  # the originals still decrypt


def test_an_altered_ciphertext_does_not_decrypt(database_url: str) -> None:
    with opened(database_url, keys(KEY_A)) as store:
        ids = fill(store, "altered")
    with raw(database_url) as connection:
        blob = bytearray(connection.execute(select(files.c.content).where(files.c.id == ids["file"])).scalar_one())
        blob[-1] ^= 1
        connection.execute(update(files).where(files.c.id == ids["file"]).values(content=bytes(blob)))
        connection.execute(update(jobs).where(jobs.c.id == ids["job"]).values(response_body=bytes(blob[:20])))
    with opened(database_url, keys(KEY_A)) as store:
        with pytest.raises(StoreError, match="does not decrypt"):
            store.file_content(ids["file"])
        with pytest.raises(StoreError, match="truncated"):
            store.job(ids["job"])


def test_the_stored_format_is_the_documented_one(database_url: str) -> None:
    """Version byte, key id, 12-byte nonce, AES-GCM output; associated data "table.column"."""
    content = b"Jeanne's file"
    with opened(database_url, keys(KEY_A, KEY_B)) as store:
        first = store.create_file(purpose="batch", filename="a", content=content, at=T0)
        second = store.create_file(purpose="batch", filename="b", content=content, at=T0)
    with raw(database_url) as connection:
        blobs = [bytes(connection.execute(select(files.c.content).where(files.c.id == f.id)).scalar_one())
                 for f in (first, second)]
    for blob in blobs:
        assert blob[0] == 0xC1 and blob[1:5] == hashlib.sha256(KEY_A).digest()[:4]
        assert len(blob) == 1 + 4 + 12 + len(content) + 16
        assert AESGCM(KEY_A).decrypt(blob[5:17], blob[17:], b"files.content") == content
    assert blobs[0][5:17] != blobs[1][5:17]  # a fresh nonce each time


def test_rotating_without_keys_is_refused(database_url: str) -> None:
    with opened(database_url, None) as store, pytest.raises(StoreError, match="nothing to encrypt with"):
        store.rotate_keys()


def _sqlite_bytes(db: Path) -> bytes:
    """The database file and its WAL after a checkpoint: what a copied disk or backup would hold."""
    with sqlite3.connect(db) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    return b"".join(path.read_bytes() for path in (db, db.with_name(db.name + "-wal")) if path.exists())


@pytest.mark.parametrize("encrypted", [True, False], ids=["keys", "no-keys"])
def test_the_sqlite_file_holds_no_plaintext_content_with_keys(tmp_path: Path, encrypted: bool) -> None:
    db = tmp_path / "releve.db"
    with opened(f"sqlite:///{db}", keys(KEY_A) if encrypted else None) as store:
        fill(store, "Zoe-Lambert-93e1")
        on_disk = _sqlite_bytes(db)
    for column in CONTENT:
        found = f"Zoe-Lambert-93e1 {column}".encode() in on_disk
        assert found is not encrypted, column
    assert (b"Zoe-Lambert-93e1" in on_disk) is not encrypted
