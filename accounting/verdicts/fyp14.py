"""十四五 verdicts: an institution's change against its own base-year value and the path to 2025.

The 十四五 plan sets public institutions' 2025 targets as changes against 2020: 单位建筑面积能耗
−5 %, 人均综合能耗 −6 %, 人均用水量 −6 %, 单位建筑面积碳排放 −7 %. Each institution is judged against
its own value of the base year (``fyp14_base_year`` of the verdict rules) and the straight line
from no change in the base year to the target change in the target year:

``met_target``
    the change is already at or below the target change;
``on_track``
    at or below the straight-line path for the year;
``off_track``
    above it;
``unknown``
    no base-year or current value, or either's coverage below ``min_coverage``.

The target changes and years are the ``target`` rows of ``targets.csv`` (plan ``14th_fyp``).

References
----------
《"十四五"公共机构节约能源资源工作规划》 (国管节能〔2021〕195号), 国管局 and 国家发展改革委,
2021-06-01: 2020 baseline and 2025 targets.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from accounting.verdict_table import blocks, constant, select_text
from accounting.verdicts.figures import COVERAGE_MISSING, Columns, Figures, is_nan, table
from accounting.verdicts.rules import DEFAULT_RULES, VerdictRules

__all__ = ["FYP14_EXTRA", "FYP14_INDICATORS", "fyp14_parts", "fyp14_verdicts"]

#: Indicators the 十四五 plan sets per-institution change targets for → (coverage column,
#: denominator column, unit).
FYP14_INDICATORS: dict[str, tuple[str, str, str]] = {
    "kgce_per_m2": ("energy_coverage", "floor_area_m2", "kgce/m2"),
    "kgce_per_person": ("energy_coverage", "occupants", "kgce/person"),
    "water_m3_per_person": ("water_coverage", "occupants", "m3/person"),
    "kgco2_per_m2": ("co2_coverage", "floor_area_m2", "kgCO2/m2"),
}

#: 十四五 verdicts' columns after :data:`VERDICT_COLUMNS`: the figures they rest on.
FYP14_EXTRA = ["year", "base_year", "base_value", "base_coverage", "change", "path_change",
               "target_change", "target_year", "min_coverage"]


def fyp14_verdicts(
    figures: pd.DataFrame,
    base_figures: pd.DataFrame,
    targets: pd.DataFrame,
    year: int,
    min_coverage: float,
    rules: VerdictRules = DEFAULT_RULES,
) -> pd.DataFrame:
    """Change against the institution's own base-year value and the straight-line path to the
    target year (2020 and 2025 in the shipped reference data).

    Parameters
    ----------
    figures
        The year's :func:`accounting.engine.institution_figures`.
    base_figures
        The same for the plan's base year (``rules.fyp14_base_year``); may have no rows
        (→ ``unknown``).
    targets
        ``ReferenceData.targets()``: the plan's ``target`` rows with ``change_vs_base`` give the
        target year and change.
    year
        The year judged.
    min_coverage
        Below this coverage (this year's or the base year's) the verdict is ``unknown``. [0-1]
    rules
        The verdict rules (:class:`~accounting.verdicts.rules.VerdictRules`): the base year.

    Returns
    -------
    pandas.DataFrame
        :data:`VERDICT_COLUMNS` plus year, base_year, base_value, base_coverage, change,
        path_change, target_change, target_year, min_coverage. status: ``met_target`` (change
        already at or below the target), ``on_track`` (at or below the straight-line path for
        the year), ``off_track``, ``unknown``.
    """
    return table(fyp14_parts(Figures(figures), base_figures, targets, year, min_coverage, rules),
                 FYP14_EXTRA)


def fyp14_parts(f: Figures, base_figures: pd.DataFrame, targets: pd.DataFrame, year: int,
                min_coverage: float, rules: VerdictRules) -> list[Columns]:
    """:func:`fyp14_verdicts` as columns (none when no indicator has a target)."""
    plan = [r for r in targets.to_dict("records") if r["plan"] == "14th_fyp"]
    base_year = rules.fyp14_base_year
    goals: dict[str, dict] = {}  # the first target row of each indicator
    for r in plan:
        if r["kind"] == "target" and not is_nan(r["change_vs_base"]):
            goals.setdefault(r["indicator"], r)
    indicators = [i for i in FYP14_INDICATORS if i in goals]
    if not indicators or not f.n:
        return []
    rows = [goals[i] for i in indicators]
    n, k = f.n, len(indicators)
    which = np.repeat(np.arange(k), n)
    target_change = np.array([float(r["change_vs_base"]) for r in rows])
    target_year = np.array([int(r["year"]) for r in rows])
    fraction = np.clip((year - base_year) / (target_year - base_year), 0.0, 1.0)
    covs = [FYP14_INDICATORS[i][0] for i in indicators]
    at = f.rows_in(base_figures)
    base_value = f.numbers(indicators, base_figures, at)
    base_coverage = f.numbers(covs, base_figures, at)
    value, coverage = f.numbers(indicators), f.numbers(covs)

    with np.errstate(divide="ignore", invalid="ignore"):
        change = value / np.where(base_value > 0, base_value, np.nan) - 1.0
    no_base, no_value = np.isnan(base_value), np.isnan(value)
    low = (np.isnan(coverage) | (coverage < min_coverage)
           | np.isnan(base_coverage) | (base_coverage < min_coverage))
    path_change = (target_change * fraction)[which]
    status = select_text(
        [no_base | no_value | low | np.isnan(change),
         change <= target_change[which], change <= path_change],
        ["unknown", "met_target", "on_track"], default="off_track",
    )
    base_missing = blocks([
        f"{base_year} value of {i} (its {base_year} consumption and ledgers)"
        for i in indicators], which)
    figure_missing = f.missing_figures([(i, FYP14_INDICATORS[i][1]) for i in indicators])
    return [{
        "institution_id": f.institutions(k),
        "kind": constant("fyp14", n * k),
        "subject": blocks(indicators, which),
        "status": status,
        "value": value,
        "unit": blocks([FYP14_INDICATORS[i][2] for i in indicators], which),
        "coverage": coverage,
        "reason": constant("", n * k),
        "missing": select_text([no_base, no_value, low],
                               [base_missing, figure_missing, COVERAGE_MISSING], default=""),
        "source": blocks([f"{r['source']} [confidence {r['confidence']}]" for r in rows],
                         which),
        "year": np.full(n * k, year),
        "base_year": np.full(n * k, base_year),
        "base_value": base_value, "base_coverage": base_coverage, "change": change,
        "path_change": path_change, "target_change": target_change[which],
        "target_year": target_year[which],
        "min_coverage": np.full(n * k, float(min_coverage)),
    }]

