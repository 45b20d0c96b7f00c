"""The year-end projection: actual to date + sample paths to 31 December → the accounting engine.

Pure functions over frames and arrays. For every carrier line (institution × carrier × unit × use)
with a forecast, each sample path gives the year's 12 monthly quantities: the known quantities
plus the path's values on the unknown days, **summed per path** (summing daily interval bounds
would be wrong). The projected consumption table repeats the year's other rows (bills, fuel cards,
carriers without a forecast) once per sample, with each sample as its own pseudo-institution, and
goes through :func:`accounting.engine.account_figures`: the same factor set, electricity basis
and grid-factor policy as ``jieneng account``. Quantiles over the samples give p10/p50/p90 of
every figure; the share of samples above a quota level (the quota verdict's value, re-based on
等价值 where its table says so, via :func:`accounting.verdicts.quota_verdicts`) or off the 十四五
path is a probability.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from accounting import engine
from accounting.verdicts import quota_verdicts

__all__ = [
    "FIGURES",
    "QUOTA_LEVELS",
    "Line",
    "fyp14_risk",
    "monthly_paths",
    "monthly_table",
    "project_figures",
    "quota_risk",
    "stacked_consumption",
    "year_end_table",
]

#: Figures projected with p10/p50/p90.
FIGURES = ["energy_tce", "co2_t", "kgce_per_m2", "kgce_per_person", "kgco2_per_m2", "kwh_per_m2",
           "water_m3_per_person"]
#: Quota levels: column of the verdict → level name.
QUOTA_LEVELS = {"guide": "guide", "baseline": "baseline", "constraint": "constraint"}
#: Separator of a pseudo-institution's id: ``<institution>\x1f<sample>``.
SEP = "\x1f"
RISK_COLUMNS = ["institution_id", "kind", "subject", "level", "threshold", "unit", "probability",
                "source"]


@dataclass
class Line:
    """A projected carrier line: its key, source and monthly paths (``samples × 12``)."""

    institution_id: str
    carrier: str
    unit: str
    use: str
    source: str
    paths: np.ndarray
    #: True for the months (1–12) that hold forecast days.
    forecast_months: np.ndarray


def monthly_paths(year: int, known: pd.Series, sample_dates: pd.DatetimeIndex,
                  samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """12 monthly totals per sample path: known quantities + the path on the other days.

    Parameters
    ----------
    known
        Known quantities of the year's days (index: days; only days of ``year`` count).
    sample_dates, samples
        Days (of any year) and their paths (``S × len(sample_dates)``); days outside ``year`` are
        ignored.

    Returns
    -------
    paths
        ``S × 12``.
    forecast_months
        Boolean per month: some day of it comes from the paths.
    """
    k = known[known.index.year == year].dropna()
    actual = np.bincount(k.index.month.to_numpy() - 1, weights=k.to_numpy(float), minlength=12)
    in_year = sample_dates.year == year
    months = sample_dates.month.to_numpy()[in_year] - 1
    s = samples[:, in_year]
    forecast = np.zeros((samples.shape[0], 12))
    for m in range(12):
        cols = months == m
        if cols.any():
            forecast[:, m] = s[:, cols].sum(axis=1)
    flag = np.bincount(months, minlength=12) > 0
    return actual[None, :] + forecast, flag


def stacked_consumption(base: pd.DataFrame, lines: list[Line], replace_sources: dict,
                        samples: int) -> pd.DataFrame:
    """The projected consumption table, one pseudo-institution per sample.

    Parameters
    ----------
    base
        The year's consumption table (``accounting.consumption.annual_inputs``).
    lines
        Projected lines; each replaces the base rows of its institution × carrier × unit × use
        whose source is in ``replace_sources[line.source]``.
    replace_sources
        e.g. ``{"meter": {"meter"}, "bill": {"bill"}, "fuel_card": {"fuel_card"}}``.
    samples
        Number of sample paths (S).
    """
    keep = np.ones(len(base), dtype=bool)
    for line in lines:
        keep &= ~((base["institution_id"] == line.institution_id)
                  & (base["carrier"] == line.carrier) & (base["unit"] == line.unit)
                  & (base["use"] == line.use)
                  & base["source"].isin(replace_sources.get(line.source, {line.source})))
    fixed = base[keep].reset_index(drop=True)
    parts = []
    if len(fixed):
        rep = fixed.iloc[np.tile(np.arange(len(fixed)), samples)].reset_index(drop=True)
        sample_no = np.repeat(np.arange(samples), len(fixed))
        rep["institution_id"] = _pseudo(rep["institution_id"].astype(str).to_numpy(), sample_no)
        parts.append(rep)
    for line in lines:
        sample_no = np.repeat(np.arange(samples), 12)
        parts.append(pd.DataFrame({
            "institution_id": _pseudo(np.full(samples * 12, line.institution_id), sample_no),
            "month": np.tile(np.arange(1, 13), samples),
            "carrier": line.carrier, "unit": line.unit,
            "quantity": line.paths.reshape(-1),
            "use": line.use, "source": line.source,
            "coverage": 1.0, "estimated_share": 0.0,
        }))
    if not parts:
        return base.iloc[0:0]
    out = pd.concat(parts, ignore_index=True)[list(base.columns)]
    return out.sort_values(["institution_id", "carrier", "unit", "use", "source", "month"],
                           kind="stable").reset_index(drop=True)


def _pseudo(ids: np.ndarray, sample_no: np.ndarray) -> np.ndarray:
    return np.char.add(np.char.add(ids.astype(str), SEP),
                       np.char.zfill(sample_no.astype(str), 5)).astype(object)


def _real(ids: pd.Series) -> pd.Series:
    return ids.astype(str).str.split(SEP, n=1).str[0]


def project_figures(consumption: pd.DataFrame, profile: pd.DataFrame, reference: Any, year: int,
                    samples: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Figures of every pseudo-institution (sample) and the factor table, from the engine."""
    rep = profile.iloc[np.tile(np.arange(len(profile)), samples)].reset_index(drop=True)
    rep["institution_id"] = _pseudo(rep["institution_id"].astype(str).to_numpy(),
                                    np.repeat(np.arange(samples), len(profile)))
    factors, _, figures = engine.account_figures(consumption, rep, reference, year)
    figures = figures.copy()
    figures["sample"] = figures["institution_id"].astype(str).str.split(SEP, n=1).str[1].astype(
        int)
    figures["institution_id"] = _real(figures["institution_id"])
    return figures, factors


