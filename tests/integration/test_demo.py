"""`releve demo` (what `make demo` runs) ends with no failed client request and its summary."""

from __future__ import annotations

import io

from rich.console import Console

from releve.demo import run_demo


def test_demo_survives_the_scripted_outage() -> None:
    """A short demo run breaks the primary and recovers with zero failed requests."""
    output = io.StringIO()
    code = run_demo(duration=8.0, rate=25.0, console=Console(file=output, width=120))
    text = output.getvalue()
    assert code == 0, text
    assert "primary answers 503" in text and "primary hangs" in text and "primary is back" in text
    assert "breaker openai/gpt-4o-mini: open" in text
    for line in ("requests sent", "served by primary", "served by fallback", "failed", "latency p99"):
        assert line in text
    assert "No client request failed" in text
