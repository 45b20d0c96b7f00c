"""The year-end projection from ``forecasting/``, fitted in the background once per data state.

``forecasting`` is being built alongside the dashboard; this adapter imports it at module level
when its ``forecasting.api`` module exists, so the Carbon page can say plainly that forecasting
is not built yet instead of showing placeholder numbers. Fitting is slow, so
:meth:`Projections.get` starts one background fit per (year, data state) and answers ``computing``
until it is done; every user and callback shares the result.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

__all__ = ["AVAILABLE", "Projection", "Projections"]

log = logging.getLogger("dashboard.projection")

#: True when the forecasting package offers ``forecasting.api.forecast_year``.
AVAILABLE = importlib.util.find_spec("forecasting") is not None and \
    importlib.util.find_spec("forecasting.api") is not None
if AVAILABLE:
    from forecasting import forecast_year  # type: ignore[attr-defined]
else:
    forecast_year = None


@dataclass
class Projection:
    """The state of one year's projection.

    Attributes
    ----------
    status
        ``missing`` (forecasting not built), ``computing``, ``ready`` or ``failed``.
    result
        The ``ForecastResult`` when ready (``.as_of``, ``.year_end``, ``.monthly``, ``.risk``).
    error
        One line when failed.
    """

    status: str
    result: Any = None
    error: str = ""
    seconds: float = 0.0


class Projections:
    """Background fits keyed by (year, data state), shared by every user.

    Parameters
    ----------
    settings
        The composed settings, handed to ``forecast_year``.
    """

    def __init__(self, settings: Any):
        self.settings = settings
        self._lock = threading.Lock()
        self._states: dict[tuple, Projection] = {}

    def get(self, year: int, state: tuple) -> Projection:
        """The projection of ``year`` for the data ``state``; starts the fit when first asked."""
        if not AVAILABLE:
            return Projection("missing")
        key = (year, state)
        with self._lock:
            found = self._states.get(key)
            if found is not None:
                return found
            for old in [k for k in self._states if k[0] == year]:
                if self._states[old].status != "computing":
                    del self._states[old]
            projection = self._states[key] = Projection("computing")
        threading.Thread(target=self._fit, args=(year, projection), daemon=True,
                         name=f"forecast-{year}").start()
        return projection

    def _fit(self, year: int, projection: Projection) -> None:
        started = time.perf_counter()
        try:
            result = forecast_year(self.settings, year)  # type: ignore[misc]
        except Exception as exc:
            log.exception("the %d projection failed", year)
            projection.error = f"{type(exc).__name__}: {exc}".splitlines()[0]
            projection.status = "failed"
        else:
            projection.result = result
            projection.status = "ready"
        projection.seconds = time.perf_counter() - started
