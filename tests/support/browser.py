"""Headless Chromium (Debian's chromium + chromium-driver) driven through Selenium.

Fixture
-------
browser
    A session-scoped Selenium WebDriver for headless Chromium, started with
    ``--headless --no-sandbox --disable-gpu --disable-background-networking`` and a fresh profile.
    Tests load pages served on 127.0.0.1 and check what a person sees.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator

import pytest

from tests.support.services import require_program

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--window-size=1400,1000",
)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Headless Chromium controlled by chromedriver."""
    chromium = require_program("chromium", "chromium")
    chromedriver = require_program("chromedriver", "chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    with tempfile.TemporaryDirectory(prefix="jieneng-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        for flag in CHROMIUM_FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={profile}")
        driver = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
        driver.set_page_load_timeout(30)
        try:
            yield driver
        finally:
            driver.quit()
