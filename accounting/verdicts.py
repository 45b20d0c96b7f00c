"""Verdicts on an institution's year: quotas, 十四五 targets, peers, certification, auditor checks.

Every verdict is one row of a frame with the same core columns:

``institution_id, kind, subject, status, value, unit, coverage, reason, missing, source``

plus the figures it rests on (``guide``, ``baseline``, ``constraint``; ``base_value``,
``path_change``; ``peer_average``, ``ratio``, ``score``, ``rank``, ...). ``status`` is ``unknown``
when a figure is missing or its coverage is below ``min_coverage``, and ``missing`` names what is
missing: a verdict never passes silently. :func:`verdict_records` turns the rows into plain dicts
(``figures`` holding the numbers) for JSON.

The rules (reference/china-energy-carbon.md):

* quota (能耗定额): ``below_guide`` (≤ 引导值), ``between_guide_and_baseline`` (≤ 基准值),
  ``above_baseline`` (> 基准值, ≤ 约束值), ``above_constraint`` (> 约束值); a table without a
  基准值 gives ``between_guide_and_constraint``. A kgce indicator whose table prescribes 等价值
  electricity (DB37/T 2672: 0.31 kgce/kWh) is recomputed on that basis before it is judged.
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
        :data:`VERDICT_COLUMNS` plus guide, baseline, constraint, table.
    """
    inst = figures.copy()
    for column in ("province", "category", "level", "climate_zone", "quota_area", "subtype"):
        if column not in inst.columns:
            inst[column] = ""
        inst[column] = inst[column].fillna("").astype(str)
    q = quotas.copy()
    for column in ("province", "level", "area", "climate_zone", "subtype", "tce_basis"):
        q[column] = q[column].fillna("").astype(str)
    judged = q[q["indicator"].isin(QUOTA_INDICATORS)]
    pairs = inst[["institution_id", "province", "category", "level", "climate_zone",
                  "quota_area", "subtype"]].merge(
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
    counts = pairs.groupby(["institution_id", "indicator"]).size().rename("n_rows")

    indicators = sorted(judged["indicator"].unique())
    rows = []
    for indicator in indicators:
        column, cov_col, denom, unit, in_kgce = QUOTA_INDICATORS[indicator]
        part = inst[["institution_id", column, cov_col, denom, "electricity_kwh"]].rename(
            columns={column: "value", cov_col: "coverage", denom: "denominator"})
        part["indicator"] = indicator
        part["unit"] = unit
        part["in_kgce"] = in_kgce
        rows.append(part)
    if not rows:
        return _empty(["guide", "baseline", "constraint", "table"])
    long = pd.concat(rows, ignore_index=True)
    long = long.merge(counts.reset_index(), on=["institution_id", "indicator"], how="left")
    long["n_rows"] = long["n_rows"].fillna(0).astype(int)
    single = pairs.drop_duplicates(["institution_id", "indicator"], keep=False)
    long = long.merge(
        single[["institution_id", "indicator", "table", "standard", "guide", "baseline",
                "constraint", "tce_basis", "source", "confidence", "note"]],
        on=["institution_id", "indicator"], how="left",
    )
    # Re-base a kgce indicator on 等价值 electricity when its table prescribes it.
    rebase = long["in_kgce"] & long["tce_basis"].fillna("").str.contains("equal_value")
    denominator = pd.to_numeric(long["denominator"], errors="coerce")
    shift = long["electricity_kwh"] * equal_value_delta_kgce_per_kwh / denominator
    long["value"] = long["value"].where(~rebase, long["value"] + shift)

    value = long["value"]
    guide, baseline, constraint = long["guide"], long["baseline"], long["constraint"]
    coverage_low = long["coverage"].isna() | (long["coverage"] < min_coverage)
    unknown = long["n_rows"].ne(1) | value.isna() | coverage_low
    status = np.select(
        [
            unknown,
            constraint.notna() & (value > constraint),
            baseline.notna() & (value > baseline),
            baseline.isna() & guide.notna() & (value > guide),
            guide.notna() & (value > guide),
            guide.notna(),
        ],
        ["unknown", "above_constraint", "above_baseline", "between_guide_and_constraint",
         "between_guide_and_baseline", "below_guide"],
        default="unknown",
    )
    long["status"] = status
    long["kind"] = "quota"
    long["subject"] = long["indicator"]
    reasons, missing = [], []
    for r, rb in zip(long.itertuples(index=False), rebase, strict=True):
        reason, miss = _quota_reason(r, rb, min_coverage, equal_value_delta_kgce_per_kwh)
        reasons.append(reason)
        missing.append(miss)
    long["reason"] = reasons
    long["missing"] = missing
    long["source"] = long["standard"].fillna("") + np.where(
        long["source"].notna(), " — " + long["source"].fillna("") + " [confidence "
        + long["confidence"].fillna("") + "]", "")
    return long[[*VERDICT_COLUMNS, "guide", "baseline", "constraint", "table"]]


def _blank_or_equal(rule: pd.Series, value: pd.Series) -> pd.Series:
    """A quota row's cell fits when it is blank (any) or equals the institution's value."""
    return rule.eq("") | rule.eq(value)


def _quota_reason(r: Any, rebased: bool, min_coverage: float, delta: float) -> tuple[str, str]:
    unit = r.unit
    if r.n_rows == 0:
        return ("no quota row fits this institution's province, category, level and climate "
                "zone in the configured quota tables", "a quota table row for this institution")
    if r.n_rows > 1:
        return (f"{r.n_rows} quota rows fit; set quota_area / subtype in the institutions "
                "ledger to pick one", "quota_area or subtype (institutions ledger)")
    if pd.isna(r.value):
        denom = _MISSING_HINT.get(_denominator_of(r.indicator), "the figure")
        return f"{r.indicator} cannot be computed: {denom} is missing", denom
    if pd.isna(r.coverage) or r.coverage < min_coverage:
        shown = "no data" if pd.isna(r.coverage) else f"{r.coverage:.0%}"
        return (f"coverage {shown} is below min_coverage {min_coverage:.0%}",
                "measured data (coverage)")
    bands = ", ".join(
        f"{name} {v:g}" for name, v in
        (("引导值", r.guide), ("基准值", r.baseline), ("约束值", r.constraint)) if pd.notna(v))
    text = f"{r.indicator} = {r.value:.2f} {unit} vs {r.table}: {bands}"
    if rebased and delta:
        text += f" (electricity re-based on 等价值: +{delta:g} kgce/kWh, {r.tce_basis})"
    if r.indicator == "non_heating_kgce_per_m2":
        text += "; heating taken as purchased heat only (boiler fuel for heating not separated)"
    if r.indicator == "non_heating_kwh_per_m2":
        text += "; all electricity counted (electric heating not metered apart)"
    return text, ""


def _denominator_of(indicator: str) -> str:
    return QUOTA_INDICATORS[indicator][2]


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
        :data:`VERDICT_COLUMNS` plus base_year, base_value, change, path_change, target_change,
        target_year. status: ``met_target`` (change already at or below the 2025 target),
        ``on_track`` (at or below the straight-line path for the year), ``off_track``, ``unknown``.
    """
    plan = targets[targets["plan"].eq("14th_fyp")]
    base_year = int(plan.loc[plan["kind"].eq("baseline"), "year"].min())
    goal = plan[plan["kind"].eq("target") & plan["change_vs_base"].notna()]
    parts = []
    base = base_figures.set_index("institution_id") if len(base_figures) else None
    for indicator, (cov_col, denom, unit) in FYP14_INDICATORS.items():
        row = goal[goal["indicator"].eq(indicator)]
        if row.empty:
            continue
        target_change = float(row["change_vs_base"].iloc[0])
        target_year = int(row["year"].iloc[0])
        source = f"{row['source'].iloc[0]} [confidence {row['confidence'].iloc[0]}]"
        part = pd.DataFrame({
            "institution_id": figures["institution_id"],
            "value": figures[indicator].astype(float),
            "coverage": figures[cov_col].astype(float),
        })
        if base is not None:
            ids = figures["institution_id"]
            part["base_value"] = ids.map(base[indicator]).astype(float)
            part["base_coverage"] = ids.map(base[cov_col]).astype(float)
        else:
            part["base_value"] = np.nan
            part["base_coverage"] = np.nan
        fraction = min(max((year - base_year) / (target_year - base_year), 0.0), 1.0)
        part["change"] = part["value"] / part["base_value"].where(part["base_value"] > 0) - 1.0
        part["path_change"] = target_change * fraction
        part["target_change"] = target_change
        part["base_year"] = base_year
        part["target_year"] = target_year
        low = (part["coverage"].isna() | (part["coverage"] < min_coverage)
               | part["base_coverage"].isna() | (part["base_coverage"] < min_coverage))
        unknown = part["change"].isna() | low
        part["status"] = np.select(
            [unknown, part["change"] <= target_change, part["change"] <= part["path_change"]],
            ["unknown", "met_target", "on_track"], default="off_track",
        )
        part["subject"] = indicator
        part["unit"] = unit
        part["source"] = source
        reasons, missing = [], []
        for r in part.itertuples(index=False):
            if pd.isna(r.base_value):
                reasons.append(f"no {base_year} value of {indicator} for this institution "
                               f"(its {base_year} consumption and ledgers)")
                missing.append(f"{base_year} baseline of {indicator}")
            elif pd.isna(r.value):
                hint = _MISSING_HINT.get(denom, indicator)
                reasons.append(f"{indicator} for {year} cannot be computed: {hint} is missing")
                missing.append(hint)
            elif (pd.isna(r.coverage) or r.coverage < min_coverage
                  or pd.isna(r.base_coverage) or r.base_coverage < min_coverage):
                reasons.append(f"coverage {_pct(r.coverage)} ({year}) / {_pct(r.base_coverage)}"
                               f" ({base_year}) below min_coverage {min_coverage:.0%}")
                missing.append("measured data (coverage)")
            else:
                reasons.append(
                    f"{indicator} {r.value:.2f} {unit} vs {base_year} {r.base_value:.2f}: "
                    f"{r.change:+.1%}; straight-line path for {year} {r.path_change:+.1%}, "
                    f"{target_year} target {r.target_change:+.1%}")
                missing.append("")
        part["reason"] = reasons
        part["missing"] = missing
        parts.append(part)
    extra = ["base_year", "base_value", "change", "path_change", "target_change", "target_year"]
    if not parts:
        return _empty(extra)
    out = pd.concat(parts, ignore_index=True)
    out["kind"] = "fyp14"
    return out[[*VERDICT_COLUMNS, *extra]]


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
        :data:`VERDICT_COLUMNS` plus rank (1 = lowest), peers (group size), percentile (share of
        the group at or below the value, %), peer_average, ratio, score. status ``score_N``.
    """
    group_keys = ["category", "level", "climate_zone"]
    base = figures[["institution_id", "province", *group_keys]].copy()
    for key in group_keys:
        base[key] = base[key].fillna("").astype(str)
    parts = []
    for indicator, (cov_col, denom, unit, published_col) in PEER_INDICATORS.items():
        part = base.copy()
        part["value"] = figures[indicator].astype(float).to_numpy()
        part["coverage"] = figures[cov_col].astype(float).to_numpy()
        known = part["value"].notna() & part["coverage"].ge(min_coverage)
        peers = part[known]
        grouped = peers.groupby(group_keys)["value"]
        part["peers"] = 0
        part.loc[known, "peers"] = grouped.transform("size")
        part["rank"] = peers.groupby(group_keys)["value"].rank(method="min")
        part["percentile"] = 100.0 * peers.groupby(group_keys)["value"].rank(
            method="max", pct=True)
        part["peer_average"] = grouped.transform("mean")
        part["average_source"] = np.where(part["peers"] >= MIN_PEERS, "peer group mean", "")
        small = known & (part["peers"] < MIN_PEERS)
        part.loc[small, "peer_average"] = np.nan
        if published is not None and small.any():
            avg, src = _published_average(part[small], published, published_col, year)
            part.loc[small, "peer_average"] = avg
            part.loc[small, "average_source"] = src
        part["ratio"] = part["value"] / part["peer_average"]
        part["score"] = _scores(part["ratio"])
        part["status"] = np.where(
            part["score"].notna() & known,
            "score_" + part["score"].fillna(0).astype(int).astype(str), "unknown")
        part["subject"] = indicator
        part["unit"] = unit
        reasons, missing, sources = [], [], []
        for r, is_known in zip(part.itertuples(index=False), known, strict=True):
            if not is_known:
                if pd.isna(r.value):
                    hint = _MISSING_HINT.get(denom, indicator)
                    reasons.append(f"{indicator} cannot be computed: {hint} is missing")
                    missing.append(hint)
                else:
                    reasons.append(f"coverage {_pct(r.coverage)} below min_coverage "
                                   f"{min_coverage:.0%}")
                    missing.append("measured data (coverage)")
                sources.append("")
            elif pd.isna(r.peer_average):
                reasons.append(f"peer group {r.category}/{r.level}/{r.climate_zone} has "
                               f"{r.peers} institution(s) with known {indicator}; at least "
                               f"{MIN_PEERS} needed and no published same-type average fits")
                missing.append(f"at least {MIN_PEERS} peers or a published same-type average")
                sources.append("")
            else:
                reasons.append(
                    f"{indicator} {r.value:.2f} {unit} = {r.ratio:.2f}× the average "
                    f"{r.peer_average:.2f} ({r.average_source}) → {int(r.score)} of {SCORE_MAX}"
                    f" points; rank {int(r.rank)} of {r.peers} in "
                    f"{r.category}/{r.level}/{r.climate_zone}")
                missing.append("")
                sources.append("score bands: 节约型公共机构示范单位 evaluation standard "
                               "(renrendoc.com/paper/176479043.html) [confidence S]")
        part["reason"] = reasons
        part["missing"] = missing
        part["source"] = sources
        parts.append(part)
    out = pd.concat(parts, ignore_index=True)
    out["kind"] = "peers"
    extra = ["rank", "peers", "percentile", "peer_average", "ratio", "score"]
    return out[[*VERDICT_COLUMNS, *extra]]


def _published_average(
    rows: pd.DataFrame, published: pd.DataFrame, column: str, year: int | None
) -> tuple[pd.Series, pd.Series]:
    """The latest published same-type average (≤ year) of each row's province/category/level."""
    table = published.copy()
    if year is not None:
        table = table[table["year"] <= year]
    table = table[table[column].notna()].sort_values("year")
    averages, sources = [], []
    for r in rows.itertuples(index=False):
        fit = table[table["province"].eq(r.province) & table["category"].eq(r.category)
                    & table["level"].isin([r.level, "any"])]
        if fit.empty:
            averages.append(np.nan)
            sources.append("")
        else:
            last = fit.iloc[-1]
            averages.append(float(last[column]))
            sources.append(f"published {last['group']} average {int(last['year'])}: "
                           f"{last['source']} [confidence {last['confidence']}]")
    return (pd.Series(averages, index=rows.index, dtype=float),
            pd.Series(sources, index=rows.index, dtype=object))


# ---------------------------------------------------------------------------------------------
# Certification readiness
# ---------------------------------------------------------------------------------------------


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
        :data:`VERDICT_COLUMNS` plus score (示范单位 points of the scored items). Subjects
        ``conservation_organ`` (节约型机关: ready / not_ready / not_applicable / unknown),
        ``demonstration_unit`` (示范单位: ready / not_ready / unknown) and
        ``efficiency_leader`` (能效领跑者: candidate / not_candidate / unknown).
    """
    ids = figures["institution_id"].tolist()
    category = dict(zip(figures["institution_id"], figures["category"], strict=True))
    fyp_status = _status_table(fyp14)
    peer_keys = list(zip(peers["institution_id"], peers["subject"], strict=True))
    peer_score = dict(zip(peer_keys, peers["score"].astype(float), strict=True))
    peer_rank = dict(zip(peer_keys, peers["rank"].astype(float), strict=True))
    peer_count = dict(zip(peer_keys, peers["peers"], strict=True))
    judged_quota = quota[quota["status"].ne("unknown")]
    judged_subjects: dict[str, list[str]] = {}
    above_guide: dict[str, list[str]] = {}
    for inst, subject, status in zip(judged_quota["institution_id"], judged_quota["subject"],
                                     judged_quota["status"], strict=True):
        judged_subjects.setdefault(inst, []).append(subject)
        if status != "below_guide":
            above_guide.setdefault(inst, []).append(subject)
    rows = []
    organ_items = ["kgce_per_m2", "kgce_per_person", "water_m3_per_person"]
    for inst in ids:
        # 节约型机关: government bodies meeting the energy and water target items.
        if category.get(inst) != "government":
            rows.append(_row(inst, "conservation_organ", "not_applicable",
                             "节约型机关 is created by Party and government bodies "
                             "(category government)"))
        else:
            states = {i: fyp_status.get((inst, i), "unknown") for i in organ_items}
            bad = [i for i, s in states.items() if s == "off_track"]
            unknown = [i for i, s in states.items() if s == "unknown"]
            listing = ", ".join(f"{i} {s}" for i, s in states.items())
            if bad:
                rows.append(_row(inst, "conservation_organ", "not_ready",
                                 f"target item(s) off track: {listing}"))
            elif unknown:
                rows.append(_row(inst, "conservation_organ", "unknown",
                                 f"target item(s) unknown: {listing}",
                                 missing="; ".join(f"十四五 verdict of {i}" for i in unknown)))
            else:
                rows.append(_row(inst, "conservation_organ", "ready",
                                 f"energy and water target items on track: {listing}"))
        # 示范单位: no scored item may be 0 (★ items).
        scores = {i: peer_score.get((inst, i), np.nan) for i in PEER_INDICATORS}
        listing = ", ".join(
            f"{i} {'?' if np.isnan(s) else int(s)}" for i, s in scores.items())
        total = float(np.nansum(list(scores.values())))
        zero = [i for i, s in scores.items() if s == 0]
        unknown = [i for i, s in scores.items() if np.isnan(s)]
        if zero:
            status, reason = "not_ready", f"an item scores 0 (> 1.2× the average): {listing}"
        elif unknown:
            status, reason = "unknown", f"item(s) not scored: {listing}"
        else:
            status, reason = "ready", (f"every energy/water item scores: {listing} = "
                                       f"{int(total)} of {SCORE_MAX * len(scores)}")
        rows.append(_row(inst, "demonstration_unit", status, reason,
                         missing="; ".join(f"peer score of {i}" for i in unknown)
                         if status == "unknown" else "", score=total))
        # 能效领跑者: first in its peer group and at or below 引导值 on every judged indicator.
        lead = "kgce_per_m2_excl_vehicles"
        rank = peer_rank.get((inst, lead), np.nan)
        n_peers = peer_count.get((inst, lead), 0)
        judged = judged_subjects.get(inst, [])
        above = above_guide.get(inst, [])
        if (not np.isnan(rank) and rank > 1) or above:
            why = []
            if not np.isnan(rank) and rank > 1:
                why.append(f"rank {int(rank)} of {int(n_peers)} in its peer group")
            if above:
                why.append("above 引导值: " + ", ".join(above))
            rows.append(_row(inst, "efficiency_leader", "not_candidate", "; ".join(why)))
        elif np.isnan(rank) or n_peers < MIN_PEERS or not judged:
            miss = []
            if np.isnan(rank) or n_peers < MIN_PEERS:
                miss.append(f"a peer group of at least {MIN_PEERS} with known {lead}")
            if not judged:
                miss.append("a judged quota indicator")
            rows.append(_row(inst, "efficiency_leader", "unknown",
                             "cannot rank the institution against quotas and peers",
                             missing="; ".join(miss)))
        else:
            rows.append(_row(inst, "efficiency_leader", "candidate",
                             f"first of {int(n_peers)} peers on {lead} and at or below 引导值 on "
                             + ", ".join(judged)))
    out = pd.DataFrame(rows, columns=[*VERDICT_COLUMNS, "score"])
    out["kind"] = "certification"
    return out


def _status_table(frame: pd.DataFrame) -> dict[tuple[str, str], str]:
    return dict(zip(zip(frame["institution_id"], frame["subject"], strict=True),
                    frame["status"], strict=True))


def _row(inst: str, subject: str, status: str, reason: str, missing: str = "",
         **figures: float) -> dict[str, Any]:
    return {"institution_id": inst, "kind": "", "subject": subject, "status": status,
            "value": np.nan, "unit": "", "coverage": np.nan, "reason": reason,
            "missing": missing, "source": "reference/china-energy-carbon.md §5", **figures}


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
        :data:`VERDICT_COLUMNS` plus previous_value, change, ratio. status ``ok``, ``flag`` or
        ``unknown``.
    """
    parts = [_change_checks(figures, previous, year)]
    q = quota[quota["status"].ne("unknown")]
    if len(q):
        flagged = q["status"].isin(["above_constraint", "below_guide"])
        band = pd.DataFrame({
            "institution_id": q["institution_id"], "subject": "intensity_band:" + q["subject"],
            "status": np.where(flagged, "flag", "ok"), "value": q["value"], "unit": q["unit"],
            "coverage": q["coverage"], "source": q["source"], "missing": "",
        })
        band["reason"] = np.where(
            q["status"].eq("above_constraint"), "above 约束值: " + q["reason"],
            np.where(q["status"].eq("below_guide"),
                     "below 引导值 — check the data is complete: " + q["reason"],
                     "within 引导值 … 约束值: " + q["reason"]))
        parts.append(band)
    if bills is not None and len(bills):
        parts.append(_price_checks(bills, year))
    out = pd.concat([p for p in parts if len(p)], ignore_index=True)
    out["kind"] = "audit"
    for column in ("previous_value", "change", "ratio"):
        if column not in out.columns:
            out[column] = np.nan
    return out[[*VERDICT_COLUMNS, "previous_value", "change", "ratio"]]


def _change_checks(figures: pd.DataFrame, previous: pd.DataFrame | None,
                   year: int) -> pd.DataFrame:
    parts = []
    prev = previous.set_index("institution_id") if previous is not None and len(previous) else None
    for column, label in (("floor_area_m2", "建筑面积 floor area"),
                          ("occupants", "用能人数 occupants")):
        value = pd.to_numeric(figures[column], errors="coerce").astype(float)
        if prev is not None:
            before = figures["institution_id"].map(
                pd.to_numeric(prev[column], errors="coerce")).astype(float)
        else:
            before = pd.Series(np.nan, index=figures.index)
        change = value / before.where(before > 0) - 1.0
        status = np.select([change.isna(), change.abs() > AUDIT_CHANGE_LIMIT],
                           ["unknown", "flag"], default="ok")
        reason = [
            f"{label} {year - 1} or {year} not known" if pd.isna(c)
            else f"{label} {b:g} → {v:g} ({c:+.1%}; limit ±{AUDIT_CHANGE_LIMIT:.0%})"
            for v, b, c in zip(value, before, change, strict=True)
        ]
        parts.append(pd.DataFrame({
            "institution_id": figures["institution_id"], "subject": f"{column}_change",
            "status": status, "value": value, "unit": "m2" if column == "floor_area_m2" else
            "persons", "coverage": np.nan, "reason": reason,
            "missing": np.where(change.isna(), f"{column} of {year - 1} and {year}", ""),
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
    b["ratio"] = b["price"] / b["median"]
    low, high = PRICE_RATIO_LIMITS
    b["far"] = (b["ratio"] < low) | (b["ratio"] > high)
    rows = []
    for (inst, carrier, unit), g in b.groupby(["institution_id", "carrier", "unit"]):
        n = int(g["n"].iloc[0])
        median = float(g["median"].iloc[0])
        subject = f"bill_unit_price:{carrier}"
        if n < MIN_PRICE_PEERS:
            status, reason = "unknown", (f"{n} {carrier} bill(s) with a cost in {year}; at least "
                                         f"{MIN_PRICE_PEERS} needed to compare unit prices")
            missing = f"at least {MIN_PRICE_PEERS} {carrier} bills with cost_cny"
        elif g["far"].any():
            far = g[g["far"]]
            status, missing = "flag", ""
            reason = "; ".join(
                f"bill {s}…{e}: {p:.3f} CNY/{unit} = {r:.2f}× the median {median:.3f}"
                for s, e, p, r in zip(far["period_start"], far["period_end"], far["price"],
                                      far["ratio"], strict=True))
        else:
            status, missing = "ok", ""
            reason = (f"{len(g)} bill(s) within {low}…{high}× the median {median:.3f} "
                      f"CNY/{unit} of {n} {carrier} bills")
        worst = g.loc[(g["ratio"] - 1.0).abs().idxmax()]
        rows.append({
            "institution_id": inst, "subject": subject, "status": status,
            "value": float(worst["price"]), "unit": f"CNY/{unit}", "coverage": np.nan,
            "reason": reason, "missing": missing, "source": "provincial audit checks "
            "(Hami 2023: unit-price check), reference §6.2", "ratio": float(worst["ratio"]),
        })
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------------


def verdict_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Verdict rows as JSON-ready dicts: the core fields, and ``figures`` with the numbers."""
    extra = [c for c in frame.columns if c not in VERDICT_COLUMNS]
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


def _plain(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if np.isnan(value) else float(value)
    if isinstance(value, str):
        return value or None
    return value


def _pct(value: float) -> str:
    return "no data" if value is None or pd.isna(value) else f"{value:.0%}"


def _empty(extra: list[str]) -> pd.DataFrame:
    return pd.DataFrame(columns=[*VERDICT_COLUMNS, *extra])
