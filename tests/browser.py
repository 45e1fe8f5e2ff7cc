"""Headless Chromium for the dashboard's tests: Debian's ``chromium`` package (``make browser`` installs it),
driven by Playwright for Python. Playwright's own browser downloads are never used (nothing may be fetched):
its wheel brings the driver, and the browser is the system's. Each test gets a fresh profile directory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SKIP_REASON = ("Debian's chromium is not installed at /usr/bin/chromium, so the dashboard's browser tests "
               "cannot run: `make browser` installs it (as root: apt-get install chromium)")

needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason=SKIP_REASON)



@asynccontextmanager
async def chromium(profile: Path) -> AsyncIterator[Any]:
    """A browser context (one profile, its own cookies) on Debian's chromium."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(profile), executable_path=str(CHROMIUM), headless=True, args=ARGS,
            viewport={"width": 1280, "height": 900}, locale="en-GB", timezone_id="UTC")
        context.set_default_timeout(10_000)
        try:
            yield context
        finally:
            await context.close()
