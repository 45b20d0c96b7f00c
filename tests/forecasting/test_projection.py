"""The year-end projection by hand: actual to date + sample paths summed, through the engine;
probabilities are 0 or 1 when every sample agrees."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from accounting.consumption import CONSUMPTION_COLUMNS
from forecasting import ForecastResult, risk_table
from forecasting import projection as pj
from tests.support.accounting import default_reference

PROFILE = pd.DataFrame([{
    "institution_id": "a", "name": "A", "category": "government", "level": "provincial",
    "province": "shandong", "climate_zone": "cold", "credit_code": "", "quota_area": "",
    "subtype": "", "floor_area_m2": 1000.0, "heated_area_m2": 0.0, "occupants": 10.0,
}])
EMPTY = pd.DataFrame(columns=CONSUMPTION_COLUMNS)


def _quotas(guide, baseline, constraint):
    return pd.DataFrame([{
        "table": "test_table", "standard": "test", "province": "shandong",
        "category": "government", "level": "", "area": "", "climate_zone": "", "subtype": "",
        "indicator": "electricity_kwh_per_m2", "unit": "kWh/(m2·a)", "constraint": constraint,
        "baseline": baseline, "guide": guide, "tce_basis": "", "year": 2019, "source": "test",
        "confidence": "S", "note": "",
    }])


def _line(december):
    paths = np.full((len(december), 12), 1000.0)
    paths[:, 11] = december
    flags = np.zeros(12, dtype=bool)
    flags[11] = True
    return pj.Line("a", "electricity", "kWh", "purchased", "meter", paths, flags)


def _figures(line):
    stacked = pj.stacked_consumption(EMPTY, [line], line.paths.shape[0])
    return pj.project_figures(stacked, PROFILE, default_reference(), 2026, line.paths.shape[0])


def test_actual_to_date_plus_each_path_summed_over_the_rest_of_the_year():
    days = pd.date_range("2026-01-01", "2026-01-31").append(
        pd.date_range("2026-12-01", "2026-12-29"))
    known = pd.Series(np.r_[np.full(31, 5.0), np.full(29, 10.0)], index=days)
    sample_dates = pd.DatetimeIndex(["2026-12-30", "2026-12-31", "2027-01-01"])
    samples = np.array([[1.0, 2.0, 99.0], [3.0, 4.0, 99.0], [5.0, 6.0, 99.0]])
    paths, flags = pj.monthly_paths(2026, known, sample_dates, samples)
    assert paths[:, 0].tolist() == [155.0, 155.0, 155.0]  # January: actual only
    assert paths[:, 11].tolist() == [293.0, 297.0, 301.0]  # 290 actual + 3, 7, 11 (2027 ignored)
    assert paths[:, 1:11].sum() == 0.0
    assert flags.tolist() == [False] * 11 + [True]
    totals = paths.sum(axis=1)
    # p10 / p90 of the summed paths (numpy's linear quantile of 448, 452, 456)
    assert np.quantile(totals, [0.1, 0.5, 0.9]).tolist() == pytest.approx([448.8, 452.0, 455.2])


def test_the_paths_go_through_the_accounting_factors():
    figures, _ = _figures(_line([900.0, 1000.0, 1100.0]))
    year_end = pj.year_end_table(figures, 2026).iloc[0]
    grid = default_reference().kgco2_per_unit("electricity", "kWh", 2026, "shandong").value
    assert year_end["energy_tce_p50"] == pytest.approx(12_000 * 0.1229 / 1000)  # 当量值
    assert year_end["energy_tce_p10"] == pytest.approx((11_900 + 0.2 * 100) * 0.1229 / 1000)
    assert year_end["co2_t_p50"] == pytest.approx(12_000 * grid / 1000)
    assert year_end["kwh_per_m2_p50"] == pytest.approx(12.0)
    assert year_end["kgce_per_m2_p90"] == pytest.approx((12_100 - 0.2 * 100) * 0.1229 / 1000)
    assert year_end["kgce_per_person_p50"] == pytest.approx(12_000 * 0.1229 / 10)
    assert np.isnan(year_end["water_m3_per_person_p50"])  # no water data: unknown, not 0


def test_quota_probabilities_are_shares_of_the_paths_above_each_level():
    figures, _ = _figures(_line([900.0, 1000.0, 1100.0]))  # 11.9, 12.0, 12.1 kWh/m2
    risk = pj.quota_risk(figures, _quotas(10.0, 12.05, 15.0), 0.0).set_index("level")
    assert risk.loc["guide", "probability"] == 1.0
    assert risk.loc["baseline", "probability"] == pytest.approx(1 / 3)
    assert risk.loc["constraint", "probability"] == 0.0
    assert risk.loc["baseline", "threshold"] == 12.05


def test_probabilities_are_0_or_1_without_uncertainty():
    figures, _ = _figures(_line([1000.0] * 50))
    risk = pj.quota_risk(figures, _quotas(11.99, 12.01, 15.0), 0.0).set_index("level")
    assert risk["probability"].tolist() == [1.0, 0.0, 0.0]
    fyp = pd.DataFrame([
        {"institution_id": "a", "subject": "kgce_per_m2", "base_value": 1.5,
         "path_change": -0.04, "target_change": -0.05, "source": "十四五"},
        {"institution_id": "a", "subject": "kgco2_per_m2", "base_value": 1e6,
         "path_change": -0.04, "target_change": -0.05, "source": "十四五"},
    ])
    risk = pj.fyp14_risk(figures, fyp).set_index(["subject", "level"])["probability"]
    # 1.4748 kgce/m2 is −1.7 % against 1.5: off the −4 % path and short of the −5 % target
    assert risk[("kgce_per_m2", "path")] == 1.0
    assert risk[("kgce_per_m2", "target")] == 1.0
    assert risk[("kgco2_per_m2", "path")] == 0.0
    assert risk[("kgco2_per_m2", "target")] == 0.0


def test_base_rows_not_forecast_are_kept_in_every_sample():
    bill = pd.DataFrame([{"institution_id": "a", "month": 3, "carrier": "water", "unit": "m3",
                          "quantity": 50.0, "use": "purchased", "source": "bill",
                          "coverage": 1.0, "estimated_share": 0.0}])
    metered = bill.assign(carrier="electricity", unit="kWh", quantity=7.0, source="meter")
    base = pd.concat([bill, metered], ignore_index=True)
    line = _line([1000.0, 1000.0])
    line.actual = np.r_[0.0, 0.0, 7.0, np.zeros(9)]  # March's 7 kWh are in the table already
    [increment] = pj.move_increments([line], pj.transfer_shares(base, base))
    assert increment.paths[0, 2] == 993.0
    stacked = pj.stacked_consumption(base, [increment], 2)
    assert (stacked["carrier"] == "water").sum() == 2  # the bill, once per sample
    assert stacked.loc[stacked["carrier"] == "electricity", "quantity"].sum() == 24_000.0
    figures, factors = pj.project_figures(stacked, PROFILE, default_reference(), 2026, 2)
    assert figures["water_m3_per_person"].tolist() == [5.0, 5.0]
    monthly = pj.monthly_table([increment], base, factors, PROFILE.set_index("institution_id")[
        "province"], 2)
    assert monthly.loc[monthly["carrier"] == "water", "source"].tolist() == ["actual"]
    december = monthly[(monthly["carrier"] == "electricity") & (monthly["month"] == 12)].iloc[0]
    assert december["source"] == "forecast"
    assert december["energy_tce_p50"] == pytest.approx(1000 * 0.1229 / 1000)


def test_the_risk_table_has_one_line_per_institution():
    year_end = pd.DataFrame([{"institution_id": "a", "year": 2026,
                              **{f"{n}_{q}": 1.0 for n in pj.FIGURES
                                 for q in ("p10", "p50", "p90")},
                              "kgce_per_m2_p10": 11.0, "kgce_per_m2_p50": 12.0,
                              "kgce_per_m2_p90": 13.5},
                             {"institution_id": "b", "year": 2026,
                              **{f"{n}_{q}": float("nan") for n in pj.FIGURES
                                 for q in ("p10", "p50", "p90")}}])
    risk = pd.DataFrame([
        {"institution_id": "a", "kind": "quota", "subject": "non_heating_kgce_per_m2",
         "level": "constraint", "threshold": 13.0, "unit": "kgce/m2", "probability": 0.25,
         "source": "t"},
        {"institution_id": "a", "kind": "fyp14", "subject": "kgce_per_m2", "level": "path",
         "threshold": -0.04, "unit": "change vs base", "probability": 0.6, "source": "t"},
    ])
    result = ForecastResult(2026, dt.date(2026, 11, 30), [], year_end, pd.DataFrame(), risk)
    lines = risk_table(result, "en").splitlines()
    assert lines[0] == "Year-end projection 2026 (data to 2026-11-30)"
    assert lines[2].split() == ["a", "12.0", "11.0–13.5", "25%", "60%"]
    assert lines[3].split() == ["b", "no", "projection"]
    assert risk_table(result).splitlines()[0].startswith("2026年年末预测")


def test_increments_follow_the_compound_apportionment_of_the_quantities_to_date():
    def rows(inst, quantity):
        return {"institution_id": inst, "month": 1, "carrier": "heat", "unit": "GJ",
                "quantity": quantity, "use": "purchased", "source": "bill", "coverage": 1.0,
                "estimated_share": 0.0}

    before = pd.DataFrame([rows("cmp01", 100.0), rows("gov07", 10.0)])
    after = pd.DataFrame([rows("gov07", 10.0 + 40.0), rows("gov08", 35.0), rows("gov09", 25.0)])
    shares = pj.transfer_shares(before, after)
    assert shares[("cmp01", "heat", "GJ")] == [("gov07", 0.4), ("gov08", 0.35), ("gov09", 0.25)]
    assert ("gov07", "heat", "GJ") not in shares  # gained, kept its own
    paths = np.zeros((1, 12))
    paths[0, 11] = 200.0
    line = pj.Line("cmp01", "heat", "GJ", "purchased", "bill", paths, np.arange(12) == 11,
                   np.zeros(12))
    moved = {m.institution_id: m.paths[0, 11] for m in pj.move_increments([line], shares)}
    assert moved == pytest.approx({"gov07": 80.0, "gov08": 70.0, "gov09": 50.0})
