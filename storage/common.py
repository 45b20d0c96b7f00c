"""What every backend shares: the site time zone, range checks, monthly from daily aggregates."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Self
from zoneinfo import ZoneInfo

import pandas as pd

from storage.aggregate import monthly_counters_from_daily, monthly_gauges_from_daily
from storage.periods import require_aware, to_us

__all__ = ["StoreBase", "check_names"]


def check_names(names: Sequence[str] | None, what: str) -> list[str] | None:
    """A list of meter or point names, or None for "all"; a bare string is an error."""
    if names is None:
        return None
    if isinstance(names, str):
        raise ValueError(f"{what} must be a list of names, not the single string {names!r}")
    out = list(names)
    for name in out:
        if not isinstance(name, str):
            raise ValueError(f"{what} must hold strings, got {name!r}")
    return out


class StoreBase:
    """Base of the backends: keeps the site time zone and derives monthly from daily aggregates."""

    def __init__(self, tz: ZoneInfo | str):
        self.tz = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)

    @staticmethod
    def _range_us(start: datetime, end: datetime) -> tuple[int, int]:
        """``[start, end)`` in microseconds; naive datetimes raise :class:`ValueError`."""
        require_aware(start, "start")
        require_aware(end, "end")
        return to_us(start), to_us(end)

    def daily_counters(
        self, start: datetime, end: datetime, meters: Sequence[str] | None = None,
        points: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Implemented by each backend."""
        raise NotImplementedError

    def daily_gauges(
        self, start: datetime, end: datetime, meters: Sequence[str] | None = None,
        points: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Implemented by each backend."""
        raise NotImplementedError

    def monthly_counters(
        self, start: datetime, end: datetime, meters: Sequence[str] | None = None,
        points: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Per meter × point × local month (``month`` = first day): counter aggregates."""
        return monthly_counters_from_daily(self.daily_counters(start, end, meters, points))

    def monthly_gauges(
        self, start: datetime, end: datetime, meters: Sequence[str] | None = None,
        points: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Per meter × point × local month (``month`` = first day): gauge aggregates."""
        return monthly_gauges_from_daily(self.daily_gauges(start, end, meters, points))

    def close(self) -> None:
        """Release connections."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
