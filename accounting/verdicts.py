"""Verdicts on an institution's year: quotas, 十四五 targets, peers, certification, auditor checks.

Every verdict is one row of a frame with the same core columns:

``institution_id, kind, subject, status, value, unit, coverage, reason, missing, source``

plus the figures it rests on (``guide``, ``baseline``, ``constraint``; ``base_value``,
``path_change``; ``peer_average``, ``ratio``, ``score``, ``rank``, ...). ``status`` is ``unknown``
when a figure is missing or its coverage is below ``min_coverage``, and ``missing`` names what is
missing: a verdict never passes silently.

The judging is vectorised (a province has tens of thousands of institutions); the sentence that
explains a verdict is written from its figures only when it is shown: :func:`explain` fills the
``reason`` column of the rows asked for, and :func:`verdict_records` (JSON) calls it.

The rules (reference/china-energy-carbon.md):

* quota (能耗定额): ``below_guide`` (≤ 引导值), ``between_guide_and_baseline`` (≤ 基准值),
  ``above_baseline`` (> 基准值, ≤ 约束值), ``above_constraint`` (> 约束值); a table without a
  基准值 gives ``between_guide_and_constraint``, one with only a 约束值 ``below_constraint``.
  A kgce indicator whose table prescribes 等价值 electricity (DB37/T 2672: 0.31 kgce/kWh) is
  recomputed on that basis before it is judged.
* 十四五 (§4.1): change against the institution's own 2020 value; the straight-line path from 0 in
  2020 to the 2025 target change (−5 % per area, −6 % per person, −6 % water, −7 % CO2 per area).
* peers: rank and percentile within category × level × climate zone; the 示范单位 score against the
  peer average (§5.2 bands :data:`SCORE_BANDS`); a group with fewer than :data:`MIN_PEERS` known
  members falls back to a published same-type average of the province, else ``unknown``.
* certification readiness: 节约型机关 (government bodies: the energy and water target items, i.e.
  the three 十四五 intensity verdicts), 示范单位 (no energy/water item scoring 0), 能效领跑者
  (first in its peer group and every judged quota indicator at or below 引导值).
* auditor checks (§6.2, Hami 2023): floor area or occupants changed by more than 10 % year on year;
  an intensity above 约束值 or below 引导值; a bill's unit price far from the median of its carrier.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

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
    "explain",
    "fyp14_verdicts",
    "peer_verdicts",
    "quota_verdicts",
    "score_for_ratio",
    "verdict_records",
]

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
#: Source: 节约型公共机构示范单位 evaluation standard (12th-FYP version), renrendoc.com/paper/
#: 176479043.html, confidence S (reference/china-energy-carbon.md §5.2).
SCORE_BANDS: tuple[tuple[float, int], ...] = ((0.9, 7), (1.0, 6), (1.1, 5), (1.2, 4))
SCORE_MAX = 7

#: Peers needed for a computed peer average (fewer: the published average, else unknown).
MIN_PEERS = 3
#: Year-on-year change of floor area or occupants that an auditor asks about (§6.2, Hami 2023).
AUDIT_CHANGE_LIMIT = 0.10
#: A bill's unit price outside [low, high] × the median of its carrier and unit is flagged.
PRICE_RATIO_LIMITS = (0.5, 2.0)
#: Bills of a carrier and unit needed before unit prices are compared.
MIN_PRICE_PEERS = 3

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


def _missing_figure(figures: pd.DataFrame, column: str, denominator: str) -> pd.Series:
    """What is missing when ``column`` is NaN: its denominator, else the carrier's data."""
    known_denominator = pd.to_numeric(figures[denominator], errors="coerce") > 0
    data_hint = _DATA_HINT.get(column, f"consumption data for {column}")
    return pd.Series(_where_text(known_denominator, data_hint, _MISSING_HINT[denominator]),
                     index=figures.index)


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
        tce_basis, min_coverage, delta_kgce_per_kwh.
    """
    extra = ["guide", "baseline", "constraint", "table", "n_rows", "rebased", "tce_basis",
             "min_coverage", "delta_kgce_per_kwh"]
    inst = figures.copy()
    for column in ("province", "category", "level", "climate_zone", "quota_area", "subtype"):
        if column not in inst.columns:
            inst[column] = ""
        inst[column] = inst[column].fillna("").astype(str)
    q = quotas.copy()
    for column in ("province", "level", "area", "climate_zone", "subtype", "tce_basis"):
        q[column] = q[column].fillna("").astype(str)
    judged = q[q["indicator"].isin(QUOTA_INDICATORS)]
    if judged.empty or inst.empty:
        return _empty(extra)
    # Match quota rows once per distinct profile (province, category, level, ...), not once per
    # institution: a province has tens of thousands of institutions but few distinct profiles.
    profile_columns = ["province", "category", "level", "climate_zone", "quota_area", "subtype"]
    profile_of = inst.groupby(profile_columns, sort=False).ngroup().to_numpy()
    first_row = np.unique(profile_of, return_index=True)[1]  # of each profile, in code order
    profiles = inst[profile_columns].iloc[first_row].reset_index(drop=True)
    profiles["profile"] = np.arange(len(profiles))
    pairs = profiles.merge(
        judged.rename(columns={
            "province": "q_province", "level": "q_level", "climate_zone": "q_climate_zone",
            "area": "q_area", "subtype": "q_subtype",
        }),
        on="category", how="inner",
    )
    fits = (
        _blank_or_equal(pairs["q_province"], pairs["province"])
        & (pairs["q_level"].eq("any") | _blank_or_equal(pairs["q_level"], pairs["level"]))
        & _blank_or_equal(pairs["q_climate_zone"], pairs["climate_zone"])
        & (_blank_or_equal(pairs["q_area"], pairs["quota_area"]) | pairs["quota_area"].eq(""))
        & (_blank_or_equal(pairs["q_subtype"], pairs["subtype"]) | pairs["subtype"].eq(""))
    )
    pairs = pairs[fits]
    pairs = pairs.assign(
        rebase=pairs["tce_basis"].str.contains("equal_value"),
        source=pairs["standard"].fillna("") + " — " + pairs["source"].fillna("")
        + " [confidence " + pairs["confidence"].fillna("") + "]",
    )
    every_profile = pd.RangeIndex(len(profiles))
    row_columns = ["table", "guide", "baseline", "constraint", "tce_basis", "rebase", "source"]

    parts = []
    for indicator in sorted(judged["indicator"].unique()):
        column, cov_col, denom, unit, in_kgce = QUOTA_INDICATORS[indicator]
        rows = pairs[pairs["indicator"].eq(indicator)]
        n_rows = rows.groupby("profile").size().reindex(every_profile, fill_value=0)
        single = rows.drop_duplicates("profile", keep=False).set_index("profile").reindex(
            every_profile)
        part = pd.DataFrame({
            "institution_id": inst["institution_id"].array, "subject": indicator,
            "value": inst[column].to_numpy(dtype=float),
            "coverage": inst[cov_col].to_numpy(dtype=float),
            "denominator": pd.to_numeric(inst[denom], errors="coerce").to_numpy(dtype=float),
            "electricity_kwh": inst["electricity_kwh"].to_numpy(dtype=float), "unit": unit,
            "in_kgce": in_kgce,
            "figure_missing": _missing_figure(inst, column, denom).to_numpy(),
            "n_rows": n_rows.to_numpy()[profile_of],
        })
        for name in row_columns:
            part[name] = single[name].to_numpy()[profile_of]
        parts.append(part)
    long = pd.concat(parts, ignore_index=True)
    for name in ("guide", "baseline", "constraint"):
        long[name] = pd.to_numeric(long[name], errors="coerce")
    # Re-base a kgce indicator on 等价值 electricity when its table prescribes it.
    rebased = long["in_kgce"] & long["rebase"].eq(True)
    shift = long["electricity_kwh"] * equal_value_delta_kgce_per_kwh / long["denominator"]
    long["value"] = long["value"].where(~rebased, long["value"] + shift)
    long["rebased"] = rebased & (equal_value_delta_kgce_per_kwh != 0)

    value, guide = long["value"], long["guide"]
    baseline, constraint = long["baseline"], long["constraint"]
    no_row, several = long["n_rows"].eq(0), long["n_rows"].gt(1)
    no_value = value.isna()
    low = long["coverage"].isna() | (long["coverage"] < min_coverage)
    long["status"] = _select_text(
        [no_row | several | no_value | low,
         constraint.notna() & (value > constraint),
         baseline.notna() & (value > baseline),
         baseline.isna() & guide.notna() & (value > guide),
         guide.notna() & (value > guide),
         guide.notna(),
         constraint.notna()],
        ["unknown", "above_constraint", "above_baseline", "between_guide_and_constraint",
         "between_guide_and_baseline", "below_guide", "below_constraint"],
        default="unknown",
    )
    long["missing"] = _select_text(
        [no_row, several, no_value, low],
        ["a quota table row for this institution", "quota_area or subtype (institutions ledger)",
         long["figure_missing"], _COVERAGE_MISSING],
        default="",
    )
    long["source"] = long["source"].fillna("")
    long["kind"] = "quota"
    long["reason"] = ""
    long["min_coverage"] = min_coverage
    long["delta_kgce_per_kwh"] = equal_value_delta_kgce_per_kwh
    return long[[*VERDICT_COLUMNS, *extra]]


def _select_text(conditions: list, choices: list, default: Any = "") -> np.ndarray:
    """``np.select`` for text, as an array of Python strings.

    (numpy's own result would be fixed-width unicode: as wide as the longest choice, and slow
    to turn back into strings for a table of tens of thousands of verdicts.)
    """
    return np.select(conditions, [np.asarray(c, dtype=object) for c in choices],
                     default=np.asarray(default, dtype=object))


def _where_text(condition: Any, yes: Any, no: Any) -> np.ndarray:
    """``np.where`` for text, as an array of Python strings (see :func:`_select_text`)."""
    return _select_text([condition], [yes], no)


def _blank_or_equal(rule: pd.Series, value: pd.Series) -> pd.Series:
    """A quota row's cell fits when it is blank (any) or equals the institution's value."""
    return rule.eq("") | rule.eq(value)


def _quota_reason(r: dict) -> str:
    if r["n_rows"] == 0:
        return ("no quota row fits this institution's province, category, level and climate "
                "zone in the configured quota tables")
    if r["n_rows"] > 1:
        return (f"{r['n_rows']} quota rows fit; set quota_area / subtype in the institutions "
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
    extra = ["year", "base_year", "base_value", "base_coverage", "change", "path_change",
             "target_change", "target_year", "min_coverage"]
    plan = targets[targets["plan"].eq("14th_fyp")]
    base_year = int(plan.loc[plan["kind"].eq("baseline"), "year"].min())
    goal = plan[plan["kind"].eq("target") & plan["change_vs_base"].notna()]
    ids = figures["institution_id"]
    base = (base_figures.drop_duplicates("institution_id").set_index("institution_id")
            .reindex(ids.to_numpy()) if len(base_figures) else None)
    parts = []
    for indicator, (cov_col, denom, unit) in FYP14_INDICATORS.items():
        row = goal[goal["indicator"].eq(indicator)]
        if row.empty:
            continue
        target_change = float(row["change_vs_base"].iloc[0])
        target_year = int(row["year"].iloc[0])
        fraction = min(max((year - base_year) / (target_year - base_year), 0.0), 1.0)
        part = pd.DataFrame({
            "institution_id": ids, "subject": indicator, "unit": unit,
            "value": figures[indicator].astype(float),
            "coverage": figures[cov_col].astype(float),
            "base_value": base[indicator].to_numpy(dtype=float) if base is not None
            else np.nan,
            "base_coverage": base[cov_col].to_numpy(dtype=float) if base is not None
            else np.nan,
            "path_change": target_change * fraction, "target_change": target_change,
            "base_year": base_year, "target_year": target_year,
            "source": f"{row['source'].iloc[0]} [confidence {row['confidence'].iloc[0]}]",
            "base_missing": f"{base_year} value of {indicator} (its {base_year} consumption "
                            "and ledgers)",
            "figure_missing": _missing_figure(figures, indicator, denom).to_numpy(),
        })
        parts.append(part)
    if not parts:
        return _empty(extra)
    # Every indicator judged at once.
    out = pd.concat(parts, ignore_index=True)
    out["change"] = out["value"] / out["base_value"].where(out["base_value"] > 0) - 1.0
    no_base = out["base_value"].isna()
    no_value = out["value"].isna()
    low = (out["coverage"].isna() | (out["coverage"] < min_coverage)
           | out["base_coverage"].isna() | (out["base_coverage"] < min_coverage))
    out["status"] = _select_text(
        [no_base | no_value | low | out["change"].isna(),
         out["change"] <= out["target_change"], out["change"] <= out["path_change"]],
        ["unknown", "met_target", "on_track"], default="off_track",
    )
    out["missing"] = _select_text(
        [no_base, no_value, low],
        [out["base_missing"], out["figure_missing"], _COVERAGE_MISSING],
        default="",
    )
    out["kind"] = "fyp14"
    out["year"] = year
    out["reason"] = ""
    out["min_coverage"] = min_coverage
    return out[[*VERDICT_COLUMNS, *extra]]


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


def _scores(ratio: pd.Series) -> pd.Series:
    conditions = [ratio <= limit for limit, _ in SCORE_BANDS]
    points = [points for _, points in SCORE_BANDS]
    return pd.Series(np.select(conditions, points, default=0), index=ratio.index).where(
        ratio.notna())


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
    group_keys = ["category", "level", "climate_zone"]
    base = figures[["institution_id", "province", *group_keys]].copy()
    for key in ["province", *group_keys]:
        base[key] = base[key].fillna("").astype(str)
    group = base.groupby(group_keys, sort=False).ngroup().to_numpy()  # one code per peer group

    # One long table, indicator by indicator: a peer group is indicator × category × level ×
    # climate zone, so every group statistic is one groupby.
    indicators = list(PEER_INDICATORS)
    which = np.repeat(np.arange(len(indicators)), len(base))  # the indicator of each row
    out = base.iloc[np.tile(np.arange(len(base)), len(indicators))].reset_index(drop=True)
    out["subject"] = np.asarray(indicators, dtype=object)[which]
    out["unit"] = np.asarray([PEER_INDICATORS[i][2] for i in indicators], dtype=object)[which]
    out["value"] = np.concatenate([figures[i].to_numpy(dtype=float) for i in indicators])
    out["coverage"] = np.concatenate(
        [figures[PEER_INDICATORS[i][0]].to_numpy(dtype=float) for i in indicators])
    known = out["value"].notna() & out["coverage"].ge(min_coverage)
    n_groups = group.max(initial=-1) + 1
    peer_group = which * n_groups + np.tile(group, len(indicators))
    peers = out["value"][known].groupby(peer_group[known.to_numpy()])
    out["peers"] = peers.transform("size").reindex(out.index).fillna(0).astype(int)
    out["rank"] = peers.rank(method="min")
    out["percentile"] = 100.0 * peers.rank(method="max", pct=True)
    out["peer_average"] = peers.transform("mean").where(out["peers"] >= MIN_PEERS)
    out["average_source"] = _where_text(out["peers"] >= MIN_PEERS, "peer group mean", "")
    small = known & (out["peers"] < MIN_PEERS)
    if published is not None and small.any():
        for k, indicator in enumerate(indicators):  # each has its own published column
            rows = small & (which == k)
            if rows.any():
                average, source = _published_average(
                    out[rows], published, PEER_INDICATORS[indicator][3], year)
                out.loc[rows, "peer_average"] = average
                out.loc[rows, "average_source"] = source
    out["ratio"] = out["value"] / out["peer_average"]
    out["score"] = _scores(out["ratio"]).where(known)
    out["status"] = _select_text(
        [out["score"].eq(points) for points in (*(p for _, p in SCORE_BANDS), 0)],
        [f"score_{points}" for points in (*(p for _, p in SCORE_BANDS), 0)], "unknown")
    figure_missing = np.concatenate([
        _missing_figure(figures, i, PEER_INDICATORS[i][1]).to_numpy() for i in indicators])
    out["missing"] = _select_text(
        [out["value"].isna(), ~known, out["score"].isna()],
        [figure_missing, _COVERAGE_MISSING,
         f"at least {MIN_PEERS} peers or a published same-type average"],
        default="",
    )
    out["kind"] = "peers"
    out["reason"] = ""
    out["min_coverage"] = min_coverage
    out["source"] = _where_text(
        out["score"].notna(), "score bands: 节约型公共机构示范单位 evaluation standard "
        "(renrendoc.com/paper/176479043.html) [confidence S]", "")
    extra = ["rank", "peers", "percentile", "peer_average", "ratio", "score", "average_source",
             "category", "level", "climate_zone", "min_coverage"]
    return out[[*VERDICT_COLUMNS, *extra]]


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
    text = exact["text"].fillna(anylevel["text"]).fillna("")
    return average.to_numpy(dtype=float), text.to_numpy(dtype=object)


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

#: 节约型机关 target items: the 十四五 verdicts of these indicators (§5.1 强化目标管理).
ORGAN_ITEMS = ("kgce_per_m2", "kgce_per_person", "water_m3_per_person")
#: The indicator a 能效领跑者 must lead its peer group on.
LEADER_INDICATOR = "kgce_per_m2_excl_vehicles"


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
    ids = figures["institution_id"].reset_index(drop=True)

    # 节约型机关: Party and government bodies meeting the energy and water target items.
    items = {f"fyp14:{i}": _column_of(fyp14, i, "status", ids).astype(object).fillna("unknown")
             for i in ORGAN_ITEMS}
    states = pd.DataFrame(items)
    government = figures["category"].reset_index(drop=True).eq("government")
    off = states.eq("off_track").any(axis=1)
    unknown = states.eq("unknown").any(axis=1)
    organ = pd.DataFrame({
        "institution_id": ids, "subject": "conservation_organ",
        "status": _select_text([~government, off, unknown],
                            ["not_applicable", "not_ready", "unknown"], "ready"),
        "missing": _where_text(government & ~off & unknown,
                            "十四五 verdicts of the target items (see fyp14)", ""),
        **items,
    })

    # 示范单位: no scored energy/water item may score 0 (★ items).
    scored = {f"score:{i}": _column_of(peers, i, "score", ids).astype(float)
              for i in PEER_INDICATORS}
    scores = pd.DataFrame(scored)
    zero = scores.eq(0).any(axis=1)
    unscored = scores.isna().any(axis=1)
    demo = pd.DataFrame({
        "institution_id": ids, "subject": "demonstration_unit",
        "status": _select_text([zero, unscored], ["not_ready", "unknown"], "ready"),
        "missing": _where_text(~zero & unscored, "peer scores (see peers)", ""),
        "score": scores.sum(axis=1, min_count=1).fillna(0.0), **scored,
    })

    # 能效领跑者: first in its peer group and at or below 引导值 on every judged indicator.
    rank = _column_of(peers, LEADER_INDICATOR, "rank", ids).astype(float)
    n_peers = _column_of(peers, LEADER_INDICATOR, "peers", ids).fillna(0).astype(int)
    status = quota["status"].to_numpy(dtype=object)
    position = pd.Index(ids).get_indexer(quota["institution_id"])  # -1: not in figures
    judged = _count(position, status != "unknown", len(ids))
    above = _count(position, (status != "unknown") & (status != "below_guide"), len(ids))
    behind = (rank > 1) | (above > 0)
    no_rank = rank.isna() | (n_peers < MIN_PEERS)
    leader = pd.DataFrame({
        "institution_id": ids, "subject": "efficiency_leader",
        "status": _select_text([behind, no_rank | (judged == 0)],
                            ["not_candidate", "unknown"], "candidate"),
        "missing": _select_text(
            [behind, no_rank & (judged == 0), no_rank, judged == 0],
            ["", f"a peer group of at least {MIN_PEERS} with a known {LEADER_INDICATOR}; a "
             "judged quota indicator",
             f"a peer group of at least {MIN_PEERS} with a known {LEADER_INDICATOR}",
             "a judged quota indicator"], ""),
        "rank": rank, "peers": n_peers, "judged": judged, "above_guide": above,
    })
    out = pd.concat([organ, demo, leader], ignore_index=True)
    out["kind"] = "certification"
    out["value"] = np.nan
    out["unit"] = ""
    out["coverage"] = np.nan
    out["reason"] = ""
    out["source"] = "reference/china-energy-carbon.md §5"
    extra = ["score", *items, *scored, "rank", "peers", "judged", "above_guide"]
    return out[[*VERDICT_COLUMNS, *extra]]


def _count(position: np.ndarray, rows: np.ndarray, size: int) -> np.ndarray:
    """How many ``rows`` (a mask) each position 0 … size − 1 has; position −1 is nobody's."""
    return np.bincount(position[rows & (position >= 0)], minlength=size)


