"""The dashboard in headless Chromium: every page for every role, controls, upload, languages.

The home page of each role is saved as a screenshot; with JIENENG_UPDATE_SCREENSHOTS=1 into
the README's folder (docs/img/*.png), otherwise into a temporary folder.
"""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from accounting.ledgers import LedgerStore
from jieneng import messages
from tests.dashboard.browsing import (
    options_of,
    page_done,
    plot_data,
    plot_traces,
    select_option,
    sign_in,
    wait_css,
    wait_until,
)
from tests.dashboard.conftest import IMG, PASSWORDS, SHOTS

pytestmark = [pytest.mark.browser, pytest.mark.slow]

#: What shows that each page has data: (css of a table row, graph ids with traces).
PAGE_DATA = {
    "live": ("#live-latest-table tbody tr", ["live-hourly", "live-subitem", "live-trend"]),
    "statistics": ("#stats-monthly-table tbody tr", ["stats-heatmap"]),
    "carbon": ("#carbon-totals-text", ["carbon-tce", "carbon-co2"]),
    "benchmarking": ("#bench-league-table tbody tr", ["bench-scatter"]),
    "system": ("#system-meters-table tbody tr", []),
}
ROLE_PAGES = {
    "manager": ["live", "statistics", "carbon", "benchmarking"],
    "officer": ["statistics", "benchmarking", "live", "carbon"],
    "leader": ["carbon", "benchmarking", "statistics", "live"],
    "admin": ["system", "live", "statistics", "carbon", "benchmarking"],
}
#: The README's screenshots: page → the role whose view is shown.
SCREENSHOTS = {"live": "manager", "statistics": "officer", "carbon": "leader",
               "benchmarking": "officer", "system": "admin"}


def open_page(browser, url: str, page: str) -> None:
    browser.get(f"{url}/{page}")
    wait_css(browser, ".page-title")
    row_css, graphs = PAGE_DATA[page]
    wait_css(browser, row_css, timeout=120)
    for graph in graphs:
        wait_until(lambda g=graph: plot_traces(browser, g) > 0, 60, f"traces in #{graph}")
    wait_until(lambda: page_done(browser), 60, "callbacks to finish")


@pytest.mark.parametrize("role", list(ROLE_PAGES))
def test_each_page_renders_with_data_for_each_role(browser, served, role):
    sign_in(browser, served.url, role, PASSWORDS[role])
    browser.execute_script("window.localStorage.clear();")
    for page in ROLE_PAGES[role]:
        open_page(browser, served.url, page)
        nav = browser.find_element(By.ID, "navbar").text
        assert "统计" in nav  # Chinese by default
        assert bool(browser.find_elements(By.ID, "nav-system")) == (role == "admin")
        if SCREENSHOTS.get(page) == role:
            SHOTS.mkdir(parents=True, exist_ok=True)
            browser.set_window_size(1400, 1000)
            browser.save_screenshot(str(SHOTS / f"{page}.png"))
    if role != "admin":  # the system page is for admins only, whatever the URL
        browser.get(f"{served.url}/system")
        wait_css(browser, ".no-access")


def test_changing_the_institution_changes_the_charts(browser, served):
    sign_in(browser, served.url, "officer", PASSWORDS["officer"])
    open_page(browser, served.url, "carbon")
    before = plot_data(browser, "carbon-tce")
    select_option(browser, "carbon-inst", "hos01")
    wait_until(lambda: plot_data(browser, "carbon-tce") != before, 60, "the chart to change")
    wait_until(lambda: plot_traces(browser, "carbon-fyp14") > 0, 60, "the 十四五 path")
    after_hospital = plot_data(browser, "carbon-tce")
    select_option(browser, "carbon-year", str(int(browser.find_element(
        By.ID, "carbon-year").text.strip("年")) - 1))
    wait_until(lambda: plot_data(browser, "carbon-tce") != after_hospital, 60,
               "the chart to change with the year")


