"""Deterministic consumption profiles for simulated meters (pure functions, no I/O, no randomness).

A meter's consumption rate [point unit per hour] is

    rate(t) = mean_rate × size × day_shape(hour) × season(day of year) × day_factor(day)

* ``mean_rate`` by carrier and sub-item (a main incomer draws more than a lift meter),
* ``size`` 0.7…1.3 and ``day_factor`` 0.92…1.08 derived from a hash of the meter id (and the day),
  so two meters differ but every run gives the same numbers,
* ``day_shape`` a 24-point piecewise-linear curve: an office workday (night base load, morning ramp,
  lunch dip, evening tail) or a rest day (weekends and Chinese public holidays from
  ``chinese_calendar``, which also knows the swapped working weekends 调休),
* ``season``: cooling and heating peaks for electricity, heating season only for heat, more water
  in summer, more gas in winter; PV follows the sun.

Counters are the exact integral of the rate from :data:`EPOCH` (plus a per-meter start value), so
``counter_value`` is continuous, never decreases and ``d(counter)/dt`` equals the rate that the
gauges report (``power_w`` ≈ 1000 × d(kWh)/dh). :func:`point_values` gives every point of a
register map at one instant; :func:`history_readings` yields what the meters would have read.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo

import chinese_calendar

from collectors.decode import decode_point, encode_value
from collectors.registermap import RegisterMap, meter_register_map
from storage import Reading

__all__ = [
    "EPOCH",
    "counter_value",
    "history_readings",
    "is_workday",
    "point_values",
    "rate_per_hour",
]

SHANGHAI = ZoneInfo("Asia/Shanghai")
#: Counters start growing at local midnight of this day; before it they hold their start value.
EPOCH = date(2023, 1, 1)

#: Share of the mean rate by local hour 0…23 on a working day (office occupancy).
WORKDAY_SHAPE = (
    0.35, 0.33, 0.32, 0.32, 0.33, 0.36, 0.45, 0.65, 0.90, 1.00, 1.00, 0.98,
    0.80, 0.85, 1.00, 1.00, 0.97, 0.90, 0.70, 0.55, 0.50, 0.45, 0.40, 0.37,
)
#: ... on a rest day (weekend, public holiday): base load and a little daytime use.
RESTDAY_SHAPE = (
    0.33, 0.32, 0.31, 0.31, 0.32, 0.33, 0.35, 0.38, 0.42, 0.45, 0.46, 0.46,
    0.45, 0.45, 0.45, 0.45, 0.44, 0.43, 0.42, 0.41, 0.39, 0.37, 0.35, 0.34,
)
#: PV output by hour (a clear-sky bell, 06:00–18:00), the same every day.
SOLAR_SHAPE = tuple(
    max(0.0, math.sin(math.pi * (h - 6) / 12)) if 6 <= h <= 18 else 0.0 for h in range(24)
)

#: Mean rate at shape 1.0 [unit/h] by carrier; electricity by sub-item (kW).
MEAN_RATE_ELECTRICITY_KW = {
    "01000": 80.0, "01A00": 15.0, "01B00": 35.0, "01C00": 8.0, "01D00": 10.0, "01D30": 12.0,
}
MEAN_RATE = {"electricity": 10.0, "water": 1.2, "natural_gas": 4.0, "heat": 0.6, "pv": 30.0}


def _hash_unit(*parts: object) -> float:
    """Return a stable number in [0, 1) from ``parts`` (not Python's salted ``hash``)."""
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


@lru_cache(maxsize=8192)
def is_workday(day: date) -> bool:
    """Chinese working day (节假日 and 调休 from ``chinese_calendar``; weekdays outside its range)."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:  # a year the calendar does not cover
        return day.weekday() < 5


def _season(carrier: str, subitem: str, day: date) -> float:
    doy = day.timetuple().tm_yday
    winter = math.cos(2 * math.pi * (doy - 15) / 365.25)  # +1 mid-January, −1 mid-July
    if carrier == "heat":
        return max(0.0, winter) ** 0.7 if (day.month >= 11 or day.month <= 3) else 0.0
    if carrier == "natural_gas":
        return 0.7 + 0.4 * winter
    if carrier == "water":
        return 1.0 - 0.2 * winter
    if carrier == "pv":
        return 0.8 - 0.3 * winter
    # electricity: cooling peak in July/August, heating peak in January (two peaks a year)
    both = math.cos(4 * math.pi * (doy - 20) / 365.25)
    amplitude = {"01B00": 0.5, "01B10": 0.5, "01B20": 0.5, "01000": 0.2}.get(subitem, 0.05)
    return 1.0 + amplitude * both


def _shape(carrier: str, day: date) -> tuple[float, ...]:
    if carrier == "pv":
        return SOLAR_SHAPE
    workday = is_workday(day)
    base = WORKDAY_SHAPE if workday else RESTDAY_SHAPE
    if carrier == "heat":  # night set-back, not switched off
        return tuple(0.7 + 0.3 * s for s in base)
    return base


@lru_cache(maxsize=65536)
def _day_params(meter_id: str, carrier: str, subitem: str, day: date) -> tuple[float, ...]:
    """Return the 25 knots (00:00 … 24:00) of the day's rate curve [unit/h]."""
    mean = MEAN_RATE_ELECTRICITY_KW.get(subitem, MEAN_RATE["electricity"]) \
        if carrier == "electricity" else MEAN_RATE.get(carrier, 1.0)
    size = 0.7 + 0.6 * _hash_unit("size", meter_id)
    day_factor = 0.92 + 0.16 * _hash_unit("day", meter_id, day.isoformat())
    level = mean * size * _season(carrier, subitem, day) * day_factor
    shape = _shape(carrier, day)
    knots = [level * s for s in shape]
    return (*knots, knots[0])


@lru_cache(maxsize=65536)
def _hourly_cumulative(knots: tuple[float, ...]) -> tuple[float, ...]:
    """∫ rate from 00:00 to each whole hour 0…24 of a piecewise-linear day curve [unit]."""
    out = [0.0]
    for h in range(24):
        out.append(out[-1] + (knots[h] + knots[h + 1]) / 2)
    return tuple(out)


def _integral_to_hour(knots: tuple[float, ...], hours: float) -> float:
    """∫ rate from 00:00 to ``hours`` (0…24) of a piecewise-linear day curve [unit]."""
    whole = min(int(hours), 24)
    total = _hourly_cumulative(knots)[whole]
    frac = hours - whole
    if frac > 0 and whole < 24:
        a, b = knots[whole], knots[whole + 1]
        total += a * frac + (b - a) * frac * frac / 2
    return total


def _rate_at(knots: Sequence[float], hours: float) -> float:
    h = min(int(hours), 23)
    frac = hours - h
    return knots[h] + (knots[h + 1] - knots[h]) * frac


@lru_cache(maxsize=4096)
def _year_cumulative(meter_id: str, carrier: str, subitem: str, year: int) -> tuple[float, ...]:
    """Consumption from :data:`EPOCH` to the start of each day of ``year`` (index 0 = 1 Jan)."""
    if year <= EPOCH.year:
        start = 0.0
    else:
        prev = _year_cumulative(meter_id, carrier, subitem, year - 1)
        last_day = date(year - 1, 12, 31)
        start = prev[-1] + _integral_to_hour(_day_params(meter_id, carrier, subitem, last_day), 24)
    out = [start]
    day = date(year, 1, 1)
    while day.year == year and day < date(year, 12, 31):
        if day >= EPOCH:
            out.append(out[-1] + _integral_to_hour(_day_params(meter_id, carrier, subitem, day), 24))
        else:
            out.append(out[-1])
        day += timedelta(days=1)
    return tuple(out)


def _local(t: datetime, tz: tzinfo) -> datetime:
    if t.tzinfo is None:
        raise ValueError(f"time {t!r} has no time zone; pass an aware datetime (UTC)")
    return t.astimezone(tz)


def _carrier(meter) -> str:
    return str(getattr(meter.carrier, "value", meter.carrier))


def start_value(meter) -> float:
    """Return the counter's reading at :data:`EPOCH` [unit] (a stable per-meter number)."""
    return _start_value(meter.id)


@lru_cache(maxsize=4096)
def _start_value(meter_id: str) -> float:
    return round(100 + 4900 * _hash_unit("start", meter_id), 1)


def counter_value(meter, t: datetime, tz: tzinfo = SHANGHAI) -> float:
    """Return the meter's consumption counter at ``t`` (cumulative, in the point's unit, primary side).

    Parameters
    ----------
    meter
        A ``[[meters]]`` entry (``collectors.settings.MeterSettings``): id, carrier, subitem.
    t
        Time zone-aware instant.
    tz
        The site's time zone, in which days and hours are cut.

    Returns
    -------
    float
        kWh for electricity (export kWh for PV), m³ for water and gas, GJ for heat.
    """
    local = _local(t, tz)
    day = local.date()
    carrier = _carrier(meter)
    base = start_value(meter)
    if day < EPOCH:
        return base
    cumulative = _year_cumulative(meter.id, carrier, meter.subitem, day.year)
    hours = (local - datetime(day.year, day.month, day.day, tzinfo=tz)).total_seconds() / 3600
    knots = _day_params(meter.id, carrier, meter.subitem, day)
    return base + cumulative[day.timetuple().tm_yday - 1] + _integral_to_hour(knots, hours)


def rate_per_hour(meter, t: datetime, tz: tzinfo = SHANGHAI) -> float:
    """d(counter)/dt at ``t`` [unit/h]: kW for electricity, m³/h, GJ/h."""
    local = _local(t, tz)
    day = local.date()
    if day < EPOCH:
        return 0.0
    hours = (local - datetime(day.year, day.month, day.day, tzinfo=tz)).total_seconds() / 3600
    return _rate_at(_day_params(meter.id, _carrier(meter), meter.subitem, day), hours)


# ---------------------------------------------------------------------------------------------
# Every point of a map at one instant
# ---------------------------------------------------------------------------------------------

_TOU_SHARES = {"energy_sharp_kwh": 0.10, "energy_peak_kwh": 0.35, "energy_flat_kwh": 0.30,
               "energy_valley_kwh": 0.25}
_PHASE_SHARES = (0.34, 0.33, 0.33)


_BASIC_ELECTRIC = frozenset(
    {"energy_import_kwh", "energy_export_kwh", "energy_total_kwh", "energy_combined_kwh"}
)


def _electric_values(
    meter, t: datetime, tz: tzinfo, names: frozenset[str] | None = None
) -> dict[str, float]:
    carrier = _carrier(meter)
    counter = counter_value(meter, t, tz)
    if carrier == "pv":
        export_kwh, import_kwh = counter, 10.0 + 0.001 * counter
    else:
        import_kwh, export_kwh = counter, 0.0
    if names is not None and names <= _BASIC_ELECTRIC:  # counters only: the backfill's case
        return {"energy_import_kwh": import_kwh, "energy_export_kwh": export_kwh,
                "energy_total_kwh": import_kwh + export_kwh,
                "energy_combined_kwh": import_kwh + export_kwh}
    power_kw = rate_per_hour(meter, t, tz)
    power_w = -power_kw * 1000 if carrier == "pv" else power_kw * 1000
    wobble = math.sin(t.timestamp() / 600.0)
    pf = 0.95 + 0.02 * wobble
    volts = 230.0 + 2.0 * wobble
    v = {
        "energy_import_kwh": import_kwh,
        "energy_export_kwh": export_kwh,
        "energy_total_kwh": import_kwh + export_kwh,
        "energy_combined_kwh": import_kwh + export_kwh,
        "power_w": power_w,
        "reactive_power_var": abs(power_w) * math.tan(math.acos(pf)),
        "apparent_power_va": abs(power_w) / pf,
        "power_factor": pf,
        "power_factor_pf4q": pf,
        "frequency_hz": 50.0 + 0.02 * wobble,
        "voltage_v": volts,
        "current_a": abs(power_w) / (volts * pf),
        "meter_ct_ratio": meter.ct_ratio,
        "meter_pt_ratio": meter.pt_ratio,
    }
    for name, share in _TOU_SHARES.items():
        v[name] = (import_kwh + export_kwh) * share
    for i, share in enumerate(_PHASE_SHARES, start=1):
        nxt = i % 3 + 1
        v[f"voltage_l{i}_v"] = volts + 0.5 * i
        v[f"voltage_l{i}_l{nxt}_v"] = (volts + 0.5 * i) * math.sqrt(3)
        v[f"power_l{i}_w"] = power_w * share
        v[f"current_l{i}_a"] = abs(power_w) * share / ((volts + 0.5 * i) * pf)
        v[f"power_factor_l{i}"] = pf
        v[f"energy_import_l{i}_kwh"] = import_kwh * share
        v[f"energy_export_l{i}_kwh"] = export_kwh * share
    return v


def _flow_values(meter, t: datetime, tz: tzinfo) -> dict[str, float]:
    carrier = _carrier(meter)
    counter = counter_value(meter, t, tz)
    rate = rate_per_hour(meter, t, tz)
    if carrier == "heat":
        # water through the meter: Q = P / (c·ΔT), c = 1.163 kWh/(m³·K), ΔT = 10 K; 1 GJ = 277.78 kWh
        kwh_per_m3 = 1.163 * 10.0
        return {
            "heat_gj": counter,
            "thermal_power_kw": rate * 277.778,
            "flow_rate_m3_per_h": rate * 277.778 / kwh_per_m3,
            "supply_temperature_c": 60.0,
            "return_temperature_c": 50.0,
            "volume_m3": counter * 277.778 / kwh_per_m3,
        }
    return {
        "volume_m3": counter,
        "flow_rate_m3_per_h": rate,
        "sound_speed_m_per_s": 1482.0,
        "signal_quality_raw": 85 + (3 << 8),  # quality 85 %, autogain step 3
        "signal_strength_up": 720.0,
        "signal_strength_down": 715.0,
        "temperature_c": 15.0,
        "pressure_kpa": 103.3,
    }


def point_values(
    meter,
    regmap: RegisterMap,
    t: datetime,
    tz: tzinfo = SHANGHAI,
    names: frozenset[str] | None = None,
) -> dict[str, float]:
    """Every point of ``regmap`` (or only ``names``) for ``meter`` at ``t``, primary side.

    Values are in the points' units; points the simulator does not know by name read 0.0.
    """
    if _carrier(meter) in ("electricity", "pv"):
        known = _electric_values(meter, t, tz, names)
    else:
        known = _flow_values(meter, t, tz)
    return {
        p.name: float(known.get(p.name, 0.0))
        for p in regmap.points if names is None or p.name in names
    }


def history_readings(
    settings,
    start: datetime,
    end: datetime,
    step_s: float,
    meters: Sequence[str] | None = None,
    points: Sequence[str] | None = None,
) -> Iterator[Reading]:
    """Compute what the configured meters would have read every ``step_s`` s in ``[start, end)``.

    Values go through the register encoding of each meter's model and back, so a backfilled
    reading has exactly the precision a live poll of the simulator would have.

    Parameters
    ----------
    settings
        The composed settings (:class:`collectors.settings.CollectorConfig`): the meters, their
        models and the site's time zone.
    start, end
        Time zone-aware bounds; times are aligned to multiples of ``step_s`` since the Unix epoch.
    step_s
        Interval between readings. [s]
    meters, points
        Only these meter ids / point names (default: all).
    """
    if step_s <= 0:
        raise ValueError(f"step_s = {step_s}: expected a positive number of seconds")
    tz = settings.site.tzinfo
    start_utc, end_utc = _local(start, UTC), _local(end, UTC)
    dirs = [settings.resolve(d) for d in settings.collector.register_map_dirs]
    chosen = [m for m in settings.meters if meters is None or m.id in meters]
    maps = {m.id: meter_register_map(m, dirs) for m in chosen}
    selected = {
        m.id: [p for p in maps[m.id].points if points is None or p.name in points] for m in chosen
    }
    names = {m.id: frozenset(p.name for p in selected[m.id]) for m in chosen}
    first = math.ceil(start_utc.timestamp() / step_s) * step_s
    t_s = first
    while t_s < end_utc.timestamp():
        t = datetime.fromtimestamp(t_s, UTC)
        for meter in chosen:
            if not selected[meter.id]:
                continue
            values = point_values(meter, maps[meter.id], t, tz, names[meter.id])
            for p in selected[meter.id]:
                words = encode_value(p, values[p.name], meter.ct_ratio, meter.pt_ratio)
                decoded = decode_point(p, words, meter.ct_ratio, meter.pt_ratio)
                yield Reading(meter=meter.id, point=p.name, time=t, value=decoded.value,
                              quality=decoded.quality)
        t_s += step_s
