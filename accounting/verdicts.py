"""Verdicts on an institution's year: quotas, 十四五 targets, peers, certification, auditor checks.

Every verdict is one row of a frame with the same core columns:

``institution_id, kind, subject, status, value, unit, coverage, reason, missing, source``

plus the figures it rests on (``guide``, ``baseline``, ``constraint``; ``base_value``,
``path_change``; ``peer_average``, ``ratio``, ``score``, ``rank``, ...). ``status`` is ``unknown``
when a figure is missing or its coverage is below ``min_coverage``, and ``missing`` names what is
missing: a verdict never passes silently.

The judging is vectorised (a province has tens of thousands of institutions); the sentence that
explains a verdict is written from its figures only when it is shown: :func:`explain` fills the
``reason`` column of the rows asked for, and :func:`verdict_records` (JSON) calls it. Each kind
is judged as plain columns (one block of rows per indicator, institutions in the figures' order)
and :func:`judge_year` puts every kind into one frame once; its text columns are categoricals
(``accounting.verdict_table``), its numbers plain floats.

The rules and their primary sources:

* quota (能耗定额; the provincial quota standards such as DB37/T 2672-2019 党政机关能源消耗定额
  标准, and GB/T 51161-2016 民用建筑能耗标准 for offices): ``below_guide`` (≤ 引导值),
  ``between_guide_and_baseline`` (≤ 基准值), ``above_baseline`` (> 基准值, ≤ 约束值),
  ``above_constraint`` (> 约束值); a table without a 基准值 gives
  ``between_guide_and_constraint``, one with only a 约束值 ``below_constraint``.
  A kgce indicator whose table prescribes 等价值 electricity (DB37/T 2672: 0.31 kgce/kWh) is
  recomputed on that basis before it is judged.
* 十四五 (《"十四五"公共机构节约能源资源工作规划》, 国管节能〔2021〕195号): change against the
  institution's own 2020 value; the straight-line path from 0 in 2020 to the 2025 target change
  (−5 % per area, −6 % per person, −6 % water, −7 % CO2 per area).
* peers: rank and percentile within category × level × climate zone; the 示范单位 score against the
  peer average (bands of the 节约型公共机构示范单位 evaluation standard, :data:`SCORE_BANDS`); a
  group with fewer than :data:`MIN_PEERS` known members falls back to a published same-type
  average of the province, else ``unknown``.
* certification readiness: 节约型机关 (government bodies: the energy and water target items, i.e.
  the three 十四五 intensity verdicts), 示范单位 (no energy/water item scoring 0), 能效领跑者
  (first in its peer group and every judged quota indicator at or below 引导值).
* auditor checks (the provinces' data checks under the 公共机构能源资源消费统计调查制度, e.g. Hami
  2023): floor area or occupants changed by more than 10 % year on year; an intensity above 约束值
  or below 引导值; a bill's unit price far from the median of its carrier.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from accounting.verdict_table import (
    blocks,
    concat_frames,
    constant,
    is_value,
    select_text,
    text,
    union,
    where_text,
)

__all__ = [
    "AUDIT_CHANGE_LIMIT",
    "MIN_PEERS",
    "PEER_INDICATORS",
    "PRICE_RATIO_LIMITS",
    "QUOTA_INDICATORS",
    "SCORE_BANDS",
    "VERDICT_COLUMNS",
    "audit_verdicts",
    "certification_verdicts",
    "combine_verdicts",
    "explain",
    "fyp14_verdicts",
    "judge_year",
    "peer_verdicts",
    "quota_verdicts",
    "score_for_ratio",
    "verdict_records",
]

#: A verdict kind's columns before they become a frame: name → array or categorical.
Columns = dict[str, Any]

#: Core columns of every verdict frame.
VERDICT_COLUMNS = [
    "institution_id", "kind", "subject", "status", "value", "unit", "coverage", "reason",
    "missing", "source",
]

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

#: Indicators the 十四五 plan sets per-institution change targets for → coverage column.
FYP14_INDICATORS: dict[str, tuple[str, str, str]] = {
    "kgce_per_m2": ("energy_coverage", "floor_area_m2", "kgce/m2"),
    "kgce_per_person": ("energy_coverage", "occupants", "kgce/person"),
    "water_m3_per_person": ("water_coverage", "occupants", "m3/person"),
    "kgco2_per_m2": ("co2_coverage", "floor_area_m2", "kgCO2/m2"),
}

#: 示范单位 indicators scored against the peer average: figure column → (coverage, denominator,
#: unit, the published-average column in peer_averages.csv).
PEER_INDICATORS: dict[str, tuple[str, str, str, str]] = {
    "kgce_per_m2_excl_vehicles": (
        "energy_coverage", "floor_area_m2", "kgce/m2", "kgce_per_m2"),
    "kgce_per_person": ("energy_coverage", "occupants", "kgce/person", "kgce_per_person"),
    "water_m3_per_person": (
        "water_coverage", "occupants", "m3/person", "water_m3_per_person"),
}

#: 示范单位 score bands: (upper limit of value ÷ peer average, points); above the last limit: 0.
#: Source: the 节约型公共机构示范单位 evaluation standard (国家发展改革委, 财政部, 国管局; 12th-FYP
#: version): each 能源资源消耗 indicator scored against the province's same-type average of the
#: previous year. Confidence S: read from a copy of the standard, not from the issuing notice.
SCORE_BANDS: tuple[tuple[float, int], ...] = ((0.9, 7), (1.0, 6), (1.1, 5), (1.2, 4))
SCORE_MAX = 7

#: Peers needed for a computed peer average (fewer: the published average, else unknown).
MIN_PEERS = 3
#: Year-on-year change of floor area or occupants that an auditor asks about (the provinces' data
#: checks under the 公共机构能源资源消费统计调查制度, e.g. Hami 2023).
AUDIT_CHANGE_LIMIT = 0.10
#: A bill's unit price outside [low, high] × the median of its carrier and unit is flagged.
PRICE_RATIO_LIMITS = (0.5, 2.0)
#: Bills of a carrier and unit needed before unit prices are compared.
MIN_PRICE_PEERS = 3

#: Each kind's columns after :data:`VERDICT_COLUMNS`: the figures its verdicts rest on.
QUOTA_EXTRA = ["guide", "baseline", "constraint", "table", "n_rows", "rebased", "tce_basis",
               "min_coverage", "delta_kgce_per_kwh"]
FYP14_EXTRA = ["year", "base_year", "base_value", "base_coverage", "change", "path_change",
               "target_change", "target_year", "min_coverage"]
PEER_EXTRA = ["rank", "peers", "percentile", "peer_average", "ratio", "score", "average_source",
              "category", "level", "climate_zone", "min_coverage"]
AUDIT_EXTRA = ["previous_value", "change", "ratio", "guide", "baseline", "constraint", "table",
               "year"]

_MISSING_HINT = {
    "floor_area_m2": "floor_area_m2 (buildings ledger)",
    "occupants": "occupants (headcount ledger for the year)",
}


#: Figures that are unknown without data of one carrier (not only without a denominator).
_DATA_HINT = {
    "kwh_per_m2": "electricity consumption (meters or bills)",
    "water_m3_per_person": "water consumption (meters or bills)",
}
_COVERAGE_MISSING = "measured data (coverage below min_coverage)"


class _Figures:
    """The year's figures, with what several verdict kinds need of them worked out once.

    Every kind's rows are blocks of the figures' rows (one block per indicator); the
    institution_id column of every kind shares one categorical dtype, so that joining the kinds
    is joining integer codes.
    """

    def __init__(self, figures: pd.DataFrame):
        self.frame = figures
        self.n = len(figures)
        self.ids = figures["institution_id"].to_numpy(dtype=object)
        codes, uniques = pd.factorize(self.ids)
        self._codes = codes
        self._dtype = pd.CategoricalDtype(text(uniques).categories)
        self._unique = len(uniques) == self.n
        self._texts: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._missing: dict[tuple[str, str], pd.Categorical] = {}

    def institutions(self, repeats: int = 1) -> pd.Categorical:
        """The institution_id column of ``repeats`` blocks of the figures' rows."""
        return pd.Categorical.from_codes(np.tile(self._codes, repeats), dtype=self._dtype)

    def positions(self, institutions: Any) -> np.ndarray:
        """Row in the figures of each verdict's institution (−1 when it is not there)."""
        values = _array(institutions)
        if isinstance(values, pd.Categorical):
            codes = np.asarray(values.codes)
            if values.dtype is self._dtype and self._unique:  # built from these figures
                return codes.astype(np.int64)
            found = pd.Index(self.ids).get_indexer(values.categories)  # each category once
            return np.where(codes >= 0, found[codes], -1)
        return pd.Index(self.ids).get_indexer(np.asarray(values, dtype=object))

    def text_codes(self, column: str) -> tuple[np.ndarray, np.ndarray]:
        """Codes of a text column of the figures ("" when blank or absent) and its values."""
        if column not in self._texts:
            if column in self.frame.columns:
                codes, uniques = pd.factorize(self.frame[column])
                labels = [str(u) for u in uniques]
            else:
                codes, labels = np.full(self.n, -1), []
            if (codes < 0).any():  # blank: ""
                if "" not in labels:
                    labels.append("")
                codes = np.where(codes < 0, labels.index(""), codes)
            self._texts[column] = codes, np.asarray(labels, dtype=object)
        return self._texts[column]

    def tiled_text(self, column: str, repeats: int) -> pd.Categorical:
        """A text column of the figures, once per block of rows."""
        codes, labels = self.text_codes(column)
        return pd.Categorical.from_codes(np.tile(codes, repeats), categories=text(labels).categories)

    def distinct_rows(self, columns: list[str]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Code of each row's combination of a few text columns, and the distinct combinations
        (column → values), in order of appearance."""
        combined = np.zeros(self.n, dtype=np.int64)
        for column in columns:
            codes, labels = self.text_codes(column)
            combined = pd.factorize(combined * max(len(labels), 1) + codes)[0]  # kept dense
        first = np.unique(combined, return_index=True)[1]  # codes are in order of appearance
        return combined, {c: self.text_codes(c)[1][self.text_codes(c)[0][first]] for c in columns}

    def numbers(self, columns: list[str], frame: pd.DataFrame | None = None,
                rows: np.ndarray | None = None) -> np.ndarray:
        """``columns`` of the figures (or of ``frame`` at ``rows``, −1: NaN) one block after
        another, as floats."""
        source = self.frame if frame is None else frame
        blocks_ = []
        for column in columns:
            values = pd.to_numeric(source[column], errors="coerce").to_numpy(dtype=float)
            if rows is not None:
                values = np.where(rows >= 0, values[np.maximum(rows, 0)], np.nan) if len(
                    values) else np.full(len(rows), np.nan)
            blocks_.append(values)
        return np.concatenate(blocks_) if blocks_ else np.zeros(0)

    def rows_in(self, other: pd.DataFrame | None) -> np.ndarray:
        """Row of each institution in another year's figures (the first; −1: none)."""
        if other is None or not len(other):
            return np.full(self.n, -1)
        other_ids = other["institution_id"]
        first = np.flatnonzero(~other_ids.duplicated().to_numpy())
        found = pd.Index(other_ids.to_numpy(dtype=object)[first]).get_indexer(self.ids)
        return np.where(found >= 0, first[np.maximum(found, 0)], -1)

    def missing_figure(self, column: str, denominator: str) -> pd.Categorical:
        """What is missing when ``column`` is NaN: its denominator, else the carrier's data."""
        key = (column, denominator)
        if key not in self._missing:
            known = pd.to_numeric(self.frame[denominator], errors="coerce").to_numpy() > 0
            data_hint = _DATA_HINT.get(column, f"consumption data for {column}")
            self._missing[key] = where_text(known, data_hint, _MISSING_HINT[denominator])
        return self._missing[key]

    def missing_figures(self, pairs: list[tuple[str, str]]) -> pd.Categorical:
        """:meth:`missing_figure` of (column, denominator) pairs, one block each."""
        return union([self.missing_figure(c, d) for c, d in pairs])


# ---------------------------------------------------------------------------------------------
# Quotas
# ---------------------------------------------------------------------------------------------


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
    return _table(_quota(_Figures(figures), quotas, min_coverage,
                         equal_value_delta_kgce_per_kwh), QUOTA_EXTRA)


def _quota(f: _Figures, quotas: pd.DataFrame, min_coverage: float,
           equal_value_delta_kgce_per_kwh: float) -> list[Columns]:
    profile_columns = ["province", "category", "level", "climate_zone", "quota_area", "subtype"]
    # The quota rows (a few dozen) as plain dicts, blanks as "".
    rules = [{k: _blank(v) if isinstance(v, str) or _nan(v) else v for k, v in r.items()}
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
             "quota_area or subtype (institutions ledger)", figure_missing, _COVERAGE_MISSING],
            default=""),
        "source": _take_text([f"{q['standard']} — {q['source']} [confidence {q['confidence']}]"
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
    return "" if value is None or _nan(value) else str(value)


def _blank_or_equal(rule: str, values: np.ndarray) -> Any:
    """A quota row's cell fits when it is blank (any) or equals the institution's value."""
    return True if rule == "" else values == rule


def _quota_reason(r: dict) -> str:
    if r["n_rows"] == 0:
        return ("no quota row fits this institution's province, category, level and climate "
                "zone in the configured quota tables")
    if r["n_rows"] > 1:
        return (f"{int(r['n_rows'])} quota rows fit; set quota_area / subtype in the institutions "
                "ledger to pick one")
    if _nan(r["value"]):
        return f"{r['subject']} cannot be computed: {r['missing']} is missing"
    if _nan(r["coverage"]) or r["coverage"] < r["min_coverage"]:
        return f"coverage {_pct(r['coverage'])} is below min_coverage {r['min_coverage']:.0%}"
    bands = ", ".join(
        f"{name} {r[key]:g}" for name, key in
        (("引导值", "guide"), ("基准值", "baseline"), ("约束值", "constraint"))
        if not _nan(r[key]))
    text = f"{r['subject']} = {r['value']:.2f} {r['unit']} vs {r['table']}: {bands}"
    if r["rebased"]:
        text += (f" (electricity re-based on 等价值: {r['delta_kgce_per_kwh']:+g} kgce/kWh, "
                 f"{r['tce_basis']})")
    if r["subject"] == "non_heating_kgce_per_m2":
        text += "; heating taken as purchased heat only (boiler fuel for heating not separated)"
    if r["subject"] == "non_heating_kwh_per_m2":
        text += "; all electricity counted (electric heating not metered apart)"
    return text


# ---------------------------------------------------------------------------------------------
# 十四五 targets
# ---------------------------------------------------------------------------------------------


def fyp14_verdicts(
    figures: pd.DataFrame,
    base_figures: pd.DataFrame,
    targets: pd.DataFrame,
    year: int,
    min_coverage: float,
) -> pd.DataFrame:
    """Change against the institution's own 2020 value and the straight-line path to 2025.

    Parameters
    ----------
    figures
        The year's :func:`accounting.engine.institution_figures`.
    base_figures
        The same for the plan's base year (2020); may have no rows (→ ``unknown``).
    targets
        ``ReferenceData.targets()``: the plan's ``baseline`` rows give the base year, its
        ``target`` rows with ``change_vs_base`` the target year and change.
    year
        The year judged.
    min_coverage
        Below this coverage (this year's or the base year's) the verdict is ``unknown``. [0-1]

    Returns
    -------
    pandas.DataFrame
        :data:`VERDICT_COLUMNS` plus year, base_year, base_value, base_coverage, change,
        path_change, target_change, target_year, min_coverage. status: ``met_target`` (change already at or
        below the 2025 target), ``on_track`` (at or below the straight-line path for the year),
        ``off_track``, ``unknown``.
    """
    return _table(_fyp14(_Figures(figures), base_figures, targets, year, min_coverage),
                  FYP14_EXTRA)


def _fyp14(f: _Figures, base_figures: pd.DataFrame, targets: pd.DataFrame, year: int,
           min_coverage: float) -> list[Columns]:
    plan = [r for r in targets.to_dict("records") if r["plan"] == "14th_fyp"]
    base_year = int(min(r["year"] for r in plan if r["kind"] == "baseline"))
    goals: dict[str, dict] = {}  # the first target row of each indicator
    for r in plan:
        if r["kind"] == "target" and not _nan(r["change_vs_base"]):
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
                               [base_missing, figure_missing, _COVERAGE_MISSING], default=""),
        "source": blocks([f"{r['source']} [confidence {r['confidence']}]" for r in rows],
                         which),
        "year": np.full(n * k, year),
        "base_year": np.full(n * k, base_year),
        "base_value": base_value, "base_coverage": base_coverage, "change": change,
        "path_change": path_change, "target_change": target_change[which],
        "target_year": target_year[which],
        "min_coverage": np.full(n * k, float(min_coverage)),
    }]


