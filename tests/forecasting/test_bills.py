"""The demo city's ledgers without meters: monthly bill and fuel-card lines, projected through the
accounting engine, with quota and 十四五 risks."""

from __future__ import annotations

import numpy as np
import pytest

from accounting.ledgers import import_ledger
from forecasting import forecast_year
from tests.forecasting.conftest import deployment
from tests.support.accounting import SAMPLE_DATA, SAMPLE_LEDGERS


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("bills")
    settings = deployment(tmp_path, [])
    settings.accounting.quota_tables = ["shandong_db37_t_2672_2019", "gb_t_51161_2016_office"]
    for kind in SAMPLE_LEDGERS:
        import_ledger(kind, SAMPLE_DATA / f"{kind}.csv", settings)
    return forecast_year(settings, 2026)


def test_bill_lines_are_scaled_from_last_year_and_say_so(result):
    assert result.series
    assert {s.frequency for s in result.series} == {"MS"}
    models = {s.model for s in result.series}
    assert models <= {"ratio_to_last_year", "none", "prophet_monthly"}
    ratio = [s for s in result.series if s.model == "ratio_to_last_year"]
    assert ratio
    assert all("last year's same months" in s.reason for s in ratio)
    # a month after the last bill is forecast; the billed ones are actual
    months = result.monthly
    assert set(months["source"]) == {"actual", "forecast"}
    forecast = months[months["source"] == "forecast"]
    assert (forecast["quantity_p10"] <= forecast["quantity_p90"]).all()


def test_every_institution_gets_a_projection_and_risks(result):
    year_end = result.year_end
    assert len(year_end) >= 10
    for name in ("energy_tce", "kgce_per_m2", "co2_t"):
        p10, p50, p90 = (year_end[f"{name}_{q}"].to_numpy() for q in ("p10", "p50", "p90"))
        ok = ~np.isnan(p50)
        assert ok.sum() >= 10
        assert (p10[ok] <= p50[ok]).all()
        assert (p50[ok] <= p90[ok]).all()
    risk = result.risk
    assert set(risk["kind"]) == {"quota", "fyp14"}
    assert risk["probability"].between(0.0, 1.0).all()
    assert set(risk.loc[risk["kind"] == "fyp14", "level"]) == {"path", "target"}
    assert set(risk.loc[risk["kind"] == "quota", "level"]) <= {"guide", "baseline", "constraint"}
    data = result.to_json()
    assert {"risk", "energy_tce", "kgce_per_m2"} <= set(data["year_end"][0])
