"""The statistical boundary (统计边界): leased-out and residential space is not the institution's.

A building, or part of one entered as its own row of the buildings ledger (an "area row": a
leased floor, family housing), carries a ``use``: office (the default), leased_out, residential,
commercial or other. Uses marked ``outside_boundary:<use> = 1`` in ``bureau_rules.csv``
(leased_out and residential: the 国管局 article on the accounting boundary deducts family housing
and leased-out space; the building-area definition of the statistics excludes space leased or lent
out and houses paid by occupants) are outside the boundary:

* their floor area leaves the denominators (:func:`inside_buildings`);
* their energy leaves the figures: **separately** where a meter or a bill is on that row's
  building_id (:func:`split_separate`: those rows are dropped, quantity exact); otherwise, per
  carrier, **by area share** (:func:`estimate_outside`): the institution's quantities of that
  carrier (vehicle fuel, use ``mobile``, excluded) are scaled by its inside area ÷ its whole area,
  and the part removed is marked ``estimate`` with the rule named.

A meter on an area row measures that area only and is not inside another row's meter; a main
meter that also feeds the leased floor is the "not separate" case (area share).

Excluding space never raises an institution's energy: rows are dropped or scaled by a factor in
[0, 1]. Pure functions over pandas.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import numpy as np
import pandas as pd

from accounting.buildings import buildings_in_use

__all__ = ["EXCLUDED_COLUMNS", "boundary_areas", "estimate_outside", "excluded_separate",
           "inside_buildings",
           "outside_mask", "split_separate"]

#: Columns of the excluded-energy table: one row per institution × carrier × unit × method.
EXCLUDED_COLUMNS = ["institution_id", "carrier", "unit", "method", "quantity", "excluded_m2",
                    "whole_m2", "share", "rule"]

_ESTIMATE_RULE = "area share: quantity × outside area ÷ whole area (no separate meter or bill)"
_SEPARATE_RULE = "separately metered or billed on the outside area's building_id"


def outside_mask(buildings: pd.DataFrame, outside_uses: Iterable[str]) -> np.ndarray:
    """True for each building row whose ``use`` is outside the boundary (blank = office)."""
    if "use" not in buildings.columns:
        return np.zeros(len(buildings), dtype=bool)
    return buildings["use"].isin(list(outside_uses)).to_numpy()


def inside_buildings(buildings: pd.DataFrame, outside_uses: Iterable[str]) -> pd.DataFrame:
    """The buildings ledger without the rows outside the boundary (for floor areas)."""
    return buildings[~outside_mask(buildings, outside_uses)]


def boundary_areas(buildings: pd.DataFrame, year: int, outside_uses: Iterable[str],
                   as_of: dt.date | None = None) -> pd.DataFrame:
    """Per institution: whole, inside and excluded floor area of ``year`` [m2].

    Returns
    -------
    pandas.DataFrame
        institution_id, whole_m2, inside_m2, excluded_m2, excluded_uses (text, e.g.
        "leased_out 800 m2"), for institutions with any excluded area.
    """
    cols = ["institution_id", "whole_m2", "inside_m2", "excluded_m2", "excluded_uses"]
    used = buildings_in_use(buildings, year, as_of) if len(buildings) else buildings
    if used.empty:
        return pd.DataFrame(columns=cols)
    out_mask = outside_mask(used, outside_uses)
    if not out_mask.any():
        return pd.DataFrame(columns=cols)
    area = pd.to_numeric(used["floor_area_m2"], errors="coerce")
    frame = pd.DataFrame({"institution_id": used["institution_id"].to_numpy(),
                          "area": area.to_numpy(), "outside": out_mask,
                          "use": used["use"].to_numpy()})
    rows = []
    for inst, g in frame.groupby("institution_id", sort=True):
        if not g["outside"].any():
            continue
        excluded = g.loc[g["outside"], "area"].sum(min_count=1)
        whole = g["area"].sum(min_count=1)
        uses = g[g["outside"]].groupby("use")["area"].sum()
        rows.append({"institution_id": inst, "whole_m2": whole, "inside_m2": whole - excluded,
                     "excluded_m2": excluded,
                     "excluded_uses": ", ".join(f"{u} {a:g} m2" for u, a in uses.items())})
    return pd.DataFrame(rows, columns=cols)


def split_separate(buildings: pd.DataFrame, outside_uses: Iterable[str],
                   metered: pd.DataFrame, billed: pd.DataFrame
                   ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Drop the meters' and bills' rows on buildings outside the boundary.

    Parameters
    ----------
    metered
        Metered months per building (``accounting.metered.METERED_COLUMNS``).
    billed
        The bills ledger (building_id optional).

    Returns
    -------
    metered, billed
        Without the rows on outside buildings.
    separate
        institution_id, carrier, source ("meter" or "bill"), building_id: what was dropped
        (the quantities follow from the dropped rows; see :func:`excluded_separate`).
    """
    outside_ids = set(buildings.loc[outside_mask(buildings, outside_uses), "building_id"])
    empty = pd.DataFrame(columns=["institution_id", "carrier", "source", "building_id"])
    if not outside_ids:
        return metered, billed, empty
    m_out = metered["building_id"].isin(outside_ids) if len(metered) else pd.Series(
        False, index=metered.index)
    b_out = (billed["building_id"].isin(outside_ids) if len(billed) and "building_id" in
             billed.columns else pd.Series(False, index=billed.index))
    dropped = pd.concat([
        metered.loc[m_out, ["institution_id", "carrier", "building_id"]].assign(source="meter"),
        billed.loc[b_out, ["institution_id", "carrier", "building_id"]].assign(source="bill"),
    ], ignore_index=True).drop_duplicates()
    return metered[~m_out], billed[~b_out], dropped.reindex(columns=empty.columns)


