"""The annual account of a deployment: :func:`accounting.annual.compute_account` on the demo
city's ledgers (no meters), called as the CLI, the demo and the dashboard call it."""

from __future__ import annotations

import pytest

from accounting.annual import compute_account
from accounting.engine import AnnualAccount
from accounting.verdicts import FYP14_BASE_YEAR
from jieneng.settings import load_settings

YEAR = 2025


@pytest.fixture(scope="module")
def settings(sample_city):
    return load_settings(sample_city)


def test_compute_account_reads_the_year_the_year_before_and_the_base_year(settings):
    said: list[str] = []
    account = compute_account(settings, YEAR, progress=said.append)
    assert isinstance(account, AnnualAccount)
    assert account.year == YEAR
    assert said == [
        f"accounting {FYP14_BASE_YEAR}: reading ledgers and metered months …",
        f"accounting {YEAR - 1}: reading ledgers and metered months …",
        f"accounting {YEAR}: reading ledgers and metered months …",
        f"accounting {FYP14_BASE_YEAR}: figures (for comparison with {YEAR}) …",
        f"accounting {YEAR - 1}: figures (for comparison with {YEAR}) …",
        f"accounting {YEAR}: figures and verdicts …",
    ]
    # The 十四五 verdicts had the 2020 figures: not every one is "unknown for lack of a base".
    fyp = account.verdicts[account.verdicts["kind"] == "fyp14"]
    assert len(fyp)
    assert not fyp["missing"].astype(str).str.contains("2020").all()
    assert account.totals["energy_tce"] == pytest.approx(account.figures["energy_tce"].sum())


def test_compute_account_is_silent_without_progress(settings, capsys):
    compute_account(settings, YEAR)
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", "")


def test_the_account_carries_what_it_was_computed_from(settings):
    """Forecasting and the dashboard take the year's inputs from the account, not a second read:
    the consumption table accounts to the account's energy."""
    account = compute_account(settings, YEAR)
    assert account.inputs is not None
    assert account.consumption is not None
    # the compound's own bills were apportioned to its members
    assert "cmp01" in set(account.inputs.consumption["institution_id"])
    assert "cmp01" not in set(account.consumption["institution_id"])
    by_carrier = account.consumption.groupby(["institution_id", "carrier"], observed=True)[
        "quantity"].sum(min_count=1)
    carriers = account.carriers.groupby(["institution_id", "carrier"], observed=True)[
        "quantity"].sum(min_count=1)
    joined = carriers.to_frame("accounted").join(by_carrier.rename("table"), how="inner")
    assert len(joined) == len(carriers)
    assert joined["table"].to_numpy() == pytest.approx(joined["accounted"].to_numpy())
