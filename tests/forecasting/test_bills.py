"""The demo city's ledgers without meters: monthly bill and fuel-card lines, projected through the
accounting engine, with quota and 十四五 risks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from accounting.ledgers import import_ledger
from forecasting import forecast_year
from forecasting.task import SeriesTask, run_task
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


def _heating_task(min_ratio_sigma: float) -> SeriesTask:
    """Heat bills: last year's 12 months; this year January–March billed at exactly 0.979 of
    them (the sample city's shape), November and December to project."""
    previous = np.array([1273.0, 1150.0, 616.0, 0, 0, 0, 0, 0, 0, 0, 643.0, 1246.0])
    current = np.full(12, np.nan)
    current[:10] = previous[:10] * 0.979
    months = pd.date_range("2025-01-01", "2026-12-01", freq="MS")
    predict = pd.date_range("2026-11-01", "2026-12-01", freq="MS")
    frame = pd.DataFrame({"ds": months, "y": np.concatenate([previous, current])})
    return SeriesTask(key=("gov01", "heat", "GJ", "purchased"), frequency="MS", frame=frame,
                      regressors=[], display=predict, predict=predict, samples=400,
                      min_ratio_sigma=min_ratio_sigma, previous=previous, current=current)


def test_a_few_months_that_moved_together_do_not_make_the_rest_certain():
    floored = run_task(_heating_task(0.10))
    assert floored.model == "ratio_to_last_year"
    assert "floor σ = 0.100" in floored.reason
    december = floored.samples[:, -1]
    spread = np.log(np.quantile(december, 0.9) / np.quantile(december, 0.1))
    assert 2 * 1.2816 * 0.10 * 0.8 < spread < 2 * 1.2816 * 0.10 * 1.2  # P10–P90 of σ = 0.10
    assert np.median(december) == pytest.approx(1246.0 * 0.979, rel=0.03)
    # without the floor the three identical ratios claim certainty (what the demo showed)
    bare = run_task(_heating_task(0.0))
    assert "floor" not in bare.reason
    assert np.ptp(bare.samples[:, -1]) < 1e-6 * 1246.0
