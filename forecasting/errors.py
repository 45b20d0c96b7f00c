"""Errors of the forecasting package: one base class, each message says what, where and what was
expected.

::

    ForecastingError
    ├── CalendarError          a holiday reference file is malformed
    ├── WeatherImportError     a weather CSV has bad rows (.problems: WeatherProblem); nothing imported
    └── NoDataError            nothing to forecast (no series at all for the year asked)
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CalendarError", "ForecastingError", "NoDataError", "WeatherImportError",
           "WeatherProblem"]


class ForecastingError(Exception):
    """Base class of every error the forecasting package raises."""


class CalendarError(ForecastingError):
    """A holiday reference file (``holidays_<year>.csv``) is malformed."""


class NoDataError(ForecastingError):
    """There is nothing to forecast: no meter, bill or fuel record for the series asked."""


@dataclass(frozen=True)
class WeatherProblem:
    """One bad row of a weather file: file, row (1-based, header = row 1), column, value, reason."""

    file: str
    row: int
    column: str
    value: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}, row {self.row}, column {self.column!r} = {self.value!r}: {self.reason}"


class WeatherImportError(ForecastingError):
    """A weather file with problems: every problem is listed, nothing was imported."""

    def __init__(self, file: str, problems: list[WeatherProblem]):
        self.file = file
        self.problems = problems
        super().__init__(f"{file}: {len(problems)} problem(s), nothing imported; first: "
                         f"{problems[0] if problems else '-'}")
