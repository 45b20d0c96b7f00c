"""Store-and-forward against a real store: InfluxDB stopped mid-run, every reading counted exactly
once afterwards; a collector process killed with SIGKILL loses nothing it had spooled."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from collectors.decode import encode_value
from collectors.service import Collector, ReadingSink
from collectors.spool import Spool
from storage import Reading, open_store
from tests.collectors.polling_support import (
    make_settings,
    model,
    register_blocks,
    sample_values,
    tcp_gateway,
)
from tests.support.services import free_port

MODEL = "eastron_sdm120"
REPO = Path(__file__).resolve().parents[2]

#: Longest a test waits for a condition; a busy machine is slow, never a reason to fail. [s]
WAIT_S = 60.0


@pytest.mark.influxdb
@pytest.mark.modbus
def test_influxdb_down_mid_run_every_reading_lands_exactly_once(
    influxd, influx_database, modbus_tcp_server, tmp_path
):
    regmap = model(MODEL)
    energy = regmap.point("energy_import_kwh")
    server = modbus_tcp_server({
        1: register_blocks(regmap, sample_values(regmap)),
        2: register_blocks(regmap, sample_values(regmap, base=500.0)),
    })
    settings = make_settings(
        tmp_path, [tcp_gateway("gw", server.port)],
        [{"id": "a", "gateway": "gw", "device_id": 1, "model": MODEL},
         {"id": 'b "楼", x=1', "gateway": "gw", "device_id": 2, "model": MODEL}],
        storage={"backend": "influxdb",
                 "influxdb": {"url": influxd.url, "database": influx_database, "timeout_s": 10}},
    )
    collector = Collector(settings)
    sink = ReadingSink(settings)
    produced = []
    outcomes = []

    async def run():
        try:
            for cycle in range(8):
                if cycle == 2:
                    influxd.stop()
                if cycle == 5:
                    influxd.start()
                    # the sink waits before it tries a failed store again: let that wait pass
                    await asyncio.sleep(sink.retry_in_s + 0.05)
                for device_id in (1, 2):
                    server.set_registers(device_id, energy.address,
                                         encode_value(energy, 1000.0 + 10 * cycle + device_id))
                results = await collector.poll_once()
                readings = [r for res in results for r in res.readings]
                assert len(readings) == 2 * len(regmap.points)
                produced.extend(readings)
                outcomes.append(sink.put(readings))
                await asyncio.sleep(0.02)
        finally:
            for client in collector.clients.values():
                client.close()

    started = datetime.now(UTC)
    asyncio.run(run())
    final = sink.close()

    per_cycle = 2 * len(regmap.points)
    assert [o.store_available for o in outcomes] == [True, True, False, False, False,
                                                     True, True, True]
    assert outcomes[4].pending == 3 * per_cycle  # three cycles waited in the spool
    assert outcomes[5].forwarded == 4 * per_cycle  # replayed with the new cycle
    assert final.pending == 0

    store = open_store(settings)
    try:
        frame = store.read_readings(started - timedelta(minutes=1), datetime.now(UTC))
    finally:
        store.close()
    got = sorted(zip(frame["meter"], frame["point"], frame["time"], frame["value"], strict=True))
    want = sorted((r.meter, r.point, r.time, r.value) for r in produced)
    assert len(got) == len(want) == 8 * per_cycle
    assert got == want
    counters = frame[frame["point"] == "energy_import_kwh"].sort_values("time")
    assert list(counters[counters["meter"] == "a"]["value"]) == [
        pytest.approx(1001.0 + 10 * c) for c in range(8)
    ]


COLLECTOR_TOML = """
[site]
name = "spool test"
province = "shandong"
region_code = "370100"

[storage]
backend = "{backend}"
[storage.sqlite]
path = "store.sqlite"
[storage.influxdb]
url = "http://127.0.0.1:{dead_port}"
timeout_s = 0.5

[collector]
spool_path = "spool.sqlite"

[[gateways]]
id = "gw"
protocol = "tcp"
host = "127.0.0.1"
port = {port}
timeout_s = 2.0