def _column_of(frame: pd.DataFrame, subject: str, column: str, ids: pd.Series) -> pd.Series:
    """``frame[column]`` of one subject, aligned with ``ids`` (NaN where absent)."""
    # Plain arrays: only the two columns are filtered, and text compares fastest in numpy.
    of_subject = frame["subject"].to_numpy(dtype=object) == subject
    keys = frame["institution_id"].to_numpy()[of_subject]
    values = frame[column].to_numpy()[of_subject]
    if len(keys) == len(ids) and (keys == ids.to_numpy()).all():  # built in the same order
        return pd.Series(values, index=ids.index)
    return ids.map(pd.Series(values, index=keys))


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
    parts = [_change_checks(figures, previous, year)]
    judged = quota["status"].to_numpy(dtype=object) != "unknown"
    q = quota.loc[judged, ["institution_id", "subject", "status", "value", "unit", "coverage",
                           "source", "guide", "baseline", "constraint", "table"]]
    if len(q):
        flagged = q["status"].isin(["above_constraint", "below_guide"])
        subjects = {s: f"intensity_band:{s}" for s in q["subject"].unique()}
        parts.append(pd.DataFrame({
            "institution_id": q["institution_id"], "subject": q["subject"].map(subjects),
            "status": _where_text(flagged, "flag", "ok"), "value": q["value"], "unit": q["unit"],
            "coverage": q["coverage"], "source": q["source"], "missing": "", "reason": "",
            "guide": q["guide"], "baseline": q["baseline"], "constraint": q["constraint"],
            "table": q["table"],
        }))
    if bills is not None and len(bills):
        parts.append(_price_checks(bills, year))
    out = pd.concat([p for p in parts if len(p)], ignore_index=True)
    out["kind"] = "audit"
    out["year"] = year
    extra = ["previous_value", "change", "ratio", "guide", "baseline", "constraint", "table",
             "year"]
    for column in extra:
        if column not in out.columns:
            out[column] = np.nan
    return out[[*VERDICT_COLUMNS, *extra]]


