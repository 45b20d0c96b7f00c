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


def influx_writer_killed_in_rollup_step(spec: dict[str, Any], flag: str) -> None:
    """Write a batch whose rollup step hangs (after its raw lines are in); killed by the test.

    The first batch (day 2024-01-01 Shanghai, 00:00–12:00) is written whole; the second (the
    same day, 12:00–24:00) reaches InfluxDB, then its rollup step touches ``flag`` and sleeps.
    """
    from pathlib import Path

    from storage.influx_v1 import InfluxV1Store

    day = datetime(2023, 12, 31, 16, tzinfo=UTC)  # 2024-01-01 00:00 in Shanghai
    store = open_spec(spec)
    store.write_readings([Reading("m", "energy_import_kwh", day + timedelta(minutes=10 * i),
                                  float(i)) for i in range(72)])

    def hang(*args: Any, **kwargs: Any) -> None:
        Path(flag).touch()
        time.sleep(600)

    InfluxV1Store._update_rollups = hang  # type: ignore[method-assign]
    store.write_readings([Reading("m", "energy_import_kwh", day + timedelta(minutes=10 * i),
                                  float(i)) for i in range(72, 144)])
