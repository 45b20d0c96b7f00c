"""``jieneng forecast`` and ``jieneng import weather``: parse, call, print.

Progress goes to stderr (series done / total, elapsed); the result to stdout as a table (one line
per institution: projected kgce/m², its p10–p90 band, P(above 约束值), P(off the 十四五 path)) or
as JSON (``{"series": [...], "year_end": [...]}``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from collections.abc import Callable
from typing import Any

from accounting.errors import AccountingError
from forecasting.api import forecast_year, risk_table
from forecasting.errors import ForecastingError, WeatherImportError
from forecasting.weather import import_weather
from jieneng.vocabulary import ExitCode
from storage import open_store
from storage.errors import StorageError, StoreUnavailable

__all__ = ["forecast_main", "import_weather_main"]


def _progress() -> Callable[[int, int], None]:
    started = time.monotonic()

    def show(done: int, total: int) -> None:
        end = "\n" if done >= total else "\r"
        print(f"forecast: {done}/{total} series, {time.monotonic() - started:.1f} s",
              file=sys.stderr, end=end, flush=True)

    return show


def forecast_main(args: argparse.Namespace, settings: Any) -> int:
    """``jieneng forecast --config F [--year Y] [--institution ID] [--carrier C]
    [--horizon-days N] [--format json|table]``."""
    year = args.year or dt.datetime.now(settings.site.tzinfo).year
    horizon = getattr(args, "horizon_days", None)
    if horizon is not None and horizon < 1:
        print(f"jieneng forecast: --horizon-days {horizon}: expected a positive number of days",
              file=sys.stderr)
        return ExitCode.bad_input
    try:
        result = forecast_year(settings, year, institutions=getattr(args, "institution", None),
                               carriers=getattr(args, "carrier", None), horizon_days=horizon,
                               progress=_progress())
    except StoreUnavailable as exc:
        print(f"jieneng forecast: {exc}", file=sys.stderr)
        return ExitCode.unavailable
    except (ForecastingError, AccountingError, StorageError) as exc:
        print(f"jieneng forecast {year}: {exc}", file=sys.stderr)
        return ExitCode.failed
    if not result.series and result.year_end.empty:
        print(f"jieneng forecast {year}: no meter, bill or fuel-card data to forecast",
              file=sys.stderr)
        return ExitCode.no_data
    if getattr(args, "format", "table") == "json":
        print(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
    else:
        language = getattr(getattr(settings, "dashboard", None), "language", "zh")
        print(risk_table(result, language))
        for s in result.series:
            print(f"  {s.institution_id:<10} {s.carrier:<12} {s.frequency:<2} {s.model:<18} "
                  f"{s.reason}", file=sys.stderr)
    return ExitCode.ok


def import_weather_main(args: argparse.Namespace, settings: Any) -> int:
    """``jieneng import weather FILE --config F``: every bad row listed, nothing imported."""
    if not args.file.is_file():
        print(f"jieneng import weather: {args.file}: no such file", file=sys.stderr)
        return ExitCode.bad_input
    station = settings.forecasting.weather_meter
    try:
        store = open_store(settings)
    except StorageError as exc:
        print(f"jieneng import weather: {exc}", file=sys.stderr)
        return ExitCode.unavailable
    try:
        written = import_weather(args.file, store, station)
    except WeatherImportError as exc:
        print(f"jieneng import weather: {args.file}: {len(exc.problems)} problem(s); nothing "
              "was imported:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return ExitCode.bad_input
    except StorageError as exc:
        print(f"jieneng import weather: {exc}", file=sys.stderr)
        return ExitCode.unavailable
    finally:
        store.close()
    print(f"{args.file}: {written} temperature reading(s) imported")
    return ExitCode.ok
