"""Documents from templates: HTML (Jinja2, autoescaped), PDF (WeasyPrint) and Markdown, in French or English.

Reports and the plan are read by managers, customers and authorities, often
printed: WeasyPrint lays out the same HTML as paged PDF, with no browser.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

__all__ = ["html_to_pdf", "render", "write_documents"]


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("releve.impact", "templates"),
        autoescape=jinja2.select_autoescape(["html", "svg"], default_for_string=True, default=False),
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
    )
    return environment


def render(template: str, context: Mapping[str, Any]) -> str:
    """A template of `impact/templates/` with `context`; `.md` templates are not HTML-escaped."""
    return _environment().get_template(template).render(**context)


def html_to_pdf(html: str) -> bytes:
    import weasyprint  # imported here: it loads Pango and fonts, which `releve --help` need not wait for

    # WeasyPrint and fontTools log every font subsetting step at INFO/WARNING; a report is not the place.
    for name in ("weasyprint", "fontTools"):
        logging.getLogger(name).setLevel(logging.ERROR)
    pdf: bytes = weasyprint.HTML(string=html).write_pdf()
    return pdf


def write_documents(directory: Path, stem: str, html: str, markdown: str | None = None) -> dict[str, Path]:
    """Write `stem.html`, `stem.pdf` (and `stem.md`) into `directory`; return their paths by format."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = {"html": directory / f"{stem}.html", "pdf": directory / f"{stem}.pdf"}
    paths["html"].write_text(html, encoding="utf-8")
    paths["pdf"].write_bytes(html_to_pdf(html))
    if markdown is not None:
        paths["md"] = directory / f"{stem}.md"
        paths["md"].write_text(markdown, encoding="utf-8")
    return paths
