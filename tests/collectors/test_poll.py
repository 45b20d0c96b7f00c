"""Polling real pymodbus servers on loopback: TCP and RTU, planning, decoding, CT/PT, splitting."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from collectors.modbus_client import GatewayClient
from collectors.planning import plan_requests
from collectors.poller import DevicePoller
from tests.collectors.polling_support import (
    make_settings,
    model,
    register_blocks,
    rtu_gateway,
    sample_values,
    tcp_gateway,
)

pytestmark = pytest.mark.modbus


def poll(poller: DevicePoller):
    async def run():
        try:
            return await poller.poll()
        finally:
            poller.client.close()

    return asyncio.run(run())


def poller_for(settings, meter_index: int = 0, regmap=None) -> DevicePoller:
    meter = settings.meters[meter_index]
    client = GatewayClient(settings.gateway(meter.gateway))
    return DevicePoller(meter, regmap or model(meter.model), client,
                        max_gap=settings.collector.max_gap_registers)


def test_tcp_poll_reads_every_point_with_the_fewest_requests(modbus_tcp_server, tmp_path):
    regmap = model("chint_dtsu666")
    values = sample_values(regmap)
    server = modbus_tcp_server({3: register_blocks(regmap, values)})
    settings = make_settings(
        tmp_path, [tcp_gateway("gw", server.port)],
        [{"id": "m1", "gateway": "gw", "device_id": 3, "model": "chint_dtsu666"}],
    )
    poller = poller_for(settings)
    before = datetime.now(UTC)
    result = poll(poller)
    after = datetime.now(UTC)

    assert result.ok, result.error
    assert result.error == ""
    got = {r.point: r.value for r in result.readings}
    assert got == pytest.approx(values, rel=1e-6)
    assert all(r.quality == "good" and r.meter == "m1" for r in result.readings)
    assert all(before <= r.time <= after and r.time.tzinfo is not None for r in result.readings)
    # The server served only the points' registers, so the merged reads across unused registers
    # were rejected once, split, and learned: the second poll makes exactly the minimal reads.
    server.faults.reset_counts()
    again = poll(poller)
    assert again.ok
    assert len(again.readings) == len(regmap.points)
    runs = plan_requests(regmap.points, max_gap=0)
    assert server.faults.requests[3] == len(runs) == again.requests
    assert {(f, a, c) for d, f, a, c in server.faults.request_log} == {
        (3, r.address, r.count) for r in runs
    }


def test_merged_reads_when_the_device_answers_every_register(modbus_tcp_server, tmp_path):
    regmap = model("chint_dtsu666")
    values = sample_values(regmap)
    blocks = register_blocks(regmap, values)
    # one block per request-sized region, unused registers read as 0 like many real meters
    words: dict[int, int] = {}
    for start, block in blocks.items():
        for k, w in enumerate(block):
            words[start + k] = w
    dense: dict[int, list[int]] = {}
    for request in plan_requests(regmap.points, max_gap=8):
        dense[request.address] = [words.get(a, 0) for a in range(request.address,
                                                                 request.address + request.count)]
    server = modbus_tcp_server({1: dense})
    settings = make_settings(
        tmp_path, [tcp_gateway("gw", server.port)],
        [{"id": "m1", "gateway": "gw", "model": "chint_dtsu666"}],
    )
    result = poll(poller_for(settings))
    assert result.ok
    assert {r.point: r.value for r in result.readings} == pytest.approx(values, rel=1e-6)
    assert server.faults.requests[1] == len(plan_requests(regmap.points, max_gap=8)) == 5


def test_ct_and_pt_ratios_are_applied_where_the_map_says(modbus_tcp_server, tmp_path):
    # literal words: float32 100.0 = 0x42C8 0x0000; 230.0 V / 0.1 scale = 2300.0 = 0x450F 0xC000
    server = modbus_tcp_server({1: {
        0x101E: [0x42C8, 0x0000],   # energy_import_kwh raw 100.0 (apply_ct, apply_pt)
        0x2006: [0x450F, 0xC000],   # voltage_l1_v raw 2300.0 × 0.1 (apply_pt only)
        0x200C: [0x44FA, 0x0000],   # current_l1_a raw 2000.0 × 0.001 (apply_ct only)
    }})
    settings = make_settings(
        tmp_path, [tcp_gateway("gw", server.port)],
        [{"id": "m1", "gateway": "gw", "model": "chint_dtsu666", "ct_ratio": 40, "pt_ratio": 10}],
    )
    regmap = model("chint_dtsu666")
    import dataclasses

    three = dataclasses.replace(regmap, points=tuple(
        regmap.point(n) for n in ("energy_import_kwh", "voltage_l1_v", "current_l1_a")
    ))
    result = poll(poller_for(settings, regmap=three))
    got = {r.point: r.value for r in result.readings}
    assert got["energy_import_kwh"] == pytest.approx(100.0 * 40 * 10)
    assert got["voltage_l1_v"] == pytest.approx(230.0 * 10)
    assert got["current_l1_a"] == pytest.approx(2.0 * 40)


def test_invalid_values_become_invalid_readings_not_numbers(modbus_tcp_server, tmp_path):
    regmap = model("chint_dtsu666")
    values = sample_values(regmap)
    blocks = register_blocks(regmap, values)
    server = modbus_tcp_server({1: blocks})
    server.set_registers(1, 0x2006, [0x7FC0, 0x0000])  # voltage_l1_v: float32 NaN
    settings = make_settings(
        tmp_path, [tcp_gateway("gw", server.port)],
        [{"id": "m1", "gateway": "gw", "model": "chint_dtsu666"}],
    )
    result = poll(poller_for(settings))
    assert result.ok
    bad = [r for r in result.readings if r.point == "voltage_l1_v"]
    assert bad
    assert bad[0].value is None
    assert bad[0].quality == "invalid"
    assert [(p.point, p.what) for p in result.problems] == [("voltage_l1_v", "invalid_value")]
    good = {r.point: r.value for r in result.readings if r.quality == "good"}
    assert len(good) == len(regmap.points) - 1


def test_a_point_the_device_rejects_is_isolated_and_left_out(modbus_tcp_server, tmp_path):
    regmap = model("chint_dtsu666")
    values = sample_values(regmap)
    server = modbus_tcp_server({1: register_blocks(regmap, values)})
    server.faults.set(1, "exception", addresses=0x2010, code=2)  # current_l3_a "does not exist"
    settings = make_settings(
        tmp_path, [tcp_gateway("gw", server.port)],
        [{"id": "m1", "gateway": "gw", "model": "chint_dtsu666"}],
    )
    poller = poller_for(settings)
    first = poll(poller)
    assert first.ok
    assert [(p.point, p.what) for p in first.problems] == [("current_l3_a", "rejected_address")]
    got = {r.point: r.value for r in first.readings}
    assert "current_l3_a" not in got
    expected = {k: v for k, v in values.items() if k != "current_l3_a"}
    assert got == pytest.approx(expected, rel=1e-6)
    # later polls neither ask for it nor span it
    server.faults.reset_counts()
    second = poll(poller)
    assert {r.point for r in second.readings} == set(expected)
    assert not second.problems
    for _, _, address, count in server.faults.request_log:
        assert not address <= 0x2010 < address + count


def test_rtu_poll_through_a_pseudo_terminal_pair(modbus_rtu_server, tmp_path):
    regmap = model("eastron_sdm120")
    values = sample_values(regmap)
    server = modbus_rtu_server({7: register_blocks(regmap, values)}, baudrate=38400)
    settings = make_settings(
        tmp_path, [rtu_gateway("bus", server.client_port, baudrate=38400)],
        [{"id": "m-rtu", "gateway": "bus", "device_id": 7, "model": "eastron_sdm120"}],
    )
    poller = poller_for(settings)
    result = poll(poller)
    assert result.ok, result.error
    assert {r.point: r.value for r in result.readings} == pytest.approx(values, rel=1e-6)
    server.faults.reset_counts()
    assert poll(poller).ok
    assert server.faults.requests[7] == len(plan_requests(regmap.points, max_gap=0))
