"""Backfill import of readings from a CSV file (``time,meter,point,value`` [,``quality``]).

The file is validated completely before anything is written: every bad row is reported with its
line number, column, value and the reason, and a file with one bad row (or no rows: a header
alone is an error) writes nothing. Times are ISO 8601 *with* a UTC offset
(``2024-01-01T08:00:00+08:00`` or ``...Z``), not before :data:`EARLIEST_TIME` and not more than
:data:`MAX_AHEAD` after now; a meter id must be in the settings file; a point must be in the
meter's register map when that map can be loaded; a quality is one of
:class:`jieneng.vocabulary.Quality`; a counter point (``kind = "counter"`` in the map) never has a
negative value. Valid files are written in columns (:func:`iter_frames`, ``write_frame``).
"""

from __future__ import annotations

import csv
import difflib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from jieneng.vocabulary import Quality
from storage.base import Reading, readings_frame

__all__ = [
    "EARLIEST_TIME",
    "MAX_AHEAD",
    "REQUIRED_COLUMNS",
    "ImportProblem",
    "iter_frames",
    "iter_readings",
    "validate_readings_file",
]

REQUIRED_COLUMNS = ("time", "meter", "point", "value")
OPTIONAL_COLUMNS = ("quality",)
#: No imported reading is older than this (``storage.importer.EARLIEST_TIME``).
EARLIEST_TIME = datetime(2000, 1, 1, tzinfo=UTC)
#: No imported reading is more than this after the time of the import
#: (``storage.importer.MAX_AHEAD``).
MAX_AHEAD = timedelta(days=1)
_QUALITIES = frozenset(q.value for q in Quality)


def _no_counters(meter: str) -> frozenset[str]:
    return frozenset()


@dataclass(frozen=True)
class ImportProblem:
    """One bad row (or header) of an import file."""

    file: str
    line: int
    column: str
    value: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: column '{self.column}' = {self.value!r}: {self.reason}"