def _change_checks(figures: pd.DataFrame, previous: pd.DataFrame | None,
                   year: int) -> pd.DataFrame:
    parts = []
    prev = previous.set_index("institution_id") if previous is not None and len(previous) else None
    for column, unit in (("floor_area_m2", "m2"), ("occupants", "persons")):
        value = pd.to_numeric(figures[column], errors="coerce").astype(float)
        if prev is not None:
            before = figures["institution_id"].map(
                pd.to_numeric(prev[column], errors="coerce")).astype(float)
        else:
            before = pd.Series(np.nan, index=figures.index)
        change = value / before.where(before > 0) - 1.0
        parts.append(pd.DataFrame({
            "institution_id": figures["institution_id"], "subject": f"{column}_change",
            "status": _select_text([change.isna(), change.abs() > AUDIT_CHANGE_LIMIT],
                                ["unknown", "flag"], default="ok"),
            "value": value, "unit": unit, "coverage": np.nan, "reason": "",
            "missing": _where_text(change.isna(), f"{column} of {year - 1} and {year}", ""),
            "source": "provincial audit checks (Hami 2023), reference §6.2",
            "previous_value": before, "change": change,
        }))
    return pd.concat(parts, ignore_index=True)


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
    todo = out["reason"].fillna("").eq("") & out["kind"].isin(list(_REASONS))
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
