"""The cache (an unchanged series is not refitted) and the executors (identical results)."""

from __future__ import annotations

import pandas as pd
import pytest

from forecasting import forecast_year, models
from tests.forecasting.conftest import counter_readings, deployment, office_load

METERS = [{"institution": "gov01", "carrier": "electricity", "id": "e", "subitem": "01000"},
          {"institution": "gov01", "carrier": "water", "id": "w", "subitem": "02000"}]
DAYS = pd.date_range("2026-02-01", "2026-09-30")


def _store(settings, store_of, days=DAYS):
    store = store_of(settings)
    store.write_readings(counter_readings("e", "energy_import_kwh", days, office_load(days)))
    store.write_readings(counter_readings("w", "volume_m3", days, office_load(days, 20.0, seed=2)))
    return store


def test_a_second_run_reads_the_cache_and_refits_nothing(tmp_path, store_of):
    settings = deployment(tmp_path, METERS)
    store = _store(settings, store_of)
    before = sum(models.FIT_COUNTS.values())
    first = forecast_year(settings, 2026, store=store)
    fits_first = sum(models.FIT_COUNTS.values()) - before
    assert first.fitted == 2
    assert fits_first >= 2  # the two final fits, plus the backtests' refits
    entries = sorted((tmp_path / "cache").rglob("*.pkl"))
    assert len(entries) == 2
    mtimes = [p.stat().st_mtime_ns for p in entries]

    second = forecast_year(settings, 2026, store=store)
    assert sum(models.FIT_COUNTS.values()) - before == fits_first  # not one fit more
    assert (second.fitted, second.cache_hits) == (0, 2)
    assert [p.stat().st_mtime_ns for p in entries] == mtimes
    assert second.to_json() == first.to_json()

    # one more day of electricity: that series (only) is fitted again
    more = pd.date_range("2026-10-01", "2026-10-01")
    store.write_readings(counter_readings("e", "energy_import_kwh", more, office_load(more),
                                          start_value=_last_value(store)))
    third = forecast_year(settings, 2026, store=store)
    assert (third.fitted, third.cache_hits) == (1, 1)


def _last_value(store):
    latest = store.latest(meters=["e"], points=["energy_import_kwh"])
    return float(latest["value"].iloc[0])


@pytest.mark.slow
def test_processes_dask_and_serial_give_identical_results(tmp_path, store_of):
    distributed = pytest.importorskip("distributed")
    settings = deployment(tmp_path, METERS, cache_path="", workers=2)
    store = _store(settings, store_of)
    settings.forecasting.executor = "serial"
    serial = forecast_year(settings, 2026, store=store).to_json()
    settings.forecasting.executor = "processes"
    processes = forecast_year(settings, 2026, store=store).to_json()
    settings.forecasting.executor = "dask"
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        dask = forecast_year(settings, 2026, store=store, client=client).to_json()
    assert processes == serial
    assert dask == serial
    assert [s["model"] for s in serial["series"]] == ["prophet", "prophet"]
