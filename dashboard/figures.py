"""Pure functions from tables to Plotly figures and display tables (no I/O, no session).

Callbacks fetch data through :class:`dashboard.data.DataService` and hand it here. Every label
comes from the catalog in the reader's language; a missing value stays missing (a gap, or ``–``
with the reason), never 0. Long series are thinned on the server by :func:`minmax_downsample` so
that no trace ships more than about twice its width in pixels.

Figures are plain ``{"data": [...], "layout": {...}}`` dicts (:data:`Figure`) with lists of
numbers (a missing one as None), which Dash sends as they are: Plotly's figure classes validate
every property on the server, which cost more than a callback's data work.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from plotly.colors import get_colorscale

from dashboard.i18n import fmt_date, fmt_number, fmt_pct, is_missing, month_label, t
from jieneng.vocabulary import CARRIERS

__all__ = [
    "MAX_POINTS_PER_PX",
    "Figure",
    "benchmark_scatter",
    "completeness_heatmap",
    "day_hours",
    "empty_figure",
    "fyp14_figure",
    "hourly_figure",
    "league_frame",
    "league_rows",
    "league_table",
    "minmax_downsample",
    "monthly_figure",
    "peer_statistics",
    "peer_table",
    "subitem_figure",
    "trend_figure",
]

GRID = "#e9ecef"

#: At most this many points per pixel column of a trace (min and max).
MAX_POINTS_PER_PX = 2
#: Width assumed when the browser has not told its width yet. [px]
DEFAULT_WIDTH_PX = 1200
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")

#: The completeness heatmap's colours, red (none reporting) to green (all): plotly.js knows
#: no "RdYlGn" by name, so the stops are written out.
COMPLETENESS_SCALE = get_colorscale("RdYlGn")

#: Scope → colour (scope 1 fuel burnt on site, scope 2 purchased, 0 no emissions).
SCOPE_COLORS = {1: "#ff7f0e", 2: "#1f77b4", 0: "#7f7f7f"}

#: Indicators of the benchmarking page: figure column → (unit, quota subject or None).
INDICATORS: dict[str, str] = {
    "kgce_per_m2": "kgce/m²",
    "kgce_per_person": "kgce/人",
    "kgco2_per_m2": "kgCO2/m²",
    "kwh_per_m2": "kWh/m²",
    "water_m3_per_person": "m³/人",
}


def minmax_downsample(x: np.ndarray, y: np.ndarray, width_px: int) -> tuple[np.ndarray, np.ndarray]:
    """Keep the first minimum and maximum of ``y`` in each of ``width_px`` equal columns of ``x``.

    The shape a reader sees at that width is kept (peaks and dips survive), and at most
    ``2 × width_px`` points remain, in their original order. NaN values are dropped first.

    Parameters
    ----------
    x
        Sorted positions (numbers or datetime64).
    y
        Values.
    width_px
        The plot's width in pixels.
    """
    x = np.asarray(x)
    y = np.asarray(y, dtype=float)
    keep = ~np.isnan(y)
    x, y = x[keep], y[keep]
    width_px = max(1, int(width_px))
    if len(x) <= MAX_POINTS_PER_PX * width_px:
        return x, y
    pos = x.astype("datetime64[ns]").astype(np.int64) if np.issubdtype(x.dtype, np.datetime64) \
        else x.astype(float)
    span = pos[-1] - pos[0]
    column = np.minimum(((pos - pos[0]) / (span if span else 1) * width_px).astype(np.int64),
                        width_px - 1)
    order = np.lexsort((y, column))  # by column, then value
    sorted_cols = column[order]
    starts = np.flatnonzero(np.r_[True, sorted_cols[1:] != sorted_cols[:-1]])
    ends = np.r_[starts[1:], len(order)] - 1
    chosen = np.unique(np.concatenate([order[starts], order[ends]]))
    return x[chosen], y[chosen]


#: A Plotly figure as Dash sends it: ``{"data": [trace, ...], "layout": {...}}``.
Figure = dict[str, Any]


def _values(values: Any) -> list:
    """Numbers as a JSON-ready list, a missing value (NaN) as None (a gap in the trace).

    Plain lists keep Plotly's JSON encoder on its fast path: a NaN anywhere in an answer makes it
    encode the whole answer twice.
    """
    array = np.asarray(values, dtype=float)
    return [None if v != v else v for v in array.tolist()]


def _times(values: np.ndarray) -> list[str]:
    """datetime64 values as ISO strings (local wall time, as given) for a date axis."""
    return np.datetime_as_string(np.asarray(values, dtype="datetime64[s]"), unit="s").tolist()


def _axis(**settings: Any) -> dict[str, Any]:
    return {"gridcolor": GRID, "zeroline": False, **settings}


def _figure(traces: list[dict[str, Any]], lang: str, title: str = "", height: int = 360,
            xaxis: dict[str, Any] | None = None, yaxis: dict[str, Any] | None = None,
            **layout: Any) -> Figure:
    """A figure dict with the dashboard's layout (plain dicts: Plotly's figure classes validate
    every property on the server, which cost more than the data work of a callback)."""
    return {"data": traces, "layout": {
        "title": {"text": title, "x": 0.01, "font": {"size": 15}} if title else {"text": ""},
        "height": height, "margin": {"l": 50, "r": 20, "t": 40 if title else 10, "b": 40},
        "separators": ".,", "legend": {"orientation": "h", "y": -0.15},
        "plot_bgcolor": "white", "paper_bgcolor": "white",
        "font": {"family": "system-ui, sans-serif", "color": "#212529"},
        "xaxis": _axis(**(xaxis or {})), "yaxis": _axis(**(yaxis or {})), **layout}}


def empty_figure(message: str, lang: str, height: int = 300) -> Figure:
    """A figure with no data and the reason written in it."""
    return _figure([], lang, height=height, xaxis={"visible": False},
                   yaxis={"visible": False}, annotations=[{
                       "text": message, "showarrow": False, "x": 0.5, "y": 0.5, "xref": "paper",
                       "yref": "paper", "font": {"size": 14, "color": "#6c757d"}}])


def hourly_figure(today: pd.Series, yesterday: pd.Series, last_week: pd.Series, unit: str,
                  lang: str) -> Figure:
    """Hourly consumption today against yesterday and the same weekday last week."""
    traces = []
    for series, key, dash in ((last_week, "live.last_week", "dot"),
                              (yesterday, "live.yesterday", "dash"), (today, "live.today", None)):
        trace = {"type": "scatter", "x": [int(h) for h in series.index],
                 "y": _values(series.to_numpy(dtype=float)), "name": t(key, lang),
                 "mode": "lines+markers"}
        if dash:
            trace["line"] = {"dash": dash}
        traces.append(trace)
    return _figure(traces, lang, t("live.hourly_title", lang),
                   xaxis={"title": {"text": t("live.hour", lang)}, "dtick": 2},
                   yaxis={"title": {"text": unit}})


def trend_figure(times: np.ndarray, values: np.ndarray, name: str, unit: str, lang: str,
                 width_px: int) -> Figure:
    """A meter's counter over days, min/max-downsampled to ``width_px``."""
    x, y = minmax_downsample(times, values, width_px)
    x_out = _times(x) if np.issubdtype(np.asarray(x).dtype, np.datetime64) else \
        np.asarray(x).tolist()
    return _figure([{"type": "scattergl", "x": x_out, "y": _values(y), "mode": "lines",
                     "name": name}], lang, t("live.trend_title", lang, meter=name), height=300,
                   yaxis={"title": {"text": unit}})