def _open_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) of every non-blank data row; the header is checked by the caller."""
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        for row in reader:
            if all((v or "").strip() == "" for v in row.values() if isinstance(v, str)):
                continue
            yield reader.line_num, row


def _header_problems(path: Path) -> list[ImportProblem]:
    with path.open(newline="", encoding="utf-8-sig") as f:
        header = next(csv.reader(f), [])
    names = [h.strip() for h in header]
    problems = []
    for col in REQUIRED_COLUMNS:
        if col not in names:
            expected = ", ".join(REQUIRED_COLUMNS)
            problems.append(ImportProblem(
                str(path), 1, col, ",".join(header),
                f"missing column; the header must name {expected} (and optionally quality)",
            ))
    for col in names:
        if col not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS:
            problems.append(ImportProblem(str(path), 1, col, col,
                                          f"unknown column; expected {', '.join(REQUIRED_COLUMNS)}"
                                          " and optionally quality"))
    return problems


def _parse_row(
    file: str, line: int, row: dict, meters: set[str],
    points_of: Callable[[str], frozenset[str] | None],
    counters_of: Callable[[str], frozenset[str]] = _no_counters, now: datetime | None = None,
) -> tuple[Reading | None, list[ImportProblem]]:
    problems = []

    def bad(column: str, reason: str) -> None:
        problems.append(ImportProblem(file, line, column, (row.get(column) or ""), reason))

    extra = row.get(None)  # csv.DictReader puts fields beyond the header under the key None
    if extra is not None:
        problems.append(ImportProblem(file, line, "(extra)", ",".join(extra),
                                      "more fields than the header has columns"))
    text = (row.get("time") or "").strip()
    t: datetime | None = None
    try:
        t = datetime.fromisoformat(text)
        if t.tzinfo is None:
            bad("time", "no UTC offset; write e.g. 2024-01-01T08:00:00+08:00 or ...Z")
            t = None
        elif t < EARLIEST_TIME:
            bad("time", f"before {EARLIEST_TIME.isoformat()} (storage.importer.EARLIEST_TIME): "
                        "not a plausible meter reading")
            t = None
        elif t > (now or datetime.now(UTC)) + MAX_AHEAD:
            bad("time", f"more than {MAX_AHEAD.days} day after now "
                        "(storage.importer.MAX_AHEAD): a reading cannot come from the future")
            t = None
    except ValueError:
        bad("time", "not an ISO 8601 time such as 2024-01-01T08:00:00+08:00")
    meter = (row.get("meter") or "").strip()
    if meter not in meters:
        close = difflib.get_close_matches(meter, sorted(meters), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        bad("meter", f"not a meter of the settings file{hint}")
    point = (row.get("point") or "").strip()
    if not point:
        bad("point", "empty; expected a point name such as energy_import_kwh")
    elif meter in meters:
        known = points_of(meter)
        if known is not None and point not in known:
            bad("point", f"not a point of meter {meter!r}'s register map; "
                         f"expected one of {', '.join(sorted(known))}")
    quality = (row.get("quality") or "").strip() or Quality.good
    if quality not in _QUALITIES:
        bad("quality", f"not a quality; expected one of {', '.join(sorted(_QUALITIES))} "
                       "(or empty for good)")
    value_text = (row.get("value") or "").strip()
    value: float | None = None
    if value_text == "" and quality != Quality.good:
        value = None
    else:
        try:
            value = float(value_text)
            if not math.isfinite(value):
                raise ValueError
        except ValueError:
            bad("value", "not a finite number (leave it empty only with a quality other than good)")
            value = None
        if value is not None and value < 0 and meter in meters and point in counters_of(meter):
            bad("value", f"negative, but {point!r} is a counter in meter {meter!r}'s register "
                         "map; a counter never reads below 0")
    if problems or t is None:
        return None, problems
    return Reading(meter, point, t, value, quality), []


def validate_readings_file(
    path: Path, meters: set[str],
    points_of: Callable[[str], frozenset[str] | None] = lambda meter: None,
    counters_of: Callable[[str], frozenset[str]] = _no_counters, now: datetime | None = None,
) -> tuple[int, list[ImportProblem]]:
    """Check every row; returns (number of good rows, every problem found).

    Parameters
    ----------
    path
        The CSV file.
    meters
        Meter ids of the settings file.
    points_of
        Meter id → the point names of its register map (None: not checked).
    counters_of
        Meter id → the names of its counter points (their values may not be negative).
    now
        The time of the import (default: the clock), for the :data:`MAX_AHEAD` bound.

    Returns
    -------
    tuple[int, list[ImportProblem]]
        Good rows, and every problem with its line and column.
    """
    if not path.is_file():
        return 0, [ImportProblem(str(path), 0, "(file)", str(path), "no such file")]
    if path.suffix.lower() not in (".csv", ".txt"):
        return 0, [ImportProblem(str(path), 0, "(file)", path.suffix,
                                 "readings are imported from CSV (UTF-8): time,meter,point,value")]
    try:
        problems = _header_problems(path)
        if problems:
            return 0, problems
        n = rows = 0
        for line, row in _open_rows(path):
            _, row_problems = _parse_row(str(path), line, row, meters, points_of, counters_of,
                                         now)
            problems += row_problems
            n += not row_problems
            rows += 1
    except UnicodeDecodeError as exc:
        return 0, [ImportProblem(str(path), 0, "(file)", "", f"not UTF-8 text: {exc}")]
    if not rows:
        problems.append(ImportProblem(str(path), 2, "(file)", "",
                                      "the file has a header but no readings"))
    return n, problems


def iter_readings(
    path: Path, meters: set[str],
    points_of: Callable[[str], frozenset[str] | None] = lambda meter: None,
) -> Iterator[Reading]:
    """Return the readings of a file that :func:`validate_readings_file` found clean."""
    for line, row in _open_rows(path):
        reading, problems = _parse_row(str(path), line, row, meters, points_of)
        if problems or reading is None:
            raise ValueError(f"{problems[0] if problems else line}: the file changed since it "
                             "was validated")
        yield reading


def iter_frames(
    path: Path, meters: set[str],
    points_of: Callable[[str], frozenset[str] | None] = lambda meter: None,
    rows: int = 20_000,
) -> Iterator[pd.DataFrame]:
    """Return the readings of a clean file as frames of ``rows`` rows (for ``write_frame``).

    Columns meter, point, time (UTC), value (NaN for none), quality.
    """
    batch: list[Reading] = []
    for reading in iter_readings(path, meters, points_of):
        batch.append(reading)
        if len(batch) >= rows:
            yield readings_frame(batch)
            batch = []
    if batch:
        yield readings_frame(batch)
