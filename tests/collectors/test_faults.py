"""Faults injected at real pymodbus servers: timeouts, exception responses, dropped connections,
a gateway that goes away (reconnect with backoff), and RTU CRC errors."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import pytest

from collectors.poller import PollResult
from collectors.service import Collector
from tests.collectors.polling_support import (
    make_settings,
    model,
    register_blocks,
    rtu_gateway,
    sample_values,
    tcp_gateway,
)

pytestmark = pytest.mark.modbus

MODEL = "eastron_sdm120"

#: Response timeout where a test makes one device time out while its neighbour on the same gateway
#: must still answer: short enough to keep the test quick, long enough for a loopback answer on a
#: busy machine. [s]
DEAD_TIMEOUT_S = 1.0


def run_cycles(
    collector: Collector, n: int, between: Callable[[int], None] | None = None
) -> list[dict[str, PollResult]]:
    """``n`` poll cycles in one event loop; ``between(i)`` runs after cycle ``i``."""

    async def run():
        out = []
        try:
            for i in range(n):
                out.append({r.meter: r for r in await collector.poll_once()})
                if between is not None:
                    between(i)
        finally:
            for client in collector.clients.values():
                client.close()
        return out

    return asyncio.run(run())


def two_meters(tmp_path, gateway: dict) -> Collector:
    settings = make_settings(tmp_path, [gateway], [
        {"id": "ok", "gateway": gateway["id"], "device_id": 1, "model": MODEL},
        {"id": "bad", "gateway": gateway["id"], "device_id": 2, "model": MODEL},
    ])
    return Collector(settings)


def served(device_ids=(1, 2)) -> dict[int, dict[int, list[int]]]:
    regmap = model(MODEL)
    return {d: register_blocks(regmap, sample_values(regmap, base=100.0 * d)) for d in device_ids}


def messages(caplog, level: int, logger: str = "collectors.health") -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == level and r.name == logger]


def test_timeout_marks_unavailable_once_and_recovery_once(modbus_tcp_server, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    server = modbus_tcp_server(served())
    server.faults.set(2, "timeout")
    collector = two_meters(tmp_path, tcp_gateway("gw", server.port, timeout_s=DEAD_TIMEOUT_S))

    def clear_after_third(i: int) -> None:
        if i == 2:
            server.faults.clear()

    cycles = run_cycles(collector, 5, clear_after_third)
    assert [c["bad"].ok for c in cycles] == [False, False, False, True, True]
    assert all(c["ok"].ok for c in cycles), "a dead device must not stop its neighbour's reads"
    assert f"no valid answer within {DEAD_TIMEOUT_S} s" in cycles[0]["bad"].error
    assert not cycles[0]["bad"].readings
    errors = messages(caplog, logging.ERROR)
    assert len(errors) == 1
    assert "'bad' is unavailable" in errors[0]
    recovered = messages(caplog, logging.WARNING)
    assert len(recovered) == 1
    assert "after 3 failed poll(s)" in recovered[0]
    health = {h.meter: h for h in collector.health.snapshot()}
    assert health["bad"].available
    assert health["bad"].consecutive_failures == 0
    assert health["bad"].last_success == cycles[-1]["bad"].finished


def test_health_counts_failures_and_keeps_the_last_success(modbus_tcp_server, tmp_path):
    server = modbus_tcp_server(served())
    collector = two_meters(tmp_path, tcp_gateway("gw", server.port, timeout_s=DEAD_TIMEOUT_S))

    def fail_after_first(i: int) -> None:
        if i == 0:
            server.faults.set(2, "timeout")

    cycles = run_cycles(collector, 3, fail_after_first)
    health = {h.meter: h for h in collector.health.snapshot()}
    bad = health["bad"]
    assert not bad.available
    assert bad.consecutive_failures == 2
    assert bad.last_success == cycles[0]["bad"].finished
    assert bad.response_time_s >= DEAD_TIMEOUT_S  # a timeout is a lower bound
    assert "no valid answer" in bad.error
    assert health["ok"].available
    assert health["ok"].error == ""


def test_exception_responses_mark_the_device_unavailable(modbus_tcp_server, tmp_path):
    server = modbus_tcp_server(served())
    server.faults.set(2, "exception", code=4)
    collector = two_meters(tmp_path, tcp_gateway("gw", server.port))
    (cycle,) = run_cycles(collector, 1)
    bad = cycle["bad"]
    assert not bad.ok
    assert "exception response 4 (server device failure)" in bad.error
    assert {p.what for p in bad.problems} == {"exception_response"}
    assert {p.point for p in bad.problems} == {p.name for p in model(MODEL).points}
    assert cycle["ok"].ok
    assert len(cycle["ok"].readings) == len(model(MODEL).points)


def test_dropped_connection_is_reopened(modbus_tcp_server, tmp_path):
    server = modbus_tcp_server(served(device_ids=(1,)))
    # pymodbus notices the dropped connection only when the answer times out
    settings = make_settings(tmp_path, [tcp_gateway("gw", server.port, timeout_s=DEAD_TIMEOUT_S)],
                             [{"id": "m", "gateway": "gw", "device_id": 1, "model": MODEL}])
    server.faults.set(1, "drop", times=1)
    cycles = run_cycles(Collector(settings), 2)
    assert not cycles[0]["m"].ok
    assert "connection lost" in cycles[0]["m"].error
    assert cycles[1]["m"].ok
    assert {r.point: r.value for r in cycles[1]["m"].readings} == pytest.approx(
        sample_values(model(MODEL), base=100.0)
    )


def test_gateway_gone_fails_fast_with_backoff_and_reconnects(modbus_tcp_server, tmp_path):
    server = modbus_tcp_server(served(device_ids=(1,)))
    port = server.port
    settings = make_settings(tmp_path, [tcp_gateway("gw", port)],
                             [{"id": "m", "gateway": "gw", "device_id": 1, "model": MODEL}])
    collector = Collector(settings)
    client = collector.clients["gw"]
    # Long enough that the polls below certainly fall inside the wait, even on a busy machine;
    # the reconnection after it is waited for, not timed.
    client.reconnect_delay_s = 3.0
    server.stop()

    async def run():
        try:
            first = (await collector.poll_once())[0]
            second = (await collector.poll_once())[0]
            modbus_tcp_server(served(device_ids=(1,)), port=port)
            during_backoff = (await collector.poll_once())[0]
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 60
            after = (await collector.poll_once())[0]
            while not after.ok and loop.time() < deadline:
                await asyncio.sleep(0.2)
                after = (await collector.poll_once())[0]
            return first, second, during_backoff, after
        finally:
            client.close()

    first, second, during_backoff, after = asyncio.run(run())
    assert "cannot connect to 127.0.0.1:" in first.error
    assert "retrying in 3.0 s" in first.error
    # inside the wait no connection is tried: the poll gives up at its first request
    assert "next connect attempt in" in second.error
    assert second.requests == 1
    assert not during_backoff.ok
    assert "next connect attempt in" in during_backoff.error
    assert after.ok, after.error
    assert len(after.readings) == len(model(MODEL).points)


def test_rtu_crc_error_is_a_failed_read_then_recovers(modbus_rtu_server, tmp_path):
    server = modbus_rtu_server(served(device_ids=(1,)), baudrate=38400)
    settings = make_settings(
        tmp_path, [rtu_gateway("bus", server.client_port, timeout_s=DEAD_TIMEOUT_S, retries=0)],
        [{"id": "m", "gateway": "bus", "device_id": 1, "model": MODEL}],
    )
    server.faults.set(1, "garble", times=1)
    cycles = run_cycles(Collector(settings), 2)
    assert not cycles[0]["m"].ok
    assert "no valid answer" in cycles[0]["m"].error
    assert cycles[1]["m"].ok
    assert len(cycles[1]["m"].readings) == len(model(MODEL).points)


def test_rtu_crc_error_is_retried_within_the_poll(modbus_rtu_server, tmp_path):
    server = modbus_rtu_server(served(device_ids=(1,)), baudrate=38400)
    settings = make_settings(
        tmp_path, [rtu_gateway("bus", server.client_port, timeout_s=DEAD_TIMEOUT_S, retries=1)],
        [{"id": "m", "gateway": "bus", "device_id": 1, "model": MODEL}],
    )
    collector = Collector(settings)
    planned = len(collector.pollers[0].requests)
    server.faults.set(1, "garble", times=1)
    (cycle,) = run_cycles(collector, 1)
    assert cycle["m"].ok, cycle["m"].error
    assert server.faults.requests[1] >= planned + 1  # the garbled answer was asked again


def test_rtu_dead_device_does_not_stop_the_bus(modbus_rtu_server, tmp_path):
    server = modbus_rtu_server(served(), baudrate=38400)
    server.faults.set(2, "timeout")
    collector = two_meters(tmp_path,
                           rtu_gateway("bus", server.client_port, timeout_s=DEAD_TIMEOUT_S))
    cycles = run_cycles(collector, 2)
    assert [c["ok"].ok for c in cycles] == [True, True]
    assert [c["bad"].ok for c in cycles] == [False, False]
    assert cycles[0]["ok"].readings[0].value == pytest.approx(
        sample_values(model(MODEL), base=100.0)[cycles[0]["ok"].readings[0].point]
    )


def test_rtu_exception_response_for_one_device(modbus_rtu_server, tmp_path):
    server = modbus_rtu_server(served(), baudrate=38400)
    server.faults.set(2, "exception", code=6)
    collector = two_meters(tmp_path, rtu_gateway("bus", server.client_port))
    (cycle,) = run_cycles(collector, 1)
    assert not cycle["bad"].ok
    assert "exception response 6 (server device busy)" in cycle["bad"].error
    assert cycle["ok"].ok


def test_only_read_function_codes_can_be_sent(tmp_path):
    from collectors.modbus_client import READ_FUNCTIONS, GatewayClient
    from jieneng.settings import TcpGateway

    assert sorted(code for code, _ in READ_FUNCTIONS.values()) == [1, 2, 3, 4]
    client = GatewayClient(TcpGateway(id="g", protocol="tcp", host="127.0.0.1", port=1))
    with pytest.raises(ValueError, match="not a read function"):
        asyncio.run(client.read("write_register", 0, 1, 1))