[[meters]]
id = "m1"
gateway = "gw"
model = "{model}"
institution = "i1"
building = "b1"
carrier = "electricity"
poll_interval_s = 1
"""


@pytest.mark.modbus
def test_sigkill_then_restart_forwards_everything_that_was_spooled(modbus_tcp_server, tmp_path):
    regmap = model(MODEL)
    server = modbus_tcp_server({1: register_blocks(regmap, sample_values(regmap))})
    config = tmp_path / "jieneng.toml"
    dead_port = free_port()  # no InfluxDB here: every write fails, readings stay in the spool
    config.write_text(COLLECTOR_TOML.format(backend="influxdb", dead_port=dead_port,
                                            port=server.port, model=MODEL))
    proc = subprocess.Popen(
        [sys.executable, "-m", "jieneng.cli", "collect", "--config", str(config)],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    spool_path = tmp_path / "spool.sqlite"
    try:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            if spool_path.exists():
                probe = Spool(spool_path)
                pending = probe.pending
                probe.close()
                if pending >= 3 * len(regmap.points):
                    break
            time.sleep(0.2)
        else:
            pytest.fail(f"the collector spooled fewer than three polls in {WAIT_S} s")
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL

    spool = Spool(spool_path)
    left = [r for _, r in spool.peek(1_000_000)]
    spool.close()
    assert len(left) >= 3 * len(regmap.points)
    assert len(left) % len(regmap.points) == 0  # whole polls only

    # restart with a store that works: the next run forwards everything the killed one had read
    config.write_text(COLLECTOR_TOML.format(backend="sqlite", dead_port=dead_port,
                                            port=server.port, model=MODEL))
    done = subprocess.run(
        [sys.executable, "-m", "jieneng.cli", "collect", "--config", str(config), "--once"],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    from jieneng.settings import load_settings

    store = open_store(load_settings(config))
    try:
        frame = store.read_readings(datetime(2020, 1, 1, tzinfo=UTC), datetime.now(UTC))
    finally:
        store.close()
    stored = set(zip(frame["meter"], frame["point"], frame["time"], frame["value"], strict=True))
    assert {(r.meter, r.point, r.time, r.value) for r in left} <= stored
    assert len(frame) == len(left) + len(regmap.points)  # plus the --once poll, nothing twice
    check = Spool(spool_path)
    assert check.pending == 0
    check.close()


@pytest.mark.influxdb
def test_a_reading_the_store_rejects_is_set_aside_and_the_rest_flows(
    influxd, influx_database, tmp_path
):
    settings = make_settings(
        tmp_path, [], [],
        storage={"backend": "influxdb", "influxdb": {"url": influxd.url,
                                                     "database": influx_database}},
    )
    store = open_store(settings)
    spool = Spool(tmp_path / "poison.sqlite", max_readings=1000)
    good = [Reading("m", "energy_import_kwh", datetime(2026, 1, 1, h, tzinfo=UTC), float(h))
            for h in range(3)]
    # InfluxDB answers 400 for a time beyond its range (year 2262): the data itself is refused
    poison = Reading("m", "energy_import_kwh", datetime(2300, 1, 1, tzinfo=UTC), 9.0)
    spool.append([good[0], poison, good[1], good[2]])
    try:
        result = spool.forward(store)
        assert result.store_available
        assert result.forwarded == 3
        assert result.pending == 0
        assert spool.rejected() == 1
        frame = store.read_readings(datetime(2026, 1, 1, tzinfo=UTC),
                                    datetime(2026, 1, 2, tzinfo=UTC))
        assert sorted(frame["value"]) == [0.0, 1.0, 2.0]
    finally:
        spool.close()
        store.close()


def test_the_sink_says_how_long_it_waits_before_trying_the_store_again(tmp_path, monkeypatch):
    import collectors.service

    # a long first wait, so the checks below certainly fall inside it on a busy machine
    monkeypatch.setattr(collectors.service, "STORE_RETRY_S", 60.0)
    settings = make_settings(
        tmp_path, [], [],
        storage={"backend": "influxdb",
                 "influxdb": {"url": f"http://127.0.0.1:{free_port()}", "timeout_s": 0.5}},
    )
    sink = ReadingSink(settings)
    try:
        assert sink.retry_in_s == 0.0
        reading = Reading("m", "energy_import_kwh", datetime(2026, 1, 5, tzinfo=UTC), 1.0)
        first = sink.put([reading])
        assert not first.store_available
        assert 0.0 < sink.retry_in_s <= 60.0
        waiting = sink.flush()
        assert waiting.error == "waiting before retrying the store"
        assert waiting.pending == 1
    finally:
        sink.close()


def test_the_collector_applies_the_store_retention_when_it_starts(tmp_path):
    settings = make_settings(tmp_path, [], [])
    settings.storage.retention_raw_days = 30
    now = datetime.now(UTC)
    old = Reading("m", "energy_import_kwh", now - timedelta(days=60), 100.0)
    recent = Reading("m", "energy_import_kwh", now - timedelta(days=1), 200.0)
    store = open_store(settings)
    store.write_readings([old, recent])

    async def run_until_old_raw_is_gone() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(Collector(settings).run(stop))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            raw = store.read_readings(now - timedelta(days=90), now)
            if len(raw) == 1:
                break
            await asyncio.sleep(0.2)
        stop.set()
        await task

    try:
        asyncio.run(run_until_old_raw_is_gone())
        raw = store.read_readings(now - timedelta(days=90), now)
        assert list(raw["value"]) == [200.0]  # the 60-day-old raw reading was dropped ...
        daily = store.daily_counters(now - timedelta(days=90), now)
        # ... and its day's aggregate is kept for good
        assert 100.0 in set(daily["last_value"])
    finally:
        store.close()
