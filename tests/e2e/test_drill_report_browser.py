"""The drill report of a real game day (`releve drill demo`, what `make drill` runs), in headless Chromium.

The report is a file people open from disk or a share: it must read well with no script at all.
"""

from __future__ import annotations

import functools
import http.server
import io
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from playwright import sync_api
from rich.console import Console

from e2e._browser import open_page, screenshot
from releve.recovery import run_drill_demo


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A short provider-outage game day on simulators; its report served over HTTP. Yields (url, console text)."""
    out = tmp_path_factory.mktemp("drills")
    printed = io.StringIO()
    # In a thread of its own: the drill runs an event loop, and Playwright's sync API may hold this thread's.
    with ThreadPoolExecutor(1) as pool:
        code = pool.submit(run_drill_demo, duration=3.0, rate=10.0, out=out,
                           console=Console(file=printed, width=200)).result(timeout=120)
    assert code == 0, printed.getvalue()
    (html,) = out.glob("drill-*.html")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(out))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/{html.name}", printed.getvalue()
    finally:
        server.shutdown()
        server.server_close()


def test_the_drill_report_reads_in_a_browser(browser: sync_api.Browser, report: tuple[str, str],
                                             tmp_path: Path) -> None:
    """Verdict, failover and detection times, the three hypothesis checks, the timeline and the rollback show."""
    url, printed = report
    assert "completed" in printed and url.rsplit("/", 1)[1] in printed
    page = open_page(browser, url, java_script_enabled=False)
    sync_api.expect(page.locator("#verdict")).to_contain_text("The hypothesis held")
    assert page.locator("#failover .value").inner_text().endswith(("ms", " s"))
    assert page.locator("#detection .value").inner_text() != "—"
    rows = page.locator("#hypothesis tbody tr")
    sync_api.expect(rows).to_have_count(3)
    for index, phase in enumerate(("before", "during", "after")):
        sync_api.expect(rows.nth(index)).to_contain_text(f"{phase} the faults")
        sync_api.expect(rows.nth(index)).to_contain_text("holds")
    assert page.locator("svg.timeline circle").count() >= 40
    sync_api.expect(page.locator("#faults")).to_contain_text("target openai/gpt-4o-mini")
    sync_api.expect(page.locator("#faults")).to_contain_text("deleted")
    sync_api.expect(page.locator("#requests")).to_contain_text("claude/claude-haiku")
    sync_api.expect(page.locator("#cost")).to_contain_text("customer-support")
    assert page.locator("script").count() == 0
    screenshot(page, tmp_path, "drill-report.png")
