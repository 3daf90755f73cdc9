"""Issue 10, acceptance 3: backups in an S3-compatible bucket (moto's server on 127.0.0.1): backup, list, restore,
a corrupted object refused, an interrupted backup never listed."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import orjson
import pytest
from botocore.config import Config as BotoConfig
from moto.server import ThreadedMotoServer
from typer.testing import CliRunner

from releve.cli import app
from releve.config import Config, config_from_mapping
from releve.recovery import (
    BackupError,
    RestoreError,
    S3Destination,
    check_backups,
    create_backup,
    list_backups,
    open_destination,
    restore_backup,
)
from releve.store import Impact, Store, Text

BUCKET = "releve-backups"
T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


def now() -> datetime:
    return datetime.now(UTC)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def s3_server() -> Iterator[str]:
    """moto's S3 on 127.0.0.1, for this module."""
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def endpoint(s3_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh bucket; credentials and the endpoint in the environment, as an operator would set them."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server)
    monkeypatch.delenv("RELEVE_CONFIG", raising=False)
    monkeypatch.delenv("RELEVE_BACKUP_KEY", raising=False)
    monkeypatch.delenv("RELEVE_BACKUP_PASSPHRASE", raising=False)
    s3 = client(s3_server)
    s3.create_bucket(Bucket=BUCKET)
    yield s3_server
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for item in page.get("Contents", []):
            s3.delete_object(Bucket=BUCKET, Key=item["Key"])
    s3.delete_bucket(Bucket=BUCKET)


def client(endpoint: str) -> Any:
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
                        aws_secret_access_key="testing")


def raw_config(db: Path) -> dict[str, object]:
    return {"auth": "none", "storage": {"url": f"sqlite:///{db}"},
            "providers": {"a": {"kind": "openai-compatible", "base_url": "http://127.0.0.1:1/v1"}},
            "routes": {"chat": {"targets": [{"provider": "a", "model": "m"}]}},
            "backup": {"to": f"s3://{BUCKET}/releve/prod"}}


@pytest.fixture
def cfg(tmp_path: Path) -> Config:
    db = tmp_path / "releve.db"
    store = Store(f"sqlite:///{db}")
    store.open()
    try:
        for n in range(4):
            store.open_incident(name=Text(f"Panne {n}", f"Outage {n}"), body=Text("Enquête", "Investigating"),
                                impact=Impact.MINOR, components=[], affected=[], at=T0 + timedelta(minutes=n),
                                automatic=False)
    finally:
        store.close()
    return config_from_mapping(raw_config(db))


def test_backup_list_and_restore_through_the_cli(endpoint: str, tmp_path: Path, cfg: Config) -> None:
    config_path = tmp_path / "releve.yaml"
    config_path.write_bytes(orjson.dumps(raw_config(tmp_path / "releve.db")))
    runner = CliRunner()
    taken = runner.invoke(app, ["backup", "-c", str(config_path)])  # the destination is backup.to
    assert taken.exit_code == 0, taken.output
    [manifest] = list_backups(f"s3://{BUCKET}/releve/prod")
    assert f"at s3://{BUCKET}/releve/prod/{manifest.id}" in taken.output
    keys = sorted(item["Key"] for item in client(endpoint).list_objects_v2(Bucket=BUCKET)["Contents"])
    assert keys == [f"releve/prod/{manifest.id}/manifest.json", f"releve/prod/{manifest.id}/releve.db.0000.zst"]

    listing = runner.invoke(app, ["backup", "list", "-c", str(config_path)])
    assert listing.exit_code == 0 and manifest.id in listing.output, listing.output

    target = tmp_path / "restored" / "releve.db"
    restored = runner.invoke(app, ["restore", manifest.id, "--to", str(target), "-c", str(config_path)])
    assert restored.exit_code == 0, restored.output
    assert "integrity ok" in restored.output
    result = restore_backup(cfg, "latest", dest=f"s3://{BUCKET}/releve/prod", to=tmp_path / "again.db",
                            environ={}, wall=now)
    assert result.row_counts["incidents"] == 4 and result.row_counts == manifest.row_counts


