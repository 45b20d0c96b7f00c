"""Write the demo city's ledgers (sample_data/*.csv). Deterministic: run it again, same files.

A small city in Shandong (climate zone 寒冷, peninsula-coastal quota area A of DB37/T 2672-2019):
five metered institutions that match ``config/demo.toml`` (gov01, gov02, edu01, hos01, ven01) and
nine more that report by bills only, so that peer groups and ranks mean something.

The metered institutions are sized to the meters the demo simulates (floor areas fit the simulated
electricity; gov01, the city hall, is the frugal exception), and their 2020 bills are what those
meters read in 2025 divided by the city's 2025 saving (``TREND[2025]``): the simulator's profile
(collectors/simulator/profile.py) is the single source of their consumption, so the 十四五 comparison
of metered 2025 against billed 2020 is coherent.

Figures are invented but plausible: 2020 is the 十四五 baseline (bills for everyone, meters were
not yet installed); 2024–2026 have bills for the unmetered institutions and for what no meter of
``config/demo.toml`` reads (gov02's water, district heat, LPG, diesel, PV, some gas). One
institution grows against the trend, one gains more than 10% people, one opens a new building
(edu03's annex, in use from 1 September 2025: its floor area grows by more than 10%, and its
electricity and heat with it) and one bill has an odd unit price, so that the verdicts and
auditor checks have something to find.

The bureau's own work (issue 14) adds, with a second random stream so that the figures above stay
as they were: a 集中办公区 (cmp01) whose three members (gov07, gov08, gov09) share a main meter
(the compound's electricity bill, its members' own sub-meters inside it: rule residual), a canteen
(natural gas, by occupants), water (by area, the default) and heat (fixed shares); a leased-out
floor of gov04 without its own meter (estimated by area share) and a leased-out café of ven02 with
its own electricity bill (left out exactly); vehicle types, tanks, in-use dates and odometer
readings (a few fills without one, one reading going backwards, one fill larger than its tank,
one car fuelled after it was retired, one minibus far above its type's median); two electric
cars with charging records (own piles, and public stations for the newer one); and institutions
in three counties (行政区划代码 370102 历下区, 370103 市中区, 370124 平阴县).

Usage: ``python sample_data/generate.py`` (writes beside this file).
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RNG = np.random.default_rng(2026)

#: Until when bills exist in the current year (the sample was made in November 2026).
LAST_BILLED = dt.date(2026, 10, 31)
YEARS = (2020, 2024, 2025, 2026)

# id, name, category, level, quota_area, subtype, metered, floor_area_m2, heated_area_m2,
# building_id, occupants 2020 (用能人数; venues count staff and the visitor-equivalent), electricity
# kWh/m2 2020, water m3/person 2020
INSTITUTIONS = [
    ("gov01", "市政府办公楼", "government", "municipal", "A", "class_a", True, 18000, 16500,
     "gov01-main", 520, 62.0, 28.0),
    ("gov02", "市发改委", "government", "municipal", "A", "class_a", True, 9100, 8200,
     "gov02-main", 300, 55.0, 24.0),
    ("edu01", "市第一中学", "education", "municipal", "A", "", True, 17500, 15800,
     "edu01-teaching", 2200, 28.0, 14.0),
    ("hos01", "市人民医院", "healthcare", "municipal", "A", "secondary_hospital", True, 4800,
     4300, "hos01-inpatient", 260, 95.0, 60.0),
    ("ven01", "市体育中心", "venue", "municipal", "", "gymnasium", True, 8300, 3000,
     "ven01-stadium", 400, 38.0, 12.0),
    ("gov03", "市财政局", "government", "municipal", "A", "class_a", False, 7200, 6800,
     "gov03-main", 210, 58.0, 26.0),
    ("gov04", "市教育局", "government", "municipal", "A", "class_a", False, 5800, 5500,
     "gov04-main", 150, 50.0, 22.0),
    ("gov05", "县人民政府", "government", "county", "A", "class_a", False, 9800, 9000,
     "gov05-main", 260, 45.0, 25.0),
    ("gov06", "县发改局", "government", "county", "A", "class_a", False, 3100, 3000,
     "gov06-main", 70, 42.0, 23.0),
    ("edu02", "市第二中学", "education", "municipal", "A", "", False, 19000, 17000,
     "edu02-main", 2100, 25.0, 13.0),
    ("edu03", "市实验小学", "education", "municipal", "A", "", False, 11000, 10000,
     "edu03-main", 1500, 20.0, 9.0),
    ("hos02", "市中医院", "healthcare", "municipal", "A", "secondary_hospital", False, 26000,
     24000, "hos02-main", 1100, 88.0, 55.0),
    ("ven02", "市图书馆", "venue", "municipal", "", "library", False, 15000, 14000,
     "ven02-main", 450, 40.0, 10.0),
    ("ven03", "市博物馆", "venue", "municipal", "", "museum", False, 12000, 11000,
     "ven03-main", 400, 48.0, 10.0),
]

#: Buildings opened after 2020 (building_id, institution_id, floor_area_m2, heated_area_m2, name,
#: in_use_from): their institution's electricity and heat grow by their share of its area from then.
ANNEXES = [
    ("edu03-annex", "edu03", 2400, 2200, "市实验小学新教学楼", dt.date(2025, 9, 1)),
]

#: Change of consumption against 2020, per year (the city saves; gov04 does not).
TREND = {2020: 1.00, 2024: 0.94, 2025: 0.92, 2026: 0.90}
TREND_GOV04 = {2020: 1.00, 2024: 1.05, 2025: 1.08, 2026: 1.10}

#: Share of a year's electricity per month (air conditioning in summer, heating in winter).
MONTH_SHAPE = np.array([1.05, 0.90, 0.90, 0.85, 0.95, 1.15, 1.35, 1.35, 1.00, 0.85, 0.90, 1.05])
MONTH_SHAPE = MONTH_SHAPE / MONTH_SHAPE.sum()

#: What the meters of config/demo.toml read, per institution (no bills for these from 2024 on).
METERED = {
    "gov01": {"electricity", "water", "natural_gas"},
    "gov02": {"electricity"},
    "edu01": {"electricity", "water", "heat"},
    "hos01": {"electricity", "water", "natural_gas", "heat"},
    "ven01": {"electricity", "water"},
}
#: Natural gas per month where it is used [m3]: boilers and canteens.
GAS_M3_PER_MONTH = {"gov01": 1800.0, "hos01": 11000.0, "hos02": 6500.0, "edu01": 2400.0}

HEAT_GJ_PER_M2 = 0.32  # district heat per heated m2 per heating season [GJ/m2]
PRICE = {"electricity": 0.78, "water": 4.2, "heat": 38.0, "lpg": 7.5, "natural_gas": 3.6,
         "coal": 1.1, "diesel": 7.6, "pv": 0.0}


def _write(name: str, header: list[str], rows: list[list[object]]) -> None:
    with (HERE / name).open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def _trend(inst: str, year: int) -> float:
    table = TREND_GOV04 if inst == "gov04" else TREND
    return table.get(year, table[min(table, key=lambda y: abs(y - year))])


def _noise(scale: float = 0.03) -> float:
    return float(1.0 + RNG.normal(0.0, scale))


def _month_range(year: int, month: int) -> tuple[dt.date, dt.date]:
    first = dt.date(year, month, 1)
    nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
    return first, nxt - dt.timedelta(days=1)


#: Second random stream, for what the bureau's work added (the first one's draws stay the same).
RNG2 = np.random.default_rng(14)

#: Counties (区县): 行政区划代码 → name; every institution is in one.
COUNTIES = {"370102": "历下区", "370103": "市中区", "370124": "平阴县"}
REGION = {
    **dict.fromkeys(("gov01", "gov02", "edu01", "hos01", "ven01", "gov03", "gov04"), "370102"),
    **dict.fromkeys(("edu02", "edu03", "hos02", "ven02", "ven03", "gov07", "gov08", "gov09"),
                    "370103"),
    **dict.fromkeys(("gov05", "gov06"), "370124"),
}

#: The 集中办公区 and its members (same columns as INSTITUTIONS; they report by bills).
COMPOUND = ("cmp01", "市级机关第一集中办公区")
MEMBERS = [
    ("gov07", "市司法局", "government", "municipal", "A", "class_a", False, 4200, 4000,
     "gov07-main", 120, 40.0, 20.0),
    ("gov08", "市审计局", "government", "municipal", "A", "class_a", False, 3600, 3400,
     "gov08-main", 100, 42.0, 20.0),
    ("gov09", "市统计局", "government", "municipal", "A", "class_a", False, 2700, 2500,
     "gov09-main", 80, 38.0, 20.0),
]
#: The compound's common part of electricity over the members' own sub-meters (lifts, lobby,
#: canteen, server room) and its other shared carriers.
COMMON_ELECTRICITY = 0.35
COMPOUND_GAS_M3_PER_MONTH = 2600.0
COMPOUND_WATER_M3_PER_PERSON = 18.0
HEAT_SHARES = {"gov07": 0.4, "gov08": 0.35, "gov09": 0.25}

#: Space outside the statistical boundary: (building_id, institution_id, floor_area_m2, name, use).
OUTSIDE = [
    ("gov04-f5", "gov04", 500, "市教育局五层 (对外出租)", "leased_out"),   # on the main meter
    ("ven02-cafe", "ven02", 300, "市图书馆咖啡厅 (公开招租)", "leased_out"),  # own electricity bill
]


def institutions() -> None:
    rows = [[i[0], i[1], i[2], i[3], "shandong", "cold", "", i[4], i[5], REGION[i[0]],
             COUNTIES[REGION[i[0]]]] for i in [*INSTITUTIONS, *MEMBERS]]
    _write("institutions.csv", ["institution_id", "name", "category", "level", "province",
                                "climate_zone", "credit_code", "quota_area", "subtype",
                                "region_code", "region_name"], rows)


def compounds() -> None:
    _write("compounds.csv", ["compound_id", "name", "province", "climate_zone"],
           [[COMPOUND[0], COMPOUND[1], "shandong", "cold"]])
    _write("compound_members.csv", ["compound_id", "institution_id", "from", "until"],
           [[COMPOUND[0], m[0], "", ""] for m in MEMBERS])
    # electricity: the main meter minus the members' sub-meters, the rest by area; the canteen's
    # gas by occupants; water by area (no row: the default); heat by fixed shares.
    rows = [[COMPOUND[0], "electricity", "residual", "area", "", ""],
            [COMPOUND[0], "natural_gas", "occupants", "", "", ""]]
    rows += [[COMPOUND[0], "heat", "fixed", "", inst, share] for inst, share in HEAT_SHARES.items()]
    _write("apportionment.csv", ["compound_id", "carrier", "rule", "residual_rule",
                                 "institution_id", "share"], rows)


def buildings() -> None:
    rows = [[i[9], i[0], i[7], i[8], f"{i[1]}主楼", "district_heat_metered", "", "", ""]
            for i in INSTITUTIONS]
    rows += [[b, inst, area, heated, name, "district_heat_metered", start.isoformat(), "", ""]
             for b, inst, area, heated, name, start in ANNEXES]
    rows += [[m[9], m[0], m[7], m[8], f"{COMPOUND[1]} {m[1]}办公区", "district_heat_metered", "",
              "", COMPOUND[0]] for m in MEMBERS]
    rows += [[b, inst, area, 0, name, "district_heat_metered", "", use, ""]
             for b, inst, area, name, use in OUTSIDE]
    _write("buildings.csv", ["building_id", "institution_id", "floor_area_m2", "heated_area_m2",
                             "name", "heating_type", "in_use_from", "use", "compound_id"], rows)


def _growth(inst: str, day: dt.date, heated: bool = False) -> float:
    """Area of ``inst`` in use on ``day`` ÷ its main building's (1 before any annex opened)."""
    main = next(i for i in INSTITUTIONS if i[0] == inst)
    base = main[8] if heated else main[7]
    extra = sum(heated_area if heated else area
                for _b, i, area, heated_area, _n, start in ANNEXES if i == inst and start <= day)
    return (base + extra) / base


