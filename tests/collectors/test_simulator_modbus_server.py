"""The Modbus test servers: real pymodbus servers on loopback (TCP) and on a pty pair (RTU).

These test the fixtures of ``tests/support/modbus.py`` with pymodbus's own clients, including every
fault the servers can inject.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import pytest
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient, ModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusIOException

from collectors.simulator.modbus_server import FaultPlan

pytestmark = pytest.mark.modbus

DEVICES = {
    1: {0x2006: [0x4366, 0x3333, 0x0001, 0x0002]},
    2: {0x0000: [10, 11, 12], 0x0010: [20, 21]},
}

#: Client response timeout: the tests that expect no answer wait this long, the others must get
#: their answer within it even on a busy machine. [s]
TIMEOUT_S = 1.0


@pytest.fixture
def tcp(modbus_tcp_server):
    server = modbus_tcp_server(DEVICES)
    client = ModbusTcpClient("127.0.0.1", port=server.port, timeout=TIMEOUT_S, retries=0)
    assert client.connect()
    yield server, client
    client.close()


def test_tcp_serves_each_device_on_fc03_and_fc04(tcp):
    server, client = tcp
    assert client.read_holding_registers(0x2006, count=4, device_id=1).registers == [
        0x4366, 0x3333, 1, 2]
    assert client.read_input_registers(0x0000, count=3, device_id=2).registers == [10, 11, 12]
    value = client.convert_from_registers([0x4366, 0x3333], client.DATATYPE.FLOAT32)
    assert value == pytest.approx(230.2, abs=1e-4)
    assert server.faults.requests == {1: 1, 2: 1}
    assert server.address == f"127.0.0.1:{server.port}"


def test_tcp_unmapped_gap_is_illegal_address(tcp):
    _, client = tcp
    answer = client.read_holding_registers(0x0000, count=18, device_id=2)
    assert answer.isError()
    assert answer.exception_code == 2
    assert client.read_holding_registers(0x0010, count=2, device_id=2).registers == [20, 21]


def test_live_update(tcp):
    server, client = tcp
    server.set_registers(1, 0x2008, [7, 8])
    assert client.read_holding_registers(0x2006, count=4, device_id=1).registers[2:] == [7, 8]
    assert server.get_registers(1, 0x2008, 2) == [7, 8]


def test_exception_fault_for_given_addresses_only(tcp):
    server, client = tcp
    server.faults.set(1, "exception", addresses=0x2009, code=2)
    assert client.read_holding_registers(0x2006, count=4, device_id=1).exception_code == 2
    assert client.read_holding_registers(0x2006, count=2, device_id=1).registers == [
        0x4366, 0x3333]
    server.faults.set(2, "exception", code=4)
    assert client.read_holding_registers(0, count=1, device_id=2).exception_code == 4
    server.faults.clear()
    assert client.read_holding_registers(0x2006, count=4, device_id=1).registers[3] == 2


def test_timeout_fault_then_recovery(tcp):
    server, client = tcp
    server.faults.set(1, "timeout", times=1)
    started = time.monotonic()
    with pytest.raises(ModbusIOException):
        client.read_holding_registers(0x2006, count=2, device_id=1)
    assert time.monotonic() - started >= TIMEOUT_S - 0.05  # no answer: the client waited it out
    assert not client.read_holding_registers(0x2006, count=2, device_id=1).isError()
    # the other device was never affected
    assert server.faults.active(2) == []


def test_unknown_device_id_gets_no_answer(tcp):
    server, client = tcp
    with pytest.raises(ModbusIOException):
        client.read_holding_registers(0x2006, count=2, device_id=9)
    assert server.faults.requests[9] == 1


def test_drop_fault_closes_the_connection(tcp):
    server, client = tcp
    server.faults.set(1, "drop", times=1)
    with pytest.raises((ConnectionException, ModbusIOException)):
        client.read_holding_registers(0x2006, count=2, device_id=1)
    client.close()
    assert client.connect()
    assert client.read_holding_registers(0x2006, count=2, device_id=1).registers == [
        0x4366, 0x3333]


def test_garbled_tcp_answer_is_not_accepted(tcp):
    server, client = tcp
    server.faults.set(1, "garble", times=1)
    with pytest.raises((ModbusIOException, ConnectionException)):
        client.read_holding_registers(0x2006, count=2, device_id=1)


def test_delay_fault_on_one_device_does_not_delay_another_server(modbus_tcp_server):
    slow = modbus_tcp_server({1: {0: [1]}})
    fast = modbus_tcp_server({1: {0: [2]}})
    slow.faults.set(1, "delay", delay_s=2.0)

    answered: list[int] = []

    async def read(port: int) -> tuple[list[int], float]:
        client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=30, retries=0)
        await client.connect()
        started = time.monotonic()
        answer = await client.read_holding_registers(0, count=1, device_id=1)
        answered.append(port)
        client.close()
        return answer.registers, time.monotonic() - started

    async def both():
        return await asyncio.gather(read(slow.port), read(fast.port))

    (slow_regs, slow_s), (fast_regs, fast_s) = asyncio.run(both())
    assert (slow_regs, fast_regs) == ([1], [2])
    assert slow_s >= 1.9  # the delay is a lower bound
    # the fast server answered first, not after the slow one's delay (an order, not a speed)
    assert answered == [fast.port, slow.port], (fast_s, slow_s)


def test_fault_plan_matching():
    plan = FaultPlan()
    plan.set(1, "exception", addresses=(10, 12), function_code=3, times=2)
    assert plan.hit(1, 3, 8, 2) is None  # 8-9
    assert plan.hit(1, 4, 10, 1) is None  # other function
    assert plan.hit(1, 3, 12, 5).kind == "exception"
    assert plan.hit(1, 3, 9, 2).kind == "exception"
    assert plan.hit(1, 3, 9, 2) is None  # used up
    with pytest.raises(ValueError, match="expected one of timeout, exception"):
        plan.set(1, "fire")


def test_rtu_over_a_pty_pair(modbus_rtu_server):
    server = modbus_rtu_server(DEVICES, baudrate=9600)

    async def scenario():
        client = AsyncModbusSerialClient(server.client_port, baudrate=9600, timeout=TIMEOUT_S,
                                         retries=0)
        assert await client.connect()
        first = await client.read_holding_registers(0x2006, count=4, device_id=1)
        second = await client.read_input_registers(0x0010, count=2, device_id=2)
        server.faults.set(2, "garble", times=1)
        with pytest.raises(ModbusIOException):
            await client.read_holding_registers(0x0000, count=3, device_id=2)
        server.faults.set(1, "timeout", times=1)
        with pytest.raises(ModbusIOException):
            await client.read_holding_registers(0x2006, count=2, device_id=1)
        server.faults.set(1, "exception", code=2, times=1)
        exc = await client.read_holding_registers(0x2006, count=2, device_id=1)
        again = await client.read_holding_registers(0x0000, count=3, device_id=2)
        client.close()
        return first.registers, second.registers, exc.exception_code, again.registers

    first, second, code, again = asyncio.run(scenario())
    assert first == [0x4366, 0x3333, 1, 2]
    assert second == [20, 21]
    assert code == 2
    assert again == [10, 11, 12]
    assert server.faults.requests == {1: 3, 2: 3}


def test_stop_ends_the_thread_and_frees_the_port(modbus_tcp_server):
    server = modbus_tcp_server({1: {0: [1]}})
    name = "modbus-server 127.0.0.1:0"  # the thread is named before the port is known
    assert any(t.name == name for t in threading.enumerate())
    port = server.port
    server.stop()
    server.stop()  # idempotent
    assert not any(t.name == name and t.is_alive() for t in threading.enumerate())
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
