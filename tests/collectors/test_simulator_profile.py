"""Simulator profile: deterministic, monotonic counters whose rate the gauges report."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from collectors.decode import decode_point, encode_value
from collectors.registermap import get_register_map
from collectors.simulator.profile import (
    EPOCH,
    counter_value,
    history_readings,
    is_workday,
    point_values,
    rate_per_hour,
    start_value,
)
from jieneng.settings import MeterSettings, Settings

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _meter(meter_id="m1", carrier="electricity", subitem="01000", model="chint_dtsu666",
           **kw) -> MeterSettings:
    return MeterSettings(id=meter_id, gateway="gw", model=model, institution="i", building="b",
                         carrier=carrier, subitem=subitem, **kw)


def _local(y, mo, d, h=0, mi=0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=SHANGHAI)


def _day_total(meter, day: date) -> float:
    start = datetime(day.year, day.month, day.day, tzinfo=SHANGHAI)
    return counter_value(meter, start + timedelta(days=1)) - counter_value(meter, start)


def test_deterministic_and_different_per_meter():
    t = _local(2025, 6, 3, 10, 17)
    assert counter_value(_meter("a"), t) == counter_value(_meter("a"), t)
    assert counter_value(_meter("a"), t) != counter_value(_meter("b"), t)


def test_counter_never_decreases_and_is_continuous():
    m = _meter()
    t = _local(2025, 12, 29)
    previous = counter_value(m, t)
    for _ in range(4 * 24 * 10):  # ten days in 15-minute steps, across new year
        t += timedelta(minutes=15)
        value = counter_value(m, t)
        assert value >= previous
        # at most a quarter of an hour at the highest rate of any day
        assert value - previous < 0.25 * 80 * 1.3 * 1.2 * 1.08 * 1.01
        previous = value


def test_counter_rate_is_the_gauge_rate():
    m = _meter()
    t = datetime(2025, 7, 16, 2, 30, tzinfo=UTC)  # 10:30 in Shanghai
    dt_h = 1 / 60
    slope = (counter_value(m, t + timedelta(hours=dt_h)) - counter_value(m, t)) / dt_h
    assert slope == pytest.approx(rate_per_hour(m, t), rel=0.01)
    values = point_values(m, get_register_map("chint_dtsu666"), t)
    assert values["power_w"] == pytest.approx(1000 * slope, rel=0.01)
    assert sum(values[f"power_l{i}_w"] for i in (1, 2, 3)) == pytest.approx(values["power_w"])


def test_working_days_weekends_holidays_and_swapped_days():
    m = _meter()
    assert is_workday(date(2025, 10, 15))  # Wednesday
    assert not is_workday(date(2025, 10, 1))  # National Day, a Wednesday
    assert is_workday(date(2025, 9, 28))  # a Sunday worked in exchange (调休)
    wednesday = _day_total(m, date(2025, 10, 15))
    # rest days average ~60 % of a workday; day-to-day factors vary ±8 %
    assert _day_total(m, date(2025, 10, 12)) < 0.8 * wednesday  # Sunday
    assert _day_total(m, date(2025, 10, 1)) < 0.8 * wednesday  # holiday
    assert _day_total(m, date(2025, 9, 28)) > 0.85 * wednesday  # working Sunday


def test_night_is_lower_than_office_hours_in_the_site_time_zone():
    m = _meter()
    assert rate_per_hour(m, _local(2025, 10, 15, 3)) < 0.5 * rate_per_hour(m, _local(2025, 10, 15, 10))
    # the same instants in another zone shift the curve
    la = ZoneInfo("America/Los_Angeles")
    t = _local(2025, 10, 15, 10)  # 19:00 the day before in Los Angeles
    assert rate_per_hour(m, t, la) < rate_per_hour(m, t)


@pytest.mark.parametrize(
    ("carrier", "subitem", "higher", "lower"),
    [
        ("electricity", "01B00", date(2025, 7, 23), date(2025, 4, 23)),  # cooling peak
        ("electricity", "01B00", date(2025, 1, 15), date(2025, 10, 22)),  # heating peak
        ("heat", "04000", date(2025, 1, 15), date(2025, 12, 3)),
        ("natural_gas", "03000", date(2025, 1, 15), date(2025, 7, 16)),
        ("water", "02000", date(2025, 7, 16), date(2025, 1, 15)),
        ("pv", "01000", date(2025, 6, 18), date(2025, 12, 17)),
    ],
)
def test_seasons(carrier, subitem, higher, lower):
    m = _meter(carrier=carrier, subitem=subitem)
    assert _day_total(m, higher) > _day_total(m, lower)


def test_no_heat_outside_the_heating_season():
    m = _meter(carrier="heat", subitem="04000")
    assert _day_total(m, date(2025, 7, 16)) == 0.0
    assert _day_total(m, date(2025, 1, 15)) > 1.0


def test_pv_exports_by_day_only():
    m = _meter(carrier="pv")
    assert rate_per_hour(m, _local(2025, 6, 18, 2)) == 0.0
    assert rate_per_hour(m, _local(2025, 6, 18, 12)) > 10


def test_before_epoch_the_counter_holds_its_start_value():
    m = _meter()
    assert counter_value(m, _local(2022, 6, 1)) == start_value(m)
    assert counter_value(m, datetime(EPOCH.year, 1, 1, tzinfo=SHANGHAI)) == start_value(m)
    assert counter_value(m, _local(2023, 1, 2)) > start_value(m)


def test_naive_time_is_rejected():
    with pytest.raises(ValueError, match="no time zone"):
        counter_value(_meter(), datetime(2025, 1, 1))


def _settings() -> Settings:
    return Settings.model_validate({
        "site": {"name": "t", "province": "shandong", "region_code": "370100"},
        "gateways": [{"id": "gw", "protocol": "tcp", "host": "127.0.0.1", "port": 5020}],
        "meters": [
            {"id": "e1", "gateway": "gw", "device_id": 1, "model": "chint_dtsu666",
             "institution": "i", "building": "b", "carrier": "electricity", "ct_ratio": 40},
            {"id": "w1", "gateway": "gw", "device_id": 2, "model": "tuf2000m",
             "institution": "i", "building": "b", "carrier": "water", "subitem": "02000"},
        ],
    })


def test_history_readings_are_what_the_meters_would_read():
    settings = _settings()
    start = datetime(2025, 3, 3, 0, 7, tzinfo=UTC)
    readings = list(history_readings(settings, start, start + timedelta(hours=1), 900))
    times = sorted({r.time for r in readings})
    assert times == [datetime(2025, 3, 3, 0, m, tzinfo=UTC) for m in (15, 30, 45)] + [
        datetime(2025, 3, 3, 1, 0, tzinfo=UTC)]
    per_time = len(get_register_map("chint_dtsu666").points) + len(
        get_register_map("tuf2000m").points)
    assert len(readings) == 4 * per_time
    e1 = settings.meter("e1")
    regmap = get_register_map("chint_dtsu666")
    t = times[0]
    expected = point_values(e1, regmap, t, settings.site.tzinfo)
    energy = next(r for r in readings if r.meter == "e1" and r.point == "energy_import_kwh"
                  and r.time == t)
    p = regmap.point("energy_import_kwh")
    words = encode_value(p, expected["energy_import_kwh"], 40, 1)
    assert energy.value == decode_point(p, words, 40, 1).value
    assert energy.value == pytest.approx(counter_value(e1, t), rel=1e-6)
    assert energy.quality == "good"


def test_history_readings_filters_meters_and_points():
    settings = _settings()
    start = datetime(2025, 3, 3, tzinfo=UTC)
    readings = list(history_readings(settings, start, start + timedelta(days=1), 3600,
                                     meters=["w1"], points=["volume_m3"]))
    assert len(readings) == 24
    assert {(r.meter, r.point) for r in readings} == {("w1", "volume_m3")}
    values = [r.value for r in readings]
    assert values == sorted(values)
    with pytest.raises(ValueError, match="step_s"):
        list(history_readings(settings, start, start, 0))
