"""Many counters at once (``*_by_series``) equal each counter on its own, exactly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pandas.testing import assert_frame_equal

from accounting.counters import (
    CounterRules,
    allocate,
    allocate_by_series,
    daily_observations,
    daily_observations_by_series,
    interval_consumption,
    interval_consumption_by_series,
)

T0 = pd.Timestamp("2025-03-01 00:00", tz="UTC")


@st.composite
def _series(draw):
    """One counter: times, values (rises, resets, spikes, wraps, going back, NaN), inner."""
    n = draw(st.integers(min_value=0, max_value=30))
    rises = draw(st.lists(st.floats(min_value=0, max_value=300), min_size=n, max_size=n))
    values = draw(st.floats(min_value=0, max_value=6e4)) + np.cumsum(rises)
    for _ in range(draw(st.integers(min_value=0, max_value=3)) if n else 0):
        i = draw(st.integers(min_value=0, max_value=n - 1))
        values[i] = draw(st.sampled_from([0.0, 1e9, np.nan, 65535.0, 3.0, -5.0]))
    minutes = draw(st.lists(st.sampled_from([1, 15, 60, 90, 600, 1440, 5000]), min_size=n,
                            max_size=n))
    times = T0 + pd.to_timedelta(np.cumsum(minutes), unit="min")
    inner = [draw(st.one_of(st.just(np.nan), st.floats(min_value=0, max_value=500)))
             for _ in range(n)]
    rules = CounterRules(max_rate_per_h=draw(st.sampled_from([None, 500.0, 1000])),
                         gap_s=draw(st.sampled_from([3600.0, 7200.0, 86_400.0])))
    return pd.DatetimeIndex(times), values, np.asarray(inner, dtype=float), rules


def _stream(many) -> pd.DataFrame:
    return pd.DataFrame({
        "series": np.concatenate([np.full(len(t), k, dtype=np.int64)
                                  for k, (t, _, _, _) in enumerate(many)]),
        "time": pd.DatetimeIndex(np.concatenate([t.as_unit("ns").asi8 for t, _, _, _ in many]).view("M8[ns]"))
        .tz_localize("UTC"),
        "value": np.concatenate([v for _, v, _, _ in many]),
        "inner": np.concatenate([w for _, _, w, _ in many]),
    })


def _one_by_one(many) -> pd.DataFrame:
    frames = []
    for k, (t, v, w, rules) in enumerate(many):
        one = interval_consumption(t, v, rules, w)
        one.insert(0, "series", np.full(len(one), k, dtype=np.int64))
        frames.append(one)
    full = [f for f in frames if len(f)]
    return pd.concat(full, ignore_index=True) if full else frames[0]


@settings(max_examples=300, deadline=None)
@given(st.lists(_series(), min_size=1, max_size=8))
def test_intervals_of_many_counters_equal_each_counter_alone(many):
    fast = interval_consumption_by_series(_stream(many), [r for _, _, _, r in many])
    assert_frame_equal(fast, _one_by_one(many), check_exact=True)


@settings(max_examples=200, deadline=None)
@given(st.lists(_series(), min_size=1, max_size=8),
       st.sampled_from(["30min", "1h", "1D", "7D"]), st.integers(min_value=-3000, max_value=3000))
def test_bins_of_many_counters_equal_each_counter_alone(many, width, shift):
    edges = pd.date_range(T0 + pd.Timedelta(minutes=shift), periods=30, freq=width)
    intervals = _one_by_one(many)
    fast = allocate_by_series(intervals, edges, len(many) + 1)  # the last one has no data
    slow = []
    for k in range(len(many) + 1):
        bins = allocate(intervals[intervals["series"] == k], edges)
        bins.insert(0, "series", np.full(len(bins), k, dtype=np.int64))
        bins.insert(1, "bin", np.arange(len(bins)))
        slow.append(bins)
    assert_frame_equal(fast, pd.concat(slow, ignore_index=True), check_exact=True)


def test_daily_aggregates_of_many_counters_become_each_one_s_readings():
    day = pd.Timestamp("2025-03-01", tz="UTC")
    one = pd.Timedelta("1D")
    daily = pd.DataFrame({  # rows out of order; a day with a single reading (first = last)
        "series": [1, 0, 1, 0, 2],
        "first_time": [day + one, day + one, day, day, day],
        "first_value": [350.0, 7.0, 100.0, 5.0, 1.0],
        "last_time": [day + one + pd.Timedelta("23h"), day + one, day + pd.Timedelta("23h"),
                      day + pd.Timedelta("22h"), day + pd.Timedelta("1h")],
        "last_value": [40.0, 7.0, 340.0, 6.0, 2.0],
        "delta_sum": [230.0, 0.0, 240.0, 1.0, 1.0],
    })
    fast = daily_observations_by_series(daily)
    assert list(fast["series"]) == [0, 0, 0, 1, 1, 1, 1, 2, 2]
    for k in range(3):
        alone = daily_observations(daily[daily["series"] == k].drop(columns="series"))
        assert_frame_equal(fast[fast["series"] == k].drop(columns="series")
                           .reset_index(drop=True), alone, check_exact=True, check_dtype=False)
    assert daily_observations_by_series(daily.iloc[0:0]).empty


def test_many_counters_check_their_input():
    stream = pd.DataFrame({"series": [0, 0], "time": [T0, T0 - pd.Timedelta("1h")],
                           "value": [1.0, 2.0], "inner": [np.nan, np.nan]})
    with pytest.raises(ValueError, match="increasing order"):
        interval_consumption_by_series(stream, [CounterRules()])
    with pytest.raises(ValueError, match="sorted by series"):
        interval_consumption_by_series(stream.assign(series=[1, 0]), [CounterRules()] * 2)
    with pytest.raises(ValueError, match="timezone-aware"):
        interval_consumption_by_series(stream.assign(time=stream["time"].dt.tz_localize(None)),
                                       [CounterRules()])
