"""Audit verdicts on official vehicles (公车一张网 supervision checks), one row per vehicle × check.

``vehicle_l_per_100km``
    a vehicle's L/100 km above ``vehicle_l_per_100km_ratio_limit`` (1.5) × the median of its
    type (vehicle_type) across the fleet (at least ``vehicle_min_type_peers`` vehicles of the type
    with a known L/100 km); ``unknown`` without a type, an L/100 km or enough peers.
``vehicle_fill_over_tank``
    a single fill larger than ``vehicle_fill_tank_ratio_limit`` (1.0) × the vehicle's tank_l;
    ``unknown`` without tank_l.
``vehicle_odometer_backwards``
    an odometer reading (fuel or charging record) lower than the one before it.
``vehicle_fuel_not_in_use``
    fuel bought on a day the vehicle was not in use (before in_use_from or after in_use_until).

The limits are rows of ``bureau_rules.csv`` (project defaults, confidence U: the checks are the
bureau's supervision practice, the limits were not found published). Rows have the verdict
table's core columns, kind ``audit``, plus ``plate``, ``ratio``, ``reference_value`` and
``year``; the reason is written here (it names the plate and the records).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from accounting.bureau_rules import BureauRules
from accounting.verdicts.figures import VERDICT_COLUMNS

__all__ = ["VEHICLE_EXTRA", "vehicle_verdicts"]

#: Columns after :data:`VERDICT_COLUMNS`.
VEHICLE_EXTRA = ["plate", "ratio", "reference_value", "year"]
_SOURCE = "公车一张网 supervision checks (bureau practice); limits: bureau_rules.csv, project default (U)"


def _row(inst: str, plate: str, subject: str, status: str, value: float, unit: str, reason: str,
         missing: str = "", ratio: float = np.nan, reference: float = np.nan) -> dict:
    return {"institution_id": inst, "kind": "audit", "subject": subject, "status": status,
            "value": value, "unit": unit, "coverage": np.nan, "reason": reason,
            "missing": missing, "source": _SOURCE, "plate": plate, "ratio": ratio,
            "reference_value": reference}


def vehicle_verdicts(indicators: pd.DataFrame, vehicles: pd.DataFrame, fuel: pd.DataFrame,
                     year: int, rules: BureauRules | None = None) -> pd.DataFrame:
    """The four vehicle checks of ``year``.

    Parameters
    ----------
    indicators
        :func:`accounting.vehicles.vehicle_indicators` of the year.
    vehicles, fuel
        The vehicles and fuel ledgers.
    rules
        :func:`accounting.bureau_rules.load_bureau_rules` (default: the shipped rules).

    Returns
    -------
    pandas.DataFrame
        :data:`VERDICT_COLUMNS` + :data:`VEHICLE_EXTRA`; status ``ok``, ``flag`` or ``unknown``.
    """
    rules = rules if rules is not None else BureauRules()
    rows: list[dict] = []
    ind = indicators.copy()
    fuelled = ind[~ind["fuel"].isin(["electric"])]
    known = fuelled.dropna(subset=["l_per_100km", "vehicle_type"])
    medians = known.groupby("vehicle_type")["l_per_100km"].median()
    counts = known.groupby("vehicle_type").size()
    limit = rules.l_per_100km_ratio_limit
    for v in fuelled.to_dict("records"):
        t, value = v["vehicle_type"], v["l_per_100km"]
        subject = "vehicle_l_per_100km"
        if pd.isna(t):
            rows.append(_row(v["institution_id"], v["plate"], subject, "unknown", value,
                             "L/100km", f"{v['plate']}: no vehicle_type", "vehicle_type"))
        elif pd.isna(value):
            rows.append(_row(v["institution_id"], v["plate"], subject, "unknown", value,
                             "L/100km", f"{v['plate']}: L/100 km unknown ({v['note'] or 'no fuel'})",
                             "two odometer readings with fuel between them"))
        elif counts.get(t, 0) < rules.min_type_peers:
            rows.append(_row(v["institution_id"], v["plate"], subject, "unknown", value,
                             "L/100km", f"{v['plate']}: {counts.get(t, 0)} {t} vehicle(s) with a "
                             f"known L/100 km; at least {rules.min_type_peers} needed",
                             f"L/100 km of {rules.min_type_peers} {t} vehicles"))
        else:
            median = float(medians[t])
            ratio = value / median if median > 0 else np.nan
            flag = ratio > limit
            rows.append(_row(
                v["institution_id"], v["plate"], subject, "flag" if flag else "ok", value,
                "L/100km", f"{v['plate']}: {value:.1f} L/100 km = {ratio:.2f}× the {t} median "
                f"{median:.1f} ({'above' if flag else 'within'} {limit:g}×)", ratio=ratio,
                reference=median))
    year_fuel = fuel[pd.to_datetime(fuel["date"]).dt.year == year] if len(fuel) else fuel
    by_plate = vehicles.set_index("plate") if len(vehicles) else pd.DataFrame()
    for plate, g in year_fuel.groupby("plate", sort=True):
        if plate not in by_plate.index:
            continue
        v = by_plate.loc[plate]
        inst = v["institution_id"]
        tank = v.get("tank_l")
        biggest = float(g["litres"].max())
        if pd.isna(tank):
            rows.append(_row(inst, plate, "vehicle_fill_over_tank", "unknown", biggest, "L",
                             f"{plate}: no tank_l in the vehicles ledger", "tank_l"))
        else:
            over = g[g["litres"] > rules.fill_tank_ratio_limit * tank]
            rows.append(_row(
                inst, plate, "vehicle_fill_over_tank", "flag" if len(over) else "ok", biggest, "L",
                (f"{plate}: " + "; ".join(f"{pd.Timestamp(d):%Y-%m-%d} {q:g} L" for d, q in
                                          zip(over["date"], over["litres"], strict=True))
                 + f" > tank {tank:g} L") if len(over) else
                f"{plate}: largest fill {biggest:g} L within the tank {tank:g} L",
                ratio=biggest / tank, reference=float(tank)))
        dates = pd.to_datetime(g["date"])
        start = pd.to_datetime(v.get("in_use_from"))
        end = pd.to_datetime(v.get("in_use_until"))
        outside = ((dates < start) if pd.notna(start) else False) | (
            (dates > end) if pd.notna(end) else False)
        outside = np.asarray(outside, dtype=bool) if not isinstance(outside, bool) else np.zeros(
            len(g), dtype=bool)
        bad = g[outside]
        rows.append(_row(
            inst, plate, "vehicle_fuel_not_in_use", "flag" if len(bad) else "ok",
            float(bad["litres"].sum()), "L",
            (f"{plate}: fuel on " + ", ".join(f"{pd.Timestamp(d):%Y-%m-%d}" for d in bad["date"])
             + f" outside its use {_span(start, end)}") if len(bad)
            else f"{plate}: every fill within its use {_span(start, end)}"))
    for v in ind.to_dict("records"):
        if v["odometer_readings"] < 2:
            continue
        back = bool(v["odometer_backwards"])
        rows.append(_row(v["institution_id"], v["plate"], "vehicle_odometer_backwards",
                         "flag" if back else "ok", float(v["odometer_readings"]), "readings",
                         f"{v['plate']}: " + ("an odometer reading lower than the one before it"
                                              if back else "odometer readings rise")))
    out = pd.DataFrame(rows, columns=[*VERDICT_COLUMNS, *VEHICLE_EXTRA])
    out["year"] = year
    return out


def _span(start: pd.Timestamp, end: pd.Timestamp) -> str:
    a = f"{start:%Y-%m-%d}" if pd.notna(start) else "…"
    b = f"{end:%Y-%m-%d}" if pd.notna(end) else "…"
    return f"{a} – {b}"