def subitem_figure(by_subitem: pd.DataFrame, lang: str) -> Figure:
    """Electricity by sub-item (照明插座, 空调, 动力, 特殊) as bars."""
    if by_subitem.empty:
        return empty_figure(t("live.no_subitems", lang), lang)
    labels = [t(f"subitem.{code}", lang) for code in by_subitem["group"]]
    quantity = by_subitem["quantity"].to_numpy(dtype=float)
    return _figure([{"type": "bar", "x": labels, "y": _values(quantity),
                     "marker": {"color": PALETTE[0]},
                     "text": [fmt_number(v, lang, 0) for v in quantity]}],
                   lang, t("live.subitem_title", lang), height=300,
                   yaxis={"title": {"text": "kWh"}})


def monthly_figure(monthly: pd.DataFrame, measure: str, by: str, lang: str) -> Figure:
    """Monthly tce or tCO2 stacked by scope or carrier.

    Parameters
    ----------
    monthly
        :func:`dashboard.data.monthly_with_factors` rows of the institutions shown, or their
        rows of :func:`dashboard.data.monthly_kg` (the same sums, added up per institution).
    measure
        ``kgce`` or ``kgco2``.
    by
        ``scope`` or ``carrier``.
    """
    frame = monthly.dropna(subset=[measure])
    frame = frame[frame[measure] != 0] if measure == "kgco2" else frame
    if frame.empty:
        return empty_figure(t("carbon.no_data", lang), lang)
    table = frame.groupby(["month", by])[measure].sum(min_count=1).unstack(by) \
        .reindex(range(1, 13))
    months = [month_label(m, lang) for m in table.index]
    traces = []
    for i, column in enumerate(table.columns):
        if by == "scope":
            name = t("scope.none", lang) if is_missing(column) or int(column) == 0 \
                else t(f"scope.scope{int(column)}", lang)
        else:
            name = t(f"carrier.{column}", lang)
        traces.append({"type": "bar", "x": months,
                       "y": _values(table[column].to_numpy(dtype=float) / 1000), "name": name,
                       "marker": {"color": _series_color(by, column, i)},
                       "customdata": [[str(column)]] * len(table)})
    unit = "tce" if measure == "kgce" else "tCO2"
    title = t("carbon.monthly_tce" if measure == "kgce" else "carbon.monthly_co2", lang)
    return _figure(traces, lang, f"{title} · {t('carbon.by_' + by, lang)}", barmode="stack",
                   yaxis={"title": {"text": unit}})


