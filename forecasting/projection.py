"""The year-end projection: actual to date + sample paths to 31 December → the accounting engine.

Pure functions over frames and arrays. For every carrier line (institution × carrier × unit × use)
with a forecast, each sample path gives the year's 12 monthly quantities: the known quantities
plus the path's values on the unknown days, **summed per path** (summing daily interval bounds
would be wrong). What a path adds to the known quantities (its increments) is moved as the
accounting's statistical boundary and compound apportionment moved the quantities to date
(:func:`transfer_shares`), and added to the year's accounted consumption table, repeated once per
sample with each sample as its own pseudo-institution. That table goes through
:func:`accounting.engine.account_figures`: the same factor set, electricity basis and grid-factor
policy as ``jieneng account``. Quantiles over the samples give p10/p50/p90 of
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
    "known_months",
    "monthly_paths",
    "monthly_table",
    "move_increments",
    "project_figures",
    "quota_risk",
    "stacked_consumption",
    "transfer_shares",
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
    """A projected carrier line: its key, source and monthly paths (``samples × 12``).

    ``actual`` holds the line's known monthly quantities (already in the year's consumption
    table); the projection adds ``paths − actual`` (:attr:`increments`) to that table.
    """

    institution_id: str
    carrier: str
    unit: str
    use: str
    source: str
    paths: np.ndarray
    #: True for the months (1–12) that hold forecast days.
    forecast_months: np.ndarray
    actual: np.ndarray | None = None

    @property
    def increments(self) -> np.ndarray:
        """What the forecast adds to the known quantities, per path and month."""
        actual = np.zeros(12) if self.actual is None else np.nan_to_num(self.actual)
        return self.paths - actual[None, :]


def known_months(year: int, known: pd.Series) -> np.ndarray:
    """The 12 monthly sums of the known quantities of ``year`` (index: days or month starts)."""
    k = known[known.index.year == year].dropna()
    return np.bincount(k.index.month.to_numpy() - 1, weights=k.to_numpy(float), minlength=12)


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
    actual = known_months(year, known)
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


def transfer_shares(before: pd.DataFrame, after: pd.DataFrame
                    ) -> dict[tuple[str, str, str], list[tuple[str, float]]]:
    """Where each institution × carrier × unit's consumption goes in the accounted table.

    ``before`` is the year's consumption as gathered (``annual_inputs``), ``after`` the table
    accounted (after ``accounting.bureau.bureau_year``: the statistical boundary, public
    charging, compounds apportioned to their members). From the quantities to date: an
    institution keeps ``after ÷ before`` of its own; the rest goes to the institutions that
    gained that carrier, in proportion to their gains (a compound's bills to its members), or is
    left out when nobody gained (a building outside the boundary). Keys not listed stay where
    they are.
    """
    key = ["institution_id", "carrier", "unit"]
    b = before.groupby(key)["quantity"].sum() if len(before) else pd.Series(dtype=float)
    a = after.groupby(key)["quantity"].sum() if len(after) else pd.Series(dtype=float)
    out: dict[tuple[str, str, str], list[tuple[str, float]]] = {}
    if b.empty:
        return out
    both = pd.concat([b.rename("before"), a.rename("after")], axis=1).fillna(0.0)
    for (carrier, unit), g in both.groupby(level=[1, 2]):
        g = g.droplevel([1, 2])
        gain = (g["after"] - g["before"]).clip(lower=0.0)
        gain = gain[gain > 1e-9 * max(1.0, float(g["after"].abs().max()))]
        for inst, row in g.iterrows():
            if row["before"] <= 0 or row["after"] >= row["before"] * (1 - 1e-9):
                continue
            keep = float(row["after"] / row["before"])
            targets = [(str(inst), keep)] if keep > 0 else []
            others = gain.drop(index=inst, errors="ignore")
            if others.sum() > 0:
                targets += [(str(j), (1 - keep) * float(v / others.sum()))
                            for j, v in others.items()]
            out[(str(inst), str(carrier), str(unit))] = targets
    return out


def move_increments(lines: list[Line], shares: dict) -> list[Line]:
    """Each line's increments moved as :func:`transfer_shares` says (paths = increments)."""
    out = []
    for line in lines:
        targets = shares.get((line.institution_id, line.carrier, line.unit),
                             [(line.institution_id, 1.0)])
        for inst, share in targets:
            out.append(Line(inst, line.carrier, line.unit, line.use, line.source,
                            share * line.increments, line.forecast_months))
    return out


def stacked_consumption(base: pd.DataFrame, increments: list[Line], samples: int) -> pd.DataFrame:
    """The projected consumption table, one pseudo-institution per sample.

    Parameters
    ----------
    base
        The year's accounted consumption table (actual to date), repeated once per sample.
    increments
        Lines whose ``paths`` are what the forecast adds (:func:`move_increments`), one row per
        sample × month each.
    samples
        Number of sample paths (S).
    """
    parts = []
    if len(base):
        rep = base.iloc[np.tile(np.arange(len(base)), samples)].reset_index(drop=True)
        sample_no = np.repeat(np.arange(samples), len(base))
        rep["institution_id"] = _pseudo(rep["institution_id"].astype(str).to_numpy(), sample_no)
        parts.append(rep)
    for line in increments:
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
    columns = list(base.columns) if len(base.columns) else list(parts[-1].columns)
    out = pd.concat(parts, ignore_index=True)[columns]
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


def monthly_table(increments: list[Line], base: pd.DataFrame, factors: pd.DataFrame,
                  provinces: pd.Series, samples: int) -> pd.DataFrame:
    """Monthly quantities (p10/p50/p90) and p50 tce and CO2 per institution × carrier × month.

    Each month is the accounted actual plus the forecast's increments, per path; ``source`` is
    ``forecast`` when a forecast day is in it, ``actual`` otherwise. A month nothing measured,
    billed or forecast (coverage 0) has no row: missing is never 0.
    """
    f = factors.set_index(["carrier", "unit", "province", "use"])[["kgce_per_unit",
                                                                    "kgco2_per_unit"]]
    key = ["institution_id", "carrier", "unit", "use"]
    measured = base[pd.to_numeric(base["coverage"], errors="coerce").fillna(0.0) > 0]
    lines: dict[tuple, dict] = {}
    for k, g in measured.groupby(key, sort=True):
        q = np.bincount(g["month"].to_numpy(int) - 1, weights=g["quantity"].to_numpy(float),
                        minlength=12)
        lines[tuple(map(str, k))] = {"paths": np.tile(q, (samples, 1)),
                                     "present": np.bincount(g["month"].to_numpy(int) - 1,
                                                            minlength=12) > 0,
                                     "forecast": np.zeros(12, dtype=bool)}
    for line in increments:
        k = (line.institution_id, line.carrier, line.unit, line.use)
        if k not in lines:
            actual = base[(base["institution_id"] == k[0]) & (base["carrier"] == k[1])
                          & (base["unit"] == k[2]) & (base["use"] == k[3])]
            q = np.bincount(actual["month"].to_numpy(int) - 1,
                            weights=actual["quantity"].to_numpy(float), minlength=12)
            lines[k] = {"paths": np.tile(q, (samples, 1)), "present": np.zeros(12, dtype=bool),
                        "forecast": np.zeros(12, dtype=bool)}
        lines[k]["paths"] = lines[k]["paths"] + line.paths
        lines[k]["forecast"] = lines[k]["forecast"] | line.forecast_months
    rows = []
    for (inst, carrier, unit, use), entry in sorted(lines.items()):
        fkey = (carrier, unit, provinces.get(inst, ""), use)
        kgce, kgco2 = ((float(f.loc[fkey, "kgce_per_unit"]), float(f.loc[fkey, "kgco2_per_unit"]))
                       if fkey in f.index else (float("nan"), float("nan")))
        q = np.quantile(entry["paths"], [0.1, 0.5, 0.9], axis=0)
        for m in range(12):
            if not (entry["present"][m] or entry["forecast"][m]):
                continue
            rows.append({"institution_id": inst, "month": m + 1, "carrier": carrier,
                         "unit": unit, "use": use, "quantity_p10": q[0, m],
                         "quantity_p50": q[1, m], "quantity_p90": q[2, m],
                         "energy_tce_p50": q[1, m] * kgce / 1000.0,
                         "co2_t_p50": q[1, m] * kgco2 / 1000.0,
                         "source": "forecast" if entry["forecast"][m] else "actual"})
    columns = ["institution_id", "month", "carrier", "unit", "use", "quantity_p10",
               "quantity_p50", "quantity_p90", "energy_tce_p50", "co2_t_p50", "source"]
    return pd.DataFrame(rows, columns=columns)
