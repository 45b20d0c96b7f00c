"""Write the demo city's weather file (sample_data/weather.csv): hourly air temperature for Jinan.

A plausible, invented series for 济南 (Jinan, Shandong; 寒冷 climate zone): a seasonal mean from
about −0.5 °C in mid-January to about 27.5 °C in mid-July (the shape of Jinan's climate normals),
a daily cycle of ±4.5 °C peaking at 15:00 local time, and day-to-day weather as an AR(1) anomaly
(persistence 0.7, σ 2.5 °C). Deterministic (seeded): run it again, same file. These are not
observations; a deployment imports its own station's or forecast provider's data.

Format: ``time,temperature_c`` with ISO times in local time (+08:00), hourly, one decimal.

Usage: ``python sample_data/generate_weather.py [--first-year 2025] [--last-year 2026]``
(writes weather.csv beside this file; the default covers the demo's history, which starts on
1 January of last year, and the rest of this year).
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import random
from pathlib import Path

OUT = Path(__file__).resolve().parent / "weather.csv"
TZ = dt.timezone(dt.timedelta(hours=8))
#: Annual mean, half the annual range, and the coldest day-of-year. [°C, °C, day]
MEAN_C, AMPLITUDE_C, COLDEST_DOY = 13.5, 14.0, 15
#: Half the daily range and the warmest hour. [°C, h]
DAILY_C, WARMEST_H = 4.5, 15
#: Day-to-day anomaly: persistence and innovation σ. [1, °C]
PERSISTENCE, SIGMA_C = 0.7, 2.5


def temperatures(first_year: int, last_year: int, seed: int = 370100):
    """Yield (local time, temperature °C) for every hour of the years."""
    rng = random.Random(seed)
    anomaly = 0.0
    day = dt.date(first_year, 1, 1)
    while day.year <= last_year:
        anomaly = PERSISTENCE * anomaly + rng.gauss(0.0, SIGMA_C)
        doy = day.timetuple().tm_yday
        seasonal = MEAN_C - AMPLITUDE_C * math.cos(2 * math.pi * (doy - COLDEST_DOY) / 365.25)
        for hour in range(24):
            daily = DAILY_C * math.cos(2 * math.pi * (hour - WARMEST_H) / 24)
            t = dt.datetime(day.year, day.month, day.day, hour, tzinfo=TZ)
            yield t, seasonal + daily + anomaly + rng.gauss(0.0, 0.3)
        day += dt.timedelta(days=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    this_year = dt.date.today().year
    parser.add_argument("--first-year", type=int, default=this_year - 1)
    parser.add_argument("--last-year", type=int, default=this_year)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    with args.out.open("w", encoding="utf-8", newline="\n") as fh:
        fh.write("time,temperature_c\n")
        for t, value in temperatures(args.first_year, args.last_year):
            fh.write(f"{t.isoformat()},{value:.1f}\n")
    print(f"{args.out}: hourly temperature {args.first_year}-01-01 … {args.last_year}-12-31")


if __name__ == "__main__":
    main()