def _series_color(by: str, column: Any, i: int) -> str:
    """The same colour for a scope or carrier in every chart."""
    if by == "scope":
        return SCOPE_COLORS.get(0 if is_missing(column) else int(column), "#7f7f7f")
    if str(column) in CARRIERS:
        return PALETTE[CARRIERS.index(str(column)) % len(PALETTE)]
    return PALETTE[i % len(PALETTE)]


def fyp14_figure(rows: pd.DataFrame, projection: dict[str, float] | None, lang: str) -> Figure:
    """One institution's indicator against the 十四五 straight-line path since the base year.

    ``rows``: the institution's ``fyp14`` verdict row of one subject (base_year, base_value,
    year, value, target_year, target_change); ``projection``: p10/p50/p90 of the year's value.
    """
    if rows.empty:
        return empty_figure(t("carbon.no_fyp14", lang), lang)
    r = rows.iloc[0]
    if is_missing(r["base_value"]):
        return empty_figure(t("carbon.no_base", lang, year=int(r["base_year"])), lang)
    base_year, target_year, year = int(r["base_year"]), int(r["target_year"]), int(r["year"])
    years = list(range(base_year, max(target_year, year) + 1))
    fraction = np.clip((np.array(years) - base_year) / (target_year - base_year), 0, 1)
    path = float(r["base_value"]) * (1 + float(r["target_change"]) * fraction)
    actual_x, actual_y = [base_year], [float(r["base_value"])]
    if not is_missing(r["value"]):
        actual_x.append(year)
        actual_y.append(float(r["value"]))
    traces = [
        {"type": "scatter", "x": years, "y": _values(path), "name": t("carbon.path", lang),
         "line": {"dash": "dash", "color": "#6c757d"}},
        {"type": "scatter", "x": actual_x, "y": actual_y, "name": t("carbon.actual", lang),
         "mode": "markers+lines", "marker": {"size": 10, "color": PALETTE[0]}},
    ]
    if projection:
        traces.append({
            "type": "scatter", "x": [year], "y": [projection["p50"]],
            "name": t("carbon.projection", lang), "mode": "markers",
            "marker": {"size": 12, "symbol": "diamond", "color": PALETTE[1]},
            "error_y": {"type": "data", "symmetric": False,
                        "array": [projection["p90"] - projection["p50"]],
                        "arrayminus": [projection["p50"] - projection["p10"]]}})
    return _figure(traces, lang, t("carbon.fyp14_title", lang,
                                   subject=t(f"indicator.{r['subject']}", lang)),
                   xaxis={"dtick": 1}, yaxis={"title": {"text": str(r["unit"])}})


