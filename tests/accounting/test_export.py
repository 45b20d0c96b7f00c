"""The account rendered: :func:`accounting.export.plain`, :func:`account_json` and
:func:`account_table`, on a small hand-made year through the real engine."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from accounting import engine
from accounting.export import account_json, account_table, plain

YEAR = 2023


@pytest.fixture(scope="module")
def account(reference) -> engine.AnnualAccount:
    rows = [{"institution_id": inst, "month": month, "carrier": "electricity", "unit": "kWh",
             "quantity": kwh / 12, "use": "purchased", "source": "bill", "coverage": 1.0,
             "estimated_share": 0.0}
            for inst, kwh in (("g1", 120_000.0), ("g2", 60_000.0)) for month in range(1, 13)]
    profile = pd.DataFrame({"institution_id": ["g1", "g2"], "name": ["机关一", "机关二"],
                            "category": "government", "province": "shandong",
                            "floor_area_m2": [1000.0, np.nan], "occupants": [50.0, 20.0]})
    return engine.account_year(YEAR, pd.DataFrame(rows), profile, reference, 0.8)


@pytest.mark.parametrize(("value", "expected"), [
    (None, None), (float("nan"), None), (pd.NA, None), (pd.NaT, None), (math.inf, None),
    (np.float64(1.5), 1.5), (np.int64(3), 3), ("text", "text"), ([1, 2], [1, 2]),
])
def test_plain_gives_json_ready_scalars(value, expected):
    result = plain(value)
    assert result == expected
    assert type(result) is type(expected)


def test_account_json_is_json_and_adds_up(account):
    data = account_json(account)
    json.dumps(data, allow_nan=False)  # no NaN, no numpy types
    assert data["year"] == YEAR
    assert [i["institution_id"] for i in data["institutions"]] == ["g1", "g2"]
    g1, g2 = data["institutions"]
    assert g1["energy_tce"] == pytest.approx(120_000 * 0.1229 / 1000)
    assert g1["carriers"]["electricity"]["quantity"] == pytest.approx(120_000.0)
    assert g2["floor_area_m2"] is None
    assert g2["kgce_per_m2"] is None
    assert data["totals"]["energy_tce"] == pytest.approx(g1["energy_tce"] + g2["energy_tce"])


def test_account_json_of_one_institution_has_its_own_totals(account):
    data = account_json(account, "g2")
    assert [i["institution_id"] for i in data["institutions"]] == ["g2"]
    assert data["totals"]["energy_tce"] == pytest.approx(data["institutions"][0]["energy_tce"])


def test_account_table_has_a_line_per_institution_and_the_totals(account):
    lines = account_table(account_json(account, language="en"), "en").splitlines()
    assert lines[0] == f"Jieneng accounts {YEAR}"
    assert lines[1].split()[:3] == ["institution", "energy", "tce"]
    assert [line.split()[0] for line in lines[3:5]] == ["g1", "g2"]
    assert lines[4].split()[3] == "–"  # g2's floor area is unknown: no kgce/m2
    assert lines[-1].split()[:2] == ["total", f"{120_000 * 0.1229 / 1000 + 60_000 * 0.1229 / 1000:,.2f}"]