def _fyp14_reason(r: dict) -> str:
    year, base_year, target_year = int(r["year"]), int(r["base_year"]), int(r["target_year"])
    if _nan(r["base_value"]):
        return f"no {base_year} value of {r['subject']} for this institution"
    if _nan(r["value"]):
        return f"{r['subject']} cannot be computed: {r['missing']} is missing"
    if r["status"] == "unknown":
        return (f"coverage {_pct(r['coverage'])} ({year}) / {_pct(r['base_coverage'])} "
                f"({base_year}) below min_coverage {r['min_coverage']:.0%}")
    return (f"{r['subject']} {r['value']:.2f} {r['unit']} vs {base_year} "
            f"{r['base_value']:.2f}: {r['change']:+.1%}; straight-line path for {year} "
            f"{r['path_change']:+.1%}, {target_year} target {r['target_change']:+.1%}")


# ---------------------------------------------------------------------------------------------
# Peers and the 示范单位 score
# ---------------------------------------------------------------------------------------------


def score_for_ratio(ratio: float) -> int:
    """示范单位 points for value ÷ peer average (:data:`SCORE_BANDS`); NaN is not allowed."""
    for limit, points in SCORE_BANDS:
        if ratio <= limit:
            return points
    return 0


def peer_verdicts(
    figures: pd.DataFrame,
    min_coverage: float,
    published: pd.DataFrame | None = None,
    year: int | None = None,
) -> pd.DataFrame:
    """Rank, percentile and 示范单位 score within category × level × climate zone.

    Only institutions whose figure is known and whose coverage reaches ``min_coverage`` are
    peers. The peer average is the mean of the group (the institution included). A group with
    fewer than :data:`MIN_PEERS` such members is scored against the latest published same-type
    average of its province (``published``: ``ReferenceData.peer_averages()``) up to ``year``,
    else ``unknown``.

    Returns
    -------
    pandas.DataFrame
        :data:`VERDICT_COLUMNS` plus rank (1 = lowest), peers (group members with a known
        value), percentile (share of the group at or below the value, %), peer_average, ratio,
        score, average_source, category, level, climate_zone, min_coverage. status
        ``score_N`` or ``unknown``.
    """
    return _table(_peers(_Figures(figures), min_coverage, published, year), PEER_EXTRA)


