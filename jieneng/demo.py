"""``jieneng demo``: the whole chain on one machine, with nothing but this repository.

1. writes a derived settings file into the work folder (``--workdir``, default ``var/demo`` beside
   the configuration's folder) whose store, spool and ledger paths point into that folder, with
   one dashboard user per role;
2. loads the demo city's ledgers from ``sample_data/`` (institutions, buildings, headcount,
   vehicles, fuel, facilities, bills);
3. backfills the store with what the simulated meters would have read since 1 January of last year
   (hourly counter readings; a second start only adds what is new), and imports
   ``sample_data/weather.csv`` when forecasting's weather importer exists;
4. starts ``jieneng simulate`` (the meters), ``jieneng collect`` (polling them into the store) and
   ``jieneng dashboard`` as child processes (logs in ``<workdir>/logs``), waits until each answers,
   and prints the dashboard's address with one sign-in per role (passwords made for this run and
   handed to the dashboard through environment variables);
5. prints the accounting of the current year (and the year-end risk table when forecasting is
   built), then the live readings every ``--refresh-s`` seconds until Ctrl-C (or
   ``--duration-s``), and stops every child.

Each step uses the same code and commands a deployment uses; the demo only wires them together.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import IO

from accounting.annual import compute_account
from accounting.errors import AccountingError
from accounting.export import account_json, account_table
from accounting.ledgers import KINDS, import_ledger
from collectors.simulator.profile import history_readings
from jieneng.settings import CONSUMPTION_POINTS, Settings, load_settings
from storage import open_store, readings_frame
from storage.errors import RollupsMissing, StorageError

#: forecasting/ is built alongside the demo: used when it exists (weather import, risk table).
if importlib.util.find_spec("forecasting.api") is not None:
    from forecasting import api as forecasting_api
    from forecasting import weather as forecasting_weather
else:
    forecasting_api = forecasting_weather = None

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DATA = ROOT / "sample_data"
LEDGER_ORDER = KINDS  # every ledger kind, in an order that imports cleanly
BACKFILL_STEP_S = 3600.0
BACKFILL_BATCH = 100_000
#: One demo sign-in per role: (name, role, institutions).
DEMO_USERS = (
    ("manager", "manager", ("gov01",)),
    ("officer", "officer", ()),
    ("leader", "leader", ()),
    ("admin", "admin", ()),
)
#: Keys of the settings file whose paths the demo moves into its work folder.
_PATH_KEYS = {"path": "jieneng.sqlite", "spool_path": "spool.sqlite",
              "ledger_path": "ledgers.sqlite"}


def _say(message: str) -> None:
    print(message, flush=True)


def password_env(name: str) -> str:
    """The environment variable that hands the demo user ``name``'s password to the dashboard."""
    return f"JIENENG_DEMO_PASSWORD_{name.upper()}"


def derived_config(source: Path, workdir: Path, port: int | None) -> str:
    """The demo's settings text with its state in ``workdir`` and one dashboard user per role.

    Parameters
    ----------
    source
        The demo's settings file (``config/demo.toml``).
    workdir
        The work folder (absolute): store, spool and ledgers go there.
    port
        The dashboard's port, or None for the file's.
    """
    text = source.read_text(encoding="utf-8")
    for key, file in _PATH_KEYS.items():
        text = re.sub(rf'(?m)^{key} = ".*"$', f'{key} = {_toml_str(workdir / file)}', text)
    if port is not None:
        text = re.sub(r"(?ms)(^\[dashboard\].*?^port = )\d+", rf"\g<1>{port}", text, count=1)
    base = source.parent.resolve()
    text = re.sub(r'(?m)^reference_dirs = \[(.*)\]$',
                  lambda m: "reference_dirs = [" + ", ".join(
                      _toml_str(base / d) for d in re.findall(r'"([^"]*)"', m.group(1))) + "]",
                  text)
    users = [f"\n[[dashboard.users]]\nname = \"{name}\"\nrole = \"{role}\"\n"
             + (f"institutions = [{', '.join(repr(i).replace(chr(39), chr(34)) for i in inst)}]\n"
                if inst else "")
             + f"password_env = \"{password_env(name)}\"\n"
             for name, role, inst in DEMO_USERS]
    return (f"# Written by `jieneng demo` from {source}; edited copies are overwritten.\n"
            + text.rstrip("\n") + "\n" + "".join(users))


def _toml_str(path: Path) -> str:
    return '"' + str(path).replace("\\", "\\\\") + '"'


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
            written += store.write_frame(readings_frame(batch))
            print(f"\r  backfill: {written:,} readings", end="", file=sys.stderr, flush=True)
    finally:
        store.close()
        print(file=sys.stderr)
    return written


def ensure_rollups(settings: Settings) -> int | None:
    """Build the store's rollups when it was written before they existed (a work folder of an
    older demo); the rollup rows written, or None when they were there."""
    store = open_store(settings)
    try:
        now = datetime.now(UTC)
        try:
            store.hourly_counters(now - timedelta(hours=1), now,
                                  meters=[settings.meters[0].id] if settings.meters else None)
        except RollupsMissing:
            return store.rebuild_rollups()
        return None
    finally:
        store.close()


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


