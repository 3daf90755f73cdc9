"""The status page in a real browser (Debian's headless Chromium), served by uvicorn, as a customer sees it.

Playwright only drives /usr/bin/chromium; it never downloads a browser. Screenshots go under the test's
tmp dir and are copied to build/screenshots/ (git-ignored) for the notes that cite them.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import uvicorn
from playwright import sync_api

from e2e._browser import open_page, screenshot
from releve.config import StatusPageConfig
from releve.status import StatusPage
from releve.store import Store
from unit.status._support import seed


class PageServer:
    """A StatusPage on uvicorn in a thread, on a port the OS picks."""

    def __init__(self, app: StatusPage) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        config = uvicorn.Config(app, lifespan="off", log_config=None, access_log=False, loop="asyncio")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=lambda: asyncio.run(self._server.serve(sockets=[self._sock])),
                                        name="status-page", daemon=True)

    def __enter__(self) -> PageServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            assert time.monotonic() < deadline and self._thread.is_alive(), "uvicorn did not start"
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PageServer]:
    """A store holding an open incident with updates in both languages, and its page."""
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('store')}/r.db")
    store.open()
    seed(store, datetime.now(UTC))
    app = StatusPage(store, StatusPageConfig(), now=lambda: datetime.now(UTC))
    with PageServer(app) as running:
        yield running
    store.close()


def test_a_french_customer_sees_the_outage(browser: sync_api.Browser, server: PageServer, tmp_path: Path) -> None:
    """Accept-Language fr-FR: everything in French, the state in words, operator text shown as text."""
    page = open_page(browser, f"{server.url}/status", locale="fr-FR")
    assert page.locator("html").get_attribute("lang") == "fr"
    banner = page.locator(".banner")
    sync_api.expect(banner).to_have_text("Panne majeure du système")
    support = page.locator("#component-process\\:support")
    sync_api.expect(support.locator("h3")).to_have_text("Support client")
    sync_api.expect(support.locator(".state")).to_have_text("Panne majeure")
    sync_api.expect(page.locator("#component-process\\:search .state")).to_have_text("Opérationnel")
    active = page.get_by_role("region", name="Incidents en cours")
    sync_api.expect(active.get_by_role("heading", name="Support client indisponible")).to_be_visible()
    sync_api.expect(active).to_contain_text("Bascule vers le fournisseur de secours en cours.")
    sync_api.expect(active).to_contain_text("Cause identifiée")
    sync_api.expect(active).to_contain_text("Le fournisseur <script>alert('fr')</script> & co répond mal.")
    sync_api.expect(page.get_by_role("region", name="Maintenances")).to_contain_text("Migration de la base")
    sync_api.expect(page.get_by_role("region", name="Incidents des 14 derniers jours")).to_contain_text(
        "Recherche lente")
    bar = page.get_by_role("list", name="Historique de disponibilité sur 90 jours de Support client")
    days = bar.get_by_role("listitem")
    sync_api.expect(days).to_have_count(90)
    assert "\u00a0: " in (days.nth(88).get_attribute("title") or "")
    assert "%" in days.nth(88).inner_text() or "données" in days.nth(88).inner_text()
    for landmark in ("banner", "main", "contentinfo", "navigation"):
        sync_api.expect(page.get_by_role(landmark)).to_have_count(1)
    screenshot(page, tmp_path, "status-fr.png")


def test_the_language_switch_works_by_clicking(browser: sync_api.Browser, server: PageServer, tmp_path: Path) -> None:
    page = open_page(browser, f"{server.url}/status", locale="fr-FR")
    page.get_by_role("navigation", name="Langue").get_by_role("link", name="English").click()
    page.wait_for_url("**/status?lang=en")
    assert page.locator("html").get_attribute("lang") == "en"
    sync_api.expect(page.locator(".banner")).to_have_text("Major System Outage")
    sync_api.expect(page.locator("#component-process\\:support .state")).to_have_text("Major outage")
    active = page.get_by_role("region", name="Active incidents")
    sync_api.expect(active).to_contain_text("Failing over to the backup provider.")
    sync_api.expect(active).not_to_contain_text("Bascule")
    current = page.get_by_role("navigation", name="Language").get_by_role("link", name="English")
    assert current.get_attribute("aria-current") == "true" and current.get_attribute("hreflang") == "en"
    page.get_by_role("link", name="Français").click()
    page.wait_for_url("**/status?lang=fr")
    sync_api.expect(page.locator(".banner")).to_have_text("Panne majeure du système")


def test_english_by_query_string(browser: sync_api.Browser, server: PageServer, tmp_path: Path) -> None:
    page = open_page(browser, f"{server.url}/status?lang=en", locale="fr-FR")
    assert page.locator("html").get_attribute("lang") == "en"
    sync_api.expect(page.locator("#component-process\\:support h3")).to_have_text("Customer support")
    sync_api.expect(page.get_by_role("region", name="Active incidents")).to_contain_text(
        "The provider <script>alert('en')</script> & co is failing.")
    screenshot(page, tmp_path, "status-en.png")


def _colours(page: sync_api.Page) -> dict[str, str]:
    return page.evaluate("""() => {
        const style = (selector) => getComputedStyle(document.querySelector(selector));
        return {body: style('body').backgroundColor, text: style('body').color,
                banner: style('.banner').backgroundColor, bannerText: style('.banner h2').color};
    }""")


def _contrast(a: str, b: str) -> float:
    def luminance(rgb: str) -> float:
        channels = [int(part) / 255 for part in rgb[rgb.index("(") + 1:rgb.index(")")].split(",")[:3]]
        linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_dark_mode(browser: sync_api.Browser, server: PageServer, tmp_path: Path) -> None:
    """prefers-color-scheme: dark gives a dark page; text keeps its contrast in both themes."""
    dark = _colours(open_page(browser, f"{server.url}/status", color_scheme="dark", locale="en-US"))
    light = _colours(open_page(browser, f"{server.url}/status", color_scheme="light", locale="en-US"))
    assert dark["body"] == "rgb(13, 17, 23)" and light["body"] == "rgb(255, 255, 255)"
    for colours in (dark, light):
        assert _contrast(colours["text"], colours["body"]) >= 4.5
        assert _contrast(colours["bannerText"], colours["banner"]) >= 4.5
    page = open_page(browser, f"{server.url}/status", color_scheme="dark", locale="fr-FR")
    screenshot(page, tmp_path, "status-fr-dark.png")


def test_readable_without_javascript(browser: sync_api.Browser, server: PageServer) -> None:
    page = open_page(browser, f"{server.url}/status?lang=en", java_script_enabled=False)
    sync_api.expect(page.locator(".banner")).to_have_text("Major System Outage")
    sync_api.expect(page.get_by_role("region", name="Components")).to_contain_text("Customer support")