def _peers(f: _Figures, min_coverage: float, published: pd.DataFrame | None,
           year: int | None) -> list[Columns]:
    group_keys = ["category", "level", "climate_zone"]
    group, _ = f.distinct_rows(group_keys)  # one code per peer group
    # One long table, indicator by indicator: a peer group is indicator × category × level ×
    # climate zone, so every group statistic is one pass over integer codes.
    indicators = list(PEER_INDICATORS)
    n, k = f.n, len(indicators)
    which = np.repeat(np.arange(k), n)  # the indicator of each row
    value = f.numbers(indicators)
    coverage = f.numbers([PEER_INDICATORS[i][0] for i in indicators])
    known = ~np.isnan(value) & (coverage >= min_coverage)
    n_groups = group.max(initial=-1) + 1
    peer_group = which * n_groups + np.tile(group, k)
    size = np.bincount(peer_group[known], minlength=n_groups * k)
    peers = np.where(known, size[peer_group], 0)
    rank, percentile = np.full(n * k, np.nan), np.full(n * k, np.nan)
    lowest, highest = _ranks(peer_group[known], value[known])
    rank[known] = lowest
    percentile[known] = 100.0 * highest / size[peer_group[known]]
    total = np.bincount(peer_group[known], weights=value[known], minlength=n_groups * k)
    with np.errstate(invalid="ignore", divide="ignore"):
        group_mean = total / size
    enough = peers >= MIN_PEERS
    peer_average = np.where(known & enough, group_mean[peer_group], np.nan)
    published_source: Any = ""
    small = known & ~enough
    if published is not None and small.any():
        published_source = np.full(n * k, "", dtype=object)
        keys = pd.DataFrame({c: f.text_codes(c)[1][f.text_codes(c)[0]]
                             for c in ("province", "category", "level")})
        for j, indicator in enumerate(indicators):  # each has its own published column
            rows = small & (which == j)
            if rows.any():
                average, source = _published_average(
                    keys.iloc[np.flatnonzero(rows) - j * n], published,
                    PEER_INDICATORS[indicator][3], year)
                peer_average[rows] = average
                published_source[rows] = source
    ratio = value / peer_average
    score = np.where(known & ~np.isnan(ratio), _score_points(ratio), np.nan)
    bands = [*(p for _, p in SCORE_BANDS), 0]
    figure_missing = f.missing_figures([(i, PEER_INDICATORS[i][1]) for i in indicators])
    return [{
        "institution_id": f.institutions(k),
        "kind": constant("peers", n * k),
        "subject": blocks(indicators, which),
        "status": select_text([score == points for points in bands],
                              [f"score_{points}" for points in bands], "unknown"),
        "value": value,
        "unit": blocks([PEER_INDICATORS[i][2] for i in indicators], which),
        "coverage": coverage,
        "reason": constant("", n * k),
        "missing": select_text(
            [np.isnan(value), ~known, np.isnan(score)],
            [figure_missing, _COVERAGE_MISSING,
             f"at least {MIN_PEERS} peers or a published same-type average"],
            default=""),
        "source": where_text(
            ~np.isnan(score), "score bands: 节约型公共机构示范单位 evaluation standard "
            "(renrendoc.com/paper/176479043.html) [confidence S]", ""),
        "rank": rank, "peers": peers, "percentile": percentile,
        "peer_average": peer_average, "ratio": ratio, "score": score,
        "average_source": where_text(enough, "peer group mean", published_source),
        **{key: f.tiled_text(key, k) for key in group_keys},
        "min_coverage": np.full(n * k, float(min_coverage)),
    }]