def test_a_corrupted_object_is_refused_naming_it_and_an_interrupted_backup_is_not_listed(
        endpoint: str, tmp_path: Path, cfg: Config) -> None:
    dest = open_destination(f"s3://{BUCKET}/nightly/", endpoint_url=endpoint)
    assert isinstance(dest, S3Destination) and dest.describe() == f"s3://{BUCKET}/nightly"
    good = create_backup(cfg, dest, environ={}, wall=now, part_size=1024)
    bad = create_backup(cfg, dest, environ={}, wall=now, part_size=1024)
    cut = create_backup(cfg, dest, environ={}, wall=now, part_size=1024)
    s3 = client(endpoint)
    part = bad.files[1].name
    key = f"nightly/{bad.id}/{part}"
    data = bytearray(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    data[len(data) // 2] ^= 0x01
    s3.put_object(Bucket=BUCKET, Key=key, Body=bytes(data))
    s3.delete_object(Bucket=BUCKET, Key=f"nightly/{cut.id}/manifest.json")  # as if killed before the manifest

    assert [m.id for m in list_backups(dest)] == [good.id, bad.id]
    assert {c.id: c.problem for c in check_backups(dest)}[cut.id] == "no manifest: the backup did not finish"
    with pytest.raises(RestoreError, match=rf"{part}: SHA-256 .* does not match the manifest's .*corrupted"):
        restore_backup(cfg, bad.id, dest=dest, to=tmp_path / "bad.db", environ={}, wall=now)
    with pytest.raises(RestoreError, match="did not finish"):
        restore_backup(cfg, cut.id, dest=dest, to=tmp_path / "cut.db", environ={}, wall=now)
    assert not (tmp_path / "bad.db").exists() and not (tmp_path / "cut.db").exists()
    result = restore_backup(cfg, good.id, dest=dest, to=tmp_path / "good.db", environ={}, wall=now)
    assert result.integrity == "ok" and len(good.files) > 1


def test_an_unreachable_or_missing_bucket_is_a_clear_error(endpoint: str, tmp_path: Path, cfg: Config) -> None:
    with pytest.raises(BackupError, match=r"cannot write s3://no-such-bucket/.*NoSuchBucket"):
        create_backup(cfg, open_destination("s3://no-such-bucket/x", endpoint_url=endpoint), environ={}, wall=now)
    with pytest.raises(BackupError, match="an S3 destination is s3://bucket/prefix"):
        open_destination("s3:///nobucket")
    closed = f"http://127.0.0.1:{_free_port()}"
    unreachable = S3Destination(BUCKET, "x", client=boto3.client(
        "s3", endpoint_url=closed, region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t",
        config=BotoConfig(retries={"max_attempts": 1}, connect_timeout=1)))
    with pytest.raises(BackupError, match=rf"cannot list s3://{BUCKET}/x/: EndpointConnectionError"):
        list_backups(unreachable)


def test_prune_deletes_objects_manifest_first(endpoint: str, cfg: Config) -> None:
    from releve.recovery import prune_backups

    dest = open_destination(f"s3://{BUCKET}/pruned", endpoint_url=endpoint)
    old = create_backup(cfg, dest, environ={}, wall=lambda: T0, part_size=1024)
    new = create_backup(cfg, dest, environ={}, wall=lambda: T0 + timedelta(days=1), part_size=1024)
    result = prune_backups(dest, hourly=0, daily=1, weekly=0, now=T0 + timedelta(days=1, hours=1))
    assert result.removed == (old.id,) and result.kept == (new.id,)
    keys = {item["Key"] for item in client(endpoint).list_objects_v2(Bucket=BUCKET, Prefix="pruned/")["Contents"]}
    assert keys == {f"pruned/{new.id}/{name}" for name in ["manifest.json", *(p.name for p in new.files)]}
