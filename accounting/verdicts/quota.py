"""Quota verdicts (能耗定额): an institution's intensities against the quota table that fits it.

Each indicator of the configured quota tables (``[accounting] quota_tables``, the rows of
``accounting/reference/<set>/quotas/``) is judged against the one row that fits the institution's
province, category, level, climate zone, area and subtype:

``below_guide``
    at or below 引导值 (guide);
``between_guide_and_baseline``
    above 引导值, at or below 基准值 (baseline);
``above_baseline``
    above 基准值, at or below 约束值 (constraint);
``above_constraint``
    above 约束值;
``between_guide_and_constraint``, ``below_constraint``
    for tables without a 基准值, or with only a 约束值;
``unknown``
    no row fits, several do, the figure is missing or its coverage is below ``min_coverage``.

A kgce indicator whose table prescribes 等价值 electricity (DB37/T 2672-2019 App. B: 0.31
kgce/kWh) is recomputed on that basis before it is judged.

References
----------
DB37/T 2672-2019 党政机关能源消耗定额标准 (Shandong), and the series DB37/T 2673-2019 医疗机构,
DB37/T 3780-2019 场馆机构, DB37/T 4452-2021 山东省教育、卫生等服务业用水定额.
GB/T 51161-2016 民用建筑能耗标准, Table 5.2.1 (office buildings, non-heating electricity).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from accounting.verdict_table import blocks, constant, select_text, text
from accounting.verdicts.figures import COVERAGE_MISSING, Columns, Figures, is_nan, table

__all__ = ["QUOTA_EXTRA", "QUOTA_INDICATORS", "quota_parts", "quota_verdicts"]

#: Quota indicator (as named in the quota tables) → (figure column, coverage column,
#: denominator column, unit, whether it is in kgce and so depends on the electricity basis).
QUOTA_INDICATORS: dict[str, tuple[str, str, str, str, bool]] = {
    "non_heating_kgce_per_m2": (
        "kgce_per_m2_non_heating", "energy_coverage", "floor_area_m2", "kgce/m2", True),
    "kgce_per_m2": ("kgce_per_m2", "energy_coverage", "floor_area_m2", "kgce/m2", True),
    "kgce_per_person": ("kgce_per_person", "energy_coverage", "occupants", "kgce/person", True),
    "electricity_kwh_per_m2": (
        "kwh_per_m2", "electricity_coverage", "floor_area_m2", "kWh/m2", False),
    # GB/T 51161 non-heating electricity: all electricity is taken as non-heating (electric
    # heating is not metered apart); the reason says so.
    "non_heating_kwh_per_m2": (
        "kwh_per_m2", "electricity_coverage", "floor_area_m2", "kWh/m2", False),
    "water_m3_per_person": (
        "water_m3_per_person", "water_coverage", "occupants", "m3/person", False),
    "kgco2_per_m2": ("kgco2_per_m2", "co2_coverage", "floor_area_m2", "kgCO2/m2", False),
}

#: Quota verdicts' columns after :data:`VERDICT_COLUMNS`: the figures they rest on.
QUOTA_EXTRA = ["guide", "baseline", "constraint", "table", "n_rows", "rebased", "tce_basis",
               "min_coverage", "delta_kgce_per_kwh"]


def quota_verdicts(
    figures: pd.DataFrame,
    quotas: pd.DataFrame,
    min_coverage: float,
    equal_value_delta_kgce_per_kwh: float = 0.0,
) -> pd.DataFrame:
    """Judge each institution's intensities against the quota rows that fit it.

    A row fits when its province, level, climate zone, area and subtype are blank (any) or the
    institution's (an institution without quota_area / subtype accepts every row's). No row, or
    several rows for one indicator, is ``unknown``: the ledger must say which applies.

    Parameters
    ----------
    figures
        :func:`accounting.engine.institution_figures`, with category, level, climate_zone,
        province and optionally quota_area and subtype.
    quotas
        ``ReferenceData.quotas()``: table, province, category, level, area, climate_zone,
        subtype, indicator, unit, constraint, baseline, guide, tce_basis, source, confidence.
    min_coverage
        Below this coverage the verdict is ``unknown``. [0-1]
    equal_value_delta_kgce_per_kwh
        等价值 minus the electricity coefficient the figures used [kgce/kWh]; added per kWh to a
        kgce indicator whose table's ``tce_basis`` says ``equal_value``. 0 when they agree.

    Returns
    -------
    pandas.DataFrame
        :data:`VERDICT_COLUMNS` plus guide, baseline, constraint, table, n_rows, rebased,
        tce_basis, min_coverage, delta_kgce_per_kwh. One block of rows per indicator that the
        quota tables have (in alphabetical order), institutions in the figures' order.
    """
    return table(quota_parts(Figures(figures), quotas, min_coverage,
                         equal_value_delta_kgce_per_kwh), QUOTA_EXTRA)


def quota_parts(f: Figures, quotas: pd.DataFrame, min_coverage: float,
           equal_value_delta_kgce_per_kwh: float) -> list[Columns]:
    profile_columns = ["province", "category", "level", "climate_zone", "quota_area", "subtype"]
    # The quota rows (a few dozen) as plain dicts, blanks as "".
    rules = [{k: _blank(v) if isinstance(v, str) or is_nan(v) else v for k, v in r.items()}
             for r in quotas.to_dict("records") if r["indicator"] in QUOTA_INDICATORS]
    if not rules or not f.n:
        return []
    # Match quota rows once per distinct profile (province, category, level, ...), not once per
    # institution: a province has tens of thousands of institutions but few distinct profiles.
    profile_of, profiles = f.distinct_rows(profile_columns)
    indicators = sorted({r["indicator"] for r in rules})
    n, n_profiles = f.n, len(profiles["category"])
    # The quota row of each indicator × profile ("slot" k·P + p) when exactly one fits.
    fitting = np.zeros(len(indicators) * n_profiles, dtype=np.int64)
    chosen = np.full(len(indicators) * n_profiles, -1)
    for j, q in enumerate(rules):
        fits = (
            (profiles["category"] == q["category"])
            & _blank_or_equal(q["province"], profiles["province"])
            & (_blank_or_equal(q["level"], profiles["level"]) | (q["level"] == "any"))
            & _blank_or_equal(q["climate_zone"], profiles["climate_zone"])
            & (_blank_or_equal(q["area"], profiles["quota_area"]) | (profiles["quota_area"] == ""))
            & (_blank_or_equal(q["subtype"], profiles["subtype"]) | (profiles["subtype"] == ""))
        )
        slots = indicators.index(q["indicator"]) * n_profiles + np.flatnonzero(fits)
        fitting[slots] += 1
        chosen[slots] = j
    chosen[fitting != 1] = -1
    which = np.repeat(np.arange(len(indicators)), n)
    slot = which * n_profiles + np.tile(profile_of, len(indicators))
    row = chosen[slot]  # the quota row of each verdict, −1 for none

    spec = [QUOTA_INDICATORS[i] for i in indicators]
    value = f.numbers([s[0] for s in spec])
    coverage = f.numbers([s[1] for s in spec])
    denominator = f.numbers([s[2] for s in spec])
    in_kgce = np.array([s[4] for s in spec])[which]
    kwh = np.tile(f.numbers(["electricity_kwh"]), len(indicators))
    guide, baseline, constraint = (_take_numbers([q[c] for q in rules], row)
                                   for c in ("guide", "baseline", "constraint"))
    n_rows = fitting[slot]
    # Re-base a kgce indicator on 等价值 electricity when its table prescribes it.
    rebased = in_kgce & (_take_numbers(
        [float("equal_value" in q["tce_basis"]) for q in rules], row) == 1.0)
    value = np.where(rebased, value + kwh * equal_value_delta_kgce_per_kwh / denominator, value)

    no_row, several, no_value = n_rows == 0, n_rows > 1, np.isnan(value)
    low = np.isnan(coverage) | (coverage < min_coverage)
    with np.errstate(invalid="ignore"):
        status = select_text(
            [no_row | several | no_value | low,
             ~np.isnan(constraint) & (value > constraint),
             ~np.isnan(baseline) & (value > baseline),
             np.isnan(baseline) & ~np.isnan(guide) & (value > guide),
             ~np.isnan(guide) & (value > guide),
             ~np.isnan(guide),
             ~np.isnan(constraint)],
            ["unknown", "above_constraint", "above_baseline", "between_guide_and_constraint",
             "between_guide_and_baseline", "below_guide", "below_constraint"],
            default="unknown",
        )
    figure_missing = f.missing_figures([(s[0], s[2]) for s in spec])
    columns = {
        "institution_id": f.institutions(len(indicators)),
        "kind": constant("quota", len(row)),
        "subject": blocks(indicators, which),
        "status": status,
        "value": value,
        "unit": blocks([s[3] for s in spec], which),
        "coverage": coverage,
        "reason": constant("", len(row)),
        "missing": select_text(
            [no_row, several, no_value, low],
            ["a quota table row for this institution",
             "quota_area or subtype (institutions ledger)", figure_missing, COVERAGE_MISSING],
            default=""),
        "source": _take_text([f"{q['source']} [confidence {q['confidence']}]"
                              for q in rules], row, missing=""),
        "guide": guide, "baseline": baseline, "constraint": constraint,
        "table": _take_text([q["table"] for q in rules], row),
        "n_rows": n_rows,
        "rebased": rebased & (equal_value_delta_kgce_per_kwh != 0),
        "tce_basis": _take_text([q["tce_basis"] for q in rules], row),
        "min_coverage": np.full(len(row), float(min_coverage)),
        "delta_kgce_per_kwh": np.full(len(row), float(equal_value_delta_kgce_per_kwh)),
    }
    return [columns]


def _take_numbers(values: list, row: np.ndarray) -> np.ndarray:
    """Numbers of a small table's rows (row −1: NaN), one per verdict."""
    numbers = np.append(pd.to_numeric(pd.Series(values, dtype=object), errors="coerce")
                        .to_numpy(dtype=float), np.nan)
    return numbers[row]


def _take_text(labels: list, row: np.ndarray, missing: str | None = None) -> pd.Categorical:
    """Texts of a small table's rows (row −1: ``missing``, NaN when None), one per verdict."""
    labels = np.asarray(labels, dtype=object)
    if missing is not None:
        labels = np.append(labels, missing)
        row = np.where(row >= 0, row, len(labels) - 1)
    codes, uniques = pd.factorize(labels)
    return pd.Categorical.from_codes(np.where(row >= 0, codes[row], -1),
                                     categories=text(uniques).categories)


def _blank(value: Any) -> str:
    """A table cell as text: "" when blank."""
    return "" if value is None or is_nan(value) else str(value)


def _blank_or_equal(rule: str, values: np.ndarray) -> Any:
    """A quota row's cell fits when it is blank (any) or equals the institution's value."""
    return True if rule == "" else values == rule

