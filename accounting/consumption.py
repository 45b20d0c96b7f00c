"""The inputs of one accounting year: ledgers plus one monthly consumption table.

:func:`annual_inputs` gathers what the engine needs for a year:

* the ledgers (institutions, buildings, headcount, vehicles, fuel-card records, facilities);
* the **monthly consumption table**, one row per institution × month × carrier × use × source:
  institution_id, month (1–12), carrier, unit (canonical, see :mod:`accounting.units`), quantity,
  use (``purchased``, ``stationary``, ``mobile``, ``generation``, ``green``), source (``meter``,
  ``bill``, ``fuel_card``), coverage (share of the month measured or billed), estimated_share.

Sources:

meter
    :func:`accounting.metered.monthly_metered`. Within one building and carrier, meters on a
    top-level code (01000 total electricity, 02000 water, 03000 gas, 04000 heat) are the total;
    sub-item meters (01A00 照明插座 ...) only count when the building has no top-level meter, so
    nothing is counted twice.
bill
    The bills ledger spread over months by day fraction (:func:`accounting.bills.spread_bills`);
    coverage = share of the month's days billed.
fuel_card
    Fuel-card records of official vehicles, use ``mobile``; coverage 1 for a month with records.

Metered and billed consumption of the same institution and carrier are added: bills are for what
no meter reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from accounting import units
from accounting.bills import bill_coverage, spread_bills
from accounting.ledgers import LedgerStore
from accounting.metered import FINDING_COLUMNS, METERED_COLUMNS, monthly_metered_with_findings
from accounting.settings import AccountingConfig
from jieneng.vocabulary import CONSUMPTION_COLUMNS as VOCABULARY_CONSUMPTION_COLUMNS
from storage import open_store

__all__ = ["CONSUMPTION_COLUMNS", "Inputs", "annual_inputs", "metered_to_consumption"]

#: Columns of the monthly consumption table (the vocabulary's, as a list for frame indexing).
CONSUMPTION_COLUMNS = list(VOCABULARY_CONSUMPTION_COLUMNS)

#: How metered consumption of a carrier is used.
_METERED_USE = {
    "electricity": "purchased", "heat": "purchased", "water": "purchased",
    "natural_gas": "stationary", "pv": "generation",
}


@dataclass
class Inputs:
    """Everything the engine needs for one year. Ledger frames are as ``LedgerStore.table``."""

    year: int
    institutions: pd.DataFrame
    buildings: pd.DataFrame
    headcount: pd.DataFrame
    vehicles: pd.DataFrame
    fuel: pd.DataFrame
    facilities: pd.DataFrame
    consumption: pd.DataFrame
    #: Metered detail per building and sub-item (:data:`accounting.metered.METERED_COLUMNS`).
    metered: pd.DataFrame
    #: Counter findings of the year (:data:`accounting.metered.FINDING_COLUMNS`).
    findings: pd.DataFrame


def annual_inputs(settings: AccountingConfig, year: int, store: Any = None) -> Inputs:
    """Gather the ledgers and the monthly consumption table of a year.

    Parameters
    ----------
    settings
        The deployment's settings (ledger path, meters, time zone).
    year
        The accounting year.
    store
        A ``storage.TimeSeriesStore``; when None and meters are configured, the store is opened
        with ``storage.open_store(settings)`` and closed again.
    """
    ledgers = LedgerStore(settings.resolve(settings.accounting.ledger_path))
    tables = {kind: ledgers.table(kind) for kind in (
        "institutions", "buildings", "headcount", "vehicles", "fuel", "facilities", "bills",
    )}

    metered = pd.DataFrame(columns=METERED_COLUMNS)
    findings = pd.DataFrame(columns=FINDING_COLUMNS)
    if settings.meters:
        own = store is None
        if own:
            store = open_store(settings)
        try:
            metered, findings = monthly_metered_with_findings(store, settings, year)
        finally:
            if own:
                store.close()

    parts = [
        metered_to_consumption(metered),
        bills_to_consumption(tables["bills"], year),
        fuel_to_consumption(tables["fuel"], tables["vehicles"], year),
    ]
    parts = [p for p in parts if not p.empty]
    consumption = (
        pd.concat(parts, ignore_index=True)[CONSUMPTION_COLUMNS] if parts
        else pd.DataFrame(columns=CONSUMPTION_COLUMNS)
    )
    return Inputs(
        year=year, institutions=tables["institutions"], buildings=tables["buildings"],
        headcount=tables["headcount"], vehicles=tables["vehicles"], fuel=tables["fuel"],
        facilities=tables["facilities"], consumption=consumption, metered=metered,
        findings=findings,
    )


def _is_top_level(subitem: pd.Series) -> pd.Series:
    return subitem.astype(str).str.endswith("000")


def metered_to_consumption(metered: pd.DataFrame) -> pd.DataFrame:
    """Per-building, per-sub-item metered months → institution × carrier × month rows.

    A building's top-level meters are its total; its sub-item meters count only when it has none.
    """
    if metered.empty:
        return pd.DataFrame(columns=CONSUMPTION_COLUMNS)
    m = metered.copy()
    m["top"] = _is_top_level(m["subitem"])
    has_top = m.groupby(["institution_id", "building_id", "carrier"])["top"].transform("any")
    m = m[m["top"] | ~has_top]
    out = m.groupby(["institution_id", "carrier", "month"], as_index=False).agg(
        quantity=("quantity", "sum"),
        estimated_quantity=("estimated_quantity", "sum"),
        coverage=("coverage", "mean"),
        unit=("unit", "first"),
    )
    out["estimated_share"] = _share(out["estimated_quantity"], out["quantity"])
    out["use"] = out["carrier"].map(_METERED_USE).fillna("purchased")
    out["source"] = "meter"
    return out[CONSUMPTION_COLUMNS]


def bills_to_consumption(bills: pd.DataFrame, year: int) -> pd.DataFrame:
    """The bills ledger → monthly rows of ``year`` in canonical units (source ``bill``)."""
    months = spread_bills(bills)
    months = months[months["month"].dt.year == year] if not months.empty else months
    if months.empty:
        return pd.DataFrame(columns=CONSUMPTION_COLUMNS)
    months = units.to_canonical_frame(months)
    coverage = bill_coverage(months)
    out = months.groupby(["institution_id", "carrier", "use", "month"], as_index=False).agg(
        quantity=("quantity", "sum"), unit=("unit", "first")
    )
    out = out.merge(coverage, on=["institution_id", "carrier", "use", "month"], how="left")
    out["month"] = out["month"].dt.month
    out["source"] = "bill"
    out["estimated_share"] = 0.0
    return out[CONSUMPTION_COLUMNS]


def fuel_to_consumption(fuel: pd.DataFrame, vehicles: pd.DataFrame, year: int) -> pd.DataFrame:
    """Fuel-card records of ``year`` → monthly vehicle fuel per institution (use ``mobile``)."""
    if fuel.empty:
        return pd.DataFrame(columns=CONSUMPTION_COLUMNS)
    f = fuel[pd.to_datetime(fuel["date"]).dt.year == year]
    f = f.merge(vehicles[["plate", "institution_id"]], on="plate", how="inner")
    if f.empty:
        return pd.DataFrame(columns=CONSUMPTION_COLUMNS)
    f = f.assign(month=pd.to_datetime(f["date"]).dt.month, carrier=f["fuel"])
    out = f.groupby(["institution_id", "carrier", "month"], as_index=False).agg(
        quantity=("litres", "sum")
    )
    out["unit"] = "L"
    out["use"] = "mobile"
    out["source"] = "fuel_card"
    out["coverage"] = 1.0
    out["estimated_share"] = 0.0
    return out[CONSUMPTION_COLUMNS]


def _share(part: pd.Series, whole: pd.Series) -> np.ndarray:
    whole_safe = whole.where(whole > 0, 1.0)
    return np.where(whole > 0, part / whole_safe, 0.0)
