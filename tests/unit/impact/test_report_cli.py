"""`releve report`: HTML, PDF and Markdown for an incident and for a period; PDFs a reader can see."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from releve.cli import app
from releve.impact import minute_floor
from releve.store import Store
from support.pdf import first_page_ink
from unit.impact._report_support import Seeded, seed, write_config


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Seeded]:
    """A config and its store, seeded with the scripted outage 40 minutes ago (so `--period 1h` covers it)."""
    database = tmp_path / "releve.db"
    path = write_config(tmp_path, database)
    store = Store(f"sqlite:///{database}")
    store.open()
    try:
        seeded = seed(store, minute_floor(datetime.now(UTC)) - timedelta(minutes=40))
    finally:
        store.close()
    return path, seeded


def invoke(runner: CliRunner, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["report", *args], env={"COLUMNS": "200"})
    return result.exit_code, result.output


def test_incident_report_in_both_languages(runner: CliRunner, setup: tuple[Path, Seeded], tmp_path: Path) -> None:
    config, seeded = setup
    out = tmp_path / "reports"
    code, output = invoke(runner, seeded.resolved, "--out", str(out), "-c", str(config))
    assert code == 0, output
    stem = f"incident-{seeded.resolved}"
    written = sorted(path.name for path in out.iterdir())
    assert written == sorted(f"{stem}.{lang}.{ext}" for lang in ("fr", "en") for ext in ("html", "pdf", "md"))
    for name in written:
        assert str(out / name) in output
    assert "support" in output and "52.00" in output and "130.00" in output   # incurred and avoided
    assert (out / f"{stem}.en.pdf").read_bytes().startswith(b"%PDF")
    assert first_page_ink(out / f"{stem}.fr.pdf") > 0.01
    assert "Rapport post-incident" in (out / f"{stem}.fr.html").read_text(encoding="utf-8")
    assert "Post-incident report" in (out / f"{stem}.en.md").read_text(encoding="utf-8")


def test_period_report(runner: CliRunner, setup: tuple[Path, Seeded], tmp_path: Path) -> None:
    config, seeded = setup
    out = tmp_path / "period"
    code, output = invoke(runner, "--period", "1h", "--lang", "en", "--out", str(out), "-c", str(config))
    assert code == 0, output
    pdfs = list(out.glob("period-*.en.pdf"))
    assert len(pdfs) == 1 and len(list(out.iterdir())) == 3
    assert first_page_ink(pdfs[0]) > 0.01
    markdown = next(out.glob("period-*.en.md")).read_text(encoding="utf-8")
    assert seeded.resolved in markdown and seeded.open in markdown
    assert "sales" in output and "total" in output


@pytest.mark.parametrize(("args", "message"), [
    ([], "give an incident id or --period"),
    (["abc", "--period", "30d"], "not both"),
    (["nope"], "no incident 'nope'"),
    (["--period", "soon"], "--period: 'soon' is not a duration"),
    (["--period", "0s"], "--period must be longer than 0"),
    (["--period", "1d", "--lang", "de"], "--lang 'de': choose fr, en or both"),
])
def test_usage_errors_exit_2(runner: CliRunner, setup: tuple[Path, Seeded], tmp_path: Path, args: list[str],
                             message: str) -> None:
    config, _ = setup
    code, output = invoke(runner, *args, "--out", str(tmp_path / "none"), "-c", str(config))
    assert code == 2 and message in output
    assert not (tmp_path / "none").exists()
