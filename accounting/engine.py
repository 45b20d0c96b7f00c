"""The accounting engine: monthly consumption × factors → energy (tce), CO2 and intensities.

Pure, vectorised pandas: nothing here reads a file, a store or the clock. The inputs are

* the **monthly consumption table** (``accounting.consumption.annual_inputs``): institution_id,
  month, carrier, unit, quantity, use ("purchased" | "stationary" | "mobile" | "generation" |
  "green"), source, coverage, estimated_share;
* an **institution profile**: institution_id, province, floor_area_m2 (建筑面积), occupants
  (用能人数) and the descriptive columns the verdicts group by (category, level,
  climate_zone, name);
* a **factor table** (:func:`build_factor_table`): one row per carrier × unit × province with
  kgce_per_unit (折标准煤系数) and kgco2_per_unit (排放因子) and where each came from.

Scopes (JS/T 303-2026 公共机构碳排放核算指南; the boundary is that of the 公共机构能源资源消费
统计调查制度):

* scope 1 = fuel burnt on site: stationary (boilers, canteens, generators) + mobile (vehicles);
* scope 2 = purchased electricity + purchased heat;
* on-site PV generation (use "generation") and certified green electricity (use "green") emit 0;
* water is a resource, not energy: it has no tce and no CO2.

Coverage (see :mod:`accounting.counters`) travels with every figure: a carrier's coverage is
the share of the year actually measured or billed; an institution's energy coverage is the
tce-weighted mean of its energy carriers' coverage, capped at its electricity coverage (every
institution uses electricity: no electricity data means the year is not measured); its CO2
coverage likewise, CO2-weighted; its water coverage the water's.

The steps, in order: :func:`annual_quantities` (months → year per institution × carrier × use,
with coverage), :func:`distinct_keys` and :func:`build_factor_table` (each factor looked up once),
:func:`apply_factors` (kgce, kgCO2, scope), :func:`institution_figures` (综合能耗, CO2 by scope,
intensities); :func:`account_year` runs them and then ``accounting.verdicts``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

import numpy as np
import pandas as pd

from accounting.bills import CONTINUOUS_BILL_CARRIERS as BILLED_MONTHLY
from accounting.buildings import buildings_in_use
from accounting.codes import (
    categorical,
    combine_codes,
    member_of,
    rows_per_key,
    run_codes,
    run_sums,
    runs,
    sum_by,
    sums_per_code,
    text_codes,
)
from accounting.errors import InputError, MissingReferenceData
from accounting.verdicts import VerdictRules, judge_year
from jieneng.vocabulary import (
    COMBUSTION_CARRIERS,
    CONSUMPTION_COLUMNS,
    ELECTRICITY_CARRIERS,
    ENERGY_CARRIERS,
    SECONDARY_CARRIERS,
)

__all__ = [
    "COMBUSTION_CARRIERS",
    "CONSUMPTION_COLUMNS",
    "ENERGY_CARRIERS",
    "INSTITUTION_FIGURES",
    "SECONDARY_CARRIERS",
    "ZERO_EMISSION_USES",
    "AnnualAccount",
    "account_figures",
    "account_year",
    "annual_quantities",
    "apply_factors",
    "build_factor_table",
    "carrier_totals",
    "distinct_keys",
    "equal_value_delta",
    "institution_figures",
    "institution_profile",
    "scope_of",
    "totals",
]

#: Meters run all year: a month without a row (or with coverage 0) is a month not measured.
#: Utility accounts for these carriers are billed every month, so a month without a bill is a
#: gap too. Bills of other carriers (heat for the heating season, LPG, coal and fuel deliveries)
#: and fuel-card records are event logs: a month without one had no consumption, and their
#: coverage is taken over the months they cover.
CONTINUOUS_BILL_CARRIERS = BILLED_MONTHLY  # (defined with the bills)
MONTHS_PER_YEAR = 12

#: Uses whose electricity emits nothing: on-site PV and certified green electricity (EF = 0).
ZERO_EMISSION_USES = frozenset({"generation", "green"})
# ELECTRICITY_CARRIERS (from the vocabulary) count as electricity use [kWh] for 单位建筑面积电耗.
# On-site PV is electricity the institution generates and uses: it counts in electricity use and,
# at the electricity coefficient, in 综合能耗 (GB/T 2589 counts energy used, whatever its
# origin); its CO2 is 0. Export of PV to the grid is not modelled: a PV meter is read as
# self-consumption.

#: Per-institution columns of :func:`institution_figures`, with their meaning and unit.
INSTITUTION_FIGURES: dict[str, str] = {
    "energy_tce": "综合能耗 comprehensive energy consumption [tce]",
    "co2_t": "碳排放 CO2 emissions, scope 1 + 2 [tCO2]",
    "scope1_co2_t": "直接排放 scope 1 CO2 (fuel burnt on site, vehicles included) [tCO2]",
    "scope2_co2_t": "间接排放 scope 2 CO2 (purchased electricity and heat) [tCO2]",
    "mobile_tce": "公务用车用油 vehicle fuel [tce]",
    "heat_tce": "热力 purchased heat [tce]",
    "electricity_kwh": "电 electricity use, grid + on-site PV [kWh]",
    "water_m3": "水 water [m3]",
    "floor_area_m2": "建筑面积 floor area [m2]",
    "occupants": "用能人数 occupants [persons]",
    "kgce_per_m2": "单位建筑面积能耗 energy per floor area [kgce/m2]",
    "kgce_per_m2_excl_vehicles": "单位建筑面积能耗 (示范单位, without vehicle fuel) [kgce/m2]",
    "kgce_per_m2_non_heating": "单位建筑面积非供暖能耗 (without heat and vehicle fuel) [kgce/m2]",
    "kgce_per_person": "人均综合能耗 energy per occupant [kgce/person]",
    "water_m3_per_person": "人均用水量 water per occupant [m3/person]",
    "kgco2_per_m2": "单位建筑面积碳排放 CO2 per floor area [kgCO2/m2]",
    "kwh_per_m2": "单位建筑面积电耗 electricity per floor area [kWh/m2]",
    "energy_coverage": "share of the energy (tce-weighted) measured, ≤ electricity's [0-1]",
    "co2_coverage": "share of the CO2 (CO2-weighted) measured, ≤ electricity's [0-1]",
    "water_coverage": "share of the water actually measured [0-1]",
    "electricity_coverage": "share of the electricity actually measured [0-1]",
    "estimated_share": "share of the energy (tce-weighted) that is estimated [0-1]",
}


class FactorSource(Protocol):
    """What :func:`build_factor_table` needs from ``accounting.reference_data.ReferenceData``."""

    def kgce_per_unit(self, carrier: str, unit: str, year: int) -> Any: ...

    def kgco2_per_unit(self, carrier: str, unit: str, year: int, province: str | None) -> Any: ...


# ---------------------------------------------------------------------------------------------
# Factors
# ---------------------------------------------------------------------------------------------


def build_factor_table(
    reference: FactorSource,
    year: int,
    keys: pd.DataFrame,
) -> pd.DataFrame:
    """Look up every factor the year's consumption needs, once per carrier × unit × province.

    Parameters
    ----------
    reference
        The reference data (``ReferenceData``): its ``kgce_per_unit`` and ``kgco2_per_unit``.
    year
        Accounting year; the reference data picks the factor of that year (or says which it used).
    keys
        Distinct rows of carrier, unit, province, use (:func:`distinct_keys`). The reference data
        applies ``[accounting] emission_factor_policy`` (province or national grid factor).

    Returns
    -------
    pandas.DataFrame
        carrier, unit, province, use, kgce_per_unit [kgce/unit], kgco2_per_unit [kgCO2/unit],
        scope (1, 2 or 0 = not counted), and for each factor its value's source, year, region,
        confidence and note (``kgce_source``, ``kgco2_source``, ...).
    """
    rows = []
    kgce_cache: dict[tuple[str, str], Any] = {}
    kgco2_cache: dict[tuple[str, str, str | None], Any] = {}
    distinct = keys[["carrier", "unit", "province", "use"]].drop_duplicates()
    for carrier, unit, province, use in distinct.itertuples(index=False, name=None):
        if carrier not in ENERGY_CARRIERS and carrier != "water":
            raise InputError(
                f"unknown carrier {carrier!r}",
                f"the {year} consumption table (unit {unit!r}, use {use!r}, "
                f"province {province!r})",
                f"one of {', '.join(sorted(ENERGY_CARRIERS | {'water'}))}")
        row: dict[str, Any] = {
            "carrier": carrier, "unit": unit, "province": province, "use": use,
            "scope": scope_of(carrier, use),
        }
        if carrier in ENERGY_CARRIERS:
            if (carrier, unit) not in kgce_cache:
                kgce_cache[(carrier, unit)] = reference.kgce_per_unit(carrier, unit, year)
            _put_factor(row, "kgce", kgce_cache[(carrier, unit)])
        else:
            _put_rule(row, "kgce", "water is a resource, not energy: no standard-coal equivalent")
        if row["scope"] == 0:
            reason = (
                "on-site PV and certified green electricity emit 0 (JS/T 303: green power EF = 0)"
                if use in ZERO_EMISSION_USES or carrier == "pv"
                else "water is a resource, not energy: no CO2"
            )
            _put_rule(row, "kgco2", reason)
        else:
            # Only electricity's factor depends on the province (its grid).
            key = (carrier, unit, province if carrier == "electricity" else None)
            if key not in kgco2_cache:
                kgco2_cache[key] = reference.kgco2_per_unit(carrier, unit, year, key[2])
            _put_factor(row, "kgco2", kgco2_cache[key])
        rows.append(row)
    columns = ["carrier", "unit", "province", "use", "scope"] + [
        f"{prefix}_{field}"
        for prefix in ("kgce", "kgco2")
        for field in ("per_unit", "source", "year", "region", "confidence", "note")
    ]
    return pd.DataFrame(rows, columns=columns)


def equal_value_delta(reference: Any, year: int) -> float:
    """等价值 minus the electricity coefficient in use [kgce/kWh]; 0 when 等价值 is in use.

    Quota tables that prescribe 等价值 electricity (DB37/T 2672: 0.31 kgce/kWh) judge a kgce
    intensity re-based by this much per kWh (``accounting.verdicts.quota_verdicts``).
    ``reference`` is ``ReferenceData``: both coefficients come from its public
    ``kgce_per_unit`` (the second with ``variant="equal_value"``).
    """
    used = reference.kgce_per_unit("electricity", "kWh", year).value
    equal = reference.kgce_per_unit("electricity", "kWh", year, variant="equal_value").value
    return float(equal - used)


def scope_of(carrier: str, use: str) -> int:
    """The emission scope of a carrier used this way: 1, 2, or 0 when it emits nothing counted."""
    if carrier in COMBUSTION_CARRIERS:
        return 1
    if carrier in SECONDARY_CARRIERS and use not in ZERO_EMISSION_USES:
        return 2
    return 0


def _put_factor(row: dict[str, Any], prefix: str, factor: Any) -> None:
    row[f"{prefix}_per_unit"] = float(factor.value)
    row[f"{prefix}_source"] = factor.source
    row[f"{prefix}_year"] = factor.year
    row[f"{prefix}_region"] = factor.region
    row[f"{prefix}_confidence"] = factor.confidence
    row[f"{prefix}_note"] = getattr(factor, "note", "")


def _put_rule(row: dict[str, Any], prefix: str, reason: str) -> None:
    row[f"{prefix}_per_unit"] = 0.0
    row[f"{prefix}_source"] = reason
    row[f"{prefix}_year"] = None
    row[f"{prefix}_region"] = ""
    row[f"{prefix}_confidence"] = "rule"
    row[f"{prefix}_note"] = ""


# ---------------------------------------------------------------------------------------------
# Per institution × carrier
# ---------------------------------------------------------------------------------------------


def annual_quantities(consumption: pd.DataFrame) -> pd.DataFrame:
    """The year's quantity and coverage per institution × carrier × unit × use (no factors yet).

    Parameters
    ----------
    consumption
        The monthly consumption table (:data:`CONSUMPTION_COLUMNS`). quantity in the row's unit;
        a missing quantity counts as 0 with coverage 0.

    Returns
    -------
    pandas.DataFrame
        institution_id, carrier, unit, use, quantity [unit], coverage [0-1], estimated_share
        [0-1], months (most months with a row of one source). One row per institution ×
        carrier × unit × use, carrier by carrier (each in order of first appearance). The
        text columns are categoricals (categories sorted, so they sort like the texts): the
        next steps read their codes instead of hashing the texts again.

        Coverage: per source, a meter's or a monthly utility bill's
        (:data:`CONTINUOUS_BILL_CARRIERS`) is the sum of its monthly coverage ÷ 12 (a month
        without a row is not covered); a seasonal bill's (heat), a delivery's or a fuel-card
        log's is the mean over its months. Several rows in one month: their mean coverage.
        Several sources of one carrier: weighted by quantity (the plain mean when it is 0).

    Raises
    ------
    accounting.errors.InputError
        When a column is missing, a text column (institution_id, carrier, unit, use, source) is
        empty in a row, or a month is outside 1-12.
    """
    missing = [c for c in CONSUMPTION_COLUMNS if c not in consumption.columns]
    if missing:
        raise InputError(f"missing column(s) {', '.join(missing)}", "the consumption table",
                         f"the columns {', '.join(CONSUMPTION_COLUMNS)}")
    # The aggregation runs on integer codes, then numpy sums: the table has institutions × 12
    # months × carriers rows, a million for a province. It comes in runs (one institution's
    # months of one carrier): only the first row of each run is hashed (accounting.codes).
    starts, lengths, new_value = runs(
        consumption[["institution_id", "carrier", "unit", "use", "source"]])
    inst_of_run, inst_names = run_codes(consumption["institution_id"], starts,
                                        new_value["institution_id"])
    # A line: one carrier × unit × use × source. carrier, unit, ...: each line's, coded.
    line_of_run, (carrier, unit, use, source) = combine_codes(
        [run_codes(consumption[c], starts, new_value[c])
         for c in ("carrier", "unit", "use", "source")])
    lines = len(carrier.codes)
    month = consumption["month"].to_numpy(dtype=np.int64)
    if len(month) and (month.min() < 1 or month.max() > MONTHS_PER_YEAR):
        bad = (month < 1) | (month > MONTHS_PER_YEAR)
        where = ", ".join(sorted({str(i) for i in consumption["institution_id"][bad]})[:5])
        raise InputError(f"month {month[bad][0]} in {int(bad.sum())} row(s)",
                         f"the consumption table, institution(s) {where}",
                         "a month of 1-12")
    quantity = consumption["quantity"].to_numpy(dtype=float)
    unknown = np.isnan(quantity)
    coverage = _nan_as_zero(consumption["coverage"].to_numpy(dtype=float))
    if unknown.any():
        quantity = np.where(unknown, 0.0, quantity)
        coverage = np.where(unknown, 0.0, coverage)
    estimated = _nan_as_zero(consumption["estimated_share"].to_numpy(dtype=float)) * quantity

    # Per institution × line (carrier, unit, use, source): each row weighs 1 / (rows of its
    # month), so a month's coverage is the mean of its rows and the weights count the months.
    # Rows are summed per run first (contiguous), then the runs per institution × line.
    groups = len(inst_names) * lines
    group_of_run = inst_of_run * lines + line_of_run
    if _one_row_per_month(group_of_run, groups, month, starts):
        # The usual table: every weight is 1, and a run's months are its rows.
        run_coverage, run_months = run_sums(coverage, starts), lengths.astype(float)
    else:
        group = np.repeat(group_of_run, lengths)
        weight = 1.0 / rows_per_key(group * (MONTHS_PER_YEAR + 1) + month,
                                    groups * (MONTHS_PER_YEAR + 1))
        run_coverage, run_months = run_sums(coverage * weight, starts), run_sums(weight, starts)
    present, per_line = sum_by(group_of_run, groups, quantity=run_sums(quantity, starts),
                               coverage=run_coverage, months=run_months,
                               estimated=run_sums(estimated, starts))
    line_of = present % lines
    inst_of = present // lines
    months = per_line["months"].round().astype(np.int64)
    period = (source.values() == "meter") | (
        (source.values() == "bill") & member_of(carrier.values(), CONTINUOUS_BILL_CARRIERS))
    line_coverage = per_line["coverage"] / np.where(period[line_of], MONTHS_PER_YEAR, months)

    # Sources of one carrier together (a metered building beside a billed one): coverage
    # weighted by quantity, the plain mean when the quantity is 0. Here carrier, unit, use
    # become each output carrier's (carrier × unit × use), coded.
    carrier_code, (carrier, unit, use) = combine_codes([carrier, unit, use])
    # Rows carrier by carrier (then institution): later steps find a carrier's rows as runs.
    group = carrier_code[line_of] * len(inst_names) + inst_of
    line_quantity = per_line["quantity"]
    size = len(inst_names) * len(carrier.codes)
    index, annual = sum_by(group, size, quantity=line_quantity,
                           cov_qty=line_coverage * line_quantity, cov_sum=line_coverage,
                           sources=np.ones(len(group)), estimated=per_line["estimated"])
    most_months = np.zeros(size, dtype=np.int64)
    np.maximum.at(most_months, group, months)
    quantity = annual["quantity"]
    positive = quantity > 0
    safe = np.where(positive, quantity, 1.0)
    row_carrier = index // len(inst_names)
    # Text columns as categoricals (made from the codes, no text is looked at): the next steps
    # read the codes back instead of hashing the texts again.
    return pd.DataFrame({
        "institution_id": categorical(index % len(inst_names), inst_names, sort=True),
        "carrier": categorical(carrier.codes[row_carrier], carrier.names, sort=True),
        "unit": categorical(unit.codes[row_carrier], unit.names, sort=True),
        "use": categorical(use.codes[row_carrier], use.names, sort=True),
        "quantity": quantity,
        "coverage": np.where(positive, annual["cov_qty"] / safe,
                             annual["cov_sum"] / annual["sources"]),
        "estimated_share": np.where(positive, annual["estimated"] / safe, 0.0),
        "months": most_months[index],
    })


def _nan_as_zero(values: np.ndarray) -> np.ndarray:
    """``values`` with NaN as 0 (the array itself when it has no NaN, the usual case)."""
    missing = np.isnan(values)
    return np.where(missing, 0.0, values) if missing.any() else values


def _one_row_per_month(group_of_run: np.ndarray, groups: int, month: np.ndarray,
                       starts: np.ndarray) -> bool:
    """Whether each group is one run whose months strictly rise (so no month has two rows)."""
    rising = month[1:] > month[:-1]
    rising[starts[1:] - 1] = True  # a new run may start at any month
    return bool(rising.all()) and np.bincount(group_of_run, minlength=groups).max(initial=0) <= 1


def apply_factors(annual: pd.DataFrame, provinces: pd.Series,
                  factors: pd.DataFrame) -> pd.DataFrame:
    """Energy and CO2 of :func:`annual_quantities` rows with the factor table.

    Returns
    -------
    pandas.DataFrame
        ``annual``'s columns plus province, kgce [kgce], kgco2 [kgCO2], scope, kgce_per_unit,
        kgco2_per_unit. The text columns (institution_id, carrier, unit, use, province) are
        categoricals; province is NaN for an institution missing from ``provinces``.

    Raises
    ------
    accounting.errors.MissingReferenceData
        When a carrier × unit × province × use has no factor row.
    """
    inst, inst_names = text_codes(annual["institution_id"])
    # Each institution's province, coded (−1: the institution is not in ``provinces``).
    province_of_inst, province_names = pd.factorize(_province_of(inst_names, provinces))
    province = province_of_inst[inst]
    line, (carrier, unit, use) = combine_codes(
        [text_codes(annual[c]) for c in ("carrier", "unit", "use")])
    # The factors are looked up once per distinct key (carrier × unit × use line, province: a
    # few dozen), not per row; each row then takes its key's factors by integer code. An
    # unknown province (code −1) is looked up as "", as the factor table has it.
    width = len(province_names) + 1  # the provinces and "unknown"
    key, distinct = pd.factorize(line * width + (province + 1))
    wanted = []
    for k in distinct:
        line_k, province_k = divmod(int(k), width)
        wanted.append((carrier.names[carrier.codes[line_k]], unit.names[unit.codes[line_k]],
                       province_names[province_k - 1] if province_k > 0 else "",
                       use.names[use.codes[line_k]]))
    table = _factor_lookup(factors)
    found = [table.get(w) for w in wanted]
    missing = [i for i, f in enumerate(found) if f is None]
    if missing:
        count = int(np.isin(key, missing).sum())
        first = [dict(zip(("carrier", "unit", "province", "use"), wanted[i], strict=True))
                 for i in missing[:5]]
        which = sorted({str(i) for i in inst_names[np.unique(inst[np.isin(key, missing)])]})
        raise MissingReferenceData(
            f"no factor for {count} carrier row(s), e.g. {first}, of institution(s) "
            f"{', '.join(which[:5])}; expected a factor row for each carrier × unit × province × "
            "use: build the factor table from the same consumption table")
    scope = np.array([f[0] for f in found], dtype=np.int64)[key]
    kgce_per_unit = np.array([f[1] for f in found], dtype=float)[key]
    kgco2_per_unit = np.array([f[2] for f in found], dtype=float)[key]
    quantity = annual["quantity"].to_numpy()
    return pd.DataFrame({
        "institution_id": _categorical(annual["institution_id"], inst, inst_names),
        "carrier": _categorical(annual["carrier"], carrier.codes[line], carrier.names),
        "unit": _categorical(annual["unit"], unit.codes[line], unit.names),
        "use": _categorical(annual["use"], use.codes[line], use.names),
        "province": categorical(province, province_names, sort=True),
        "quantity": quantity,
        "kgce": quantity * kgce_per_unit,
        "kgco2": quantity * kgco2_per_unit,
        "scope": scope,
        "kgce_per_unit": kgce_per_unit,
        "kgco2_per_unit": kgco2_per_unit,
        "coverage": annual["coverage"].to_numpy(),
        "estimated_share": annual["estimated_share"].to_numpy(),
        "months": annual["months"].to_numpy(),
    })


def _province_of(names: np.ndarray, provinces: pd.Series) -> np.ndarray:
    """The province of each institution in ``names``; NaN for one that ``provinces`` lacks."""
    values = np.append(provinces.to_numpy(dtype=object), np.nan)  # position −1: the NaN
    return values[provinces.index.get_indexer(names)]


def _categorical(column: pd.Series, codes: np.ndarray, names: np.ndarray) -> pd.Categorical:
    """``column`` as a categorical: itself when it is one already (every category used), else
    made from its codes (:func:`accounting.codes.text_codes`)."""
    if isinstance(column.dtype, pd.CategoricalDtype) and len(column.cat.categories) == len(names):
        return column.array
    return categorical(codes, names, sort=True)


def _factor_lookup(factors: pd.DataFrame) -> dict[tuple, tuple[int, float, float]]:
    """(carrier, unit, province, use) → (scope, kgce_per_unit, kgco2_per_unit) of the factor table.

    A missing province is "" (an institution of unknown province); a row without a
    kgce_per_unit is left out (it is no factor).

    Raises
    ------
    ValueError
        When two rows have the same carrier × unit × province × use.
    """
    columns = ["carrier", "unit", "province", "use", "scope", "kgce_per_unit", "kgco2_per_unit"]
    lookup: dict[tuple, tuple[int, float, float]] = {}
    seen: set[tuple] = set()
    for carrier, unit, province, use, scope, kgce, kgco2 in factors[columns].itertuples(
            index=False, name=None):
        key = (carrier, unit, "" if pd.isna(province) else province, use)
        if key in seen:
            raise ValueError(f"the factor table has two rows for carrier × unit × province × use "
                             f"{key}; expected one")
        seen.add(key)
        if not pd.isna(kgce):
            lookup[key] = (int(scope), float(kgce), float(kgco2))
    return lookup


def carrier_totals(
    consumption: pd.DataFrame,
    provinces: pd.Series,
    factors: pd.DataFrame,
) -> pd.DataFrame:
    """The year's quantity, energy and CO2 per institution × carrier × unit × use.

    :func:`annual_quantities` then :func:`apply_factors`.

    Parameters
    ----------
    consumption
        The monthly consumption table (:data:`CONSUMPTION_COLUMNS`).
    provinces
        Province (pinyin) per institution_id (the index): picks the grid factor.
    factors
        :func:`build_factor_table` for the same year, covering every carrier × unit × province ×
        use in ``consumption``.

    Returns
    -------
    pandas.DataFrame
        institution_id, carrier, unit, use, province, quantity [unit], kgce [kgce], kgco2
        [kgCO2], scope, kgce_per_unit, kgco2_per_unit, coverage [0-1], estimated_share [0-1],
        months. The five text columns are categoricals (group them with ``observed=True``).
    """
    return apply_factors(annual_quantities(consumption), provinces, factors)


# ---------------------------------------------------------------------------------------------
# Per institution
# ---------------------------------------------------------------------------------------------


def institution_figures(carriers: pd.DataFrame, profile: pd.DataFrame) -> pd.DataFrame:
    """综合能耗, CO2 by scope and the intensities of every institution in ``profile``.

    Parameters
    ----------
    carriers
        :func:`carrier_totals`.
    profile
        One row per institution: institution_id, floor_area_m2 [m2], occupants [persons] (NaN
        when unknown), plus any descriptive columns (kept in the result).

    Returns
    -------
    pandas.DataFrame
        ``profile``'s columns plus :data:`INSTITUTION_FIGURES` and ``missing_carriers``. An
        intensity is NaN when its denominator is unknown or not positive; a coverage is NaN when
        the institution has no row of that kind (no water rows: water_coverage NaN), never
        silently 1. Missing is never zero: a figure resting on a carrier without data is NaN
        (no electricity data: energy, CO2, scope 2 and their intensities; no water data: water;
        a carrier whose rows hold nothing measured or billed: the figures it enters; no data at
        all: every figure), and ``missing_carriers`` names those carriers (comma-separated, "*"
        for all, "" when nothing is missing).
    """
    c = carriers
    kgce = c["kgce"].to_numpy(dtype=float)
    kgco2 = c["kgco2"].to_numpy(dtype=float)
    quantity = c["quantity"].to_numpy(dtype=float)
    coverage = c["coverage"].to_numpy(dtype=float)
    scope = c["scope"].to_numpy()
    # Which kind each row is: decided once per distinct carrier × unit × use line.
    line, lines = _lines(c, ["carrier", "unit", "use"])
    energy = member_of(lines["carrier"], ENERGY_CARRIERS)[line]
    electricity = (lines["carrier"] == "electricity")[line]
    water = ((lines["carrier"] == "water") & (lines["unit"] == "m3"))[line]
    mobile = (lines["use"] == "mobile")[line]
    heat = (lines["carrier"] == "heat")[line]
    electricity_kwh = (member_of(lines["carrier"], ELECTRICITY_CARRIERS)
                       & (lines["unit"] == "kWh"))[line]
    emitting = scope != 0
    # A row that holds nothing measured, billed or estimated (a meter without a reading in the
    # year): its carrier is unknown for the institution, not 0.
    unknown = ~(coverage > 0) & ~(quantity > 0)
    inst, ids = text_codes(c["institution_id"])
    sums = sums_per_code(
        inst, len(ids),
        known_rows=(~unknown).astype(float),
        unknown_energy=(unknown & energy).astype(float),
        unknown_emitting=(unknown & emitting).astype(float),
        unknown_scope1=(unknown & (scope == 1)).astype(float),
        unknown_scope2=(unknown & (scope == 2)).astype(float),
        unknown_mobile=(unknown & mobile).astype(float),
        unknown_heat=(unknown & heat).astype(float),
        known_electricity=(~unknown & electricity).astype(float),
        known_water=(~unknown & water).astype(float),
        kgce=kgce, kgco2=kgco2,
        scope1_kgco2=np.where(scope == 1, kgco2, 0.0),
        scope2_kgco2=np.where(scope == 2, kgco2, 0.0),
        mobile_kgce=np.where(mobile, kgce, 0.0),
        heat_kgce=np.where(heat, kgce, 0.0),
        electricity_kwh=np.where(electricity_kwh, quantity, 0.0),
        water_m3=np.where(water, quantity, 0.0),
        # Weighted coverage: sum(weight × coverage) / sum(weight), per kind.
        kgce_cov=kgce * coverage,
        kgce_est=kgce * c["estimated_share"].to_numpy(dtype=float),
        energy_rows=energy.astype(float),
        energy_cov_plain=np.where(energy, coverage, 0.0),
        kgco2_cov=kgco2 * coverage,
        co2_rows=emitting.astype(float),
        co2_cov_plain=np.where(emitting, coverage, 0.0),
        water_rows=water.astype(float),
        water_cov=np.where(water, coverage, 0.0),
        elec_rows=electricity.astype(float),
        elec_cov=np.where(electricity, coverage, 0.0),
    )
    # Each profile row takes its institution's sums by position; one without rows (position
    # −1) takes the 0 appended last. Plain arrays from here on: no index is aligned or compared.
    base = profile.reset_index(drop=True)
    position = pd.Index(ids).get_indexer(base["institution_id"])
    s = {name: np.append(total, 0.0)[position] for name, total in sums.items()}

    f: dict[str, np.ndarray] = {}  # the figures, in the order of INSTITUTION_FIGURES
    f["energy_tce"] = s["kgce"] / 1000.0
    f["co2_t"] = s["kgco2"] / 1000.0
    f["scope1_co2_t"] = s["scope1_kgco2"] / 1000.0
    f["scope2_co2_t"] = s["scope2_kgco2"] / 1000.0
    f["mobile_tce"] = s["mobile_kgce"] / 1000.0
    f["heat_tce"] = s["heat_kgce"] / 1000.0
    f["electricity_kwh"] = s["electricity_kwh"]
    f["water_m3"] = s["water_m3"]

    area = _positive(base["floor_area_m2"]).to_numpy()  # NaN when unknown or not positive
    people = _positive(base["occupants"]).to_numpy()
    kgce_total = s["kgce"]
    f["kgce_per_m2"] = kgce_total / area
    f["kgce_per_m2_excl_vehicles"] = (kgce_total - s["mobile_kgce"]) / area
    f["kgce_per_m2_non_heating"] = (kgce_total - s["mobile_kgce"] - s["heat_kgce"]) / area
    f["kgce_per_person"] = kgce_total / people
    # No water (electricity) row at all: the quantity is unknown, not 0.
    f["water_m3_per_person"] = np.where(s["water_rows"] > 0, s["water_m3"] / people, np.nan)
    f["kgco2_per_m2"] = s["kgco2"] / area
    f["kwh_per_m2"] = np.where(s["elec_rows"] > 0, s["electricity_kwh"] / area, np.nan)

    # Every public institution uses electricity: a year without (enough) electricity data is
    # not a measured year, however complete its other carriers are. Energy and CO2 coverage are
    # therefore capped at the electricity coverage (0 when there is no electricity row).
    electricity_coverage = _ratio(s["elec_cov"], s["elec_rows"])
    cap = np.nan_to_num(electricity_coverage)
    f["energy_coverage"] = np.fmin(_weighted(
        s["kgce_cov"], s["kgce"], s["energy_cov_plain"], s["energy_rows"]), cap)
    f["co2_coverage"] = np.fmin(_weighted(
        s["kgco2_cov"], s["kgco2"], s["co2_cov_plain"], s["co2_rows"]), cap)
    f["water_coverage"] = _ratio(s["water_cov"], s["water_rows"])
    f["electricity_coverage"] = electricity_coverage
    f["estimated_share"] = np.nan_to_num(_ratio(s["kgce_est"], s["kgce"]))
    _unknown_as_nan(f, s)
    missing_carriers = _missing_carriers(c, unknown, base["institution_id"], s)
    # All columns added at once (a profile column named like a figure gives way to it).
    kept = base.drop(columns=[name for name in f if name in base.columns])
    out = pd.concat([kept, pd.DataFrame(f, index=base.index)], axis=1)
    out["missing_carriers"] = missing_carriers
    return out


#: Carriers every public institution uses: a year without any data of them is unknown, never 0.
ALWAYS_USED_CARRIERS = ("electricity", "water")


def _unknown_as_nan(f: dict[str, np.ndarray], s: dict[str, np.ndarray]) -> None:
    """Figures resting on a carrier without data become NaN (missing is never zero).

    Without any electricity data (every public institution uses electricity) the energy, CO2
    and scope 2 figures are unknown; a carrier whose rows hold nothing measured or billed makes
    the figures it enters unknown; an institution without any known row has every figure
    unknown. Water without data: water_m3 (and water per person) unknown.
    """
    nothing = s["known_rows"] == 0
    no_electricity = s["known_electricity"] == 0
    no_water = s["known_water"] == 0
    energy = nothing | no_electricity | (s["unknown_energy"] > 0)
    co2 = nothing | no_electricity | (s["unknown_emitting"] > 0)
    masks = {
        "energy_tce": energy, "co2_t": co2,
        "scope1_co2_t": nothing | (s["unknown_scope1"] > 0),
        "scope2_co2_t": nothing | no_electricity | (s["unknown_scope2"] > 0),
        "mobile_tce": nothing | (s["unknown_mobile"] > 0),
        "heat_tce": nothing | (s["unknown_heat"] > 0),
        "electricity_kwh": no_electricity, "water_m3": no_water,
        "kgce_per_m2": energy, "kgce_per_m2_excl_vehicles": energy,
        "kgce_per_m2_non_heating": energy, "kgce_per_person": energy,
        "water_m3_per_person": no_water, "kgco2_per_m2": co2, "kwh_per_m2": no_electricity,
    }
    for name, mask in masks.items():
        if mask.any():
            f[name] = np.where(mask, np.nan, f[name])


def _missing_carriers(c: pd.DataFrame, unknown: np.ndarray, institution_ids: pd.Series,
                      s: dict[str, np.ndarray]) -> np.ndarray:
    """Per profile row: the carriers without data, comma-separated ("" when none): the ones
    every institution uses (:data:`ALWAYS_USED_CARRIERS`) without a known row, and those whose
    rows hold nothing; "*" for an institution without any data at all."""
    out = np.full(len(institution_ids), "", dtype=object)
    lacking = ((s["known_rows"] == 0) | (s["known_electricity"] == 0)
               | (s["known_water"] == 0) | (s["unknown_energy"] > 0)
               | (s["unknown_emitting"] > 0))
    if not lacking.any():
        return out
    rows = c[unknown]
    by_inst: dict[str, set[str]] = {}
    for inst, carrier in zip(rows["institution_id"].astype(str), rows["carrier"].astype(str),
                             strict=True):
        by_inst.setdefault(inst, set()).add(carrier)
    for i in np.flatnonzero(lacking):
        if s["known_rows"][i] == 0:
            out[i] = "*"
            continue
        names = by_inst.get(str(institution_ids.iloc[i]), set())
        if s["known_electricity"][i] == 0:
            names = names | {"electricity"}
        if s["known_water"][i] == 0:
            names = names | {"water"}
        out[i] = ",".join(sorted(names))
    return out


def totals(figures: pd.DataFrame) -> dict[str, float]:
    """Sums over institutions, and the aggregate intensities (sum ÷ sum, not a mean of ratios).

    Institutions whose floor area (occupants) is unknown are left out of the per-m2 (per-person)
    ratios, numerator and denominator alike; so are those without water (electricity) data from
    the water per person (electricity per m2).
    """
    f = figures
    area = _positive(f["floor_area_m2"])
    people = _positive(f["occupants"])
    has_area, has_people = area.notna(), people.notna()
    has_water = has_people & f["water_m3_per_person"].notna()
    has_kwh = has_area & f["kwh_per_m2"].notna()
    kgce = f["energy_tce"] * 1000.0
    # An institution whose figure is unknown is left out of a sum (never counted as 0) and, with
    # its denominator, of the ratios; ``<figure>_left_out`` says how many were left out.
    known_energy, known_co2 = kgce.notna(), f["co2_t"].notna()
    result = {
        "institutions": len(f),
        "energy_tce": _sum(f["energy_tce"]),
        "co2_t": _sum(f["co2_t"]),
        "scope1_co2_t": _sum(f["scope1_co2_t"]),
        "scope2_co2_t": _sum(f["scope2_co2_t"]),
        "electricity_kwh": _sum(f["electricity_kwh"]),
        "water_m3": _sum(f["water_m3"]),
        "floor_area_m2": float(area.sum()),
        "occupants": float(people.sum()),
        "kgce_per_m2": _safe_div(kgce[has_area & known_energy].sum(),
                                 area[known_energy].sum()),
        "kgce_per_person": _safe_div(kgce[has_people & known_energy].sum(),
                                     people[known_energy].sum()),
        "water_m3_per_person": _safe_div(f["water_m3"][has_water].sum(),
                                         people[has_water].sum()),
        "kgco2_per_m2": _safe_div(f["co2_t"][has_area & known_co2].sum() * 1000.0,
                                  area[known_co2].sum()),
        "kwh_per_m2": _safe_div(f["electricity_kwh"][has_kwh].sum(), area[has_kwh].sum()),
        "energy_coverage": _safe_div(
            (f["energy_coverage"].fillna(0.0) * kgce).sum(), kgce.sum()),
    }
    for name in TOTAL_LEFT_OUT:
        result[f"{name}_left_out"] = int(f[name].isna().sum())
    return result


#: Figures whose totals say how many institutions they leave out (``<figure>_left_out``).
TOTAL_LEFT_OUT = ("energy_tce", "co2_t", "scope1_co2_t", "scope2_co2_t", "electricity_kwh",
                  "water_m3")


def _sum(values: pd.Series) -> float:
    """The sum of the known values; NaN when none is known (nothing known is not 0)."""
    return float(values.sum(min_count=1))


def _positive(values: pd.Series) -> pd.Series:
    numeric = pd.to_numeric(values, errors="coerce").astype(float)
    return numeric.where(numeric > 0)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num ÷ den, NaN where den is not positive."""
    return num / np.where(den > 0, den, np.nan)


