"""The forecasting adapter: missing until forecasting exists; one background fit per state."""

from __future__ import annotations

import threading
import time

from dashboard import projection


def test_missing_without_forecasting(monkeypatch):
    monkeypatch.setattr(projection, "AVAILABLE", False)
    assert projection.Projections(settings=None).get(2026, ("s",)).status == "missing"


def test_one_background_fit_per_year_and_state(monkeypatch):
    calls = []
    release = threading.Event()

    def fake_forecast_year(settings, year):
        calls.append(year)
        release.wait(5)
        return f"result {year}"

    monkeypatch.setattr(projection, "AVAILABLE", True)
    monkeypatch.setattr(projection, "forecast_year", fake_forecast_year)
    projections = projection.Projections(settings=None)
    first = projections.get(2026, ("a",))
    assert first.status == "computing"
    assert projections.get(2026, ("a",)) is first  # the same fit, not a second one
    release.set()
    deadline = time.monotonic() + 5
    while first.status == "computing" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert first.status == "ready"
    assert first.result == "result 2026"
    assert calls == [2026]
    second = projections.get(2026, ("b",))  # new data: a new fit
    assert second is not first
    while second.status == "computing" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert calls == [2026, 2026]


def test_a_failed_fit_says_why_in_one_line(monkeypatch):
    def broken(settings, year):
        raise ValueError("no history\nsecond line")

    monkeypatch.setattr(projection, "AVAILABLE", True)
    monkeypatch.setattr(projection, "forecast_year", broken)
    state = projection.Projections(settings=None).get(2026, ("a",))
    deadline = time.monotonic() + 5
    while state.status == "computing" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert state.status == "failed"
    assert state.error == "ValueError: no history"
