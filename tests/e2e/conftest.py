"""One headless Chromium for the browser tests. `make test` installs Debian's chromium first (`make browser`):
its absence is a broken install, reported as a failure, never a skip. Playwright never downloads a browser."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright import sync_api

from e2e._browser import CHROMIUM, CHROMIUM_ARGS


# Per module, not per session: Playwright's sync API keeps an event loop running on the main thread while it
# is open, and pytest-asyncio's tests elsewhere cannot start theirs until it has stopped.
@pytest.fixture(scope="module")
def browser() -> Iterator[sync_api.Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"needs Debian's chromium at {CHROMIUM}: run `make browser`", pytrace=False)
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()