def _weighted(num: np.ndarray, weight: np.ndarray, plain: np.ndarray,
              rows: np.ndarray) -> np.ndarray:
    """Weighted mean where the weight is positive, the plain mean of the rows otherwise."""
    return np.where(weight > 0, _ratio(num, weight), _ratio(plain, rows))


def _safe_div(num: float, den: float) -> float:
    return float(num) / float(den) if den and den > 0 else float("nan")


def distinct_keys(consumption: pd.DataFrame, provinces: pd.Series) -> pd.DataFrame:
    """The carrier × unit × province × use rows :func:`build_factor_table` must cover.

    ``consumption`` is the monthly table or, cheaper, :func:`annual_quantities` of it. Every
    carrier line is paired with every province present (a few extra lookups, no row scan).
    """
    _, lines = _lines(consumption, ["carrier", "unit", "use"])
    inst, names = text_codes(consumption["institution_id"])
    # The provinces of the institutions, in order of the institutions' first rows.
    present = _province_of(names[pd.unique(inst)], provinces)
    province_list = pd.unique(present)
    count = len(province_list)
    return pd.DataFrame({
        "carrier": np.repeat(lines["carrier"], count),
        "unit": np.repeat(lines["unit"], count),
        "province": np.tile(province_list, len(lines["carrier"])),
        "use": np.repeat(lines["use"], count),
    })