def headcount() -> None:
    rows = []
    for i in INSTITUTIONS:
        for year in YEARS:
            occupants = i[10] * (1.0 + 0.01 * (year - 2020))
            if i[0] == "gov03" and year >= 2025:
                occupants *= 1.18  # a merged department: more than 10% more people (auditor check)
            rows.append([i[0], year, round(occupants)])
    for m in MEMBERS:
        rows += [[m[0], year, round(m[10] * (1.0 + 0.01 * (year - 2020)))] for year in YEARS]
    _write("headcount.csv", ["institution_id", "year", "occupants"], rows)


VEHICLES = [
    ("鲁F10001", "gov01", "gasoline", False), ("鲁F10002", "gov01", "gasoline", False),
    ("鲁F1E003", "gov01", "electric", True), ("鲁F20001", "gov02", "gasoline", False),
    ("鲁F30001", "edu01", "diesel", False), ("鲁F40001", "hos01", "diesel", False),
    ("鲁F40002", "hos01", "gasoline", False), ("鲁F4E003", "hos01", "hybrid", True),
    ("鲁F50001", "ven01", "gasoline", False), ("鲁F60001", "gov03", "gasoline", False),
    ("鲁F70001", "gov05", "gasoline", False), ("鲁F70002", "gov05", "diesel", False),
    ("鲁F80001", "hos02", "diesel", False),
]


