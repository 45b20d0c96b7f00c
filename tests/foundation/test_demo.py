"""The README's demo runs end to end: ledgers, backfill, simulated meters, collector, dashboard.

A second start reuses the work folder: it only backfills what is new.
"""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from jieneng.demo import derived_config, password_env
from jieneng.settings import load_settings
from storage import open_store
from tests.support.services import free_port

ROOT = Path(__file__).resolve().parents[2]


def _run_demo(config: Path, workdir: Path, cwd: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "jieneng.cli", "demo", "--config", str(config),
         "--workdir", str(workdir), "--port", str(free_port()), *extra],
        capture_output=True, text=True, timeout=300, cwd=cwd,
    )


@pytest.mark.slow
@pytest.mark.modbus
def test_demo_runs_the_whole_chain(tmp_path):
    text = (ROOT / "config" / "demo.toml").read_text(encoding="utf-8")
    for port in sorted(set(re.findall(r"^port = (150\d\d)$", text, flags=re.M))):
        text = text.replace(f"port = {port}\n", f"port = {free_port()}\n")
    config = tmp_path / "config" / "demo.toml"
    config.parent.mkdir()
    config.write_text(text, encoding="utf-8")
    workdir = tmp_path / "work"

    started = datetime.now(UTC)
    run = _run_demo(config, workdir, tmp_path, "--history-days", "3", "--duration-s", "12",
                    "--refresh-s", "6")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    out = run.stdout
    assert "ledgers imported" in out
    assert "institutions" in out
    assert "readings written" in out
    assert "gov01" in out  # the accounting table names the demo institutions
    assert re.search(r"dashboard: http://127\.0\.0\.1:\d+", out)
    for role in ("manager", "officer", "leader", "admin"):
        assert re.search(rf"{role}\s+name {role}\s+password \S+", out), out
    assert "latest counter readings" in out
    assert "demo stopped" in out

    # all state is in the work folder, with the settings the demo derived
    settings = load_settings(workdir / "demo.toml")
    assert settings.resolve(settings.accounting.ledger_path).parent == workdir.resolve()
    assert (workdir / "logs" / "dashboard.log").exists()
    store = open_store(settings)
    try:
        live = store.read_readings(started, datetime.now(UTC) + timedelta(minutes=1))
    finally:
        store.close()
    # the collector polled the simulated meters: every meter has live, good readings
    good = live[live["quality"] == "good"]
    # the sample weather (hourly through 31 December) is imported too: a run that crosses an
    # hour boundary also reads the weather station's reading of that hour
    meters = set(good["meter"]) - {settings.forecasting.weather_meter}
    assert meters == {m.id for m in settings.meters}
    assert settings.resolve(settings.accounting.ledger_path).exists()

    # a second start reuses the work folder: only the last few minutes are backfilled
    again = _run_demo(config, workdir, tmp_path, "--duration-s", "1", "--refresh-s", "1")
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    written = int(re.search(r"([\d,]+) readings written", again.stdout).group(1).replace(",", ""))
    assert written < 20 * len(settings.meters)


def test_the_demo_settings_follow_the_work_folder(tmp_path):
    text = derived_config(ROOT / "config" / "demo.toml", tmp_path, 8123)
    path = tmp_path / "demo.toml"
    path.write_text(text, encoding="utf-8")
    settings = load_settings(path)
    assert settings.resolve(settings.storage.sqlite.path).parent == tmp_path
    assert settings.resolve(settings.collector.spool_path).parent == tmp_path
    assert settings.dashboard.port == 8123
    roles = {u.role: u for u in settings.dashboard.users}
    assert set(roles) == {"manager", "officer", "leader", "admin"}
    assert roles["manager"].institutions == ["gov01"]
    assert roles["admin"].password_env == password_env("admin")
