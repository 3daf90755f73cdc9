"""Helpers for the browser tests: Debian's chromium through Playwright, and screenshots kept for notes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from playwright import sync_api

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"


def open_page(browser: sync_api.Browser, url: str, **context: object) -> sync_api.Page:
    page = browser.new_context(viewport={"width": 1000, "height": 900}, **context).new_page()  # type: ignore[arg-type]
    page.on("dialog", lambda dialog: pytest.fail(f"operator text ran as script: {dialog.message}"))
    response = page.goto(url)
    assert response is not None and response.status == 200
    return page


def screenshot(page: sync_api.Page, tmp_path: Path, name: str) -> Path:
    """Saved under the test's tmp dir and copied to build/screenshots/ (git-ignored) for notes to cite."""
    path = tmp_path / name
    page.screenshot(path=str(path), full_page=True)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, SCREENSHOTS / name)
    print(f"screenshot: {path} (copied to {SCREENSHOTS / name})")
    return path
