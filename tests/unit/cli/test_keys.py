"""`releve keys generate|rotate`: a new key, and rotation of the stored content under RELEVE_DATA_KEYS's first key."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from releve.cli import app
from releve.store import ContentKeys, Store

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def config(tmp_path: Path) -> Path:
    path = tmp_path / "releve.yaml"
    path.write_text(f"""
auth: none
storage: {{url: "sqlite:///{tmp_path / 'releve.db'}"}}
providers:
  a: {{kind: openai-compatible, base_url: "http://127.0.0.1:1/v1"}}
routes:
  chat: {{targets: [{{provider: a, model: m}}]}}
""")
    return path


def generate(runner: CliRunner) -> str:
    result = runner.invoke(app, ["keys", "generate"])
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def test_generate_prints_a_new_base64_key(runner: CliRunner) -> None:
    first, second = generate(runner), generate(runner)
    assert first != second
    assert len(base64.b64decode(first, validate=True)) == 32


def test_rotate_re_encrypts_under_the_first_key(runner: CliRunner, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    old, new = generate(runner), generate(runner)
    url = f"sqlite:///{tmp_path / 'releve.db'}"
    store = Store(url, keys=ContentKeys.from_environ({"RELEVE_DATA_KEYS": old}))
    store.open()
    try:
        job = store.create_job(route="chat", operation="chat", body={"model": "chat", "messages": []}, client=None,
                               callback_url=None, at=T0, expires_at=T0 + timedelta(days=1))
        upload = store.create_file(purpose="batch", filename="in.jsonl", content=b"{}\n", at=T0)
    finally:
        store.close()

    monkeypatch.setenv("RELEVE_DATA_KEYS", f"{new},{old}")
    result = runner.invoke(app, ["keys", "rotate", "-c", str(config(tmp_path))])
    assert result.exit_code == 0, result.output
    current = ContentKeys.from_environ({"RELEVE_DATA_KEYS": new})
    assert current is not None
    assert f"re-encrypted 2 values under key {current.current}: jobs.body 1, " in result.stdout
    assert "files.content 1" in result.stdout

    store = Store(url, keys=current)
    store.open()
    try:
        stored = store.job(job.id)
        assert stored is not None and stored.body == {"model": "chat", "messages": []}
        assert store.file_content(upload.id) == b"{}\n"
    finally:
        store.close()


def test_rotate_without_keys_says_so(runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RELEVE_DATA_KEYS", raising=False)
    result = runner.invoke(app, ["keys", "rotate", "-c", str(config(tmp_path))])
    assert result.exit_code == 2
    assert "RELEVE_DATA_KEYS is not set" in " ".join(result.output.split())
    assert not (tmp_path / "releve.db").exists()  # nothing opened


def test_rotate_with_a_malformed_key_says_which(runner: CliRunner, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELEVE_DATA_KEYS", f"{generate(runner)},c2hvcnQ=")
    result = runner.invoke(app, ["keys", "rotate", "-c", str(config(tmp_path))])
    assert result.exit_code == 2
    assert "RELEVE_DATA_KEYS: key 2 is 5 bytes" in " ".join(result.output.split())


def test_rotate_with_a_missing_old_key_names_it(runner: CliRunner, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    old = generate(runner)
    old_keys = ContentKeys.from_environ({"RELEVE_DATA_KEYS": old})
    assert old_keys is not None
    store = Store(f"sqlite:///{tmp_path / 'releve.db'}", keys=old_keys)
    store.open()
    try:
        store.create_file(purpose="batch", filename="in.jsonl", content=b"{}\n", at=T0)
    finally:
        store.close()
    monkeypatch.setenv("RELEVE_DATA_KEYS", generate(runner))  # the old key left out too early
    result = runner.invoke(app, ["keys", "rotate", "-c", str(config(tmp_path))])
    assert result.exit_code == 2
    assert f"encrypted with key {old_keys.current}" in " ".join(result.output.split())