def year_end_table(figures: pd.DataFrame, year: int) -> pd.DataFrame:
    """p10/p50/p90 of :data:`FIGURES` per institution (NaN figures stay NaN)."""
    rows = []
    for inst, g in figures.groupby("institution_id", sort=True):
        row: dict[str, Any] = {"institution_id": inst, "year": year}
        for name in FIGURES:
            values = g[name].to_numpy(float)
            for q, label in ((0.1, "p10"), (0.5, "p50"), (0.9, "p90")):
                row[f"{name}_{label}"] = (float(np.quantile(values, q))
                                          if not np.isnan(values).any() else float("nan"))
        rows.append(row)
    return pd.DataFrame(rows)


def quota_risk(figures: pd.DataFrame, quotas: pd.DataFrame,
               equal_value_delta_kgce_per_kwh: float) -> pd.DataFrame:
    """P(above 引导值), P(above 基准值), P(above 约束值) per institution × quota indicator.

    The sample figures go through :func:`accounting.verdicts.quota_verdicts` (the quota row that
    fits each institution, and the 等价值 re-basing); a level the table does not give has no row.
    """
    sample_figures = figures.assign(
        institution_id=figures["institution_id"].astype(str) + SEP + figures["sample"].astype(str))
    verdicts = quota_verdicts(sample_figures, quotas, 0.0, equal_value_delta_kgce_per_kwh)
    if verdicts.empty:
        return pd.DataFrame(columns=RISK_COLUMNS)
    v = pd.DataFrame({
        "institution_id": _real(verdicts["institution_id"].astype(str)),
        "subject": verdicts["subject"].astype(str), "unit": verdicts["unit"].astype(str),
        "value": verdicts["value"].astype(float), "table": verdicts["table"].astype(str),
        **{c: verdicts[c].astype(float) for c in QUOTA_LEVELS},
    })
    rows = []
    for (inst, subject), g in v.groupby(["institution_id", "subject"], sort=True):
        values = g["value"].to_numpy(float)
        if np.isnan(values).all():
            continue
        for column, level in QUOTA_LEVELS.items():
            threshold = float(g[column].iloc[0])
            if np.isnan(threshold):
                continue
            rows.append({"institution_id": inst, "kind": "quota", "subject": subject,
                         "level": level, "threshold": threshold, "unit": g["unit"].iloc[0],
                         "probability": float(np.mean(values > threshold)),
                         "source": g["table"].iloc[0]})
    return pd.DataFrame(rows, columns=RISK_COLUMNS)


