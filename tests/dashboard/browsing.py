"""Selenium helpers: sign in, open a page, wait for what a person would see."""

from __future__ import annotations

import time
from collections.abc import Callable

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

TIMEOUT_S = 40


def sign_in(browser, url: str, name: str, password: str) -> None:
    """Sign out, then sign in as ``name`` through the sign-in page."""
    browser.get(f"{url}/logout")
    browser.get(f"{url}/login")
    browser.find_element(By.ID, "username").send_keys(name)
    browser.find_element(By.ID, "password").send_keys(password)
    browser.find_element(By.ID, "login-submit").click()
    WebDriverWait(browser, TIMEOUT_S).until(ec.presence_of_element_located((By.ID, "navbar")))


def wait_css(browser, css: str, timeout: float = TIMEOUT_S):
    """The first element matching ``css`` once it is present."""
    return WebDriverWait(browser, timeout).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, css)))


def wait_until(predicate: Callable[[], object], timeout: float = TIMEOUT_S,
               what: str = "condition") -> object:
    """Poll ``predicate`` until it returns something true."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
        except Exception as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}: last {last!r}")


def plot_traces(browser, graph_id: str) -> int:
    """Number of data traces drawn in the Plotly graph ``graph_id``."""
    return browser.execute_script(
        "const g = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');"
        "const n = v => v ? (v.length || (v.bdata ? 1 : 0)) : 0;"
        "return g && g.data ? g.data.filter(d => n(d.x) + n(d.z) > 0).length : 0;",
        graph_id)


def plot_data(browser, graph_id: str) -> list:
    """The Plotly graph's traces (x, y lengths and names)."""
    return browser.execute_script(
        "const g = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');"
        "return g && g.data ? g.data.map(d => [d.name || '', (d.x||[]).length,"
        " JSON.stringify(d.y || d.z || []).slice(0, 400)]) : [];", graph_id)


def page_done(browser) -> bool:
    """True when Dash has no callback in flight and nothing is loading."""
    return browser.execute_script(
        "return !document.querySelector('[data-dash-is-loading=\"true\"]') && "
        "!document.querySelector('._dash-loading-callback');")


def select_option(browser, dropdown_id: str, label_part: str) -> None:
    """Open the dropdown ``dropdown_id`` and click the option whose label contains the text."""
    browser.find_element(By.ID, dropdown_id).click()
    option = WebDriverWait(browser, TIMEOUT_S).until(ec.element_to_be_clickable(
        (By.XPATH, f"//*[@role='option'][contains(., '{label_part}')]")))
    option.click()


def options_of(browser, dropdown_id: str) -> list[str]:
    """The labels a dropdown offers (opened and closed again)."""
    browser.find_element(By.ID, dropdown_id).click()
    WebDriverWait(browser, TIMEOUT_S).until(
        ec.presence_of_element_located((By.XPATH, "//*[@role='option']")))
    labels = [e.text for e in browser.find_elements(By.XPATH, "//*[@role='option']")]
    browser.find_element(By.TAG_NAME, "body").send_keys("\ue00c")  # Escape
    return labels
