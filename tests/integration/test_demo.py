"""`releve demo` (what `make demo` runs) ends with no failed client request and its summary."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from releve.demo import run_demo
from support.pdf import first_page_ink


def test_demo_survives_the_scripted_outage(tmp_path: Path) -> None:
    """A short demo run breaks the primary and recovers with zero failed requests, and reports the incident."""
    output = io.StringIO()
    code = run_demo(duration=8.0, rate=25.0, console=Console(file=output, width=200), report_dir=tmp_path)
    text = output.getvalue()
    assert code == 0, text
    assert "primary answers 503" in text and "primary hangs" in text and "primary is back" in text
    assert "breaker openai/gpt-4o-mini: open" in text
    for line in ("requests sent", "served by primary", "served by fallback", "failed", "latency p99"):
        assert line in text
    assert "No client request failed" in text
    assert "incident" in text and "opened: Customer support: degraded service" in text
    assert "cost incurred 0.00 EUR, avoided by failover" in text
    pdfs = list(tmp_path.glob("incident-*.en.pdf"))
    assert len(pdfs) == 1 and str(pdfs[0]) in text
    assert first_page_ink(pdfs[0]) > 0.01