def fyp14_risk(figures: pd.DataFrame, fyp14: pd.DataFrame) -> pd.DataFrame:
    """P(off the straight-line 十四五 path) and P(missing the target) per institution × indicator.

    Parameters
    ----------
    figures
        Sample figures (:func:`project_figures`).
    fyp14
        The year's 十四五 verdict rows (``kind == "fyp14"`` of the account): base_value,
        path_change, target_change, unit, source per institution × subject.
    """
    rows = []
    by_inst = {k: g for k, g in figures.groupby("institution_id", sort=False)}
    for v in fyp14.to_dict("records"):
        g = by_inst.get(str(v["institution_id"]))
        base = float(v["base_value"])
        if g is None or v["subject"] not in g or np.isnan(base) or base <= 0:
            continue
        values = g[v["subject"]].to_numpy(float)
        if np.isnan(values).all():
            continue
        change = values / base - 1.0
        for level, threshold in (("path", float(v["path_change"])),
                                 ("target", float(v["target_change"]))):
            rows.append({"institution_id": str(v["institution_id"]), "kind": "fyp14",
                         "subject": str(v["subject"]), "level": level, "threshold": threshold,
                         "unit": "change vs base", "probability": float(np.mean(change > threshold)),
                         "source": str(v["source"])})
    return pd.DataFrame(rows, columns=RISK_COLUMNS)


def monthly_table(lines: list[Line], base: pd.DataFrame, factors: pd.DataFrame,
                  provinces: pd.Series) -> pd.DataFrame:
    """Monthly quantities (p10/p50/p90) and p50 tce and CO2 per institution × carrier × month.

    Projected lines give quantiles over their paths; the base table's other rows are actual
    (months with coverage 0, which nothing measured or billed, have no row).
    """
    f = factors.set_index(["carrier", "unit", "province", "use"])[["kgce_per_unit",
                                                                    "kgco2_per_unit"]]
    rows = []

    def factor(inst: str, carrier: str, unit: str, use: str) -> tuple[float, float]:
        key = (carrier, unit, provinces.get(inst, ""), use)
        if key in f.index:
            r = f.loc[key]
            return float(r["kgce_per_unit"]), float(r["kgco2_per_unit"])
        return float("nan"), float("nan")

    for line in lines:
        kgce, kgco2 = factor(line.institution_id, line.carrier, line.unit, line.use)
        q = np.quantile(line.paths, [0.1, 0.5, 0.9], axis=0)
        for m in range(12):
            rows.append({"institution_id": line.institution_id, "month": m + 1,
                         "carrier": line.carrier, "unit": line.unit, "use": line.use,
                         "quantity_p10": q[0, m], "quantity_p50": q[1, m],
                         "quantity_p90": q[2, m],
                         "energy_tce_p50": q[1, m] * kgce / 1000.0,
                         "co2_t_p50": q[1, m] * kgco2 / 1000.0,
                         "source": "forecast" if line.forecast_months[m] else "actual"})
    projected = {(ln.institution_id, ln.carrier, ln.unit, ln.use) for ln in lines}
    # a month nothing measured or billed (coverage 0) is missing: no row, never 0
    measured = base[pd.to_numeric(base["coverage"], errors="coerce").fillna(0.0) > 0]
    rest = measured.groupby(["institution_id", "carrier", "unit", "use", "month"],
                            as_index=False)["quantity"].sum()
    for r in rest.to_dict("records"):
        if (r["institution_id"], r["carrier"], r["unit"], r["use"]) in projected:
            continue
        kgce, kgco2 = factor(r["institution_id"], r["carrier"], r["unit"], r["use"])
        rows.append({"institution_id": r["institution_id"], "month": int(r["month"]),
                     "carrier": r["carrier"], "unit": r["unit"], "use": r["use"],
                     "quantity_p10": r["quantity"], "quantity_p50": r["quantity"],
                     "quantity_p90": r["quantity"],
                     "energy_tce_p50": r["quantity"] * kgce / 1000.0,
                     "co2_t_p50": r["quantity"] * kgco2 / 1000.0, "source": "actual"})
    columns = ["institution_id", "month", "carrier", "unit", "use", "quantity_p10",
               "quantity_p50", "quantity_p90", "energy_tce_p50", "co2_t_p50", "source"]
    out = pd.DataFrame(rows, columns=columns)
    return out.sort_values(["institution_id", "carrier", "use", "month"]).reset_index(drop=True)
