"""The yearly aggregation does not depend on how the monthly table is ordered.

``annual_quantities`` hashes only the first row of each run of equal keys and takes a shortcut
when every institution × carrier line is one run with rising months; these cases check that the
shortcut and the general path agree, and that the shortcut is not taken when it would be wrong.
"""

from __future__ import annotations

import pandas as pd
import pytest

from accounting import engine


def _row(inst, carrier, unit, month, quantity, coverage=1.0, use="purchased", source="meter"):
    return {
        "institution_id": inst, "month": month, "carrier": carrier, "unit": unit,
        "quantity": quantity, "use": use, "source": source, "coverage": coverage,
        "estimated_share": 0.0,
    }


def _table() -> pd.DataFrame:
    rows = []
    for inst in ("a", "b", "c"):
        for month in range(1, 13):
            rows.append(_row(inst, "electricity", "kWh", month, 100.0 + month,
                             coverage=0.5 if (inst, month) == ("b", 3) else 1.0))
            rows.append(_row(inst, "water", "m3", month, 10.0))
        rows.append(_row(inst, "heat", "GJ", 1, 5.0, source="bill"))
    return pd.DataFrame(rows)


def _sorted(annual: pd.DataFrame) -> pd.DataFrame:
    return annual.sort_values(["institution_id", "carrier"]).reset_index(drop=True)


@pytest.mark.parametrize("order", ["interleaved", "by_carrier", "reversed", "by_month"])
def test_every_row_order_gives_the_same_year(order):
    table = _table()
    expected = _sorted(engine.annual_quantities(table))
    reordered = {
        "interleaved": table,
        "by_carrier": table.sort_values(["carrier", "institution_id", "month"], kind="stable"),
        "reversed": table.iloc[::-1],
        "by_month": table.sort_values(["month", "institution_id"], kind="stable"),
    }[order]
    pd.testing.assert_frame_equal(_sorted(engine.annual_quantities(reordered)), expected)


def test_hand_computed_year_of_one_institution():
    annual = _sorted(engine.annual_quantities(_table())).set_index(
        ["institution_id", "carrier"])
    # Electricity of b: Σ (100 + m) for m = 1…12 = 1278 kWh; coverage (11 × 1 + 0.5) / 12.
    assert annual.loc[("b", "electricity"), "quantity"] == pytest.approx(1278.0)
    assert annual.loc[("b", "electricity"), "coverage"] == pytest.approx(11.5 / 12)
    assert annual.loc[("b", "electricity"), "months"] == 12
    # Heat is a seasonal bill: its coverage is the mean over the months it covers (one).
    assert annual.loc[("b", "heat"), "coverage"] == pytest.approx(1.0)


def test_a_month_split_over_two_runs_is_still_one_month():
    # January of one meter line appears twice, apart (a water row between): the month's
    # coverage is the mean of its two rows, (1 + 0) / 2, and it counts as one month.
    rows = [_row("a", "electricity", "kWh", 1, 50.0, coverage=1.0),
            _row("a", "water", "m3", 1, 5.0),
            _row("a", "electricity", "kWh", 1, 0.0, coverage=0.0)]
    annual = engine.annual_quantities(pd.DataFrame(rows)).set_index("carrier")
    assert annual.loc["electricity", "quantity"] == pytest.approx(50.0)
    assert annual.loc["electricity", "coverage"] == pytest.approx(0.5 / 12)
    assert annual.loc["electricity", "months"] == 1


def test_an_empty_table_gives_no_rows():
    empty = pd.DataFrame(columns=list(engine.CONSUMPTION_COLUMNS))
    assert engine.annual_quantities(empty).empty
