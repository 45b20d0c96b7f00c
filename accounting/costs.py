"""What each carrier cost an institution in a year (费用, 元), where the ledgers know it.

Costs come from two ledgers:

* bills (``cost_cny``): a bill is split over calendar months by day fraction exactly as its
  quantity is (:func:`accounting.bills.spread_bills`), so a bill spanning two years gives each
  year the cost of its days in it;
* fuel-card records (``cost_cny``) of official vehicles, by the vehicle's institution.

Meters read quantities, never money: a carrier's cost is **known** only when the whole of the
year's quantity of it (as accounted, ``AnnualAccount.carriers``) is on bills or fuel-card
records with a cost. Otherwise its cost is unknown (NaN, shown blank, never 0), with the reason:
``metered`` (part of the quantity is metered and no bill gives its cost) or
``bill_without_cost`` (a bill or fuel record of the year has no cost_cny) or ``no_data`` (no
meter reading, bill or record of a carrier every institution uses, electricity and water, or of
one whose meters read nothing). A carrier the institution did not use costs 0.

On-site PV generation (``pv``) is not bought: it has no cost and is left out. Costs are in 元 as
billed (tax included or not, as the bills are).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from accounting import units
from accounting.bills import bills_touching, spread_bills

__all__ = ["COST_CARRIERS", "annual_costs", "billed_costs", "cost_summary"]

#: Carriers whose cost the statistics form asks for (form 公共机构能源资源消费状况 of the
#: 公共机构能源资源消费统计调查制度: 电, 水, 煤, 天然气, 液化石油气, 汽油, 柴油, 热力), in the
#: form's order.
COST_CARRIERS = ("electricity", "water", "coal", "natural_gas", "lpg", "gasoline", "diesel", "heat")

#: Relative tolerance when comparing the costed quantity with the accounted one (float sums).
_TOLERANCE = 1e-9

_BILLED_COLUMNS = ["institution_id", "carrier", "unit", "costed_quantity", "uncosted_quantity",
                   "cost_cny"]
_KEY_COLUMNS = ("institution_id", "carrier", "unit")


def billed_costs(bills: pd.DataFrame, fuel: pd.DataFrame, vehicles: pd.DataFrame,
                 year: int) -> pd.DataFrame:
    """The year's share of every bill and fuel-card record, per institution × carrier × unit.

    Parameters
    ----------
    bills, fuel, vehicles
        The ledgers as ``LedgerStore.table`` returns them (bills: institution_id, carrier,
        period_start, period_end, quantity, unit, cost_cny; fuel: date, plate, fuel, litres,
        cost_cny; vehicles: plate, institution_id).
    year
        The accounting year.

    Returns
    -------
    pandas.DataFrame
        institution_id, carrier, unit (canonical), costed_quantity (quantity on bills/records
        with a cost) [unit], uncosted_quantity (on those without) [unit], cost_cny [元].
    """
    parts = []
    months = spread_bills(bills_touching(bills, year))
    if len(months):
        months = units.to_canonical_frame(months[months["month"].dt.year == year])
        parts.append(months[["institution_id", "carrier", "unit", "quantity", "cost_cny"]])
    if len(fuel) and len(vehicles):
        f = fuel[pd.to_datetime(fuel["date"]).dt.year == year]
        f = f.merge(vehicles[["plate", "institution_id"]], on="plate", how="inner")
        parts.append(pd.DataFrame({
            "institution_id": f["institution_id"], "carrier": f["fuel"], "unit": "L",
            "quantity": f["litres"].astype(float), "cost_cny": pd.to_numeric(f["cost_cny"]),
        }))
    parts = [p for p in parts if len(p)]
    if not parts:
        # Typed columns: untyped (object) ones would stay object after the merge in annual_costs.
        return pd.DataFrame({c: pd.Series(dtype=object if c in _KEY_COLUMNS else float)
                             for c in _BILLED_COLUMNS})
    rows = pd.concat(parts, ignore_index=True)
    has_cost = rows["cost_cny"].notna()
    rows = rows.assign(
        costed_quantity=rows["quantity"].where(has_cost, 0.0),
        uncosted_quantity=rows["quantity"].where(~has_cost, 0.0),
        cost_cny=rows["cost_cny"].fillna(0.0),
    )
    return rows.groupby(["institution_id", "carrier", "unit"], as_index=False)[
        ["costed_quantity", "uncosted_quantity", "cost_cny"]].sum()


def annual_costs(carriers: pd.DataFrame, billed: pd.DataFrame,
                 institution_ids: list[str],
                 missing_carriers: pd.Series | None = None) -> pd.DataFrame:
    """Each institution's cost of each of :data:`COST_CARRIERS`, known or not.

    Parameters
    ----------
    carriers
        ``AnnualAccount.carriers``: institution_id, carrier, unit, quantity (columns may be
        categorical).
    billed
        :func:`billed_costs` of the same year.
    institution_ids
        The institutions to report (one row per institution × carrier).
    missing_carriers
        institution_id → the carriers without any data, comma-separated, "*" for all
        (``AnnualAccount.figures["missing_carriers"]``): their quantity and cost are unknown,
        status ``no_data``, never 0.

    Returns
    -------
    pandas.DataFrame
        institution_id, carrier, quantity [canonical unit] (NaN when unknown), cost_cny [元]
        (NaN when unknown), status: ``known``, ``none`` (not used: cost 0), ``metered``,
        ``bill_without_cost`` or ``no_data``.
    """
    accounted = _plain_keys(carriers[["institution_id", "carrier", "unit", "quantity"]])
    accounted = accounted.groupby(["institution_id", "carrier", "unit"], as_index=False)[
        "quantity"].sum()
    lines = accounted.merge(_plain_keys(billed), on=["institution_id", "carrier", "unit"],
                            how="outer")
    lines = lines.fillna({"quantity": 0.0, "costed_quantity": 0.0, "uncosted_quantity": 0.0,
                          "cost_cny": 0.0})
    lines = lines[lines["carrier"].isin(COST_CARRIERS)]
    short = lines["quantity"] - lines["costed_quantity"]
    uncovered = short > _TOLERANCE * lines["quantity"].abs() + 1e-9
    lines = lines.assign(
        status=np.where(~uncovered, "known",
                        np.where(lines["uncosted_quantity"] > 0, "bill_without_cost", "metered")))
    # Per carrier (over its units): unknown when any unit's is; the first unknown reason wins.
    rank = {"bill_without_cost": 2, "metered": 1, "known": 0}
    lines["rank"] = lines["status"].map(rank)
    per_carrier = lines.groupby(["institution_id", "carrier"], as_index=False).agg(
        quantity=("quantity", "sum"), cost_cny=("cost_cny", "sum"), rank=("rank", "max"))
    grid = pd.MultiIndex.from_product([list(institution_ids), list(COST_CARRIERS)],
                                      names=["institution_id", "carrier"]).to_frame(index=False)
    out = grid.merge(per_carrier, on=["institution_id", "carrier"], how="left")
    status_of = {v: k for k, v in rank.items()}
    used = out["rank"].notna()
    out["status"] = np.where(used, out["rank"].map(status_of), "none")
    out["quantity"] = out["quantity"].fillna(0.0)
    out["cost_cny"] = np.where(out["status"].isin(["known"]), out["cost_cny"],
                               np.where(out["status"] == "none", 0.0, np.nan))
    if missing_carriers is not None and len(out):
        lacking = out["institution_id"].map(
            missing_carriers.rename(index=str).fillna("")).fillna("")
        no_data = [text == "*" or carrier in text.split(",")
                   for text, carrier in zip(lacking, out["carrier"], strict=True)]
        out.loc[no_data, ["quantity", "cost_cny"]] = np.nan
        out.loc[no_data, "status"] = "no_data"
    return out[["institution_id", "carrier", "quantity", "cost_cny", "status"]]


def cost_summary(costs: pd.DataFrame) -> pd.DataFrame:
    """Per institution: the total cost when every carrier's is known, and what is known.

    Returns
    -------
    pandas.DataFrame
        Indexed by institution_id: cost_total_cny [元] (NaN when a carrier's cost is unknown),
        cost_known_cny (sum of the known costs) [元], unknown (list of (carrier, status)).
    """
    rows = {}
    for inst, group in costs.groupby("institution_id", sort=False):
        unknown = group[group["cost_cny"].isna()]
        known = float(group["cost_cny"].sum(min_count=1)) if group["cost_cny"].notna().any() else 0.0
        rows[inst] = {
            "cost_total_cny": np.nan if len(unknown) else known,
            "cost_known_cny": known,
            "unknown": list(zip(unknown["carrier"], unknown["status"], strict=True)),
        }
    return pd.DataFrame.from_dict(rows, orient="index",
                                  columns=["cost_total_cny", "cost_known_cny", "unknown"])


def _plain_keys(frame: pd.DataFrame) -> pd.DataFrame:
    """Key columns as plain text (a categorical key would make the merges and groupbys below
    produce every category combination)."""
    out = frame.copy()
    for column in ("institution_id", "carrier", "unit"):
        if column in out.columns:
            out[column] = out[column].astype(str)
    return out