def completeness_heatmap(table: pd.DataFrame, names: dict[str, str], lang: str,
                         width_px: int) -> Figure:
    """Institution × day share of meters reporting; days are merged into weeks when wider than
    the plot."""
    if table.empty or table.shape[1] == 0:
        return empty_figure(t("stats.no_meters", lang), lang)
    if table.shape[1] > width_px // 2:
        table = table.T.groupby(lambda d: pd.Timestamp(d).to_period("W").start_time.date()).mean().T
    z = [_values(row) for row in table.to_numpy(dtype=float)]
    return _figure([{
        "type": "heatmap", "z": z, "x": [str(d) for d in table.columns],
        "y": [names.get(i, i) for i in table.index], "zmin": 0, "zmax": 1,
        "colorscale": COMPLETENESS_SCALE,
        "colorbar": {"title": {"text": t("stats.share_reporting", lang)}, "tickformat": ".0%"},
        "hovertemplate": "%{y} %{x}: %{z:.0%}<extra></extra>"}],
        lang, t("stats.completeness_title", lang), height=max(220, 40 + 26 * len(table)))


def monthly_quantities(wide: pd.DataFrame, names: dict[str, str], lang: str) -> pd.DataFrame:
    """Display table: institution × carrier × unit, one column per month, with coverage.

    ``wide``: rows of :func:`dashboard.data.monthly_by_institution` (only those to show: the
    formatting is per cell). The ``institution_id`` column is kept first (tables drop it).
    """
    if wide.empty:
        return pd.DataFrame()
    columns: dict[str, list] = {
        "institution_id": list(wide["institution_id"]),
        t("col.institution", lang): [names.get(i, i) for i in wide["institution_id"]],
        t("col.carrier", lang): [t(f"carrier.{c}", lang) for c in wide["carrier"]],
        t("col.unit", lang): list(wide["unit"]),
    }
    for month in range(1, 13):
        columns[month_label(month, lang)] = [fmt_number(v, lang, 0) for v in wide[month]]
    columns[t("col.coverage", lang)] = [fmt_pct(v, lang) for v in wide["coverage"]]
    return pd.DataFrame(columns)


def peer_statistics(values: pd.Series) -> dict[str, float]:
    """n, p25, median, p75 and mean of an indicator in a peer group (missing values left out)."""
    v = pd.to_numeric(values, errors="coerce").dropna()
    if v.empty:
        return {"n": 0, "p25": np.nan, "median": np.nan, "p75": np.nan, "mean": np.nan}
    return {"n": len(v), "p25": float(v.quantile(0.25)), "median": float(v.median()),
            "p75": float(v.quantile(0.75)), "mean": float(v.mean())}


