"""Live cost of an open incident: recorded traffic minutes through the admin API and `releve status`."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from releve.app import build_app
from releve.cli import app as cli
from releve.config import config_from_mapping
from releve.server import GatewayThread
from releve.sim import SimulatorThread
from releve.store import Store
from support.webhooks import webhook_receiver

from .test_detection import Traffic, incidents, monitored_config, wait_for


def admin_incidents(url: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{url}/admin/incidents", timeout=5) as response:
        listed: list[dict[str, Any]] = json.load(response)["incidents"]
        return listed


def test_an_open_incident_shows_what_failover_saved(tmp_path: Path) -> None:
    db = tmp_path / "releve.db"
    with SimulatorThread("primary") as primary, SimulatorThread("fallback") as fallback, webhook_receiver() as hooks:
        raw = monitored_config(primary.base_url, fallback.base_url, db, hooks.url, resolve_after="60s",
                               flush_every="300ms")
        raw["processes"]["customer-support"].update(users=40, hourly_cost=35, revenue_per_hour=1200)
        (tmp_path / "releve.yaml").write_text(yaml.safe_dump(raw))
        with GatewayThread(build_app(config_from_mapping(raw))) as gateway, Traffic(gateway.url):
            reader = Store(f"sqlite:///{db}")
            reader.open()
            try:
                primary.set_faults({"kind": "status", "status": 503})
                wait_for(lambda: incidents(reader, unresolved=True), 10.0, "an incident")

                def saved() -> dict[str, Any] | None:
                    listed = admin_incidents(gateway.url)
                    found = listed[0]["cost"]["processes"]["customer-support"] if listed else None
                    return found if found and found["requests"]["fallback"] >= 20 else None

                cost = wait_for(saved, 10.0, "fallback traffic in the cost")
                result = CliRunner().invoke(cli, ["status", "-c", str(tmp_path / "releve.yaml")],
                                            env={"COLUMNS": "200"})
            finally:
                primary.clear_faults()
                reader.close()
    assert cost["requests"]["failed"] == 0  # the fallback answered everything
    assert set(cost["requests"]) == {"served", "fallback", "degraded", "deferred", "failed"}
    assert cost["requests"]["deferred"] == 0  # no client asked for a late answer
    assert cost["avoided_productivity"] > 0 and cost["avoided_revenue"] > 0
    assert cost["productivity_loss"] == 0 and cost["availability"] == 1.0
    # The figures follow the formula from their own counts.
    total = sum(cost["requests"].values())
    assert cost["saved_hours"] > 0
    assert cost["avoided_revenue"] / cost["avoided_productivity"] == pytest.approx(1200 / (40 * 35), rel=0.01)
    assert total >= cost["requests"]["fallback"]
    assert result.exit_code == 0, result.output
    assert "Customer support" in result.output and "degraded_performance" in result.output
    assert "Open incidents: cost so far" in result.output and "customer-support" in result.output
    assert "ok / fallback / degraded / deferred / failed" in result.output