def estimate_outside(consumption: pd.DataFrame, areas: pd.DataFrame,
                     separate: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Scale each institution's carriers without a separate meter or bill by its inside area share.

    Parameters
    ----------
    consumption
        The monthly consumption table (after :func:`split_separate`).
    areas
        :func:`boundary_areas` of the year.
    separate
        :func:`split_separate`'s third result: institution × carrier pairs metered or billed
        separately (those are not scaled).

    Returns
    -------
    consumption
        The table with quantities scaled by inside ÷ whole area (rows of use ``mobile``, and
        ``apportioned`` rows, untouched).
    estimates
        :data:`EXCLUDED_COLUMNS` with method ``estimate``: quantity removed per institution ×
        carrier × unit.
    """
    if areas is None or areas.empty or consumption.empty:
        return consumption, pd.DataFrame(columns=EXCLUDED_COLUMNS)
    a = areas.set_index("institution_id")
    whole = consumption["institution_id"].map(a["whole_m2"]).to_numpy(dtype=float)
    excluded = consumption["institution_id"].map(a["excluded_m2"]).to_numpy(dtype=float)
    sep = set(zip(separate["institution_id"], separate["carrier"], strict=True)) if len(
        separate) else set()
    is_sep = np.array([(i, c) in sep for i, c in zip(consumption["institution_id"],
                                                     consumption["carrier"], strict=True)],
                      dtype=bool)
    scale_rows = (~np.isnan(whole) & (whole > 0) & ~is_sep
                  & (consumption["use"] != "mobile").to_numpy()
                  & (consumption["source"] != "apportioned").to_numpy())
    share = np.where(scale_rows, np.clip(np.nan_to_num(excluded) / np.where(whole > 0, whole, 1),
                                         0.0, 1.0), 0.0)
    quantity = consumption["quantity"].to_numpy(dtype=float)
    removed = quantity * share
    out = consumption.copy()
    out["quantity"] = quantity - removed
    if not scale_rows.any():
        return out, pd.DataFrame(columns=EXCLUDED_COLUMNS)
    r = pd.DataFrame({"institution_id": consumption["institution_id"].to_numpy()[scale_rows],
                      "carrier": consumption["carrier"].to_numpy()[scale_rows],
                      "unit": consumption["unit"].to_numpy()[scale_rows],
                      "quantity": removed[scale_rows]})
    est = r.groupby(["institution_id", "carrier", "unit"], as_index=False)["quantity"].sum(
        min_count=1)
    est["method"] = "estimate"
    est["excluded_m2"] = est["institution_id"].map(a["excluded_m2"]).astype(float)
    est["whole_m2"] = est["institution_id"].map(a["whole_m2"]).astype(float)
    est["share"] = est["excluded_m2"] / est["whole_m2"]
    est["rule"] = _ESTIMATE_RULE
    return out, est[EXCLUDED_COLUMNS]


def excluded_separate(dropped_consumption: pd.DataFrame, areas: pd.DataFrame) -> pd.DataFrame:
    """The separately metered or billed energy left out, per institution × carrier × unit.

    ``dropped_consumption`` is the monthly consumption table made of the dropped rows only.
    """
    if dropped_consumption is None or dropped_consumption.empty:
        return pd.DataFrame(columns=EXCLUDED_COLUMNS)
    d = dropped_consumption.groupby(["institution_id", "carrier", "unit"], as_index=False)[
        "quantity"].sum(min_count=1)
    a = areas.set_index("institution_id") if len(areas) else pd.DataFrame(
        columns=["excluded_m2", "whole_m2"])
    d["method"] = "separate"
    d["excluded_m2"] = d["institution_id"].map(a["excluded_m2"]).astype(float)
    d["whole_m2"] = d["institution_id"].map(a["whole_m2"]).astype(float)
    d["share"] = np.nan
    d["rule"] = _SEPARATE_RULE
    return d[EXCLUDED_COLUMNS]


