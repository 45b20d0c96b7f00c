"""Counter arithmetic: cumulative counter readings → interval consumption.

This module is the one place that turns counter values (kWh, m3, GJ registers that only grow)
into consumption. Between two consecutive readings of one counter the step is classified:

``good``
    The counter rose by a plausible amount: consumption = the difference.
``wrap``
    The counter went back to near zero from near the top of a 16- or 32-bit register (times a
    decimal scale): consumption = the difference + the register's range.
``reset``
    The counter went backwards otherwise (meter reset or replaced): consumption = what the step
    measured inside itself when known (the store's in-day sum), else the new value (counted from
    zero), when that is plausible.
``spike_removed``
    A reading far off the counter's path (the counter moved faster than ``max_rate_per_h`` allows,
    then came back) is dropped; the interval spans the readings on either side of it.
``gap``
    The interval is longer than ``gap_s``: its consumption is known in total but not in time, so
    it is spread over the interval and marked estimated.
``missing``
    Nothing usable: a jump that did not come back, or a reset to an implausible value. The
    interval counts as not measured and its consumption as 0.

Consumption is never negative, and spreading an interval over bins (:func:`allocate`) keeps its
total. Every interval says whether it was ``measured`` (counts towards coverage) and whether its
consumption is ``estimated``.

The ``*_by_series`` functions do the same for many counters at once (one frame sorted by counter
and time, array arithmetic for the counters whose steps are all plain rises) and give each counter
exactly what the one-counter functions give it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "DEFAULT_ROLLOVERS",
    "INTERVAL_COLUMNS",
    "CounterRules",
    "allocate",
    "allocate_by_series",
    "daily_observations",
    "daily_observations_by_series",
    "interval_consumption",
    "interval_consumption_by_series",
]

#: Register ranges a counter may wrap at: 2^16 and 2^32 counts, at decimal scales.
DEFAULT_ROLLOVERS: tuple[float, ...] = tuple(
    float(bits) * scale for bits in (2**16, 2**32) for scale in (1.0, 0.1, 0.01, 0.001)
)

#: Columns of :func:`interval_consumption`.
INTERVAL_COLUMNS = ["start", "end", "quantity", "quality", "measured", "estimated", "note"]

_MIN_RATE_HOURS = 1.0 / 60.0  # rate limits are applied over at least a minute


@dataclass(frozen=True)
class CounterRules:
    """How to read one counter.

    Attributes
    ----------
    max_rate_per_h
        Fastest plausible rise of the counter (the meter's rating), or None for no limit.
        [counter unit/h]
    gap_s
        Intervals longer than this are gaps (consumption spread, marked estimated). [s]
    rollovers
        Register ranges the counter may wrap at. [counter unit]
    jitter
        Backward steps smaller than this share of the value are noise, not resets.
    """

    max_rate_per_h: float | None = None
    gap_s: float = 3600.0
    rollovers: tuple[float, ...] = DEFAULT_ROLLOVERS
    jitter: float = 1e-6


def _limit(rules: CounterRules, seconds: float) -> float:
    if rules.max_rate_per_h is None:
        return math.inf
    return rules.max_rate_per_h * max(seconds / 3600.0, _MIN_RATE_HOURS)


def _step(prev: float, value: float, seconds: float, rules: CounterRules,
          inner: float = math.nan) -> tuple[float, str]:
    """Classify one step: (consumption or NaN, quality)."""
    limit = _limit(rules, seconds)
    delta = value - prev
    if delta >= 0:
        return (delta, "good") if delta <= limit else (math.nan, "spike")
    if -delta <= rules.jitter * max(abs(prev), 1.0):
        return 0.0, "jitter"
    for top in rules.rollovers:
        if 0.9 * top <= prev < top and 0 <= value < 0.1 * top:
            wrapped = value + top - prev
            if wrapped <= limit:
                return wrapped, "wrap"
    if not math.isnan(inner) and 0 <= inner <= limit:
        return inner, "reset"
    if 0 <= value <= limit:
        return value, "reset"
    return math.nan, "missing"


def interval_consumption(
    times: Sequence | pd.Series | pd.DatetimeIndex,
    values: Sequence[float] | np.ndarray | pd.Series,
    rules: CounterRules | None = None,
    inner: Sequence[float] | np.ndarray | pd.Series | None = None,
) -> pd.DataFrame:
    """Consumption between consecutive readings of one counter.

    Parameters
    ----------
    times
        Reading times (timezone-aware), in increasing order.
    values
        Counter values at those times [counter unit]; NaN readings (invalid) are skipped.
    rules
        Rate limit, gap length and register ranges; defaults to :class:`CounterRules`.
    inner
        Optional, per reading: consumption measured inside the step that ends at that reading
        (e.g. the store's in-day sum of non-negative differences), used when the counter went
        backwards within the step. NaN where unknown. A step with a known inner consumption was
        read throughout (the store saw readings all along it), so it is never a gap however long.

    Returns
    -------
    pandas.DataFrame
        One row per interval: start, end, quantity (≥ 0) [counter unit], quality (good, wrap,
        reset, spike_removed, gap, missing), measured (bool), estimated (bool), note.
    """
    rules = rules or CounterRules()
    t = pd.DatetimeIndex(pd.to_datetime(times)).as_unit("ns")
    if t.tz is None:
        raise ValueError("counter reading times must be timezone-aware")
    v = np.asarray(values, dtype=float)
    w = np.full(len(v), np.nan) if inner is None else np.asarray(inner, dtype=float)
    if not (len(t) == len(v) == len(w)):
        raise ValueError("times, values and inner must have the same length")
    keep = ~np.isnan(v)
    t, v, w = t[keep], v[keep], w[keep]
    if len(t) > 1 and (np.diff(t.asi8) < 0).any():
        raise ValueError("counter reading times must be in increasing order")
    secs = t.asi8 / 1e9

    if len(v) > 1:
        delta, span = np.diff(v), np.diff(secs)
        limit = _limits(rules, span)
        clean = bool(((delta >= 0) & (delta <= limit)).all())
    else:
        clean = True
    if clean:  # the common case: every step is a plain rise
        first = np.arange(max(len(v) - 1, 0))
        steps = (first, first + 1, np.diff(v) if len(v) > 1 else np.zeros(0),
                 ["good"] * len(first), [""] * len(first))
    else:
        steps = _walk(v.tolist(), secs.tolist(), w.tolist(), rules, t)
    start_i, end_i, quantity, quality, note = steps
    start_i, end_i = np.asarray(start_i, dtype=int), np.asarray(end_i, dtype=int)
    frame = pd.DataFrame({
        "start": t[start_i], "end": t[end_i],
        "quantity": np.nan_to_num(np.asarray(quantity, dtype=float), nan=0.0),
        "quality": np.asarray(quality, dtype=object),
        "measured": np.asarray(quality, dtype=object) != "missing",
        "estimated": False,
        "note": np.asarray(note, dtype=object),
    })
    # A long interval is a gap, unless its consumption was measured inside it (in-day steps).
    span = secs[end_i] - secs[start_i]
    inner_known = (end_i == start_i + 1) & ~np.isnan(w[end_i]) if len(end_i) else np.zeros(0, bool)
    gap = frame["measured"].to_numpy() & (span > rules.gap_s) & ~inner_known
    if gap.any():
        hours = span[gap] / 3600
        frame.loc[gap, "note"] = [
            _join(n, f"gap of {h:.1f} h: consumption spread over it")
            for n, h in zip(frame.loc[gap, "note"], hours, strict=True)
        ]
        frame.loc[gap, "quality"] = "gap"
        frame.loc[gap, "measured"] = False
        frame.loc[gap, "estimated"] = True
    return frame[INTERVAL_COLUMNS]


def _limits(rules: CounterRules, seconds: np.ndarray) -> np.ndarray:
    if rules.max_rate_per_h is None:
        return np.full(len(seconds), np.inf)
    return rules.max_rate_per_h * np.maximum(seconds / 3600.0, _MIN_RATE_HOURS)


def _walk(
    v: list[float], secs: list[float], w: list[float], rules: CounterRules, t: pd.DatetimeIndex
) -> tuple[list[int], list[int], list[float], list[str], list[str]]:
    """Step through readings that include irregular steps: (start index, end index, quantity,
    quality, note) per interval."""
    starts: list[int] = []
    ends: list[int] = []
    quantities: list[float] = []
    qualities: list[str] = []
    notes: list[str] = []
    last, i, n = 0, 1, len(v)
    while i < n:
        inner_i = w[i] if last == i - 1 else math.nan
        quantity, quality = _step(v[last], v[i], secs[i] - secs[last], rules, inner_i)
        if quality == "jitter":
            i += 1
            continue
        note = ""
        if quality not in ("good", "wrap") and i + 1 < n:
            # Is reading i an outlier? Skipping it gives a good step from the last reading.
            q2, quality2 = _step(v[last], v[i + 1], secs[i + 1] - secs[last], rules)
            if quality2 == "good":
                quantity, quality = q2, "spike_removed"
                note = f"reading {t[i].isoformat()} = {v[i]:g} dropped as an outlier"
                i += 1
        if quality == "spike":
            quality, note = "missing", f"jump of {v[i] - v[last]:g} faster than the rate limit"
        elif quality == "missing":
            note = f"counter went back from {v[last]:g} to {v[i]:g}; consumption unknown"
        elif quality == "reset":
            note = f"counter reset from {v[last]:g} to {v[i]:g}"
        elif quality == "wrap":
            note = f"register wrapped from {v[last]:g} to {v[i]:g}"
        starts.append(last)
        ends.append(i)
        quantities.append(quantity)
        qualities.append(quality)
        notes.append(note)
        last = i
        i += 1
    return starts, ends, quantities, qualities, notes


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def daily_observations(daily: pd.DataFrame) -> pd.DataFrame:
    """One counter's daily aggregates as a stream of readings for :func:`interval_consumption`.

    Parameters
    ----------
    daily
        Rows of ``TimeSeriesStore.daily_counters`` for one meter and point: day, first_time,
        first_value, last_time, last_value, delta_sum, n_readings.

    Returns
    -------
    pandas.DataFrame
        time, value, inner: each day's first reading, then its last reading with the day's
        ``delta_sum`` as the consumption measured inside the in-day step.
    """
    if daily.empty:
        return pd.DataFrame({
            "time": pd.DatetimeIndex([], tz="UTC"), "value": [], "inner": []
        })
    d = daily.sort_values("first_time")
    first = pd.DataFrame({
        "time": pd.to_datetime(d["first_time"], utc=True).to_numpy(),
        "value": d["first_value"].to_numpy(dtype=float),
        "inner": np.nan,
        "order": np.arange(len(d)) * 2,
    })
    two = (pd.to_datetime(d["last_time"], utc=True) > pd.to_datetime(d["first_time"], utc=True))
    last = pd.DataFrame({
        "time": pd.to_datetime(d["last_time"], utc=True).to_numpy(),
        "value": d["last_value"].to_numpy(dtype=float),
        "inner": pd.to_numeric(d["delta_sum"]).to_numpy(dtype=float),
        "order": np.arange(len(d)) * 2 + 1,
    })[two.to_numpy()]
    out = pd.concat([first, last]).sort_values("order").drop(columns="order")
    out["time"] = pd.to_datetime(out["time"], utc=True)
    return out.reset_index(drop=True)


def _bin_overlaps(intervals: pd.DataFrame, edge_ns: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every (interval, bin) pair that overlaps: interval index, bin index, overlap [ns] and
    the interval's share in the bin (1 for a zero-length interval), in interval then bin order.

    Bin k is ``[edge_ns[k], edge_ns[k+1])``; pairs outside the bins are left out.
    """
    n = len(edge_ns) - 1
    s = pd.DatetimeIndex(intervals["start"]).as_unit("ns").asi8
    e = pd.DatetimeIndex(intervals["end"]).as_unit("ns").asi8
    # the bins each interval touches: lo..hi (may reach outside 0..n-1)
    lo = np.searchsorted(edge_ns, s, side="right") - 1
    hi = np.maximum(np.searchsorted(edge_ns, e, side="left") - 1, lo)
    count = hi - lo + 1
    idx = np.repeat(np.arange(len(s)), count)
    b = lo[idx] + np.arange(len(idx)) - np.repeat(np.cumsum(count) - count, count)
    inside = (b >= 0) & (b < n)
    idx, b = idx[inside], b[inside]
    left = np.maximum(s[idx], edge_ns[b])
    right = np.minimum(e[idx], edge_ns[b + 1])
    length = (e - s)[idx]
    overlap = np.maximum(right - left, 0)
    share = np.where(length > 0, overlap / np.where(length > 0, length, 1), 1.0)
    return idx, b, overlap, share


def allocate(intervals: pd.DataFrame, edges: pd.DatetimeIndex) -> pd.DataFrame:
    """Spread interval consumption over bins by time fraction.

    Parameters
    ----------
    intervals
        The output of :func:`interval_consumption`.
    edges
        Bin boundaries (timezone-aware, increasing): bin k is ``[edges[k], edges[k+1])``.

    Returns
    -------
    pandas.DataFrame
        One row per bin: bin_start, bin_end, quantity, estimated_quantity [counter unit],
        measured_s (seconds of the bin covered by measured intervals), seconds (bin length),
        coverage (measured_s / seconds). Consumption outside the edges is left out; an interval
        inside the edges keeps its total.
    """
    edges = pd.DatetimeIndex(edges).as_unit("ns")
    edge_ns = edges.asi8
    n = len(edge_ns) - 1
    result = pd.DataFrame({
        "bin_start": edges[:-1], "bin_end": edges[1:],
        "quantity": np.zeros(n), "estimated_quantity": np.zeros(n), "measured_s": np.zeros(n),
    })
    if not intervals.empty and n > 0:
        idx, b, overlap, share = _bin_overlaps(intervals, edge_ns)
        quantity = intervals["quantity"].to_numpy(dtype=float)[idx] * share
        estimated = intervals["estimated"].to_numpy(dtype=bool)[idx]
        measured = intervals["measured"].to_numpy(dtype=bool)[idx]
        result["quantity"] = _sums(b, quantity, n)
        result["estimated_quantity"] = _sums(b, np.where(estimated, quantity, 0.0), n)
        result["measured_s"] = _sums(b, np.where(measured, overlap / 1e9, 0.0), n)
    result["seconds"] = (edge_ns[1:] - edge_ns[:-1]) / 1e9 if n > 0 else np.zeros(0)
    result["coverage"] = np.minimum(result["measured_s"] / result["seconds"], 1.0)
    return result


# ---------------------------------------------------------------------------------------------
# Many counters at once. The functions below give, for each counter (``series``), exactly what
# daily_observations → interval_consumption → allocate give for it alone, in one pass of numpy
# over a frame sorted by (series, time). A counter whose steps are all plain rises is handled by
# array arithmetic; a counter with an irregular step (wrap, reset, spike, going back) is passed
# to interval_consumption on its own, so that it gets the exact per-counter result.
# ---------------------------------------------------------------------------------------------


def daily_observations_by_series(daily: pd.DataFrame) -> pd.DataFrame:
    """Several counters' daily aggregates as one stream of readings, sorted by (series, time).

    Parameters
    ----------
    daily
        Rows of ``TimeSeriesStore.daily_counters`` (first_time, first_value, last_time,
        last_value, delta_sum), plus an integer column ``series`` saying which counter a row
        belongs to (one counter = one meter × point).

    Returns
    -------
    pandas.DataFrame
        series (int64), time (UTC), value [counter unit], inner [counter unit]: for each series,
        the rows :func:`daily_observations` gives for its rows alone, in the same order (each
        day's first reading, then its last reading when later, with the day's ``delta_sum`` as
        ``inner``).
    """
    if daily.empty:
        return pd.DataFrame({
            "series": np.zeros(0, dtype=np.int64), "time": pd.DatetimeIndex([], tz="UTC"),
            "value": np.zeros(0), "inner": np.zeros(0),
        })
    series = daily["series"].to_numpy(dtype=np.int64)
    first_ns, last_ns = _ns(daily["first_time"]), _ns(daily["last_time"])
    order = np.lexsort((first_ns, series))  # by series, then by the day's first reading
    n = len(order)
    # two readings per day, [first, last], then keep the last one only when it is later
    series = np.repeat(series[order], 2)
    time = np.column_stack([first_ns[order], last_ns[order]]).ravel()
    value = np.column_stack([
        daily["first_value"].to_numpy(dtype=float)[order],
        daily["last_value"].to_numpy(dtype=float)[order],
    ]).ravel()
    inner = np.column_stack([
        np.full(n, np.nan), pd.to_numeric(daily["delta_sum"]).to_numpy(dtype=float)[order]
    ]).ravel()
    keep = np.column_stack([np.ones(n, dtype=bool), last_ns[order] > first_ns[order]]).ravel()
    return pd.DataFrame({
        "series": series[keep], "time": _utc(time[keep]), "value": value[keep],
        "inner": inner[keep],
    })


def interval_consumption_by_series(obs: pd.DataFrame, rules: Sequence[CounterRules]) -> pd.DataFrame:
    """Consumption between consecutive readings of several counters.

    Parameters
    ----------
    obs
        series (int, ``0 <= series < len(rules)``), time (timezone-aware), value [counter
        unit] (NaN readings are skipped) and inner [counter unit] (NaN where unknown), sorted
        by series and, within a series, by time; e.g. :func:`daily_observations_by_series`.
    rules
        The rules of each series (``rules[k]`` for series ``k``).

    Returns
    -------
    pandas.DataFrame
        series (int64) then :data:`INTERVAL_COLUMNS`, sorted by series: for each series, the
        rows :func:`interval_consumption` gives for its readings alone, in the same order and
        with the same values.

    Notes
    -----
    A series whose steps are all plain rises (``0 <= delta <= `` the rate limit over the step)
    is computed with array arithmetic, gaps included: a step longer than ``gap_s`` whose inner
    consumption is unknown is a gap. Every other series goes through
    :func:`interval_consumption` on its own.
    """
    times = pd.DatetimeIndex(obs["time"])
    if times.tz is None:
        raise ValueError("counter reading times must be timezone-aware")
    values = obs["value"].to_numpy(dtype=float)
    keep = ~np.isnan(values)
    s = obs["series"].to_numpy(dtype=np.int64)[keep]
    t = times.as_unit("ns").asi8[keep]
    v, w = values[keep], obs["inner"].to_numpy(dtype=float)[keep]
    if len(s) > 1 and (np.diff(s) < 0).any():
        raise ValueError("counter readings must be sorted by series")
    if ((s < 0) | (s >= len(rules))).any():
        raise ValueError(f"series numbers must be in 0..{len(rules) - 1}")
    step = s[1:] == s[:-1]  # reading i → i + 1 is a step of one counter
    if (step & (np.diff(t) < 0)).any():
        raise ValueError("counter reading times must be in increasing order")

    secs = t / 1e9
    delta, span = np.diff(v), np.diff(secs)
    rate = np.array([math.nan if r.max_rate_per_h is None else r.max_rate_per_h for r in rules])
    gap_s = np.array([r.gap_s for r in rules], dtype=float)
    per_h = rate[s[:-1]]
    limit = np.where(np.isnan(per_h), np.inf, per_h * np.maximum(span / 3600.0, _MIN_RATE_HOURS))
    plain = (delta >= 0) & (delta <= limit)
    irregular = np.zeros(len(rules), dtype=bool)
    irregular[s[:-1][step & ~plain]] = True

    # the clean series: every step is an interval, consumption = the rise, unless it is a gap
    i = np.flatnonzero(step & ~irregular[s[:-1]])
    gap = (span[i] > gap_s[s[i]]) & np.isnan(w[i + 1])
    note = np.full(len(i), "", dtype=object)
    note[gap] = [f"gap of {h:.1f} h: consumption spread over it" for h in span[i][gap] / 3600]
    clean = pd.DataFrame({
        "series": s[i], "start": _utc(t[i]), "end": _utc(t[i + 1]),
        "quantity": np.nan_to_num(delta[i], nan=0.0),
        "quality": np.where(gap, "gap", "good").astype(object), "measured": ~gap,
        "estimated": gap, "note": note,
    })
    if not irregular.any():
        return clean
    # the others, one by one
    parts = [clean] if len(clean) else []
    odd = np.flatnonzero(irregular)
    for k, a, z in zip(odd, np.searchsorted(s, odd, side="left"),
                       np.searchsorted(s, odd, side="right"), strict=True):
        one = interval_consumption(_utc(t[a:z]), v[a:z], rules[int(k)], w[a:z])
        one.insert(0, "series", np.full(len(one), k, dtype=np.int64))
        parts.append(one)
    out = pd.concat(parts, ignore_index=True)
    # each series in its place, each keeping its own order
    return out.iloc[np.argsort(out["series"].to_numpy(), kind="stable")].reset_index(drop=True)


def allocate_by_series(intervals: pd.DataFrame, edges: pd.DatetimeIndex, n_series: int
                       ) -> pd.DataFrame:
    """Spread the interval consumption of several counters over bins by time fraction.

    Parameters
    ----------
    intervals
        series (int, ``0 <= series < n_series``) and the columns of
        :func:`interval_consumption`, sorted by series; e.g. the output of
        :func:`interval_consumption_by_series`.
    edges
        Bin boundaries (timezone-aware, increasing): bin k is ``[edges[k], edges[k+1])``.
    n_series
        Number of series; a series without intervals gets empty bins.

    Returns
    -------
    pandas.DataFrame
        One row per series × bin, series-major: series, bin (0-based), bin_start, bin_end,
        quantity, estimated_quantity [counter unit], measured_s [s], seconds (bin length) [s],
        coverage (measured_s / seconds): for each series the values :func:`allocate` gives for
        its intervals alone (the same floating-point sums, added in the same order).
    """
    edges = pd.DatetimeIndex(edges).as_unit("ns")
    edge_ns = edges.asi8
    n = max(len(edge_ns) - 1, 0)
    cells = n_series * n
    quantity, estimated_q, measured_s = np.zeros(cells), np.zeros(cells), np.zeros(cells)
    if not intervals.empty and n > 0:
        series = intervals["series"].to_numpy(dtype=np.int64)
        idx, b, overlap, share = _bin_overlaps(intervals, edge_ns)
        q = intervals["quantity"].to_numpy(dtype=float)[idx] * share
        estimated = intervals["estimated"].to_numpy(dtype=bool)[idx]
        measured = intervals["measured"].to_numpy(dtype=bool)[idx]
        cell = series[idx] * n + b  # bin b of series k is cell k·n + b
        quantity = _sums(cell, q, cells)
        estimated_q = _sums(cell, np.where(estimated, q, 0.0), cells)
        measured_s = _sums(cell, np.where(measured, overlap / 1e9, 0.0), cells)
    seconds = np.tile((edge_ns[1:] - edge_ns[:-1]) / 1e9, n_series)
    bins = np.tile(np.arange(n), n_series)
    with np.errstate(divide="ignore", invalid="ignore"):  # as pandas: an empty bin gives NaN
        coverage = np.minimum(measured_s / seconds, 1.0)
    return pd.DataFrame({
        "series": np.repeat(np.arange(n_series, dtype=np.int64), n), "bin": bins,
        "bin_start": edges[:-1][bins], "bin_end": edges[1:][bins],
        "quantity": quantity, "estimated_quantity": estimated_q, "measured_s": measured_s,
        "seconds": seconds, "coverage": coverage,
    })


def _sums(cell: np.ndarray, weights: np.ndarray, n: int) -> np.ndarray:
    """Sum of the weights per cell ``0..n-1``, added in order (float, even with no weights:
    ``np.bincount`` of nothing is int64)."""
    return np.bincount(cell, weights=weights, minlength=n).astype(float, copy=False)


def _ns(column: pd.Series) -> np.ndarray:
    """Times as int64 nanoseconds since the epoch (UTC)."""
    return pd.DatetimeIndex(pd.to_datetime(column, utc=True)).as_unit("ns").asi8


def _utc(ns: np.ndarray) -> pd.DatetimeIndex:
    """Int64 nanoseconds since the epoch as UTC times."""
    return pd.DatetimeIndex(np.asarray(ns, dtype=np.int64).view("M8[ns]")).tz_localize("UTC")