#: plate → (vehicle_type, tank_l, in_use_from, in_use_until, L/100 km (kWh/100 km for an EV)).
VEHICLE_DETAIL = {
    "鲁F10001": ("sedan", 70, "2018-03-01", "", 9.0),
    "鲁F10002": ("sedan", 70, "2019-06-01", "", 9.5),
    "鲁F1E003": ("sedan", None, "2021-04-01", "", 15.0),
    "鲁F20001": ("sedan", 70, "2017-09-01", "", 8.5),   # one fill of 82 L in 2025 (> tank)
    "鲁F30001": ("suv", 100, "2016-05-01", "", 11.0),
    "鲁F40001": ("minibus", 110, "2018-01-01", "", 12.0),
    "鲁F40002": ("sedan", 70, "2019-01-01", "", 9.2),
    "鲁F4E003": ("sedan", 45, "2022-02-01", "", 5.0),
    "鲁F50001": ("sedan", 70, "2016-11-01", "", 8.8),   # an odometer typo going backwards, 2025
    "鲁F60001": ("sedan", 70, "2014-07-01", "2024-12-31", 9.6),  # retired, fuelled in 2025
    "鲁F70001": ("sedan", 70, "2018-08-01", "", 9.1),
    "鲁F70002": ("minibus", 110, "2017-04-01", "", 12.5),
    "鲁F80001": ("minibus", 110, "2016-02-01", "", 20.0),  # far above the minibus median
    "鲁F7E004": ("sedan", None, "2025-05-01", "", 14.0),  # gov05's new EV (added in 2025)
}
#: Vehicles added for the bureau's work (after VEHICLES: their records use RNG2).
NEW_VEHICLES = [("鲁F7E004", "gov05", "electric", True)]