def league_table(figures: pd.DataFrame, previous: pd.DataFrame | None, quota: pd.DataFrame,
                 indicator: str, visible: set[str] | None, lang: str) -> pd.DataFrame:
    """Ranks within peer groups (category × level × climate zone) with percentile, band, and
    year-on-year change: :func:`league_rows` of :func:`league_frame`.

    Rows of institutions not in ``visible`` (a manager's) keep only their group and rank; their
    name, value and verdict are blanked, so a manager learns the rank order and the peer
    statistics, nothing else of another institution. ``visible`` None shows everything.
    """
    return league_rows(league_frame(figures, previous, quota, indicator), visible, lang)


def league_frame(figures: pd.DataFrame, previous: pd.DataFrame | None, quota: pd.DataFrame,
                 indicator: str) -> pd.DataFrame:
    """The league's figures, every institution (no labels, no reader): institution_id, name,
    the peer group (category, level, climate_zone; ``–`` when unknown), value, rank, peers,
    percentile, yoy (change on ``previous``) and band (the quota verdict's status of
    ``indicator``), sorted by group and rank.

    ``quota``: quota verdict rows whose ``subject`` is written as ``indicator``.
    """
    frame = figures[["institution_id", "name", "category", "level", "climate_zone"]].copy()
    frame["value"] = pd.to_numeric(figures[indicator], errors="coerce")
    group = ["category", "level", "climate_zone"]
    for g in group:
        frame[g] = frame[g].astype(object).where(frame[g].notna(), "–")
    frame["rank"] = frame.groupby(group)["value"].rank(method="min")
    frame["peers"] = frame.groupby(group)["value"].transform("count")
    frame["percentile"] = frame.groupby(group)["value"].rank(pct=True)
    if previous is not None and indicator in previous.columns:
        before = previous.set_index("institution_id")[indicator]
        frame["yoy"] = frame["value"] / frame["institution_id"].map(before) - 1
    else:
        frame["yoy"] = np.nan
    band = quota[quota["subject"].astype(str) == indicator].drop_duplicates("institution_id") \
        .set_index("institution_id")["status"].astype(str) if len(quota) else pd.Series(dtype=str)
    frame["band"] = frame["institution_id"].map(band)
    return frame.sort_values([*group, "rank"], na_position="last").reset_index(drop=True)


def league_rows(frame: pd.DataFrame, visible: set[str] | None, lang: str) -> pd.DataFrame:
    """Display rows of :func:`league_frame` rows (only those to show: formatting is per cell);
    institutions not in ``visible`` appear only as a rank in their group."""
    rows = []
    for r in frame.itertuples():
        own = visible is None or r.institution_id in visible
        group_label = peer_group_label((r.category, r.level, r.climate_zone), lang)
        rows.append({
            "institution_id": r.institution_id if own else "",
            t("col.group", lang): group_label,
            t("col.rank", lang): "–" if is_missing(r.rank) else f"{int(r.rank)}/{int(r.peers)}",
            t("col.institution", lang): (r.name if isinstance(r.name, str) else r.institution_id)
            if own else t("bench.other", lang),
            t("col.value", lang): fmt_number(r.value, lang, 2) if own else "",
            t("col.percentile", lang): fmt_pct(r.percentile, lang) if own else "",
            t("col.band", lang): t(f"status.{r.band}", lang) if own and isinstance(r.band, str)
            and _has_label(f"status.{r.band}", lang) else ("–" if own else ""),
            t("col.yoy", lang): (fmt_pct(r.yoy, lang, 1) if not is_missing(r.yoy) else "–")
            if own else "",
        })
    return pd.DataFrame(rows)


def peer_table(figures: pd.DataFrame, indicator: str) -> pd.DataFrame:
    """Peer statistics of ``indicator`` per peer group (category, level, climate_zone as text):
    n, p25, median, p75, mean (:func:`peer_statistics`), one row per group."""
    group = ["category", "level", "climate_zone"]
    keys = [figures[g].astype(str) for g in group]
    rows = [{**dict(zip(group, key, strict=True)), **peer_statistics(part[indicator])}
            for key, part in figures.groupby(keys)]
    return pd.DataFrame(rows, columns=[*group, "n", "p25", "median", "p75", "mean"])


