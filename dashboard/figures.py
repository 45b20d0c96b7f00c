"""Pure functions from tables to Plotly figures and display tables (no I/O, no session).

Callbacks fetch data through :class:`dashboard.data.DataService` and hand it here. Every label
comes from the catalog in the reader's language; a missing value stays missing (a gap, or ``–``
with the reason), never 0. Long series are thinned on the server by :func:`minmax_downsample` so
that no trace ships more than about twice its width in pixels.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from dashboard.i18n import fmt_date, fmt_number, fmt_pct, is_missing, month_label, t
from jieneng.vocabulary import CARRIERS

__all__ = [
    "MAX_POINTS_PER_PX",
    "benchmark_scatter",
    "completeness_heatmap",
    "empty_figure",
    "fyp14_figure",
    "hourly_figure",
    "league_table",
    "minmax_downsample",
    "monthly_figure",
    "peer_statistics",
    "subitem_figure",
    "trend_figure",
]

#: Figures carry their few layout settings themselves: applying a Plotly template deep-copies it
#: into every figure, which costs more than building the figure (see the dashboard benchmark).
pio.templates.default = "none"
GRID = "#e9ecef"

#: At most this many points per pixel column of a trace (min and max).
MAX_POINTS_PER_PX = 2
#: Width assumed when the browser has not told its width yet. [px]
DEFAULT_WIDTH_PX = 1200
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")

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


def _layout(fig: go.Figure, lang: str, title: str = "", height: int = 360) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0.01, "font": {"size": 15}} if title else None,
        height=height, margin={"l": 50, "r": 20, "t": 40 if title else 10, "b": 40},
        separators=".,", legend={"orientation": "h", "y": -0.15}, plot_bgcolor="white",
        paper_bgcolor="white", font={"family": "system-ui, sans-serif", "color": "#212529"},
    )
    fig.update_xaxes(gridcolor=GRID, zeroline=False)
    fig.update_yaxes(gridcolor=GRID, zeroline=False)
    return fig


def empty_figure(message: str, lang: str, height: int = 300) -> go.Figure:
    """A figure with no data and the reason written in it."""
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper",
                       font={"size": 14, "color": "#6c757d"})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _layout(fig, lang, height=height)


def hourly_figure(today: pd.Series, yesterday: pd.Series, last_week: pd.Series, unit: str,
                  lang: str) -> go.Figure:
    """Hourly consumption today against yesterday and the same weekday last week."""
    fig = go.Figure()
    for series, key, dash in ((last_week, "live.last_week", "dot"),
                              (yesterday, "live.yesterday", "dash"), (today, "live.today", None)):
        fig.add_trace(go.Scatter(x=list(series.index), y=series.to_numpy(dtype=float),
                                 name=t(key, lang), mode="lines+markers",
                                 line={"dash": dash} if dash else None))
    fig.update_xaxes(title=t("live.hour", lang), dtick=2)
    fig.update_yaxes(title=unit)
    return _layout(fig, lang, t("live.hourly_title", lang))


def trend_figure(times: np.ndarray, values: np.ndarray, name: str, unit: str, lang: str,
                 width_px: int) -> go.Figure:
    """A meter's counter over days, min/max-downsampled to ``width_px``."""
    x, y = minmax_downsample(times, values, width_px)
    fig = go.Figure(go.Scattergl(x=x, y=y, mode="lines", name=name))
    fig.update_yaxes(title=unit)
    return _layout(fig, lang, t("live.trend_title", lang, meter=name), height=300)


def subitem_figure(by_subitem: pd.DataFrame, lang: str) -> go.Figure:
    """Electricity by sub-item (照明插座, 空调, 动力, 特殊) as bars."""
    if by_subitem.empty:
        return empty_figure(t("live.no_subitems", lang), lang)
    labels = [t(f"subitem.{code}", lang) for code in by_subitem["group"]]
    fig = go.Figure(go.Bar(x=labels, y=by_subitem["quantity"], marker_color=PALETTE[0],
                           text=[fmt_number(v, lang, 0) for v in by_subitem["quantity"]]))
    fig.update_yaxes(title="kWh")
    return _layout(fig, lang, t("live.subitem_title", lang), height=300)


