"""`releve subject export|erase`: the JSON export on stdout or in a file, erasure with or without confirmation, and
its entry in the audit log, which `verify_store` accepts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from releve.cli import app
from releve.protect import subject_hash, verify_store
from releve.store import Store

T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
KEY = "subject-cli-key"
EMAIL = "jeanne.martin@example.org"


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("RELEVE_AUDIT_KEY", KEY)
    monkeypatch.delenv("RELEVE_CONFIG", raising=False)
    return CliRunner()


@pytest.fixture
def url(tmp_path: Path) -> str:
    """A store holding a job for cust-42 and one for cust-7, after one audit entry written with the key."""
    url = f"sqlite:///{tmp_path / 'releve.db'}"
    store = Store(url)
    store.open()
    try:
        for subject, email in (("cust-42", EMAIL), ("cust-7", "paul.durand@example.com")):
            store.create_job(route="chat", operation="chat", client=None, callback_url=None, at=T0,
                             expires_at=T0 + timedelta(hours=1), subject=subject,
                             body={"model": "chat", "messages": [{"role": "user", "content": f"Écrire à {email}"}]})
        store.append_audit([(T0, "config", "gateway", {"sha256": "0" * 64})], key=KEY.encode())
    finally:
        store.close()
    return url


@pytest.fixture
def config(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "releve.yaml"
    path.write_text(f"""
auth: none
storage: {{url: "{url}"}}
providers:
  a: {{kind: openai-compatible, base_url: "http://127.0.0.1:1/v1"}}
routes:
  chat: {{targets: [{{provider: a, model: m}}]}}
""")
    return path


def _open(url: str) -> Store:
    store = Store(url)
    store.open()
    return store


def test_export_to_stdout_and_to_a_file(runner: CliRunner, config: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["subject", "export", "cust-42", "-c", str(config)])
    assert result.exit_code == 0, result.output
    exported = orjson.loads(result.stdout)
    assert exported["subject"] == "cust-42"
    assert [job["body"]["messages"][0]["content"] for job in exported["data"]["jobs"]] == [f"Écrire à {EMAIL}"]
    assert "response cache" in [item["what"] for item in exported["not_stored"]]
    assert "exported 1 jobs, 0 idempotency, 0 files, 0 batches" in result.stderr

    out = tmp_path / "cust-42.json"
    result = runner.invoke(app, ["subject", "export", "cust-42", "--out", str(out), "-c", str(config)])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert orjson.loads(out.read_bytes())["data"] == exported["data"]
    assert f"to {out}" in result.stderr


def test_erase_with_yes_erases_and_writes_a_verifiable_audit_entry(runner: CliRunner, config: Path,
                                                                    url: str) -> None:
    result = runner.invoke(app, ["subject", "erase", "cust-42", "--yes", "-c", str(config)])
    assert result.exit_code == 0, result.output
    assert "erased 1 rows: jobs 1, idempotency 0, files 0, batches 0, batch_lines 0" in result.stdout
    store = _open(url)
    try:
        assert store.subject_data("cust-42")["jobs"] == []
        assert len(store.subject_data("cust-7")["jobs"]) == 1
        entries = list(store.audit_entries())
        assert [(e.seq, e.kind, e.actor) for e in entries] == [(1, "config", "gateway"), (2, "erasure", "cli")]
        assert entries[-1].data == {"subject_hash": subject_hash("cust-42"),
                                    "counts": {"jobs": 1, "idempotency": 0, "files": 0, "batches": 0,
                                               "batch_lines": 0}}
        assert "cust-42" not in orjson.dumps(entries[-1].data).decode()
        result_of_verify = verify_store(store, key=KEY.encode())
        assert result_of_verify.ok and result_of_verify.signed and result_of_verify.checked == 2
    finally:
        store.close()
    verified = runner.invoke(app, ["audit", "verify", "-c", str(config)])
    assert verified.exit_code == 0 and "intact: 2 entries, seq 1..2, head signature verified" in verified.stdout


def test_erase_asks_first(runner: CliRunner, config: Path, url: str) -> None:
    result = runner.invoke(app, ["subject", "erase", "cust-42", "-c", str(config)], input="n\n")
    assert result.exit_code == 1
    assert "cannot be undone" in result.stdout and "nothing erased" in result.stderr
    store = _open(url)
    try:
        assert len(store.subject_data("cust-42")["jobs"]) == 1
        assert len(list(store.audit_entries())) == 1
    finally:
        store.close()
    result = runner.invoke(app, ["subject", "erase", "cust-42", "-c", str(config)], input="y\n")
    assert result.exit_code == 0, result.output
    assert "erased 1 rows" in result.stdout


def test_a_bad_subject_id_or_store_is_an_error(runner: CliRunner, config: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["subject", "export", "x" * 300, "-c", str(config)])
    assert result.exit_code == 2 and "1 to 255" in result.stderr
    broken = tmp_path / "broken.yaml"
    broken.write_text(config.read_text().replace(str(tmp_path / "releve.db"), str(tmp_path / "no" / "dir.db")))
    result = runner.invoke(app, ["subject", "erase", "cust-42", "--yes", "-c", str(broken)])
    assert result.exit_code == 2 and "error" in result.stderr
    result = runner.invoke(app, ["subject", "export", "cust-42", "--out", str(tmp_path / "no" / "x.json"),
                                 "-c", str(config)])
    assert result.exit_code == 2 and "cannot write" in result.stderr