def label_or_code(key: str, lang: str) -> str:
    """The catalog's label for ``key``, or the code after the last dot when it has none."""
    return t(key, lang) if _has_label(key, lang) else key.rsplit(".", 1)[-1]


def peer_group_label(group: tuple, lang: str) -> str:
    """``党政机关 · 市级 · 寒冷地区`` for (category, level, climate zone)."""
    category, level, zone = (str(g) for g in group)
    return " · ".join((label_or_code(f"category.{category}", lang),
                       label_or_code(f"level.{level}", lang), label_or_code(f"zone.{zone}", lang)))


def _has_label(key: str, lang: str) -> bool:
    try:
        t(key, lang)
    except KeyError:
        return False
    return True


def benchmark_scatter(figures: pd.DataFrame, visible: set[str] | None, lang: str) -> Figure:
    """kgce per m² against kgce per person, one point per institution the reader may see, with
    the peer medians as lines."""
    x = pd.to_numeric(figures["kgce_per_m2"], errors="coerce")
    y = pd.to_numeric(figures["kgce_per_person"], errors="coerce")
    shown = figures if visible is None else figures[figures["institution_id"].isin(visible)]
    traces = []
    for i, (category, part) in enumerate(shown.groupby(shown["category"].astype(str))):
        traces.append({
            "type": "scatter", "mode": "markers+text",
            "x": _values(pd.to_numeric(part["kgce_per_m2"], errors="coerce")),
            "y": _values(pd.to_numeric(part["kgce_per_person"], errors="coerce")),
            "text": part["name"].astype(str).tolist(), "textposition": "top center",
            "name": label_or_code(f"category.{category}", lang),
            "marker": {"size": 11, "color": PALETTE[i % len(PALETTE)]},
            "customdata": part["institution_id"].astype(str).tolist()})
    shapes, annotations = [], []
    line = {"dash": "dot", "color": "#6c757d"}
    if x.notna().any():
        median_x = float(x.median())
        shapes.append({"type": "line", "x0": median_x, "x1": median_x, "xref": "x", "y0": 0,
                       "y1": 1, "yref": "y domain", "line": line})
        annotations.append({"text": t("bench.median", lang), "showarrow": False, "x": median_x,
                            "xref": "x", "xanchor": "left", "y": 1, "yref": "y domain",
                            "yanchor": "top"})
    if y.notna().any():
        median_y = float(y.median())
        shapes.append({"type": "line", "x0": 0, "x1": 1, "xref": "x domain", "y0": median_y,
                       "y1": median_y, "yref": "y", "line": line})
    return _figure(traces, lang, t("bench.scatter_title", lang), height=420,
                   xaxis={"title": {"text": t("indicator.kgce_per_m2", lang) + " (kgce/m²)"}},
                   yaxis={"title": {"text": t("indicator.kgce_per_person", lang) + " (kgce/人)"}},
                   shapes=shapes, annotations=annotations)