def _lines(frame: pd.DataFrame, columns: list[str]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The line of each row (its distinct combination of ``columns``, in order of appearance)
    and each column's value per line."""
    line, coded = combine_codes([text_codes(frame[c]) for c in columns])
    return line, {c: column.values() for c, column in zip(columns, coded, strict=True)}


# ---------------------------------------------------------------------------------------------
# One year, end to end (still pure: the caller loads the inputs and the reference data)
# ---------------------------------------------------------------------------------------------

#: Profile columns taken from the institutions ledger.
PROFILE_COLUMNS = [
    "institution_id", "name", "category", "level", "province", "climate_zone", "credit_code",
    "quota_area", "subtype",
]


def institution_profile(
    institutions: pd.DataFrame,
    buildings: pd.DataFrame,
    headcount: pd.DataFrame,
    year: int,
    extra_ids: Iterable[str] = (),
    default_province: str = "",
    as_of: Any = None,
) -> pd.DataFrame:
    """One row per institution: ledger fields, floor_area_m2 and heated_area_m2 (sums of its
    buildings in use in ``year``) [m2] and occupants (用能人数 of ``year``) [persons].

    Floor area is the statistics form's 建筑面积, a year-end figure: the buildings counted are
    those in use on 31 December of ``year`` (or on ``as_of``, a date, when that is earlier: the
    current, unfinished year counts the buildings in use today). A building is in use from its
    ``in_use_from`` (启用日期) to its ``in_use_until`` (停用/移交日期, inclusive); a blank date is
    open-ended, so a building without dates counts in every year. A building opened mid-year
    therefore counts in full in its first year and one handed over mid-year not at all in its
    last; the full rule is in :mod:`accounting.buildings`. An institution with no building in use
    has floor_area_m2 NaN (unknown), never 0.

    Institutions that consume (``extra_ids``) but are missing from the ledger get a row with
    unknown category and ``default_province``, so their energy is never dropped from the totals.
    """
    buildings = buildings_in_use(buildings, year, as_of)
    profile = institutions.reindex(columns=PROFILE_COLUMNS).copy()
    missing_ids = sorted(set(extra_ids) - set(profile["institution_id"]))
    if missing_ids:
        extra = pd.DataFrame({"institution_id": missing_ids, "province": default_province})
        profile = pd.concat([profile, extra.reindex(columns=PROFILE_COLUMNS)], ignore_index=True)
    area = pd.to_numeric(buildings.get("floor_area_m2"), errors="coerce")
    heated = pd.to_numeric(buildings.get("heated_area_m2"), errors="coerce")
    if len(buildings):
        by_inst = pd.DataFrame({"institution_id": buildings["institution_id"],
                                "floor_area_m2": area, "heated_area_m2": heated})
        sums = by_inst.groupby("institution_id").sum(min_count=1)
    else:
        sums = pd.DataFrame(columns=["floor_area_m2", "heated_area_m2"], dtype=float)
    profile["floor_area_m2"] = profile["institution_id"].map(sums["floor_area_m2"]).astype(float)
    profile["heated_area_m2"] = profile["institution_id"].map(sums["heated_area_m2"]).astype(float)
    heads = headcount[pd.to_numeric(headcount.get("year"), errors="coerce") == year]
    occupants = heads.groupby("institution_id")["occupants"].sum() if len(heads) else pd.Series(
        dtype=float)
    profile["occupants"] = profile["institution_id"].map(occupants).astype(float)
    profile["province"] = profile["province"].fillna(default_province)
    return profile.reset_index(drop=True)


class AnnualAccount:
    """The accounts of one year: figures per institution, carriers, factors, verdicts, totals.

    Attributes
    ----------
    year
        The accounting year.
    figures
        :func:`institution_figures` (profile columns + :data:`INSTITUTION_FIGURES`).
    carriers
        :func:`carrier_totals`.
    factors
        :func:`build_factor_table`: every factor used and its source.
    verdicts
        All verdict rows (``accounting.verdicts``), every kind concatenated.
    totals
        :func:`totals`.
    """

    def __init__(self, year: int, figures: pd.DataFrame, carriers: pd.DataFrame,
                 factors: pd.DataFrame, verdicts: pd.DataFrame, totals: dict[str, float]):
        self.year = year
        self.figures = figures
        self.carriers = carriers
        self.factors = factors
        self.verdicts = verdicts
        self.totals = totals
        #: The bureau's parts (``accounting.bureau.BureauAccount``: compounds, excluded space,
        #: vehicles), set by ``accounting.annual.compute_account``; None otherwise.
        self.bureau: Any = None
        #: The year's inputs as read (``accounting.consumption.AnnualInputs``: consumption per
        #: month before the bureau's rules, findings, ledgers), set by ``compute_account`` so
        #: that forecasting and the dashboard do not read the store a second time; else None.
        self.inputs: Any = None
        #: The consumption table the figures were accounted from (after the statistical
        #: boundary, public charging and compound apportionment), set by ``compute_account``.
        self.consumption: pd.DataFrame | None = None
        #: The verdict rules the verdicts were judged with (``accounting.verdicts.VerdictRules``,
        #: a deployer's ``verdict_rules.csv`` included), for writing their reasons; set by
        #: :func:`account_year`. None: the shipped rules.
        self.rules: Any = None


def account_figures(
    consumption: pd.DataFrame, profile: pd.DataFrame, reference: FactorSource, year: int,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """factors, carriers and figures of a year from its consumption table and profile."""
    provinces = profile.set_index("institution_id")["province"]
    if provinces.index.has_duplicates:
        twice = list(provinces.index[provinces.index.duplicated()].unique()[:5])
        raise InputError(f"several rows for institution(s) {twice}", f"the {year} profile",
                         "one row per institution")
    annual = annual_quantities(consumption)
    _refuse_unknown_carriers(annual, year)
    inst, ids = text_codes(annual["institution_id"])
    in_profile = provinces.index.get_indexer(ids) >= 0  # (the index's lookup table is kept)
    if not in_profile.all():
        annual = annual[in_profile[inst]]
    factors = build_factor_table(reference, year, distinct_keys(annual, provinces))
    carriers = apply_factors(annual, provinces, factors)
    return factors, carriers, institution_figures(carriers, profile)


def _refuse_unknown_carriers(annual: pd.DataFrame, year: int) -> None:
    """Raise :class:`InputError` naming the institutions of a carrier the engine does not know.

    ``annual`` is :func:`annual_quantities` (its carrier column categorical: the check reads
    the few categories, not the rows, unless one is unknown).
    """
    known = ENERGY_CARRIERS | {"water"}
    carrier = annual["carrier"]
    names = (carrier.cat.categories if isinstance(carrier.dtype, pd.CategoricalDtype)
             else pd.unique(carrier))
    unknown = sorted(str(c) for c in names if c not in known)
    if not unknown:
        return
    rows = annual[carrier.isin(unknown)]
    if rows.empty:
        return
    institutions = sorted({str(i) for i in rows["institution_id"]})
    more = f" and {len(institutions) - 5} more" if len(institutions) > 5 else ""
    raise InputError(
        f"unknown carrier(s) {', '.join(repr(c) for c in unknown)}",
        f"the {year} consumption table, institution(s) {', '.join(institutions[:5])}{more}",
        f"one of {', '.join(sorted(known))}")


def account_year(
    year: int,
    consumption: pd.DataFrame,
    profile: pd.DataFrame,
    reference: Any,
    min_coverage: float,
    base_figures: pd.DataFrame | None = None,
    previous_figures: pd.DataFrame | None = None,
    bills: pd.DataFrame | None = None,
    equal_value_delta_kgce_per_kwh: float = 0.0,
) -> AnnualAccount:
    """Figures and every verdict of one year.

    Parameters
    ----------
    year
        The accounting year.
    consumption
        The year's monthly consumption table.
    profile
        :func:`institution_profile` of the year.
    reference
        ``ReferenceData``: factors, quotas, targets, published peer averages.
    min_coverage
        ``[accounting] min_coverage``: below it a verdict is ``unknown``. [0-1]
    base_figures, previous_figures
        :func:`institution_figures` of the 十四五 base year (2020) and of ``year − 1``; None →
        those verdicts are ``unknown``.
    bills
        The bills ledger, for the unit-price check.
    equal_value_delta_kgce_per_kwh
        等价值 minus the electricity coefficient used [kgce/kWh], for quota tables on 等价值.
    """
    factors, carriers, figures = account_figures(consumption, profile, reference, year)
    all_verdicts = judge_year(
        figures, reference, year, min_coverage, base_figures=base_figures,
        previous_figures=previous_figures, bills=bills,
        equal_value_delta_kgce_per_kwh=equal_value_delta_kgce_per_kwh)
    account = AnnualAccount(year, figures, carriers, factors, all_verdicts, totals(figures))
    account.rules = VerdictRules.from_reference(reference)
    return account
