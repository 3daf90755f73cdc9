"""The whole chain in a browser: a provider fails under traffic, the monitor opens an incident, a customer reads it.

The gateway, simulators and traffic are real; Chromium loads /status from the gateway itself, in French
(Accept-Language) and in English, while the incident is open.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright import sync_api

from e2e._browser import open_page, screenshot
from integration.monitor.test_detection import Traffic, incidents, monitored_config, wait_for
from releve.app import build_app
from releve.config import config_from_mapping
from releve.server import GatewayThread
from releve.sim import SimulatorThread
from releve.store import Store
from support.webhooks import webhook_receiver


@pytest.fixture
def failing_gateway(tmp_path: Path) -> Iterator[str]:
    """A gateway whose primary provider answers 503 under steady traffic, with the incident open."""
    with SimulatorThread("primary") as primary, SimulatorThread("fallback") as fallback, webhook_receiver() as hooks:
        raw = monitored_config(primary.base_url, fallback.base_url, tmp_path / "releve.db", hooks.url,
                               resolve_after="60s")
        with GatewayThread(build_app(config_from_mapping(raw))) as gateway, Traffic(gateway.url):
            reader = Store(f"sqlite:///{tmp_path / 'releve.db'}")
            reader.open()
            try:
                primary.set_faults({"kind": "status", "status": 503})
                wait_for(lambda: incidents(reader, unresolved=True), 10.0, "an incident")
                yield gateway.url
            finally:
                primary.clear_faults()
                reader.close()


def test_customers_read_the_live_incident_in_french_and_english(
        browser: sync_api.Browser, failing_gateway: str, tmp_path: Path) -> None:
    page = open_page(browser, f"{failing_gateway}/status", locale="fr-FR")
    assert page.locator("html").get_attribute("lang") == "fr"
    support = page.locator("#component-process\\:customer-support")
    sync_api.expect(support.locator("h3")).to_have_text("Support client")
    sync_api.expect(support.locator(".state")).to_have_text("Performances dégradées")
    active = page.get_by_role("region", name="Incidents en cours")
    sync_api.expect(active.get_by_role("heading", name="Support client : service dégradé")).to_be_visible()
    sync_api.expect(active).to_contain_text("Relève a basculé le trafic vers fallback (f-model)")
    screenshot(page, tmp_path, "status-live-fr.png")

    page = open_page(browser, f"{failing_gateway}/status", locale="en-GB")
    assert page.locator("html").get_attribute("lang") == "en"
    sync_api.expect(page.locator("#component-process\\:customer-support .state")).to_have_text("Degraded performance")
    active = page.get_by_role("region", name="Active incidents")
    sync_api.expect(active.get_by_role("heading", name="Customer support: degraded service")).to_be_visible()
    sync_api.expect(active).to_contain_text("Relève moved traffic to fallback (f-model); answers continue.")
    sync_api.expect(page.locator(".banner")).not_to_have_text("All Systems Operational")
    screenshot(page, tmp_path, "status-live-en.png")
