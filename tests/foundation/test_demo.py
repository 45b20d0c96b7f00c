"""The README's demo runs end to end: ledgers, backfill, simulated meters, collector, accounting."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from jieneng.settings import load_settings
from tests.support.services import free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.modbus
def test_demo_runs_the_whole_chain(tmp_path):
    text = (ROOT / "config" / "demo.toml").read_text(encoding="utf-8")
    for port in sorted(set(re.findall(r"^port = (150\d\d)$", text, flags=re.M))):
        text = text.replace(f"port = {port}\n", f"port = {free_port()}\n")
    text = text.replace("port = 8050", f"port = {free_port()}")
    config = tmp_path / "config" / "demo.toml"
    config.parent.mkdir()
    config.write_text(text, encoding="utf-8")

    started = datetime.now(UTC)
    run = subprocess.run(
        [sys.executable, "-m", "jieneng.cli", "demo", "--config", str(config),
         "--history-days", "3", "--duration-s", "25", "--refresh-s", "10"],
        capture_output=True, text=True, timeout=240, cwd=tmp_path,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    out = run.stdout
    assert "ledgers imported" in out
    assert "institutions" in out
    assert "readings written" in out
    assert "gov01" in out  # the accounting table names the demo institutions
    assert "latest counter readings" in out
    assert "demo stopped" in out

    settings = load_settings(config)
    from storage import open_store

    store = open_store(settings)
    try:
        live = store.read_readings(started, datetime.now(UTC) + timedelta(minutes=1))
    finally:
        store.close()
    # the collector polled the simulated meters: every meter has live, good readings
    good = live[live["quality"] == "good"]
    assert set(good["meter"]) == {m.id for m in settings.meters}
    assert (settings.resolve(settings.accounting.ledger_path)).exists()
