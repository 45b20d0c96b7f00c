"""The annual account of a deployment: gather one year's inputs and account them.

:func:`compute_account` is the one place that loads what a year needs (the ledgers, the store's
metered months, the reference data) and hands it to :func:`accounting.engine.account_year`. The
``jieneng account`` and ``jieneng report`` commands, the demo and the dashboard call it; the
rendering of its result is in :mod:`accounting.export` and :mod:`accounting.report`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from accounting import engine
from accounting.bureau import BUREAU_LEDGERS, bureau_account, bureau_year
from accounting.bureau_rules import load_bureau_rules, reference_dirs
from accounting.consumption import annual_inputs, read_input_ledgers
from accounting.engine import AnnualAccount
from accounting.ledgers import LedgerStore
from accounting.reference_data import load_reference
from accounting.settings import AccountingConfig
from accounting.verdicts import combine_verdicts
from accounting.verdicts.rules import VerdictRules
from storage import open_store

__all__ = ["AnnualAccount", "compute_account", "today"]


def compute_account(settings: AccountingConfig, year: int, store: Any = None,
                    progress: Callable[[str], None] | None = None) -> AnnualAccount:
    """Everything about one year: figures, carriers, factors and verdicts of every institution.

    The account also carries what it was computed from: ``inputs`` (the year's
    ``AnnualInputs`` as read) and ``consumption`` (the table after the bureau's rules).

    The years ``year``, ``year − 1`` and the 十四五 base year (``fyp14_base_year`` of the verdict
    rules, 2020) are read; the two others are accounted for the comparisons (十四五 progress,
    year-on-year audit checks).

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
        Called with a short message before each step (e.g. to print it to stderr); None: silent.

    Raises
    ------
    AccountingError
        For bad reference data, ledgers or consumption (:mod:`accounting.errors`);
        ``storage.StorageError`` when the store is unreachable.
    """
    say = progress if progress is not None else (lambda _message: None)
    reference = load_reference(settings.accounting, settings.base_dir)
    own_store = store is None and bool(settings.meters)
    if own_store:
        store = open_store(settings)
    try:
        base_year = VerdictRules.from_reference(reference).fyp14_base_year
        years = sorted({year, year - 1, base_year})
        as_of = today(settings)  # the current year's floor area is today's, not year-end's
        profiles, consumption, bureau, read = {}, {}, {}, {}
        rules = load_bureau_rules(settings.accounting.factor_set, reference_dirs(settings))
        ledgers = read_input_ledgers(settings)  # once, for every year
        store_ledgers = LedgerStore(settings.resolve(settings.accounting.ledger_path))
        bureau_ledgers = {kind: ledgers[kind] if kind in ledgers else store_ledgers.table(kind)
                          for kind in BUREAU_LEDGERS}
        for y in years:
            say(f"accounting {y}: reading ledgers and metered months …")
            read[y] = inputs = annual_inputs(settings, y, store, ledgers=ledgers)
            # the statistical boundary, public charging, compounds (accounting.bureau)
            consumption[y], buildings, bureau[y] = bureau_year(inputs, bureau_ledgers, rules,
                                                               as_of)
            profiles[y] = engine.institution_profile(
                inputs.institutions, buildings, inputs.headcount, y,
                extra_ids=consumption[y]["institution_id"].unique(),
                default_province=settings.site.province, as_of=as_of,
            )
    finally:
        if own_store:
            store.close()
    figures = {}
    for y in years:
        if y != year:
            say(f"accounting {y}: figures (for comparison with {year}) …")
            figures[y] = engine.account_figures(consumption[y], profiles[y], reference, y)[2]
    bills = bureau_ledgers["bills"]
    say(f"accounting {year}: figures and verdicts …")
    account = engine.account_year(
        year, consumption[year], profiles[year], reference, settings.accounting.min_coverage,
        base_figures=figures.get(base_year), previous_figures=figures.get(year - 1),
        bills=bills, equal_value_delta_kgce_per_kwh=engine.equal_value_delta(reference, year),
    )
    account.bureau = bureau_account(
        bureau[year], account, reference, rules, previous=bureau.get(year - 1),
        default_province=settings.site.province, base_figures=figures.get(base_year),
        previous_figures=figures.get(year - 1))
    if len(account.bureau.vehicle_verdicts):
        account.verdicts = combine_verdicts([account.verdicts, account.bureau.vehicle_verdicts])
    account.inputs, account.consumption = read[year], consumption[year]
    return account


def today(settings: AccountingConfig) -> dt.date:
    """Today's date in the deployment's time zone."""
    return dt.datetime.now(settings.site.tzinfo).date()
