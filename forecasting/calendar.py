"""The working calendar: which days are working days (public holidays, 调休 make-up days).

Sources, per year, in this order:

1. ``chinese-calendar`` (the 国务院办公厅 notices it ships, up to its last year);
2. a reference-data file ``holidays_<year>.csv`` in ``[forecasting] calendar_dir`` or in
   ``forecasting/reference/``, filled by a deployer from the year's 国务院办公厅关于部分节假日安排的通知
   (columns ``date,kind,name``; kind ``holiday`` = day off, ``workday`` = 调休 working day on a
   weekend; see ``forecasting/reference/README.md``);
3. the weekday fallback (Monday–Friday work), which the forecast then says it used.

A site outside China (``[forecasting] country`` other than ``CN``) uses the ``holidays``
package's calendar of that country. Every forecast names the calendar: ``"chinese-calendar
1.11.0"``, ``"reference file 2027"``, ``"weekday fallback 2027"``, ``"holidays 0.109 DE"``.
"""

from __future__ import annotations

import csv
import datetime as dt
import importlib.metadata
from dataclasses import dataclass
from pathlib import Path

import chinese_calendar
import holidays as holidays_package
import numpy as np
import pandas as pd

from forecasting.errors import CalendarError

__all__ = ["REFERENCE_DIR", "WorkingCalendar", "calendar_frame", "load_calendar"]

#: Holiday reference files shipped with the package (a template and its README).
REFERENCE_DIR = Path(__file__).resolve().parent / "reference"


def _version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover
        return "?"


def _chinese_calendar_covers(year: int) -> bool:
    try:
        chinese_calendar.is_workday(dt.date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


@dataclass(frozen=True)
class YearSource:
    """Where one year's working days come from: kind and a label for the forecast."""

    year: int
    kind: str  # "chinese-calendar" | "reference file" | "weekday fallback" | "holidays"
    label: str
    holidays: frozenset[dt.date] = frozenset()
    workdays: frozenset[dt.date] = frozenset()


def read_reference_file(path: Path, year: int) -> YearSource:
    """Parse ``holidays_<year>.csv``: ``date,kind,name`` rows.

    Raises
    ------
    CalendarError
        Naming the file, row and what was expected, for every bad row at once.
    """
    off: set[dt.date] = set()
    on: set[dt.date] = set()
    problems = []
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(line for line in fh if not line.lstrip().startswith("#"))
        if reader.fieldnames is None or not {"date", "kind"} <= set(reader.fieldnames):
            raise CalendarError(f"{path}: expected a header with columns date,kind,name; "
                                f"found {reader.fieldnames}")
        for i, row in enumerate(reader, start=2):
            try:
                day = dt.date.fromisoformat((row.get("date") or "").strip())
            except ValueError:
                problems.append(f"row {i}: date {row.get('date')!r} is not YYYY-MM-DD")
                continue
            if day.year != year:
                problems.append(f"row {i}: {day} is not in {year}")
            kind = (row.get("kind") or "").strip()
            if kind == "holiday":
                off.add(day)
            elif kind == "workday":
                on.add(day)
            else:
                problems.append(f"row {i}: kind {kind!r}; expected 'holiday' or 'workday'")
    if problems:
        raise CalendarError(f"{path}: " + "; ".join(problems))
    return YearSource(year, "reference file", f"reference file {year}", frozenset(off),
                      frozenset(on))


class WorkingCalendar:
    """Working days of a site, year by year, and the name of what each year used.

    Parameters
    ----------
    country
        ISO code; "CN" → chinese-calendar, reference files, weekday fallback.
    search_dirs
        Folders searched for ``holidays_<year>.csv`` (first match wins).
    """

    def __init__(self, country: str = "CN", search_dirs: tuple[Path, ...] = (REFERENCE_DIR,)):
        self.country = country.upper()
        self.search_dirs = tuple(search_dirs)
        self._years: dict[int, YearSource] = {}

    def source(self, year: int) -> YearSource:
        """The source of ``year``'s working days (looked up once)."""
        if year not in self._years:
            self._years[year] = self._lookup(year)
        return self._years[year]

    def _lookup(self, year: int) -> YearSource:
        if self.country != "CN":
            days = holidays_package.country_holidays(self.country, years=year)
            return YearSource(year, "holidays",
                              f"holidays {_version('holidays')} {self.country}",
                              frozenset(days.keys()))
        if _chinese_calendar_covers(year):
            return YearSource(year, "chinese-calendar",
                              f"chinese-calendar {_version('chinese-calendar')}")
        for folder in self.search_dirs:
            path = Path(folder) / f"holidays_{year}.csv"
            if path.is_file():
                return read_reference_file(path, year)
        return YearSource(year, "weekday fallback", f"weekday fallback {year}")

    def is_workday(self, day: dt.date) -> bool:
        """True on a working day (调休 weekend days included, holidays excluded)."""
        src = self.source(day.year)
        if src.kind == "chinese-calendar":
            return bool(chinese_calendar.is_workday(day))
        if day in src.workdays:
            return True
        if day in src.holidays:
            return False
        return day.weekday() < 5

    def is_holiday(self, day: dt.date) -> bool:
        """True on a public holiday (a weekday off; plain weekends are not holidays)."""
        src = self.source(day.year)
        if src.kind == "chinese-calendar":
            on_holiday, name = chinese_calendar.get_holiday_detail(day)
            return bool(on_holiday) and name is not None
        return day in src.holidays

    def name(self, first: dt.date, last: dt.date) -> str:
        """The calendars used between two days, e.g. ``"chinese-calendar 1.11.0 + weekday
        fallback 2027"``."""
        labels: list[str] = []
        for year in range(first.year, last.year + 1):
            label = self.source(year).label
            if self.source(year).kind == "chinese-calendar" and labels and labels[-1] == label:
                continue
            if label not in labels:
                labels.append(label)
        return " + ".join(labels)


def load_calendar(country: str, calendar_dir: Path | None) -> WorkingCalendar:
    """The site's calendar: ``calendar_dir`` (a deployer's files) first, then the package's."""
    dirs = tuple(d for d in (calendar_dir, REFERENCE_DIR) if d is not None)
    return WorkingCalendar(country, dirs)


def calendar_frame(calendar: WorkingCalendar, days: pd.DatetimeIndex) -> pd.DataFrame:
    """``ds``, ``workday`` (1.0 working day, 0.0 not) and ``holiday`` (1.0 a holiday) per day."""
    dates = [d.date() for d in days]
    return pd.DataFrame({
        "ds": days,
        "workday": np.array([calendar.is_workday(d) for d in dates], dtype=float),
        "holiday": np.array([calendar.is_holiday(d) for d in dates], dtype=float),
    })
