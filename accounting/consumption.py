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
from accounting.bills import SEASONAL_CARRIERS
from accounting.codes import text_codes
from accounting.ledgers import LedgerStore
from accounting.metered import FINDING_COLUMNS, METERED_COLUMNS, monthly_metered_with_findings
from accounting.settings import AccountingConfig
from jieneng.vocabulary import CONSUMPTION_COLUMNS as VOCABULARY_CONSUMPTION_COLUMNS
from storage import open_store

__all__ = ["CONSUMPTION_COLUMNS", "INPUT_LEDGERS", "Inputs", "annual_inputs",
           "metered_to_consumption", "read_input_ledgers"]

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


#: The ledgers :func:`annual_inputs` reads.
INPUT_LEDGERS = ("institutions", "buildings", "headcount", "vehicles", "fuel", "facilities",
                 "bills")


def read_input_ledgers(settings: AccountingConfig) -> dict[str, pd.DataFrame]:
    """The ledgers of :data:`INPUT_LEDGERS`, read once (for several years' inputs)."""
    ledgers = LedgerStore(settings.resolve(settings.accounting.ledger_path))
    return {kind: ledgers.table(kind) for kind in INPUT_LEDGERS}


def annual_inputs(settings: AccountingConfig, year: int, store: Any = None,
                  ledgers: dict[str, pd.DataFrame] | None = None) -> Inputs:
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
    ledgers
        :func:`read_input_ledgers`, when the caller has read them already (several years).
    """
    tables = read_input_ledgers(settings) if ledgers is None else ledgers

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
    """The bills ledger → monthly rows of ``year`` in canonical units (source ``bill``).

    The result is that of :func:`accounting.bills.spread_bills` (by day fraction),
    :func:`accounting.units.to_canonical_frame` and :func:`accounting.bills.bill_coverage`
    summed per institution × carrier × use × month, computed on integer codes: each text
    (institution, carrier, unit, use, account) is coded once per distinct value, not per bill
    or month, so half a million bills take a fraction of a second.
    """
    b = bills  # (a bill outside the year gets no month below)
    if b.empty:
        return pd.DataFrame(columns=CONSUMPTION_COLUMNS)
    start = pd.to_datetime(b["period_start"]).to_numpy(dtype="datetime64[D]")
    end = pd.to_datetime(b["period_end"]).to_numpy(dtype="datetime64[D]")
    if (end < start).any():
        bad = int(np.flatnonzero(end < start)[0])
        raise ValueError(f"bill row {b.index[bad]}: period_end {end[bad]} is before "
                         "period_start")
    # Texts are coded by runs (accounting.codes.text_codes: a ledger holds an institution's
    # bills together, so only the first of each run of equal values is hashed).
    inst_coded = text_codes(b["institution_id"])
    order = np.argsort(inst_coded.names.astype(str), kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    inst, inst_names = rank[inst_coded.codes], inst_coded.names[order]
    use_column = b["use"] if "use" in b.columns else pd.Series(None, index=b.index)
    if use_column.isna().any():
        use_column = use_column.where(use_column.notna(), b["carrier"].map(_default_bill_use))
    # A line: carrier × unit × use, coded from each column's codes (no tuple is hashed).
    coded = [text_codes(column) for column in (b["carrier"], b["unit"], use_column)]
    combined = np.zeros(len(b), dtype=np.int64)
    for codes, names in coded:
        combined = combined * len(names) + codes
    distinct, line = _dense_unique(combined)
    lines = []
    for value in distinct:
        parts = []
        for _codes, names in reversed(coded):
            value, code = divmod(int(value), len(names))
            parts.append(names[code])
        lines.append(tuple(reversed(parts)))
    account = (b["account"].fillna("").astype(str) if "account" in b.columns
               else pd.Series("", index=b.index))
    acct = text_codes(account).codes
    # Per line (carrier × unit × use, a handful): the canonical scale and names.
    line_carrier = np.array([c for c, _, _ in lines], dtype=object)
    line_scale = np.array([units.unit_scale(c, u) for c, u, _ in lines], dtype=float)
    out_line, out_lines = pd.factorize(pd.MultiIndex.from_arrays(
        [line_carrier, np.array([u for _, _, u in lines], dtype=object)]), sort=True)
    seasonal = np.array([c in SEASONAL_CARRIERS for c, _ in out_lines], dtype=bool)

    # Spread by day fraction over the months of ``year`` only (0-11), on integer day and month
    # numbers: a month's first day comes from a 13-entry table, not from a date per piece.
    start_day, end_day = start.astype(np.int64), end.astype(np.int64)
    year_month = (year - 1970) * 12
    first = np.maximum(start.astype("datetime64[M]").astype(np.int64), year_month)
    last = np.minimum(end.astype("datetime64[M]").astype(np.int64), year_month + 11)
    n_months = np.maximum(last - first + 1, 0)
    total_days = end_day - start_day + 1
    bill = np.repeat(np.arange(len(b)), n_months)
    step = np.arange(len(bill)) - np.repeat(np.cumsum(n_months) - n_months, n_months)
    month_index = first[bill] - year_month + step
    month_day = (np.datetime64(f"{year}-01", "M") + np.arange(13).astype("timedelta64[M]")
                 ).astype("datetime64[D]").astype(np.int64)
    days = (np.minimum(month_day[month_index + 1] - 1, end_day[bill])
            - np.maximum(month_day[month_index], start_day[bill]) + 1)
    in_month = np.diff(month_day)[month_index]
    quantity = (b["quantity"].to_numpy(dtype=float)[bill] * line_scale[line[bill]]
                * days / total_days[bill])

    # Group: institution × output line (carrier × use) × month.
    n_out = len(out_lines)
    piece_line = out_line[line[bill]]
    group = (inst[bill] * n_out + piece_line) * 12 + month_index
    keys, inverse = _dense_unique(group)
    sums = np.bincount(inverse, weights=quantity, minlength=len(keys))
    # Coverage: per account, its days in the month ÷ the month's days (at most 1; a seasonal
    # carrier's bill covers every month it touches); the accounts of a group averaged.
    n_acct = int(acct.max()) + 1
    pair, pair_of = _dense_unique((acct[bill] * n_out + piece_line) * 12 + month_index)
    pair_group = np.empty(len(pair), dtype=np.int64)
    pair_group[pair_of] = inverse
    if not (pair_group[pair_of] == inverse).all():
        # An account billed to two institutions: pairs of group × account, sorted.
        pair, pair_of = np.unique(inverse.astype(np.int64) * n_acct + acct[bill],
                                  return_inverse=True)
        pair_group = pair // n_acct
    pair_days = np.bincount(pair_of, weights=days, minlength=len(pair))
    pair_in_month = np.zeros(len(pair))
    pair_in_month[pair_of] = in_month
    share = np.minimum(pair_days / pair_in_month, 1.0)
    key_line = (keys // 12) % n_out
    share = np.where(seasonal[key_line[pair_group]], 1.0, share)
    coverage = (np.bincount(pair_group, weights=share, minlength=len(keys))
                / np.bincount(pair_group, minlength=len(keys)))
    carrier_names = np.array([c for c, _ in out_lines], dtype=object)
    use_names = np.array([u for _, u in out_lines], dtype=object)
    return pd.DataFrame({
        "institution_id": np.asarray(inst_names, dtype=object)[keys // 12 // n_out],
        "month": (keys % 12 + 1).astype(np.int64),
        "carrier": carrier_names[key_line],
        "unit": np.array([units.CANONICAL_UNITS[c] for c in carrier_names],
                         dtype=object)[key_line],
        "quantity": sums, "use": use_names[key_line], "source": "bill",
        "coverage": coverage, "estimated_share": 0.0,
    })[CONSUMPTION_COLUMNS]


def _dense_unique(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(values, return_inverse=True)`` for non-negative integers, by counting when
    their range is small (no sort of the values), else by sorting."""
    if len(values) == 0:
        return values, values
    top = int(values.max()) + 1
    if top > 8 * len(values) + 1_000_000:
        return np.unique(values, return_inverse=True)
    present = np.bincount(values, minlength=top) > 0
    distinct = np.flatnonzero(present)
    position = np.cumsum(present) - 1
    return distinct, position[values]


def _default_bill_use(carrier: str) -> str:
    """How a bill's carrier is used when the ledger frame has no use (the ledger fills it)."""
    if carrier == "pv":
        return "generation"
    return "purchased" if carrier in ("electricity", "heat", "water") else "stationary"


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
