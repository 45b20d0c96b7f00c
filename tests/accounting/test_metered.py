"""Metered monthly consumption from a real SQLite store, and the year's consumption table."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from accounting.consumption import annual_inputs, metered_to_consumption
from accounting.ledgers import KINDS, import_ledger
from accounting.metered import daily_metered, monthly_metered, monthly_metered_with_findings
from jieneng.settings import Settings
from storage import Reading, open_store
from tests.support.accounting import SAMPLE_DATA as SAMPLE

TZ = ZoneInfo("Asia/Shanghai")
START = datetime(2025, 1, 1, tzinfo=TZ)
HOURS = 59 * 24  # 1 January .. 28 February 2025, hourly readings (1416 of them)
RESET_HOUR = 14 * 24 + 12  # 15 January 12:00 local: the water meter is reset to 0
GAP = range(40 * 24, 43 * 24)  # 10-12 February: the collector was down, no readings


def _settings(tmp_path) -> Settings:
    meter = {"gateway": "gw", "model": "chint_dtsu666", "institution": "gov01",
             "building": "gov01-main", "poll_interval_s": 3600.0}
    s = Settings.model_validate({
        "site": {"name": "t", "province": "shandong", "region_code": "370100"},
        "storage": {"sqlite": {"path": "store.sqlite"}},
        "gateways": [{"id": "gw", "protocol": "tcp", "host": "127.0.0.1"}],
        "meters": [
            {**meter, "id": "e-total", "carrier": "electricity", "subitem": "01000"},
            {**meter, "id": "e-light", "carrier": "electricity", "subitem": "01A00",
             "device_id": 2},
            {**meter, "id": "water", "carrier": "water", "subitem": "02000", "device_id": 3,
             "model": "tuf2000m"},
        ],
        "accounting": {"ledger_path": "ledgers.sqlite"},
    })
    s.base_dir = tmp_path
    return s


def _readings():
    for h in range(HOURS):
        t = START + timedelta(hours=h)
        if h in GAP:
            continue
        yield Reading("e-total", "energy_import_kwh", t, 10.0 * h + 5000.0)  # 10 kWh/h
        yield Reading("e-light", "energy_import_kwh", t, 2.0 * h)  # 2 kWh/h
        water = float(h) if h < RESET_HOUR else float(h - RESET_HOUR)  # 1 m3/h, reset
        yield Reading("water", "volume_m3", t, water)


@pytest.fixture
def store_settings(tmp_path):
    settings = _settings(tmp_path)
    store = open_store(settings)
    store.write_readings(list(_readings()))
    yield store, settings
    store.close()


def test_monthly_metered_hand_computed(store_settings):
    store, settings = store_settings
    frame, findings = monthly_metered_with_findings(store, settings, 2025)
    by = frame.set_index(["building_id", "subitem", "month"])
    assert len(frame) == 3 * 12  # every group has all 12 months

    jan = by.loc[("gov01-main", "01000", 1)]
    # 1 Jan 00:00 .. 1 Feb 00:00 = 744 h at 10 kWh/h, fully measured
    assert jan["quantity"] == pytest.approx(7440.0)
    assert jan["coverage"] == pytest.approx(1.0)
    assert jan["estimated_share"] == 0.0
    assert jan["unit"] == "kWh"

    feb = by.loc[("gov01-main", "01000", 2)]
    # 1 Feb 00:00 .. 28 Feb 23:00 = 671 h; the gap 9 Feb 23:00 .. 13 Feb 00:00 (73 h) is spread
    assert feb["quantity"] == pytest.approx(6710.0)
    assert feb["estimated_share"] == pytest.approx(730.0 / 6710.0)
    assert feb["coverage"] == pytest.approx((671 - 73) / 672)

    water_jan = by.loc[("gov01-main", "02000", 1)]
    # 744 h at 1 m3/h, but the hour in which the meter was reset to 0 is lost
    assert water_jan["quantity"] == pytest.approx(743.0)
    assert by.loc[("gov01-main", "01A00", 1), "quantity"] == pytest.approx(1488.0)

    assert by.loc[("gov01-main", "01000", 3), "quantity"] == 0.0
    assert by.loc[("gov01-main", "01000", 3), "coverage"] == 0.0

    kinds = findings.groupby("meter")["quality"].apply(set).to_dict()
    assert kinds["water"] == {"reset", "gap"}
    assert kinds["e-total"] == {"gap"}
    gap = findings[(findings["meter"] == "e-total")].iloc[0]
    assert gap["quantity"] == pytest.approx(730.0)


def test_daily_metered_hand_computed(store_settings):
    store, settings = store_settings
    days = daily_metered(store, settings, date(2025, 2, 8), date(2025, 2, 14))
    total = days[days["subitem"] == "01000"].set_index("day")
    assert len(total) == 7
    # a full day of readings: 24 h at 10 kWh/h, all measured
    assert total.loc[date(2025, 2, 8), "quantity"] == pytest.approx(240.0)
    assert total.loc[date(2025, 2, 8), "coverage"] == pytest.approx(1.0)
    # 9 Feb 23:00 .. 13 Feb 00:00 is a gap of 73 h: 730 kWh spread by time
    assert total.loc[date(2025, 2, 9), "quantity"] == pytest.approx(230.0 + 10.0)
    assert total.loc[date(2025, 2, 9), "estimated_share"] == pytest.approx(10.0 / 240.0)
    for day in (date(2025, 2, 10), date(2025, 2, 11), date(2025, 2, 12)):
        assert total.loc[day, "quantity"] == pytest.approx(240.0)
        assert total.loc[day, "estimated_share"] == pytest.approx(1.0)
        assert total.loc[day, "coverage"] == 0.0
    assert total["quantity"].sum() == pytest.approx(7 * 240.0)


def test_sub_item_meters_are_not_added_to_the_total(store_settings):
    store, settings = store_settings
    rows = metered_to_consumption(monthly_metered(store, settings, 2025))
    jan = rows[rows["month"] == 1].set_index("carrier")
    assert jan.loc["electricity", "quantity"] == pytest.approx(7440.0)  # 01A00 not added
    assert jan.loc["electricity", "use"] == "purchased"
    assert jan.loc["water", "quantity"] == pytest.approx(743.0)
    assert (rows["source"] == "meter").all()


def test_annual_inputs_combines_meters_bills_and_fuel_cards(store_settings):
    store, settings = store_settings
    for kind in KINDS:
        import_ledger(kind, SAMPLE / f"{kind}.csv", settings)
    store.close()  # annual_inputs opens the configured store itself
    inputs = annual_inputs(settings, 2025)
    c = inputs.consumption
    assert set(c["source"]) == {"meter", "bill", "fuel_card"}
    assert set(c["use"]) == {"purchased", "stationary", "mobile", "generation", "green"}
    assert ((c["month"] >= 1) & (c["month"] <= 12)).all()
    assert (c["quantity"] >= 0).all()
    gov01_meter = c[(c["institution_id"] == "gov01") & (c["source"] == "meter")]
    assert gov01_meter.groupby("carrier")["quantity"].sum()["electricity"] == pytest.approx(
        7440.0 + 6710.0
    )
    # heat is billed per heating season: 2025 gets part of two seasons' bills
    heat = c[(c["institution_id"] == "gov01") & (c["carrier"] == "heat")]
    assert sorted(heat["month"]) == [1, 2, 3, 11, 12]
    # fuel cards: litres per month, mobile
    fuel = c[c["source"] == "fuel_card"]
    assert set(fuel["unit"]) == {"L"}
    assert set(fuel["carrier"]) == {"gasoline", "diesel"}
    assert not inputs.findings.empty
    assert len(inputs.institutions) == 17  # 14 + the three members of the compound cmp01


def test_metered_months_equal_what_the_simulated_meters_counted(tmp_path):
    """Simulator history → real SQLite store → monthly_metered: the month's consumption is the
    simulated counter's rise over the month (to register precision)."""
    from collectors.simulator.profile import counter_value, history_readings

    config = Path(__file__).resolve().parents[2] / "config" / "demo.toml"
    text = config.read_text(encoding="utf-8").replace("../var/demo/", f"{tmp_path}/")
    (tmp_path / "demo.toml").write_text(text, encoding="utf-8")
    from jieneng.settings import load_settings

    settings = load_settings(tmp_path / "demo.toml")
    chosen = ["gov01-main", "hos01-water", "edu01-heat"]
    settings.meters = [m for m in settings.meters if m.id in chosen]
    start, end = datetime(2025, 1, 1, tzinfo=TZ), datetime(2025, 2, 10, tzinfo=TZ)
    store = open_store(settings)
    try:
        store.write_readings(history_readings(
            settings, start, end, 3600.0, points=["energy_import_kwh", "volume_m3", "heat_gj"]
        ))
        frame = monthly_metered(store, settings, 2025).set_index(["building_id", "carrier",
                                                                   "month"])
    finally:
        store.close()
    feb1 = datetime(2025, 2, 1, tzinfo=TZ)
    for meter in settings.meters:
        truth = counter_value(meter, feb1, TZ) - counter_value(meter, start, TZ)
        row = frame.loc[(meter.building, str(meter.carrier), 1)]
        assert row["quantity"] == pytest.approx(truth, rel=1e-5), meter.id
        assert row["coverage"] == pytest.approx(1.0)
        assert row["estimated_share"] == 0.0
        assert frame.loc[(meter.building, str(meter.carrier), 2), "coverage"] == pytest.approx(
            (9 * 24 - 1) / (28 * 24)
        )