def _ranks(group: np.ndarray, value: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Within each group, the rank of each value counting ties low (1 = the lowest, ties share
    the first rank) and counting ties high (ties share the last rank)."""
    order = np.lexsort((value, group))
    g, v = group[order], value[order]
    new_group = np.r_[True, g[1:] != g[:-1]]
    new_value = new_group | np.r_[True, v[1:] != v[:-1]]
    position = np.arange(len(g))
    group_start = np.maximum.accumulate(np.where(new_group, position, 0))
    tie_start = np.maximum.accumulate(np.where(new_value, position, 0))
    tie_end = np.empty(len(g), dtype=np.int64)  # last position of each row's ties
    ends = np.r_[np.flatnonzero(new_value)[1:] - 1, len(g) - 1] if len(g) else np.zeros(0, int)
    tie_end[:] = np.repeat(ends, np.diff(np.r_[np.flatnonzero(new_value), len(g)]))
    lowest, highest = np.empty(len(g)), np.empty(len(g))
    lowest[order] = tie_start - group_start + 1
    highest[order] = tie_end - group_start + 1
    return lowest, highest


def _score_points(ratio: np.ndarray) -> np.ndarray:
    """示范单位 points of each value ÷ peer average (:data:`SCORE_BANDS`)."""
    with np.errstate(invalid="ignore"):
        return np.select([ratio <= limit for limit, _ in SCORE_BANDS],
                         [points for _, points in SCORE_BANDS], default=0).astype(float)


def _published_average(
    rows: pd.DataFrame, published: pd.DataFrame, column: str, year: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """The latest published same-type average (≤ year) of each row's province/category/level;
    a row ``level = any`` fits every level."""
    table = published[published[column].notna()]
    if year is not None:
        table = table[table["year"] <= year]
    table = table.sort_values("year").drop_duplicates(
        ["province", "category", "level"], keep="last")
    table = table.assign(text=lambda t: "published " + t["group"] + " average "
                         + t["year"].astype(str) + ": " + t["source"] + " [confidence "
                         + t["confidence"] + "]")
    keys = rows[["province", "category", "level"]].reset_index(drop=True)
    exact = keys.merge(table, on=["province", "category", "level"], how="left")
    anylevel = keys.merge(table[table["level"].eq("any")].drop(columns="level"),
                          on=["province", "category"], how="left")
    average = exact[column].fillna(anylevel[column])
    # On plain arrays: Series.fillna would turn an all-missing text column into floats (pandas 2).
    found = exact["text"].to_numpy(dtype=object)
    fallback = anylevel["text"].to_numpy(dtype=object)
    label = np.where(pd.notna(found), found, np.where(pd.notna(fallback), fallback, ""))
    return average.to_numpy(dtype=float), label


def _peer_reason(r: dict) -> str:
    group = f"{r['category']}/{r['level']}/{r['climate_zone']}"
    if _nan(r["value"]):
        return f"{r['subject']} cannot be computed: {r['missing']} is missing"
    if _nan(r["coverage"]) or r["coverage"] < r["min_coverage"]:
        return f"coverage {_pct(r['coverage'])} below min_coverage {r['min_coverage']:.0%}"
    if _nan(r["score"]):
        return (f"peer group {group} has {int(r['peers'])} institution(s) with a known "
                f"{r['subject']}; at least {MIN_PEERS} needed and no published same-type "
                "average fits")
    rank = (f"rank {int(r['rank'])} of {int(r['peers'])} in {group}" if not _nan(r["rank"])
            else "")
    return (f"{r['subject']} {r['value']:.2f} {r['unit']} = {r['ratio']:.2f}× the average "
            f"{r['peer_average']:.2f} ({r['average_source']}) → {int(r['score'])} of "
            f"{SCORE_MAX} points; {rank}")


# ---------------------------------------------------------------------------------------------
# Certification readiness
# ---------------------------------------------------------------------------------------------

#: 节约型机关 target items: the 十四五 verdicts of these indicators (《节约型机关创建行动方案》, item
#: 强化目标管理).
ORGAN_ITEMS = ("kgce_per_m2", "kgce_per_person", "water_m3_per_person")
#: The indicator a 能效领跑者 must lead its peer group on.
LEADER_INDICATOR = "kgce_per_m2_excl_vehicles"
#: Certification's columns after :data:`VERDICT_COLUMNS`.
CERTIFICATION_EXTRA = ["score", *(f"fyp14:{i}" for i in ORGAN_ITEMS),
                       *(f"score:{i}" for i in PEER_INDICATORS), "rank", "peers", "judged",
                       "above_guide"]


def certification_verdicts(
    figures: pd.DataFrame,
    fyp14: pd.DataFrame,
    peers: pd.DataFrame,
    quota: pd.DataFrame,
) -> pd.DataFrame:
    """Readiness for 节约型机关, 示范单位 (energy and water indicators) and 能效领跑者.

    Returns
    -------
    pandas.DataFrame
        :data:`VERDICT_COLUMNS` plus what each rests on: ``fyp14:<item>`` (节约型机关 items'
        十四五 status), ``score:<item>`` and score (示范单位 points), rank, peers, judged and
        above_guide (能效领跑者). Subjects ``conservation_organ`` (节约型机关: ready / not_ready
        / not_applicable / unknown), ``demonstration_unit`` (示范单位: ready / not_ready /
        unknown) and ``efficiency_leader`` (能效领跑者: candidate / not_candidate / unknown).
    """
    return _table(_certification(_Figures(figures), fyp14, peers, quota), CERTIFICATION_EXTRA)


def _certification(f: _Figures, fyp14: Any, peers: Any, quota: Any) -> list[Columns]:
    """:func:`certification_verdicts` from the other kinds' verdicts (frames or columns)."""
    n = f.n
    government = is_value(f.frame["category"], "government")

    # 节约型机关: Party and government bodies meeting the energy and water target items.
    items = {}
    fyp_position = f.positions(fyp14["institution_id"])
    for item in ORGAN_ITEMS:
        status = _of_subject(fyp14, item, "status", fyp_position, n)
        items[f"fyp14:{item}"] = where_text(pd.isna(status), "unknown", status)
    off = np.logical_or.reduce([is_value(s, "off_track") for s in items.values()])
    unknown = np.logical_or.reduce([is_value(s, "unknown") for s in items.values()])
    organ = {
        "status": select_text([~government, off, unknown],
                              ["not_applicable", "not_ready", "unknown"], "ready"),
        "missing": where_text(government & ~off & unknown,
                              "十四五 verdicts of the target items (see fyp14)", ""),
        **items,
    }

    # 示范单位: no scored energy/water item may score 0 (★ items).
    peer_position = f.positions(peers["institution_id"])
    scored = {f"score:{i}": _of_subject(peers, i, "score", peer_position, n)
              for i in PEER_INDICATORS}
    scores = np.column_stack(list(scored.values())) if scored else np.zeros((n, 0))
    zero = (scores == 0).any(axis=1)
    unscored = np.isnan(scores).any(axis=1)
    demo = {
        "status": select_text([zero, unscored], ["not_ready", "unknown"], "ready"),
        "missing": where_text(~zero & unscored, "peer scores (see peers)", ""),
        "score": np.nansum(scores, axis=1), **scored,
    }

    # 能效领跑者: first in its peer group and at or below 引导值 on every judged indicator.
    rank = _of_subject(peers, LEADER_INDICATOR, "rank", peer_position, n)
    n_peers = np.nan_to_num(_of_subject(peers, LEADER_INDICATOR, "peers", peer_position,
                                        n)).astype(int)
    position = f.positions(quota["institution_id"])  # -1: not in figures
    known = ~is_value(quota["status"], "unknown")
    judged = _count(position, known, n)
    above = _count(position, known & ~is_value(quota["status"], "below_guide"), n)
    behind = (rank > 1) | (above > 0)
    no_rank = np.isnan(rank) | (n_peers < MIN_PEERS)
    leader = {
        "status": select_text([behind, no_rank | (judged == 0)],
                              ["not_candidate", "unknown"], "candidate"),
        "missing": select_text(
            [behind, no_rank & (judged == 0), no_rank, judged == 0],
            ["", f"a peer group of at least {MIN_PEERS} with a known {LEADER_INDICATOR}; a "
             "judged quota indicator",
             f"a peer group of at least {MIN_PEERS} with a known {LEADER_INDICATOR}",
             "a judged quota indicator"], ""),
        "rank": rank, "peers": n_peers, "judged": judged, "above_guide": above,
    }

    institution_id = f.institutions()
    parts = []
    for subject, columns in (("conservation_organ", organ), ("demonstration_unit", demo),
                             ("efficiency_leader", leader)):
        parts.append({
            "institution_id": institution_id, "kind": constant("certification", n),
            "subject": constant(subject, n), "status": columns.pop("status"),
            "value": np.full(n, np.nan), "unit": constant("", n), "coverage": np.full(n, np.nan),
            "reason": constant("", n), "missing": columns.pop("missing"),
            "source": constant("reference/china-energy-carbon.md §5", n), **columns,
        })
    return parts


def _count(position: np.ndarray, rows: np.ndarray, size: int) -> np.ndarray:
    """How many ``rows`` (a mask) each position 0 … size − 1 has; position −1 is nobody's."""
    return np.bincount(position[rows & (position >= 0)], minlength=size)


def _array(column: Any) -> Any:
    """The values of a column: a Series' array, or the column itself (an array)."""
    return column.array if isinstance(column, pd.Series) else column


def _of_subject(verdicts: Any, subject: str, column: str, position: np.ndarray, n: int) -> Any:
    """``verdicts[column]`` of one subject per institution (``position``: of each verdict row
    in the institutions, :func:`_positions`), missing where absent: a categorical for a text
    column, else a float array of length ``n``."""
    rows = np.flatnonzero(is_value(verdicts["subject"], subject))
    values = _array(verdicts[column])[rows]
    at = position[rows]
    aligned = len(at) == n and bool((at == np.arange(n)).all())  # same institutions, same order
    if not aligned:
        where = np.full(n, -1)
        keep = at >= 0
        where[at[keep]] = np.flatnonzero(keep)
    if isinstance(values, pd.Categorical):
        return values if aligned else values.take(where, allow_fill=True)
    values = np.asarray(values, dtype=float)
    if aligned:
        return values
    return np.where(where >= 0, values[np.maximum(where, 0)], np.nan) if len(values) else (
        np.full(n, np.nan))


def _certification_reason(r: dict) -> str:
    subject, status = r["subject"], r["status"]
    if subject == "conservation_organ":
        if status == "not_applicable":
            return "节约型机关 is created by Party and government bodies (category government)"
        listing = ", ".join(f"{i} {r[f'fyp14:{i}']}" for i in ORGAN_ITEMS)
        lead = {"not_ready": "target item(s) off track", "unknown": "target item(s) unknown",
                "ready": "energy and water target items on track"}[status]
        return f"{lead}: {listing}"
    if subject == "demonstration_unit":
        listing = ", ".join(
            f"{i} {'?' if _nan(r[f'score:{i}']) else int(r[f'score:{i}'])}"
            for i in PEER_INDICATORS)
        if status == "not_ready":
            return f"an item scores 0 (> 1.2× the average): {listing}"
        if status == "unknown":
            return f"item(s) not scored: {listing}"
        return (f"every energy/water item scores: {listing} = {int(r['score'])} of "
                f"{SCORE_MAX * len(PEER_INDICATORS)}")
    if status == "not_candidate":
        rank = "?" if _nan(r["rank"]) else int(r["rank"])
        return (f"rank {rank} of {int(r['peers'])} on {LEADER_INDICATOR}; "
                f"{int(r['above_guide'])} judged quota indicator(s) above 引导值")
    if status == "unknown":
        return "cannot rank the institution against its peers and the quotas"
    return (f"first of {int(r['peers'])} peers on {LEADER_INDICATOR} and at or below 引导值 on "
            f"{int(r['judged'])} judged quota indicator(s)")


# ---------------------------------------------------------------------------------------------
# Auditor checks
# ---------------------------------------------------------------------------------------------


def audit_verdicts(
    figures: pd.DataFrame,
    previous: pd.DataFrame | None,
    quota: pd.DataFrame,
    bills: pd.DataFrame | None,
    year: int,
) -> pd.DataFrame:
    """The checks a provincial auditor runs on an institution's annual figures.

    * floor area and occupants changed by more than :data:`AUDIT_CHANGE_LIMIT` year on year
      (``previous``: last year's figures; ``unknown`` without them);
    * an intensity above 约束值 or below 引导值 (from the quota verdicts);
    * a bill's unit price (cost_cny ÷ quantity) outside :data:`PRICE_RATIO_LIMITS` × the median of
      the year's bills of the same carrier and unit (``bills``: the bills ledger).

    Returns
    -------
    pandas.DataFrame
        :data:`VERDICT_COLUMNS` plus previous_value, change, ratio, guide, baseline, constraint,
        table, year. status ``ok``, ``flag`` or ``unknown``.
    """
    return _table(_audit(_Figures(figures), previous, quota, bills, year), AUDIT_EXTRA)


def _audit(f: _Figures, previous: pd.DataFrame | None, quota: Any,
           bills: pd.DataFrame | None, year: int) -> list[Columns]:
    parts = _change_checks(f, previous, year)
    judged = np.flatnonzero(~is_value(quota["status"], "unknown"))
    if len(judged):
        def take(column: str) -> Any:
            return _array(quota[column])[judged]

        subject = text(take("subject"))
        status = take("status")
        flagged = is_value(status, "above_constraint") | is_value(status, "below_guide")
        parts.append({
            "institution_id": text(take("institution_id")),
            "subject": pd.Categorical.from_codes(subject.codes, categories=text(np.asarray(
                [f"intensity_band:{s}" for s in subject.categories], dtype=object)).categories),
            "status": where_text(flagged, "flag", "ok"), "value": np.asarray(take("value")),
            "unit": text(take("unit")), "coverage": np.asarray(take("coverage")),
            "source": text(take("source")), "missing": constant("", len(judged)),
            "reason": constant("", len(judged)), "guide": np.asarray(take("guide")),
            "baseline": np.asarray(take("baseline")),
            "constraint": np.asarray(take("constraint")), "table": text(take("table")),
        })
    if bills is not None and len(bills):
        prices = _price_checks(bills, year)
        if len(prices):
            parts.append({c: prices[c].to_numpy() for c in prices.columns})
    for part in parts:
        rows = _length(part)
        part["kind"] = constant("audit", rows)
        part["year"] = np.full(rows, year)
    return parts


def _change_checks(f: _Figures, previous: pd.DataFrame | None,
                   year: int) -> list[Columns]:
    parts = []
    n = f.n
    at = f.rows_in(previous)
    institution_id = f.institutions()
    for column, unit in (("floor_area_m2", "m2"), ("occupants", "persons")):
        value = f.numbers([column])
        before = (f.numbers([column], previous, at) if previous is not None and len(previous)
                  else np.full(n, np.nan))
        with np.errstate(invalid="ignore", divide="ignore"):
            change = value / np.where(before > 0, before, np.nan) - 1.0
        unknown = np.isnan(change)
        parts.append({
            "institution_id": institution_id, "subject": constant(f"{column}_change", n),
            "status": select_text([unknown, np.abs(change) > AUDIT_CHANGE_LIMIT],
                                  ["unknown", "flag"], default="ok"),
            "value": value, "unit": constant(unit, n), "coverage": np.full(n, np.nan),
            "reason": constant("", n),
            "missing": where_text(unknown, f"{column} of {year - 1} and {year}", ""),
            "source": constant("provincial audit checks (Hami 2023), reference §6.2", n),
            "previous_value": before, "change": change,
        })
    return parts


def _price_checks(bills: pd.DataFrame, year: int) -> pd.DataFrame:
    b = bills.copy()
    if "cost_cny" not in b.columns:
        return pd.DataFrame()
    start = pd.to_datetime(b["period_start"]).dt.year
    end = pd.to_datetime(b["period_end"]).dt.year
    b = b[(start <= year) & (end >= year)]
    b = b[pd.to_numeric(b["cost_cny"], errors="coerce").notna()
          & (pd.to_numeric(b["quantity"], errors="coerce") > 0)]
    if b.empty:
        return pd.DataFrame()
    b["price"] = b["cost_cny"].astype(float) / b["quantity"].astype(float)
    grouped = b.groupby(["carrier", "unit"])["price"]
    b["median"] = grouped.transform("median")
    b["n"] = grouped.transform("size")
    b["ratio"] = b["price"] / b["median"].where(b["median"] > 0)
    low, high = PRICE_RATIO_LIMITS
    b["far"] = (b["ratio"] < low) | (b["ratio"] > high)
    rows = []
    for (inst, carrier, unit), g in b.groupby(["institution_id", "carrier", "unit"]):
        n = int(g["n"].iloc[0])
        median = float(g["median"].iloc[0])
        if n >= MIN_PRICE_PEERS and not median > 0:
            status, reason = "unknown", (f"the median unit price of {carrier} bills is "
                                         f"{median:g} CNY/{unit}: nothing to compare with")
            missing = f"{carrier} bills with a positive cost_cny"
        elif n < MIN_PRICE_PEERS:
            status, reason = "unknown", (f"{n} {carrier} bill(s) with a cost in {year}; at least "
                                         f"{MIN_PRICE_PEERS} needed to compare unit prices")
            missing = f"at least {MIN_PRICE_PEERS} {carrier} bills with cost_cny"
        elif g["far"].any():
            far = g[g["far"]]
            status, missing = "flag", ""
            reason = "; ".join(
                f"bill {pd.Timestamp(s):%Y-%m-%d}…{pd.Timestamp(e):%Y-%m-%d}: {p:.3f} "
                f"CNY/{unit} = {r:.2f}× the median {median:.3f}"
                for s, e, p, r in zip(far["period_start"], far["period_end"], far["price"],
                                      far["ratio"], strict=True))
        else:
            status, missing = "ok", ""
            reason = (f"{len(g)} bill(s) within {low}…{high}× the median {median:.3f} "
                      f"CNY/{unit} of {n} {carrier} bills")
        worst = g.loc[(g["ratio"] - 1.0).abs().fillna(-1.0).idxmax()]
        rows.append({
            "institution_id": inst, "subject": f"bill_unit_price:{carrier}", "status": status,
            "value": float(worst["price"]), "unit": f"CNY/{unit}", "coverage": np.nan,
            "reason": reason, "missing": missing, "source": "provincial audit checks "
            "(Hami 2023: unit-price check), reference §6.2", "ratio": float(worst["ratio"]),
        })
    return pd.DataFrame(rows)


def _audit_reason(r: dict) -> str:
    subject = r["subject"]
    if subject.endswith("_change"):
        label = "建筑面积 floor area" if subject.startswith("floor") else "用能人数 occupants"
        if _nan(r["change"]):
            return f"{label} of {int(r['year']) - 1} or {int(r['year'])} not known"
        return (f"{label} {r['previous_value']:g} → {r['value']:g} ({r['change']:+.1%}; "
                f"limit ±{AUDIT_CHANGE_LIMIT:.0%})")
    if subject.startswith("intensity_band:"):
        indicator = subject.split(":", 1)[1]
        bands = ", ".join(
            f"{name} {r[key]:g}" for name, key in
            (("引导值", "guide"), ("基准值", "baseline"), ("约束值", "constraint"))
            if not _nan(r[key]))
        figure = f"{indicator} = {r['value']:.2f} {r['unit']} vs {r['table']}: {bands}"
        if r["status"] == "flag" and not _nan(r["constraint"]) and r["value"] > r["constraint"]:
            return "above 约束值: " + figure
        if r["status"] == "flag":
            return "below 引导值 — check the data is complete: " + figure
        return "within 引导值 … 约束值: " + figure
    return ""


def judge_year(
    figures: pd.DataFrame,
    reference: Any,
    year: int,
    min_coverage: float,
    base_figures: pd.DataFrame | None = None,
    previous_figures: pd.DataFrame | None = None,
    bills: pd.DataFrame | None = None,
    equal_value_delta_kgce_per_kwh: float = 0.0,
) -> pd.DataFrame:
    """Every verdict of a year, all kinds in one frame (:func:`combine_verdicts`).

    The same as :func:`quota_verdicts`, :func:`fyp14_verdicts`, :func:`peer_verdicts`,
    :func:`certification_verdicts` and :func:`audit_verdicts` one after another, without
    making a frame of each kind first.

    Parameters
    ----------
    figures
        :func:`accounting.engine.institution_figures` of the year.
    reference
        ``ReferenceData``: quotas, targets, published peer averages.
    year, min_coverage, equal_value_delta_kgce_per_kwh
        As for the kinds' functions.
    base_figures, previous_figures
        Figures of the 十四五 base year (2020) and of ``year − 1``; None → those verdicts are
        ``unknown``.
    bills
        The bills ledger, for the unit-price check.
    """
    empty = figures.iloc[0:0]
    f = _Figures(figures)
    quota = _one(_quota(f, reference.quotas(), min_coverage, equal_value_delta_kgce_per_kwh))
    fyp = _one(_fyp14(f, base_figures if base_figures is not None else empty,
                      reference.targets(), year, min_coverage))
    peers = _one(_peers(f, min_coverage, reference.peer_averages(), year))
    certification = _certification(f, fyp, peers, quota)
    audit = _audit(f, previous_figures, quota, bills, year)
    return _table([quota, fyp, peers, *certification, *audit], [])


def _one(parts: list[Columns]) -> Columns:
    """A kind's single part, or an empty one (no verdicts of that kind)."""
    if parts:
        return parts[0]
    return {"institution_id": np.zeros(0, dtype=object), "subject": np.zeros(0, dtype=object),
            "status": np.zeros(0, dtype=object)}


def combine_verdicts(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Every kind's verdict rows in one frame: :data:`VERDICT_COLUMNS`, then each kind's extra
    columns (missing on the other kinds' rows). Text columns stay categorical."""
    return _table([f for f in frames if len(f)], [])


def _table(parts: list[Any], extra: list[str]) -> pd.DataFrame:
    """One verdict frame from parts (frames or columns): :data:`VERDICT_COLUMNS`, ``extra``,
    then any other column."""
    parts = [p for p in parts if _length(p)]
    if not parts:
        return _empty(extra)
    return concat_frames(parts, [*VERDICT_COLUMNS, *extra])


def _length(part: Any) -> int:
    return len(part) if isinstance(part, pd.DataFrame) else len(next(iter(part.values())))


# ---------------------------------------------------------------------------------------------
# Explanations and output
# ---------------------------------------------------------------------------------------------

_REASONS = {
    "quota": _quota_reason, "fyp14": _fyp14_reason, "peers": _peer_reason,
    "certification": _certification_reason, "audit": _audit_reason,
}


def explain(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of verdict rows with every empty ``reason`` written from the row's figures."""
    out = frame.copy()
    if out.empty:
        return out
    out["reason"] = out["reason"].astype(object).fillna("")
    todo = out["reason"].eq("").to_numpy() & out["kind"].isin(list(_REASONS)).to_numpy()
    out.loc[todo, "reason"] = [
        _REASONS[r["kind"]](r) for r in out.loc[todo].to_dict("records")
    ]
    return out


def verdict_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Verdict rows as JSON-ready dicts: the core fields, and ``figures`` with the numbers."""
    frame = explain(frame)
    extra = [c for c in frame.columns if c not in VERDICT_COLUMNS and c not in _INTERNAL]
    out = []
    for row in frame.to_dict("records"):
        figures = {k: _plain(row[k]) for k in ["value", "coverage", *extra]
                   if _plain(row.get(k)) is not None}
        out.append({
            "kind": row["kind"], "subject": row["subject"], "status": row["status"],
            "unit": row["unit"] or None, "reason": row["reason"],
            "missing": row["missing"] or None, "source": row["source"] or None,
            "figures": figures,
        })
    return out


#: Columns kept for explanations, not shown among a verdict's figures.
_INTERNAL = {"n_rows", "rebased", "min_coverage", "delta_kgce_per_kwh", "category", "level",
             "climate_zone", "tce_basis", "average_source"}


def _nan(value: Any) -> bool:
    return value is None or (isinstance(value, (float, np.floating)) and np.isnan(value))


def _plain(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if np.isnan(value) else float(value)
    if isinstance(value, str):
        return value or None
    return value


def _pct(value: float) -> str:
    return "no data" if _nan(value) else f"{value:.0%}"


def _empty(extra: list[str]) -> pd.DataFrame:
    return pd.DataFrame(columns=[*VERDICT_COLUMNS, *extra])
