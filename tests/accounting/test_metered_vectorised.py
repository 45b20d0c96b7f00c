"""``metered_bins`` (all meters at once) against ``metered_bins_per_meter`` (the per-meter
reference loop) on real SQLite stores: the same frames, value for value, row for row."""

from __future__ import annotations

import tempfile
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pandas.testing import assert_frame_equal

from accounting.metered import (
    daily_metered,
    metered_bins,
    metered_bins_per_meter,
    month_edges,
    monthly_metered_with_findings,
)
from jieneng.settings import Settings
from storage import open_store

POINT = {"electricity": "energy_import_kwh", "water": "volume_m3", "heat": "heat_gj",
         "pv": "energy_export_kwh", "natural_gas": "volume_m3"}
MODEL = {"electricity": "chint_dtsu666", "water": "tuf2000m", "heat": "generic_heat_meter",
         "pv": "chint_dtsu666", "natural_gas": "generic_gas_meter", "diesel": "chint_dtsu666"}


def _settings(base: Path, timezone: str, meters: list[tuple[str, str, float]]) -> Settings:
    """Settings with one gateway per 200 meters: (id, carrier, poll interval [s]) each."""
    rows = [{
        "id": ident, "gateway": f"gw{i // 200}", "device_id": i % 200 + 1, "model": MODEL[carrier],
        "institution": f"inst{i % 3}", "building": f"inst{i % 3}-b{i % 2}", "carrier": carrier,
        "subitem": {"electricity": "01000", "pv": "01000"}.get(carrier, "02000"),
        "poll_interval_s": poll,
    } for i, (ident, carrier, poll) in enumerate(meters)]
    s = Settings.model_validate({
        "site": {"name": "t", "province": "shandong", "region_code": "370100",
                 "timezone": timezone},
        "storage": {"sqlite": {"path": "store.sqlite"}},
        "gateways": [{"id": f"gw{g}", "protocol": "tcp", "host": "127.0.0.1"}
                     for g in range(len(meters) // 200 + 1)],
        "meters": rows,
        "accounting": {"ledger_path": "ledgers.sqlite"},
    })
    s.base_dir = base
    return s


def _readings(meter: str, point: str, times: pd.DatetimeIndex, values) -> pd.DataFrame:
    return pd.DataFrame({"meter": meter, "point": point, "time": times,
                         "value": np.asarray(values, dtype=float)})


def _day_edges(settings: Settings, first: date, last: date) -> pd.DatetimeIndex:
    tz = settings.site.tzinfo
    days = pd.date_range(first, last + timedelta(days=1), freq="D")
    return pd.DatetimeIndex([pd.Timestamp(datetime(d.year, d.month, d.day, tzinfo=tz))
                             .tz_convert("UTC") for d in days])


def assert_same_as_reference(store, settings: Settings, edges: pd.DatetimeIndex) -> None:
    """metered_bins equals the per-meter reference: both frames, dtypes and row order."""
    fast, fast_findings = metered_bins(store, settings, edges)
    slow, slow_findings = metered_bins_per_meter(store, settings, edges)
    assert_frame_equal(fast, slow, check_exact=True)
    assert_frame_equal(fast_findings, slow_findings, check_exact=True)


# ---------------------------------------------------------------------------------------------
# A city of meters, each with its own trouble
# ---------------------------------------------------------------------------------------------

T0 = datetime(2024, 12, 20)  # local; the data run to 10 March 2025 (across New Year)
HOURS = 80 * 24


def _troubled_city(base: Path, timezone: str) -> tuple[Settings, pd.DataFrame]:
    """~30 meters of hourly readings: clean ones and every kind of irregular step."""
    tz = ZoneInfo(timezone)
    local = pd.date_range(pd.Timestamp(T0, tz=tz), periods=HOURS, freq="h")
    hours = np.arange(HOURS, dtype=float)
    rng = np.random.default_rng(7)
    meters: list[tuple[str, str, float]] = []
    frames: list[pd.DataFrame] = []

    def add(ident, carrier, values, times=local, poll=3600.0, point=None):
        meters.append((ident, carrier, poll))
        if values is not None:
            frames.append(_readings(ident, point or POINT[carrier], times, values))

    for i in range(8):  # clean meters with random rates
        add(f"clean{i}", "electricity", 1e4 * i + np.cumsum(rng.uniform(0, 50, HOURS)))
    day = 24
    jan30 = (datetime(2025, 1, 30) - T0).days * day
    # a 16-bit register at 0.1 kWh wraps at 6553.6: once inside a day, once at midnight
    add("wrap-inday", "electricity", (6553.6 - 3.0 * (20 * day + 12) + 3.0 * hours) % 6553.6)
    add("wrap-midnight", "electricity", (6555.1 - 3.0 * 25 * day + 3.0 * hours) % 6553.6)
    # resets to 0: mid-day, at local midnight, and just before a month edge
    for name, at in (("reset-midday", 20 * day + 12), ("reset-midnight", 25 * day),
                     ("reset-monthend", jan30 + 2 * day - 1)):
        v = 1000.0 + 2.0 * hours
        v[at:] = 2.0 * (hours[at:] - at)
        add(name, "water", v)
    # spikes: as a day's first reading, as a day's last, and mid-day; dropped, the interval
    # around one spans a day: a gap, unless the meter's gap length (2 poll intervals) is longer
    for name, at, poll in (("spike-first", 15 * day, 3600.0), ("spike-last", 16 * day - 1, 3600.0),
                           ("spike-mid", 17 * day + 9, 3600.0),
                           ("spike-daily-poll", 18 * day, 86_400.0)):
        v = 500.0 + 4.0 * hours
        v[at] = 9e8
        add(name, "electricity", v, poll=poll)
    # the counter goes back and stays there (not to zero): consumption unknown
    v = 5e5 + 10.0 * hours
    v[30 * day:] -= 2e5
    add("back", "electricity", v)
    v = 5e5 + 10.0 * hours  # the same, at local midnight
    v[31 * day:] -= 2e5
    add("back-midnight", "electricity", v)
    # gaps: the collector down for days, across the month edge and across New Year
    keep = np.ones(HOURS, dtype=bool)
    keep[jan30:jan30 + 5 * day] = False
    add("gap-monthedge", "electricity", (100.0 + 7.0 * hours)[keep], local[keep])
    keep = np.ones(HOURS, dtype=bool)
    keep[10 * day + 5:14 * day + 17] = False
    add("gap-newyear", "heat", (1.0 + 0.5 * hours)[keep], local[keep])
    # a gap and a reset in one meter, and a heat meter faster than its 50 GJ/h ceiling once
    v = 1.0 + 0.5 * hours
    v[40 * day + 3:] = 0.5 * (hours[40 * day + 3:] - 40 * day - 3)
    add("gap-and-reset", "heat", v[keep], local[keep])
    v = 1.0 + 0.5 * hours
    v[45 * day + 2:] += 3000.0
    add("heat-jump", "heat", v)
    # sparse meters: no readings, one reading, readings of a single day, one a day, every 6 h
    add("silent", "water", None)
    add("one-reading", "water", [42.0], local[100:101])
    add("one-day", "water", 10.0 + hours[24:48], local[24:48])
    add("once-a-day", "water", 3.0 * hours[::24], local[::24], poll=86_400.0)
    add("six-hourly", "natural_gas", 50.0 * hours[::6], local[::6], poll=6 * 3600.0)
    add("pv", "pv", 3.0 * hours)
    # readings of another point of an electricity meter: not its counter, left out
    add("two-points", "electricity", 2.0 * hours)
    frames.append(_readings("two-points", "volume_m3", local, 1e6 - hours))
    # a carrier without a counter point: not metered (a warning), on both paths
    add("generator-diesel", "diesel", None)
    settings = _settings(base, timezone, meters)
    frame = pd.concat(frames, ignore_index=True)
    frame["time"] = pd.DatetimeIndex(frame["time"]).tz_convert("UTC")
    return settings, frame


@pytest.fixture(params=["Asia/Shanghai", "Europe/Berlin"])
def troubled(request, tmp_path):
    settings, frame = _troubled_city(tmp_path, request.param)
    store = open_store(settings)
    store.write_frame(frame)
    yield store, settings
    store.close()


def test_the_city_has_every_kind_of_finding(troubled):
    store, settings = troubled
    _, findings = metered_bins(store, settings, month_edges(2025, settings))
    assert set(findings["quality"]) == {"wrap", "reset", "spike_removed", "gap", "missing"}
    assert not (findings["meter"].str.startswith("clean")).any()


def test_months_equal_the_reference(troubled):
    store, settings = troubled
    assert_same_as_reference(store, settings, month_edges(2025, settings))
    assert_same_as_reference(store, settings, month_edges(2024, settings))  # New Year in margin


def test_days_equal_the_reference(troubled):
    store, settings = troubled
    assert_same_as_reference(store, settings, _day_edges(settings, date(2024, 12, 18),
                                                         date(2025, 3, 12)))
    assert_same_as_reference(store, settings, _day_edges(settings, date(2025, 1, 28),
                                                         date(2025, 2, 5)))


def test_hours_and_odd_edges_equal_the_reference(troubled):
    store, settings = troubled
    hours = pd.date_range("2025-01-29 13:00", "2025-02-06 02:00", freq="h", tz="UTC")
    assert_same_as_reference(store, settings, hours)
    odd = pd.DatetimeIndex(["2025-01-01 07:13", "2025-01-02", "2025-01-30 00:00:01",
                            "2025-02-14 23:59"], tz="UTC")
    assert_same_as_reference(store, settings, odd)
    assert_same_as_reference(store, settings, odd[:2])  # a single bin


def test_a_store_without_readings_gives_empty_bins(tmp_path):
    settings = _settings(tmp_path, "Asia/Shanghai", [("a", "electricity", 60.0),
                                                     ("b", "water", 60.0)])
    store = open_store(settings)
    try:
        edges = month_edges(2025, settings)
        assert_same_as_reference(store, settings, edges)
        per_meter, findings = metered_bins(store, settings, edges)
        assert len(per_meter) == 24
        assert (per_meter["quantity"] == 0).all()
        assert (per_meter["coverage"] == 0).all()
        assert findings.empty
    finally:
        store.close()


def test_the_public_results_are_unchanged_across_dst(tmp_path):
    """Europe/Berlin: March (a 23-hour day) and October (a 25-hour day), hand-checked."""
    settings = _settings(tmp_path, "Europe/Berlin", [("m", "electricity", 3600.0)])
    times = pd.date_range("2025-03-01", "2025-11-30 23:00", freq="h", tz="UTC")
    store = open_store(settings)
    try:
        store.write_frame(_readings("m", POINT["electricity"], times, 2.0 * np.arange(len(times))))
        days = daily_metered(store, settings, date(2025, 3, 29), date(2025, 3, 31))
        assert list(days["quantity"]) == pytest.approx([48.0, 46.0, 48.0])
        days = daily_metered(store, settings, date(2025, 10, 25), date(2025, 10, 27))
        assert list(days["quantity"]) == pytest.approx([48.0, 50.0, 48.0])
        months, findings = monthly_metered_with_findings(store, settings, 2025)
        assert months.set_index("month").loc[4, "quantity"] == pytest.approx(2.0 * 720)
        assert findings.empty
        for edges in (month_edges(2025, settings),
                      _day_edges(settings, date(2025, 3, 25), date(2025, 4, 2)),
                      _day_edges(settings, date(2025, 10, 20), date(2025, 11, 2))):
            assert_same_as_reference(store, settings, edges)
    finally:
        store.close()


# ---------------------------------------------------------------------------------------------
# Random counters
# ---------------------------------------------------------------------------------------------

START = pd.Timestamp("2025-01-29 18:00", tz="UTC")
DISTURBANCES = ("reset", "spike", "wrap", "back", "invalid")


@st.composite
def _meter_series(draw):
    """One meter's readings: random rises, pauses from minutes to days, a few disturbances."""
    n = draw(st.integers(min_value=0, max_value=40))
    pauses = draw(st.lists(st.sampled_from([10, 60, 60, 60, 180, 600, 1500, 3000, 6000]),
                           min_size=n, max_size=n))
    rises = draw(st.lists(st.floats(min_value=0, max_value=300, allow_nan=False),
                          min_size=n, max_size=n))
    times = START + pd.to_timedelta(np.cumsum(pauses), unit="min")
    values = draw(st.floats(min_value=0, max_value=6500)) + np.cumsum(rises)
    for _ in range(draw(st.integers(min_value=0, max_value=3)) if n else 0):
        i = draw(st.integers(min_value=0, max_value=n - 1))
        kind = draw(st.sampled_from(DISTURBANCES))
        if kind == "reset":
            values[i:] -= values[i]
        elif kind == "spike":
            values[i] = draw(st.sampled_from([1e9, -50.0, 0.0]))
        elif kind == "wrap":
            values[i:] = values[i:] % 6553.6
        elif kind == "back":
            values[i:] -= draw(st.floats(min_value=0.0, max_value=5000.0))
        else:
            values[i] = np.nan
    carrier = draw(st.sampled_from(["electricity", "water", "heat"]))
    poll = draw(st.sampled_from([60.0, 3600.0, 7200.0, 86_400.0]))
    return carrier, poll, pd.DatetimeIndex(times), values


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_meter_series(), min_size=1, max_size=6),
       st.sampled_from(["Asia/Shanghai", "Europe/Berlin"]))
def test_random_counters_equal_the_reference(meters, timezone):
    with tempfile.TemporaryDirectory() as tmp:
        settings = _settings(Path(tmp), timezone,
                             [(f"m{i}", c, p) for i, (c, p, _, _) in enumerate(meters)])
        frames = [_readings(f"m{i}", POINT[c], t, v).dropna()
                  for i, (c, _, t, v) in enumerate(meters) if len(t)]
        store = open_store(settings)
        try:
            if frames:
                store.write_frame(pd.concat(frames, ignore_index=True))
            for edges in (month_edges(2025, settings),
                          _day_edges(settings, date(2025, 1, 29), date(2025, 4, 10))):
                assert_same_as_reference(store, settings, edges)
        finally:
            store.close()