def monthly_figure(monthly: pd.DataFrame, measure: str, by: str, lang: str) -> go.Figure:
    """Monthly tce or tCO2 stacked by scope or carrier.

    Parameters
    ----------
    monthly
        :func:`dashboard.data.monthly_with_factors` rows of the institutions shown.
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
    fig = go.Figure()
    for i, column in enumerate(table.columns):
        if by == "scope":
            name = t("scope.none", lang) if is_missing(column) or int(column) == 0 \
                else t(f"scope.scope{int(column)}", lang)
        else:
            name = t(f"carrier.{column}", lang)
        fig.add_trace(go.Bar(x=[month_label(m, lang) for m in table.index],
                             y=table[column].to_numpy(dtype=float) / 1000, name=name,
                             marker_color=_series_color(by, column, i),
                             customdata=[[str(column)]] * len(table)))
    fig.update_layout(barmode="stack")
    unit = "tce" if measure == "kgce" else "tCO2"
    fig.update_yaxes(title=unit)
    title = t("carbon.monthly_tce" if measure == "kgce" else "carbon.monthly_co2", lang)
    return _layout(fig, lang, f"{title} · {t('carbon.by_' + by, lang)}")


def _series_color(by: str, column: Any, i: int) -> str:
    """The same colour for a scope or carrier in every chart."""
    if by == "scope":
        return SCOPE_COLORS.get(0 if is_missing(column) else int(column), "#7f7f7f")
    if str(column) in CARRIERS:
        return PALETTE[CARRIERS.index(str(column)) % len(PALETTE)]
    return PALETTE[i % len(PALETTE)]


def fyp14_figure(rows: pd.DataFrame, projection: dict[str, float] | None, lang: str) -> go.Figure:
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
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=years, y=path, name=t("carbon.path", lang),
                             line={"dash": "dash", "color": "#6c757d"}))
    actual_x, actual_y = [base_year], [float(r["base_value"])]
    if not is_missing(r["value"]):
        actual_x.append(year)
        actual_y.append(float(r["value"]))
    fig.add_trace(go.Scatter(x=actual_x, y=actual_y, name=t("carbon.actual", lang),
                             mode="markers+lines", marker={"size": 10, "color": PALETTE[0]}))
    if projection:
        fig.add_trace(go.Scatter(
            x=[year], y=[projection["p50"]], name=t("carbon.projection", lang), mode="markers",
            marker={"size": 12, "symbol": "diamond", "color": PALETTE[1]},
            error_y={"type": "data", "symmetric": False,
                     "array": [projection["p90"] - projection["p50"]],
                     "arrayminus": [projection["p50"] - projection["p10"]]}))
    fig.update_xaxes(dtick=1)
    fig.update_yaxes(title=str(r["unit"]))
    return _layout(fig, lang, t("carbon.fyp14_title", lang, subject=t(f"indicator.{r['subject']}",
                                                                      lang)))


def completeness_heatmap(table: pd.DataFrame, names: dict[str, str], lang: str,
                         width_px: int) -> go.Figure:
    """Institution × day share of meters reporting; days are merged into weeks when wider than
    the plot."""
    if table.empty or table.shape[1] == 0:
        return empty_figure(t("stats.no_meters", lang), lang)
    if table.shape[1] > width_px // 2:
        table = table.T.groupby(lambda d: pd.Timestamp(d).to_period("W").start_time.date()).mean().T
    fig = go.Figure(go.Heatmap(
        z=table.to_numpy(dtype=float), x=[str(d) for d in table.columns],
        y=[names.get(i, i) for i in table.index], zmin=0, zmax=1, colorscale="RdYlGn",
        colorbar={"title": t("stats.share_reporting", lang), "tickformat": ".0%"},
        hovertemplate="%{y} %{x}: %{z:.0%}<extra></extra>"))
    return _layout(fig, lang, t("stats.completeness_title", lang),
                   height=max(220, 40 + 26 * len(table)))


def monthly_quantities(monthly: pd.DataFrame, names: dict[str, str], lang: str) -> pd.DataFrame:
    """Display table: institution × carrier × unit, one column per month, with coverage."""
    if monthly.empty:
        return pd.DataFrame()
    frame = monthly.groupby(["institution_id", "carrier", "unit", "month"]).agg(
        quantity=("quantity", lambda q: q.sum(min_count=1)),
        coverage=("coverage", "mean")).reset_index()
    wide = frame.pivot(index=["institution_id", "carrier", "unit"], columns="month",
                       values="quantity").reindex(columns=range(1, 13))
    cover = frame.groupby(["institution_id", "carrier", "unit"])["coverage"].mean()
    rows = []
    for (inst, carrier, unit), values in wide.iterrows():
        row = {t("col.institution", lang): names.get(inst, inst),
               t("col.carrier", lang): t(f"carrier.{carrier}", lang), t("col.unit", lang): unit}
        for month in range(1, 13):
            row[month_label(month, lang)] = fmt_number(values[month], lang, 0)
        row[t("col.coverage", lang)] = fmt_pct(cover[(inst, carrier, unit)], lang)
        rows.append(row)
    return pd.DataFrame(rows)


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
    year-on-year change.

    Rows of institutions not in ``visible`` (a manager's) keep only their group and rank; their
    name, value and verdict are blanked, so a manager learns the rank order and the peer
    statistics, nothing else of another institution. ``visible`` None shows everything.
    """
    frame = figures[["institution_id", "name", "category", "level", "climate_zone",
                     indicator]].copy()
    frame["value"] = pd.to_numeric(frame[indicator], errors="coerce")
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
    frame = frame.sort_values([*group, "rank"], na_position="last")
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