def vehicles() -> None:
    rows = []
    for p, inst, fuel, ne in [*VEHICLES, *NEW_VEHICLES]:
        kind, tank, start, end, _rate = VEHICLE_DETAIL[p]
        rows.append([p, inst, fuel, "yes" if ne else "no", kind, tank or "", start, end])
    _write("vehicles.csv", ["plate", "institution_id", "fuel", "new_energy", "vehicle_type",
                            "tank_l", "in_use_from", "in_use_until"], rows)


def _odometer(plate: str, records: list[list[object]], amount: int) -> None:
    """Append each record's odometer reading: the distance its fuel or charge drives (at the
    vehicle's L or kWh per 100 km) added up; every fifth record has no reading."""
    km = 30_000.0 + 1_000.0 * (sum(map(ord, plate)) % 50)
    for n, record in enumerate(records):
        km += float(record[amount]) / VEHICLE_DETAIL[plate][4] * 100.0
        record.append("" if n % 5 == 3 else round(km))


def fuel() -> None:
    rows = []
    n = 0
    for plate, inst, kind, _ in VEHICLES:
        if kind == "electric":
            continue
        first = len(rows)
        litres_month = {"gasoline": 95.0, "diesel": 140.0, "hybrid": 45.0}[kind]
        liquid = "gasoline" if kind == "hybrid" else kind
        for year in YEARS:
            for month in range(1, 13):
                day = dt.date(year, month, 8 + sum(map(ord, plate)) % 3)
                if day > LAST_BILLED:
                    continue
                for half in (0, 14):
                    n += 1
                    litres = round(litres_month / 2 * _trend(inst, year) * _noise(0.1), 1)
                    price = 7.9 if liquid == "gasoline" else 7.6
                    rows.append([f"FC{n:06d}", (day + dt.timedelta(days=half)).isoformat(),
                                 plate, liquid, litres, round(litres * price, 2)])
        mine = rows[first:]
        if plate == "鲁F60001":  # retired at the end of 2024: its card is no longer used
            mine = [r for r in mine if str(r[1]) < "2025"]
            mine.append([f"FC{900001:06d}", "2025-02-12", plate, "gasoline", 41.0, 323.9])
        if plate == "鲁F20001":  # a fill larger than the 70 L tank
            mine = [r if r[1] != "2025-03-23" else [*r[:4], 82.0, round(82.0 * 7.9, 2)]
                    for r in mine]
        _odometer(plate, mine, 4)
        if plate == "鲁F50001":  # a typo: one reading 10 000 km too low
            typo = next(r for r in mine if str(r[1]).startswith("2025-06") and r[6] != "")
            typo[6] = int(typo[6]) - 10_000
        rows[first:] = mine
    _write("fuel.csv", ["record_id", "date", "plate", "fuel", "litres", "cost_cny",
                        "odometer_km"], rows)


