"""Benchmark: the dashboard on a generated city, in headless Chromium and on the server.

Run: ``.venv/bin/python benchmarks/bench_dashboard.py [--quick] [--institutions 500]
[--meters-per-institution 10] [--days 365] [--repeats 5] [--workdir DIR]``

Data (built before timing, seeded): N institutions (4 categories × 2 levels, 10 per gateway),
each with one main electricity meter, sub-item meters (照明插座, 空调, 动力, 特殊), water, gas and
heat meters, buildings and headcount ledgers, and hourly counter readings of every meter for the
last ``--days`` days. The default is the issue's city (500 institutions, 5,000 meters, a year of
hourly readings = 43.8 million readings, written with ``write_frame`` in a few minutes, about
4 GB of SQLite); ``--quick`` builds 50 institutions × 10 meters × 30 days (360,000 readings).
``--workdir DIR`` keeps the city and reuses it when the sizes match.

Measured in the same run, with the dashboard served by waitress in this process:

* per page, in headless Chromium signed in as an officer (every institution): the time from
  navigation to the first complete render (every callback answered, the page's table and charts
  drawn), cold (first visit, the annual account computed) and warm (median of the repeats); the
  bytes of the callbacks' answers per page;
* per callback, on the server: its time, and the time of the bare store/accounting calls it made
  (:meth:`dashboard.data.DataService.bare_seconds`), and their ratio (server overhead), twice:
  in the browser rounds, where a page's callbacks run in parallel and share the interpreter
  lock, and with each callback's request replayed alone (``--replays`` times), which is the
  overhead of the callback itself;
* the median callback round trip seen by the browser.

Goals (issue 12): first render under 2 s, callbacks under 300 ms median, server time ≤ 1.5× the
bare calls. A callback that reads the store is judged by its ratio to those bare calls; one that
reads only the shared annual account (``cached``: no bare call, all its time is the dashboard's
own) by its median server time against :data:`ACCOUNT_GOAL_MS`.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import flask
import numpy as np
import pandas as pd
import requests
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from accounting.ledgers import import_ledger
from dashboard.app import create_app
from dashboard.auth import User, hash_password
from jieneng.settings import load_settings
from storage import DeviceHealth, open_store
from tests.dashboard.browsing import page_done, plot_traces, sign_in, wait_css, wait_until
from tests.support.browser import CHROMIUM_FLAGS
from tests.support.wsgi import waitress_thread

CATEGORIES = ["government", "education", "healthcare", "venue"]
LEVELS = ["municipal", "county"]
#: (suffix, carrier, model, sub-item, point, mean hourly consumption)
METER_KINDS = [
    ("main", "electricity", "eastron_sdm630", "01000", "energy_import_kwh", 80.0),
    ("light", "electricity", "eastron_sdm630", "01A00", "energy_import_kwh", 20.0),
    ("hvac", "electricity", "eastron_sdm630", "01B00", "energy_import_kwh", 30.0),
    ("power", "electricity", "eastron_sdm630", "01C00", "energy_import_kwh", 10.0),
    ("special", "electricity", "eastron_sdm630", "01D00", "energy_import_kwh", 5.0),
    ("water", "water", "generic_water_meter", "02000", "volume_m3", 1.5),
    ("gas", "natural_gas", "generic_gas_meter", "03000", "volume_m3", 4.0),
    ("heat", "heat", "generic_heat_meter", "04000", "heat_gj", 0.3),
    ("light2", "electricity", "eastron_sdm630", "01A00", "energy_import_kwh", 8.0),
    ("hvac2", "electricity", "eastron_sdm630", "01B00", "energy_import_kwh", 12.0),
]
#: Goal of the median server time of a callback that reads only the shared account. [ms]
ACCOUNT_GOAL_MS = 300.0
#: Goal of a store-reading callback's server time over its bare store/accounting calls.
RATIO_GOAL = 1.5
PAGES = {  # page → (css of its table, graphs that must show traces)
    "live": ("#live-latest-table tbody tr", ["live-hourly", "live-subitem", "live-trend"]),
    "statistics": ("#stats-monthly-table tbody tr", ["stats-heatmap"]),
    "carbon": ("#carbon-totals-text", ["carbon-tce", "carbon-co2"]),
    "benchmarking": ("#bench-league-table tbody tr", ["bench-scatter"]),
    "system": ("#system-meters-table tbody tr", []),
}


def build_city(folder: Path, n_inst: int, per_inst: int, days: int, seed: int = 1) -> Path:
    """Write the settings, ledgers and readings of a generated city; the settings file."""
    rng = np.random.default_rng(seed)
    ids = [f"inst{i:04d}" for i in range(n_inst)]
    lines = ['[site]\nname = "bench city"\ntimezone = "Asia/Shanghai"\nprovince = "shandong"\n'
             'region_code = "370100"\n', '[storage]\nbackend = "sqlite"\n',
             f'[storage.sqlite]\npath = "{folder / "store.sqlite"}"\n',
             f'[collector]\nspool_path = "{folder / "spool.sqlite"}"\n',
             f'[accounting]\nledger_path = "{folder / "ledgers.sqlite"}"\n',
             '[dashboard]\nport = 8050\n[[dashboard.users]]\nname = "officer"\nrole = "officer"\n'
             'password_env = "BENCH_PW"\n']
    n_gw = (n_inst + 9) // 10
    for g in range(n_gw):
        lines.append(f'[[gateways]]\nid = "gw{g:03d}"\nprotocol = "tcp"\nhost = "127.0.0.1"\n'
                     f'port = {20000 + g}\n')
    meters = []
    for i, inst in enumerate(ids):
        for k, (suffix, carrier, model, subitem, point, rate) in enumerate(METER_KINDS[:per_inst]):
            meter = f"{inst}-{suffix}"
            meters.append((meter, point, rate * rng.uniform(0.5, 2.0)))
            lines.append(
                f'[[meters]]\nid = "{meter}"\ngateway = "gw{i // 10:03d}"\n'
                f'device_id = {(i % 10) * per_inst + k + 1}\nmodel = "{model}"\n'
                f'institution = "{inst}"\nbuilding = "{inst}-b"\ncarrier = "{carrier}"\n'
                f'subitem = "{subitem}"\n')
    config = folder / "bench.toml"
    config.write_text("\n".join(lines), encoding="utf-8")
    settings = load_settings(config)
    pd.DataFrame({"institution_id": ids, "name": [f"机构{i:04d}" for i in range(n_inst)],
                  "category": rng.choice(CATEGORIES, n_inst), "level": rng.choice(LEVELS, n_inst),
                  "province": "shandong", "climate_zone": "cold"}).to_csv(
        folder / "institutions.csv", index=False)
    area = rng.uniform(3_000, 30_000, n_inst).round(0)
    pd.DataFrame({"building_id": [f"{i}-b" for i in ids], "institution_id": ids,
                  "floor_area_m2": area, "heated_area_m2": (area * 0.9).round(0)}).to_csv(
        folder / "buildings.csv", index=False)
    year = datetime.now(UTC).year
    pd.DataFrame({"institution_id": ids * 2, "year": [year] * n_inst + [2020] * n_inst,
                  "occupants": list(rng.integers(50, 1500, n_inst)) * 2}).to_csv(
        folder / "headcount.csv", index=False)
    for kind in ("institutions", "buildings", "headcount"):
        import_ledger(kind, folder / f"{kind}.csv", settings)
    end = pd.Timestamp(datetime.now(UTC)).floor("h")
    times = pd.date_range(end=end - pd.Timedelta(hours=1), periods=days * 24, freq="h")
    shape = np.array([0.4] * 7 + [1.0] * 11 + [0.6] * 6)[(times.hour + 8) % 24]
    store = open_store(settings)
    written = 0
    try:
        chunk = max(1, 2_000_000 // len(times))  # meters per write_frame call
        for first in range(0, len(meters), chunk):
            part = meters[first:first + chunk]
            rates = np.array([rate for _m, _p, rate in part])
            steps = rates[:, None] * shape[None, :] * rng.uniform(0.9, 1.1, (len(part), len(times)))
            values = np.round(1000 + np.cumsum(steps, axis=1), 3)
            written += store.write_frame(pd.DataFrame({
                "meter": np.repeat([m for m, _p, _r in part], len(times)),
                "point": np.repeat([p for _m, p, _r in part], len(times)),
                "time": np.tile(times, len(part)),
                "value": values.ravel(),
            }))
            print(f"\r  readings: {written:,}", end="", file=sys.stderr, flush=True)
        now = datetime.now(UTC)
        store.write_health([DeviceHealth(m, now, i % 50 != 0, 0 if i % 50 else 4, now, 0.05,
                                         "" if i % 50 else "timeout")
                            for i, (m, _p, _r) in enumerate(meters)])
    finally:
        store.close()
    print(f"\r  readings: {written:,}", file=sys.stderr)
    return config


class Meter:
    """Per-request server timing of /_dash-update-component answers, by callback output: each
    row is (outputs, server seconds, bare seconds, answer bytes, reads of the shared account,
    the round of page visits it was made in: 0 is the first, cold one)."""

    def __init__(self, app, data) -> None:
        self.rows: list[tuple[str, float, float, int, int, int]] = []
        self.page_bytes = 0
        self.repeat = 0
        #: The last warm request body of each callback (outputs → JSON bytes), for the replay.
        self.bodies: dict[str, bytes] = {}
        self._lock = threading.Lock()
        server = app.server

        @server.before_request
        def _start() -> None:
            flask.g.bench_t0 = time.perf_counter()
            data.reset_timing()

        @server.after_request
        def _stop(response):
            if flask.request.path == "/_dash-update-component":
                output = (flask.request.get_json(silent=True) or {}).get("output", "?")
                seconds = time.perf_counter() - flask.g.bench_t0
                size = len(response.get_data())
                with self._lock:
                    self.rows.append((output, seconds, data.bare_seconds(), size,
                                      data.account_reads(), self.repeat))
                    self.page_bytes += size
                    if self.repeat > 0:
                        self.bodies[output] = flask.request.get_data()
            return response


def replay(meter: Meter, url: str, cookies: dict[str, str], times: int) -> None:
    """Send each callback's last warm request again, one at a time, ``times`` times.

    In the browser a page's callbacks arrive together and run in parallel in waitress's threads,
    which share one interpreter lock: a callback's wall time there includes the others' work.
    Replayed alone, its server time against its bare calls is the overhead of the callback
    itself. The rows are recorded with round −1.
    """
    meter.repeat = -1
    with requests.Session() as session:
        session.cookies.update(cookies)
        for _ in range(times):
            for body in meter.bodies.values():
                answer = session.post(f"{url}/_dash-update-component", data=body, timeout=600,
                                      headers={"Content-Type": "application/json"})
                if answer.status_code not in (200, 204):
                    raise RuntimeError(f"replay: HTTP {answer.status_code} from the dashboard")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="50 institutions × 10 meters × 30 days (a few minutes)")
    parser.add_argument("--institutions", type=int, default=500)
    parser.add_argument("--meters-per-institution", type=int, default=10)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workdir", type=Path, default=None,
                        help="build the city here and keep it; a later run with the same sizes "
                             "reuses it (its readings end when it was built)")
    parser.add_argument("--replays", type=int, default=10,
                        help="times each callback's request is replayed one at a time")
    parser.add_argument("--build-only", action="store_true",
                        help="build the city (with --workdir, to keep it) and stop")
    args = parser.parse_args()
    if args.quick:
        args.institutions, args.days, args.repeats = 50, 30, 3
    with tempfile.TemporaryDirectory(prefix="jieneng-bench-dash-") as tmp:
        folder = Path(tmp) if args.workdir is None else args.workdir.resolve()
        folder.mkdir(parents=True, exist_ok=True)
        sizes = f"{args.institutions} {args.meters_per_institution} {args.days}\n"
        marker = folder / "city-built.txt"
        if marker.exists() and marker.read_text() == sizes:
            config = folder / "bench.toml"
            print(f"== reusing the city in {folder} (built "
                  f"{datetime.fromtimestamp(marker.stat().st_mtime, UTC):%Y-%m-%d %H:%M} UTC)")
        else:
            started = time.perf_counter()
            print(f"== building a city: {args.institutions} institutions, "
                  f"{args.institutions * args.meters_per_institution} meters, {args.days} days "
                  "of hourly readings")
            for old in ("store.sqlite", "store.sqlite-wal", "ledgers.sqlite"):
                (folder / old).unlink(missing_ok=True)
            config = build_city(folder, args.institutions, args.meters_per_institution,
                                args.days)
            marker.write_text(sizes)
            print(f"   built in {time.perf_counter() - started:.0f} s")
        if args.build_only:
            return 0
        settings = load_settings(config)
        users = {"officer": User("officer", "officer", None, hash_password("bench"))}
        app = create_app(settings, users=users, secret_key="bench", warm=False)
        data = app.jieneng_data
        meter = Meter(app, data)
        serving = contextlib.ExitStack()  # waitress in a thread, stopped in its own loop
        url, _server = serving.enter_context(waitress_thread(app.server, threads=4))

        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for flag in CHROMIUM_FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={Path(tmp) / 'chromium'}")
        browser = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        renders: dict[str, list[float]] = defaultdict(list)
        account = None
        payload: dict[str, int] = {}
        browser_rt: list[float] = []
        try:
            sign_in(browser, url, "officer", "bench")
            for repeat in range(args.repeats + 1):
                for page, (css, graphs) in PAGES.items():
                    if page == "system":  # admin only: skipped for the officer
                        continue
                    meter.page_bytes = 0
                    meter.repeat = repeat
                    t0 = time.perf_counter()
                    browser.get(f"{url}/{page}")
                    wait_css(browser, css, timeout=600)
                    for graph in graphs:
                        wait_until(lambda g=graph: plot_traces(browser, g) > 0, 600, graph)
                    wait_until(lambda: page_done(browser), 600, "callbacks")
                    renders[page].append(time.perf_counter() - t0)
                    payload[page] = meter.page_bytes
                    browser_rt.extend(browser.execute_script(
                        "return performance.getEntriesByType('resource').filter(e => "
                        "e.name.includes('_dash-update-component')).map(e => e.duration);"))
                    if repeat == 0:
                        print(f"   {page}: first (cold) render {renders[page][0]:.2f} s")
            account = data.cached_year(datetime.now(settings.site.tzinfo).year)
            replay(meter, url, {c["name"]: c["value"] for c in browser.get_cookies()},
                   args.replays)
        finally:
            browser.quit()
            serving.close()

    print("\n== first complete render per page (headless Chromium), warm median of "
          f"{args.repeats}; payload = callback answers")
    print(f"   {'page':<14}{'cold s':>9}{'warm s':>9}{'payload kB':>12}")
    for page, times in renders.items():
        warm = statistics.median(times[1:]) if len(times) > 1 else float("nan")
        print(f"   {page:<14}{times[0]:>9.2f}{warm:>9.2f}{payload[page] / 1000:>12.1f}")
    print(f"\n== callback round trip seen by the browser: median "
          f"{statistics.median(browser_rt):.0f} ms over {len(browser_rt)} callbacks")
    report([r for r in meter.rows if r[5] >= 0], account,
           "== server time per callback vs the bare store/accounting calls it makes, in the "
           "browser rounds (medians of the warm rounds: the first, cold visit of each page "
           "excluded; a page's callbacks run in parallel and share the interpreter lock)")
    report([r for r in meter.rows if r[5] < 0], None,
           f"== the same callbacks replayed one at a time ({args.replays} times each, medians): "
           "the overhead of each callback itself")
    return 0


def report(rows: list[tuple], account: Any, title: str) -> None:
    """Print a table of server time against bare time per callback and the goals' verdicts."""
    by_output: dict[str, list[tuple[float, float, int, int]]] = defaultdict(list)
    for output, seconds, bare, _size, reads, repeat in rows:
        by_output[output].append((seconds, bare, reads, repeat))
    print(f"\n{title}")
    print(f"   {'callback (outputs)':<58}{'n':>4}{'server ms':>11}{'bare ms':>9}{'ratio':>9}")
    ratios: dict[str, float] = {}
    account_ms: dict[str, float] = {}
    for output, mine in sorted(by_output.items()):
        warm = [r for r in mine if r[3] != 0] or mine
        server_ms = statistics.median(r[0] for r in warm) * 1000
        bare_ms = statistics.median(r[1] for r in warm) * 1000
        if bare_ms > 0.05:  # reads the store (or computed the account): judged by the ratio
            ratios[output] = server_ms / bare_ms
            shown = f"{server_ms / bare_ms:>9.2f}"
        elif any(r[2] for r in warm):  # served from the shared account: all its own work
            account_ms[output] = server_ms
            shown = f"{'account':>9}"
        else:  # neither the store nor the account: the page shell, the language switch, a
            shown = f"{'–':>9}"  # ledger (read once per ledger state)
        print(f"   {output[:57]:<58}{len(mine):>4}{server_ms:>11.1f}{bare_ms:>9.1f}{shown}")
    if account is not None:
        print(f"\n   the annual account (compute_account + the year's monthly inputs), computed once "
              f"and shared by every 'account' callback: {account.seconds:.1f} s")
    all_server = [r[1] for r in rows]
    print(f"\n   median callback on the server: {statistics.median(all_server) * 1000:.0f} ms")
    if ratios:
        worst = max(ratios, key=ratios.__getitem__)
        verdict = "met" if max(ratios.values()) <= RATIO_GOAL else "NOT met"
        print(f"   store-reading callbacks ({len(ratios)}): median ratio server/bare "
              f"{statistics.median(ratios.values()):.2f}, worst {ratios[worst]:.2f} "
              f"({worst[:40]}); goal ≤ {RATIO_GOAL} each: {verdict}")
    if account_ms:
        worst = max(account_ms, key=account_ms.__getitem__)
        verdict = "met" if statistics.median(account_ms.values()) <= ACCOUNT_GOAL_MS and \
            account_ms[worst] <= ACCOUNT_GOAL_MS else "NOT met"
        print(f"   account-reading callbacks ({len(account_ms)}): median server time "
              f"{statistics.median(account_ms.values()):.1f} ms, slowest {account_ms[worst]:.1f} "
              f"ms ({worst[:40]}); goal ≤ {ACCOUNT_GOAL_MS:.0f} ms each: {verdict}")


if __name__ == "__main__":
    sys.exit(main())