def benchmark_scatter(figures: pd.DataFrame, visible: set[str] | None, lang: str) -> go.Figure:
    """kgce per m² against kgce per person, one point per institution the reader may see, with
    the peer medians as lines."""
    frame = figures.copy()
    x = pd.to_numeric(frame["kgce_per_m2"], errors="coerce")
    y = pd.to_numeric(frame["kgce_per_person"], errors="coerce")
    shown = frame if visible is None else frame[frame["institution_id"].isin(visible)]
    fig = go.Figure()
    for i, (category, part) in enumerate(shown.groupby(shown["category"].astype(str))):
        fig.add_trace(go.Scatter(
            x=pd.to_numeric(part["kgce_per_m2"], errors="coerce"),
            y=pd.to_numeric(part["kgce_per_person"], errors="coerce"),
            mode="markers+text", text=part["name"].astype(str), textposition="top center",
            name=t(f"category.{category}", lang) if _has_label(f"category.{category}", lang)
            else category, marker={"size": 11, "color": PALETTE[i % len(PALETTE)]},
            customdata=part["institution_id"]))
    if x.notna().any():
        fig.add_vline(x=float(x.median()), line_dash="dot", line_color="#6c757d",
                      annotation_text=t("bench.median", lang))
    if y.notna().any():
        fig.add_hline(y=float(y.median()), line_dash="dot", line_color="#6c757d")
    fig.update_xaxes(title=t("indicator.kgce_per_m2", lang) + " (kgce/m²)")
    fig.update_yaxes(title=t("indicator.kgce_per_person", lang) + " (kgce/人)")
    return _layout(fig, lang, t("bench.scatter_title", lang), height=420)


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
    frame = daily[(daily["carrier"] == "electricity")
                  & ~daily["subitem"].astype(str).str.endswith("000")].copy()
    if frame.empty:
        return pd.DataFrame(columns=["group", "quantity"])
    frame["group"] = frame["subitem"].astype(str).str[:3] + "00"
    out = frame.groupby("group")["delta_sum"].sum().rename("quantity").reset_index()
    return out.sort_values("group").reset_index(drop=True)


def base_load(hourly: pd.DataFrame, workdays: dict[date, bool]) -> dict[str, float]:
    """Mean hourly consumption at night (00–05), in working-day daytime (09–17) and on rest days.

    ``hourly``: columns day, hour, quantity (one institution, summed over its main meters);
    ``workdays``: day → working day (from the Chinese calendar, 调休 included).
    """
    if hourly.empty:
        return {"night": np.nan, "day": np.nan, "rest": np.nan, "ratio": np.nan}
    frame = hourly.dropna(subset=["quantity"])
    work = frame["day"].map(workdays).fillna(True).astype(bool)
    night = frame[frame["hour"].between(0, 5)]["quantity"].mean()
    day = frame[work & frame["hour"].between(9, 17)]["quantity"].mean()
    rest = frame[~work]["quantity"].mean()
    return {"night": float(night), "day": float(day), "rest": float(rest),
            "ratio": float(night / day) if day and not is_missing(day) else np.nan}
