"""`releve plan`: HTML and PDF in both languages, a first page with ink on it, and no secret."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from releve.cli import app
from support.pdf import first_page_ink
from unit.impact._plan_support import CONFIG, SECRETS


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """`releve plan` run once for the module (WeasyPrint takes a second or two per document)."""
    directory = tmp_path_factory.mktemp("plan")
    config = directory / "releve.yaml"
    config.write_text(CONFIG)
    result = CliRunner().invoke(app, ["plan", "--config", str(config), "--out", str(directory / "out")],
                                env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    return directory / "out", result.output


def test_writes_html_and_pdf_in_both_languages(written: tuple[Path, str]) -> None:
    out, output = written
    names = {"releve-plan.fr.html", "releve-plan.fr.pdf", "releve-plan.en.html", "releve-plan.en.pdf"}
    assert {path.name for path in out.iterdir()} == names
    for name in names:
        assert f"wrote {out / name}" in output
    assert "6 finding(s), 6 warning(s)" in output
    assert 'lang="fr"' in (out / "releve-plan.fr.html").read_text()
    assert 'lang="en"' in (out / "releve-plan.en.html").read_text()


@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_pdf_first_page_is_not_blank(written: tuple[Path, str], language: str, tmp_path: Path) -> None:
    pdf = written[0] / f"releve-plan.{language}.pdf"
    assert pdf.read_bytes().startswith(b"%PDF")
    assert first_page_ink(pdf, tmp_path / f"first-page.{language}.png") > 0.01


@pytest.mark.parametrize("language", ["fr", "en"])
def test_no_secret_in_what_the_pdf_is_made_from(written: tuple[Path, str], language: str) -> None:
    html = (written[0] / f"releve-plan.{language}.html").read_text()
    assert "<svg" in html and 'class="bia"' in html
    for secret in SECRETS:
        assert secret not in html


def test_one_language(tmp_path: Path) -> None:
    config = tmp_path / "releve.yaml"
    config.write_text("""
auth: none
providers: {a: {kind: openai-compatible, base_url: "http://127.0.0.1:1/v1"}}
routes: {chat: {targets: [{provider: a, model: m}]}}
""")
    result = CliRunner().invoke(app, ["plan", "-c", str(config), "--out", str(tmp_path / "p"), "--lang", "en"])
    assert result.exit_code == 0, result.output
    assert sorted(path.name for path in (tmp_path / "p").iterdir()) == ["releve-plan.en.html", "releve-plan.en.pdf"]


def test_a_bad_language_or_config_is_refused(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["plan", "--lang", "de", "-c", str(tmp_path / "x.yaml")]).exit_code == 2
    result = runner.invoke(app, ["plan", "-c", str(tmp_path / "missing.yaml"), "--out", str(tmp_path / "p")])
    assert result.exit_code == 2 and not (tmp_path / "p").exists()
