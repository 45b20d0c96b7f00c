"""The simulator serves every shipped map with its real register layout, over TCP and RTU.

What a pymodbus client reads from the simulator, decoded by ``collectors.decode``, equals the
profile's values; faults switched on for one meter hit only that meter.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pymodbus.client import AsyncModbusSerialClient, ModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusIOException

from collectors.decode import decode_point
from collectors.planning import plan_requests
from collectors.registermap import available_models
from collectors.simulator.nullmodem import NullModem
from collectors.simulator.profile import counter_value, point_values
from collectors.simulator.server import SimulatorError, start_simulator
from jieneng.settings import CONSUMPTION_POINTS, Settings, validate_file
from tests.support.services import free_port

pytestmark = pytest.mark.modbus

T = datetime(2026, 1, 14, 2, 30, tzinfo=UTC)  # a Wednesday, 10:30 in Shanghai, heating season
MODELS = sorted(available_models())


def _carrier(model: str) -> str:
    return {"tuf2000m": "water", "generic_water_meter": "water", "generic_gas_meter": "natural_gas",
            "generic_heat_meter": "heat"}.get(model, "electricity")


def _settings(port: int, serial_port: str | None = None) -> Settings:
    meters = [
        {"id": f"m-{model}", "gateway": "gw", "device_id": i, "model": model,
         "institution": "i", "building": "b", "carrier": _carrier(model),
         "ct_ratio": 40.0, "pt_ratio": 10.0}
        for i, model in enumerate(MODELS, start=1)
    ]
    gateways = [{"id": "gw", "protocol": "tcp", "host": "127.0.0.1", "port": port}]
    if serial_port:
        gateways.append({"id": "bus", "protocol": "rtu", "serial_port": serial_port})
        meters.append({"id": "rtu-dtsu", "gateway": "bus", "device_id": 7,
                       "model": "chint_dtsu666", "institution": "i", "building": "b",
                       "carrier": "electricity", "ct_ratio": 40.0,
                       "overrides": {"energy_import_kwh": {"address": 0x401E}}})
    return Settings.model_validate({
        "site": {"name": "t", "province": "shandong", "region_code": "370100"},
        "gateways": gateways, "meters": meters,
    })


def _tolerance(point, expected: float, ct: float, pt: float) -> float:
    ratio = (ct if point.apply_ct else 1) * (pt if point.apply_pt else 1)
    if point.data_type.is_float:
        return abs(expected) * 1e-6 + 1e-9
    return abs(point.scale) * ratio / 2 + 1e-9


def _read_all(client, sim) -> dict[str, float | None]:
    out = {}
    for req in plan_requests(sim.points, max_gap=8):
        read = (client.read_holding_registers if req.function == "holding"
                else client.read_input_registers)
        answer = read(req.address, count=req.count, device_id=sim.device_id)
        assert not answer.isError(), (sim.meter.id, str(req), answer)
        for p in req.points:
            out[p.name] = decode_point(p, req.words_for(p, answer.registers),
                                       sim.meter.ct_ratio, sim.meter.pt_ratio).value
    return out


@pytest.fixture
def frozen_simulator():
    settings = _settings(free_port())
    handle = start_simulator(settings, speed=0, start=T)
    # answers must come within the timeout even on a busy machine; one test waits it out
    client = ModbusTcpClient("127.0.0.1", port=handle.servers["gw"].port, timeout=1.0, retries=0)
    assert client.connect()
    yield settings, handle, client
    client.close()
    handle.stop()


def test_every_shipped_map_decodes_to_the_profile(frozen_simulator):
    settings, handle, client = frozen_simulator
    assert len(handle.meters) == len(MODELS)
    for sim in handle.meters.values():
        expected = point_values(sim.meter, sim.regmap, T, settings.site.tzinfo)
        read = _read_all(client, sim)
        assert set(read) == {p.name for p in sim.regmap.points}
        for p in sim.points:
            assert read[p.name] == pytest.approx(
                expected[p.name], abs=_tolerance(p, expected[p.name], 40.0, 10.0)
            ), (sim.regmap.model, p.name)
        counter, _unit = CONSUMPTION_POINTS[_carrier(sim.regmap.model)]
        assert read[counter] == pytest.approx(counter_value(sim.meter, T), rel=1e-6)
        assert read[counter] > 100


def test_ct_and_pt_are_applied_only_where_the_map_says(frozen_simulator):
    _, handle, client = frozen_simulator
    dtsu = handle.meters["m-chint_dtsu666"]
    raw = client.read_holding_registers(0x101E, count=2, device_id=dtsu.device_id).registers
    secondary = client.convert_from_registers(raw, client.DATATYPE.FLOAT32)
    assert secondary * 40 * 10 == pytest.approx(counter_value(dtsu.meter, T), rel=1e-6)
    sdm = handle.meters["m-eastron_sdm630"]  # reports primary values itself
    raw = client.read_input_registers(0x0048, count=2, device_id=sdm.device_id).registers
    primary = client.convert_from_registers(raw, client.DATATYPE.FLOAT32)
    assert primary == pytest.approx(counter_value(sdm.meter, T), rel=1e-6)


def test_small_gaps_are_answered_large_gaps_are_not(frozen_simulator):
    _, handle, client = frozen_simulator
    dtsu = handle.meters["m-chint_dtsu666"]
    # 0x201C…0x2029 lie between reactive power and PF: answered as zeros
    assert client.read_holding_registers(0x2000, count=0x32, device_id=dtsu.device_id
                                         ).registers[0x1C:0x2A] == [0] * 14
    # nothing is mapped between 0x1030 and 0x2000
    assert client.read_holding_registers(0x1020, count=100, device_id=dtsu.device_id
                                         ).exception_code == 2


def test_faults_hit_one_meter_only(frozen_simulator):
    _, handle, client = frozen_simulator
    dtsu, sdm = handle.meters["m-chint_dtsu666"], handle.meters["m-eastron_sdm630"]
    handle.set_fault("m-chint_dtsu666", "timeout")
    with pytest.raises(ModbusIOException):
        client.read_holding_registers(0x2000, count=2, device_id=dtsu.device_id)
    assert not client.read_input_registers(0, count=2, device_id=sdm.device_id).isError()
    handle.clear_faults("m-chint_dtsu666")
    handle.set_fault("m-chint_dtsu666", "exception")  # device failure by default
    assert client.read_holding_registers(0x2000, count=2, device_id=dtsu.device_id
                                         ).exception_code == 4
    handle.clear_faults()
    handle.set_fault("m-chint_dtsu666", "exception", code=2, addresses=0x2044)
    assert client.read_holding_registers(0x2044, count=2, device_id=dtsu.device_id
                                         ).exception_code == 2
    assert not client.read_holding_registers(0x2000, count=2, device_id=dtsu.device_id).isError()
    handle.clear_faults()
    assert not client.read_holding_registers(0x2000, count=2, device_id=dtsu.device_id).isError()
    handle.set_fault("m-chint_dtsu666", "drop", times=1)
    with pytest.raises((ModbusIOException, ConnectionException)):
        client.read_holding_registers(0x2000, count=2, device_id=dtsu.device_id)
    client.close()
    assert client.connect()
    assert not client.read_holding_registers(0x2000, count=2, device_id=dtsu.device_id).isError()
    with pytest.raises(SimulatorError, match="expected one of timeout, exception"):
        handle.set_fault("m-chint_dtsu666", "flood")
    with pytest.raises(SimulatorError, match="no simulated meter 'nope'"):
        handle.set_fault("nope", "timeout")


def test_counter_reset_fault(frozen_simulator):
    _, handle, client = frozen_simulator
    sim = handle.meters["m-eastron_sdm120"]
    before = _read_all(client, sim)["energy_import_kwh"]
    handle.set_fault("m-eastron_sdm120", "reset")
    after = _read_all(client, sim)
    assert before > 100
    assert after["energy_import_kwh"] == 0.0
    assert after["power_w"] > 0  # the meter still measures


def test_counters_grow_with_the_simulated_clock():
    settings = _settings(free_port())
    with start_simulator(settings, speed=3600.0, update_interval_s=0.2,
                         meters=["m-chint_ddsu666"]) as handle:
        client = ModbusTcpClient("127.0.0.1", port=handle.servers["gw"].port, timeout=2)
        assert client.connect()
        sim = handle.meters["m-chint_ddsu666"]
        first = _read_all(client, sim)["energy_import_kwh"]
        # wait until the simulator has moved the counter on (about an hour of simulated time
        # per second), however long a busy machine takes to get there
        reads = 1
        deadline = time.monotonic() + 60
        second = first
        while second <= first and time.monotonic() < deadline:
            time.sleep(0.2)
            second = _read_all(client, sim)["energy_import_kwh"]
            reads += 1
        client.close()
    assert second > first
    assert handle.requests("gw") >= 2 * reads


def test_fault_from_the_start_and_unknown_fault():
    settings = _settings(free_port())
    with pytest.raises(SimulatorError, match="fault 'melt'"):
        start_simulator(settings, {"m-chint_ddsu666": ["melt"]}, speed=0, start=T)
    # the failed start released its port: a new simulator can bind it
    with start_simulator(settings, {"m-chint_ddsu666": ["timeout"]}, speed=0, start=T) as handle:
        assert handle.servers["gw"].faults.active(handle.meters["m-chint_ddsu666"].device_id) == [
            "timeout"]


def test_rtu_gateway_on_a_serial_port_with_an_override():
    with NullModem() as modem:
        settings = _settings(free_port(), serial_port=modem.server_port)
        with start_simulator(settings, speed=0, start=T, meters=["rtu-dtsu"]) as handle:
            sim = handle.meters["rtu-dtsu"]
            assert sim.regmap.point("energy_import_kwh").address == 0x401E

            async def read() -> list[int]:
                client = AsyncModbusSerialClient(modem.client_port, baudrate=9600, timeout=1,
                                                 retries=0)
                assert await client.connect()
                answer = await client.read_holding_registers(0x401E, count=2, device_id=7)
                client.close()
                return answer.registers

            words = asyncio.run(read())
    value = decode_point(sim.regmap.point("energy_import_kwh"), words, 40.0, 1.0).value
    assert value == pytest.approx(counter_value(sim.meter, T), rel=1e-6)


def test_demo_configuration_is_servable():
    settings, problems = validate_file(Path(__file__).parents[2] / "config" / "demo.toml")
    assert problems == []
    tcp = {gw.id for gw in settings.gateways if gw.protocol == "tcp"}
    for gw in settings.gateways:
        if gw.id in tcp:
            gw.port = free_port()
    served = [m.id for m in settings.meters if m.gateway in tcp]
    with start_simulator(settings, speed=0, start=T, meters=served) as handle:
        assert sorted(handle.meters) == sorted(served)
        assert len(served) >= 10
