"""Counter arithmetic: wraps, resets, spikes, gaps; never negative; totals conserved."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accounting.counters import CounterRules, allocate, daily_observations, interval_consumption

T0 = pd.Timestamp("2025-03-01 00:00", tz="UTC")
RULES = CounterRules(max_rate_per_h=1000.0, gap_s=3600.0)


def _times(n, minutes=15):
    return pd.date_range(T0, periods=n, freq=f"{minutes}min")


def _run(values, rules=RULES, minutes=15):
    return interval_consumption(_times(len(values), minutes), values, rules)


def test_good_steps_are_differences():
    out = _run([100.0, 110.0, 125.5, 125.5])
    assert list(out["quantity"]) == [10.0, 15.5, 0.0]
    assert (out["quality"] == "good").all()
    assert out["measured"].all()
    assert not out["estimated"].any()


def test_16_bit_wrap_adds_the_register_range():
    out = _run([65530.0, 65535.0, 3.0, 8.0])
    assert list(out["quantity"]) == [5.0, 4.0, 5.0]  # 65535 → 3 is 65536 - 65535 + 3
    assert list(out["quality"]) == ["good", "wrap", "good"]


def test_32_bit_wrap_at_a_decimal_scale():
    top = 2**32 * 0.01  # a 0.01 kWh/count uint32 register wraps at 42 949 672.96 kWh
    out = _run([top - 2.0, 1.0, 4.0], rules=CounterRules())
    assert out["quantity"].iloc[0] == pytest.approx(3.0)
    assert out["quality"].iloc[0] == "wrap"


def test_reset_counts_from_zero():
    out = _run([1000.0, 1010.0, 2.0, 5.0, 9.0])
    assert list(out["quality"]) == ["good", "reset", "good", "good"]
    assert list(out["quantity"]) == [10.0, 2.0, 3.0, 4.0]
    assert "reset from 1010 to 2" in out["note"].iloc[1]


def test_spike_up_and_dip_down_are_dropped():
    up = _run([0.0, 10.0, 20.0, 99999.0, 30.0, 40.0])
    assert up["quantity"].sum() == 40.0
    assert (up["quality"] == "spike_removed").sum() == 1
    assert "99999 dropped as an outlier" in up.loc[up["quality"] == "spike_removed", "note"].iloc[0]
    dip = _run([1000.0, 1010.0, 5.0, 1020.0, 1030.0])
    assert dip["quantity"].sum() == 30.0
    assert list(dip["quality"]) == ["good", "spike_removed", "good"]


def test_a_jump_that_stays_is_missing_not_consumption():
    out = _run([0.0, 10.0, 50000.0, 50010.0, 50020.0])
    assert list(out["quality"]) == ["good", "missing", "good", "good"]
    assert out["quantity"].sum() == 30.0
    assert not out.loc[1, "measured"]


def test_gap_is_spread_and_marked_estimated():
    times = pd.DatetimeIndex([T0, T0 + pd.Timedelta("30min"), T0 + pd.Timedelta("5h30min"),
                              T0 + pd.Timedelta("6h")])
    out = interval_consumption(times, [0.0, 10.0, 60.0, 65.0], RULES)
    assert list(out["quality"]) == ["good", "gap", "good"]
    assert list(out["estimated"]) == [False, True, False]
    edges = pd.date_range(T0, periods=7, freq="1h")
    bins = allocate(out, edges)
    # the 50 of the 5-hour gap (00:30-05:30) go 5 to hour 0, 10 to hours 1-4, 5 to hour 5
    assert list(bins["quantity"]) == pytest.approx([15.0, 10.0, 10.0, 10.0, 10.0, 10.0])
    assert list(bins["estimated_quantity"]) == pytest.approx([5.0, 10, 10, 10, 10, 5.0])
    assert list(bins["coverage"]) == pytest.approx([0.5, 0, 0, 0, 0, 0.5])


def test_no_interval_from_fewer_than_two_readings():
    assert interval_consumption(_times(1), [5.0], RULES).empty
    empty = interval_consumption(_times(0), [], RULES)
    assert list(empty.columns) == ["start", "end", "quantity", "quality", "measured",
                                   "estimated", "note"]
    bins = allocate(empty, pd.date_range(T0, periods=3, freq="D"))
    assert list(bins["quantity"]) == [0.0, 0.0]
    assert list(bins["coverage"]) == [0.0, 0.0]


def test_invalid_readings_are_skipped_and_naive_times_rejected():
    out = _run([0.0, np.nan, 20.0])
    assert list(out["quantity"]) == [20.0]
    with pytest.raises(ValueError, match="timezone-aware"):
        interval_consumption(pd.date_range("2025-01-01", periods=2, freq="h"), [0.0, 1.0])


def test_daily_aggregates_become_readings_and_in_day_resets_use_the_day_sum():
    day = pd.Timestamp("2025-03-01", tz="UTC")
    daily = pd.DataFrame({
        "meter": "m", "point": "energy_import_kwh",
        "day": [day.date(), (day + pd.Timedelta("1D")).date()],
        "first_time": [day, day + pd.Timedelta("1D")],
        "first_value": [100.0, 350.0],
        "last_time": [day + pd.Timedelta("23h45min"), day + pd.Timedelta("1D23h45min")],
        "last_value": [340.0, 40.0],      # the meter was reset on the second day
        "delta_sum": [240.0, 230.0],      # the store's sum of non-negative steps in the day
        "n_readings": [96, 96],
    })
    obs = daily_observations(daily)
    assert list(obs["value"]) == [100.0, 340.0, 350.0, 40.0]
    out = interval_consumption(obs["time"], obs["value"], RULES, obs["inner"])
    assert list(out["quantity"]) == [240.0, 10.0, 230.0]
    assert list(out["quality"]) == ["good", "good", "reset"]


@st.composite
def _counter_series(draw):
    n = draw(st.integers(min_value=2, max_value=40))
    steps = draw(st.lists(st.floats(min_value=0, max_value=200), min_size=n - 1,
                          max_size=n - 1))
    start = draw(st.floats(min_value=0, max_value=1e6))
    values = list(np.concatenate([[start], start + np.cumsum(steps)]))
    # disturb: resets, spikes, wraps, invalid readings
    for _ in range(draw(st.integers(min_value=0, max_value=4))):
        i = draw(st.integers(min_value=0, max_value=n - 1))
        values[i] = draw(st.sampled_from([0.0, 1e9, np.nan, 65535.0, -5.0]))
    minutes = draw(st.lists(st.integers(min_value=1, max_value=300), min_size=n - 1,
                            max_size=n - 1))
    times = T0 + pd.to_timedelta(np.concatenate([[0], np.cumsum(minutes)]), unit="min")
    return pd.DatetimeIndex(times), values


@settings(max_examples=300, deadline=None)
@given(_counter_series())
def test_consumption_is_never_negative(series):
    times, values = series
    out = interval_consumption(times, values, RULES)
    assert (out["quantity"] >= 0).all()
    assert np.isfinite(out["quantity"]).all()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=500), min_size=2, max_size=29),
       st.lists(st.integers(min_value=1, max_value=2000), min_size=29, max_size=29),
       st.integers(min_value=5, max_value=600))
def test_a_clean_counter_conserves_its_total_across_gaps_and_bins(steps, minutes, bin_minutes):
    values = list(np.concatenate([[1000.0], 1000.0 + np.cumsum(steps)]))
    times = T0 + pd.to_timedelta(np.concatenate([[0], np.cumsum(minutes[: len(steps)])]),
                                 unit="min")
    out = interval_consumption(pd.DatetimeIndex(times), values, CounterRules(gap_s=3600.0))
    assert out["quantity"].sum() == pytest.approx(values[-1] - values[0], rel=1e-9, abs=1e-9)
    edges = pd.date_range(T0, times[-1] + pd.Timedelta(minutes=bin_minutes),
                          freq=f"{bin_minutes}min")
    bins = allocate(out, edges)
    assert bins["quantity"].sum() == pytest.approx(values[-1] - values[0], rel=1e-9, abs=1e-6)
    assert (bins["quantity"] >= 0).all()
    assert (bins["estimated_quantity"] <= bins["quantity"] + 1e-9).all()
    assert ((bins["coverage"] >= 0) & (bins["coverage"] <= 1)).all()
