"""``jieneng account``, ``jieneng report`` and ``jieneng import <ledger>``.

The handlers load what a year needs (ledgers, the store's metered months, reference data), hand
it to :func:`accounting.engine.account_year`, and print or write the result. :func:`compute_account`
is the one place that gathers a year's inputs; the dashboard may call it too.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import sys
from typing import Any

import pandas as pd

from accounting import engine
from accounting.errors import AccountingError, LedgerImportError
from accounting.settings import AccountingConfig

__all__ = ["account_json", "account_main", "compute_account", "import_ledger_main", "report_main"]

#: 十四五 base year: the institution's own value of this year is its baseline.
FYP14_BASE_YEAR = 2020

EXIT_BAD_INPUT = 2
EXIT_FAILED = 1


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def compute_account(settings: AccountingConfig, year: int, store: Any = None,
                    progress: bool = False) -> engine.AnnualAccount:
    """Everything about one year: figures, carriers, factors and verdicts of every institution.

    Parameters
    ----------
    settings
        The deployment's settings.
    year
        The accounting year.
    store
        A ``storage.TimeSeriesStore``; opened from the settings (and closed) when None and meters
        are configured.
    progress
        Print what is being done to stderr.

    Raises
    ------
    AccountingError
        For bad reference data or ledgers; ``storage.StorageError`` when the store is unreachable.
    """
    from accounting.consumption import annual_inputs
    from accounting.ledgers import LedgerStore
    from accounting.reference_data import load_reference

    say = _progress if progress else (lambda _message: None)
    reference = load_reference(settings.accounting, settings.base_dir)
    own_store = store is None and bool(settings.meters)
    if own_store:
        from storage import open_store

        store = open_store(settings)
    try:
        years = sorted({year, year - 1, FYP14_BASE_YEAR})
        today = _today(settings)  # the current year's floor area is today's, not year-end's
        profiles, consumption = {}, {}
        for y in years:
            say(f"accounting {y}: reading ledgers and metered months …")
            inputs = annual_inputs(settings, y, store)
            consumption[y] = inputs.consumption
            profiles[y] = engine.institution_profile(
                inputs.institutions, inputs.buildings, inputs.headcount, y,
                extra_ids=inputs.consumption["institution_id"].unique(),
                default_province=settings.site.province, as_of=today,
            )
    finally:
        if own_store:
            store.close()
    figures = {}
    for y in years:
        if y != year:
            say(f"accounting {y}: figures (for comparison with {year}) …")
            figures[y] = engine.account_figures(consumption[y], profiles[y], reference, y)[2]
    bills = LedgerStore(settings.resolve(settings.accounting.ledger_path)).table("bills")
    say(f"accounting {year}: figures and verdicts …")
    base = figures.get(FYP14_BASE_YEAR)
    return engine.account_year(
        year, consumption[year], profiles[year], reference, settings.accounting.min_coverage,
        base_figures=base, previous_figures=figures.get(year - 1), bills=bills,
        equal_value_delta_kgce_per_kwh=equal_value_delta(reference, year),
    )


def _today(settings: AccountingConfig) -> dt.date:
    """Today's date in the deployment's time zone."""
    return dt.datetime.now(settings.site.tzinfo).date()


def equal_value_delta(reference: Any, year: int) -> float:
    """等价值 minus the electricity coefficient in use [kgce/kWh]; 0 when 等价值 is in use."""
    return engine.equal_value_delta(reference, year)


# ---------------------------------------------------------------------------------------------
# JSON
# ---------------------------------------------------------------------------------------------

_FIGURE_KEYS = [
    "energy_tce", "co2_t", "scope1_co2_t", "scope2_co2_t", "mobile_tce", "heat_tce",
    "electricity_kwh", "water_m3", "floor_area_m2", "heated_area_m2", "occupants",
    "kgce_per_m2", "kgce_per_m2_excl_vehicles", "kgce_per_m2_non_heating", "kgce_per_person",
    "water_m3_per_person", "kgco2_per_m2", "kwh_per_m2",
]
_PROFILE_KEYS = ["name", "category", "level", "province", "climate_zone", "credit_code",
                 "quota_area", "subtype"]
_FACTOR_KEYS = [
    "carrier", "unit", "use", "scope", "kgce_per_unit", "kgce_source", "kgce_year",
    "kgce_confidence", "kgce_note", "kgco2_per_unit", "kgco2_source", "kgco2_year",
    "kgco2_region", "kgco2_confidence", "kgco2_note",
]


def _plain(value: Any) -> Any:
    """A JSON-ready scalar: NaN/NA → None, numpy numbers → Python numbers."""
    if value is None:
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        return value
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isinf(value):
        return None
    return value


def account_json(account: engine.AnnualAccount, institution: str | None = None) -> dict:
    """The year as a JSON-ready dict: ``year``, ``institutions`` (a list) and ``totals``."""
    from accounting.verdicts import verdict_records

    figures = account.figures
    if institution is not None:
        figures = figures[figures["institution_id"] == institution]
    carriers = account.carriers
    factors = account.factors
    carriers_by = {k: g for k, g in carriers.groupby("institution_id", sort=False, observed=True)}
    verdicts_by = {k: g for k, g in account.verdicts.groupby("institution_id", sort=False,
                                                             observed=True)}
    institutions = []
    for row in figures.to_dict("records"):
        inst = row["institution_id"]
        c = carriers_by.get(inst, carriers.iloc[0:0])
        entry: dict[str, Any] = {"institution_id": inst}
        entry.update({k: _plain(row.get(k)) for k in _PROFILE_KEYS})
        entry.update({k: _plain(row.get(k)) for k in _FIGURE_KEYS})
        entry["coverage"] = {
            "energy": _plain(row["energy_coverage"]), "co2": _plain(row["co2_coverage"]),
            "electricity": _plain(row["electricity_coverage"]),
            "water": _plain(row["water_coverage"]),
            "estimated_share": _plain(row["estimated_share"]),
        }
        entry["carriers"] = _carrier_entries(c)
        used = c[["carrier", "unit", "province", "use"]].merge(
            factors, on=["carrier", "unit", "province", "use"], how="left")
        entry["factors"] = [{k: _plain(f[k]) for k in _FACTOR_KEYS}
                            for f in used.to_dict("records")]
        entry["verdicts"] = verdict_records(verdicts_by.get(inst, account.verdicts.iloc[0:0]))
        institutions.append(entry)
    totals = {k: _plain(v) for k, v in account.totals.items()}
    if institution is not None:
        totals = {k: _plain(v) for k, v in engine.totals(figures).items()}
    return {"year": account.year, "institutions": institutions, "totals": totals}


def _carrier_entries(c: pd.DataFrame) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    units_per_carrier = c.groupby("carrier", observed=True)["unit"].nunique()
    for (carrier, unit), g in c.groupby(["carrier", "unit"], sort=True, observed=True):
        key = carrier if units_per_carrier[carrier] == 1 else f"{carrier} [{unit}]"
        quantity = float(g["quantity"].sum())
        out[key] = {
            "quantity": quantity, "unit": unit,
            "tce": float(g["kgce"].sum()) / 1000.0, "co2_t": float(g["kgco2"].sum()) / 1000.0,
            "coverage": _plain(
                (g["coverage"] * g["quantity"]).sum() / quantity if quantity > 0
                else g["coverage"].mean()),
            "uses": {u: float(q) for u, q in g.groupby("use", observed=True)["quantity"].sum()
                     .items()},
        }
    return out


# ---------------------------------------------------------------------------------------------
# Handlers
# ---------------------------------------------------------------------------------------------


def _fmt(value: Any, digits: int = 1) -> str:
    value = _plain(value)
    return "—" if value is None else f"{value:,.{digits}f}"


def _table(data: dict) -> str:
    header = (f"{'institution':<12} {'energy tce':>11} {'CO2 t':>10} {'kgce/m2':>8} "
              f"{'kgce/person':>11} {'water m3/p':>10} {'coverage':>8}  verdicts")
    lines = [f"Jieneng accounts {data['year']}", header, "-" * len(header)]
    for inst in data["institutions"]:
        counts: dict[str, int] = {}
        for v in inst["verdicts"]:
            if v["kind"] in ("quota", "fyp14"):
                counts[v["status"]] = counts.get(v["status"], 0) + 1
        summary = ", ".join(f"{k} {n}" for k, n in sorted(counts.items()))
        coverage = inst["coverage"]["energy"]
        lines.append(
            f"{inst['institution_id']:<12} {_fmt(inst['energy_tce'], 2):>11} "
            f"{_fmt(inst['co2_t'], 2):>10} {_fmt(inst['kgce_per_m2'], 2):>8} "
            f"{_fmt(inst['kgce_per_person'], 1):>11} {_fmt(inst['water_m3_per_person'], 1):>10} "
            f"{'—' if coverage is None else f'{coverage:.0%}':>8}  {summary}")
    t = data["totals"]
    lines.append("-" * len(header))
    lines.append(
        f"{'total':<12} {_fmt(t['energy_tce'], 2):>11} {_fmt(t['co2_t'], 2):>10} "
        f"{_fmt(t['kgce_per_m2'], 2):>8} {_fmt(t['kgce_per_person'], 1):>11} "
        f"{_fmt(t['water_m3_per_person'], 1):>10}")
    return "\n".join(lines)


def _compute_or_report(settings: AccountingConfig, year: int) -> engine.AnnualAccount | None:
    from storage.errors import StorageError

    try:
        return compute_account(settings, year, progress=True)
    except (AccountingError, StorageError) as exc:
        print(f"jieneng: accounts for {year} could not be computed: {exc}", file=sys.stderr)
        return None
    except KeyError as exc:  # the engine names a bad carrier, column or missing factor
        print(f"jieneng: accounts for {year} could not be computed: {exc.args[0]}",
              file=sys.stderr)
        return None


def account_main(args: argparse.Namespace, settings: AccountingConfig) -> int:
    """``jieneng account --year YYYY [--institution ID] [--format json|table]``."""
    account = _compute_or_report(settings, args.year)
    if account is None:
        return EXIT_FAILED
    institution = getattr(args, "institution", None)
    if institution is not None and institution not in set(account.figures["institution_id"]):
        known = ", ".join(sorted(account.figures["institution_id"].astype(str)))
        print(f"jieneng account: no institution {institution!r} in the ledgers or meters; "
              f"known: {known}", file=sys.stderr)
        return EXIT_BAD_INPUT
    data = account_json(account, institution)
    if getattr(args, "format", "table") == "json":
        print(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        print(_table(data))
    return 0


def report_main(args: argparse.Namespace, settings: AccountingConfig) -> int:
    """``jieneng report --year YYYY --out FILE.xlsx|.csv|.json``."""
    from accounting.report import REPORT_SUFFIXES, write_report

    suffix = args.out.suffix.lower()
    if suffix not in REPORT_SUFFIXES:
        print(f"jieneng report: --out {args.out}: expected a file ending in "
              f"{', '.join(REPORT_SUFFIXES)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    account = _compute_or_report(settings, args.year)
    if account is None:
        return EXIT_FAILED
    written = write_report(account, args.out, settings, as_of=_today(settings))
    print(f"{written}: 公共机构能源资源消费统计 {args.year}, "
          f"{len(account.figures)} institution(s)")
    return 0


def import_ledger_main(args: argparse.Namespace, settings: AccountingConfig) -> int:
    """``jieneng import KIND FILE``: import a ledger atomically; every bad row is printed."""
    from accounting.ledgers import import_ledger

    if not args.file.is_file():
        print(f"jieneng import {args.kind}: {args.file}: no such file", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        result = import_ledger(args.kind, args.file, settings)
    except LedgerImportError as exc:
        print(f"jieneng import {args.kind}: {args.file}: {len(exc.problems)} problem(s); "
              "nothing was imported:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except AccountingError as exc:
        print(f"jieneng import {args.kind}: {args.file}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"{result.file}: {result.rows} {result.kind} row(s) imported into {result.ledger} "
          f"({result.added} new, {result.replaced} replaced)")
    return 0