def charging() -> None:
    """Two electric cars: gov01's charges at its own pile (inside its building meter), gov05's
    new car (from May 2025) at its pile and, now and then, at a public station."""
    rows = []
    n = 0
    for plate, start in (("鲁F1E003", dt.date(2024, 1, 1)), ("鲁F7E004", dt.date(2025, 5, 1))):
        records = []
        day = start
        while day <= LAST_BILLED:
            n += 1
            kwh = round(38.0 * float(1.0 + RNG2.normal(0.0, 0.1)), 1)
            public = plate == "鲁F7E004" and n % 4 == 0
            price = 1.6 if public else 0.78
            records.append([f"CH{n:06d}", day.isoformat(), plate, kwh, round(kwh * price, 2),
                            "yes" if public else "no"])
            day += dt.timedelta(days=10)
        _odometer(plate, records, 3)
        rows += [[r[0], r[1], r[2], r[3], r[4], r[6], r[5]] for r in records]
    _write("charging.csv", ["record_id", "date", "plate", "kwh", "cost_cny", "odometer_km",
                            "public_station"], rows)


def facilities() -> None:
    rows = [
        ["gov01-canteen", "gov01", "canteen", "机关食堂", "", "lpg", "", "", ""],
        # Data centres: a third or less of their institution's (metered) electricity.
        ["gov01-dc", "gov01", "data_center", "信息中心机房", 2024, "electricity", 30, 72000,
         118000],
        ["gov01-dc", "gov01", "data_center", "信息中心机房", 2025, "electricity", 30, 75000,
         120000],
        ["hos01-dc", "hos01", "data_center", "医院数据中心", 2025, "electricity", 40, 72000,
         130000],
        ["hos01-boiler", "hos01", "boiler", "蒸汽锅炉", "", "natural_gas", 2800, "", ""],
        ["ven01-gen", "ven01", "generator", "备用柴油发电机", "", "diesel", 500, "", ""],
        ["edu01-canteen", "edu01", "canteen", "学生食堂", "", "natural_gas", "", "", ""],
        ["gov05-boiler", "gov05", "boiler", "燃煤锅炉 (2021年拆除)", "", "coal", 1400, "", ""],
        ["cmp01-canteen", "cmp01", "canteen", "集中办公区机关食堂", "", "natural_gas", "", "", ""],
    ]
    _write("facilities.csv", ["facility_id", "institution_id", "kind", "name", "year", "carrier",
                              "capacity_kw", "it_energy_kwh", "total_energy_kwh"], rows)


@functools.cache
def _demo_settings():  # -> jieneng.settings.Settings (imported lazily)
    from jieneng.settings import load_settings

    return load_settings(HERE.parent / "config" / "demo.toml")


