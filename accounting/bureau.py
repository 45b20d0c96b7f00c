"""The bureau's own work on a year: boundary, compounds, vehicles; composed for ``compute_account``.

:func:`bureau_year` takes a year's :class:`accounting.consumption.Inputs` and the bureau's ledgers
and returns the consumption table the engine accounts and the buildings whose area counts:

1. **boundary** (:mod:`accounting.boundary`): meters and bills on leased-out or residential rows
   are dropped (``separate``), the rest of those institutions' carriers scaled by their inside
   area share (``estimate``); those rows leave the floor area;
2. **charging** (:mod:`accounting.vehicles`): public-station charges added, own piles not;
3. **compounds** (:mod:`accounting.compounds`): the compound's rows apportioned to its members.

:func:`bureau_account` then gives the parts of the year's account the bureau reports: the
compound figures, the excluded area and energy (with tce), the vehicle indicators and the
vehicle audit verdicts. ``compute_account`` attaches it as ``account.bureau``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from accounting import boundary, compounds, units, vehicles
from accounting.bills import spread_bills
from accounting.bureau_rules import BureauRules
from accounting.consumption import (
    CONSUMPTION_COLUMNS,
    Inputs,
    bills_to_consumption,
    fuel_to_consumption,
    metered_to_consumption,
)
from accounting.engine import build_factor_table
from accounting.ledgers import default_use
from accounting.verdicts.vehicles import vehicle_verdicts

__all__ = ["BUREAU_LEDGERS", "BureauAccount", "BureauYear", "bureau_account", "bureau_year",
           "energy_of", "excluded_summary"]

#: Ledgers the bureau's parts read besides :class:`Inputs`.
BUREAU_LEDGERS = ("bills", "compounds", "compound_members", "apportionment", "charging")


@dataclass
class BureauYear:
    """What the bureau's steps did to one year's inputs."""

    year: int
    #: :data:`accounting.compounds.APPORTIONMENT_COLUMNS`.
    apportionment: pd.DataFrame
    #: :func:`accounting.compounds.member_basis`.
    basis: pd.DataFrame
    #: :data:`accounting.boundary.EXCLUDED_COLUMNS` (separate and estimate rows).
    excluded: pd.DataFrame
    #: :func:`accounting.boundary.boundary_areas`.
    areas: pd.DataFrame
    #: :func:`accounting.vehicles.vehicle_indicators`.
    vehicles: pd.DataFrame
    #: The bureau's ledgers (compounds, compound_members, ...) and the year's inputs' ledgers.
    ledgers: dict[str, pd.DataFrame] = field(default_factory=dict)


@dataclass
class BureauAccount:
    """The bureau's parts of a year's account (``account.bureau``).

    Attributes
    ----------
    year
        The accounting year.
    detail
        :class:`BureauYear` of the year.
    compounds
        :func:`accounting.compounds.compound_figures` (year on year against last year's).
    excluded
        The excluded energy per institution × carrier with ``kgce`` / ``tce`` (NaN without a
        factor) and the excluded area.
    vehicles
        Vehicle indicators of the year; ``fleet``: :func:`accounting.vehicles.fleet_indicators`
        per institution.
    vehicle_verdicts
        :func:`accounting.verdicts.vehicles.vehicle_verdicts` (also in ``account.verdicts``).
    base_figures, previous_figures
        Institution figures of the 十四五 base year and of last year (for the evaluation).
    institutions
        The institutions ledger (region_code, region_name).
    """

    year: int
    detail: BureauYear
    compounds: pd.DataFrame
    excluded: pd.DataFrame
    vehicles: pd.DataFrame
    fleet: pd.DataFrame
    vehicle_verdicts: pd.DataFrame
    base_figures: pd.DataFrame | None = None
    previous_figures: pd.DataFrame | None = None
    institutions: pd.DataFrame = field(default_factory=pd.DataFrame)


def _billed_months(bills: pd.DataFrame, year: int) -> pd.DataFrame:
    months = spread_bills(bills)
    if months.empty:
        return months
    months = months[months["month"].dt.year == year]
    return units.to_canonical_frame(months) if len(months) else months


def _concat(parts: list[pd.DataFrame]) -> pd.DataFrame:
    parts = [p for p in parts if not p.empty]
    return (pd.concat(parts, ignore_index=True)[CONSUMPTION_COLUMNS] if parts
            else pd.DataFrame(columns=CONSUMPTION_COLUMNS))


def bureau_year(inputs: Inputs, ledgers: dict[str, pd.DataFrame], rules: BureauRules,
                as_of: dt.date | None = None) -> tuple[pd.DataFrame, pd.DataFrame, BureauYear]:
    """The year's consumption and buildings after the boundary, charging and compounds.

    Parameters
    ----------
    inputs
        ``accounting.consumption.annual_inputs`` of the year.
    ledgers
        kind → ledger frame for :data:`BUREAU_LEDGERS` (a missing kind is empty).
    rules
        :func:`accounting.bureau_rules.load_bureau_rules`.
    as_of
        Today, for the current year's buildings in use.

    Returns
    -------
    consumption
        The monthly consumption table to account.
    buildings
        The buildings inside the statistical boundary (their area counts).
    detail
        :class:`BureauYear`.
    """
    year = inputs.year
    empty = pd.DataFrame()
    get = {k: ledgers.get(k, empty) for k in BUREAU_LEDGERS}
    outside = rules.outside_uses
    buildings = inputs.buildings
    metered_in, bills_in, dropped = boundary.split_separate(
        buildings, outside, inputs.metered, get["bills"])
    areas = boundary.boundary_areas(buildings, year, outside, as_of)
    public = get["charging"]
    has_public = len(public) and "public_station" in public.columns and bool(
        public["public_station"].astype(bool).any())
    if len(dropped) or has_public:
        consumption = _concat([
            metered_to_consumption(metered_in), bills_to_consumption(bills_in, year),
            fuel_to_consumption(inputs.fuel, inputs.vehicles, year),
            vehicles.charging_to_consumption(public, inputs.vehicles, year,
                                             CONSUMPTION_COLUMNS)])
    else:
        consumption = inputs.consumption
    separate = pd.DataFrame(columns=boundary.EXCLUDED_COLUMNS)
    if len(dropped):
        metered_out = inputs.metered.drop(metered_in.index)
        bills_out = get["bills"].drop(bills_in.index) if len(get["bills"]) else get["bills"]
        separate = boundary.excluded_separate(_concat([
            metered_to_consumption(metered_out), bills_to_consumption(bills_out, year)]), areas)
    consumption, estimates = boundary.estimate_outside(consumption, areas, dropped)
    excluded = pd.concat([x for x in (separate, estimates) if len(x)], ignore_index=True) if (
        len(separate) or len(estimates)) else pd.DataFrame(columns=boundary.EXCLUDED_COLUMNS)
    inside = boundary.inside_buildings(buildings, outside)

    basis = compounds.member_basis(get["compound_members"], inside, inputs.headcount, year, as_of)
    subs = compounds.sub_metered(metered_in, _billed_months(bills_in, year)
                                 if len(get["compounds"]) else pd.DataFrame(), buildings)
    consumption, apportionment = compounds.apportion(
        consumption, get["compounds"], get["compound_members"], get["apportionment"], basis,
        subs, year, rules.apportion_default_rule)
    indicators = vehicles.vehicle_indicators(inputs.vehicles, inputs.fuel, get["charging"], year)
    detail = BureauYear(year, apportionment, basis, excluded, areas, indicators,
                        {**get, "vehicles": inputs.vehicles, "fuel": inputs.fuel,
                         "institutions": inputs.institutions})
    return consumption, inside, detail


def energy_of(rows: pd.DataFrame, provinces: pd.Series, reference: Any, year: int,
              owner: str = "institution_id") -> pd.DataFrame:
    """``rows`` (carrier, unit, use, quantity, ``owner``) with kgce and kgco2 from the reference.

    A row whose factor cannot be found keeps NaN (unknown), never 0.
    """
    out = rows.copy()
    if out.empty:
        return out.assign(kgce=pd.Series(dtype=float), kgco2=pd.Series(dtype=float))
    if "use" not in out.columns:
        out["use"] = "purchased"
    out["province"] = out[owner].map(provinces).fillna("")
    keys = out[["carrier", "unit", "province", "use"]].drop_duplicates()
    factors = build_factor_table(reference, year, keys)
    f = factors[["carrier", "unit", "province", "use", "kgce_per_unit", "kgco2_per_unit"]]
    out = out.merge(f, on=["carrier", "unit", "province", "use"], how="left")
    q = pd.to_numeric(out["quantity"], errors="coerce")
    out["kgce"] = q * pd.to_numeric(out["kgce_per_unit"], errors="coerce")
    out["kgco2"] = q * pd.to_numeric(out["kgco2_per_unit"], errors="coerce")
    return out


def bureau_account(detail: BureauYear, account: Any, reference: Any, rules: BureauRules,
                   previous: BureauYear | None = None, default_province: str = "",
                   base_figures: pd.DataFrame | None = None,
                   previous_figures: pd.DataFrame | None = None) -> BureauAccount:
    """The bureau's parts of the year's account (see :class:`BureauAccount`)."""
    year = detail.year
    comp = detail.ledgers.get("compounds", pd.DataFrame())
    inst = detail.ledgers.get("institutions", pd.DataFrame())
    provinces = pd.concat([
        inst.set_index("institution_id")["province"] if len(inst) else pd.Series(dtype=object),
        comp.set_index("compound_id")["province"] if len(comp) else pd.Series(dtype=object)])
    provinces = provinces.fillna(default_province)

    def figures_of(d: BureauYear, y: int, before: pd.DataFrame | None) -> pd.DataFrame:
        keys = d.apportionment[["carrier", "unit", "use", "compound_id"]].drop_duplicates()
        keys = keys.assign(quantity=0.0)
        f = energy_of(keys, provinces, reference, y, owner="compound_id") if len(keys) else (
            pd.DataFrame(columns=["carrier", "unit", "use", "province", "kgce_per_unit",
                                  "kgco2_per_unit"]))
        return compounds.compound_figures(d.apportionment, comp, d.basis, f,
                                          provinces=provinces, previous=before)

    prev_figures = figures_of(previous, year - 1, None) if previous is not None and len(
        comp) else None
    compound_table = figures_of(detail, year, prev_figures) if len(comp) else pd.DataFrame(
        columns=compounds.COMPOUND_FIGURES)
    excluded = detail.excluded
    if len(excluded):
        excluded = energy_of(excluded.assign(use=excluded["carrier"].map(default_use)),
                             provinces, reference, year)
        excluded["tce"] = excluded["kgce"] / 1000.0
    verdict_rows = vehicle_verdicts(detail.vehicles, detail.ledgers.get("vehicles", pd.DataFrame()),
                                    detail.ledgers.get("fuel", pd.DataFrame()), year, rules)
    fleet = vehicles.fleet_indicators(detail.vehicles) if len(detail.vehicles) else pd.DataFrame()
    return BureauAccount(year, detail, compound_table, excluded, detail.vehicles, fleet,
                         verdict_rows, base_figures, previous_figures, inst)


def excluded_summary(bureau: BureauAccount) -> pd.DataFrame:
    """Per institution: excluded area [m2] and energy [tce] with how it was found."""
    areas = bureau.detail.areas
    if areas.empty and bureau.excluded.empty:
        return pd.DataFrame(columns=["institution_id", "excluded_m2", "excluded_uses",
                                     "excluded_tce", "methods"])
    e = bureau.excluded
    tce = e.groupby("institution_id")["tce"].sum(min_count=1) if len(e) else pd.Series(
        dtype=float)
    methods = e.groupby("institution_id")["method"].agg(
        lambda m: ", ".join(sorted(set(m)))) if len(e) else pd.Series(dtype=object)
    out = areas[["institution_id", "excluded_m2", "excluded_uses"]].copy()
    out["excluded_tce"] = out["institution_id"].map(tce).astype(float)
    out["methods"] = out["institution_id"].map(methods)
    return out.reset_index(drop=True)