def test_a_manager_is_offered_only_their_institution(browser, served):
    sign_in(browser, served.url, "manager", PASSWORDS["manager"])
    open_page(browser, served.url, "carbon")
    labels = options_of(browser, "carbon-inst")
    assert any("gov01" in label for label in labels)
    assert not any(other in " ".join(labels) for other in ("hos01", "edu01", "gov02", "ven01"))
    open_page(browser, served.url, "benchmarking")
    league = browser.find_element(By.ID, "bench-league-table").text
    assert "市政府办公楼" in league
    assert "市人民医院" not in league
    assert "stats-download" not in browser.page_source  # no workbook for a manager


def test_an_upload_with_a_bad_row_shows_that_row_and_imports_nothing(browser, served, tmp_path):
    ledger = LedgerStore(served.settings.resolve(served.settings.accounting.ledger_path))
    before = len(ledger.table("headcount"))
    bad = tmp_path / "headcount.csv"
    bad.write_text("institution_id,year,occupants\ngov01,2031,500\ngov02,2031,-7\n"
                   "gov03,2031,210\n", encoding="utf-8")
    sign_in(browser, served.url, "officer", PASSWORDS["officer"])
    open_page(browser, served.url, "statistics")
    browser.find_element(By.CSS_SELECTOR, "#stats-upload input[type=file]").send_keys(str(bad))
    problems = wait_css(browser, "#upload-problems", timeout=60)
    text = problems.text
    assert "3" in text.split("\n")[1]  # row 3 of the file (the header is row 1)
    assert "occupants" in text
    assert "-7" in text
    assert len(ledger.table("headcount")) == before  # nothing was imported
    good = tmp_path / "headcount_ok.csv"
    good.write_text("institution_id,year,occupants\ngov01,2031,500\n", encoding="utf-8")
    browser.find_element(By.CSS_SELECTOR, "#stats-upload input[type=file]").send_keys(str(good))
    wait_css(browser, "#upload-done", timeout=60)
    assert len(ledger.table("headcount")) == before + 1


def _zh_only_labels() -> set[str]:
    zh, en = messages.catalog("zh"), messages.catalog("en")
    return {text for key, text in zh.items() if text != en[key] and "{" not in text}


def test_the_english_switch_changes_every_label(browser, served):
    sign_in(browser, served.url, "admin", PASSWORDS["admin"])
    browser.execute_script("window.localStorage.clear();")
    open_page(browser, served.url, "system")
    assert "系统" in browser.find_element(By.ID, "navbar").text
    browser.find_element(By.ID, "lang-toggle").click()
    wait_until(lambda: "System" in browser.find_element(By.ID, "navbar").text, 30, "English")
    zh_labels = _zh_only_labels()
    for page in ("live", "statistics", "carbon", "benchmarking", "system"):
        open_page(browser, served.url, page)  # the choice is kept across page loads
        texts = browser.execute_script(
            "const out = []; const w = document.createTreeWalker(document.body, "
            "NodeFilter.SHOW_TEXT); while (w.nextNode()) { const s = w.currentNode.nodeValue"
            ".trim(); if (s) out.push(s); } return out;")
        left = sorted({s for s in texts if s in zh_labels})
        assert not left, f"{page}: Chinese labels left after switching to English: {left}"
        if page == "carbon":
            SHOTS.mkdir(parents=True, exist_ok=True)
            browser.save_screenshot(str(SHOTS / "carbon-en.png"))
    browser.find_element(By.ID, "lang-toggle").click()
    wait_until(lambda: "系统" in browser.find_element(By.ID, "navbar").text, 30, "Chinese")


def test_traceability_opens_from_a_league_table_row(browser, served):
    sign_in(browser, served.url, "officer", PASSWORDS["officer"])
    open_page(browser, served.url, "benchmarking")
    browser.find_element(By.CSS_SELECTOR, "#bench-league-table tbody tr button").click()
    content = wait_css(browser, "#trace-content", timeout=60)
    wait_css(browser, "#trace-factors tbody tr")
    text = content.text
    assert "tce" in text
    assert "GB/T" in text or "生态环境部" in text or "国家" in text  # factor sources are named


def test_screenshots_exist():
    for page in SCREENSHOTS:
        assert (IMG / f"{page}.png").exists(), f"the README's screenshot of {page} is missing"
