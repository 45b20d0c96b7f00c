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
    "daily_observations",
    "interval_consumption",
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
        s = pd.DatetimeIndex(intervals["start"]).as_unit("ns").asi8
        e = pd.DatetimeIndex(intervals["end"]).as_unit("ns").asi8
        lo = np.searchsorted(edge_ns, s, side="right") - 1
        hi = np.maximum(np.searchsorted(edge_ns, e, side="left") - 1, lo)
        count = hi - lo + 1
        idx = np.repeat(np.arange(len(s)), count)
        b = np.concatenate([np.arange(a, z + 1) for a, z in zip(lo, hi, strict=True)])
        inside = (b >= 0) & (b < n)
        idx, b = idx[inside], b[inside]
        left = np.maximum(s[idx], edge_ns[b])
        right = np.minimum(e[idx], edge_ns[b + 1])
        length = (e - s)[idx]
        overlap = np.maximum(right - left, 0)
        share = np.where(length > 0, overlap / np.where(length > 0, length, 1), 1.0)
        quantity = intervals["quantity"].to_numpy(dtype=float)[idx] * share
        estimated = intervals["estimated"].to_numpy(dtype=bool)[idx]
        measured = intervals["measured"].to_numpy(dtype=bool)[idx]
        result["quantity"] = np.bincount(b, weights=quantity, minlength=n)
        result["estimated_quantity"] = np.bincount(
            b, weights=np.where(estimated, quantity, 0.0), minlength=n
        )
        result["measured_s"] = np.bincount(
            b, weights=np.where(measured, overlap / 1e9, 0.0), minlength=n
        )
    result["seconds"] = (edge_ns[1:] - edge_ns[:-1]) / 1e9 if n > 0 else np.zeros(0)
    result["coverage"] = np.minimum(result["measured_s"] / result["seconds"], 1.0)
    return result