def trace_tables(year_carriers: pd.DataFrame, factors: pd.DataFrame, monthly: pd.DataFrame,
                 institution: str, lang: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What an institution's figures rest on: quantities per carrier and source (with coverage
    and estimated share), and the factors used with their sources."""
    m = monthly[monthly["institution_id"] == institution]
    by_source = m.groupby(["carrier", "unit", "use", "source"], dropna=False).agg(
        quantity=("quantity", "sum"), coverage=("coverage", "mean"),
        estimated=("estimated_share", "mean"), kgce=("kgce", "sum"),
        kgco2=("kgco2", "sum")).reset_index()
    quantities = pd.DataFrame([{
        t("col.carrier", lang): t(f"carrier.{r.carrier}", lang),
        t("col.source", lang): t(f"source.{r.source}", lang) if _has_label(f"source.{r.source}",
                                                                           lang) else str(r.source),
        t("col.quantity", lang): fmt_number(r.quantity, lang, 1),
        t("col.unit", lang): r.unit,
        t("col.coverage", lang): fmt_pct(r.coverage, lang),
        t("col.estimated", lang): fmt_pct(r.estimated, lang),
        "tce": fmt_number(r.kgce / 1000 if not is_missing(r.kgce) else np.nan, lang, 2),
        "tCO2": fmt_number(r.kgco2 / 1000 if not is_missing(r.kgco2) else np.nan, lang, 2),
    } for r in by_source.itertuples()])
    used = year_carriers[year_carriers["institution_id"].astype(str) == institution]
    keys = set(zip(used["carrier"].astype(str), used["unit"].astype(str), strict=True))
    f = factors[[(str(c), str(u)) in keys for c, u in zip(factors["carrier"], factors["unit"],
                                                          strict=True)]]
    factor_rows = pd.DataFrame([{
        t("col.carrier", lang): t(f"carrier.{r.carrier}", lang),
        t("col.unit", lang): r.unit,
        "kgce/unit": fmt_number(r.kgce_per_unit, lang, 4),
        t("col.kgce_source", lang): f"{r.kgce_source} ({r.kgce_year})",
        "kgCO2/unit": fmt_number(r.kgco2_per_unit, lang, 4),
        t("col.kgco2_source", lang): f"{r.kgco2_source} ({r.kgco2_year}, {r.kgco2_region})",
    } for r in f.itertuples()])
    return quantities, factor_rows


def as_of_label(day: date, lang: str) -> str:
    """"as of <date>" in the language."""
    return t("common.as_of", lang, date=fmt_date(day, lang))


def subitem_totals(daily: pd.DataFrame) -> pd.DataFrame:
    """Electricity of sub-item meters summed by first-level group (01A00, 01B00, 01C00, 01D00)."""
    totals: dict[str, float] = {}
    for carrier, subitem, quantity in zip(daily["carrier"].tolist(), daily["subitem"].tolist(),
                                          daily["delta_sum"].tolist(), strict=True):
        code = str(subitem)
        if carrier == "electricity" and not code.endswith("000"):
            group = code[:3] + "00"
            totals[group] = totals.get(group, 0.0) + float(quantity)
    groups = sorted(totals)
    return pd.DataFrame({"group": groups, "quantity": [totals[g] for g in groups]})


def day_hours(hours: np.ndarray, quantity: np.ndarray) -> pd.Series:
    """One day's ``quantity`` of each of its ``hours`` as a series over hours 0–23; NaN where
    an hour has none."""
    day = np.full(24, np.nan)
    day[np.asarray(hours, dtype=int)] = quantity
    return pd.Series(day, index=range(24))


def base_load(hourly: pd.DataFrame, workdays: dict[date, bool]) -> dict[str, float]:
    """Mean hourly consumption at night (00–05), in working-day daytime (09–17) and on rest days.

    ``hourly``: columns day, hour, quantity (one institution, summed over its main meters);
    ``workdays``: day → working day (from the Chinese calendar, 调休 included).
    """
    quantity = hourly["quantity"].to_numpy(dtype=float)
    hour = hourly["hour"].to_numpy(dtype=int)
    work = np.array([workdays.get(d, True) for d in hourly["day"]], dtype=bool)
    known = ~np.isnan(quantity)

    def mean(mask: np.ndarray) -> float:
        chosen = quantity[mask & known]
        return float(chosen.mean()) if len(chosen) else np.nan

    night = mean((hour >= 0) & (hour <= 5))
    day = mean(work & (hour >= 9) & (hour <= 17))
    rest = mean(~work)
    return {"night": night, "day": day, "rest": rest,
            "ratio": night / day if day and not is_missing(day) else np.nan}
