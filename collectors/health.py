"""Per-device health: last success, consecutive failures, response time.

:class:`HealthTracker` turns each poll outcome into a :class:`storage.DeviceHealth` record. A device
is *unavailable* after a poll in which nothing could be read. The change of state is logged once —
at ERROR when a device becomes unavailable, at WARNING when it recovers — never every cycle.
The records go to the store (``write_health``) as their own measurement.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from storage.base import DeviceHealth

__all__ = ["HealthTracker"]

log = logging.getLogger(__name__)


@dataclass
class _State:
    available: bool | None = None  # None: never polled
    consecutive_failures: int = 0
    last_success: datetime | None = None
    last: DeviceHealth | None = None


class HealthTracker:
    """Health of every device, updated after each poll."""

    def __init__(self) -> None:
        self._states: dict[str, _State] = {}

    def record(
        self,
        meter: str,
        time: datetime,
        ok: bool,
        response_time_s: float | None,
        error: str = "",
    ) -> DeviceHealth:
        """Record one poll of one device and return its health record.

        Parameters
        ----------
        meter
            Meter id.
        time
            When the poll finished (UTC, aware).
        ok
            True when at least one request of the poll was answered.
        response_time_s
            Duration of the poll. [s]
        error
            Why the poll failed (empty when ok).
        """
        state = self._states.setdefault(meter, _State())
        if ok:
            if state.available is False:
                log.warning(
                    "meter %r is available again after %d failed poll(s)",
                    meter, state.consecutive_failures,
                )
            state.consecutive_failures = 0
            state.last_success = time
        else:
            state.consecutive_failures += 1
            if state.available is not False:
                log.error("meter %r is unavailable: %s", meter, error)
        state.available = ok
        state.last = DeviceHealth(
            meter=meter,
            time=time,
            available=ok,
            consecutive_failures=state.consecutive_failures,
            last_success=state.last_success,
            response_time_s=response_time_s,
            error="" if ok else error,
        )
        return state.last

    def snapshot(self) -> list[DeviceHealth]:
        """Return the latest record of every device polled so far."""
        return [s.last for s in self._states.values() if s.last is not None]

    def is_available(self, meter: str) -> bool | None:
        """True/False after the device's last poll; None if it was never polled."""
        state = self._states.get(meter)
        return None if state is None else state.available

    def consecutive_failures(self, meter: str) -> int:
        """Failed polls in a row for this device."""
        state = self._states.get(meter)
        return 0 if state is None else state.consecutive_failures
