"""Functions run in child processes by the concurrency tests (importable for ``spawn``)."""

from __future__ import annotations

import time
import traceback
from datetime import UTC, datetime, timedelta
from typing import Any

from storage.base import Reading
from tests.storage.conftest import open_spec

T0 = datetime(2024, 1, 1, tzinfo=UTC)
FAR = datetime(2030, 1, 1, tzinfo=UTC)


def batch(meter: str, index: int, size: int) -> list[Reading]:
    """Batch ``index`` of a writer: ``size`` consecutive 1-minute counter readings."""
    base = index * size
    return [Reading(meter, "energy_import_kwh", T0 + timedelta(minutes=base + i), float(base + i))
            for i in range(size)]


def writer(spec: dict[str, Any], meter: str, batches: int, size: int, queue: Any) -> None:
    """Write ``batches`` batches, then report ("done", n) or ("error", text)."""
    try:
        store = open_spec(spec)
        n = 0
        for k in range(batches):
            n += store.write_readings(batch(meter, k, size))
        store.close()
        queue.put(("done", n))
    except Exception:
        queue.put(("error", traceback.format_exc()))


def reader(spec: dict[str, Any], seconds: float, queue: Any) -> None:
    """Read raw readings and daily aggregates in a loop; report the counts it saw."""
    try:
        store = open_spec(spec)
        seen = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            n = len(store.read_readings(T0, FAR))
            daily = store.daily_counters(T0, FAR)
            seen.append((n, int(daily["n_readings"].sum()) if not daily.empty else 0))
        store.close()
        queue.put(("seen", seen))
    except Exception:
        queue.put(("error", traceback.format_exc()))


def endless_writer(spec: dict[str, Any], size: int) -> None:
    """Write large batches until killed (for the kill-mid-write test)."""
    store = open_spec(spec)
    k = 0
    while True:
        store.write_readings(batch("victim", k, size))
        k += 1
