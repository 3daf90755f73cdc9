"""`releve audit verify|export`: exit 0 when intact, 1 naming the broken entry, 2 when nothing could be read."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from releve.cli import app
from releve.store import Store

T0 = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)
KEY = "audit-test-key"


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.delenv("RELEVE_AUDIT_KEY", raising=False)
    monkeypatch.delenv("RELEVE_CONFIG", raising=False)
    return CliRunner()


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A configuration whose store holds five entries (written with the key), two of them on 2 November."""
    path = tmp_path / "releve.yaml"
    path.write_text(f"""
auth: none
storage: {{url: "sqlite:///{tmp_path / 'releve.db'}"}}
providers:
  a: {{kind: openai-compatible, base_url: "http://127.0.0.1:1/v1"}}
routes:
  chat: {{targets: [{{provider: a, model: m}}]}}
""")
    store = Store(f"sqlite:///{tmp_path / 'releve.db'}")
    store.open()
    try:
        store.append_audit([(T0 + timedelta(hours=10 * n), "request", "gateway", {"route": "chat", "n": n})
                            for n in range(5)], key=KEY.encode())
    finally:
        store.close()
    return path


def test_verify_the_store(runner: CliRunner, config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = runner.invoke(app, ["audit", "verify", "-c", str(config)])
    assert result.exit_code == 0, result.output
    assert "intact: 5 entries, seq 1..5" in result.stdout
    assert "signature is not checked" in result.stdout
    monkeypatch.setenv("RELEVE_AUDIT_KEY", KEY)
    result = runner.invoke(app, ["audit", "verify", "-c", str(config)])
    assert result.exit_code == 0, result.output
    assert "intact: 5 entries, seq 1..5, head signature verified" in result.stdout
    monkeypatch.setenv("RELEVE_AUDIT_KEY", "another key")
    result = runner.invoke(app, ["audit", "verify", "-c", str(config)])
    assert result.exit_code == 1 and "signature does not match" in result.stdout


def test_verify_names_the_broken_entry(runner: CliRunner, config: Path, tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "releve.db") as db:
        db.execute("UPDATE audit_log SET data = '{\"n\":9,\"route\":\"chat\"}' WHERE seq = 2")
        db.execute("DELETE FROM audit_log WHERE seq = 4")
    db.close()
    result = runner.invoke(app, ["audit", "verify", "-c", str(config)])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert "BROKEN at entry 2 (seq 2): content edited: it no longer matches its hash" in lines
    assert "2 problems in 4 entries checked:" in lines
    assert "  entry 4 (seq 5): seq 4 missing (deleted)" in lines


def test_export_then_verify_the_file(runner: CliRunner, config: Path, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "audit.jsonl"
    result = runner.invoke(app, ["audit", "export", "--out", str(out), "-c", str(config)])
    assert result.exit_code == 0, result.output
    assert f"exported 5 entries and the head to {out}" in result.stderr
    lines = out.read_bytes().splitlines(keepends=True)
    assert [orjson.loads(line).get("seq") for line in lines] == [1, 2, 3, 4, 5, 5]
    monkeypatch.setenv("RELEVE_AUDIT_KEY", KEY)
    result = runner.invoke(app, ["audit", "verify", "--file", str(out)])
    assert result.exit_code == 0, result.output
    assert "intact: 5 entries, seq 1..5, head signature verified" in result.stdout

    changed = bytearray(out.read_bytes())
    changed[changed.index(b'"n":3') + 4] = ord("7")
    out.write_bytes(bytes(changed))
    result = runner.invoke(app, ["audit", "verify", "--file", str(out)])
    assert result.exit_code == 1
    assert "BROKEN at entry 4 (seq 4): content edited" in result.stdout


def test_export_to_standard_output(runner: CliRunner, config: Path) -> None:
    result = runner.invoke(app, ["audit", "export", "-c", str(config)])
    assert result.exit_code == 0, result.output
    lines = result.stdout_bytes.splitlines()
    assert len(lines) == 6 and orjson.loads(lines[-1])["seq"] == 5
    assert "exported 5 entries and the head" in result.stderr


def test_an_export_since_a_date_says_what_it_covers(runner: CliRunner, config: Path, tmp_path: Path) -> None:
    out = tmp_path / "since.jsonl"
    result = runner.invoke(app, ["audit", "export", "--since", "2026-11-02", "--out", str(out), "-c", str(config)])
    assert result.exit_code == 0, result.output
    assert "verifiable from its first entry's prev_hash on" in result.stderr
    assert [orjson.loads(line).get("seq") for line in out.read_bytes().splitlines()] == [3, 4, 5, 5]
    result = runner.invoke(app, ["audit", "verify", "--file", str(out)])
    assert result.exit_code == 0, result.output
    assert "checked from seq 3's prev_hash on; entries before seq 3 are not covered" in result.stdout
    assert "intact: 3 entries, seq 3..5" in result.stdout
    result = runner.invoke(app, ["audit", "export", "--since", "2026-11-02T07:00:00+02:00", "-c", str(config)])
    assert [orjson.loads(line).get("seq") for line in result.stdout_bytes.splitlines()] == [3, 4, 5, 5]


def test_what_cannot_be_read_exits_2(runner: CliRunner, config: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["audit", "verify", "--file", str(tmp_path / "missing.jsonl")])
    assert result.exit_code == 2 and "cannot read" in result.stderr
    result = runner.invoke(app, ["audit", "export", "--since", "last tuesday", "-c", str(config)])
    assert result.exit_code == 2 and "--since" in result.stderr
    result = runner.invoke(app, ["audit", "export", "--out", str(tmp_path / "no" / "dir.jsonl"), "-c", str(config)])
    assert result.exit_code == 2 and "cannot write" in result.stderr
    broken = tmp_path / "broken.yaml"
    broken.write_text(config.read_text().replace(str(tmp_path / "releve.db"), str(tmp_path / "no" / "x.db")))
    for command in ("verify", "export"):
        result = runner.invoke(app, ["audit", command, "-c", str(broken)])
        assert result.exit_code == 2 and "error:" in result.stderr
