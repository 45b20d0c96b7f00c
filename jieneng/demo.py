"""``jieneng demo``: the whole chain on one machine, with nothing but this repository.

1. loads the demo city's ledgers from ``sample_data/`` (institutions, buildings, headcount,
   vehicles, fuel, facilities, bills);
2. backfills the store with what the simulated meters would have read since 1 January of last year
   (hourly counter readings), so that accounting has a history;
3. starts ``jieneng simulate`` (the meters, on 127.0.0.1) and ``jieneng collect`` (polling them into
   the store) as child processes;
4. prints the accounting of the current year, then the live readings every ``--refresh-s`` seconds,
   until Ctrl-C (or ``--duration-s`` seconds), and stops both children.

Each step uses the same code and commands a deployment uses; the demo only wires them together.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path

from accounting.annual import compute_account
from accounting.errors import AccountingError
from accounting.export import account_json, account_table
from accounting.ledgers import KINDS, import_ledger
from collectors.simulator.profile import history_readings
from jieneng.settings import CONSUMPTION_POINTS, Settings
from storage import open_store
from storage.errors import StorageError

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DATA = ROOT / "sample_data"
LEDGER_ORDER = KINDS  # every ledger kind, in an order that imports cleanly
BACKFILL_STEP_S = 3600.0
BACKFILL_BATCH = 20_000


def _say(message: str) -> None:
    print(message, flush=True)


def import_sample_ledgers(settings: Settings, folder: Path = SAMPLE_DATA) -> dict[str, int]:
    """Import every ledger file of ``folder`` (``<kind>.csv``); rows imported per kind."""
    counts = {}
    for kind in LEDGER_ORDER:
        path = folder / f"{kind}.csv"
        if path.exists():
            counts[kind] = import_ledger(kind, path, settings).rows
    return counts


def backfill(settings: Settings, start: datetime, end: datetime) -> int:
    """Write the simulated meters' hourly counter readings in ``[start, end)``; readings written."""
    points = sorted({point for point, _unit in CONSUMPTION_POINTS.values()})
    readings = history_readings(settings, start, end, BACKFILL_STEP_S, points=points)
    store = open_store(settings)
    written = 0
    try:
        for batch in _batches(readings, BACKFILL_BATCH):
            written += store.write_readings(batch)
            print(f"\r  backfill: {written:,} readings", end="", file=sys.stderr, flush=True)
    finally:
        store.close()
        print(file=sys.stderr)
    return written


def _batches(items: Iterator, size: int) -> Iterator[list]:
    while batch := list(islice(items, size)):
        yield batch


def _history_start(settings: Settings, now: datetime, days: int) -> datetime:
    if days > 0:
        return now - timedelta(days=days)
    local = now.astimezone(settings.site.tzinfo)
    return local.replace(year=local.year - 1, month=1, day=1, hour=0, minute=0, second=0,
                         microsecond=0)


def _backfill_marker(settings: Settings) -> Path:
    """File recording how far the demo's backfill got (beside the ledger database)."""
    return settings.resolve(settings.accounting.ledger_path).parent / "demo-backfilled-until.txt"