def _wait_for_collector(settings: Settings, since: datetime, timeout_s: float,
                        child: subprocess.Popen) -> bool:
    """True once the store holds a reading written after ``since`` (the collector answers)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and child.poll() is None:
        store = open_store(settings)
        try:
            latest = store.latest()
        finally:
            store.close()
        if len(latest) and latest["time"].max().to_pydatetime() >= since:
            return True
        time.sleep(1.0)
    return False


def _wait_for_http(url: str, timeout_s: float, child: subprocess.Popen) -> bool:
    """True once ``url`` answers 200."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and child.poll() is None:
        with contextlib.suppress(OSError, urllib.error.URLError), \
                urllib.request.urlopen(url, timeout=2) as answer:
            if answer.status == 200:
                return True
        time.sleep(0.5)
    return False


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


def _import_weather(settings: Settings, path: Path) -> str:
    """Import the sample weather with forecasting's importer; what happened, in one line."""
    if not path.exists():
        return f"{path.name}: not in sample_data/ (forecasting ships it)"
    if forecasting_weather is None:
        return "forecasting is not built yet; weather not imported"
    store = open_store(settings)
    try:
        written = forecasting_weather.import_weather(path, store)
    finally:
        store.close()
    return f"weather imported from {path.name}: {written:,} readings"


def _risk_table(settings: Settings, year: int) -> str | None:
    """forecasting's year-end risk table, or None when forecasting is not built."""
    if forecasting_api is None:
        return None
    return str(forecasting_api.risk_table(forecasting_api.forecast_year(settings, year)))


def _start(args: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    handle: IO[bytes] = log.open("ab")
    try:
        return subprocess.Popen(args, stdout=handle, stderr=subprocess.STDOUT, env=env)
    finally:
        handle.close()


def demo_main(args: argparse.Namespace, settings: Settings) -> int:
    """Run the demo (see the module docstring)."""
    source = Path(settings.source or "config/demo.toml")
    workdir = Path(args.workdir).resolve() if getattr(args, "workdir", None) else \
        settings.resolve(Path("../var/demo"))
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "logs").mkdir(exist_ok=True)
    config = workdir / "demo.toml"
    config.write_text(derived_config(source, workdir, getattr(args, "port", None)),
                      encoding="utf-8")
    settings = load_settings(config)

    now = datetime.now(UTC)
    year = now.astimezone(settings.site.tzinfo).year
    _say(f"== Jieneng demo: {settings.site.name}, {len(settings.meters)} meters on "
         f"{len(settings.gateways)} simulated gateways, store: {settings.storage.backend}, "
         f"work folder: {workdir}")

    counts = import_sample_ledgers(settings, Path(args.sample_data))
    _say("== ledgers imported from sample_data/: "
         + ", ".join(f"{kind} {n}" for kind, n in counts.items()))

    rebuilt = ensure_rollups(settings)
    if rebuilt is not None:
        _say(f"== the work folder's store predates rollups: {rebuilt:,} rollup rows built")
    start = _history_start(settings, now, args.history_days)
    until = _backfilled_until(settings)
    if until is not None and until > start:
        start = until
    _say(f"== backfilling hourly meter history {start:%Y-%m-%d %H:%M} → {now:%Y-%m-%d %H:%M} UTC")
    written = backfill(settings, start, now)
    _backfill_marker(settings).write_text(now.isoformat())
    _say(f"   {written:,} readings written")
    _say(f"== {_import_weather(settings, Path(args.sample_data) / 'weather.csv')}")

    passwords = {name: secrets.token_urlsafe(9) for name, _role, _inst in DEMO_USERS}
    env = dict(os.environ)
    env.update({password_env(name): pw for name, pw in passwords.items()})
    dash = settings.dashboard
    url = f"http://{dash.host}:{dash.port}"
    logs = workdir / "logs"
    children: list[subprocess.Popen] = []
    try:
        children.append(_start(_jieneng("simulate", "--config", str(config)),
                               logs / "simulate.log"))
        closed = _wait_for_ports(settings, timeout_s=30)
        if closed:
            _say(f"error: simulated gateways did not open: {', '.join(closed)} "
                 f"(see {logs / 'simulate.log'})")
            return 1
        _say("== simulated meters listening on "
             + ", ".join(sorted({f'{g.host}:{g.port}' for g in settings.gateways
                                 if g.protocol == 'tcp'})))
        polled_since = datetime.now(UTC)
        children.append(_start(_jieneng("collect", "--config", str(config)),
                               logs / "collect.log"))
        children.append(_start(_jieneng("dashboard", "--config", str(config)),
                               logs / "dashboard.log", env))
        if not _wait_for_collector(settings, polled_since, 60, children[1]):
            _say(f"error: the collector wrote nothing within 60 s (see {logs / 'collect.log'})")
            return 1
        _say("== collector polling every meter into the store")
        if not _wait_for_http(f"{url}/login", 90, children[2]):
            _say(f"error: the dashboard did not answer at {url} (see {logs / 'dashboard.log'})")
            return 1
        _say(f"== dashboard: {url}   sign in as (passwords made for this run):")
        for name, role, inst in DEMO_USERS:
            scope = f" ({', '.join(inst)} only)" if inst else ""
            _say(f"     {role:<8} name {name:<8} password {passwords[name]}{scope}")
        _say(f"== accounting for {year}:")
        _say(_account_table(settings, year))
        risks = _risk_table(settings, year)
        _say(f"== year-end risk ({year}):\n{risks}" if risks is not None else
             "== forecasting is not built yet: no year-end projection")
        _say("== live readings follow. Ctrl-C stops the demo.")
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