def _shifted(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _simulated(inst: str, carrier: str, start: dt.date, end: dt.date) -> float:
    """What the demo's top-level meters of an institution and carrier read over the same days
    of 2025, divided by the 2025 saving: that institution's consumption in the baseline year."""
    from collectors.simulator.profile import counter_value

    settings = _demo_settings()
    tz = settings.site.tzinfo
    shift = 2025 - end.year
    first, last = _shifted(start, shift), _shifted(end, shift) + dt.timedelta(days=1)
    a = dt.datetime(first.year, first.month, first.day, tzinfo=tz)
    b = dt.datetime(last.year, last.month, last.day, tzinfo=tz)
    total = sum(
        counter_value(m, b, tz) - counter_value(m, a, tz) for m in settings.meters
        if m.institution == inst and str(m.carrier) == carrier and m.subitem.endswith("000")
    )
    return total / _trend(inst, 2025)


def _bill(rows: list, inst: str, carrier: str, start: dt.date, end: dt.date, quantity: float,
          unit: str, account: str, price: float | None = None, green: str = "") -> None:
    if end > LAST_BILLED:
        return
    price = PRICE[carrier] if price is None else price
    rows.append([inst, carrier, start.isoformat(), end.isoformat(), round(quantity, 1), unit,
                 round(quantity * price, 2), account, green])


def bills() -> None:
    rows: list[list[object]] = []
    for (inst, _name, category, _lvl, _a, _s, _metered, area, heated, _b, people, kwh_m2,
         water_pp) in INSTITUTIONS:
        for year in YEARS:
            k = _trend(inst, year)

            def billed(carrier: str, year: int = year, inst: str = inst) -> bool:
                return year <= 2021 or carrier not in METERED.get(inst, set())

            if billed("electricity"):
                annual = area * kwh_m2 * k
                for month in range(1, 13):
                    start, end = _month_range(year, month)
                    if inst in ("gov05", "edu02"):  # billing cycle from the 26th to the 25th
                        # (the 26th of the previous month: counting back six days from the 1st
                        # started on the 25th after a 30-day month and on the 23rd in March,
                        # so consecutive bills overlapped and ~7,500 kWh a year of each of
                        # the two institutions were counted twice)
                        start = (dt.date(year, month, 1) - dt.timedelta(days=1)).replace(day=26)
                        end = dt.date(year, month, 25)
                    quantity = annual * MONTH_SHAPE[month - 1] * _noise() * _growth(inst, end)
                    if "electricity" in METERED.get(inst, set()):
                        quantity = _simulated(inst, "electricity", start, end)
                    price = 2.1 if (inst == "hos02" and year == 2025 and month == 6) else None
                    if inst == "gov03" and year >= 2024:  # part of it certified green electricity
                        _bill(rows, inst, "electricity", start, end, quantity * 0.2, "kWh",
                              f"{inst}-green", 0.82, green="yes")
                        quantity *= 0.8
                    _bill(rows, inst, "electricity", start, end, quantity, "kWh", f"{inst}-e",
                          price)
            if billed("water"):
                for quarter in range(4):
                    start = dt.date(year, 3 * quarter + 1, 1)
                    end = _month_range(year, 3 * quarter + 3)[1]
                    quantity = people * (1.0 + 0.01 * (year - 2020)) * water_pp * k / 4 * _noise()
                    if "water" in METERED.get(inst, set()):
                        quantity = _simulated(inst, "water", start, end)
                    _bill(rows, inst, "water", start, end, quantity, "m3", f"{inst}-w")
            # District heat: one bill per heating season, 15 November to 15 March; the season
            # that ends in the next year is billed too, so that every year has both parts.
            for end_year in {year, year + 1}:
                start, end = dt.date(end_year - 1, 11, 15), dt.date(end_year, 3, 15)
                if end_year == year + 1 and end_year in YEARS:
                    continue  # written with that year
                if not billed("heat", end_year - 1):
                    continue
                gj = (heated * HEAT_GJ_PER_M2 * _trend(inst, end_year - 1) * _noise()
                      * _growth(inst, start, heated=True))
                if "heat" in METERED.get(inst, set()):
                    gj = _simulated(inst, "heat", start, end)
                _bill(rows, inst, "heat", start, end, gj, "GJ", f"{inst}-h")
            if category == "government" and inst in ("gov01", "gov03"):
                for quarter in range(4):
                    start = dt.date(year, 3 * quarter + 1, 1)
                    end = _month_range(year, 3 * quarter + 3)[1]
                    _bill(rows, inst, "lpg", start, end, 900.0 * k * _noise(), "kg",
                          f"{inst}-lpg")
            if inst in GAS_M3_PER_MONTH and billed("natural_gas"):
                for month in range(1, 13):
                    start, end = _month_range(year, month)
                    winter = 1.6 if month in (1, 2, 12) else 0.8
                    m3 = GAS_M3_PER_MONTH[inst] * k * winter * _noise()
                    if "natural_gas" in METERED.get(inst, set()):
                        m3 = _simulated(inst, "natural_gas", start, end)
                    _bill(rows, inst, "natural_gas", start, end, m3, "m3", f"{inst}-gas")
            if inst == "gov05" and year == 2020:
                _bill(rows, inst, "coal", dt.date(2020, 1, 1), dt.date(2020, 3, 15), 96.0, "t",
                      "gov05-coal", 1100.0)
            if inst == "ven01":
                _bill(rows, inst, "diesel", dt.date(year, 4, 1), dt.date(year, 4, 30), 180.0,
                      "L", "ven01-gen")
            if inst == "edu02" and year >= 2024:
                for month in range(1, 13):
                    start, end = _month_range(year, month)
                    kwh = 9000.0 * (1.3 if month in (5, 6, 7, 8) else 0.8) * _noise()
                    _bill(rows, inst, "pv", start, end, kwh, "kWh", "edu02-pv")
    rows = [[*r, ""] for r in rows]  # building_id
    rows += _bureau_bills()
    _write("bills.csv", ["institution_id", "carrier", "period_start", "period_end", "quantity",
                         "unit", "cost_cny", "account", "green", "building_id"], rows)


def _bureau_bills() -> list[list[object]]:
    """Bills of the compound, its members' sub-meters and ven02's leased café (RNG2)."""
    rows: list[list[object]] = []

    def bill(inst: str, carrier: str, start: dt.date, end: dt.date, quantity: float, unit: str,
             account: str, building: str = "") -> None:
        if end <= LAST_BILLED:
            rows.append([inst, carrier, start.isoformat(), end.isoformat(), round(quantity, 1),
                         unit, round(quantity * PRICE[carrier], 2), account, "", building])

    cid = COMPOUND[0]
    people = sum(m[10] for m in MEMBERS)
    for year in YEARS:
        k = TREND[year]
        for month in range(1, 13):
            start, end = _month_range(year, month)
            shape = MONTH_SHAPE[month - 1]
            own = 0.0
            for m in MEMBERS:  # the members' sub-meters, inside the compound's main meter
                kwh = m[7] * m[11] * k * shape * float(1.0 + RNG2.normal(0.0, 0.03))
                own += kwh
                bill(m[0], "electricity", start, end, kwh, "kWh", f"{m[0]}-e", m[9])
            bill(cid, "electricity", start, end, own * (1.0 + COMMON_ELECTRICITY), "kWh",
                 f"{cid}-main")
            winter = 1.3 if month in (1, 2, 12) else 0.9
            bill(cid, "natural_gas", start, end, COMPOUND_GAS_M3_PER_MONTH * k * winter
                 * float(1.0 + RNG2.normal(0.0, 0.03)), "m3", f"{cid}-canteen")
            # ven02's leased café: its own meter and bill (outside the boundary)
            bill("ven02", "electricity", start, end, 2600.0 * shape * 12
                 * float(1.0 + RNG2.normal(0.0, 0.05)), "kWh", "ven02-cafe", "ven02-cafe")
        for quarter in range(4):
            start = dt.date(year, 3 * quarter + 1, 1)
            end = _month_range(year, 3 * quarter + 3)[1]
            bill(cid, "water", start, end, people * COMPOUND_WATER_M3_PER_PERSON * k / 4
                 * float(1.0 + RNG2.normal(0.0, 0.03)), "m3", f"{cid}-w")
        start, end = dt.date(year - 1, 11, 15), dt.date(year, 3, 15)
        heated = sum(m[8] for m in MEMBERS)
        bill(cid, "heat", start, end, heated * HEAT_GJ_PER_M2 * k, "GJ", f"{cid}-h")
        if year + 1 not in YEARS:  # the season that starts in the year
            bill(cid, "heat", dt.date(year, 11, 15), dt.date(year + 1, 3, 15),
                 heated * HEAT_GJ_PER_M2 * k, "GJ", f"{cid}-h")
    return rows


def main() -> None:
    """Write every ledger file."""
    institutions()
    compounds()
    buildings()
    headcount()
    vehicles()
    fuel()
    charging()
    facilities()
    bills()


if __name__ == "__main__":
    main()