def _backfilled_until(settings: Settings) -> datetime | None:
    try:
        return datetime.fromisoformat(_backfill_marker(settings).read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def _wait_for_ports(settings: Settings, timeout_s: float) -> list[str]:
    """Gateways (host:port) still closed after ``timeout_s``."""
    targets = {f"{g.host}:{g.port}": (g.host, g.port)
               for g in settings.gateways if g.protocol == "tcp"}
    deadline = time.monotonic() + timeout_s
    closed = dict(targets)
    while closed and time.monotonic() < deadline:
        for name, address in list(closed.items()):
            with contextlib.suppress(OSError), socket.create_connection(address, timeout=0.5):
                del closed[name]
        time.sleep(0.2)
    return sorted(closed)


def _jieneng(*args: str) -> list[str]:
    return [sys.executable, "-m", "jieneng.cli", *args]


def _account_table(settings: Settings, year: int) -> str:
    """The table ``jieneng account --year YEAR`` prints (progress to stderr, as it does)."""
    try:
        account = compute_account(settings, year, progress=_progress)
    except (AccountingError, StorageError) as exc:
        return f"  accounts for {year} could not be computed: {exc}"
    return account_table(account_json(account))


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _latest_table(settings: Settings) -> str:
    """Each meter's latest consumption counter, as a building manager reads it off the meter."""
    counter_point = {m.id: CONSUMPTION_POINTS[str(m.carrier)][0] for m in settings.meters
                     if str(m.carrier) in CONSUMPTION_POINTS}
    store = open_store(settings)
    try:
        latest = store.latest(meters=sorted(counter_point),
                              points=sorted(set(counter_point.values())))
    finally:
        store.close()
    latest = latest[latest["point"] == latest["meter"].map(counter_point)]
    if latest.empty:
        return "  (no readings yet)"
    lines = []
    now = datetime.now(UTC)
    for row in latest.sort_values("meter").itertuples():
        value = "invalid" if row.value is None or row.value != row.value else f"{row.value:,.2f}"
        age_s = (now - row.time.to_pydatetime()).total_seconds()
        lines.append(f"  {row.meter:<16} {row.point:<18} {value:>16}  {row.quality:<8} "
                     f"{age_s:4.0f} s ago")
    return "\n".join(lines)


def demo_main(args: argparse.Namespace, settings: Settings) -> int:
    """Run the demo (see the module docstring)."""
    now = datetime.now(UTC)
    year = now.astimezone(settings.site.tzinfo).year
    _say(f"== Jieneng demo: {settings.site.name}, {len(settings.meters)} meters on "
         f"{len(settings.gateways)} simulated gateways, store: {settings.storage.backend}")

    counts = import_sample_ledgers(settings, Path(args.sample_data))
    _say("== ledgers imported from sample_data/: "
         + ", ".join(f"{kind} {n}" for kind, n in counts.items()))

    start = _history_start(settings, now, args.history_days)
    until = _backfilled_until(settings)
    if until is not None and until > start:
        start = until
    _say(f"== backfilling hourly meter history {start:%Y-%m-%d %H:%M} → {now:%Y-%m-%d %H:%M} UTC")
    written = backfill(settings, start, now)
    _backfill_marker(settings).write_text(now.isoformat())
    _say(f"   {written:,} readings written")

    config = str(settings.source)
    children: list[subprocess.Popen] = []
    try:
        children.append(subprocess.Popen(_jieneng("simulate", "--config", config)))
        closed = _wait_for_ports(settings, timeout_s=30)
        if closed:
            _say(f"error: simulated gateways did not open: {', '.join(closed)}")
            return 1
        _say("== simulated meters listening on "
             + ", ".join(sorted({f'{g.host}:{g.port}' for g in settings.gateways
                                 if g.protocol == 'tcp'})))
        children.append(subprocess.Popen(_jieneng("collect", "--config", config)))
        _say(f"== collector polling every meter; accounting for {year}:")
        _say(_account_table(settings, year))
        _say("== the dashboard is not built yet (`jieneng dashboard`); live readings follow. "
             "Ctrl-C stops the demo.")
        deadline = time.monotonic() + args.duration_s if args.duration_s else None
        while deadline is None or time.monotonic() < deadline:
            time.sleep(min(args.refresh_s, max(0.0, (deadline or 1e18) - time.monotonic())))
            for child in children:
                if child.poll() is not None:
                    _say(f"error: {' '.join(child.args[3:5])} exited with {child.returncode}")
                    return 1
            _say(f"-- {datetime.now(UTC):%H:%M:%S} UTC latest counter readings")
            _say(_latest_table(settings))
    except KeyboardInterrupt:
        pass
    finally:
        for child in reversed(children):
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in reversed(children):
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
    _say("== demo stopped")
    return 0
