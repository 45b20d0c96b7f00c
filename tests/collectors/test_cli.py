"""``jieneng collect`` (``--once``, JSON output, exit status, SIGTERM) and ``jieneng simulate``,
run as real processes against real pymodbus servers."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from jieneng.settings import load_settings
from storage import open_store
from tests.collectors.polling_support import model, register_blocks, sample_values
from tests.support.services import free_port

pytestmark = pytest.mark.modbus

REPO = Path(__file__).resolve().parents[2]

#: Longest a test waits for a condition (polls stored, a server up); a busy machine is slow. [s]
WAIT_S = 60.0

CONFIG = """
[site]
name = "cli test"
province = "shandong"
region_code = "370100"

[storage]
backend = "sqlite"
[storage.sqlite]
path = "store.sqlite"

[collector]
spool_path = "spool.sqlite"

[[gateways]]
id = "gw"
protocol = "tcp"
host = "127.0.0.1"
port = {port}
timeout_s = 1.0
retries = 0

[[meters]]
id = "总表-1"
gateway = "gw"
device_id = 1
model = "chint_dtsu666"
institution = "i1"
building = "b1"
carrier = "electricity"
ct_ratio = 40
pt_ratio = 1
poll_interval_s = 1

[[meters]]
id = "water-1"
gateway = "gw"
device_id = 2
model = "{second_model}"
institution = "i1"
building = "b1"
carrier = "electricity"
poll_interval_s = 1
"""


def jieneng(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jieneng.cli", *args], cwd=REPO, capture_output=True, text=True,
        timeout=timeout,
    )


def write_config(tmp_path: Path, port: int, second_model: str = "eastron_sdm120") -> Path:
    path = tmp_path / "jieneng.toml"
    path.write_text(CONFIG.format(port=port, second_model=second_model), encoding="utf-8")
    return path


def stored_readings(config: Path):
    store = open_store(load_settings(config))
    try:
        return store.read_readings(datetime(2020, 1, 1, tzinfo=UTC), datetime.now(UTC))
    finally:
        store.close()


def test_collect_once_prints_json_and_writes_the_store(modbus_tcp_server, tmp_path):
    dtsu, sdm = model("chint_dtsu666"), model("eastron_sdm120")
    # the meter's secondary side reads 250 kWh; CT 40 makes it 10 000 kWh on the primary side
    dtsu_values = sample_values(dtsu)
    server = modbus_tcp_server({
        1: register_blocks(dtsu, dtsu_values, ct_ratio=40),
        2: register_blocks(sdm, sample_values(sdm)),
    })
    server.set_registers(1, dtsu.point("energy_import_kwh").address, [0x437A, 0x0000])  # 250.0
    config = write_config(tmp_path, server.port)
    before = datetime.now(UTC)
    done = jieneng("collect", "--config", str(config), "--once", "--format", "json")
    assert done.returncode == 0, done.stderr
    records = json.loads(done.stdout)
    assert len(records) == len(dtsu.points) + len(sdm.points)
    for rec in records:
        assert {"meter", "point", "value", "unit", "time", "quality"} <= set(rec)
        assert rec["time"].endswith("Z")
        t = datetime.fromisoformat(rec["time"])
        assert t.tzinfo is not None
        assert before <= t <= datetime.now(UTC)
    by_key = {(r["meter"], r["point"]): r for r in records}
    energy = by_key[("总表-1", "energy_import_kwh")]
    assert energy["value"] == pytest.approx(250.0 * 40)
    assert energy["unit"] == "kWh"
    assert energy["quality"] == "good"
    assert energy["ct_pt_applied"] is True
    assert energy["ct_ratio"] == 40
    volts = by_key[("总表-1", "voltage_l1_v")]
    assert volts["ct_pt_applied"] is False  # apply_pt only, and PT = 1
    assert volts["value"] == pytest.approx(dtsu_values["voltage_l1_v"])
    assert by_key[("water-1", "energy_import_kwh")]["unit"] == "kWh"

    frame = stored_readings(config)
    assert len(frame) == len(records)
    stored = frame[(frame["meter"] == "总表-1") & (frame["point"] == "energy_import_kwh")]
    assert list(stored["value"]) == [pytest.approx(10_000.0)]


def test_collect_once_table_output(modbus_tcp_server, tmp_path):
    sdm = model("eastron_sdm120")
    server = modbus_tcp_server({2: register_blocks(sdm, sample_values(sdm))})
    config = write_config(tmp_path, server.port)
    done = jieneng("collect", "--config", str(config), "--once")
    # device 1 does not answer, device 2 does: partial success is success
    assert done.returncode == 0, done.stderr
    header, *rows = done.stdout.splitlines()
    assert header.split() == ["meter", "point", "value", "unit", "quality", "time"]
    assert len(rows) == len(sdm.points)
    assert "meter '总表-1'" in done.stderr
    assert "no valid answer" in done.stderr
    assert "No response received" not in done.stderr  # pymodbus's own line, with hex dumps


def test_collect_once_exits_non_zero_when_no_meter_answers(tmp_path):
    config = write_config(tmp_path, free_port())  # nothing listens there
    done = jieneng("collect", "--config", str(config), "--once", "--format", "json")
    assert done.returncode == 1
    assert json.loads(done.stdout) == []
    assert "no meter could be read (0 of 2)" in done.stderr
    assert "cannot connect to 127.0.0.1:" in done.stderr


def test_collect_runs_until_sigterm_then_flushes_and_exits_0(modbus_tcp_server, tmp_path):
    dtsu, sdm = model("chint_dtsu666"), model("eastron_sdm120")
    server = modbus_tcp_server({
        1: register_blocks(dtsu, sample_values(dtsu)), 2: register_blocks(sdm, sample_values(sdm)),
    })
    config = write_config(tmp_path, server.port)
    proc = subprocess.Popen(
        [sys.executable, "-m", "jieneng.cli", "collect", "--config", str(config)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    def polls_per_meter() -> int:
        if not (tmp_path / "store.sqlite").exists():
            return 0
        frame = stored_readings(config)
        if frame.empty or frame["meter"].nunique() < 2:
            return 0
        return int(frame.groupby("meter")["time"].apply(lambda t: t.dt.floor("s").nunique()).min())

    try:
        # wait for three polls of each meter, however long the machine takes (not a fixed time)
        deadline = time.monotonic() + WAIT_S
        while polls_per_meter() < 3 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.3)
        assert proc.poll() is None, proc.communicate()[1]
        assert polls_per_meter() >= 3, f"fewer than 3 polls per meter in {WAIT_S} s"
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=WAIT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "collector stopped" in err
    frame = stored_readings(config)
    polls = frame.groupby("meter")["time"].apply(lambda t: t.dt.floor("s").nunique())
    assert polls.min() >= 3
    assert frame.groupby(["meter", "point", "time"]).size().max() == 1


def test_simulate_serves_what_collect_reads_and_stops_on_sigterm(tmp_path):
    port = free_port()
    config = write_config(tmp_path, port, second_model="eastron_sdm120")
    sim = subprocess.Popen(
        [sys.executable, "-m", "jieneng.cli", "simulate", "--config", str(config)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + WAIT_S
        done = None
        while time.monotonic() < deadline and sim.poll() is None:
            done = jieneng("collect", "--config", str(config), "--once", "--format", "json")
            if done.returncode == 0:
                break
            time.sleep(0.5)
        assert done is not None
        assert done.returncode == 0, (done.stderr, sim.poll())
        records = json.loads(done.stdout)
        energy = [r for r in records if r["point"] == "energy_import_kwh"]
        assert {r["meter"] for r in energy} == {"总表-1", "water-1"}
        assert all(r["quality"] == "good" and r["value"] > 0 for r in energy)
        sim.send_signal(signal.SIGTERM)
        sim.communicate(timeout=WAIT_S)
        assert sim.returncode == 0
    finally:
        if sim.poll() is None:
            sim.kill()
            sim.wait()


def test_simulate_rejects_a_fault_for_an_unknown_meter(tmp_path):
    config = write_config(tmp_path, free_port())
    done = jieneng("simulate", "--config", str(config), "--fault", "nope:timeout")
    assert done.returncode == 2
    assert "no meter 'nope'" in done.stderr


def test_simulate_rejects_an_unknown_fault_kind(tmp_path):
    config = write_config(tmp_path, free_port())
    done = jieneng("simulate", "--config", str(config), "--fault", "water-1:explode")
    assert done.returncode == 2
    assert "'explode'" in done.stderr
    assert "timeout" in done.stderr


def test_collect_reports_an_override_of_an_unknown_point(tmp_path):
    config = write_config(tmp_path, free_port())
    text = config.read_text(encoding="utf-8").replace(
        'ct_ratio = 40\n', 'ct_ratio = 40\n[meters.overrides.energy_import_kwhh]\naddress = 0x4000\n'
    )
    config.write_text(text, encoding="utf-8")
    done = jieneng("collect", "--config", str(config), "--once")
    assert done.returncode == 2, done.stderr
    assert "energy_import_kwhh" in done.stderr
    assert "Traceback" not in done.stderr


def test_collect_once_keeps_the_readings_in_the_spool_when_the_store_is_down(
    modbus_tcp_server, tmp_path
):
    from collectors.spool import Spool

    sdm = model("eastron_sdm120")
    server = modbus_tcp_server({2: register_blocks(sdm, sample_values(sdm))})
    config = write_config(tmp_path, server.port)
    text = config.read_text(encoding="utf-8").replace(
        'backend = "sqlite"',
        f'backend = "influxdb"\n[storage.influxdb]\nurl = "http://127.0.0.1:{free_port()}"\n'
        "timeout_s = 0.5",
    )
    config.write_text(text, encoding="utf-8")
    done = jieneng("collect", "--config", str(config), "--once", "--format", "json")
    assert done.returncode == 0, done.stderr  # the meter was read; its readings are safe
    assert len(json.loads(done.stdout)) == len(sdm.points)
    assert f"{len(sdm.points)} readings are kept in the spool" in done.stderr
    spool = Spool(tmp_path / "spool.sqlite")
    try:
        assert spool.pending == len(sdm.points)
    finally:
        spool.close()
