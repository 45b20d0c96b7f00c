"""The durable spool on its own: order, durability across SIGKILL, bound and warnings."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from collectors.spool import Spool
from storage.base import Reading

T0 = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)


def readings(n: int, start: int = 0, meter: str = "m1") -> list[Reading]:
    return [
        Reading(meter=meter, point="energy_import_kwh", time=T0 + timedelta(seconds=60 * i),
                value=1000.0 + i)
        for i in range(start, start + n)
    ]


def test_append_and_peek_keep_the_order_and_every_field(tmp_path: Path):
    spool = Spool(tmp_path / "spool.sqlite", max_readings=1000)
    shanghai = timezone(timedelta(hours=8))
    odd = [
        Reading(meter='楼 "A", 1\nB', point="p", time=datetime(2026, 1, 5, 8, tzinfo=shanghai),
                value=None, quality="invalid"),
        Reading(meter="m2", point="power_w", time=T0 + timedelta(microseconds=1), value=-0.25),
    ]
    assert spool.append([*readings(3), *odd]) == 5
    assert spool.pending == 5
    got = [r for _, r in spool.peek(10)]
    assert got == [*readings(3), *odd]
    assert got[3].time == T0  # 08:00 +08:00 is the same instant
    assert got[4].time - T0 == timedelta(microseconds=1)
    spool.close()


def test_remove_through_deletes_only_the_forwarded_prefix(tmp_path: Path):
    spool = Spool(tmp_path / "spool.sqlite", max_readings=1000)
    spool.append(readings(10))
    seqs = [seq for seq, _ in spool.peek(4)]
    assert spool.remove_through(seqs[-1]) == 4
    assert spool.pending == 6
    assert [r for _, r in spool.peek(100)] == readings(6, start=4)
    spool.close()


def test_what_was_appended_survives_closing_and_reopening(tmp_path: Path):
    path = tmp_path / "sub" / "spool.sqlite"
    spool = Spool(path, max_readings=1000)
    spool.append(readings(5))
    spool.close()
    again = Spool(path, max_readings=1000)
    assert again.pending == 5
    assert [r for _, r in again.peek(10)] == readings(5)
    again.close()


def test_naive_time_is_refused_and_nothing_is_stored(tmp_path: Path):
    spool = Spool(tmp_path / "spool.sqlite", max_readings=1000)
    naive = Reading.__new__(Reading)  # bypass Reading's own check to test the spool's
    object.__setattr__(naive, "meter", "m")
    object.__setattr__(naive, "point", "p")
    object.__setattr__(naive, "time", datetime(2026, 1, 1))
    object.__setattr__(naive, "value", 1.0)
    object.__setattr__(naive, "quality", "good")
    with pytest.raises(ValueError, match="no time zone"):
        spool.append([*readings(2), naive])
    assert spool.pending == 0
    spool.close()


def test_bound_refuses_new_readings_and_warns_once_near_it(tmp_path: Path, caplog):
    caplog.set_level(logging.WARNING, logger="collectors.spool")
    spool = Spool(tmp_path / "spool.sqlite", max_readings=1000, warn_fraction=0.8)
    assert spool.append(readings(700)) == 700
    assert not caplog.records
    assert spool.append(readings(200, start=700)) == 200  # 900 ≥ 800: warn
    assert spool.append(readings(50, start=900)) == 50  # still above: no second warning
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "90%" in warnings[0].getMessage()
    assert spool.append(readings(100, start=950)) == 50  # only 50 fit
    assert spool.pending == 1000
    assert spool.dropped == 50
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "full" in errors[0].getMessage()
    # the oldest readings are the ones kept
    assert spool.peek(1)[0][1] == readings(1)[0]
    spool.close()


WRITER = textwrap.dedent("""
    import sys
    from datetime import UTC, datetime, timedelta
    from collectors.spool import Spool
    from storage.base import Reading

    spool = Spool(sys.argv[1], max_readings=10_000_000)
    t0 = datetime(2026, 1, 5, tzinfo=UTC)
    i = 0
    while True:
        batch = [Reading("m", "energy_import_kwh", t0 + timedelta(seconds=i + k), float(i + k))
                 for k in range(10)]
        spool.append(batch)
        i += 10
        print(i, flush=True)   # acknowledged: these readings are on disk
""")


def test_sigkill_loses_nothing_that_was_appended(tmp_path: Path):
    path = tmp_path / "spool.sqlite"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    acknowledged = 0
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            acknowledged = int(line)
            if acknowledged >= 300:
                break
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    spool = Spool(path, max_readings=10_000_000)
    kept = [r for _, r in spool.peek(10_000_000)]
    # everything acknowledged is there, in order, once; batches are whole (one transaction each)
    assert len(kept) >= acknowledged
    assert len(kept) % 10 == 0
    assert [r.value for r in kept] == [float(i) for i in range(len(kept))]
    spool.close()
