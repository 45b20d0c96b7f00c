"""A demo city's store and ledgers, and one dashboard served by waitress per test module.

The data: the demo's ledgers from ``sample_data/`` and 40 days of the simulated meters' hourly
history, written once per session; health records put one meter offline. Each test module gets
its own dashboard server (waitress in a thread, on a free port); browser tests share the
session's headless Chromium and sign in through the real sign-in page.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests

from dashboard.app import create_app
from dashboard.auth import RateLimiter, load_users
from jieneng import demo
from jieneng.settings import load_settings
from storage import DeviceHealth, open_store
from tests.support.services import free_port
from tests.support.wsgi import waitress_thread

ROOT = Path(__file__).resolve().parents[2]
PASSWORDS = {name: f"pw-{name}-{i}" for i, (name, _r, _i) in enumerate(demo.DEMO_USERS)}
IMG = ROOT / "docs" / "img"
#: Where the browser tests save their screenshots: the README's folder only when asked for
#: (JIENENG_UPDATE_SCREENSHOTS=1 ./run test tests/dashboard), so a test run leaves git clean.
SHOTS = (IMG if os.environ.get("JIENENG_UPDATE_SCREENSHOTS")
         else Path(tempfile.gettempdir()) / "jieneng-screenshots")
#: A meter of the compound cmp01 (集中办公区 of gov07, gov08, gov09) that the demo settings do
#: not configure: the store holds two days of its readings, and tests that need a compound's
#: own meter add it to a copy of the settings (:func:`with_compound_meter`).
COMPOUND_METER = "cmp01-main"


@dataclass
class Served:
    """A running dashboard: its address, settings and app."""

    url: str
    settings: object
    app: object
    server: object


@pytest.fixture(scope="session")
def city(tmp_path_factory) -> object:
    """Settings of a demo city with ledgers and 40 days of hourly meter history."""
    folder = tmp_path_factory.mktemp("city")
    workdir = folder / "var"
    workdir.mkdir()
    config = workdir / "demo.toml"
    config.write_text(demo.derived_config(ROOT / "config" / "demo.toml", workdir, free_port()),
                      encoding="utf-8")
    settings = load_settings(config)
    demo.import_sample_ledgers(settings)
    now = datetime.now(UTC)
    demo.backfill(settings, now - timedelta(days=40), now)
    store = open_store(settings)
    try:
        hours = pd.date_range(end=pd.Timestamp(now).floor("h"), periods=48, freq="h")
        store.write_frame(pd.DataFrame({"meter": COMPOUND_METER, "point": "energy_import_kwh",
                                        "time": hours, "value": 5000.0 + 12.5 * np.arange(48)}))
        store.write_health([
            DeviceHealth("gov01-lifts", now - timedelta(minutes=20), False, 12,
                         now - timedelta(hours=2), None, "timeout after 1.0 s"),
            DeviceHealth("gov01-main", now - timedelta(minutes=1), True, 0, now, 0.05, ""),
        ])
    finally:
        store.close()
    return settings


def with_compound_meter(settings):
    """A copy of ``settings`` with :data:`COMPOUND_METER` configured as cmp01's own meter."""
    meter = settings.meter("gov01-main").model_copy(update={
        "id": COMPOUND_METER, "institution": "cmp01", "building": "cmp01-hall", "device_id": 40})
    return settings.model_copy(update={"meters": [*settings.meters, meter]})


def serve(settings, limiter: RateLimiter | None = None,
          users: dict | None = None) -> Iterator[Served]:
    """Serve the dashboard of ``settings`` with waitress in a thread until the generator ends
    (the demo's users, or ``users``)."""
    env = {demo.password_env(name): pw for name, pw in PASSWORDS.items()}
    users = load_users(settings.dashboard, env) if users is None else users
    app = create_app(settings, users=users, secret_key="test-secret", limiter=limiter)
    with waitress_thread(app.server, threads=6) as (url, server):
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{url}/login", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
        yield Served(url, settings, app, server)


@pytest.fixture(scope="module")
def served(city) -> Iterator[Served]:
    """One dashboard server per test module."""
    yield from serve(city)


def session_for(served: Served, name: str, password: str | None = None) -> requests.Session:
    """A signed-in HTTP session (for hand-made requests); a demo user's password by default."""
    session = requests.Session()
    answer = session.post(f"{served.url}/login",
                          data={"username": name, "password": password or PASSWORDS[name]},
                          allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text[:300]
    return session
